"""The multiclass assignment's differential test battery, for scripts/generate_mutants.py (generated mutants).

What is specific to multiclass in telling a mutant of the instructor's solution from the reference in
src/ (multiclass.py, optimizers.py, pytorch_models.py): the auto-graded solution cells in notebook order
(the five experiment cells are hand-graded and never mutated), the reference namespace, the probes and
their families, the src/ files the battery reads (in the classification's fingerprint) and the sampling
sizes. Each probe observes one graded function on varied inputs (extreme logits, several batch shapes,
K = 2..6, integer labels in several forms, several optimiser steps) with its collaborators taken from
src/ (forward and backward run with the reference softmax and cross-entropy, MomentumSGD steps a
reference model, backward gets the reference's caches and probabilities), so each function is observed
on its own; the end-to-end probes then train the namespace's own model and optimiser.

Grading-side tooling only: the grader never imports this module, and the sandbox does not see it
(it binds only probes.py and oracles.py of each assignment folder, autograder.assignments.SANDBOX_FILES).
"""
import contextlib

CELLS = ("softmax", "model", "optimizers", "torch_model")
SRC_FILES = ("activations.py", "data.py", "gradient_check.py", "multiclass.py", "optimizers.py", "pytorch_models.py",
             "training.py")
MAX_ALL = 600          # more mutants than this: sample
SAMPLE_TOTAL = 380     # the sample's size (before dropping duplicates)
MUTANT_TIMEOUT = 30.0  # seconds per mutant's differential run (the reference needs ~1 s)

# a probe's family is the first of these its label starts with: a mutant's witnesses are one per family
FAMILIES = ("softmax", "cross_entropy", "SoftmaxMLP parameters", "SoftmaxMLP.forward", "SoftmaxMLP.backward",
            "MomentumSGD", "step_decay", "inverse_time_decay", "l2_penalty", "l2_gradients", "TorchSoftmaxMLP",
            "end to end")


def prepare():
    """One torch thread: the battery runs in forked children, and a forked OpenMP pool can hang."""
    import torch
    torch.set_num_threads(1)


def reference_namespace():
    """The names the solution cells define, bound to the reference implementations in src/, and the
    release's training loop (given to the students, as the setup cell imports it)."""
    import numpy as np
    import torch
    import training          # release/multiclass/training.py (the script puts the release first on sys.path)
    from src import multiclass, optimizers, pytorch_models

    class TorchTwin(pytorch_models.SoftmaxModuleMLP):
        """The twin as the notebook asks for it: float64, and np.random left as it was."""

        def __init__(self, input_dim, hidden_dim, n_classes, activation='relu'):
            state = np.random.get_state()
            super().__init__(input_dim, hidden_dim, n_classes, activation, dtype=torch.float64)
            np.random.set_state(state)

    return {"softmax": multiclass.softmax, "cross_entropy": multiclass.cross_entropy,
            "SoftmaxMLP": multiclass.SoftmaxMLP, "MomentumSGD": optimizers.MomentumSGD,
            "step_decay": optimizers.step_decay, "inverse_time_decay": optimizers.inverse_time_decay,
            "l2_penalty": optimizers.l2_penalty, "l2_gradients": optimizers.l2_gradients,
            "TorchSoftmaxMLP": TorchTwin, "train": training.train}


@contextlib.contextmanager
def _reference_collaborators(ns):
    """ns's softmax and cross_entropy are the reference's inside the block (the model's methods look
    them up in ns, their globals): forward and backward are then observed on their own."""
    from src import multiclass
    saved = {k: ns.get(k) for k in ("softmax", "cross_entropy")}
    ns["softmax"], ns["cross_entropy"] = multiclass.softmax, multiclass.cross_entropy
    try:
        yield
    finally:
        ns.update(saved)


def _params(d, h, k, seed, scale=1.0):
    import numpy as np
    r = np.random.default_rng(seed)
    return {"W1": r.normal(size=(h, d)) * scale, "b1": r.normal(size=h) * 0.5 * scale,
            "W2": r.normal(size=(k, h)) * scale, "b2": r.normal(size=k) * 0.5 * scale}


def _unchanged(before, after):
    import numpy as np
    if isinstance(before, dict):
        return sorted(before) == sorted(after) and all(np.array_equal(before[k], after[k]) for k in before)
    return bool(np.array_equal(before, after))


def _copied(value):
    import copy
    return copy.deepcopy(value)


def probes(ns):
    """[(label, thunk)]: the observable behaviour of every graded function of namespace ns."""
    found = []

    def probe(label):
        def register(fn):
            found.append((label, fn))
            return fn
        return register

    _softmax_probes(ns, probe)
    _cross_entropy_probes(ns, probe)
    _model_probes(ns, probe)
    _momentum_probes(ns, probe)
    _schedule_probes(ns, probe)
    _l2_probes(ns, probe)
    _twin_probes(ns, probe)
    _end_to_end_probes(ns, probe)
    return found


def _softmax_probes(ns, probe):
    import numpy as np
    r = np.random.default_rng(1)
    inputs = [np.array([1.0, 2.0, 3.0]), np.array([0.0, 0.0]), np.array([3.0, -1.0]), np.array([1.0, 2.0, 3.0, -1.0]),
              r.normal(size=5) * 4, np.array([1e4, 0.0, -1e4]), np.array([-1e4, -1e4, -1e4]),
              np.array([1000.0, 1001.0, 999.0, -1e4]), np.array([-800.0, 0.0]), np.array([710.0, 0.0, -710.0]),
              np.array([2, 0, -1]), [0.5, -0.5, 2.0], np.array([[0.5, -0.5, 2.0]]), r.normal(size=(3, 2)),
              r.normal(size=(5, 4)) * 3, r.normal(size=(7, 5)) * 10, r.normal(size=(2, 3)) + 500.0,
              np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4], [1e4, 1e4, -5.0]]), np.zeros((4, 3)),
              np.array([[1, 2], [3, 3]])]
    for k, z in enumerate(inputs):
        def call(z=z):
            arg = _copied(z)
            out = ns["softmax"](arg)
            return {"probs": np.asarray(out), "input unchanged": _unchanged(np.asarray(z), np.asarray(arg))}
        probe(f"softmax input #{k} shape {np.shape(z)}")(call)


def _cross_entropy_probes(ns, probe):
    import numpy as np
    r = np.random.default_rng(2)

    def probs(n, k, seed):
        z = np.random.default_rng(seed).normal(size=(n, k)) * 2
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    cases = [(np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]), np.array([0, 2])),
             (np.array([0.25, 0.75]), 1), (np.array([0.1, 0.2, 0.3, 0.4]), 3), (np.array([0.5, 0.5]), np.int64(0)),
             (probs(5, 4, 3), r.integers(4, size=5)), (probs(6, 2, 4), r.integers(2, size=6).astype(np.int32)),
             (probs(4, 5, 5), [4, 0, 2, 1]), (probs(3, 3, 6), np.array([2.0, 0.0, 1.0])),
             (probs(1, 3, 7), np.array([1])), (np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), np.array([0, 1])),
             (np.array([[1.0, 0.0, 0.0], [0.2, 0.3, 0.5]]), np.array([1, 2])), (np.array([[0.0, 1.0]]), np.array([0])),
             (np.array([[1e-300, 1.0 - 1e-300], [0.5, 0.5]]), np.array([0, 0])),
             (np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]), np.array([0, 1, 1]))]
    for k, (p, y) in enumerate(cases):
        def call(p=p, y=y):
            parg, yarg = _copied(p), _copied(y)
            out = ns["cross_entropy"](parg, yarg)
            return {"loss": out, "is float": isinstance(out, float), "probs unchanged": _unchanged(p, parg),
                    "y unchanged": _unchanged(np.asarray(y), np.asarray(yarg))}
        probe(f"cross_entropy case #{k} probs{np.shape(p)}")(call)


# (d, h, K, activation, seed, scale, batch sizes: "x" a single sample (d,), n a batch (n, d))
MODEL_CONFIGS = ((2, 2, 3, "relu", None, 1.0, ("x", 1, 4)), (2, 5, 3, "relu", 11, 1.0, ("x", 4)),
                 (4, 3, 2, "sigmoid", 12, 1.0, (6, "x")), (3, 6, 5, "relu", 13, 3.0, (1, 7)),
                 (3, 4, 4, "sigmoid", 14, 1.0, ("x", 3, 9)), (1, 1, 2, "relu", 15, 1.0, ("x", 2)),
                 (5, 8, 3, "sigmoid", 16, 10.0, (5,)), (2, 7, 5, "relu", 17, 0.3, (8, "x")))
APPENDIX = {"W1": [[1.0, -2.0], [0.5, 1.0]], "b1": [0.0, 0.0], "W2": [[1.0, -1.0], [0.0, 1.0], [-1.0, 0.0]],
            "b2": [0.0, 0.0, 0.0]}


def _model_cases():
    """[(d, h, K, activation, scale, params, [(X, y), ...])] for the forward and backward probes."""
    import numpy as np
    out = []
    for d, h, k, act, seed, scale, sizes in MODEL_CONFIGS:
        p = {n: np.array(v) for n, v in APPENDIX.items()} if seed is None else _params(d, h, k, seed, scale)
        r = np.random.default_rng(100 + (seed or 0))
        cases = [(np.array([1.0, -1.0]), 1)] if seed is None else []
        cases += [(r.normal(size=d), int(r.integers(k))) if n == "x" else (r.normal(size=(n, d)), r.integers(k, size=n))
                  for n in sizes]
        out.append((d, h, k, act, scale, p, cases))
    return out


def _labels_forms(y):
    """y as given, and in the other forms a caller may use: a list, int32, integral floats."""
    import numpy as np
    if np.ndim(y) == 0:
        return [("int", y), ("numpy int", np.int64(y))]
    return [("int64", y), ("list", [int(v) for v in y]), ("int32", y.astype(np.int32)),
            ("float labels", y.astype(float))]


def _model_probes(ns, probe):
    import numpy as np
    from src import multiclass as ref

    def model(d, h, k, act, p):
        m = ns["SoftmaxMLP"](d, h, k, act)
        m.set_parameters(p)
        return m

    for d, h, k, act, seed in ((2, 3, 3, "relu", 0), (4, 5, 2, "sigmoid", 1), (3, 2, 5, "relu", 7)):
        def params_probe(d=d, h=h, k=k, act=act, seed=seed):
            m = ns["SoftmaxMLP"](d, h, k, act, seed=seed)
            first = m.get_parameters()
            first["W1"] += 1.0                      # a copy: the model must not change
            p = _params(d, h, k, seed + 50)
            m.set_parameters(p)
            p["b2"] += 1.0
            np.random.seed(seed)
            drawn = ns["SoftmaxMLP"](d, h, k, act).get_parameters()
            return {"seeded": ns["SoftmaxMLP"](d, h, k, act, seed=seed).get_parameters(), "global": drawn,
                    "after set": m.get_parameters(), "copies": first["W1"] - 1.0}
        probe(f"SoftmaxMLP parameters d={d} h={h} K={k} {act}")(params_probe)

    for d, h, k, act, scale, p, cases in _model_cases():
        for j, (X, y) in enumerate(cases):
            def fwd(d=d, h=h, k=k, act=act, scale=scale, p=p, X=X, y=y):
                with _reference_collaborators(ns):
                    m = model(d, h, k, act, p)
                    arg = X.copy()
                    out = m.forward(arg)
                    record = {"probs": out, "a1": m.a1_cache, "h1": m.h1_cache, "X unchanged": _unchanged(X, arg),
                              "params unchanged": _unchanged(p, m.get_parameters()), "predict": m.predict(X)}
                    if np.ndim(y) and scale <= 1:       # (confident logits: log(softmax) is not exact)
                        record["loss"] = m.loss(X, y)
                    return record
            probe(f"SoftmaxMLP.forward d={d} h={h} K={k} {act} X{X.shape} #{j}")(fwd)

        def bwd(d=d, h=h, k=k, act=act, p=p, cases=cases):
            """One model, several rounds (a stale cache shows); the reference's caches and probabilities."""
            rounds = []
            with _reference_collaborators(ns):
                m = model(d, h, k, act, p)
                for X, y in cases:
                    for form, labels in _labels_forms(y):
                        r = ref.SoftmaxMLP(d, h, k, act)
                        r.set_parameters(p)
                        probs = r.forward(X)
                        try:
                            m.forward(X.copy())
                        except Exception:  # noqa: BLE001 - forward has its own probes
                            pass
                        m.a1_cache, m.h1_cache = r.a1_cache.copy(), r.h1_cache.copy()
                        xarg, yarg, parg = X.copy(), _copied(labels), probs.copy()
                        grads = m.backward(xarg, yarg, parg)
                        rounds.append({"form": form, "grads": grads, "X unchanged": _unchanged(X, xarg),
                                       "y unchanged": _unchanged(np.asarray(labels), np.asarray(yarg)),
                                       "probs unchanged": _unchanged(probs, parg),
                                       "params unchanged": _unchanged(p, m.get_parameters())})
            return rounds
        probe(f"SoftmaxMLP.backward d={d} h={h} K={k} {act} {[np.shape(X) for X, _ in cases]}")(bwd)

        def own_caches(d=d, h=h, k=k, act=act, p=p, cases=cases):
            """backward after the model's own forward (the usual call order)."""
            with _reference_collaborators(ns):
                m = model(d, h, k, act, p)
                return [m.backward(X, y, m.forward(X)) for X, y in cases]
        probe(f"SoftmaxMLP.backward after its own forward d={d} h={h} K={k} {act}")(own_caches)


class _Box:
    """A stand-in model for MomentumSGD: a dict of parameters, copies in and out."""

    def __init__(self, params):
        import numpy as np
        self.params = {k: np.array(v, dtype=float) for k, v in params.items()}
        self.sets = 0

    def get_parameters(self):
        return {k: v.copy() for k, v in self.params.items()}

    def set_parameters(self, params):
        import numpy as np
        self.sets += 1
        self.params = {k: np.array(v, dtype=float) for k, v in params.items()}


def _momentum_probes(ns, probe):
    import numpy as np
    from src import multiclass as ref

    def grads_of(p, seed, step, integer=False):
        r = np.random.default_rng(1000 * seed + step)
        g = {"dL_d" + n: r.normal(size=np.shape(v)) for n, v in p.items()}
        return {k: np.round(v * 3).astype(int) for k, v in g.items()} if integer else g

    # (label, lr, momentum (None: the defaults), steps, seed, options)
    cases = [("defaults", None, None, 4, 1, {}), ("lr 0.05 momentum 0", 0.05, 0.0, 3, 2, {}),
             ("lr 0.1 momentum 0.5", 0.1, 0.5, 6, 3, {}), ("lr 1.0 momentum 0.99", 1.0, 0.99, 5, 4, {}),
             ("lr 0.3 momentum 0.9 reversed grads", 0.3, 0.9, 4, 5, {"reverse": True}),
             ("lr 0.2 momentum 0.8 integer grads", 0.2, 0.8, 3, 6, {"integer": True}),
             ("lr 0.1 momentum 0.9 learning rate changed between steps", 0.1, 0.9, 6, 7, {"schedule": True}),
             ("lr 0 momentum 0.9", 0.0, 0.9, 3, 8, {})]
    for label, lr, mu, steps, seed, opt in cases:
        def run(lr=lr, mu=mu, steps=steps, seed=seed, opt=opt):
            p = _params(3, 4, 3, seed)
            box = _Box(p)
            sgd = ns["MomentumSGD"]() if lr is None else ns["MomentumSGD"](learning_rate=lr, momentum=mu)
            record = []
            for t in range(steps):
                if opt.get("schedule") and t == 3:
                    sgd.learning_rate = 0.02
                g = grads_of(p, seed, t, opt.get("integer", False))
                if opt.get("reverse"):
                    g = dict(reversed(list(g.items())))
                given = _copied(g)
                out = sgd.step(box, given)
                record.append({"params": box.get_parameters(), "grads unchanged": _unchanged(g, given),
                               "returns None": out is None})
            return {"steps": record, "set_parameters calls": box.sets}
        probe(f"MomentumSGD {label}")(run)

    def two_optimisers():
        a, b = _Box(_params(2, 3, 2, 20)), _Box(_params(2, 3, 2, 21))
        oa, ob = ns["MomentumSGD"](0.1, 0.9), ns["MomentumSGD"](0.1, 0.9)
        out = []
        for t in range(4):
            for box, sgd, s in ((a, oa, 20), (b, ob, 21)):
                sgd.step(box, grads_of(box.params, s, t))
                out.append(box.get_parameters())
        return out
    probe("MomentumSGD two optimisers interleaved")(two_optimisers)

    def on_a_model():
        m = ref.SoftmaxMLP(2, 4, 3, "relu", seed=3)
        sgd = ns["MomentumSGD"](0.2, 0.7)
        X, y = np.random.default_rng(4).normal(size=(6, 2)), np.array([0, 1, 2, 2, 1, 0])
        for _ in range(5):
            sgd.step(m, m.backward(X, y, m.forward(X)))
        return m.get_parameters()
    probe("MomentumSGD on a SoftmaxMLP (reference)")(on_a_model)


def _schedule_probes(ns, probe):
    cases = [("step_decay", (1.0,), {"drop": 0.5, "every": 2}, range(7)), ("step_decay", (0.5,), {"drop": 0.5, "every": 3}, range(10)),
             ("step_decay", (0.3,), {"drop": 0.1, "every": 1}, range(5)), ("step_decay", (0.1,), {}, (0, 1, 9, 10, 11, 19, 20, 25, 31)),
             ("step_decay", (2,), {"drop": 0.75, "every": 4}, range(13)), ("step_decay", (0.2, 0.9, 5), {}, (0, 4, 5, 6, 14, 15)),
             ("inverse_time_decay", (1.0,), {"decay": 1.0}, (0, 1, 2, 3, 7)), ("inverse_time_decay", (1.0,), {"decay": 0.5}, range(8)),
             ("inverse_time_decay", (0.2,), {}, (0, 1, 10, 50, 100, 250)), ("inverse_time_decay", (3,), {"decay": 0.0}, (0, 1, 5)),
             ("inverse_time_decay", (0.5, 2.0), {}, (0, 1, 2, 10))]
    for k, (name, args, kwargs, epochs) in enumerate(cases):
        def run(name=name, args=args, kwargs=kwargs, epochs=epochs):
            schedule = ns[name](*args, **kwargs)
            return [schedule(t) for t in epochs]
        probe(f"{name} case #{k} {args} {kwargs}")(run)


def _l2_probes(ns, probe):
    import numpy as np
    sets = [_params(3, 4, 5, 71), _params(2, 3, 2, 72, scale=4.0),
            {"W1": np.array([[1.0, 2.0]]), "b1": np.array([3.0])},
            {"W1": np.array([[1.0, -2.0], [0.5, 0.0]]), "b1": np.array([0.5, -1.0]), "W2": np.array([[3.0, 1.0]]),
             "b2": np.array([2.0]), "W3": np.array([[-1.0]]), "b3": np.array([10.0])},
            {"b1": np.array([1.0, 2.0])}, {"W1": np.arange(6).reshape(2, 3), "b1": np.arange(2)}]
    for k, p in enumerate(sets):
        for lam in (0.0, 0.01, 0.1, 0.5, 2.0):
            def penalty(p=p, lam=lam):
                arg = _copied(p)
                out = ns["l2_penalty"](arg, lam)
                return {"penalty": out, "is float": isinstance(out, float), "params unchanged": _unchanged(p, arg)}
            probe(f"l2_penalty set #{k} lam={lam}")(penalty)

            def gradients(p=p, lam=lam, k=k):
                g = {"dL_d" + n: np.random.default_rng(80 + k).normal(size=np.shape(v)) for n, v in p.items()}
                parg, garg = _copied(p), _copied(g)
                out = ns["l2_gradients"](parg, garg, lam)
                return {"grads": out, "a new dict": out is not garg, "params unchanged": _unchanged(p, parg),
                        "grads unchanged": _unchanged(g, garg)}
            probe(f"l2_gradients set #{k} lam={lam}")(gradients)


def _twin_probes(ns, probe):
    import numpy as np
    import torch
    import torch.nn.functional as F

    cases = ((2, 5, 3, 8, 81), (4, 3, 6, 5, 82), (3, 7, 2, 1, 83), (2, 2, 4, 3, 84), (5, 4, 5, 6, 85))
    for d, h, k, n, seed in cases:
        for act in ("relu", "sigmoid", None):
            def run(d=d, h=h, k=k, n=n, seed=seed, act=act):
                r = np.random.default_rng(seed)
                p, X, y = _params(d, h, k, seed, scale=2.0), r.normal(size=(n, d)), r.integers(k, size=n)
                module = ns["TorchSoftmaxMLP"](d, h, k) if act is None else ns["TorchSoftmaxMLP"](d, h, k, activation=act)
                given = _copied(p)
                module.load_numpy_parameters(given)
                given["W1"] += 1.0                  # the module holds copies, not the caller's arrays
                tensors = [module.fc1.weight, module.fc1.bias, module.fc2.weight, module.fc2.bias]
                logits = module(torch.tensor(X, dtype=torch.float64))
                loss = F.cross_entropy(logits, torch.tensor(y, dtype=torch.int64))
                grads = torch.autograd.grad(loss, tensors)
                single = module(torch.tensor(X[0], dtype=torch.float64))
                return {"logits": logits.detach().numpy(), "single": single.detach().numpy(),
                        "grads": [g.numpy() for g in grads],
                        "dtypes": [str(t.dtype) for t in (logits, *tensors)],
                        "layers": [type(module.fc1).__name__, type(module.fc2).__name__],
                        "a module": isinstance(module, torch.nn.Module),
                        "trainable": [t.requires_grad for t in tensors]}
            probe(f"TorchSoftmaxMLP d={d} h={h} K={k} n={n} activation={act}")(run)


def _end_to_end_probes(ns, probe):
    """The namespace's own model, softmax, cross-entropy, MomentumSGD, schedules and L2, trained by the
    given loop (the setup cell's `train`) on small spirals."""
    from data import generate_spiral_data        # release/multiclass/data.py

    recipes = [("relu", 8, 3, 0.1, 0.9, 16, None, 0.0), ("sigmoid", 6, 4, 0.5, 0.5, 8, "step", 0.0),
               ("relu", 12, 2, 0.05, 0.9, 60, "inverse", 1e-3), ("relu", 16, 5, 0.2, 0.0, 32, None, 0.01)]
    for act, hidden, k, lr, mu, bs, schedule, lam in recipes:
        def run(act=act, hidden=hidden, k=k, lr=lr, mu=mu, bs=bs, schedule=schedule, lam=lam):
            X, y = generate_spiral_data(60, k, seed=5)
            Xv, yv = generate_spiral_data(30, k, seed=6)
            m = ns["SoftmaxMLP"](2, hidden, k, act, seed=7)
            sched = {"step": lambda: ns["step_decay"](lr, drop=0.5, every=2),
                     "inverse": lambda: ns["inverse_time_decay"](lr, decay=0.5)}.get(schedule, lambda: None)()
            transform = (lambda params, grads: ns["l2_gradients"](params, grads, lam)) if lam else None
            hist = ns["train"](m, X, y, ns["MomentumSGD"](lr, mu), n_epochs=4, batch_size=bs, seed=8,
                               schedule=sched, grad_transform=transform, X_val=Xv, y_val=yv, record_grad_norms=True)
            return {"history": hist, "params": m.get_parameters(), "predict": m.predict(Xv),
                    "penalty": ns["l2_penalty"](m.get_parameters(), 0.1)}
        probe(f"end to end: own model/MomentumSGD/train ({act}, hidden {hidden}, K={k}, lr {lr}, momentum {mu}, "
              f"batch {bs}, schedule {schedule}, l2 {lam})")(run)
