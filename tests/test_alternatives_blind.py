"""Each correct alternative of the corpus (tests/corpus/alternatives.py) IS correct by the notebook's spec.

Written blind (from the notebook's markdown, docstrings and visible tests, never from the grader's
probes): a differential test of every alternative notebook against the reference implementation
in src/. The graded code is executed as the grader executes it: the release's setup cell, then the
notebook's solution cells in release order, in one namespace. Shapes: a single sample, a batch of
1, n = d, hidden smaller and larger than the input, 1 x 1; scalar and 0-d inputs to activations.

An alternative that fails here is a bug in the alternative, not in the grader.
"""
import json
import os
import sys
import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from examples.catalogue import Example, build  # noqa: E402
from src.activations import ReLU as RefReLU, Sigmoid as RefSigmoid  # noqa: E402
from src.gradient_check import check_all_gradients as ref_check_all_gradients  # noqa: E402
from src.gradient_check import numerical_gradient as ref_numerical_gradient  # noqa: E402
from src.models import OneHiddenLayerMLP as RefMLP  # noqa: E402
from tests.corpus import ALTERNATIVES, path  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "release", "mlp", "mlp.ipynb")
KEYS = ("dL_dW1", "dL_db1", "dL_dW2", "dL_db2")
NAMES = ("W1", "b1", "W2", "b2")
SHAPES = [(2, 4), (3, 3), (5, 2), (1, 1), (4, 8), (6, 3)]       # (d, h): h < d, h = d, h > d
PERFECT = Example("perfect", "perfect", "the instructor's solution (control)")
SUBJECTS = [PERFECT] + list(ALTERNATIVES)


def _gid(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _src(cell):
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def graded_namespace(notebook_text):
    """Run the release's setup cell and the notebook's solution cells (release order) in a namespace."""
    with open(RELEASE, encoding="utf-8") as f:
        release = json.load(f)
    student = {}
    for cell in json.loads(notebook_text)["cells"]:
        if cell.get("cell_type") == "code" and _gid(cell) and _gid(cell) not in student:
            student[_gid(cell)] = _src(cell)
    helpers = os.path.dirname(RELEASE)
    if helpers not in sys.path:
        sys.path.insert(0, helpers)
    ns = {"__name__": "__main__"}
    for cell in release["cells"]:
        gid, meta = _gid(cell), cell.get("metadata", {}).get("nbgrader", {})
        if gid == "setup":
            source = _src(cell)
        elif meta.get("solution"):
            source = student.get(gid, _src(cell))
        else:
            continue
        exec(compile(source, f"<{gid}>", "exec"), ns)
    return ns


# Older alternatives that predate the spec's exact wording and do not follow it (reported, kept):
OFF_SPEC = {
    "numerical_gradient_on_copies": ("the spec says: perturb theta IN PLACE; this perturbs copies",
                                     {"test_numerical_gradient_matches_reference"}),
}


@pytest.fixture(autouse=True)
def _off_spec(request):
    example = getattr(request.node, "callspec", None) and request.node.callspec.params.get("subject")
    if example is not None and example.name in OFF_SPEC:
        reason, tests = OFF_SPEC[example.name]
        if request.node.originalname in tests:
            request.applymarker(pytest.mark.xfail(reason=reason, strict=True))


@pytest.fixture(scope="module", params=SUBJECTS, ids=lambda e: e.name)
def subject(request):
    example = request.param
    text = build(example) if example is PERFECT else open(path(example), encoding="utf-8").read()
    assert text == build(example), "regenerate the corpus: python -m tests.corpus"
    return graded_namespace(text)


def run_strict(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            return fn(*args)


# --- activations ------------------------------------------------------------------------------

SCALARS = [0.0, -0.0, -2.0, 3.0, 1e-300, -1e-300, 5e-324, -5e-324, 0, 7, -3, np.float64(0.5)]
EXTREMES = np.array([-1e4, -1e3, -800.0, -745.0, -710.0, -700.0, -500.0, -40.0, -30.0, -1e-8, 0.0,
                     1e-8, 30.0, 40.0, 500.0, 700.0, 710.0, 745.0, 800.0, 1e3, 1e4])


def activation_inputs():
    rng = np.random.default_rng(7)
    return (SCALARS + [np.array(s) for s in SCALARS[:6]]
            + [rng.standard_normal((4, 5)) * 3, rng.standard_normal(3), rng.standard_normal((2, 3, 4)) * 10,
               np.linspace(-1e4, 1e4, 2001), EXTREMES, np.arange(-3, 4), np.zeros((2, 0)), np.array([[0.0]])])


@pytest.mark.parametrize("cls,ref,atol", [("ReLU", RefReLU(), 0.0), ("Sigmoid", RefSigmoid(), 1e-15)])
def test_activation_matches_reference(subject, cls, ref, atol):
    act = subject[cls]()
    for z in activation_inputs():
        before = np.array(z, copy=True)
        for method in ("forward", "derivative"):
            out = run_strict(getattr(act, method), z)
            expected = getattr(ref, method)(z)
            assert np.shape(out) == np.shape(z), (cls, method, z)
            assert np.asarray(out).dtype == np.float64, (cls, method, z)
            np.testing.assert_allclose(out, expected, rtol=1e-12, atol=atol, err_msg=f"{cls}.{method}({z!r})")
        np.testing.assert_array_equal(z, before)       # the input is not modified
    assert act.name == cls.lower()


def test_relu_derivative_at_zero_is_zero(subject):
    """The spec: ReLU'(0) = 0, also for -0.0."""
    relu = subject["ReLU"]()
    assert np.array_equal(relu.derivative(np.array([0.0, -0.0, 1e-300, -1e-300])), [0.0, 0.0, 1.0, 0.0])


# --- the model ------------------------------------------------------------------------------------

def problem(activation, d, h, seed):
    """A reference model with non-zero biases, and the student's model with the same parameters."""
    rng = np.random.default_rng(seed + 100)
    ref = RefMLP(d, h, activation, seed=seed)
    ref.set_parameters({**ref.get_parameters(), "b1": 0.3 * rng.standard_normal(h),
                        "b2": 0.3 * rng.standard_normal(1)})
    return ref, rng


def inputs(d, rng):
    """(x, y) pairs: a single sample (y a float), batches of 1, n = d and 7."""
    yield rng.standard_normal(d), float(rng.standard_normal())
    yield rng.standard_normal(d), np.float64(rng.standard_normal())
    for n in (1, d, 7):
        yield rng.standard_normal((n, d)), rng.standard_normal(n)


def student_model(subject, ref, activation):
    model = subject["OneHiddenLayerMLP"](ref.input_dim, ref.hidden_dim, activation)
    model.set_parameters(ref.get_parameters())
    return model


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_initialisation_matches_spec(subject, activation):
    for d, h in SHAPES:
        ref, mine = RefMLP(d, h, activation, seed=3), subject["OneHiddenLayerMLP"](d, h, activation, seed=3)
        for name in NAMES:
            np.testing.assert_array_equal(getattr(mine, name), getattr(ref, name))
            assert mine.get_parameters()[name].dtype == np.float64


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_forward_matches_reference(subject, activation):
    for seed, (d, h) in enumerate(SHAPES):
        ref, rng = problem(activation, d, h, seed)
        model = student_model(subject, ref, activation)
        for x, _ in inputs(d, rng):
            x_before = x.copy()
            f, f_ref = run_strict(model.forward, x), ref.forward(x)
            np.testing.assert_array_equal(x, x_before)
            if x.ndim == 1:
                assert isinstance(f, float), type(f)
                assert np.shape(model.a1_cache) == np.shape(model.h1_cache) == (h,)
            else:
                assert isinstance(f, np.ndarray) and f.shape == (len(x),), np.shape(f)
                assert np.shape(model.a1_cache) == np.shape(model.h1_cache) == (len(x), h)
            np.testing.assert_allclose(f, f_ref, rtol=1e-12, atol=1e-13)
            np.testing.assert_allclose(model.a1_cache, ref.a1_cache, rtol=1e-12, atol=1e-13)
            np.testing.assert_allclose(model.h1_cache, ref.h1_cache, rtol=1e-12, atol=1e-13)


def test_appendix_a(subject):
    model = subject["OneHiddenLayerMLP"](2, 2, "relu")
    model.set_parameters({"W1": [[1.0, -2.0], [0.5, 1.0]], "b1": [0.0, 0.0], "W2": [[1.0, -1.0]], "b2": [0.0]})
    x = np.array([1.0, -1.0])
    f = model.forward(x)
    assert f == 3.0 and np.array_equal(model.a1_cache, [3.0, -0.5]) and np.array_equal(model.h1_cache, [3.0, 0.0])
    grads = model.backward(x, 2.0, f)
    expected = {"dL_dW1": [[1.0, -1.0], [0.0, 0.0]], "dL_db1": [1.0, 0.0], "dL_dW2": [[3.0, 0.0]], "dL_db2": [1.0]}
    for key, value in expected.items():
        np.testing.assert_allclose(grads[key], value, rtol=0, atol=1e-15)


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
@pytest.mark.parametrize("scale", [1.0, 8.0])       # 8: saturated sigmoids, many dead ReLUs
def test_backward_matches_reference(subject, activation, scale):
    for seed, (d, h) in enumerate(SHAPES):
        ref, rng = problem(activation, d, h, seed)
        ref.set_parameters({**ref.get_parameters(), "W1": ref.W1 * scale})
        model = student_model(subject, ref, activation)
        for x, y in inputs(d, rng):
            params = model.get_parameters()
            grads = run_strict(model.backward, x, y, model.forward(x))
            expected = ref.backward(x, y, ref.forward(x))
            assert set(grads) == set(KEYS)
            for key in KEYS:
                assert np.shape(grads[key]) == np.shape(expected[key]), key
                np.testing.assert_allclose(grads[key], expected[key], rtol=1e-10, atol=1e-13, err_msg=key)
            for name in NAMES:
                np.testing.assert_array_equal(getattr(model, name), params[name])


# --- gradient checking ----------------------------------------------------------------------------

def spec_relative_error(a, b, eps=1e-12):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(eps, np.abs(a) + np.abs(b))))


def test_relative_error_matches_spec(subject):
    rel = subject["relative_error"]
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 4))
    cases = [(a, a + 1e-6 * rng.standard_normal((3, 4))), (a, a), (np.zeros(3), np.zeros(3)),
             (np.zeros((1, 3)), np.array([[0.0, 1e-3, 0.0]])), (2.0, 3.0), (0.0, 0.0), (np.array([1e-14]), [2e-14]),
             (a[:1], a[:1] * 1.5), (np.array([0.0, 1.0]), np.array([0.0, 1.0 + 1e-9]))]
    for x, y in cases:
        err = rel(x, y)
        assert isinstance(err, float)
        assert err == pytest.approx(spec_relative_error(x, y), rel=1e-12, abs=1e-300)
    assert rel(np.zeros(3), np.zeros(3)) == 0.0


def cubic(t):
    return float(np.sum(t ** 3) + np.sum(t[..., :1]) * np.sum(t))


@pytest.mark.parametrize("make_theta", [
    lambda r: r.standard_normal((3, 4)), lambda r: r.standard_normal(5), lambda r: r.standard_normal((2, 3, 2)),
    lambda r: r.standard_normal((4, 3)).T, lambda r: r.standard_normal((6, 2))[::2], lambda r: r.standard_normal((1, 1))],
    ids=["2d", "1d", "3d", "transposed-view", "strided-view", "1x1"])
def test_numerical_gradient_matches_reference(subject, make_theta):
    theta = make_theta(np.random.default_rng(2))
    before = theta.copy()
    g = subject["numerical_gradient"](cubic, theta, epsilon=1e-5)
    assert np.array_equal(theta, before)               # restored exactly, in place
    expected = ref_numerical_gradient(cubic, theta.copy(), 1e-5)
    assert np.shape(g) == theta.shape
    np.testing.assert_allclose(g, expected, rtol=1e-7, atol=1e-8)
    seen = []
    subject["numerical_gradient"](lambda t: seen.append(t is theta) or 0.0, theta)
    assert all(seen) and len(seen) == 2 * theta.size      # perturbs theta itself


class WrongW1(RefMLP):
    def backward(self, x, y, f):
        grads = super().backward(x, y, f)
        return {**grads, "dL_dW1": grads["dL_dW1"] * 1.5 + 0.01}


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_check_all_gradients(subject, activation):
    """Same verdicts as the reference wherever the reference's error is clearly on one side of the threshold."""
    check = subject["check_all_gradients"]
    for seed, (d, h) in enumerate(SHAPES[:4]):
        ref, rng = problem(activation, d, h, seed)
        for x, y in inputs(d, rng):
            wrong = WrongW1(d, h, activation, seed=seed)
            wrong.set_parameters(ref.get_parameters())
            for model in (ref, student_model(subject, ref, activation), wrong):
                for y_scale in (1.0, 10.0):      # 10: larger gradients
                    params = model.get_parameters()
                    expected = ref_check_all_gradients(model, x, y * y_scale, 1e-5, 1e-7)
                    results = check(model, x, y * y_scale, 1e-5, 1e-7)
                    assert set(results) == set(NAMES)
                    for name, r in results.items():
                        assert isinstance(r["error"], float) and isinstance(r["passed"], (bool, np.bool_))
                        assert bool(r["passed"]) == (r["error"] < 1e-7)
                        if expected[name]["error"] < 1e-8:
                            assert r["passed"], (name, r, expected[name])
                        if expected[name]["error"] > 1e-5:
                            assert not r["passed"] and r["error"] == pytest.approx(expected[name]["error"], rel=1e-3)
                    for name in NAMES:
                        np.testing.assert_array_equal(getattr(model, name), params[name])
            assert not check(wrong, x, y)["W1"]["passed"]
    dead = RefMLP(2, 3, "relu", seed=0)                 # a dead unit and a zero output weight: zero gradients
    dead.set_parameters({**dead.get_parameters(), "b1": np.array([-100.0, 0.0, 0.0]), "W2": np.array([[1.0, 0.0, 1.0]])})
    results = check(dead, np.array([0.3, -0.2]), 1.0)
    assert all(r["passed"] for r in results.values()), results


# --- SGD, evaluate, train ---------------------------------------------------------------------------

def test_sgd_step_is_exact(subject):
    ref, rng = problem("relu", 3, 4, 0)
    for lr in (0.1, 0.37, 1.0):
        params = ref.get_parameters()
        grads = {"dL_d" + n: rng.standard_normal(p.shape) for n, p in params.items()}
        grads_before = {k: v.copy() for k, v in grads.items()}
        subject["SGD"](learning_rate=lr).step(ref, grads)
        for n in NAMES:
            assert np.array_equal(getattr(ref, n), params[n] - lr * grads["dL_d" + n]), n
        for k in grads:
            assert np.array_equal(grads[k], grads_before[k])
    assert subject["SGD"]().learning_rate == 0.1


def test_evaluate_matches_spec(subject):
    rng = np.random.default_rng(5)
    ref = RefMLP(3, 6, "sigmoid", seed=1)
    for n in (1, 3, 20):
        X, y = rng.standard_normal((n, 3)), rng.integers(0, 2, n)
        f = ref.forward(X)
        for threshold in (None, 0.5, 0.3):
            args = () if threshold is None else (threshold,)
            out = subject["evaluate"](ref, X, y, *args)
            t = 0.5 if threshold is None else threshold
            assert set(out) == {"loss", "accuracy"}
            assert isinstance(out["loss"], float) and isinstance(out["accuracy"], float)
            assert out["loss"] == pytest.approx(float(np.mean(0.5 * (f - y) ** 2)), rel=1e-12)
            assert out["accuracy"] == float(np.mean((f >= t) == y))


class Recorder:
    """A correct model (the reference) that records the batches it is trained on."""

    def __init__(self, X, y):
        self.model, self.X, self.y = RefMLP(X.shape[1], 4, "relu", seed=0), X, y
        self.batches, self.pending, self.losses_after_step = [], None, []

    def forward(self, x):
        self.pending = np.array(x, copy=True)
        return self.model.forward(x)

    def backward(self, x, y, f):
        assert self.pending is not None and np.array_equal(np.asarray(x), self.pending), "backward right after forward"
        rows = [int(np.flatnonzero(np.all(self.X == row, axis=1))[0]) for row in np.atleast_2d(x)]
        np.testing.assert_array_equal(np.ravel(y), self.y[rows])
        np.testing.assert_array_equal(np.ravel(f), np.ravel(self.model.forward(x)))
        self.batches.append(rows)
        return self.model.backward(x, y, f)

    def get_parameters(self):
        return self.model.get_parameters()

    def set_parameters(self, params):
        self.model.set_parameters(params)


class CountingSGD:
    def __init__(self, recorder, lr=0.05):
        self.recorder, self.lr, self.steps, self.snapshots = recorder, lr, 0, []

    def step(self, model, grads):
        params = model.get_parameters()
        model.set_parameters({n: p - self.lr * grads["dL_d" + n] for n, p in params.items()})
        self.steps += 1
        self.snapshots.append(model.get_parameters())


@pytest.mark.parametrize("n,batch_size,epochs,val", [(10, 3, 3, True), (10, 4, 2, False), (9, 1, 2, True),
                                                     (8, 8, 2, True), (5, 32, 3, False), (12, 5, 0, True)])
def test_train_loop(subject, n, batch_size, epochs, val):
    rng = np.random.default_rng(n * 100 + batch_size)
    X, y = rng.standard_normal((n, 3)), rng.standard_normal(n)
    X_val, y_val = rng.standard_normal((4, 3)), rng.standard_normal(4)
    rec = Recorder(X, y)
    opt = CountingSGD(rec)
    kwargs = dict(X_val=X_val, y_val=y_val) if val else {}
    np.random.seed(0)
    history = subject["train"](rec, X, y, opt, n_epochs=epochs, batch_size=batch_size, **kwargs)
    per_epoch = -(-n // batch_size)
    assert opt.steps == epochs * per_epoch == len(rec.batches)
    assert len(history["train_loss"]) == epochs and len(history["val_loss"]) == (epochs if val else 0)
    check = RefMLP(3, 4, "relu", seed=0)
    for e in range(epochs):
        batches = rec.batches[e * per_epoch:(e + 1) * per_epoch]
        assert sorted(i for b in batches for i in b) == list(range(n)), "every sample once per epoch"
        assert [len(b) for b in batches[:-1]] == [batch_size] * (per_epoch - 1)
        check.set_parameters(opt.snapshots[(e + 1) * per_epoch - 1])
        assert history["train_loss"][e] == pytest.approx(float(np.mean(0.5 * (check.forward(X) - y) ** 2)), rel=1e-12)
        if val:
            assert history["val_loss"][e] == pytest.approx(
                float(np.mean(0.5 * (check.forward(X_val) - y_val) ** 2)), rel=1e-12)
        assert all(isinstance(v, float) for v in history["train_loss"] + history["val_loss"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_learns_xor(subject, seed):
    """As the notebook's XOR cell (hidden 32, ReLU, lr 0.02, 3 epochs, batches of 1), on seeded data."""
    np.random.seed(seed)
    gen = subject["generate_xor_data"]
    X_train, y_train = gen(n_samples=200, noise=0.1)
    X_val, y_val = gen(n_samples=100, noise=0.1)
    model = subject["OneHiddenLayerMLP"](input_dim=2, hidden_dim=32, activation="relu")
    before = model.get_parameters()
    initial_loss = float(np.mean(0.5 * (np.asarray(model.forward(X_train)) - y_train) ** 2))
    history = subject["train"](model, X_train, y_train, subject["SGD"](learning_rate=0.02), n_epochs=3,
                               batch_size=1, X_val=X_val, y_val=y_val)
    assert subject["evaluate"](model, X_val, y_val)["accuracy"] > 0.85
    assert history["train_loss"][-1] < initial_loss
    assert any(not np.array_equal(before[n], model.get_parameters()[n]) for n in NAMES)
