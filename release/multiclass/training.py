"""The training loop and plots of the second assignment (given: you do not write these).

`train` is duck-typed: the model needs forward(X) -> probabilities (n, K), backward(X, y, probs)
-> {'dL_dW1', ...}, loss(X, y), predict(X), get_parameters(); the optimizer needs step(model, grads)
and a `learning_rate` attribute (a schedule sets it at the start of every epoch).
The plots import matplotlib when called, so that importing the loop costs nothing more.
"""
import numpy as np


def train(model, X, y, optimizer, n_epochs=20, batch_size=32, seed=None, schedule=None,
          grad_transform=None, X_val=None, y_val=None, record_grad_norms=False):
    """Mini-batch training on X (n, d) with integer labels y (n,).

    Epoch t = 0, 1, ..., n_epochs - 1: if `schedule` is given, optimizer.learning_rate = schedule(t);
    the samples are shuffled with np.random.default_rng(seed) (the global np.random if seed is None)
    and cut into mini-batches of batch_size (the last may be smaller); for each batch
        grads = model.backward(X_b, y_b, model.forward(X_b))
        grads = grad_transform(model.get_parameters(), grads)      (if given, e.g. to add L2)
        optimizer.step(model, grads)
    Returns a history of per-epoch lists, measured after each epoch: 'train_loss', 'train_accuracy',
    'learning_rate', 'val_loss' and 'val_accuracy' (empty without validation data) and, if
    record_grad_norms, 'grad_norms' = {name: [mean over the epoch's batches of ||dL/d name||]}
    (the cross-entropy gradient, before grad_transform).
    """
    X, y = np.asarray(X, dtype=float), np.asarray(y)
    rng = np.random if seed is None else np.random.default_rng(seed)
    history = {'train_loss': [], 'train_accuracy': [], 'learning_rate': [], 'val_loss': [], 'val_accuracy': []}
    if record_grad_norms:
        history['grad_norms'] = {name: [] for name in model.get_parameters()}
    for epoch in range(n_epochs):
        if schedule is not None:
            optimizer.learning_rate = schedule(epoch)
        history['learning_rate'].append(float(optimizer.learning_rate))
        order = rng.permutation(len(X))
        norms = []
        for start in range(0, len(X), batch_size):
            batch = order[start:start + batch_size]
            grads = model.backward(X[batch], y[batch], model.forward(X[batch]))
            if record_grad_norms:
                norms.append({key[len('dL_d'):]: float(np.linalg.norm(g)) for key, g in grads.items()})
            if grad_transform is not None:
                grads = grad_transform(model.get_parameters(), grads)
            optimizer.step(model, grads)
        history['train_loss'].append(float(model.loss(X, y)))
        history['train_accuracy'].append(float(np.mean(model.predict(X) == y)))
        if X_val is not None:
            history['val_loss'].append(float(model.loss(X_val, y_val)))
            history['val_accuracy'].append(float(np.mean(model.predict(X_val) == np.asarray(y_val))))
        if record_grad_norms:
            for name in history['grad_norms']:
                history['grad_norms'][name].append(float(np.mean([n[name] for n in norms])))
    return history


def plot_history(history):
    """Loss and accuracy per epoch (train, and validation when recorded); returns the Figure."""
    import matplotlib.pyplot as plt
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    epochs = np.arange(1, len(history['train_loss']) + 1)
    for split in ('train', 'val'):
        if history.get(f'{split}_loss'):
            ax_loss.plot(epochs, history[f'{split}_loss'], label=split)
            ax_acc.plot(epochs, history[f'{split}_accuracy'], label=split)
    ax_loss.set_ylabel('mean cross-entropy')
    ax_acc.set_ylabel('accuracy')
    for ax in (ax_loss, ax_acc):
        ax.set_xlabel('epoch')
        ax.grid(True, alpha=0.3)
        ax.legend()
    return fig


def plot_decision_regions(model, X, y, resolution=100):
    """Colour a grid around X (n, 2) by model.predict (one colour per class), scatter the data on top;
    returns the Figure."""
    import matplotlib.pyplot as plt
    (x_min, y_min), (x_max, y_max) = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
    g1, g2 = np.meshgrid(np.linspace(x_min, x_max, resolution), np.linspace(y_min, y_max, resolution))
    classes = np.asarray(model.predict(np.column_stack([g1.ravel(), g2.ravel()]))).reshape(g1.shape)
    n_classes = int(max(classes.max(), np.max(y))) + 1
    fig, ax = plt.subplots(figsize=(6, 6))
    cmap = plt.get_cmap('tab10', 10)
    ax.contourf(g1, g2, classes, levels=np.arange(n_classes + 1) - 0.5, cmap=cmap, vmin=-0.5, vmax=9.5, alpha=0.35)
    for label in range(n_classes):
        mask = np.asarray(y) == label
        ax.scatter(X[mask, 0], X[mask, 1], s=20, color=cmap(label), edgecolors='k', linewidths=0.5,
                   label=f'class {label}')
    ax.set_xlabel('$x_1$')
    ax.set_ylabel('$x_2$')
    ax.legend()
    return fig
