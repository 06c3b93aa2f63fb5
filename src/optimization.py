"""Mini-batch SGD training and evaluation for any model exposing
forward / backward / get_parameters / set_parameters (duck-typed)."""
import numpy as np


def mse_loss(f, y):
    """Mean of 1/2 (f - y)^2 over all entries, as a float."""
    f, y = np.asarray(f, dtype=float), np.asarray(y, dtype=float)
    return float(np.mean(0.5 * (f - y) ** 2))


class SGD:
    """Plain gradient descent: p <- p - learning_rate * dL/dp."""

    def __init__(self, learning_rate=0.1):
        self.learning_rate = learning_rate

    def step(self, model, grads):
        """Update every parameter of model from grads['dL_d' + name]."""
        params = model.get_parameters()
        model.set_parameters({name: p - self.learning_rate * grads['dL_d' + name]
                              for name, p in params.items()})

    def __repr__(self):
        return f"SGD(learning_rate={self.learning_rate})"


def train(model, X, y, optimizer, n_epochs=100, batch_size=32, X_val=None, y_val=None,
          verbose=False, print_every=10, seed=None):
    """Train on X (n, d), y (n,) with shuffled mini-batches (the last one may be smaller).

    Shuffling uses np.random.default_rng(seed), or the global np.random state when
    seed is None. After every epoch the mean loss over the FULL training set (and the
    validation set, if given) is recorded at the current parameters.
    Returns {'train_loss': [n_epochs floats], 'val_loss': [n_epochs floats] or []}.
    """
    rng = np.random if seed is None else np.random.default_rng(seed)
    history = {'train_loss': [], 'val_loss': []}
    for epoch in range(1, n_epochs + 1):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch_size):
            batch = order[start:start + batch_size]
            f = model.forward(X[batch])
            optimizer.step(model, model.backward(X[batch], y[batch], f))
        history['train_loss'].append(mse_loss(model.forward(X), y))
        if X_val is not None:
            history['val_loss'].append(mse_loss(model.forward(X_val), y_val))
        if verbose and (epoch % print_every == 0 or epoch == n_epochs):
            val = f", val_loss {history['val_loss'][-1]:.6f}" if history['val_loss'] else ""
            print(f"epoch {epoch:4d}/{n_epochs}: train_loss {history['train_loss'][-1]:.6f}{val}")
    return history


def evaluate(model, X, y, threshold=0.5):
    """Return {'loss': mean 1/2 (f - y)^2, 'accuracy': mean((f >= threshold) == y)}."""
    f = model.forward(X)
    return {'loss': mse_loss(f, y),
            'accuracy': float(np.mean((f >= threshold).astype(int) == y))}
