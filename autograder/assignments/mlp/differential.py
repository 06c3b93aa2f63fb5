"""The mlp assignment's differential test battery, for scripts/generate_mutants.py (generated mutants).

What is specific to mlp in telling a mutant of the instructor's solution from the reference in src/:
the solution cells (in notebook order), the reference namespace, the probes (every graded function on
varied inputs, collaborators from src/ so that each function is observed on its own), their families,
the src/ files the battery reads (in the classification's fingerprint), the sampling sizes and the
printed-lines note (train's printing is not graded: a mutant that differs only there is equivalent,
with a note).

Grading-side tooling only: the grader never imports this module, and the sandbox does not see it
(it binds only probes.py and oracles.py of each assignment folder, autograder.assignments.SANDBOX_FILES).
"""
import contextlib
import copy
import io

CELLS = ("activations", "model", "gradient_check", "sgd", "evaluate", "train")
SRC_FILES = ("activations.py", "data.py", "gradient_check.py", "models.py", "optimization.py")
MAX_ALL = 600          # more mutants than this: sample
SAMPLE_TOTAL = 380     # the sample's size (before dropping duplicates)
MUTANT_TIMEOUT = 20.0  # seconds per mutant's differential run
GRADE_WALL_SECONDS = 6.0  # the batch grader's wall limit for the mutants (the solution needs ~1 s)


def reference_namespace():
    """The names the solution cells define, bound to the reference implementations in src/."""
    from src import activations, gradient_check, models, optimization
    return {"ReLU": activations.ReLU, "Sigmoid": activations.Sigmoid, "OneHiddenLayerMLP": models.OneHiddenLayerMLP,
            "relative_error": gradient_check.relative_error, "numerical_gradient": gradient_check.numerical_gradient,
            "check_all_gradients": gradient_check.check_all_gradients, "SGD": optimization.SGD,
            "evaluate": optimization.evaluate, "train": optimization.train}


def probes(ns):
    """[(label, thunk)]: the observable behaviour of every graded function of namespace ns.

    Collaborators are the reference's (src/) so that each function is observed on its own,
    except in the end-to-end probes."""
    import numpy as np
    from src import models as ref_models, optimization as ref_opt
    RefModel, RefSGD = ref_models.OneHiddenLayerMLP, ref_opt.SGD
    probes = []

    def probe(label):
        def register(fn):
            probes.append((label, fn))
            return fn
        return register

    # activations: scalars (also exactly 0, ints, extremes), arrays of several shapes, lists
    scalars = [0.0, -0.0, 0, 3, -3, 1e-300, -1e-300, 2.5, -2.5, 1.0, -1.0, 30.0, -30.0, 700.0, -700.0,
               750.0, -750.0, 1e4, -1e4]
    rng = np.random.default_rng(1)
    arrays = [rng.normal(size=7) * 3, rng.normal(size=(3, 4)) * 5, rng.normal(size=(2, 3, 2)),
              np.array([-2, -1, 0, 1, 2]), np.array([-1e4, -800.0, -1.0, 0.0, 1.0, 800.0, 1e4]), np.zeros((2, 2))]
    for cls in ("ReLU", "Sigmoid"):
        for method in ("forward", "derivative"):
            for z in scalars:
                probe(f"{cls}().{method}({z!r})")(lambda cls=cls, method=method, z=z: np.asarray(getattr(ns[cls](), method)(z)))
            for k, z in enumerate(arrays):
                def call(cls=cls, method=method, z=z):
                    arg = z.copy()
                    out = getattr(ns[cls](), method)(arg)
                    return np.asarray(out), np.array_equal(arg, z)
                probe(f"{cls}().{method}(array #{k} shape {z.shape}) and input unchanged")(call)

    # forward and backward: several (d, h), both activations, single sample, batch of 1, n = d, other n
    def params(d, h, seed, scale=1.0):
        r = np.random.default_rng(seed)
        return {"W1": r.normal(size=(h, d)) * scale, "b1": r.normal(size=h) * 0.5 * scale,
                "W2": r.normal(size=(1, h)) * scale, "b2": r.normal(size=1) * 0.5 * scale}

    appendix = {"W1": np.array([[1.0, -2.0], [0.5, 1.0]]), "b1": np.zeros(2), "W2": np.array([[1.0, -1.0]]),
                "b2": np.zeros(1)}
    configs = [(2, 2, "relu", None), (3, 5, "relu", 11), (4, 4, "sigmoid", 12), (5, 2, "sigmoid", 13),
               (1, 1, "relu", 14), (6, 10, "relu", 15), (3, 3, "sigmoid", 16), (2, 7, "sigmoid", 17)]
    for d, h, act, seed in configs:
        p = appendix if seed is None else params(d, h, seed)
        r = np.random.default_rng(100 + (seed or 0))
        inputs = ([np.array([1.0, -1.0])] if seed is None else []) + [
            r.normal(size=d), r.normal(size=(1, d)), r.normal(size=(d, d)), r.normal(size=(3, d)),
            r.normal(size=(7, d)) * 2]
        for k, x in enumerate(inputs):
            single = x.ndim == 1
            y = float(r.normal()) if single else r.normal(size=len(x))
            if seed is None and single:
                y = 2.0

            def fwd(d=d, h=h, act=act, p=p, x=x):
                m = ns["OneHiddenLayerMLP"](d, h, act)
                m.set_parameters(p)
                arg = x.copy()
                out = m.forward(arg)
                return {"f": out, "f is float": isinstance(out, float), "a1": m.a1_cache, "h1": m.h1_cache,
                        "x unchanged": np.array_equal(arg, x),
                        "params unchanged": all(np.array_equal(v, p[n]) for n, v in m.get_parameters().items())}

            def bwd(d=d, h=h, act=act, p=p, x=x, y=y):
                m = ns["OneHiddenLayerMLP"](d, h, act)
                m.set_parameters(p)
                arg, yarg = x.copy(), copy.copy(y)
                f = m.forward(arg)
                grads = m.backward(arg, yarg, f)
                return {"grads": grads, "x unchanged": np.array_equal(arg, x),
                        "y unchanged": np.array_equal(yarg, y),
                        "params unchanged": all(np.array_equal(v, p[n]) for n, v in m.get_parameters().items())}
            probe(f"forward d={d} h={h} {act} x{x.shape}")(fwd)
            probe(f"backward d={d} h={h} {act} x{x.shape}")(bwd)

        def bwd_int_y(d=d, h=h, act=act, p=p):
            m = ns["OneHiddenLayerMLP"](d, h, act)
            m.set_parameters(p)
            x = np.random.default_rng(7).normal(size=(4, d))
            return m.backward(x, np.array([0, 1, 1, 0]), m.forward(x))
        probe(f"backward d={d} h={h} {act} integer y batch")(bwd_int_y)

    # relative_error
    r = np.random.default_rng(3)
    a, b = r.normal(size=(3, 4)), r.normal(size=(3, 4))
    pairs = [(a, b), (a, a), (a, -a), (np.zeros(3), np.zeros(3)), (a, a + 1e-8), (a * 1e-13, b * 1e-13),
             (np.array([0.0, 1.0]), np.array([0.0, 1.1])), (1.0, 1.0001), (np.array([1e-14, 0.0]), np.array([0.0, 0.0]))]
    for k, (u, v) in enumerate(pairs):
        probe(f"relative_error pair #{k}")(lambda u=u, v=v: (lambda out: (out, isinstance(out, float)))(ns["relative_error"](u, v)))
    probe("relative_error eps=1e-6")(lambda: ns["relative_error"](a * 1e-7, b * 1e-7, 1e-6))
    probe("relative_error eps=1e-6 zeros")(lambda: ns["relative_error"](np.array([1e-7, 0.0]), np.zeros(2), eps=1e-6))

    # numerical_gradient: cubic of a 2-D theta, 1-D, 0-D, non-default epsilon; restored exactly, in place
    cases = [(lambda t: float(np.sum(t ** 3) + np.sum(t[0] * t[-1])), np.random.default_rng(4).normal(size=(2, 3)), {}),
             (lambda t: float(np.sum(t ** 2)), np.array([1.0, 2.0]), {"epsilon": 1e-5}),
             (lambda t: float(np.sin(t).sum() + t.sum() ** 2), np.array([0.3, -1.2, 2.0]), {"epsilon": 1e-3}),
             (lambda t: float(np.exp(t).sum()), np.array([[0.1, 0.2], [-0.5, 1.5]]), {"epsilon": 1e-4}),
             (lambda t: float(t.sum() ** 3), np.array([0.7]), {}),
             (lambda t: float(np.sum(np.abs(t))), np.array([0.0, 1.0, -2.0]), {"epsilon": 0.5})]
    for k, (fun, theta, kw) in enumerate(cases):
        def num(fun=fun, theta=theta, kw=kw):
            arg, calls = theta.copy(), []

            def f(t):
                calls.append((t is arg, np.array(t, dtype=float)))
                return fun(t)
            grad = ns["numerical_gradient"](f, arg, **kw)
            return {"grad": grad, "theta restored": np.array_equal(arg, theta), "theta": arg,
                    "calls": len(calls), "in place": all(c[0] for c in calls),
                    "points": [c[1] for c in calls][:24]}
        probe(f"numerical_gradient case #{k} theta{theta.shape} {kw}")(num)

    # check_all_gradients on reference models: right, zero and large gradients, batches, wrong models
    class WrongW2(RefModel):
        def backward(self, x, y, f):
            g = super().backward(x, y, f)
            g["dL_dW2"] = g["dL_dW2"] * 1.001
            return g

    class WrongB1(RefModel):
        def backward(self, x, y, f):
            g = super().backward(x, y, f)
            g["dL_db1"] = g["dL_db1"] + 1e-4
            return g

    class Transposed(RefModel):
        def backward(self, x, y, f):
            g = super().backward(x, y, f)
            g["dL_dW1"] = g["dL_dW1"][::-1].copy()
            return g

    dead = params(3, 4, 21)
    dead["b1"] = -10.0 * np.ones(4)
    gc_cases = [("relu single", RefModel, 3, 4, "relu", params(3, 4, 20), (3,), 0.7, {}),
                ("sigmoid batch", RefModel, 2, 3, "sigmoid", params(2, 3, 22), (5, 2), None, {}),
                ("relu dead (zero gradients)", RefModel, 3, 4, "relu", dead, (3,), 1.0, {}),
                ("relu large", RefModel, 3, 4, "relu", params(3, 4, 23, scale=30.0), (2, 3), None, {}),
                ("wrong dW2", WrongW2, 3, 4, "sigmoid", params(3, 4, 24), (4, 3), None, {}),
                ("wrong db1", WrongB1, 2, 5, "relu", params(2, 5, 25), (2,), 0.3, {}),
                ("wrong W1 rows", Transposed, 3, 4, "relu", params(3, 4, 26), (3, 3), None, {}),
                ("eps/threshold", RefModel, 3, 4, "sigmoid", params(3, 4, 27), (3,), -0.4,
                 {"epsilon": 1e-4, "threshold": 1e-9}),
                ("threshold 0 on zero gradients (0 < 0 is False)", RefModel, 3, 4, "relu", dead, (3,), 1.0,
                 {"threshold": 0.0}),
                ("loose threshold wrong", WrongW2, 3, 4, "relu", params(3, 4, 28), (2, 3), None,
                 {"epsilon": 1e-6, "threshold": 1e-2})]
    for label, cls, d, h, act, p, xshape, yv, kw in gc_cases:
        def gc(cls=cls, d=d, h=h, act=act, p=p, xshape=xshape, yv=yv, kw=kw):
            m = cls(d, h, act)
            m.set_parameters(p)
            r = np.random.default_rng(30)
            x = r.normal(size=xshape)
            y = yv if yv is not None else r.normal(size=xshape[0])
            xc = x.copy()
            res = ns["check_all_gradients"](m, x, y, **kw)
            return {"results": res, "params restored": all(np.array_equal(v, p[n]) for n, v in m.get_parameters().items()),
                    "x unchanged": np.array_equal(x, xc),
                    "results are dicts": sorted(res) if isinstance(res, dict) else None}
        probe(f"check_all_gradients {label}")(gc)

    # SGD: default and other learning rates, exact
    for lr in (None, 0.05, 1.0, 0.0, 2.5):
        def sgd(lr=lr):
            m = RefModel(3, 4, "relu")
            p = params(3, 4, 40)
            m.set_parameters(p)
            r = np.random.default_rng(41)
            grads = {"dL_d" + n: r.normal(size=v.shape) for n, v in p.items()}
            before = {k: v.copy() for k, v in grads.items()}
            opt = ns["SGD"]() if lr is None else ns["SGD"](lr)
            out = opt.step(m, grads)
            return {"params": m.get_parameters(), "grads unchanged": all(np.array_equal(grads[k], before[k]) for k in grads),
                    "returns": out is None}
        probe(f"SGD(learning_rate={lr}).step")(sgd)

    # evaluate: a stand-in model with outputs exactly at the threshold, several thresholds, real models
    class Fixed:
        def __init__(self, f):
            self.f, self.seen = f, []

        def forward(self, X):
            self.seen.append(np.array(X))
            return self.f.copy()

    f_fixed = np.array([0.5, 0.49999, 0.50001, 0.3, 0.7, 1.2, -0.1, 0.5, 0.3, 0.29999])
    y_fixed = np.array([1, 0, 1, 0, 1, 1, 0, 0, 1, 0])
    X_fixed = np.random.default_rng(50).normal(size=(10, 2))
    for thr in (None, 0.5, 0.3, 0.7, 0.0):
        for yv in (y_fixed, y_fixed.astype(float)):
            def ev(thr=thr, yv=yv):
                m = Fixed(f_fixed)
                X = X_fixed.copy()
                out = ns["evaluate"](m, X, yv.copy()) if thr is None else ns["evaluate"](m, X, yv.copy(), thr)
                return {"out": out, "types": {k: isinstance(v, float) for k, v in out.items()} if isinstance(out, dict) else None,
                        "X unchanged": np.array_equal(X, X_fixed), "forward calls": len(m.seen),
                        "forward got X": all(np.array_equal(s, X_fixed) for s in m.seen)}
            probe(f"evaluate threshold={thr} y {yv.dtype}")(ev)
    for act in ("relu", "sigmoid"):
        def ev_model(act=act):
            m = RefModel(3, 6, act)
            m.set_parameters(params(3, 6, 51))
            r = np.random.default_rng(52)
            X, y = r.normal(size=(9, 3)), (r.random(9) > 0.5).astype(int)
            return ns["evaluate"](m, X, y), ns["evaluate"](m, X, y, threshold=0.1)
        probe(f"evaluate on a model ({act})")(ev_model)

    # train: a recording reference model and optimizer; several n / batch sizes / epochs; same seed
    class Recording(RefModel):
        log = None

        def forward(self, x):
            self.log.append(("forward", np.shape(x), float(np.sum(x))))
            return super().forward(x)

        def backward(self, x, y, f):
            self.log.append(("backward", np.shape(x), float(np.sum(x)), float(np.sum(y))))
            return super().backward(x, y, f)

    class RecordingSGD(RefSGD):
        def step(self, model, grads):
            model.log.append(("step", sorted(grads)))
            return super().step(model, grads)

    train_cases = [(10, 3, 3, True, {}), (8, 8, 2, False, {}), (5, 1, 2, True, {}), (7, 32, 2, True, {}),
                   (6, 4, 1, False, {}), (9, 2, 0, True, {}), (12, 5, 2, True, {"verbose": True, "print_every": 1}),
                   (11, 4, 3, False, {"verbose": True, "print_every": 2}), (40, None, None, True, {})]
    for n, bs, ep, val, kw in train_cases:
        def tr(n=n, bs=bs, ep=ep, val=val, kw=kw):
            r = np.random.default_rng(60 + n)
            X, y = r.normal(size=(n, 3)), (r.random(n) > 0.5).astype(float)
            Xv, yv = r.normal(size=(4, 3)), np.array([0.0, 1.0, 1.0, 0.0])
            m = Recording(3, 5, "sigmoid", seed=61)
            m.log = []
            Xc, yc = X.copy(), y.copy()
            args = {}
            if bs is not None:
                args.update(batch_size=bs, n_epochs=ep)
            if val:
                args.update(X_val=Xv, y_val=yv)
            np.random.seed(62)
            hist = ns["train"](m, X, y, RecordingSGD(0.1), **args, **kw)
            return {"history": hist, "params": m.get_parameters(), "calls": m.log[:400], "n calls": len(m.log),
                    "X, y unchanged": np.array_equal(X, Xc) and np.array_equal(y, yc),
                    "rng after": float(np.random.random())}
        probe(f"train n={n} batch_size={bs} n_epochs={ep} val={val} {kw}")(tr)

    def tr_int_y():
        r = np.random.default_rng(70)
        X, y = r.normal(size=(9, 2)), (r.random(9) > 0.5).astype(int)
        m = RefModel(2, 4, "relu", seed=71)
        np.random.seed(72)
        hist = ns["train"](m, X, y, RefSGD(0.2), n_epochs=2, batch_size=4, X_val=X[:3], y_val=y[:3])
        return {"history": hist, "params": m.get_parameters()}
    probe("train integer labels")(tr_int_y)

    # end to end: the namespace's own model, SGD, train and evaluate on XOR-like data
    for act, hidden, lr, bs in (("relu", 8, 0.05, 4), ("sigmoid", 6, 0.5, 1), ("relu", 16, 0.02, 1)):
        def e2e(act=act, hidden=hidden, lr=lr, bs=bs):
            r = np.random.default_rng(80)
            X = r.uniform(-1, 1, size=(40, 2))
            y = ((X[:, 0] > 0) != (X[:, 1] > 0)).astype(float)
            np.random.seed(81)
            m = ns["OneHiddenLayerMLP"](2, hidden, act)
            hist = ns["train"](m, X[:30], y[:30], ns["SGD"](lr), n_epochs=3, batch_size=bs, X_val=X[30:], y_val=y[30:])
            return {"history": hist, "params": m.get_parameters(), "eval": ns["evaluate"](m, X[30:], y[30:])}
        probe(f"end to end: own model/SGD/train ({act}, hidden {hidden}, lr {lr}, batch {bs})")(e2e)
    return probes



# a probe's family is the first of these its label starts with: a mutant's witnesses are one per family
FAMILIES = ("ReLU", "Sigmoid", "forward", "backward", "relative_error", "numerical_gradient", "check_all_gradients",
            "SGD", "evaluate", "train", "end to end")


def printed_lines(ns):
    """How many lines train prints, per verbose setting (printing is not graded: a note, not a difference).

    Optional in a differential module: scripts/generate_mutants.py uses it when it is defined."""
    import numpy as np
    from src import models, optimization
    out = []
    for verbose, every in ((False, 10), (True, 1), (True, 2), (True, 10)):
        buf = io.StringIO()
        try:
            with contextlib.redirect_stdout(buf):
                m = models.OneHiddenLayerMLP(2, 3, "relu", seed=1)
                X = np.random.default_rng(2).normal(size=(6, 2))
                ns["train"](m, X, X[:, 0] > 0, optimization.SGD(0.1), n_epochs=5, batch_size=4, verbose=verbose,
                            print_every=every)
        except Exception as e:  # noqa: BLE001
            out.append(type(e).__name__)
            continue
        out.append(len(buf.getvalue().splitlines()))
    return out

