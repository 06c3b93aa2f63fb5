"""Correct but different implementations: each must earn exactly full marks in both grading paths.

Written as a student would: whole method bodies of the instructor's solution replaced
(exact text edits, see examples/catalogue.py). `fails` is empty for all of them.
"""
from examples.catalogue import Example
from tests.corpus.mutants import (BATCH_LOOP, FORWARD_BODY, SIGMOID_DERIVATIVE, SIGMOID_FORWARD,
                                  TRAIN_RECORD)

RELU_FORWARD = "        return np.maximum(0.0, np.asarray(z, dtype=float))"
RELU_DERIVATIVE = "        return (np.asarray(z, dtype=float) > 0).astype(float)"
BACKWARD_BODY = """        X = np.asarray(x, dtype=float).reshape(-1, self.input_dim)         # (n, d)
        n = X.shape[0]
        A1 = np.reshape(self.a1_cache, (n, self.hidden_dim))               # (n, h)
        H1 = np.reshape(self.h1_cache, (n, self.hidden_dim))               # (n, h)
        df = (np.reshape(f, n) - np.reshape(y, n)) / n                     # dL/df_i (n,)
        da1 = np.outer(df, self.W2[0]) * self.activation.derivative(A1)    # dL/da1 (n, h)
        return {
            'dL_dW1': da1.T @ X,
            'dL_db1': da1.sum(axis=0),
            'dL_dW2': (df @ H1)[None, :],
            'dL_db2': np.array([df.sum()]),
        }"""
CACHED = """        A1 = np.reshape(self.a1_cache, (n, self.hidden_dim))               # (n, h)
        H1 = np.reshape(self.h1_cache, (n, self.hidden_dim))               # (n, h)"""
RELATIVE_ERROR = "    return float(np.max(np.abs(a - b) / np.maximum(eps, np.abs(a) + np.abs(b))))"
NUMERICAL_GRADIENT = """    grad = np.zeros_like(theta, dtype=float)
    for i in np.ndindex(theta.shape):
        old = theta[i]
        theta[i] = old + epsilon
        f_plus = f(theta)
        theta[i] = old - epsilon
        f_minus = f(theta)
        theta[i] = old
        grad[i] = (f_plus - f_minus) / (2 * epsilon)
    return grad"""
SGD_BODY = """        params = model.get_parameters()
        model.set_parameters({name: p - self.learning_rate * grads['dL_d' + name] for name, p in params.items()})"""
EVALUATE_BODY = """    f = np.asarray(model.forward(X))
    return {'loss': float(np.mean(0.5 * (f - y) ** 2)),
            'accuracy': float(np.mean((f >= threshold).astype(int) == y))}"""


def alternative(name, description, edits):
    return Example(name, "alternative", description, edits, frozenset())


ALTERNATIVES = [
    alternative("loops_instead_of_vectorised", "forward and backward with explicit Python loops over samples and units",
                {"model": [(FORWARD_BODY, """        x = np.asarray(x, dtype=float)
        X = x.reshape(-1, self.input_dim)
        n, h = X.shape[0], self.hidden_dim
        a1 = np.zeros((n, h))
        for i in range(n):
            for j in range(h):
                total = self.b1[j]
                for k in range(self.input_dim):
                    total += self.W1[j, k] * X[i, k]
                a1[i, j] = total
        h1 = self.activation.forward(a1)
        f = np.zeros(n)
        for i in range(n):
            total = self.b2[0]
            for j in range(h):
                total += self.W2[0, j] * h1[i, j]
            f[i] = total
        if x.ndim == 1:
            self.a1_cache, self.h1_cache = a1[0], h1[0]
            return float(f[0])
        self.a1_cache, self.h1_cache = a1, h1
        return f"""), (BACKWARD_BODY, """        X = np.asarray(x, dtype=float).reshape(-1, self.input_dim)
        n = X.shape[0]
        A1 = np.reshape(self.a1_cache, (n, self.hidden_dim))
        H1 = np.reshape(self.h1_cache, (n, self.hidden_dim))
        F, Y = np.reshape(f, n), np.reshape(y, n)
        D = self.activation.derivative(A1)
        dW1, db1 = np.zeros_like(self.W1), np.zeros_like(self.b1)
        dW2, db2 = np.zeros_like(self.W2), np.zeros_like(self.b2)
        for i in range(n):
            df = (F[i] - Y[i]) / n
            db2[0] += df
            for j in range(self.hidden_dim):
                dW2[0, j] += df * H1[i, j]
                da = df * self.W2[0, j] * D[i, j]
                db1[j] += da
                for k in range(self.input_dim):
                    dW1[j, k] += da * X[i, k]
        return {'dL_dW1': dW1, 'dL_db1': db1, 'dL_dW2': dW2, 'dL_db2': db2}""")]}),
    alternative("relu_with_np_where", "ReLU and its derivative with np.where",
                {"activations": [(RELU_FORWARD, "        z = np.asarray(z, dtype=float)\n"
                                                "        return np.where(z > 0, z, 0.0)"),
                                 (RELU_DERIVATIVE, "        return np.where(np.asarray(z, dtype=float) > 0, 1.0, 0.0)")]}),
    alternative("relu_with_heaviside", "ReLU as z·[z > 0] and its derivative as np.heaviside(z, 0)",
                {"activations": [(RELU_FORWARD, "        z = np.asarray(z, dtype=float)\n"
                                                "        return z * (z > 0)"),
                                 (RELU_DERIVATIVE, "        return np.heaviside(np.asarray(z, dtype=float), 0.0)")]}),
    alternative("sigmoid_via_tanh", "σ(z) = ½(1 + tanh(z/2)), stable without a case split",
                {"activations": [(SIGMOID_FORWARD,
                                  "        return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=float)))")]}),
    alternative("sigmoid_via_logaddexp", "σ(z) = exp(−log(1 + e^−z)) with np.logaddexp; σ' from log-space too",
                {"activations": [(SIGMOID_FORWARD,
                                  "        return np.exp(-np.logaddexp(0.0, -np.asarray(z, dtype=float)))"),
                                 (SIGMOID_DERIVATIVE, "        z = np.asarray(z, dtype=float)\n"
                                                      "        return np.exp(-np.logaddexp(0.0, -z) - np.logaddexp(0.0, z))")]}),
    alternative("forward_with_einsum", "forward with np.einsum and W2 as a matrix",
                {"model": [(FORWARD_BODY, """        x = np.asarray(x, dtype=float)
        self.a1_cache = np.einsum('hd,...d->...h', self.W1, x) + self.b1
        self.h1_cache = self.activation.forward(self.a1_cache)
        f = np.einsum('oh,...h->...o', self.W2, self.h1_cache)[..., 0] + self.b2[0]
        return float(f) if x.ndim == 1 else f""")]}),
    alternative("backward_recomputes_forward", "backward recomputes a1 and h1 from x instead of reading the caches",
                {"model": [(CACHED, "        A1 = X @ self.W1.T + self.b1      # recomputed, not read from the cache\n"
                                    "        H1 = self.activation.forward(A1)")]}),
    alternative("backward_per_sample_accumulation", "backward accumulates per-sample gradients, then divides by n",
                {"model": [(BACKWARD_BODY, """        X = np.asarray(x, dtype=float).reshape(-1, self.input_dim)
        n = X.shape[0]
        A1 = np.reshape(self.a1_cache, (n, self.hidden_dim))
        H1 = np.reshape(self.h1_cache, (n, self.hidden_dim))
        F, Y = np.reshape(f, n), np.reshape(y, n)
        grads = {'dL_dW1': np.zeros_like(self.W1), 'dL_db1': np.zeros_like(self.b1),
                 'dL_dW2': np.zeros_like(self.W2), 'dL_db2': np.zeros_like(self.b2)}
        for i in range(n):
            df_i = F[i] - Y[i]
            da1_i = df_i * self.W2[0] * self.activation.derivative(A1[i])
            grads['dL_dW1'] += np.outer(da1_i, X[i])
            grads['dL_db1'] += da1_i
            grads['dL_dW2'] += df_i * H1[i][None, :]
            grads['dL_db2'] += df_i
        return {name: g / n for name, g in grads.items()}""")]}),
    alternative("numerical_gradient_on_copies", "numerical gradient perturbs copies of θ, never θ itself",
                {"gradient_check": [(NUMERICAL_GRADIENT, """    theta = np.asarray(theta, dtype=float)
    grad = np.zeros(theta.shape)
    for i in np.ndindex(theta.shape):
        plus, minus = theta.copy(), theta.copy()
        plus[i] += epsilon
        minus[i] -= epsilon
        grad[i] = (f(plus) - f(minus)) / (2 * epsilon)
    return grad""")]}),
    alternative("sgd_update_in_a_loop", "SGD updates a copy of each parameter in a loop, then sets them",
                {"sgd": [(SGD_BODY, """        params = model.get_parameters()
        for name in params:
            params[name] -= self.learning_rate * grads['dL_d' + name]
        model.set_parameters(params)""")]}),
    alternative("train_with_default_rng", "train shuffles with its own np.random.default_rng(0)",
                {"train": [("    for epoch in range(1, n_epochs + 1):\n        order = np.random.permutation(len(X))",
                            "    rng = np.random.default_rng(0)\n    for epoch in range(1, n_epochs + 1):\n"
                            "        order = rng.permutation(len(X))")]}),
    alternative("train_with_randomstate_shuffle", "train shuffles the data itself with a RandomState(1)",
                {"train": [("    for epoch in range(1, n_epochs + 1):\n        order = np.random.permutation(len(X))\n" + BATCH_LOOP,
                            "    shuffler = np.random.RandomState(1)\n    for epoch in range(1, n_epochs + 1):\n"
                            "        order = np.arange(len(X))\n        shuffler.shuffle(order)\n"
                            "        X_shuffled, y_shuffled = X[order], y[order]\n"
                            "        for start in range(0, len(X), batch_size):\n"
                            "            X_batch = X_shuffled[start:start + batch_size]\n"
                            "            y_batch = y_shuffled[start:start + batch_size]\n"
                            "            grads = model.backward(X_batch, y_batch, model.forward(X_batch))\n"
                            "            optimizer.step(model, grads)\n")]}),
    # (not `evaluate`: its cell comes after the train_loop test cell, so nbgrader, which runs the
    # notebook in order, would not have it yet; the pytest path runs every solution cell first)
    alternative("train_history_via_helper", "train records the epoch losses through a helper function",
                {"train": [("def train(", "def mean_loss(model, X, y):\n"
                                          "    return float(np.mean(np.square(np.asarray(model.forward(X)) - y)) / 2)\n\n\n"
                                          "def train("),
                           (TRAIN_RECORD, "        history['train_loss'].append(mean_loss(model, X, y))\n"
                                          "        if X_val is not None:\n"
                                          "            history['val_loss'].append(mean_loss(model, X_val, y_val))\n")]}),
    alternative("evaluate_with_np_where", "evaluate with np.where predictions and a count of correct ones",
                {"evaluate": [(EVALUATE_BODY, """    f = np.asarray(model.forward(X), dtype=float).ravel()
    predictions = np.where(f >= threshold, 1, 0)
    return {'loss': float(0.5 * np.mean(np.square(f - y))),
            'accuracy': float(np.sum(predictions == y) / len(y))}""")]}),
]


# --- More styles (a second, blind batch: written from the notebook's spec alone) -------------------
# The instructor's method bodies these replace, exactly as in source/mlp/mlp.ipynb.
SIGMOID_DERIVATIVE_BODY = SIGMOID_DERIVATIVE
RELATIVE_ERROR_BODY = """    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
""" + RELATIVE_ERROR
CHECK_ALL_BODY = """    analytic = model.backward(x, y, model.forward(x))
    params = model.get_parameters()
    results = {}
    for name, theta in params.items():
        def loss(value):
            model.set_parameters({**params, name: value})
            return np.mean(0.5 * (np.asarray(model.forward(x)) - y) ** 2)
        error = relative_error(analytic['dL_d' + name], numerical_gradient(loss, theta.copy(), epsilon))
        results[name] = {'passed': bool(error < threshold), 'error': error}
    model.set_parameters(params)
    return results"""
TRAIN_BODY = """    history = {'train_loss': [], 'val_loss': []}
    for epoch in range(1, n_epochs + 1):
        order = np.random.permutation(len(X))
""" + BATCH_LOOP + TRAIN_RECORD + """        if verbose and (epoch % print_every == 0 or epoch == n_epochs):
            print(f"epoch {epoch}: train_loss {history['train_loss'][-1]:.6f}")
    return history"""
CALLABLE = "    def __call__(self, z):\n        return self.forward(z)\n"

MORE_ALTERNATIVES = [
    # --- activations -------------------------------------------------------------------------
    alternative("activations_callable_pytorch_style",
                "activations are callable (__call__), the model calls self.activation(a1); ReLU masks a copy in place; "
                "sigmoid fills positive and negative entries by boolean masks",
                {"activations": [("    name = 'relu'\n", "    name = 'relu'\n\n" + CALLABLE),
                                 ("    name = 'sigmoid'\n", "    name = 'sigmoid'\n\n" + CALLABLE),
                                 (RELU_FORWARD, """        out = np.array(z, dtype=float)     # a copy: z itself is left alone
        out[out < 0] = 0.0
        return out"""),
                                 (RELU_DERIVATIVE, "        return np.greater(z, 0).astype(np.float64)"),
                                 (SIGMOID_FORWARD, """        z = np.asarray(z, dtype=float)
        out = np.empty_like(z)
        pos = z >= 0
        out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
        ez = np.exp(z[~pos])                # z < 0 here, so exp(z) < 1
        out[~pos] = ez / (1.0 + ez)
        return out"""),
                                 (SIGMOID_DERIVATIVE_BODY, "        s = self(z)\n        return s * (1 - s)")],
                 "model": [("        self.h1_cache = self.activation.forward(self.a1_cache)",
                            "        self.h1_cache = self.activation(self.a1_cache)")]}),
    alternative("activation_base_class_hierarchy",
                "an Activation base class (forward/derivative/__call__/__repr__) with ReLU and Sigmoid subclasses; "
                "σ = exp(min(z, 0)) / (1 + exp(−|z|)), σ' = e^−|z| / (1 + e^−|z|)² in closed form",
                {"activations": [("class ReLU:\n", '''class Activation:
    """An elementwise activation function; subclasses implement forward and derivative."""
    name = 'activation'

    def forward(self, z):
        raise NotImplementedError

    def derivative(self, z):
        raise NotImplementedError

    def __call__(self, z):
        return self.forward(z)

    def __repr__(self):
        return f"{type(self).__name__}()"


class ReLU(Activation):
'''),
                                 ("class Sigmoid:\n", "class Sigmoid(Activation):\n"),
                                 (RELU_FORWARD, "        return np.maximum(np.asarray(z, dtype=float), 0.0)"),
                                 (SIGMOID_FORWARD, """        z = np.asarray(z, dtype=float)
        return np.exp(np.minimum(z, 0.0)) / (1.0 + np.exp(-np.abs(z)))"""),
                                 (SIGMOID_DERIVATIVE_BODY, """        e = np.exp(-np.abs(np.asarray(z, dtype=float)))    # sigma'(z) = sigma'(-z)
        return e / (1.0 + e) ** 2""")]}),
    alternative("activations_np_vectorize_math",
                "activations as scalar Python functions (math.exp, an if/else case split) lifted with np.vectorize",
                {"activations": [("class ReLU:\n", '''import math


def _relu_scalar(t):
    return t if t > 0 else 0.0


def _relu_slope_scalar(t):
    return 1.0 if t > 0 else 0.0


def _sigmoid_scalar(t):
    if t >= 0:
        return 1.0 / (1.0 + math.exp(-t))
    e = math.exp(t)
    return e / (1.0 + e)


class ReLU:
'''),
                                 (RELU_FORWARD, "        return np.vectorize(_relu_scalar, otypes=[float])(np.asarray(z, dtype=float))"),
                                 (RELU_DERIVATIVE, "        return np.vectorize(_relu_slope_scalar, otypes=[float])(np.asarray(z, dtype=float))"),
                                 (SIGMOID_FORWARD, "        return np.vectorize(_sigmoid_scalar, otypes=[float])(np.asarray(z, dtype=float))"),
                                 (SIGMOID_DERIVATIVE_BODY, "        s = self.forward(z)\n        return s - s * s")]}),
    alternative("sigmoid_clipped_naive",
                "sigmoid as the naive 1 / (1 + e^−z) on z clipped to [−500, 500] (no overflow, no case split)",
                {"activations": [(SIGMOID_FORWARD, """        z = np.clip(np.asarray(z, dtype=float), -500.0, 500.0)
        return 1.0 / (1.0 + np.exp(-z))""")]}),
    alternative("relu_clip_and_sign", "ReLU as np.clip(z, 0, None), its derivative as sign(ReLU(z))",
                {"activations": [(RELU_FORWARD, "        return np.clip(np.asarray(z, dtype=float), 0.0, None)"),
                                 (RELU_DERIVATIVE, "        return np.sign(self.forward(z))")]}),
    # --- forward and backward -------------------------------------------------------------------
    alternative("isinstance_dispatch_in_model",
                "the model dispatches on isinstance(self.activation, ReLU/Sigmoid) and computes φ and φ' itself "
                "(σ' as h1(1 − h1) from the cached h1)",
                {"model": [(FORWARD_BODY, """        x = np.asarray(x, dtype=float)
        a1 = x @ self.W1.T + self.b1
        if isinstance(self.activation, ReLU):
            h1 = np.maximum(0.0, a1)
        elif isinstance(self.activation, Sigmoid):
            h1 = self.activation.forward(a1)
        else:
            raise TypeError(f"unknown activation {self.activation!r}")
        self.a1_cache, self.h1_cache = a1, h1
        f = h1 @ self.W2[0] + self.b2[0]
        return float(f) if x.ndim == 1 else f"""),
                           ("da1 = np.outer(df, self.W2[0]) * self.activation.derivative(A1)", """if isinstance(self.activation, ReLU):
            slope = (A1 > 0).astype(float)
        else:
            slope = H1 * (1.0 - H1)                                          # sigma'(a1) = h1 (1 - h1)
        da1 = np.outer(df, self.W2[0]) * slope""")]}),
    alternative("cache_dict_with_x",
                "forward also keeps a dict cache {'x', 'a1', 'h1'}; backward reads x and the activations from it, "
                "with np.dot everywhere",
                {"model": [(FORWARD_BODY, """        x = np.asarray(x, dtype=float)
        a1 = np.dot(x, self.W1.T) + self.b1
        h1 = self.activation.forward(a1)
        self.a1_cache, self.h1_cache = a1, h1
        self.cache = {'x': x, 'a1': a1, 'h1': h1}
        f = np.dot(h1, self.W2[0]) + self.b2[0]
        return float(f) if x.ndim == 1 else f"""),
                           (BACKWARD_BODY, """        cache = self.cache
        X = cache['x'].reshape(-1, self.input_dim)
        n = X.shape[0]
        A1 = cache['a1'].reshape(n, self.hidden_dim)
        H1 = cache['h1'].reshape(n, self.hidden_dim)
        df = (np.ravel(f) - np.ravel(y)) / n
        da1 = np.dot(df[:, None], self.W2) * self.activation.derivative(A1)
        return {'dL_dW1': np.dot(da1.T, X), 'dL_db1': np.sum(da1, axis=0),
                'dL_dW2': np.dot(df, H1).reshape(1, -1), 'dL_db2': np.sum(df).reshape(1)}""")]}),
    alternative("atleast_2d_then_squeeze",
                "forward and backward treat everything as a batch via np.atleast_2d and squeeze back for one sample; "
                "sums with np.add.reduce",
                {"model": [(FORWARD_BODY, """        x = np.asarray(x, dtype=float)
        X = np.atleast_2d(x)
        A1 = np.dot(X, self.W1.T) + self.b1
        H1 = self.activation.forward(A1)
        F = np.dot(H1, self.W2.T).ravel() + self.b2
        if x.ndim == 1:
            self.a1_cache, self.h1_cache = A1[0], H1[0]
            return F.item()
        self.a1_cache, self.h1_cache = A1, H1
        return F"""),
                           (BACKWARD_BODY, """        X = np.atleast_2d(np.asarray(x, dtype=float))
        n = X.shape[0]
        A1 = np.atleast_2d(self.a1_cache)
        H1 = np.atleast_2d(self.h1_cache)
        r = (np.ravel(f) - np.ravel(y)) / n                                  # (n,)
        delta = r[:, None] * self.W2 * self.activation.derivative(A1)        # (n, h)
        return {'dL_dW1': np.matmul(delta.T, X), 'dL_db1': np.add.reduce(delta, axis=0),
                'dL_dW2': np.matmul(r, H1).reshape(1, -1), 'dL_db2': np.add.reduce(r, keepdims=True)}""")]}),
    alternative("single_sample_and_batch_branches",
                "forward and backward have a separate single-sample branch (W1 @ x, np.outer) and a batch branch "
                "((W1 @ X.T).T)",
                {"model": [(FORWARD_BODY, """        x = np.asarray(x, dtype=float)
        if x.ndim == 1:
            self.a1_cache = self.W1 @ x + self.b1
            self.h1_cache = self.activation.forward(self.a1_cache)
            return (self.W2 @ self.h1_cache + self.b2).item()
        self.a1_cache = (self.W1 @ x.T).T + self.b1
        self.h1_cache = self.activation.forward(self.a1_cache)
        return (self.W2 @ self.h1_cache.T)[0] + self.b2[0]"""),
                           (BACKWARD_BODY, """        x = np.asarray(x, dtype=float)
        if x.ndim == 1:
            df = float(f) - np.asarray(y, dtype=float).item()
            da1 = (self.W2[0] * df) * self.activation.derivative(self.a1_cache)
            return {'dL_dW1': np.outer(da1, x), 'dL_db1': da1,
                    'dL_dW2': df * self.h1_cache[np.newaxis, :], 'dL_db2': np.array([df])}
        n = x.shape[0]
        df = (np.asarray(f, dtype=float) - np.asarray(y, dtype=float)) / n          # (n,)
        da1 = df[:, np.newaxis] * self.W2 * self.activation.derivative(self.a1_cache)
        return {'dL_dW1': da1.T @ x, 'dL_db1': da1.sum(axis=0),
                'dL_dW2': (self.h1_cache.T @ df)[np.newaxis, :], 'dL_db2': np.array([df.sum()])}""")]}),
    alternative("backward_with_einsum", "backward entirely with np.einsum (including the sums)",
                {"model": [(BACKWARD_BODY, """        X = np.asarray(x, dtype=float).reshape(-1, self.input_dim)
        n = len(X)
        A1 = np.asarray(self.a1_cache).reshape(n, -1)
        H1 = np.asarray(self.h1_cache).reshape(n, -1)
        g = (np.asarray(f, dtype=float).reshape(n) - np.asarray(y, dtype=float).reshape(n)) / n
        D = np.einsum('n,h,nh->nh', g, self.W2[0], self.activation.derivative(A1))
        return {'dL_dW1': np.einsum('nh,nd->hd', D, X), 'dL_db1': np.einsum('nh->h', D),
                'dL_dW2': np.einsum('n,nh->h', g, H1)[None], 'dL_db2': np.einsum('n->', g).reshape(1)}""")]}),
    alternative("column_vector_convention",
                "textbook column vectors: samples are the columns of X^T (d, n), A1 = W1 X^T + b1[:, None], "
                "caches transposed back",
                {"model": [(FORWARD_BODY, """        x = np.asarray(x, dtype=float)
        Xc = x.reshape(-1, self.input_dim).T                 # (d, n): one column per sample
        A1 = self.W1 @ Xc + self.b1[:, None]                 # (h, n)
        H1 = self.activation.forward(A1)
        F = self.W2 @ H1 + self.b2[:, None]                  # (1, n)
        if x.ndim == 1:
            self.a1_cache, self.h1_cache = A1[:, 0], H1[:, 0]
            return float(F[0, 0])
        self.a1_cache, self.h1_cache = A1.T, H1.T
        return F[0]"""),
                           (BACKWARD_BODY, """        Xc = np.asarray(x, dtype=float).reshape(-1, self.input_dim).T      # (d, n)
        n = Xc.shape[1]
        A1 = np.reshape(self.a1_cache, (n, self.hidden_dim)).T             # (h, n)
        H1 = np.reshape(self.h1_cache, (n, self.hidden_dim)).T             # (h, n)
        dF = (np.reshape(f, (1, n)) - np.reshape(y, (1, n))) / n           # (1, n)
        dA1 = (self.W2.T @ dF) * self.activation.derivative(A1)            # (h, n)
        return {'dL_dW1': dA1 @ Xc.T, 'dL_db1': dA1.sum(axis=1),
                'dL_dW2': dF @ H1.T, 'dL_db2': dF.sum(axis=1)}""")]}),
    alternative("forward_matmul_squeeze", "forward with np.matmul, np.add and np.squeeze(..., axis=-1), .item() for one sample",
                {"model": [(FORWARD_BODY, """        x = np.asarray(x, dtype=float)
        self.a1_cache = np.add(np.matmul(x, self.W1.T), self.b1)
        self.h1_cache = self.activation.forward(self.a1_cache)
        f = np.squeeze(np.matmul(self.h1_cache, self.W2.T) + self.b2, axis=-1)
        return f.item() if f.ndim == 0 else f""")]}),
    alternative("backward_mean_of_outer_products",
                "backward builds the dict key by key as means over per-sample gradients (3-D broadcast outer products)",
                {"model": [(BACKWARD_BODY, """        X = np.asarray(x, dtype=float).reshape(-1, self.input_dim)
        A1 = np.asarray(self.a1_cache).reshape(len(X), -1)
        H1 = np.asarray(self.h1_cache).reshape(len(X), -1)
        e = np.asarray(f, dtype=float).reshape(-1) - np.asarray(y, dtype=float).reshape(-1)   # f_i - y_i
        delta = e[:, None] * self.W2 * self.activation.derivative(A1)        # dL_i/da1 per sample (n, h)
        grads = {}
        grads['dL_dW1'] = np.mean(delta[:, :, None] * X[:, None, :], axis=0)
        grads['dL_db1'] = np.mean(delta, axis=0)
        grads['dL_dW2'] = np.mean(e[:, None] * H1, axis=0, keepdims=True)
        grads['dL_db2'] = np.mean(e, keepdims=True)
        return grads""")]}),
    alternative("backward_recomputes_everything",
                "backward ignores the caches AND its argument f: recomputes a1, h1 and f from x "
                "(same values, since backward is called right after forward(x) on the same x)",
                {"model": [(BACKWARD_BODY, """        X = np.asarray(x, dtype=float).reshape(-1, self.input_dim)
        n = X.shape[0]
        A1 = X @ self.W1.T + self.b1
        H1 = self.activation.forward(A1)
        F = H1 @ self.W2[0] + self.b2[0]                                    # f again, from x
        df = (F - np.reshape(y, n)) / n
        da1 = np.outer(df, self.W2[0]) * self.activation.derivative(A1)
        return {'dL_dW1': da1.T @ X, 'dL_db1': da1.sum(axis=0),
                'dL_dW2': (df @ H1)[None, :], 'dL_db2': np.array([df.sum()])}""")]}),
    # --- gradient checking ------------------------------------------------------------------------
    alternative("numerical_gradient_nditer", "numerical gradient with np.nditer(multi_index) and a while loop (CS231n style)",
                {"gradient_check": [(NUMERICAL_GRADIENT, """    grad = np.zeros(theta.shape)
    it = np.nditer(theta, flags=['multi_index'], op_flags=['readwrite'])
    while not it.finished:
        ix = it.multi_index
        saved = theta[ix]
        theta[ix] = saved + epsilon
        fxph = f(theta)
        theta[ix] = saved - epsilon
        fxmh = f(theta)
        theta[ix] = saved
        grad[ix] = (fxph - fxmh) / (2 * epsilon)
        it.iternext()
    return grad""")]}),
    alternative("numerical_gradient_flat_iterator",
                "numerical gradient over flat indices with theta.flat (works for any layout), reshaped at the end",
                {"gradient_check": [(NUMERICAL_GRADIENT, """    grad = np.zeros(theta.size)
    for k in range(theta.size):
        original = theta.flat[k]
        theta.flat[k] = original + epsilon
        up = f(theta)
        theta.flat[k] = original - epsilon
        down = f(theta)
        theta.flat[k] = original
        grad[k] = (up - down) / (2.0 * epsilon)
    return grad.reshape(theta.shape)""")]}),
    alternative("numerical_gradient_restore_from_backup",
                "numerical gradient perturbs with += / -= and restores the whole of θ from a backup copy each time",
                {"gradient_check": [(NUMERICAL_GRADIENT, """    backup = theta.copy()
    grad = np.empty(theta.shape)
    for idx in np.ndindex(*theta.shape):
        theta[idx] += epsilon
        plus = f(theta)
        np.copyto(theta, backup)
        theta[idx] -= epsilon
        minus = f(theta)
        np.copyto(theta, backup)
        grad[idx] = (plus - minus) / (2 * epsilon)
    return grad""")]}),
    alternative("relative_error_python_loop", "relative error as a Python loop over broadcast, flattened entries",
                {"gradient_check": [(RELATIVE_ERROR_BODY, """    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    errors = [0.0]
    for ai, bi in zip(a.ravel(), b.ravel()):
        errors.append(abs(ai - bi) / max(eps, abs(ai) + abs(bi)))
    return float(np.max(errors))""")]}),
    alternative("relative_error_clip_divide", "relative error with np.subtract, np.clip(denominator, eps, None), np.divide and .max().item()",
                {"gradient_check": [(RELATIVE_ERROR_BODY, """    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    numerator = np.abs(np.subtract(a, b))
    denominator = np.clip(np.abs(a) + np.abs(b), eps, None)
    return np.divide(numerator, denominator).max().item()""")]}),
    alternative("check_gradients_analytic_last",
                "check_all_gradients perturbs copies of the parameter dict entry by entry itself, restores, then "
                "computes the analytic gradients last",
                {"gradient_check": [(CHECK_ALL_BODY, """    original = model.get_parameters()
    target = np.asarray(y, dtype=float)

    def mean_loss(params):
        model.set_parameters(params)
        out = np.asarray(model.forward(x), dtype=float)
        return float(np.mean(0.5 * (out - target) ** 2))

    numeric = {}
    for name, value in original.items():
        numeric[name] = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            plus = {k: v.copy() for k, v in original.items()}
            minus = {k: v.copy() for k, v in original.items()}
            plus[name][idx] = value[idx] + epsilon
            minus[name][idx] = value[idx] - epsilon
            numeric[name][idx] = (mean_loss(plus) - mean_loss(minus)) / (2 * epsilon)
    model.set_parameters(original)
    analytic = model.backward(x, y, model.forward(x))
    results = {}
    for name in original:
        err = relative_error(analytic['dL_d' + name], numeric[name])
        results[name] = {'passed': err < threshold, 'error': err}
    return results""")]}),
    alternative("check_gradients_shared_working_dict",
                "check_all_gradients lets numerical_gradient perturb the entries of one working dict in place; "
                "the loss pushes the whole dict into the model",
                {"gradient_check": [(CHECK_ALL_BODY, """    saved = model.get_parameters()
    working = model.get_parameters()

    def loss(_theta):
        model.set_parameters(working)
        return 0.5 * np.mean(np.square(np.subtract(model.forward(x), y)))

    numeric = {name: numerical_gradient(loss, working[name], epsilon) for name in working}
    model.set_parameters(saved)
    analytic = model.backward(x, y, model.forward(x))
    results = {}
    for name, num in numeric.items():
        error = relative_error(analytic[f'dL_d{name}'], num)
        results[name] = {'passed': bool(error < threshold), 'error': float(error)}
    model.set_parameters(saved)
    return results""")]}),
    # --- SGD, evaluate, train ----------------------------------------------------------------------
    alternative("sgd_items_strip_prefix", "SGD iterates grads.items() and strips the 'dL_d' prefix to find the parameter",
                {"sgd": [(SGD_BODY, """        params = model.get_parameters()
        for key, grad in grads.items():
            name = key[len('dL_d'):]
            params[name] = params[name] - self.learning_rate * grad
        model.set_parameters(params)""")]}),
    alternative("sgd_np_subtract_out", "SGD updates the copies in place with np.subtract(p, lr * g, out=p)",
                {"sgd": [(SGD_BODY, """        lr = self.learning_rate
        params = model.get_parameters()
        for name, value in params.items():
            np.subtract(value, lr * grads[f'dL_d{name}'], out=value)
        model.set_parameters(params)""")]}),
    alternative("evaluate_boolean_arithmetic",
                "evaluate with a dot product for the loss and count_nonzero of (f >= t) * 1.0 == y for the accuracy",
                {"evaluate": [(EVALUATE_BODY, """    f = np.ravel(model.forward(X)).astype(float)
    y = np.ravel(y).astype(float)
    r = f - y
    predictions = (f >= threshold) * 1.0
    return {'loss': float(r @ r / (2 * len(r))),
            'accuracy': float(np.count_nonzero(predictions == y) / y.size)}""")]}),
    alternative("evaluate_per_sample_loop", "evaluate runs forward on one sample at a time and accumulates loss and hits",
                {"evaluate": [(EVALUATE_BODY, """    total_loss, correct = 0.0, 0
    for xi, yi in zip(X, y):
        fi = float(model.forward(xi))
        total_loss += 0.5 * (fi - yi) ** 2
        correct += int((fi >= threshold) == yi)
    return {'loss': float(total_loss / len(X)), 'accuracy': correct / len(X)}""")]}),
    alternative("train_while_loops_with_evaluate",
                "train with while loops over epochs and batch starts, shuffled copies of X and y, and the history "
                "from evaluate()",
                {"train": [(TRAIN_BODY, """    history = {'train_loss': [], 'val_loss': []}
    n = X.shape[0]
    epoch = 0
    while epoch < n_epochs:
        epoch += 1
        perm = np.random.permutation(n)
        X_shuf, y_shuf = X[perm], y[perm]
        i = 0
        while i < n:
            xb, yb = X_shuf[i:i + batch_size], y_shuf[i:i + batch_size]
            out = model.forward(xb)
            grads = model.backward(xb, yb, out)
            optimizer.step(model, grads)
            i += batch_size
        history['train_loss'].append(evaluate(model, X, y)['loss'])
        if X_val is not None and y_val is not None:
            history['val_loss'].append(evaluate(model, X_val, y_val)['loss'])
        if verbose and epoch % print_every == 0:
            print(f"epoch {epoch}/{n_epochs}  loss={history['train_loss'][-1]:.4f}")
    return history""")]}),
    alternative("train_minibatch_generator",
                "train draws its mini-batches from a generator that shuffles an index array with np.random.shuffle",
                {"train": [("def train(", '''def iterate_minibatches(X, y, batch_size):
    """Yield (X_batch, y_batch) covering X once, in a random order."""
    indices = np.arange(len(X))
    np.random.shuffle(indices)
    for start in range(0, len(indices), batch_size):
        excerpt = indices[start:start + batch_size]
        yield X[excerpt], y[excerpt]


def train('''),
                           (TRAIN_BODY, """    history = {'train_loss': [], 'val_loss': []}
    for epoch in range(n_epochs):
        for X_batch, y_batch in iterate_minibatches(X, y, batch_size):
            optimizer.step(model, model.backward(X_batch, y_batch, model.forward(X_batch)))
        f_train = np.asarray(model.forward(X))
        history['train_loss'].append(float(0.5 * np.mean((f_train - y) ** 2)))
        if X_val is not None:
            f_val = np.asarray(model.forward(X_val))
            history['val_loss'].append(float(0.5 * np.mean((f_val - y_val) ** 2)))
        if verbose and (epoch + 1) % print_every == 0:
            print('epoch', epoch + 1, 'train loss', history['train_loss'][-1])
    return history""")]}),
    alternative("train_seeded_rng_np_split",
                "train takes an extra seed argument, shuffles with rng.permutation and cuts the batches with np.split",
                {"train": [("          verbose=False, print_every=10):", "          verbose=False, print_every=10, seed=2024):"),
                           (TRAIN_BODY, """    rng = np.random.default_rng(seed)
    history = {'train_loss': [], 'val_loss': []}
    for epoch in range(1, n_epochs + 1):
        cuts = np.arange(batch_size, len(X), batch_size)
        for idx in np.split(rng.permutation(len(X)), cuts):
            optimizer.step(model, model.backward(X[idx], y[idx], model.forward(X[idx])))
        for key, (Xs, ys) in (('train_loss', (X, y)), ('val_loss', (X_val, y_val))):
            if Xs is not None:
                history[key].append(float(np.mean(0.5 * (model.forward(Xs) - ys) ** 2)))
        if verbose and epoch % print_every == 0:
            print(f"epoch {epoch}: {history['train_loss'][-1]:.6f}")
    return history""")]}),
    alternative("train_column_stack_shuffle",
                "train shuffles the rows of np.column_stack([X, y]) in place and slices batches by a batch counter",
                {"train": [(TRAIN_BODY, """    history = {'train_loss': [], 'val_loss': []}
    data = np.column_stack([X, y]).astype(float)
    n_batches = int(np.ceil(len(data) / batch_size))
    for epoch in range(n_epochs):
        np.random.shuffle(data)
        for b in range(n_batches):
            chunk = data[b * batch_size:(b + 1) * batch_size]
            X_batch, y_batch = chunk[:, :-1], chunk[:, -1]
            f_batch = model.forward(X_batch)
            optimizer.step(model, model.backward(X_batch, y_batch, f_batch))
        train_f = model.forward(X)
        history['train_loss'].append(float(np.sum((train_f - y) ** 2) / (2 * len(y))))
        if X_val is not None:
            val_f = model.forward(X_val)
            history['val_loss'].append(float(np.sum((val_f - y_val) ** 2) / (2 * len(y_val))))
        if verbose and (epoch + 1) % print_every == 0:
            print(epoch + 1, history['train_loss'][-1])
    return history""")]}),
]
ALTERNATIVES += MORE_ALTERNATIVES
