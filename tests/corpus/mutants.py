"""Wrong student implementations (mutants), each named after the misconception it encodes.

Each is written as a student would write it: exact text edits on the instructor's solution
cells (see examples/catalogue.py), so the notebook under tests/corpus/notebooks/ is what
such a student would submit. `fails` is the exact set of checks the mutant fails in both
grading paths, measured (scripts/grading_quality.py prints it); a check outside the
mutant's part (other than xor_training, which trains the student's own model, SGD and
train) would be a grader bug. HINTS: the one-line misconception hint the student must
see (a substring of the feedback of a failing check), for every mutant with a known
signature.
"""
import textwrap

from examples.catalogue import Example

ACTIVATIONS = {"relu", "sigmoid"}
FORWARD = {"forward_appendix_a", "forward_random"}
BACKWARD = {"backward_appendix_a", "backward_relu", "backward_sigmoid"}
BACKWARD_RANDOM = {"backward_relu", "backward_sigmoid"}
GRADCHECK = {"numerical_gradient", "gradient_check"}
XOR = "xor_training"

# the instructor's solution lines the mutants edit
RELU_DERIVATIVE = "return (np.asarray(z, dtype=float) > 0).astype(float)"
SIGMOID_FORWARD = """        z = np.asarray(z, dtype=float)
        e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
        return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))"""
SIGMOID_DERIVATIVE = """        s = self.forward(z)
        return s * (1.0 - s)"""
RELATIVE_ERROR_LINE = "    return float(np.max(np.abs(a - b) / np.maximum(eps, np.abs(a) + np.abs(b))))"
A1 = "self.a1_cache = x @ self.W1.T + self.b1"
F = "f = self.h1_cache @ self.W2[0] + self.b2[0]"
DF = "df = (np.reshape(f, n) - np.reshape(y, n)) / n"
DA1 = "da1 = np.outer(df, self.W2[0]) * self.activation.derivative(A1)"
CENTRED_TAIL = """        theta[i] = old - epsilon
        f_minus = f(theta)
        theta[i] = old
        grad[i] = (f_plus - f_minus) / (2 * epsilon)"""
BATCH_LOOP = """        for start in range(0, len(X), batch_size):
            batch = order[start:start + batch_size]
            f = model.forward(X[batch])
            optimizer.step(model, model.backward(X[batch], y[batch], f))
"""
TRAIN_RECORD = """        history['train_loss'].append(float(np.mean(0.5 * (model.forward(X) - y) ** 2)))
        if X_val is not None:
            history['val_loss'].append(float(np.mean(0.5 * (model.forward(X_val) - y_val) ** 2)))
"""
FORWARD_BODY = """        x = np.asarray(x, dtype=float)
        self.a1_cache = x @ self.W1.T + self.b1
        self.h1_cache = self.activation.forward(self.a1_cache)
        f = self.h1_cache @ self.W2[0] + self.b2[0]
        return float(f) if x.ndim == 1 else f"""
BACKWARD_BODY_START = "        X = np.asarray(x, dtype=float).reshape(-1, self.input_dim)         # (n, d)\n"


PARTS = {}   # mutant -> the parts of the assignment (checks.Check.part) it breaks


def mutant(name, parts, description, edits, fails):
    PARTS[name] = frozenset(parts.split("+"))
    return Example(name, "mutant", description, edits, frozenset(fails))


MUTANTS = [
    # --- activations -------------------------------------------------------------------------
    mutant("relu_derivative_without_mask", "activations", "ReLU derivative returns 1 everywhere (the mask z > 0 is missing)",
           {"activations": [(RELU_DERIVATIVE, "return np.ones_like(np.asarray(z, dtype=float))")]},
           {"relu"}),
    mutant("relu_derivative_one_at_zero", "activations", "ReLU derivative uses z >= 0, so ReLU'(0) = 1",
           {"activations": [(RELU_DERIVATIVE, "return (np.asarray(z, dtype=float) >= 0).astype(float)")]},
           {"relu"}),
    mutant("sigmoid_derivative_is_sigma", "activations", "sigmoid derivative returns σ(z) alone",
           {"activations": [(SIGMOID_DERIVATIVE, "        return self.forward(z)")]},
           {"sigmoid"}),
    mutant("sigmoid_derivative_of_activation_output", "activations",
           "sigmoid derivative applies s(1 − s) to its argument, as if it were given σ(z) instead of the pre-activation z",
           {"activations": [(SIGMOID_DERIVATIVE, "        return z * (1.0 - z)")]},
           {"sigmoid"}),
    mutant("sigmoid_overflows", "activations", "the textbook sigmoid 1 / (1 + exp(−z)), which overflows for z = −1e4",
           {"activations": [(SIGMOID_FORWARD, "        return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))")]},
           {"sigmoid"}),
    # --- forward --------------------------------------------------------------------------------
    mutant("forward_activation_on_output", "forward", "the activation is also applied to the output: f = φ(W2 h1 + b2)",
           {"model": [(F, "f = self.activation.forward(self.h1_cache @ self.W2[0] + self.b2[0])")]},
           {"forward_random"}),
    mutant("forward_W1_transposed", "forward", "W1 used transposed: a1 = W1ᵀx + b1 (right only when h = d)",
           {"model": [(A1, "self.a1_cache = x @ self.W1 + self.b1")]},
           FORWARD | {XOR}),
    mutant("forward_b1_forgotten", "forward", "the hidden bias b1 is forgotten",
           {"model": [(A1, "self.a1_cache = x @ self.W1.T")]},
           {"forward_random"}),
    mutant("forward_b2_forgotten", "forward", "the output bias b2 is forgotten",
           {"model": [(F, "f = self.h1_cache @ self.W2[0]")]},
           {"forward_random"}),
    mutant("forward_float_for_batches", "forward", "forward always returns float(f), which fails for a batch",
           {"model": [("return float(f) if x.ndim == 1 else f", "return float(f)")]},
           {"forward_random", XOR}),
    # --- backward ---------------------------------------------------------------------------------
    mutant("backward_without_mask", "backward", "dL/da1 misses the factor φ'(a1) (no ReLU mask)",
           {"model": [(DA1, "da1 = np.outer(df, self.W2[0])")]},
           BACKWARD),
    mutant("backward_mask_missing_in_db1", "backward", "the mask is applied for dL/dW1 but forgotten in dL/db1",
           {"model": [("'dL_db1': da1.sum(axis=0),", "'dL_db1': np.outer(df, self.W2[0]).sum(axis=0),")]},
           BACKWARD),
    mutant("backward_derivative_at_activation", "backward", "φ' evaluated at h1 = φ(a1) instead of a1 (wrong for sigmoid)",
           {"model": [("self.activation.derivative(A1)", "self.activation.derivative(H1)")]},
           {"backward_sigmoid"}),
    mutant("backward_a1_for_dW2", "backward", "dL/dW2 uses a1 instead of h1",
           {"model": [("'dL_dW2': (df @ H1)[None, :],", "'dL_dW2': (df @ A1)[None, :],")]},
           BACKWARD),
    mutant("backward_outer_product_transposed", "backward", "dL/dW1 = x (dL/da1)ᵀ: the outer product transposed",
           {"model": [("'dL_dW1': da1.T @ X,", "'dL_dW1': X.T @ da1,")]},
           BACKWARD | {XOR}),
    mutant("backward_dL_df_is_y_minus_f", "backward", "dL/df taken as y − f (every gradient has the wrong sign)",
           {"model": [(DF, "df = (np.reshape(y, n) - np.reshape(f, n)) / n")]},
           BACKWARD | {XOR}),
    mutant("backward_missing_half", "backward", "dL/df = 2(f − y): the ½ of the loss forgotten, every gradient doubled",
           {"model": [(DF, "df = 2 * (np.reshape(f, n) - np.reshape(y, n)) / n")]},
           BACKWARD),
    mutant("backward_batch_summed", "backward", "batch gradient summed instead of averaged",
           {"model": [(DF, "df = np.reshape(f, n) - np.reshape(y, n)")]},
           BACKWARD_RANDOM),
    mutant("backward_stale_cache", "backward",
           "φ'(a1) is cached on the first backward call and reused: a stale cache from an earlier forward",
           {"model": [(DA1, "if getattr(self, 'dphi', None) is None:\n"
                            "            self.dphi = self.activation.derivative(A1)  # compute it once\n"
                            "        da1 = np.outer(df, self.W2[0]) * self.dphi")]},
           BACKWARD_RANDOM),
    # --- gradient checking ---------------------------------------------------------------------------
    mutant("numerical_gradient_one_sided", "gradient_check", "one-sided difference (f(θ + ε) − f(θ)) / ε",
           {"gradient_check": [(CENTRED_TAIL, "        theta[i] = old\n        f_0 = f(theta)\n"
                                              "        grad[i] = (f_plus - f_0) / epsilon")]},
           GRADCHECK),
    mutant("numerical_gradient_divides_by_eps", "gradient_check", "centred difference divided by ε instead of 2ε",
           {"gradient_check": [("(f_plus - f_minus) / (2 * epsilon)", "(f_plus - f_minus) / epsilon")]},
           GRADCHECK),
    mutant("numerical_gradient_not_restored", "gradient_check", "θ[i] is left at θ[i] − ε after perturbing it",
           {"gradient_check": [("        theta[i] = old\n        grad[i]", "        grad[i]")]},
           GRADCHECK),
    mutant("relative_error_without_denominator", "gradient_check", "the 'relative' error is max |a − b|, not divided by |a| + |b|",
           {"gradient_check": [("np.abs(a - b) / np.maximum(eps, np.abs(a) + np.abs(b))", "np.abs(a - b)")]},
           {"gradient_check"}),
    mutant("relative_error_max_denominator", "gradient_check", "relative error |a − b| / max(|a|, |b|): the "
           "denominator of the spec is |a| + |b| (up to a factor 2 apart)",
           {"gradient_check": [(RELATIVE_ERROR_LINE, "    diff = np.abs(a - b)\n"
                                                     "    scale = np.maximum(np.abs(a), np.abs(b))\n"
                                                     "    return float(np.max(np.where(scale > eps, diff / np.maximum(scale, eps), diff)))")]},
           {"gradient_check"}),
    mutant("relative_error_of_norms", "gradient_check", "relative error ‖a − b‖ / (‖a‖ + ‖b‖): a ratio of norms, "
           "not the spec's largest entrywise ratio",
           {"gradient_check": [(RELATIVE_ERROR_LINE, "    denominator = np.linalg.norm(a) + np.linalg.norm(b)\n"
                                                     "    return 0.0 if denominator == 0 else float(np.linalg.norm(a - b) / denominator)")]},
           {"gradient_check"}),
    mutant("gradient_check_always_passes", "gradient_check", "check_all_gradients reports passed = True whatever the error",
           {"gradient_check": [("'passed': bool(error < threshold)", "'passed': True")]},
           {"gradient_check"}),
    mutant("gradient_check_parameters_not_restored", "gradient_check",
           "check_all_gradients leaves the model with its last perturbed parameter",
           {"gradient_check": [("    model.set_parameters(params)\n    return results", "    return results")]},
           {"gradient_check"}),
    # --- optimisation ---------------------------------------------------------------------------------
    mutant("sgd_gradient_ascent", "optimization", "SGD adds the gradient: p + η ∂L/∂p",
           {"sgd": [("p - self.learning_rate * grads", "p + self.learning_rate * grads")]},
           {"sgd_step", XOR}),
    mutant("sgd_learning_rate_ignored", "optimization", "SGD steps by the full gradient: p − ∂L/∂p",
           {"sgd": [("p - self.learning_rate * grads['dL_d' + name]", "p - grads['dL_d' + name]")]},
           {"sgd_step", XOR}),
    mutant("sgd_default_learning_rate", "optimization", "SGD keeps the default learning rate 0.1 whatever it is given",
           {"sgd": [("self.learning_rate = learning_rate", "self.learning_rate = 0.1")]},
           {"sgd_step"}),
    mutant("train_first_batch_only", "optimization", "train uses only the first mini-batch of each epoch",
           {"train": [(BATCH_LOOP, "        batch = order[:batch_size]\n        f = model.forward(X[batch])\n"
                                   "        optimizer.step(model, model.backward(X[batch], y[batch], f))\n")]},
           {"train_loop", XOR}),
    mutant("train_loss_per_batch", "optimization", "the loss history is recorded after every mini-batch, not every epoch",
           {"train": [(BATCH_LOOP + TRAIN_RECORD, BATCH_LOOP + textwrap.indent(TRAIN_RECORD, "    "))]},
           {"train_loop"}),
    mutant("train_loss_recorded_before_epoch", "optimization", "the loss is recorded at the start of each epoch, before its steps",
           {"train": [(BATCH_LOOP + TRAIN_RECORD, TRAIN_RECORD + BATCH_LOOP)]},
           {"train_loop"}),
    mutant("train_val_loss_on_training_set", "optimization", "val_loss computed on the training set (copy-paste)",
           {"train": [("(model.forward(X_val) - y_val)", "(model.forward(X) - y)")]},
           {"train_loop"}),
    # --- evaluation -------------------------------------------------------------------------------------
    mutant("accuracy_nn_broadcast", "evaluation", "accuracy compares an (n, 1) column with y of shape (n,): an (n, n) broadcast",
           {"evaluate": [("(f >= threshold).astype(int) == y", "(f.reshape(-1, 1) >= threshold).astype(int) == y")]},
           {"evaluate"}),
    mutant("accuracy_threshold_ignored", "evaluation", "accuracy always thresholds at 0.5, ignoring `threshold`",
           {"evaluate": [("(f >= threshold).astype(int)", "(f >= 0.5).astype(int)")]},
           {"evaluate"}),
    mutant("evaluate_threshold_exclusive", "evaluation", "an output equal to the threshold is predicted 0 "
           "(f > threshold): the threshold is inclusive",
           {"evaluate": [("(f >= threshold).astype(int)", "(f > threshold).astype(int)")]},
           {"evaluate"}),
    mutant("evaluate_loss_without_half", "evaluation", "the loss is the mean of (f − y)², without the ½",
           {"evaluate": [("np.mean(0.5 * (f - y) ** 2)", "np.mean((f - y) ** 2)")]},
           {"evaluate"}),
    # --- hard-coded -------------------------------------------------------------------------------------
    mutant("hardcoded_appendix_a", "forward+backward", "forward and backward return the Appendix A numbers",
           {"model": [(FORWARD_BODY, "        self.a1_cache = np.array([3.0, -0.5])\n"
                                     "        self.h1_cache = np.array([3.0, 0.0])\n        return 3.0"),
                      (BACKWARD_BODY_START, "        return {'dL_dW1': np.array([[1.0, -1.0], [0.0, 0.0]]), "
                                            "'dL_db1': np.array([1.0, 0.0]),\n"
                                            "                'dL_dW2': np.array([[3.0, 0.0]]), 'dL_db2': np.array([1.0])}\n"
                                            + BACKWARD_BODY_START)]},
           {"forward_random"} | BACKWARD_RANDOM | {XOR}),
]

# mutant -> a substring of the hint its feedback must contain (its misconception's signature)
HINTS = {
    "relu_derivative_without_mask": "the mask is missing",
    "relu_derivative_one_at_zero": "ReLU'(0) is 0",
    "sigmoid_derivative_is_sigma": "this is σ(z) itself",
    "sigmoid_derivative_of_activation_output": "this is z(1 − z)",
    "sigmoid_overflows": "overflow",
    "forward_activation_on_output": "the output layer is linear",
    "forward_W1_transposed": "W1 is used transposed",
    "forward_b1_forgotten": "the bias b1 is missing",
    "forward_b2_forgotten": "the bias b2 is missing",
    "backward_without_mask": "the factor φ'(a1) is missing",
    "backward_mask_missing_in_db1": "the factor φ'(a1) is missing",
    "backward_derivative_at_activation": "φ' is evaluated at h1",
    "backward_a1_for_dW2": "dL/dW2 uses a1",
    "backward_outer_product_transposed": "transpose",
    "backward_dL_df_is_y_minus_f": "not y − f",
    "backward_missing_half": "the ½ cancels the 2",
    "backward_batch_summed": "not the sum",
    "numerical_gradient_one_sided": "one-sided difference",
    "numerical_gradient_divides_by_eps": "divided by 2ε, not by ε",
    "numerical_gradient_not_restored": "restore each entry",
    "relative_error_without_denominator": "it is an absolute difference",
    "relative_error_max_denominator": "the denominator is |a| + |b|",
    "evaluate_threshold_exclusive": "not f > threshold",
    "relative_error_of_norms": "not a ratio of norms",
    "gradient_check_always_passes": "passed should be (error < threshold)",
    "gradient_check_parameters_not_restored": "restore every entry",
    "sgd_gradient_ascent": "the step goes uphill",
    "sgd_learning_rate_ignored": "the learning rate is ignored",
    "sgd_default_learning_rate": "uses the learning rate 0.1",
    "train_first_batch_only": "only the first mini-batch",
    "train_loss_per_batch": "one value per optimizer step",
    "train_loss_recorded_before_epoch": "before each epoch's steps",
    "train_val_loss_on_training_set": "holds the training loss",
    "accuracy_nn_broadcast": "(n, n)",
    "accuracy_threshold_ignored": "accuracy at threshold 0.5",
    "evaluate_loss_without_half": "twice the expected loss",
    "hardcoded_appendix_a": "Appendix A value",
}
