"""Neural networks from scratch: a one-hidden-layer MLP in NumPy, with a PyTorch twin.

Modules
-------
activations     ReLU and Sigmoid (forward and derivative w.r.t. the pre-activation)
models          OneHiddenLayerMLP: forward, backward, parameter access
gradient_check  centred finite differences and CS231n relative error
data            XOR and spiral toy data sets
optimization    SGD, the mini-batch training loop, evaluation
visualization   matplotlib plots (headless-safe)
pytorch_models  ModuleMLP and SoftmaxModuleMLP, the same networks in PyTorch (imports torch)
multiclass      softmax, cross-entropy, SoftmaxMLP (K classes), its gradient check and training
optimizers      MomentumSGD, learning-rate schedules, L2 regularization
training        the multiclass assignment's given training loop and plots (released as training.py)
"""
