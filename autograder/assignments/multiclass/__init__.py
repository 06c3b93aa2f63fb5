"""The second assignment, `multiclass`: softmax classifier, momentum, schedules, L2, a PyTorch twin."""
