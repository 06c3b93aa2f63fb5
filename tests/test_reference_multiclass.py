"""Checks of the second assignment's reference implementation: src/multiclass.py, src/optimizers.py,
the PyTorch twin, the spiral threshold study and notebooks/multiclass_walkthrough.ipynb."""
import json
import subprocess
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use('Agg')

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from src.data import generate_spiral_data  # noqa: E402
from src.models import OneHiddenLayerMLP  # noqa: E402
from src.multiclass import (SoftmaxMLP, accuracy, check_multiclass_gradients, cross_entropy,  # noqa: E402
                            cross_entropy_from_logits, log_softmax, plot_multiclass_decision_boundary,
                            softmax, train_multiclass)
from src.optimization import SGD  # noqa: E402
from src.optimizers import (InverseTimeDecay, MomentumSGD, StepDecay, inverse_time_decay,  # noqa: E402
                            l2_gradients, l2_penalty, step_decay)
from src.pytorch_models import (SoftmaxModuleMLP, convert_softmax_to_pytorch,  # noqa: E402
                                train_pytorch_softmax)

ACTIVATIONS = ['relu', 'sigmoid']
GRAD_KEYS = ['dL_dW1', 'dL_db1', 'dL_dW2', 'dL_db2']
STUDY = ROOT / 'docs' / 'spiral-threshold-study.json'
SCRIPT = ROOT / 'scripts' / 'measure_spiral_threshold.py'


def random_problem(activation, batch, seed=0, d=3, h=5, K=4, n=7):
    """A seeded model with non-zero biases, an input X ((d,) or (n, d)) and integer labels."""
    rng = np.random.default_rng(seed + 1000)
    model = SoftmaxMLP(d, h, K, activation, seed=seed)
    model.set_parameters({**model.get_parameters(), 'b1': 0.1 * rng.standard_normal(h),
                          'b2': 0.1 * rng.standard_normal(K)})
    X = rng.standard_normal((n, d) if batch else d)
    y = rng.integers(0, K, n) if batch else int(rng.integers(0, K))
    return model, X, y


# --- softmax and cross-entropy -------------------------------------------------------

def test_softmax_values_and_shapes():
    z = np.array([1.0, 2.0, 3.0])
    expected = np.exp(z) / np.exp(z).sum()
    np.testing.assert_allclose(softmax(z), expected, rtol=1e-15)
    Z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    P = softmax(Z)
    assert P.shape == (2, 3) and P.dtype == np.float64
    np.testing.assert_allclose(P[0], expected, rtol=1e-15)
    np.testing.assert_allclose(P[1], 1 / 3, rtol=1e-15)
    np.testing.assert_allclose(softmax(Z + 1000.0), P, rtol=1e-12)  # shift invariance
    np.testing.assert_allclose(np.exp(log_softmax(Z)), P, rtol=1e-14)
    with pytest.raises(ValueError, match=r"logits must have shape \(K,\) or \(n, K\)"):
        softmax(np.zeros((2, 2, 2)))


def test_softmax_and_cross_entropy_are_stable_for_huge_logits():
    Z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]])
    with warnings.catch_warnings(), np.errstate(all='raise'):
        warnings.simplefilter('error')
        P = softmax(Z)
        lp = log_softmax(Z)
        ce_logits = cross_entropy_from_logits(Z, [1, 0, 2])
        ce_probs = cross_entropy(P, [1, 0, 2])
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-15)
    np.testing.assert_array_equal(P[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(P[1], 1 / 3)
    np.testing.assert_allclose(P[2], [0.5, 0.5, 0.0])
    # exact: -log p = [2e4, log 3, 2e4 + log 2]
    np.testing.assert_allclose(-lp[[0, 1, 2], [1, 0, 2]], [2e4, np.log(3), 2e4 + np.log(2)], rtol=1e-15)
    assert ce_logits == pytest.approx((2e4 + np.log(3) + 2e4 + np.log(2)) / 3, rel=1e-15)
    assert np.isfinite(ce_probs) and ce_probs == pytest.approx((708.3964185322641 * 2 + np.log(3)) / 3)


def test_cross_entropy_values_and_label_checks():
    assert cross_entropy(np.full((5, 4), 0.25), [0, 1, 2, 3, 0]) == pytest.approx(np.log(4), rel=1e-15)
    assert cross_entropy([0.2, 0.8], 1) == pytest.approx(-np.log(0.8), rel=1e-15)
    assert cross_entropy_from_logits([0.0, np.log(4.0)], 1) == pytest.approx(-np.log(0.8), rel=1e-15)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\), got values in \[0, 3\]"):
        cross_entropy(np.full((2, 3), 1 / 3), [0, 3])
    with pytest.raises(ValueError, match="y must hold 2 integer label"):
        cross_entropy(np.full((2, 3), 1 / 3), [0, 1, 2])
    with pytest.raises(ValueError, match="integer class labels"):
        cross_entropy(np.full((2, 3), 1 / 3), [0.5, 1.0])


# --- model -----------------------------------------------------------------------------

def test_forward_predict_shapes_and_repr():
    model = SoftmaxMLP(2, 4, 3, 'relu', seed=1)
    assert repr(model) == "SoftmaxMLP(input_dim=2, hidden_dim=4, n_classes=3, activation='relu', n_params=27)"
    p = model.forward(np.ones(2))
    assert p.shape == (3,) and model.a1_cache.shape == model.h1_cache.shape == (4,)
    assert isinstance(model.predict(np.ones(2)), int)
    X = np.random.default_rng(0).standard_normal((5, 2))
    P = model.forward(X)
    assert P.shape == (5, 3) and P.dtype == np.float64 and model.h1_cache.shape == (5, 4)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-15)
    np.testing.assert_array_equal(model.predict(X), P.argmax(axis=1))
    assert {k: v.shape for k, v in model.get_parameters().items()} == {
        'W1': (4, 2), 'b1': (4,), 'W2': (3, 4), 'b2': (3,)}
    with pytest.raises(ValueError, match=r"X must have shape \(2,\) or \(n, 2\), got \(5, 3\)"):
        model.forward(np.ones((5, 3)))
    with pytest.raises(ValueError, match="n_classes must be an integer >= 2"):
        SoftmaxMLP(2, 4, 1)


def test_parameters_are_copies_and_validated():
    model = SoftmaxMLP(2, 4, 3, seed=0)
    params = model.get_parameters()
    params['W2'][:] = 123.0
    assert not np.any(model.W2 == 123.0)
    with pytest.raises(ValueError, match=r"W2: expected shape \(3, 4\), got \(4, 3\)"):
        model.set_parameters({**params, 'W2': np.zeros((4, 3))})
    with pytest.raises(ValueError, match="missing parameter 'b2'"):
        model.set_parameters({k: v for k, v in params.items() if k != 'b2'})
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['W3'\]"):
        model.set_parameters({**params, 'W3': 1.0})
    model.set_parameters({**params, 'b2': [1, 2, 3]})
    assert model.b2.dtype == np.float64 and list(model.b2) == [1.0, 2.0, 3.0]


def test_initialisation_matches_the_first_assignment():
    for activation, gain in (('relu', 2.0), ('sigmoid', 1.0)):
        np.random.seed(3)
        a = SoftmaxMLP(400, 300, 5, activation)
        np.random.seed(3)
        b = OneHiddenLayerMLP(400, 300, activation)
        np.testing.assert_array_equal(a.W1, b.W1)  # same rule, same draw order
        assert abs(a.W1.std() - np.sqrt(gain / 400)) < 0.002
        assert abs(a.W2.std() - np.sqrt(gain / 300)) < 0.01
        assert not np.any(a.b1) and not np.any(a.b2)
    np.testing.assert_array_equal(SoftmaxMLP(2, 3, 3, seed=4).W2, SoftmaxMLP(2, 3, 3, seed=4).W2)


def test_loss_equals_cross_entropy_of_forward():
    model, X, y = random_problem('relu', batch=True)
    assert model.loss(X, y) == pytest.approx(cross_entropy(model.forward(X), y), rel=1e-14)


# --- gradients -------------------------------------------------------------------------

@pytest.mark.parametrize('batch', [False, True])
@pytest.mark.parametrize('activation', ACTIVATIONS)
def test_gradient_check_passes_and_restores_parameters(activation, batch):
    for seed in range(3):
        model, X, y = random_problem(activation, batch, seed=seed)
        before = model.get_parameters()
        for lam in (0.0, 0.3):
            results = check_multiclass_gradients(model, X, y, epsilon=1e-5, threshold=1e-7, lam=lam)
            assert list(results) == ['W1', 'b1', 'W2', 'b2']
            assert all(r['passed'] for r in results.values()), (lam, results)
        after = model.get_parameters()
        assert all(before[k].tobytes() == after[k].tobytes() for k in before)


class SumNotMeanMLP(SoftmaxMLP):
    """A near miss: the gradient of the summed (not mean) loss."""

    def backward(self, X, y, probs):
        return {k: v * len(np.atleast_2d(X)) for k, v in super().backward(X, y, probs).items()}


def test_gradient_check_catches_a_missing_one_over_n():
    model, X, y = random_problem('sigmoid', batch=True)
    broken = SumNotMeanMLP(3, 5, 4, 'sigmoid')
    broken.set_parameters(model.get_parameters())
    results = check_multiclass_gradients(broken, X, y)
    assert not any(r['passed'] for r in results.values())
    assert all(r['error'] > 0.5 for r in results.values())  # 7 x too large: (7-1)/(7+1)


@pytest.mark.parametrize('activation', ACTIVATIONS)
def test_batch_gradient_is_mean_of_sample_gradients(activation):
    model, X, y = random_problem(activation, batch=True)
    batch_grads = model.backward(X, y, model.forward(X))
    assert list(batch_grads) == GRAD_KEYS
    for key in GRAD_KEYS:
        per_sample = [model.backward(X[i], y[i], model.forward(X[i]))[key] for i in range(len(X))]
        np.testing.assert_allclose(batch_grads[key], np.mean(per_sample, axis=0), rtol=1e-12, atol=1e-15)


def test_logit_gradient_is_probs_minus_onehot():
    model = SoftmaxMLP(2, 2, 3, 'relu', seed=0)
    model.set_parameters({'W1': np.eye(2), 'b1': np.zeros(2), 'W2': np.zeros((3, 2)), 'b2': np.zeros(3)})
    X, y = np.array([[1.0, 2.0], [3.0, -1.0]]), np.array([0, 2])
    grads = model.backward(X, y, model.forward(X))
    dz = (np.full((2, 3), 1 / 3) - np.eye(3)[y]) / 2   # uniform probabilities at zero logits
    np.testing.assert_allclose(grads['dL_db2'], dz.sum(axis=0), rtol=1e-15)
    np.testing.assert_allclose(grads['dL_dW2'], dz.T @ np.maximum(X, 0), rtol=1e-15)
    np.testing.assert_array_equal(grads['dL_dW1'], 0.0)  # W2 = 0 blocks the path back
    with pytest.raises(ValueError, match=r"call forward\(X\) on the same X"):
        SoftmaxMLP(2, 2, 3, seed=0).backward(X, y, None)
    with pytest.raises(ValueError, match=r"probs must be forward\(X\)'s output of shape \(2, 3\), got \(2, 2\)"):
        model.backward(X, y, np.ones((2, 2)))


# --- optimizers ------------------------------------------------------------------------

class Scalars:
    """A minimal duck-typed model: one weight 'W' and one bias 'b' of shape (1,)."""

    def __init__(self):
        self.params = {'W': np.array([1.0]), 'b': np.array([-2.0])}

    def get_parameters(self):
        return {k: v.copy() for k, v in self.params.items()}

    def set_parameters(self, params):
        self.params = params  # deliberately keeps the caller's arrays: exposes aliasing


def test_momentum_three_steps_by_hand():
    model, opt = Scalars(), MomentumSGD(learning_rate=0.1, momentum=0.9)
    gradients = [1.0, -2.0, 0.5]
    # v1 = -0.1;  v2 = 0.9 * -0.1 + 0.2 = 0.11;  v3 = 0.9 * 0.11 - 0.05 = 0.049
    expected_v = [-0.1, 0.11, 0.049]
    expected_W = [0.9, 1.01, 1.059]   # W0 = 1 plus the running sum of the velocities
    for g, v, w in zip(gradients, expected_v, expected_W):
        grads = {'dL_dW': np.array([g]), 'dL_db': np.array([2 * g])}
        opt.step(model, grads)
        assert grads['dL_dW'][0] == g  # the caller's gradients are untouched
        assert opt.velocities['W'][0] == pytest.approx(v, abs=1e-15)
        assert model.params['W'][0] == pytest.approx(w, abs=1e-15)
        assert opt.velocities['b'][0] == pytest.approx(2 * v, abs=1e-15)
    model.params['W'][:] = 100.0  # writing into the model's array must not reach the velocity
    assert opt.velocities['W'][0] == pytest.approx(0.049, abs=1e-15)
    assert repr(opt) == 'MomentumSGD(learning_rate=0.1, momentum=0.9)'
    opt.reset()
    assert opt.velocities == {}


def test_momentum_zero_is_sgd_and_bad_input_is_rejected():
    a, b = SoftmaxMLP(2, 3, 3, seed=0), SoftmaxMLP(2, 3, 3, seed=0)
    grads = {'dL_d' + k: np.full_like(v, 0.5) for k, v in a.get_parameters().items()}
    for _ in range(3):
        MomentumSGD(0.2, momentum=0.0).step(a, grads)
        SGD(0.2).step(b, grads)
    for k, v in a.get_parameters().items():
        np.testing.assert_array_equal(v, b.get_parameters()[k])
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\)"):
        MomentumSGD(0.1, momentum=1.0)
    with pytest.raises(ValueError, match="learning_rate must be a finite number >= 0"):
        MomentumSGD(-0.1)
    with pytest.raises(ValueError, match="missing gradient 'dL_db2'"):
        MomentumSGD(0.1).step(a, {k: v for k, v in grads.items() if k != 'dL_db2'})
    with pytest.raises(ValueError, match=r"dL_dW1: expected shape \(3, 2\), got \(2, 3\)"):
        MomentumSGD(0.1).step(a, {**grads, 'dL_dW1': np.zeros((2, 3))})


def test_schedules_follow_their_formulas():
    s = step_decay(0.8, drop=0.5, every=10)
    assert isinstance(s, StepDecay) and repr(s) == 'step_decay(initial=0.8, drop=0.5, every=10)'
    assert [s(t) for t in (0, 9, 10, 19, 20, 35)] == [0.8, 0.8, 0.4, 0.4, 0.2, 0.1]
    inv = inverse_time_decay(0.5, decay=0.1)
    assert isinstance(inv, InverseTimeDecay)
    assert [inv(t) for t in (0, 10, 30)] == [0.5, 0.25, 0.125]
    for t in (-1, 1.5, True):
        with pytest.raises(ValueError, match="the epoch t must be an integer >= 0"):
            s(t)
    with pytest.raises(ValueError, match=r"drop must be in \(0, 1\]"):
        step_decay(0.1, drop=1.5)
    with pytest.raises(ValueError, match="every must be an integer >= 1"):
        step_decay(0.1, every=0)


def test_l2_penalty_and_gradients_exclude_biases():
    params = {'W1': np.array([[1.0, -2.0]]), 'b1': np.array([100.0]), 'W2': np.array([[3.0]]), 'b2': np.array([5.0])}
    assert l2_penalty(params, 0.1) == pytest.approx(0.05 * (1 + 4 + 9), rel=1e-15)
    assert l2_penalty(params, 0.0) == 0.0
    grads = {'dL_d' + k: np.ones_like(v) for k, v in params.items()}
    out = l2_gradients(params, grads, 0.1)
    np.testing.assert_allclose(out['dL_dW1'], [[1.1, 0.8]], rtol=1e-15)
    np.testing.assert_allclose(out['dL_dW2'], [[1.3]], rtol=1e-15)
    np.testing.assert_array_equal(out['dL_db1'], [1.0])
    np.testing.assert_array_equal(out['dL_db2'], [1.0])
    assert all(np.all(g == 1.0) for g in grads.values())  # inputs untouched
    assert out['dL_db1'] is not grads['dL_db1']
    with pytest.raises(ValueError, match="lam must be a finite number >= 0"):
        l2_penalty(params, -1.0)
    with pytest.raises(ValueError, match="gradient 'dL_dW3' has no matching parameter"):
        l2_gradients(params, {'dL_dW3': 1.0}, 0.1)


# --- training --------------------------------------------------------------------------

def test_train_multiclass_history_schedule_and_grad_norms():
    X, y = generate_spiral_data(90, 3, seed=0)
    model = SoftmaxMLP(2, 8, 3, seed=0)
    initial = SoftmaxMLP(2, 8, 3, seed=0)
    first_grads = initial.backward(X, y, initial.forward(X))
    history = train_multiclass(model, X, y, MomentumSGD(1.0), n_epochs=4, batch_size=90, seed=0,
                               schedule=step_decay(0.2, 0.5, 2), record_grad_norms=True, X_val=X, y_val=y)
    assert history['learning_rate'] == [0.2, 0.2, 0.1, 0.1]
    assert len(history['train_loss']) == len(history['val_accuracy']) == 4
    assert history['train_loss'][-1] == pytest.approx(model.loss(X, y), rel=1e-14)
    assert history['train_accuracy'][-1] == accuracy(model, X, y) == history['val_accuracy'][-1]
    assert list(history['grad_norms']) == ['W1', 'b1', 'W2', 'b2']
    # one full batch per epoch: the first epoch's norm is that of the gradient at the initial parameters
    for name in history['grad_norms']:
        assert history['grad_norms'][name][0] == pytest.approx(np.linalg.norm(first_grads['dL_d' + name]), rel=1e-12)
    assert 'grad_norms' not in train_multiclass(SoftmaxMLP(2, 8, 3, seed=0), X, y, MomentumSGD(0.1), 1, seed=0)
    # several batches, frozen parameters (lr 0): the recorded norm is the MEAN of the per-batch norms,
    # batches cut from np.random.default_rng(seed).permutation(n)
    frozen = SoftmaxMLP(2, 8, 3, seed=0)
    h = train_multiclass(frozen, X, y, MomentumSGD(0.0), n_epochs=1, batch_size=40, seed=3, record_grad_norms=True)
    order = np.random.default_rng(3).permutation(90)
    batches = [order[:40], order[40:80], order[80:]]
    for name in ('W1', 'b2'):
        norms = [np.linalg.norm(frozen.backward(X[b], y[b], frozen.forward(X[b]))['dL_d' + name]) for b in batches]
        assert h['grad_norms'][name][0] == pytest.approx(np.mean(norms), rel=1e-12)
        assert np.ptp(norms) > 1e-3 * np.mean(norms)  # the batches differ, so mean != max != first
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        train_multiclass(model, X, y + 1, MomentumSGD(0.1), 1)
    with pytest.raises(ValueError, match="give both X_val and y_val, or neither"):
        train_multiclass(model, X, y, MomentumSGD(0.1), 1, X_val=X)
    with pytest.raises(ValueError, match="y must hold"):        # a column of labels would broadcast to (m, m)
        train_multiclass(model, X, y, MomentumSGD(0.1), 1, X_val=X, y_val=np.reshape(y, (-1, 1)))
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        train_multiclass(model, X, y, MomentumSGD(0.1), 1, batch_size=0)
    with pytest.raises(ValueError, match="n_epochs must be an integer >= 0"):
        train_multiclass(model, X, y, MomentumSGD(0.1), 2.5)


def test_l2_in_training_shrinks_weights_but_not_biases_directly():
    X, y = generate_spiral_data(90, 3, seed=1)
    norms = {}
    for lam in (0.0, 0.1):
        model = SoftmaxMLP(2, 16, 3, seed=0)
        train_multiclass(model, X, y, MomentumSGD(0.1), n_epochs=30, batch_size=30, seed=0, l2=lam)
        norms[lam] = np.linalg.norm(model.W1) + np.linalg.norm(model.W2)
    assert norms[0.1] < 0.8 * norms[0.0]
    # with zero data gradient only the weights decay: W <- W - lr * lam * W for one plain step
    model = SoftmaxMLP(2, 4, 3, seed=0)
    params = model.get_parameters()
    zero = {'dL_d' + k: np.zeros_like(v) for k, v in params.items()}
    model.set_parameters({**params, 'b1': np.ones(4)})
    SGD(0.5).step(model, l2_gradients(model.get_parameters(), zero, 0.2))
    np.testing.assert_allclose(model.W1, 0.9 * params['W1'], rtol=1e-15)
    np.testing.assert_array_equal(model.b1, np.ones(4))


def test_multiclass_decision_boundary_plot():
    X, y = generate_spiral_data(60, 3, seed=0)
    fig = plot_multiclass_decision_boundary(SoftmaxMLP(2, 8, 3, seed=0), X, y, resolution=30)
    assert isinstance(fig, plt.Figure) and len(fig.axes[0].collections) >= 3
    plt.close('all')


# --- PyTorch twin ---------------------------------------------------------------------

@pytest.mark.parametrize('batch', [False, True])
@pytest.mark.parametrize('activation', ACTIVATIONS)
def test_pytorch_twin_matches_forward_and_gradients(activation, batch):
    model, X, y = random_problem(activation, batch)
    probs = model.forward(X)
    grads = model.backward(X, y, probs)
    twin = convert_softmax_to_pytorch(model)
    logits = twin(torch.from_numpy(np.asarray(X)))
    assert logits.dtype == torch.float64 and logits.shape == probs.shape
    np.testing.assert_allclose(torch.softmax(logits, dim=-1).detach().numpy(), probs, rtol=0, atol=1e-10)
    target = torch.as_tensor(np.atleast_1d(y), dtype=torch.int64)
    torch.nn.functional.cross_entropy(logits.reshape(-1, model.n_classes), target).backward()
    for key, param in [('dL_dW1', twin.fc1.weight), ('dL_db1', twin.fc1.bias),
                       ('dL_dW2', twin.fc2.weight), ('dL_db2', twin.fc2.bias)]:
        np.testing.assert_allclose(param.grad.numpy(), grads[key], rtol=0, atol=1e-10)
        assert np.abs(grads[key]).max() > 1e-3  # a real comparison, not zeros against zeros


def test_pytorch_twin_init_and_training():
    np.random.seed(5)
    module = SoftmaxModuleMLP(2, 8, 3)
    np.random.seed(5)
    reference = SoftmaxMLP(2, 8, 3)
    np.testing.assert_allclose(module.fc2.weight.detach().numpy(), reference.W2, rtol=1e-6)
    assert module(torch.zeros(2)).shape == (3,)
    np.random.seed(9)
    convert_softmax_to_pytorch(reference)
    after = np.random.rand()
    np.random.seed(9)
    assert np.random.rand() == after
    with pytest.raises(ValueError, match=r"W2: expected shape \(3, 8\), got \(8, 3\)"):
        module.load_numpy_parameters({**reference.get_parameters(), 'W2': np.zeros((8, 3))})
    X, y = generate_spiral_data(300, 3, seed=0)
    history = train_pytorch_softmax(convert_softmax_to_pytorch(reference), X, y, n_epochs=5, seed=0)
    assert len(history['train_loss']) == 5 and history['train_loss'][-1] < 0.8 * history['train_loss'][0]


# --- spiral threshold -----------------------------------------------------------------

def load_study_module():
    sys.path.insert(0, str(SCRIPT.parent))
    import measure_spiral_threshold
    return measure_spiral_threshold


def test_the_study_file_is_consistent():
    study = json.loads(STUDY.read_text())
    m = load_study_module()
    assert study['recipe'] == m.RECIPE and study['seeds'] >= 200
    t = study['threshold']
    for name, accs in study['accuracy_per_seed'].items():
        assert len(accs) == study['seeds']
        assert study['passing'][name] == sum(a >= t for a in accs)
        assert study['summary'][name]['acc_min'] == min(accs)
    for name in study['correct']:
        assert study['passing'][name] == study['seeds'], name
    for name in study['separated']:
        assert study['passing'][name] == 0, name
    assert set(study['separated']) | set(study['not_separated']) == set(study['near_misses'])
    assert study['margin_correct'] > 0 and study['margin_near_miss'] > 0


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_spiral_recipe_passes_the_threshold_and_a_near_miss_does_not(seed):
    m = load_study_module()
    threshold = json.loads(STUDY.read_text())['threshold']
    acc, _, seconds = m.run('reference', seed)
    assert acc >= threshold and seconds < 1.0
    assert m.run('momentum_velocity_not_kept', seed)[0] < threshold
    assert m.run('missing_activation_derivative', seed)[0] < threshold


def test_study_script_runs_end_to_end(tmp_path):
    out = tmp_path / 'study.json'
    proc = subprocess.run([sys.executable, str(SCRIPT), '--seeds', '2', '--workers', '1', '--output', str(out)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data['seeds'] == 2 and all(len(a) == 2 for a in data['accuracy_per_seed'].values())
    bad = subprocess.run([sys.executable, str(SCRIPT), '--seeds', '0'], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and '--seeds and --workers must be >= 1' in bad.stderr


# --- the second walkthrough -----------------------------------------------------------

NOTEBOOK = ROOT / 'notebooks' / 'multiclass_walkthrough.ipynb'
REPORT_CELL = """\
import json, sys
print(json.dumps({
    'sys_prefix': sys.prefix,
    'gradients_passed': all(r['passed'] for r in grad_results.values()),
    'spiral_accuracy': float(spiral_val_accuracy),
    'pytorch_max_diff': float(max_diff),
    'momentum_faster': bool(histories['momentum']['train_loss'][-1] < histories['sgd']['train_loss'][-1]),
    'experiments': sorted(experiments),
}))
"""


@pytest.mark.slow
def test_multiclass_walkthrough_runs_top_to_bottom(monkeypatch):
    import time
    from nbclient import NotebookClient
    monkeypatch.setenv('MPLBACKEND', 'Agg')
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(REPORT_CELL))
    start = time.perf_counter()
    NotebookClient(nb, kernel_name='python3', timeout=600,
                   resources={'metadata': {'path': str(NOTEBOOK.parent)}}).execute()
    seconds = time.perf_counter() - start
    assert not [o for c in nb.cells if c.cell_type == 'code' for o in c.outputs if o.output_type == 'error']
    report = json.loads(''.join(o.get('text', '') for o in nb.cells[-1].outputs if o.output_type == 'stream'))
    assert report['sys_prefix'] == sys.prefix
    assert report['gradients_passed']
    assert report['spiral_accuracy'] >= json.loads(STUDY.read_text())['threshold']
    assert report['pytorch_max_diff'] < 1e-10
    assert report['momentum_faster']
    assert report['experiments'] == ['activation', 'batch_size', 'hidden_dim', 'learning_rate']
    assert seconds < 60, f"the walkthrough took {seconds:.0f} s"
