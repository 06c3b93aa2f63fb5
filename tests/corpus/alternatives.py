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
    alternative("relative_error_max_denominator", "relative error |a − b| / max(|a|, |b|), guarded at 0",
                {"gradient_check": [(RELATIVE_ERROR, "    diff = np.abs(a - b)\n"
                                                     "    scale = np.maximum(np.abs(a), np.abs(b))\n"
                                                     "    return float(np.max(np.where(scale > eps, diff / np.maximum(scale, eps), diff)))")]}),
    alternative("relative_error_of_norms", "relative error ‖a − b‖ / (‖a‖ + ‖b‖), 0 when both are 0",
                {"gradient_check": [(RELATIVE_ERROR, "    denominator = np.linalg.norm(a) + np.linalg.norm(b)\n"
                                                     "    return 0.0 if denominator == 0 else float(np.linalg.norm(a - b) / denominator)")]}),
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
