"""The judges treat a probe's data as the student's output: forged, malformed or hostile data never
passes and never takes the grader down.

Student code runs in the probe's process, so it can rewrite the probe or write its own report.
These tests grade such reports directly (``judges.run_judge``), as the grading process would
receive them from the sandbox:

- malformed data (wrong types, surrogates, deep nesting, huge arrays) fails with a readable
  message that blames the student's output, never an exception or a "grader error";
- "zero-knowledge" forgeries, made without computing any answer (zeros, copies of the inputs,
  a train record claiming perfect batches with a made-up history, the parameters that the
  judges used to read from the data), fail;
- the data of the instructor's solution, produced by running the real probes in-process, passes,
  and a train whose steps do not get the gradients of the backward just before them fails (the
  record of a run is verified by replaying it);
- hypothesis: arbitrary JSON, and arbitrary data of each probe's declared form, never passes
  and never raises.
"""
import copy
import json
import sys

import matplotlib
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

matplotlib.use("Agg")

from autograder.assignments.mlp import hints, judges, probes  # noqa: E402
from autograder.assignments.mlp.checks import CHECKS  # noqa: E402
from autograder.assignments.mlp.oracles import PARAM_NAMES, linear_net_params  # noqa: E402
from autograder.protocol import Arr, Flag, Map, Num, Opt, Rec, Schema, Seq, Text, validate  # noqa: E402
from autograder.assignments import get as get_assignment  # noqa: E402
from autograder.submission import graded_cells, read_notebook  # noqa: E402

RELEASE_DIR, RELEASE_NOTEBOOK = get_assignment("mlp").release_dir, get_assignment("mlp").release_notebook
from examples.catalogue import SOURCE  # noqa: E402

NAMES = list(CHECKS)
READ_FAILURE = "the grader could not read what your code returned"


# --- the instructor's solution, run through the real probes in-process -----------------------

@pytest.fixture(scope="module")
def solution():
    """The namespace of the instructor's solution cells, run after the release's setup cell."""
    cells, _ = graded_cells(read_notebook(SOURCE), read_notebook(RELEASE_NOTEBOOK))
    sys.path.insert(0, RELEASE_DIR)       # the setup cell imports the given helpers next to the notebook
    try:
        namespace = {}
        for label, source in cells:
            exec(compile(source, label, "exec"), namespace)
    finally:
        sys.path.remove(RELEASE_DIR)
    return namespace


def probe_data(name, namespace):
    """The check's data as the grading process receives it from the sandbox (a JSON round trip)."""
    status, data = probes.run_probe(name, namespace, judges.make_inputs(name))
    assert status == "ok", data
    return json.loads(json.dumps(data))


@pytest.fixture(scope="module")
def real(solution):
    return {name: probe_data(name, solution) for name in NAMES}


def judged(name, data):
    """run_judge on `data`, with what every verdict on untrusted data must satisfy."""
    verdict = judges.run_judge(name, data, judges.make_inputs(name))
    assert isinstance(verdict.message, str)
    verdict.message.encode("utf-8")                  # no lone surrogate reaches the student's feedback
    assert verdict.passed == (verdict.message == "")
    assert not verdict.grader_error, verdict.message
    return verdict


def assert_fails(name, data):
    verdict = judged(name, data)
    assert not verdict.passed and 0 < len(verdict.message) < 6000
    return verdict.message


def assert_fails_to_read(name, data):
    """Fails; and when the data does not have the declared form, the reason says the grader could
    not read it (data of that form, e.g. {} for a dict of gradients, is the judge's to describe)."""
    message = assert_fails(name, data)
    try:
        validate(probes.SCHEMAS[name], data)
    except Exception:  # noqa: BLE001 - whatever validate rejects
        assert message.startswith(READ_FAILURE), message


def test_every_check_declares_the_schema_of_its_data():
    assert set(probes.SCHEMAS) == set(probes.PROBES) == set(judges.JUDGES) == set(CHECKS)
    assert all(isinstance(schema, Schema) for schema in probes.SCHEMAS.values())


@pytest.mark.parametrize("name", NAMES)
def test_the_solution_passes_on_its_real_data_in_both_paths(name, solution, real):
    assert judged(name, real[name]).passed
    status, data = probes.run_probe(name, solution, judges.make_inputs(name))   # nbgrader: no JSON round trip
    assert status == "ok" and judged(name, data).passed


def test_a_judge_that_raises_on_valid_data_is_a_grader_error_not_the_students(real, monkeypatch):
    def broken_judge(data, inputs):
        raise ZeroDivisionError("a bug in the judge")
    monkeypatch.setitem(judges.JUDGES, "relu", broken_judge)
    verdict = judges.run_judge("relu", real["relu"], {})
    assert not verdict.passed and verdict.grader_error
    assert verdict.message.startswith("grader error (not your mistake)")


# --- malformed data ----------------------------------------------------------------------------

def deeply_nested(depth=5000):
    value = []
    for _ in range(depth):
        value = [value]
    return value


def array_paths(data, path=()):
    """Paths to every array record {"shape", "values"} in `data`, in order."""
    if isinstance(data, dict) and set(data) == {"shape", "values"}:
        yield path
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from array_paths(value, path + (key,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from array_paths(value, path + (i,))


def replaced(data, path, value):
    data = copy.deepcopy(data)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


MALFORMED_WHOLE = {
    "empty dict": {},
    "empty list": [],
    "None": None,
    "a dict where data belongs": {"message": {"nested": "dict"}},
    "a lone surrogate": "\ud800",
    "a surrogate key": {"\ud800": 1},
    "deeply nested lists": deeply_nested(),
    "a huge array": {"shape": [10 ** 6], "values": [0.0] * 10 ** 6},
    "an integer too large for a float": 10 ** 400,
}
MALFORMED_ARRAY = {    # what replaces the first array of the real data
    "a dict": {"message": "hello"},
    "text": "\ud800 not numbers",
    "deeply nested lists": {"shape": [1], "values": deeply_nested()},
    "a huge array": {"shape": [1000, 1000], "values": [0.0] * 10 ** 6},
    "an impossible shape": {"shape": [0, 10 ** 30], "values": []},
    "an integer too large for a float": {"shape": [1], "values": [10 ** 400]},
    "booleans": {"shape": [1], "values": [True]},
    "a negative size": {"shape": [-1], "values": []},
}


@pytest.mark.parametrize("what", MALFORMED_WHOLE)
@pytest.mark.parametrize("name", NAMES)
def test_malformed_data_fails_with_a_readable_reason(name, what):
    assert_fails_to_read(name, MALFORMED_WHOLE[what])


@pytest.mark.parametrize("what", MALFORMED_ARRAY)
@pytest.mark.parametrize("name", NAMES)
def test_a_malformed_array_inside_real_data_fails_with_a_readable_reason(name, what, real):
    assert_fails_to_read(name, replaced(real[name], next(array_paths(real[name])), MALFORMED_ARRAY[what]))


def test_the_reason_says_where_in_the_data_and_what_was_expected(real):
    data = replaced(real["forward_random"], ("relu", 0, "f"), {"a": 1})
    assert judged("forward_random", data).message == \
        f"{READ_FAILURE} (at ['relu'][0]['f']: expected an array, got dict)"


@pytest.mark.parametrize("name", NAMES)
def test_an_extra_or_missing_key_fails(name, real):
    data = real[name]
    if isinstance(data, dict):
        assert_fails(name, {**data, "extra": 1})
    if isinstance(data, list):
        assert_fails(name, data[:-1])              # one case fewer: zip must not stop early
        assert_fails(name, data + data[-1:])


# --- zero-knowledge forgeries: no answer computed -----------------------------------------------

def arr(value):
    value = np.asarray(value, dtype=float)
    return {"shape": list(value.shape), "values": value.ravel().tolist()}


def zeros(shape):
    return arr(np.zeros(shape))


def param_shapes(d, h):
    return {"W1": (h, d), "b1": (h,), "W2": (1, h), "b2": (1,)}


def forged_activation(key, make):
    out = {f"{part}_{i}": arr(make(np.asarray(z, dtype=float))) for part in ("forward", "derivative")
           for i, z in enumerate(probes.activation_inputs(key))}
    return dict(out, **{f"{key}_kept": True for key in list(out)})


def forged_forward(x, h=4, value=0.0):
    n = () if np.ndim(x) == 1 else (np.shape(x)[0],)
    return {"f": arr(np.full(n, value)), "a1": zeros(n + (h,)), "h1": zeros(n + (h,))}


def forged_grads(d, h, value=0.0):
    return {"dL_d" + k: arr(np.full(s, value)) for k, s in param_shapes(d, h).items()}


def perfect_batches(n, bs, epochs):
    return [list(range(start, min(start + bs, n))) for _ in range(epochs) for start in range(0, n, bs)]


def forged_train(history, params):
    """A record claiming exactly the right batches and steps, with a made-up history and parameters."""
    out = {}
    for run, setup in probes.TRAIN_RUNS.items():
        n, bs, epochs = probes.TRAIN_SETUP["n"], setup["batch_size"], setup["epochs"]
        hist = {"train_loss": arr(history(epochs)), "val_loss": arr(history(epochs) if setup["validation"] else [])}
        out[run] = {"history": hist, "batches": perfect_batches(n, bs, epochs),
                    "steps": len(perfect_batches(n, bs, epochs)),
                    "params": {k: arr(v) for k, v in params().items()}}
    return out


def random_cases_forward(value):
    cases = [(x, np.shape(params["W1"])[0]) for params, shaped in probes.random_cases(11) for x, _ in shaped]
    return {a: [forged_forward(x, h=h, value=value) for x, h in cases] for a in ("relu", "sigmoid")}


def random_cases_grads(value):
    return [forged_grads(np.shape(params["W1"])[1], np.shape(params["W1"])[0], value)
            for params, shaped in probes.random_cases(23) for _ in shaped]


def gradient_check_report(passed, error):
    return dict({case: {"result": {k: {"passed": passed, "error": arr(error)} for k in PARAM_NAMES}, "restored": True}
                 for case in probes.GRADIENT_CHECK_CASES},
                relative_error=[arr(error) for _ in probes.RELATIVE_ERROR_CASES])


def xor_report(initial, final, history):
    return {"initial_params": {k: arr(v) for k, v in initial.items()},
            "params": {k: arr(v) for k, v in final.items()}, "history": {"train_loss": arr(history)}}


XOR_PARAMS = {k: np.zeros(s) for k, s in param_shapes(2, probes.XOR_SETUP["hidden_dim"]).items()}
XOR_RANDOM = linear_net_params(2, probes.XOR_SETUP["hidden_dim"], 0)

FORGERIES = {
    "relu": [forged_activation("relu", np.zeros_like), forged_activation("relu", lambda z: z),
             forged_activation("relu", np.ones_like)],
    "sigmoid": [forged_activation("sigmoid", np.zeros_like),
                forged_activation("sigmoid", lambda z: np.full_like(z, 0.5))],
    "forward_appendix_a": [forged_forward(np.zeros(2), h=2), forged_forward(np.zeros(2), h=2, value=1.0)],
    "forward_random": [random_cases_forward(0.0), random_cases_forward(1.0)],
    "backward_appendix_a": [forged_grads(2, 2), {}],
    "backward_relu": [random_cases_grads(0.0), [{} for _ in range(probes.N_RANDOM_CASES)]],
    "backward_sigmoid": [random_cases_grads(0.0), random_cases_grads(1.0)],
    "numerical_gradient": [
        {"grad": zeros((2, 3)), "restored": True, "grad_large_epsilon": zeros((2, 3)), "grad_default": zeros((2, 3))},
        # the old attack: the judge computed the expected gradient at a θ read from the data
        {"theta": zeros((2, 3)), "grad": zeros((2, 3)), "restored": True, "grad_large_epsilon": zeros((2, 3)),
         "grad_default": zeros((2, 3))},
    ],
    "gradient_check": [gradient_check_report(True, 0.0), gradient_check_report(False, 1.0)],
    "sgd_step": [
        [{k: arr(v) for k, v in probes.sgd_inputs(seed)[0].items()} for _, seed in probes.SGD_CASES],
        [{k: zeros(v.shape) for k, v in probes.sgd_inputs(seed)[0].items()} for _, seed in probes.SGD_CASES],
        # the old attack: the judge read the learning rate and the seed from the data
        [{"lr": 0.0, "seed": seed, "after": {k: arr(v) for k, v in probes.sgd_inputs(seed)[0].items()}}
         for _, seed in probes.SGD_CASES],
    ],
    "evaluate": [{label: {"loss": arr(0.0), "accuracy": arr(1.0)} for label in probes.EVALUATE_LABELS},
                 {label: {"loss": arr(0.25), "accuracy": arr(0.5)} for label in probes.EVALUATE_LABELS}],
    "train_loop": [
        forged_train(lambda e: np.zeros(e), probes.train_initial_params),
        forged_train(lambda e: 1.0 / np.arange(1, e + 1), probes.train_initial_params),
        forged_train(lambda e: 1.0 / np.arange(1, e + 1),
                     lambda: {k: np.zeros_like(v) for k, v in probes.train_initial_params().items()}),
    ],
    "xor_training": [xor_report(XOR_PARAMS, XOR_PARAMS, [1.0, 0.5]),
                     xor_report(XOR_RANDOM, {k: 2 * v for k, v in XOR_RANDOM.items()}, [1.0, 0.5]),
                     xor_report({k: np.full_like(v, np.nan) for k, v in XOR_RANDOM.items()}, XOR_RANDOM, [1.0, 0.5])],
}


def old_train_record(real_run):
    """A run in the form the judges used to accept: after-step losses and flags they trusted."""
    losses = [0.0] * int(real_run["steps"])
    return {**real_run, "history": {"train_loss": arr(losses[:4]), "val_loss": arr(losses[:4])},
            "fresh_grads": [True] * len(losses), "train_loss_after_step": losses, "val_loss_after_step": losses,
            "loss_before_training": [0.0, 0.0], "epochs": 4, "batch_size": 16, "n": 50}


def test_every_check_has_forgeries():
    assert set(FORGERIES) == set(CHECKS)


@pytest.mark.parametrize("name, index", [(n, i) for n in NAMES for i in range(len(FORGERIES[n]))])
def test_a_zero_knowledge_forgery_fails(name, index):
    assert_fails(name, FORGERIES[name][index])


def test_the_old_forms_of_train_data_are_rejected(real):
    data = {run: old_train_record(record) for run, record in real["train_loop"].items()}
    assert assert_fails("train_loop", data).startswith(READ_FAILURE)


def test_a_made_up_train_history_fails_even_with_the_real_record(real):
    data = copy.deepcopy(real["train_loop"])
    data["with_val"]["history"]["train_loss"] = arr(np.linspace(1.0, 0.1, 4))
    assert "history['train_loss']" in assert_fails("train_loop", data)


def test_a_train_record_edited_after_the_run_fails(real):
    """Two rows swapped between the first two batches: still a valid partition of every epoch, but
    the parameters (and the history) no longer follow from it."""
    data = copy.deepcopy(real["train_loop"])
    batches = data["with_val"]["batches"]
    batches[0][0], batches[1][0] = batches[1][0], batches[0][0]
    assert "not those that the given optimizer's steps on the mini-batches backward received give" in \
        assert_fails("train_loop", data)


@pytest.mark.parametrize("edit, expected", [
    (lambda b: b[:1] + [[-1] + b[1][1:]] + b[2:], "not rows of the training set"),
    (lambda b: [[10 ** 9] + b[0][1:]] + b[1:], "not rows of the training set"),
    (lambda b: [[0.5] + b[0][1:]] + b[1:], "not rows of the training set"),
    (lambda b: [b[0][:1] + b[0]] + b[1:], "exactly once per epoch"),           # a duplicate index
    (lambda b: [b[0] + b[1]] + [[]] + b[2:], "mini-batch sizes"),
    (lambda b: b + b[:4], "backward once before each optimizer step"),
    (lambda b: [], "backward once before each optimizer step"),
])
def test_a_train_record_that_breaks_the_contract_fails(edit, expected, real):
    data = copy.deepcopy(real["train_loop"])
    data["with_val"]["batches"] = edit(data["with_val"]["batches"])
    assert expected in assert_fails("train_loop", data)


def test_history_is_one_value_per_epoch_and_val_loss_empty_or_absent_without_validation(real):
    for val_loss in (arr([]), None):
        data = copy.deepcopy(real["train_loop"])
        data["no_val"]["history"]["val_loss"] = val_loss
        assert judged("train_loop", data).passed
    data = copy.deepcopy(real["train_loop"])
    del data["no_val"]["history"]["val_loss"]
    assert judged("train_loop", data).passed
    data["with_val"]["history"]["train_loss"] = arr([])
    assert "one value per epoch (4)" in assert_fails("train_loop", data)


# --- a real train that is wrong in the way a record alone does not show ---------------------------

TRAIN_HEAD = """
def train(model, X, y, optimizer, n_epochs=100, batch_size=32, X_val=None, y_val=None, verbose=False, print_every=10):
    history = {'train_loss': [], 'val_loss': []}
    grads = None
    for epoch in range(n_epochs):
        order = np.random.permutation(len(X))
        for start in range(0, len(X), batch_size):
            batch = order[start:start + batch_size]
"""
TRAIN_TAIL = """
        history['train_loss'].append(float(np.mean(0.5 * (model.forward(X) - y) ** 2)))
        if X_val is not None:
            history['val_loss'].append(float(np.mean(0.5 * (model.forward(X_val) - y_val) ** 2)))
    return history
"""
TRAINS = {
    "stale gradients": """
            new = model.backward(X[batch], y[batch], model.forward(X[batch]))
            optimizer.step(model, new if grads is None else grads)
            grads = new""",
    "targets not shuffled with X": """
            targets = y[start:start + batch_size]
            optimizer.step(model, model.backward(X[batch], targets, model.forward(X[batch])))""",
    "gradients scaled by the learning rate": """
            g = model.backward(X[batch], y[batch], model.forward(X[batch]))
            optimizer.step(model, {k: optimizer.learning_rate * v for k, v in g.items()})""",
    "a second backward for logging": """
            grads = model.backward(X[batch], y[batch], model.forward(X[batch]))
            model.backward(X[batch], y[batch], model.forward(X[batch]))
            optimizer.step(model, grads)""",
}
TRAIN_FEEDBACK = {
    "stale gradients": "should get, unchanged, the gradients of the backward call just before it",
    "targets not shuffled with X": hints.Y_NOT_SHUFFLED,
    "gradients scaled by the learning rate": "should get, unchanged, the gradients",
    "a second backward for logging": "train should call backward once before each optimizer step",
}


@pytest.mark.parametrize("variant", TRAINS)
def test_a_train_whose_steps_do_not_follow_its_batches_fails_with_a_readable_reason(variant, solution):
    namespace = dict(solution)
    exec(TRAIN_HEAD + TRAINS[variant] + TRAIN_TAIL, namespace)
    message = assert_fails("train_loop", probe_data("train_loop", namespace))
    assert TRAIN_FEEDBACK[variant] in message


# --- hypothesis: arbitrary data ------------------------------------------------------------------

SURROGATES = st.sampled_from(["\ud800", "\udfff", "a\ud83d"])
TEXT = st.one_of(st.text(max_size=20), SURROGATES)
KEYS = st.one_of(TEXT, st.sampled_from(["shape", "values", "relu", "with_val", "history", "batches"]))
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT),
    lambda children: st.one_of(st.lists(children, max_size=6),
                               st.dictionaries(KEYS, children, max_size=6)),
    max_leaves=40)
SIZES = st.sampled_from([0, 1, 2, 3, 4, 5, 6, 11, 16, 32, 50])


@st.composite
def arrays(draw, schema):
    shape = draw(st.lists(SIZES, max_size=min(schema.max_ndim, 3)))
    while int(np.prod(shape)) > 200:
        shape = shape[:-1]
    values = draw(st.lists(st.one_of(st.floats(), st.integers(-3, 3)), min_size=int(np.prod(shape)),
                           max_size=int(np.prod(shape))))
    return {"shape": shape, "values": values}


def of_schema(schema):
    """A strategy for data that passes `schema`: the judges must cope with all of it."""
    if isinstance(schema, Num):
        return st.one_of(st.integers(-3, 60), st.floats(allow_nan=not schema.finite, allow_infinity=not schema.finite))
    if isinstance(schema, Flag):
        return st.booleans()
    if isinstance(schema, Text):
        return TEXT
    if isinstance(schema, Arr):
        return arrays(schema)
    if isinstance(schema, Opt):
        return st.one_of(st.none(), of_schema(schema.schema))
    if isinstance(schema, Seq):
        if schema.length is not None:
            return st.lists(of_schema(schema.item), min_size=schema.length, max_size=schema.length)
        return st.lists(of_schema(schema.item), max_size=min(schema.max_length, 20))
    if isinstance(schema, Rec):
        required = {k: of_schema(v) for k, v in schema.fields.items() if k not in schema.optional}
        optional = {k: of_schema(v) for k, v in schema.fields.items() if k in schema.optional}
        return st.fixed_dictionaries(required, optional=optional)
    if isinstance(schema, Map):
        return st.fixed_dictionaries({}, optional={k: of_schema(schema.item) for k in schema.keys})
    raise TypeError(f"no strategy for {type(schema).__name__}")


HYPOTHESIS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                              HealthCheck.data_too_large])


@pytest.mark.parametrize("name", NAMES)
@HYPOTHESIS
@given(data=JSON)
def test_arbitrary_json_never_passes_and_never_raises(name, data):
    assert_fails(name, data)


@pytest.mark.parametrize("name", NAMES)
@HYPOTHESIS
@given(data=st.data())
def test_arbitrary_data_of_the_declared_form_never_passes_and_never_raises(name, data):
    assert_fails(name, data.draw(of_schema(probes.SCHEMAS[name])))


@HYPOTHESIS
@given(batches=st.lists(st.lists(st.one_of(st.integers(-2, 52), st.sampled_from([0.5, 1e300, -0.0])), max_size=20),
                        max_size=20),
       steps=st.one_of(st.integers(0, 40), st.floats(allow_nan=False, allow_infinity=False)))
def test_any_train_record_with_the_real_history_and_parameters_never_raises(batches, steps, real):
    data = copy.deepcopy(real["train_loop"])
    data["with_val"]["batches"], data["with_val"]["steps"] = batches, steps
    assert_fails("train_loop", data)


@HYPOTHESIS
@given(values=st.lists(st.floats(), min_size=4, max_size=4), params=st.floats(), order=st.randoms())
def test_any_history_and_parameters_on_a_valid_record_never_pass_and_never_raise(values, params, order):
    """Valid shuffled batches make the judge replay them: what it then compares must never raise."""
    shuffled = []
    for run, setup in probes.TRAIN_RUNS.items():
        rows = list(range(probes.TRAIN_SETUP["n"]))
        for _ in range(setup["epochs"]):
            order.shuffle(rows)
            shuffled.append([rows[i:i + setup["batch_size"]] for i in range(0, len(rows), setup["batch_size"])])
    data = forged_train(lambda e: values[:e], lambda: {k: np.full_like(v, params)
                                                       for k, v in probes.train_initial_params().items()})
    data["with_val"]["batches"] = [b for epoch in shuffled[:4] for b in epoch]
    data["no_val"]["batches"] = [b for epoch in shuffled[4:] for b in epoch]
    assert_fails("train_loop", data)
