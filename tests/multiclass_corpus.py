"""The grading-quality corpus of the second assignment, `multiclass`.

MUTANTS: wrong implementations, each named after the misconception it encodes, written as a student
would write it: exact text edits on the instructor's solution cells (as examples/catalogue.py and
tests/corpus/mutants.py do for mlp). `fails` is the exact set of checks the mutant must fail; a check
outside the mutant's part other than mc_spiral_training (which trains the student's own model and
MomentumSGD, end to end) would be a grader bug. ALTERNATIVES: correct implementations in styles
unlike the instructor's (loops, einsum, other stable-softmax tricks, torch-style momentum, ...): each
must earn exactly full marks. HINTS: the misconception hint a mutant's feedback must contain.

Notebooks are built on the fly (`build`), from the release and the instructor's solution, with the
experiment cells left as released (the automatic checks never read them).
"""
import copy
import os

import nbformat

from examples.catalogue import Example, apply_edits, solution_code

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, "source", "multiclass", "multiclass.ipynb")
RELEASE = os.path.join(ROOT, "release", "multiclass", "multiclass.ipynb")
SPIRAL = "mc_spiral_training"
PARTS = {}    # mutant -> the parts (checks.Check.part) it breaks


def _grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def build(example):
    """The example's notebook as text: the release with the instructor's (edited) solution cells."""
    release = nbformat.read(RELEASE, as_version=4)
    if example.kind == "blank":
        return nbformat.writes(release)
    solutions = {_grade_id(c): solution_code(c.source) for c in nbformat.read(SOURCE, as_version=4).cells
                 if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"
                 and not _grade_id(c).startswith("experiment_")}
    unknown = set(example.edits) - set(solutions)
    if unknown:
        raise ValueError(f"{example.name}: no solution cell {sorted(unknown)}")
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        gid = _grade_id(cell)
        if gid in solutions:
            cell.source = apply_edits(solutions[gid], example.edits.get(gid, []), f"{example.name}/{gid}")
    return nbformat.writes(nb)


def mutant(name, parts, description, edits, fails):
    PARTS[name] = frozenset(parts.split("+"))
    return Example(name, "mutant", description, edits, frozenset(fails))


def alternative(name, description, edits):
    return Example(name, "alternative", description, edits, frozenset())


# --- the instructor's solution lines the edits replace ------------------------------------------
SOFTMAX_BODY = """    z = np.asarray(logits, dtype=float)
    shifted = z - z.max(axis=-1, keepdims=True)      # every exponent <= 0: exp never overflows
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)"""
CE_BODY = """    p = np.atleast_2d(np.asarray(probs, dtype=float))
    labels = np.atleast_1d(np.asarray(y)).astype(int)
    picked = p[np.arange(len(p)), labels]              # the probability of each sample's true class
    return float(-np.mean(np.log(np.maximum(picked, np.finfo(float).tiny))))"""
FORWARD_BODY = """        X = np.asarray(X, dtype=float)
        self.a1_cache = X @ self.W1.T + self.b1
        self.h1_cache = self.activation.forward(self.a1_cache)
        return softmax(self.h1_cache @ self.W2.T + self.b2)"""
BACKWARD_BODY = """        Xb = np.asarray(X, dtype=float).reshape(-1, self.input_dim)           # (n, d)
        n = Xb.shape[0]
        dz = np.array(probs, dtype=float).reshape(n, self.n_classes)          # a copy of p, (n, K)
        dz[np.arange(n), np.reshape(y, n).astype(int)] -= 1.0                # p - onehot(y)
        dz /= n                                                               # of the MEAN loss
        A1 = np.reshape(self.a1_cache, (n, self.hidden_dim))
        H1 = np.reshape(self.h1_cache, (n, self.hidden_dim))
        da1 = (dz @ self.W2) * self.activation.derivative(A1)                 # dL/da1, (n, h)
        return {'dL_dW1': da1.T @ Xb, 'dL_db1': da1.sum(axis=0),
                'dL_dW2': dz.T @ H1, 'dL_db2': dz.sum(axis=0)}"""
ONEHOT = "        dz[np.arange(n), np.reshape(y, n).astype(int)] -= 1.0                # p - onehot(y)\n"
MEAN = "dz /= n                                                               # of the MEAN loss"
DA1 = "da1 = (dz @ self.W2) * self.activation.derivative(A1)"
STEP_BODY = """        params = model.get_parameters()
        updated = {}
        for name, p in params.items():
            g = np.asarray(grads['dL_d' + name], dtype=float)
            v = self.momentum * self.velocities.get(name, np.zeros_like(p)) - self.learning_rate * g
            self.velocities[name] = v
            updated[name] = p + v
        model.set_parameters(updated)"""
V_LINE = "v = self.momentum * self.velocities.get(name, np.zeros_like(p)) - self.learning_rate * g"
STEP_DECAY_BODY = """    def schedule(t):
        return initial * drop ** (t // every)
    return schedule"""
INVERSE_BODY = """    def schedule(t):
        return initial / (1.0 + decay * t)
    return schedule"""
PENALTY_LINE = "    return float(lam / 2 * sum(np.sum(np.square(p)) for name, p in params.items() if name.startswith('W')))"
L2_GRADIENTS_BODY = """    regularised = {}
    for key, g in grads.items():
        name = key[len('dL_d'):]
        regularised[key] = g + lam * params[name] if name.startswith('W') else np.array(g, dtype=float)
    return regularised"""
TWIN_INIT = """        self.fc1 = nn.Linear(input_dim, hidden_dim, dtype=torch.float64)
        self.fc2 = nn.Linear(hidden_dim, n_classes, dtype=torch.float64)
        self.activation = nn.ReLU() if activation == 'relu' else nn.Sigmoid()"""
TWIN_FORWARD = "        return self.fc2(self.activation(self.fc1(x)))"
TWIN_LOAD = """        with torch.no_grad():
            for layer, weight, bias in ((self.fc1, 'W1', 'b1'), (self.fc2, 'W2', 'b2')):
                layer.weight.copy_(torch.as_tensor(np.asarray(params[weight], dtype=float)))
                layer.bias.copy_(torch.as_tensor(np.asarray(params[bias], dtype=float)))"""

MUTANTS = [
    # --- softmax and cross-entropy -------------------------------------------------------------
    mutant("softmax_without_max_subtraction", "softmax", "the textbook exp(z) / sum exp(z): exp(1e4) overflows",
           {"softmax": [(SOFTMAX_BODY, """    z = np.asarray(logits, dtype=float)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)""")]},
           {"mc_softmax"}),
    mutant("softmax_global_max", "softmax", "subtracts the maximum of the whole batch, not of each row: a row far "
           "below another underflows to 0/0", {"softmax": [("z.max(axis=-1, keepdims=True)", "z.max()")]},
           {"mc_softmax"}),
    mutant("softmax_over_columns", "softmax", "normalises along axis 0 (each column sums to 1)",
           {"softmax": [("return e / e.sum(axis=-1, keepdims=True)", "return e / e.sum(axis=0, keepdims=True)")]},
           {"mc_softmax", SPIRAL}),
    mutant("softmax_over_whole_batch", "softmax", "divides by the sum of the whole batch",
           {"softmax": [("return e / e.sum(axis=-1, keepdims=True)", "return e / e.sum()")]},
           {"mc_softmax", SPIRAL}),
    mutant("softmax_in_place", "softmax", "subtracts the maximum in place, changing the caller's logits",
           {"softmax": [("""    shifted = z - z.max(axis=-1, keepdims=True)      # every exponent <= 0: exp never overflows
    e = np.exp(shifted)""", """    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)""")]},
           {"mc_softmax"}),
    mutant("cross_entropy_summed", "softmax", "the batch loss is the sum of −log p[i, y_i], not the mean",
           {"softmax": [("return float(-np.mean(np.log(", "return float(-np.sum(np.log(")]},
           {"mc_cross_entropy"}),
    mutant("cross_entropy_on_logits", "softmax", "applies softmax to the probabilities again (treats them as logits)",
           {"softmax": [("p = np.atleast_2d(np.asarray(probs, dtype=float))",
                         "p = np.atleast_2d(softmax(np.asarray(probs, dtype=float)))")]},
           {"mc_cross_entropy"}),
    mutant("cross_entropy_all_classes", "softmax", "averages −log p over every class of every sample",
           {"softmax": [("return float(-np.mean(np.log(np.maximum(picked, np.finfo(float).tiny))))",
                         "return float(-np.mean(np.log(p)))")]},
           {"mc_cross_entropy"}),
    # --- the model ------------------------------------------------------------------------------
    mutant("forward_returns_logits", "model", "forward returns the logits instead of the probabilities",
           {"model": [("return softmax(self.h1_cache @ self.W2.T + self.b2)", "return self.h1_cache @ self.W2.T + self.b2")]},
           # the spiral too: backward receives forward's output, so training steps along logits − onehot(y); that
           # still learns the spiral, but its first epoch is not the reference's replay (judges.replay_first_epoch)
           {"mc_forward", SPIRAL}),
    mutant("forward_without_b1", "model", "the hidden bias b1 is forgotten in forward",
           {"model": [("self.a1_cache = X @ self.W1.T + self.b1", "self.a1_cache = X @ self.W1.T")]},
           {"mc_forward", SPIRAL}),
    mutant("backward_summed_not_mean", "model", "dL/dz = p − onehot(y) without the 1/n of the mean",
           {"model": [(MEAN, "pass")]},
           {"mc_backward", SPIRAL}),
    mutant("backward_without_activation_derivative", "model", "dL/da1 misses the factor φ'(a1)",
           {"model": [(DA1, "da1 = dz @ self.W2")]},
           {"mc_backward", SPIRAL}),
    mutant("backward_wrong_sign", "model", "dL/dz = onehot(y) − p: every gradient has the wrong sign",
           {"model": [(MEAN, "dz /= -n")]},
           {"mc_backward", SPIRAL}),
    mutant("backward_without_onehot", "model", "dL/dz = p / n: the one-hot of the labels is forgotten",
           {"model": [(ONEHOT, "")]},
           {"mc_backward", SPIRAL}),
    mutant("backward_derivative_at_h1", "model", "φ' evaluated at h1 = φ(a1) (wrong for sigmoid only)",
           {"model": [("self.activation.derivative(A1)", "self.activation.derivative(H1)")]},
           {"mc_backward"}),
    mutant("backward_bias_averaged_twice", "model", "the bias gradients are averaged again over the batch",
           {"model": [("'dL_db1': da1.sum(axis=0)", "'dL_db1': da1.mean(axis=0)"),
                      ("'dL_db2': dz.sum(axis=0)", "'dL_db2': dz.mean(axis=0)")]},
           {"mc_backward", SPIRAL}),
    mutant("backward_dW2_transposed", "model", "dL/dW2 = H1ᵀ dz, of shape (h, K) instead of (K, h)",
           {"model": [("'dL_dW2': dz.T @ H1", "'dL_dW2': H1.T @ dz")]},
           {"mc_backward", SPIRAL}),
    # --- optimisers -------------------------------------------------------------------------------
    mutant("momentum_velocity_reset", "optimizers", "the velocity starts from 0 at every step (plain SGD)",
           {"optimizers": [(V_LINE, "v = self.momentum * np.zeros_like(p) - self.learning_rate * g")]},
           {"mc_momentum", SPIRAL}),
    mutant("momentum_ascent", "optimizers", "v ← μ v + η g: the velocity climbs the loss",
           {"optimizers": [(V_LINE, "v = self.momentum * self.velocities.get(name, np.zeros_like(p)) + self.learning_rate * g")]},
           {"mc_momentum", SPIRAL}),
    mutant("momentum_dampened", "optimizers", "v ← μ v − (1 − μ) η g (an exponential average of the gradients)",
           {"optimizers": [(V_LINE, "v = self.momentum * self.velocities.get(name, np.zeros_like(p)) - "
                                    "(1 - self.momentum) * self.learning_rate * g")]},
           {"mc_momentum", SPIRAL}),
    mutant("momentum_stale_velocity", "optimizers", "p moves by the previous velocity, then v is updated",
           {"optimizers": [("""            v = self.momentum * self.velocities.get(name, np.zeros_like(p)) - self.learning_rate * g
            self.velocities[name] = v
            updated[name] = p + v""", """            v = self.velocities.get(name, np.zeros_like(p))
            self.velocities[name] = self.momentum * v - self.learning_rate * g
            updated[name] = p + v""")]},
           # the spiral too: it still learns, but its first epoch is one step behind the reference's replay
           {"mc_momentum", SPIRAL}),
    mutant("momentum_shared_velocities", "optimizers", "the velocities dict is a class attribute, shared by every "
           "MomentumSGD", {"optimizers": [("""    def __init__(self, learning_rate=0.1, momentum=0.9):
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.velocities = {}       # parameter name -> its velocity, kept across steps""",
                                           """    velocities = {}

    def __init__(self, learning_rate=0.1, momentum=0.9):
        self.learning_rate = learning_rate
        self.momentum = momentum""")]},
           # the spiral too: the run of the second seed starts from the first run's velocities (not the replay's)
           {"mc_momentum", SPIRAL}),
    mutant("momentum_scales_grads_in_place", "optimizers", "multiplies the caller's gradient arrays by η in place",
           {"optimizers": [(V_LINE, "g *= self.learning_rate\n"
                                    "            v = self.momentum * self.velocities.get(name, np.zeros_like(p)) - g")]},
           {"mc_momentum"}),
    mutant("step_decay_one_epoch_ahead", "optimizers", "⌊(t + 1) / every⌋: the first drop comes one epoch early",
           {"optimizers": [("return initial * drop ** (t // every)", "return initial * drop ** ((t + 1) // every)")]},
           {"mc_schedule"}),
    mutant("step_decay_every_epoch", "optimizers", "drops every epoch, ignoring `every`",
           {"optimizers": [("return initial * drop ** (t // every)", "return initial * drop ** t")]},
           {"mc_schedule"}),
    mutant("inverse_decay_linear", "optimizers", "η_0 (1 − decay · t) instead of η_0 / (1 + decay · t)",
           {"optimizers": [("return initial / (1.0 + decay * t)", "return initial * (1.0 - decay * t)")]},
           {"mc_schedule"}),
    mutant("inverse_decay_from_epoch_one", "optimizers", "counts epochs from 1: η_0 / (1 + decay (t + 1))",
           {"optimizers": [("return initial / (1.0 + decay * t)", "return initial / (1.0 + decay * (t + 1))")]},
           {"mc_schedule"}),
    mutant("l2_penalty_on_biases", "optimizers", "the penalty sums the squares of the biases too",
           {"optimizers": [(PENALTY_LINE, "    return float(lam / 2 * sum(np.sum(np.square(p)) for name, p in params.items()))")]},
           {"mc_l2"}),
    mutant("l2_gradients_on_biases", "optimizers", "λ b is added to the bias gradients too",
           {"optimizers": [("regularised[key] = g + lam * params[name] if name.startswith('W') else np.array(g, dtype=float)",
                            "regularised[key] = g + lam * params[name]")]},
           {"mc_l2"}),
    mutant("l2_penalty_without_half", "optimizers", "the penalty is λ Σ‖W‖² (its gradient would be 2λW)",
           {"optimizers": [("return float(lam / 2 * sum(", "return float(lam * sum(")]},
           {"mc_l2"}),
    mutant("l2_gradients_in_place", "optimizers", "adds λW to the caller's gradient arrays in place",
           {"optimizers": [("        regularised[key] = g + lam * params[name] if name.startswith('W') else np.array(g, dtype=float)",
                            "        if name.startswith('W'):\n            g += lam * params[name]\n        regularised[key] = g")]},
           {"mc_l2"}),
    # --- the PyTorch twin -----------------------------------------------------------------------------
    mutant("twin_float32", "pytorch", "nn.Linear's default float32: agrees with NumPy only to ~1e-7",
           {"torch_model": [("nn.Linear(input_dim, hidden_dim, dtype=torch.float64)", "nn.Linear(input_dim, hidden_dim)"),
                            ("nn.Linear(hidden_dim, n_classes, dtype=torch.float64)", "nn.Linear(hidden_dim, n_classes)")]},
           {"mc_torch_twin"}),
    mutant("twin_returns_probabilities", "pytorch", "forward returns softmax(logits), which F.cross_entropy softmaxes again",
           {"torch_model": [(TWIN_FORWARD, "        return torch.softmax(self.fc2(self.activation(self.fc1(x))), dim=-1)")]},
           {"mc_torch_twin"}),
    mutant("twin_always_relu", "pytorch", "the activation argument is ignored (always ReLU)",
           {"torch_model": [("nn.ReLU() if activation == 'relu' else nn.Sigmoid()", "nn.ReLU()")]},
           {"mc_torch_twin"}),
    mutant("twin_weights_transposed", "pytorch", "copies Wᵀ into nn.Linear's weight (shape (in, out))",
           {"torch_model": [("layer.weight.copy_(torch.as_tensor(np.asarray(params[weight], dtype=float)))",
                             "layer.weight.copy_(torch.as_tensor(np.asarray(params[weight], dtype=float)).T)")]},
           {"mc_torch_twin"}),
    mutant("twin_forward_without_graph", "pytorch", "forward runs under torch.no_grad(): autograd has nothing to differentiate",
           {"torch_model": [(TWIN_FORWARD, "        with torch.no_grad():\n            return self.fc2(self.activation(self.fc1(x)))")]},
           {"mc_torch_twin"}),
]
# the transposed copy must fail even where a layer is square: copy_ broadcasts (h, d) into (d, h) only if h == d

ALTERNATIVES = [
    alternative("softmax_logsumexp", "softmax as exp(z − logsumexp(z)), and cross-entropy from a one-hot matrix",
                {"softmax": [(SOFTMAX_BODY, """    z = np.array(logits, dtype=float)
    m = np.max(z, axis=-1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))
    return np.exp(z - lse)"""), (CE_BODY, """    p = np.asarray(probs, dtype=float)
    if p.ndim == 1:
        p, y = p[None, :], np.array([y])
    onehot = np.eye(p.shape[1])[np.asarray(y, dtype=int)]
    return float(-np.sum(onehot * np.log(np.clip(p, 1e-300, 1.0))) / p.shape[0])""")]}),
    alternative("softmax_python_loops", "softmax and cross-entropy with explicit Python loops and math.exp",
                {"softmax": [(SOFTMAX_BODY, """    import math
    z = np.asarray(logits, dtype=float)
    rows = z.reshape(-1, z.shape[-1])
    out = np.empty_like(rows)
    for i, row in enumerate(rows):
        top = max(row)
        exps = [math.exp(v - top) for v in row]
        total = sum(exps)
        for k, e in enumerate(exps):
            out[i, k] = e / total
    return out.reshape(z.shape)"""), (CE_BODY, """    import math
    p = np.asarray(probs, dtype=float)
    rows, labels = (p[None, :], [int(y)]) if p.ndim == 1 else (p, [int(v) for v in y])
    total = 0.0
    for row, label in zip(rows, labels):
        total += -math.log(row[label])
    return total / len(rows)""")]}),
    alternative("softmax_with_torch", "softmax through torch.softmax in float64; cross-entropy by take_along_axis",
                {"softmax": [(SOFTMAX_BODY, """    return torch.softmax(torch.as_tensor(np.array(logits, dtype=float)), dim=-1).numpy()"""),
                             (CE_BODY, """    p = np.atleast_2d(probs)
    labels = np.reshape(y, (-1, 1)).astype(np.int64)
    return float(np.mean(-np.log(np.take_along_axis(p, labels, axis=1))))""")]}),
    alternative("softmax_negative_shift", "stable softmax by dividing exp(z − max) computed with np.subtract/where",
                {"softmax": [(SOFTMAX_BODY, """    z = np.asarray(logits, dtype=np.float64)
    shifted = np.subtract(z, np.amax(z, axis=-1, keepdims=True))
    num = np.exp(np.where(shifted < -745.0, -745.0, shifted))
    num = np.where(shifted < -745.0, 0.0, num)
    return num / np.sum(num, axis=-1, keepdims=True)""")]}),
    alternative("model_einsum", "forward and backward with einsum; backward builds the one-hot matrix with np.eye",
                {"model": [(FORWARD_BODY, """        X = np.asarray(X, dtype=float)
        self.a1_cache = np.einsum('...d,hd->...h', X, self.W1) + self.b1
        self.h1_cache = self.activation.forward(self.a1_cache)
        logits = np.einsum('...h,kh->...k', self.h1_cache, self.W2) + self.b2
        return softmax(logits)"""), (BACKWARD_BODY, """        Xb = np.atleast_2d(np.asarray(X, dtype=float))
        n = Xb.shape[0]
        P = np.reshape(probs, (n, -1))
        Y = np.eye(self.n_classes)[np.atleast_1d(y).astype(int)]
        dz = (P - Y) / n
        H1 = np.atleast_2d(self.h1_cache)
        da1 = np.einsum('nk,kh->nh', dz, self.W2) * self.activation.derivative(np.atleast_2d(self.a1_cache))
        return {'dL_dW1': np.einsum('nh,nd->hd', da1, Xb), 'dL_db1': np.einsum('nh->h', da1),
                'dL_dW2': np.einsum('nk,nh->kh', dz, H1), 'dL_db2': np.einsum('nk->k', dz)}""")]}),
    alternative("backward_per_sample_loop", "backward as an average of per-sample outer products",
                {"model": [(BACKWARD_BODY, """        Xb = np.asarray(X, dtype=float).reshape(-1, self.input_dim)
        n = len(Xb)
        labels = np.asarray(y).reshape(n)
        P = np.asarray(probs).reshape(n, self.n_classes)
        A1 = np.asarray(self.a1_cache).reshape(n, self.hidden_dim)
        H1 = np.asarray(self.h1_cache).reshape(n, self.hidden_dim)
        grads = {'dL_dW1': np.zeros_like(self.W1), 'dL_db1': np.zeros_like(self.b1),
                 'dL_dW2': np.zeros_like(self.W2), 'dL_db2': np.zeros_like(self.b2)}
        for i in range(n):
            dz = P[i].copy()
            dz[int(labels[i])] -= 1.0
            da1 = (self.W2.T @ dz) * self.activation.derivative(A1[i])
            grads['dL_dW2'] += np.outer(dz, H1[i]) / n
            grads['dL_db2'] += dz / n
            grads['dL_dW1'] += np.outer(da1, Xb[i]) / n
            grads['dL_db1'] += da1 / n
        return grads""")]}),
    alternative("momentum_torch_form", "torch's form: v ← μ v + g; p ← p − η v (equal for a constant learning rate)",
                {"optimizers": [(STEP_BODY, """        params = model.get_parameters()
        for name in params:
            g = np.asarray(grads['dL_d' + name], dtype=float)
            if name not in self.velocities:
                self.velocities[name] = np.zeros_like(params[name])
            self.velocities[name] = self.momentum * self.velocities[name] + g
            params[name] = params[name] - self.learning_rate * self.velocities[name]
        model.set_parameters(params)""")]}),
    alternative("momentum_in_place_velocities", "velocities keyed by gradient name, updated in place (v *= μ; v -= η g)",
                {"optimizers": [(STEP_BODY, """        params = model.get_parameters()
        for key, g in grads.items():
            v = self.velocities.setdefault(key, np.zeros(np.shape(g)))
            v *= self.momentum
            v -= self.learning_rate * np.asarray(g)
            params[key[4:]] = params[key[4:]] + v
        model.set_parameters(params)""")]}),
    alternative("schedules_as_classes", "schedules as callable objects with math.floor, L2 with np.linalg.norm",
                {"optimizers": [(STEP_DECAY_BODY, """    import math

    class StepSchedule:
        def __call__(self, t):
            return initial * drop ** math.floor(t / every)
    return StepSchedule()"""), (INVERSE_BODY, """    return lambda epoch: initial * (1.0 + decay * epoch) ** -1"""),
                                 (PENALTY_LINE, """    total = 0.0
    for name in ('W1', 'W2'):
        total += np.linalg.norm(params[name]) ** 2
    return lam * total / 2"""), (L2_GRADIENTS_BODY, """    out = {key: np.copy(value) for key, value in grads.items()}
    for name in params:
        if name[0] == 'W':
            out['dL_d' + name] = out['dL_d' + name] + lam * params[name]
    return out""")]}),
    alternative("twin_functional", "the twin's forward with F.linear and torch.relu/torch.sigmoid; parameters set "
                "through .data", {"torch_model": [(TWIN_INIT, """        self.fc1 = nn.Linear(input_dim, hidden_dim).double()
        self.fc2 = nn.Linear(hidden_dim, n_classes).double()
        self.kind = activation"""), (TWIN_FORWARD, """        act = torch.relu if self.kind == 'relu' else torch.sigmoid
        hidden = act(F.linear(x, self.fc1.weight, self.fc1.bias))
        return F.linear(hidden, self.fc2.weight, self.fc2.bias)"""), (TWIN_LOAD, """        self.fc1.weight.data = torch.tensor(params['W1'], dtype=torch.float64)
        self.fc1.bias.data = torch.tensor(params['b1'], dtype=torch.float64)
        self.fc2.weight.data = torch.tensor(params['W2'], dtype=torch.float64)
        self.fc2.bias.data = torch.tensor(params['b2'], dtype=torch.float64)""")]}),
    alternative("twin_state_dict", "the twin loads its parameters with load_state_dict; activation as nn.Module "
                "picked from a dict", {"torch_model": [(TWIN_INIT, """        self.fc1 = nn.Linear(input_dim, hidden_dim, dtype=torch.float64)
        self.act = {'relu': nn.ReLU, 'sigmoid': nn.Sigmoid}[activation]()
        self.fc2 = nn.Linear(hidden_dim, n_classes, dtype=torch.float64)"""),
                                              (TWIN_FORWARD, "        return self.fc2(self.act(self.fc1(x)))"),
                                              (TWIN_LOAD, """        names = {'fc1.weight': 'W1', 'fc1.bias': 'b1', 'fc2.weight': 'W2', 'fc2.bias': 'b2'}
        self.load_state_dict({k: torch.from_numpy(np.array(params[v], dtype=np.float64)) for k, v in names.items()},
                             strict=False)""")]}),
    alternative("forward_2d_internally", "forward works on a 2-D copy and squeezes single samples back",
                {"model": [(FORWARD_BODY, """        x = np.asarray(X, dtype=float)
        X2 = x.reshape(-1, self.input_dim)
        a1 = X2 @ self.W1.T + self.b1[None, :]
        h1 = self.activation.forward(a1)
        probs = softmax(h1 @ self.W2.T + self.b2[None, :])
        if x.ndim == 1:
            a1, h1, probs = a1[0], h1[0], probs[0]
        self.a1_cache, self.h1_cache = a1, h1
        return probs""")]}),
]

HINTS = {
    "softmax_over_columns": "each COLUMN sums to 1",
    "softmax_over_whole_batch": "the whole batch sums to 1",
    "cross_entropy_summed": "the cross-entropy of a batch is the MEAN",
    "cross_entropy_on_logits": "treats the probabilities as logits",
    "cross_entropy_all_classes": "only the probability of each sample's",
    "forward_returns_logits": "these are the logits",
    "forward_without_b1": "the bias b1 is missing",
    "backward_summed_not_mean": "L is the MEAN over the batch",
    "backward_without_activation_derivative": "dL/da1 misses the factor φ'(a1)",
    "backward_wrong_sign": "every gradient has the wrong sign",
    "backward_without_onehot": "the one-hot of the labels is missing",
    "backward_derivative_at_h1": "φ' is evaluated at h1",
    "backward_bias_averaged_twice": "divided by n twice",
    "backward_dW2_transposed": "this is the transpose of the expected value",
    "momentum_velocity_reset": "the velocity is not kept between steps",
    "momentum_ascent": "the step goes uphill",
    "momentum_dampened": "(1 − μ) η g",
    "momentum_stale_velocity": "the parameter moved by the previous velocity",
    "momentum_shared_velocities": "each MomentumSGD keeps its own velocities",
    "momentum_scales_grads_in_place": "changed the gradients it was given",
    "step_decay_one_epoch_ahead": "one epoch ahead",
    "step_decay_every_epoch": "drops once every `every` epochs",
    "inverse_decay_linear": "divide the initial rate by (1 + decay · t)",
    "inverse_decay_from_epoch_one": "one epoch ahead",
    "l2_penalty_on_biases": "the biases are regularised too",
    "l2_gradients_on_biases": "the biases are regularised too",
    "l2_penalty_without_half": "the penalty is λ/2 · Σ‖W‖²",
    "l2_gradients_in_place": "changed the dicts or arrays it was given",
    "twin_float32": "must be float64",
    "twin_returns_probabilities": "these are probabilities",
    "softmax_without_max_subtraction": "subtract each row's own maximum",
    "softmax_global_max": "subtract each row's own maximum",
    "softmax_in_place": "changed its argument in place",
}

CORPUS = MUTANTS + ALTERNATIVES
BY_NAME = {e.name: e for e in CORPUS}
assert len(BY_NAME) == len(CORPUS), "corpus names must be unique"
assert set(HINTS) <= {m.name for m in MUTANTS}
