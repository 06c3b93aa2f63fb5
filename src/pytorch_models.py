"""The same d -> h -> 1 network in PyTorch, to check the NumPy reference against autograd."""
import numpy as np
import torch
from torch import nn

from src.models import OneHiddenLayerMLP

_ACTIVATIONS = {'relu': nn.ReLU, 'sigmoid': nn.Sigmoid}


class ModuleMLP(nn.Module):
    """fc1 = Linear(d, h), activation, fc2 = Linear(h, 1); forward: (n, d) -> (n,), (d,) -> 0-d.

    Initialised exactly like OneHiddenLayerMLP(input_dim, hidden_dim, activation):
    He/LeCun normal weights drawn from the global np.random state, zero biases. So
    after np.random.seed(s) both classes start from the same weights, and a notebook
    that seeds NumPy is reproducible without seeding torch.
    """

    def __init__(self, input_dim, hidden_dim, activation='relu', dtype=torch.float32):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; expected one of {sorted(_ACTIVATIONS)}")
        self.fc1 = nn.Linear(input_dim, hidden_dim, dtype=dtype)
        self.activation = _ACTIVATIONS[activation]()
        self.fc2 = nn.Linear(hidden_dim, 1, dtype=dtype)
        self.load_numpy_parameters(OneHiddenLayerMLP(input_dim, hidden_dim, activation).get_parameters())

    def forward(self, x):
        return self.fc2(self.activation(self.fc1(x))).squeeze(-1)

    @torch.no_grad()
    def load_numpy_parameters(self, params):
        """Copy {'W1', 'b1', 'W2', 'b2'} NumPy arrays into fc1 / fc2 (cast to the module's dtype)."""
        for tensor, name in ((self.fc1.weight, 'W1'), (self.fc1.bias, 'b1'),
                             (self.fc2.weight, 'W2'), (self.fc2.bias, 'b2')):
            tensor.copy_(torch.as_tensor(params[name]))


def train_pytorch_model(model, X, y, n_epochs=100, learning_rate=0.1, batch_size=32,
                        verbose=False, seed=None):
    """Mini-batch torch.optim.SGD on 0.5 * mean((f - y)^2), mirroring src.optimization.train.

    X (n, d) and y (n,) are cast to the model's dtype. Shuffling uses a torch.Generator
    seeded with seed, or with a seed drawn from the global np.random state when seed is None.
    Returns {'train_loss': [full training-set loss after each epoch]}.
    """
    dtype = next(model.parameters()).dtype
    X, y = torch.as_tensor(X, dtype=dtype), torch.as_tensor(y, dtype=dtype)
    generator = torch.Generator().manual_seed(int(np.random.randint(2**31)) if seed is None else seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    history = {'train_loss': []}
    for epoch in range(1, n_epochs + 1):
        order = torch.randperm(len(X), generator=generator)
        for start in range(0, len(X), batch_size):
            batch = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = 0.5 * torch.mean((model(X[batch]) - y[batch]) ** 2)
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            history['train_loss'].append(float(0.5 * torch.mean((model(X) - y) ** 2)))
        if verbose and (epoch % 10 == 0 or epoch == n_epochs):
            print(f"epoch {epoch:4d}/{n_epochs}: train_loss {history['train_loss'][-1]:.6f}")
    return history


def convert_numpy_to_pytorch(numpy_model, dtype=torch.float64):
    """Return a ModuleMLP with the same parameters as numpy_model (W1 -> fc1.weight, ...).

    Does not advance the global np.random state.
    """
    W1 = numpy_model.get_parameters()['W1']
    state = np.random.get_state()
    module = ModuleMLP(W1.shape[1], W1.shape[0], numpy_model.activation.name, dtype=dtype)
    np.random.set_state(state)
    module.load_numpy_parameters(numpy_model.get_parameters())
    return module


# --- second assignment: the K-class softmax classifier --------------------------------

class SoftmaxModuleMLP(nn.Module):
    """fc1 = Linear(d, h), activation, fc2 = Linear(h, K): the PyTorch twin of src.multiclass.SoftmaxMLP.

    forward returns LOGITS, (n, d) -> (n, K) and (d,) -> (K,) (torch's cross_entropy takes
    logits); probabilities are torch.softmax(logits, dim=-1), which equal SoftmaxMLP.forward.
    Initialised exactly like SoftmaxMLP(input_dim, hidden_dim, n_classes, activation) from
    the global np.random state, so after np.random.seed(s) both start from the same weights.
    """

    def __init__(self, input_dim, hidden_dim, n_classes, activation='relu', dtype=torch.float32):
        super().__init__()
        from src.multiclass import SoftmaxMLP
        if activation not in _ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; expected one of {sorted(_ACTIVATIONS)}")
        self.fc1 = nn.Linear(input_dim, hidden_dim, dtype=dtype)
        self.activation = _ACTIVATIONS[activation]()
        self.fc2 = nn.Linear(hidden_dim, n_classes, dtype=dtype)
        self.load_numpy_parameters(SoftmaxMLP(input_dim, hidden_dim, n_classes, activation).get_parameters())

    def forward(self, x):
        return self.fc2(self.activation(self.fc1(x)))

    @torch.no_grad()
    def load_numpy_parameters(self, params):
        """Copy {'W1', 'b1', 'W2', 'b2'} NumPy arrays (shapes (h, d), (h,), (K, h), (K,)) into
        fc1 / fc2, cast to the module's dtype; a shape mismatch raises ValueError."""
        for tensor, name in ((self.fc1.weight, 'W1'), (self.fc1.bias, 'b1'),
                             (self.fc2.weight, 'W2'), (self.fc2.bias, 'b2')):
            if name not in params:
                raise ValueError(f"missing parameter {name!r}")
            value = torch.as_tensor(np.asarray(params[name], dtype=float))
            if tuple(value.shape) != tuple(tensor.shape):
                raise ValueError(f"{name}: expected shape {tuple(tensor.shape)}, got {tuple(value.shape)}")
            tensor.copy_(value)


def convert_softmax_to_pytorch(numpy_model, dtype=torch.float64):
    """Return a SoftmaxModuleMLP with the same parameters as a SoftmaxMLP (global np.random untouched)."""
    state = np.random.get_state()
    module = SoftmaxModuleMLP(numpy_model.input_dim, numpy_model.hidden_dim, numpy_model.n_classes,
                              numpy_model.activation.name, dtype=dtype)
    np.random.set_state(state)
    module.load_numpy_parameters(numpy_model.get_parameters())
    return module


def train_pytorch_softmax(model, X, y, n_epochs=100, learning_rate=0.1, momentum=0.9, batch_size=32,
                          seed=None):
    """Mini-batch torch.optim.SGD(lr, momentum) on the mean cross-entropy of the logits.

    torch's momentum (v <- mu v + g; p <- p - lr v) equals MomentumSGD's (v <- mu v - lr g;
    p <- p + v) for a constant learning rate. X (n, d) is cast to the model's dtype, y to
    int64 labels. Shuffling uses a torch.Generator seeded with seed (or a seed drawn from the
    global np.random state). Returns {'train_loss': [full training-set loss after each epoch]}.
    """
    dtype = next(model.parameters()).dtype
    X, y = torch.as_tensor(X, dtype=dtype), torch.as_tensor(np.asarray(y), dtype=torch.int64)
    generator = torch.Generator().manual_seed(int(np.random.randint(2**31)) if seed is None else seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=momentum)
    history = {'train_loss': []}
    for _ in range(n_epochs):
        order = torch.randperm(len(X), generator=generator)
        for start in range(0, len(X), batch_size):
            batch = order[start:start + batch_size]
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(X[batch]), y[batch]).backward()
            optimizer.step()
        with torch.no_grad():
            history['train_loss'].append(float(nn.functional.cross_entropy(model(X), y)))
    return history
