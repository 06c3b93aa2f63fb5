"""Fast checks of the NumPy reference implementation (src/)."""
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use('Agg')

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # as the notebooks' sys.path.append('..')

from src.activations import ReLU, Sigmoid, get_activation  # noqa: E402
from src.data import generate_spiral_data, generate_xor_data  # noqa: E402
from src.gradient_check import check_all_gradients, numerical_gradient, relative_error  # noqa: E402
from src.models import OneHiddenLayerMLP  # noqa: E402
from src.optimization import SGD, evaluate, train  # noqa: E402
from src.pytorch_models import ModuleMLP, convert_numpy_to_pytorch, train_pytorch_model  # noqa: E402
from src.visualization import plot_dataset, plot_decision_boundary, plot_training_history  # noqa: E402

ACTIVATIONS = ['relu', 'sigmoid']
GRAD_KEYS = ['dL_dW1', 'dL_db1', 'dL_dW2', 'dL_db2']


def random_problem(activation, batch, seed=0, d=3, h=5, n=7):
    """A seeded model with an input x ((d,) or (n, d)) and a target y."""
    rng = np.random.default_rng(seed + 1000)
    model = OneHiddenLayerMLP(d, h, activation, seed=seed)
    model.set_parameters({**model.get_parameters(), 'b1': 0.1 * rng.standard_normal(h)})
    x = rng.standard_normal((n, d) if batch else d)
    y = rng.standard_normal(n) if batch else 0.7
    return model, x, y


# --- Appendix A -------------------------------------------------------------

def test_appendix_a_exact_values():
    model = OneHiddenLayerMLP(2, 2, 'relu', seed=0)
    model.set_parameters({'W1': [[1.0, -2.0], [0.5, 1.0]], 'b1': [0.0, 0.0],
                          'W2': [[1.0, -1.0]], 'b2': [0.0]})
    x, y = np.array([1.0, -1.0]), 2.0
    f = model.forward(x)
    assert f == 3.0 and isinstance(f, float)
    np.testing.assert_array_equal(model.a1_cache, [3.0, -0.5])
    np.testing.assert_array_equal(model.h1_cache, [3.0, 0.0])
    assert 0.5 * (f - y) ** 2 == 0.5 and model.loss(x, y) == 0.5
    grads = model.backward(x, y, f)
    assert list(grads) == GRAD_KEYS
    np.testing.assert_array_equal(grads['dL_dW2'], [[3.0, 0.0]])
    np.testing.assert_array_equal(grads['dL_db2'], [1.0])
    np.testing.assert_array_equal(grads['dL_dW1'], [[1.0, -1.0], [0.0, 0.0]])
    np.testing.assert_array_equal(grads['dL_db1'], [1.0, 0.0])


# --- model ------------------------------------------------------------------

def test_forward_shapes_and_repr():
    model = OneHiddenLayerMLP(2, 4, 'relu', seed=1)
    assert repr(model) == "OneHiddenLayerMLP(input_dim=2, hidden_dim=4, activation='relu', n_params=17)"
    assert isinstance(model.forward(np.ones(2)), float)
    assert model.a1_cache.shape == model.h1_cache.shape == (4,)
    f = model.forward(np.ones((5, 2)))
    assert f.shape == (5,) and f.dtype == np.float64
    assert model.a1_cache.shape == model.h1_cache.shape == (5, 4)
    assert {k: v.shape for k, v in model.get_parameters().items()} == {
        'W1': (4, 2), 'b1': (4,), 'W2': (1, 4), 'b2': (1,)}


@pytest.mark.parametrize('activation', ACTIVATIONS)
def test_batch_gradient_is_mean_of_sample_gradients(activation):
    model, X, y = random_problem(activation, batch=True)
    batch_grads = model.backward(X, y, model.forward(X))
    for key in GRAD_KEYS:
        per_sample = [model.backward(X[i], y[i], model.forward(X[i]))[key] for i in range(len(X))]
        assert batch_grads[key].shape == per_sample[0].shape
        np.testing.assert_allclose(batch_grads[key], np.mean(per_sample, axis=0), rtol=1e-12, atol=1e-14)


def test_parameters_are_copies_and_validated():
    model = OneHiddenLayerMLP(2, 4, seed=0)
    params = model.get_parameters()
    params['W1'][:] = 123.0
    assert not np.any(model.W1 == 123.0)
    with pytest.raises(ValueError, match=r"W1: expected shape \(4, 2\), got \(2, 4\)"):
        model.set_parameters({**params, 'W1': np.zeros((2, 4))})
    with pytest.raises(ValueError, match="missing parameter 'b2'"):
        model.set_parameters({k: v for k, v in params.items() if k != 'b2'})
    model.set_parameters({**params, 'b1': [1, 2, 3, 4]})
    assert model.b1.dtype == np.float64 and list(model.b1) == [1.0, 2.0, 3.0, 4.0]


def test_initialisation_scale_and_global_seed():
    np.random.seed(3)
    a = OneHiddenLayerMLP(400, 300, 'relu')
    np.random.seed(3)
    b = OneHiddenLayerMLP(400, 300, 'relu')
    np.testing.assert_array_equal(a.W1, b.W1)
    assert abs(a.W1.std() - np.sqrt(2 / 400)) < 0.002
    assert abs(OneHiddenLayerMLP(400, 300, 'sigmoid', seed=0).W1.std() - np.sqrt(1 / 400)) < 0.002
    assert not np.any(a.b1) and not np.any(a.b2)


# --- activations ------------------------------------------------------------

def test_activation_values():
    relu, sigmoid = ReLU(), Sigmoid()
    np.testing.assert_array_equal(relu.forward([-2.0, 0.0, 3.0]), [0.0, 0.0, 3.0])
    np.testing.assert_array_equal(relu.derivative([-2.0, 0.0, 3.0]), [0.0, 0.0, 1.0])
    assert sigmoid.forward(0.0) == 0.5 and sigmoid.derivative(0.0) == 0.25
    z = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(sigmoid.forward(z), 1 / (1 + np.exp(-z)), rtol=1e-14)
    np.testing.assert_allclose(sigmoid.forward(z) + sigmoid.forward(-z), 1.0, rtol=1e-15)
    assert get_activation('sigmoid').name == 'sigmoid' and repr(get_activation('relu')) == 'ReLU()'
    with pytest.raises(ValueError, match="unknown activation 'tanh'"):
        get_activation('tanh')


def test_sigmoid_extremes_emit_no_warning_and_hit_exact_limits():
    z = np.array([-1e300, -1e4, -745.0, -710.0, -700.0, 0.0, 700.0, 710.0, 1e4, 1e300])
    sigmoid = Sigmoid()
    with warnings.catch_warnings(), np.errstate(all='raise'):
        warnings.simplefilter('error')
        s, ds = sigmoid.forward(z), sigmoid.derivative(z)
    assert s[1] == 0.0 and s[-2] == 1.0 and s[5] == 0.5
    assert np.all((s >= 0) & (s <= 1)) and np.all(np.diff(s) >= 0)
    assert ds[1] == 0.0 and ds[-2] == 0.0


# --- gradient checking ------------------------------------------------------

def test_relative_error():
    assert relative_error(0.0, 0.0) == 0.0
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert relative_error([1.0, -3.0], [1.0, -1.0]) == 0.5


def test_numerical_gradient_restores_theta():
    theta = np.array([[0.3, -1.7], [2.1, 0.1]])
    original = theta.copy()
    grad = numerical_gradient(lambda t: np.sum(t ** 3), theta)
    assert theta.tobytes() == original.tobytes()
    np.testing.assert_allclose(grad, 3 * original ** 2, rtol=1e-8)


@pytest.mark.parametrize('batch', [False, True])
@pytest.mark.parametrize('activation', ACTIVATIONS)
def test_gradient_check_passes_and_leaves_parameters_bitwise(activation, batch):
    for seed in range(3):
        model, x, y = random_problem(activation, batch, seed=seed)
        before = model.get_parameters()
        results = check_all_gradients(model, x, y, epsilon=1e-5, threshold=1e-7)
        assert list(results) == ['W1', 'b1', 'W2', 'b2']
        assert all(r['passed'] for r in results.values()), results
        after = model.get_parameters()
        assert all(before[k].tobytes() == after[k].tobytes() for k in before)


class WrongBackwardMLP(OneHiddenLayerMLP):
    def backward(self, x, y, f):
        grads = super().backward(x, y, f)
        grads['dL_db1'] = 2 * grads['dL_db1']
        return grads


@pytest.mark.parametrize('batch', [False, True])
def test_gradient_check_catches_a_wrong_backward(batch):
    model, x, y = random_problem('sigmoid', batch)
    broken = WrongBackwardMLP(3, 5, 'sigmoid', seed=0)
    broken.set_parameters(model.get_parameters())
    results = check_all_gradients(broken, x, y)
    assert not results['b1']['passed'] and results['b1']['error'] > 0.1
    assert results['W1']['passed'] and results['W2']['passed'] and results['b2']['passed']


# --- PyTorch twin -----------------------------------------------------------

@pytest.mark.parametrize('batch', [False, True])
@pytest.mark.parametrize('activation', ACTIVATIONS)
def test_gradients_match_pytorch_autograd(activation, batch):
    model, x, y = random_problem(activation, batch)
    f = model.forward(x)
    grads = model.backward(x, y, f)
    twin = convert_numpy_to_pytorch(model)
    f_pt = twin(torch.from_numpy(x))
    assert f_pt.dtype == torch.float64 and f_pt.shape == np.shape(f)
    (0.5 * torch.mean((f_pt - torch.as_tensor(y, dtype=torch.float64)) ** 2)).backward()
    np.testing.assert_allclose(f_pt.detach().numpy(), f, rtol=0, atol=1e-10)
    for key, param in [('dL_dW1', twin.fc1.weight), ('dL_db1', twin.fc1.bias),
                       ('dL_dW2', twin.fc2.weight), ('dL_db2', twin.fc2.bias)]:
        np.testing.assert_allclose(param.grad.numpy(), grads[key], rtol=0, atol=1e-10)


def test_module_mlp_shapes_init_and_training():
    np.random.seed(5)
    module = ModuleMLP(2, 8)
    np.random.seed(5)
    reference = OneHiddenLayerMLP(2, 8)
    assert module(torch.zeros(10, 2)).shape == (10,)
    assert module(torch.zeros(2)).shape == ()
    np.testing.assert_allclose(module.fc1.weight.detach().numpy(), reference.W1, rtol=1e-6)
    np.random.seed(9)
    convert_numpy_to_pytorch(reference)  # must not advance the global random stream
    after_convert = np.random.rand()
    np.random.seed(9)
    assert np.random.rand() == after_convert
    X, y = generate_xor_data(200, 0.1, seed=0)
    history = train_pytorch_model(module, X, y, n_epochs=5, learning_rate=0.5, seed=0)
    assert len(history['train_loss']) == 5 and history['train_loss'][-1] < history['train_loss'][0]


# --- data -------------------------------------------------------------------

def test_xor_data():
    X, y = generate_xor_data(n_samples=200, noise=0.1, seed=7)
    X2, y2 = generate_xor_data(n_samples=200, noise=0.1, seed=7)
    assert X.shape == (200, 2) and X.dtype == np.float64 and y.shape == (200,) and y.dtype == np.int64
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(X, generate_xor_data(200, 0.1, seed=8)[0])
    corners = np.round(X)
    np.testing.assert_array_equal(y, corners[:, 0] != corners[:, 1])
    assert 0.3 < y.mean() < 0.7
    np.random.seed(1)
    a = generate_xor_data(50)
    np.random.seed(1)
    np.testing.assert_array_equal(a[0], generate_xor_data(50)[0])


def test_spiral_data():
    X, y = generate_spiral_data(n_samples=301, n_classes=3, seed=0)
    assert X.shape == (301, 2) and X.dtype == np.float64 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [101, 100, 100]
    np.testing.assert_array_equal(X, generate_spiral_data(301, 3, seed=0)[0])
    assert np.all(np.linalg.norm(X, axis=1) <= 1.0 + 1e-12)


# --- training ---------------------------------------------------------------

def test_sgd_step():
    model = OneHiddenLayerMLP(2, 3, seed=0)
    before = model.get_parameters()
    grads = {'dL_d' + k: np.ones_like(v) for k, v in before.items()}
    SGD(learning_rate=0.25).step(model, grads)
    for k, v in model.get_parameters().items():
        np.testing.assert_allclose(v, before[k] - 0.25)
    assert repr(SGD(0.5)) == 'SGD(learning_rate=0.5)'


def test_train_solves_xor_as_in_the_walkthrough(capsys):
    np.random.seed(42)
    X_train, y_train = generate_xor_data(n_samples=200, noise=0.1)
    X_val, y_val = generate_xor_data(n_samples=100, noise=0.1)
    model = OneHiddenLayerMLP(input_dim=2, hidden_dim=8, activation='relu')
    history = train(model, X_train, y_train, SGD(learning_rate=0.5), n_epochs=200, batch_size=32,
                    X_val=X_val, y_val=y_val, verbose=True, print_every=50)
    assert len(history['train_loss']) == len(history['val_loss']) == 200
    assert history['train_loss'][-1] < history['train_loss'][0]
    assert history['train_loss'][-1] == pytest.approx(model.loss(X_train, y_train))
    metrics = evaluate(model, X_val, y_val, threshold=0.5)
    assert isinstance(metrics['accuracy'], float) and metrics['accuracy'] > 0.85
    assert metrics['loss'] == pytest.approx(history['val_loss'][-1])
    assert capsys.readouterr().out.count('\n') == 4  # epochs 50, 100, 150, 200


class RecordingMLP(OneHiddenLayerMLP):
    """Records the mini-batches that backward sees."""

    def backward(self, x, y, f):
        self.batches.append(np.asarray(y).copy())
        return super().backward(x, y, f)


def test_train_visits_every_sample_once_per_epoch_in_shuffled_batches():
    X, y = np.zeros((70, 2)), np.arange(70)  # labels identify the samples
    model = RecordingMLP(2, 3, seed=0)
    model.batches = []
    train(model, X, y, SGD(0.0), n_epochs=2, batch_size=32, seed=0)
    assert [len(b) for b in model.batches] == [32, 32, 6, 32, 32, 6]
    epochs = [np.concatenate(model.batches[:3]), np.concatenate(model.batches[3:])]
    assert all(sorted(e) == list(range(70)) for e in epochs)
    assert not np.array_equal(epochs[0], epochs[1]) and not np.array_equal(epochs[0], y)


def test_train_without_validation_and_seeded(capsys):
    X, y = generate_xor_data(64, seed=0)
    runs = [train(OneHiddenLayerMLP(2, 4, seed=0), X, y, SGD(0.1), n_epochs=3, seed=1,
                  verbose=True, print_every=2) for _ in range(2)]
    assert runs[0] == runs[1] and runs[0]['val_loss'] == [] and len(runs[0]['train_loss']) == 3
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and lines[0].startswith('epoch    2/3') and lines[1].startswith('epoch    3/3')


# --- visualization ----------------------------------------------------------

def test_visualization_returns_figures():
    X, y = generate_xor_data(40, seed=0)
    model = OneHiddenLayerMLP(2, 4, seed=0)
    figures = [plot_training_history({'train_loss': [1.0, 0.5], 'val_loss': [1.1, 0.6]}),
               plot_training_history({'train_loss': [1.0, 0.5], 'val_loss': []}),
               plot_dataset(X, y),
               plot_decision_boundary(model, X, y, resolution=30)]
    assert matplotlib.get_backend().lower() == 'agg'
    assert all(isinstance(fig, plt.Figure) for fig in figures)
    plt.close('all')
