"""Plots for training curves, data sets and decision boundaries.

Each function draws on a new pyplot figure (so plt.title / plt.show act on it
afterwards), never calls plt.show itself, and returns the Figure. Works headless
(Agg backend). The model is duck-typed: it needs forward(X) on a batch (n, 2) -> (n,).
"""
import matplotlib.pyplot as plt
import numpy as np


def plot_training_history(history):
    """Plot history['train_loss'] (and history['val_loss'] if not empty) per epoch."""
    fig, ax = plt.subplots(figsize=(8, 5))
    epochs = np.arange(1, len(history['train_loss']) + 1)
    ax.plot(epochs, history['train_loss'], label='train')
    if history.get('val_loss'):
        ax.plot(epochs, history['val_loss'], label='validation')
    ax.set_xlabel('epoch')
    ax.set_ylabel('mean 1/2 (f - y)$^2$')
    ax.set_title('Training history')
    ax.grid(True, alpha=0.3)
    ax.legend()
    return fig


def _scatter(ax, X, y):
    for label in np.unique(y):
        mask = y == label
        ax.scatter(X[mask, 0], X[mask, 1], s=20, edgecolors='k', linewidths=0.5, label=f'class {label}')
    ax.set_xlabel('$x_1$')
    ax.set_ylabel('$x_2$')
    ax.legend()


def plot_dataset(X, y):
    """Scatter X (n, 2) coloured by label y (n,)."""
    fig, ax = plt.subplots(figsize=(6, 6))
    _scatter(ax, X, y)
    ax.grid(True, alpha=0.3)
    return fig


def plot_decision_boundary(model, X, y, resolution=100):
    """Shade model.forward over a resolution x resolution grid around X, draw the
    f = 0.5 contour (the decision boundary) and scatter the data on top."""
    (x_min, y_min), (x_max, y_max) = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
    g1, g2 = np.meshgrid(np.linspace(x_min, x_max, resolution), np.linspace(y_min, y_max, resolution))
    f = model.forward(np.column_stack([g1.ravel(), g2.ravel()])).reshape(g1.shape)
    fig, ax = plt.subplots(figsize=(6, 6))
    shading = ax.contourf(g1, g2, f, levels=20, cmap='RdBu_r', alpha=0.6)
    ax.contour(g1, g2, f, levels=[0.5], colors='k', linewidths=2)
    fig.colorbar(shading, ax=ax, label='f(x)')
    _scatter(ax, X, y)
    return fig
