r"""Solutions to the notebooks' exercises, one function each, named where the exercise is set.

Each function does what its exercise asks with the project's own pieces (:mod:`scratch` by hand,
:mod:`scratch.bugs` for the deliberately wrong ones, :mod:`scratch.gradcheck` for the checks,
:mod:`tfimpl` where TensorFlow is the point) and returns the numbers the exercise's stated outcome is
about; ``tests/test_solutions.py`` checks each outcome. Try the exercise before you read its solution.

``python notebooks/solutions.py [NAME ...]`` runs them all (or those whose name contains a NAME) and prints
what each returns (real MNIST; the two lockstep runs of notebook 6 take most of the time).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

import scratch.layers as layers
import scratch.losses as losses
import scratch.models as models
from common.config import RunConfig
from common.data import Datasets, batch_indices
from common.experiments import random_integer_matrix
from common.labels import one_hot
from scratch import bugs
from scratch.experiments import learn_inverse, optimal_inputs
from scratch.gradcheck import numerical_gradient, relative_error
from scratch.optimizers import SGD, Adam
from scratch.train import train

# --- notebook 1: the simple linear model --------------------------------------------------------------


def _sgd_by_hand(data: Datasets, grad_fn, learning_rate: float, steps: int) -> dict[str, np.ndarray]:
    """The first tutorial's training, written out with a chosen ``dlogits`` function."""
    params = models.init_params("linear", dtype=data.train.images.dtype)
    X, Y = data.train.images, one_hot(data.train.labels, dtype=data.train.images.dtype)
    for step in range(steps):
        epoch, i = divmod(step, len(X) // 100)
        if i == 0:  # the batches of the project's training loop: seed 0, one shuffle per epoch
            order = batch_indices(len(X), 100, 0, epoch)
        idx = order[i]
        logits, caches = models.forward(params, X[idx])
        grads, _ = models.backward(grad_fn(logits, Y[idx]), caches)
        for k in params:
            params[k] -= params[k].dtype.type(learning_rate) * grads[k]
    return params


def rate_without_mean(data: Datasets, steps: int = 100) -> dict[str, float]:
    """Notebook 1, exercise 1: without the 1/N, rate 0.5 / N gives back rate 0.5's weights; rate 0.5 does not."""
    right = _sgd_by_hand(data, losses.softmax_cross_entropy_grad, 0.5, steps)
    wrong = bugs.without_mean(losses.softmax_cross_entropy_grad)
    compensated = _sgd_by_hand(data, wrong, 0.5 / 100, steps)
    first_right = _sgd_by_hand(data, losses.softmax_cross_entropy_grad, 0.5, 1)
    first_long = _sgd_by_hand(data, wrong, 0.5, 1)
    too_long = _sgd_by_hand(data, wrong, 0.5, steps)
    return {
        "relative difference at rate 0.005": relative_error(compensated["W1"], right["W1"]),
        "first step at rate 0.5, against 100 x the right one": relative_error(
            first_long["W1"], 100 * first_right["W1"]
        ),
        "largest weight at rate 0.5, over the right run's": float(
            np.abs(too_long["W1"]).max() / np.abs(right["W1"]).max()
        ),
    }


def sparse_changes_nothing(data: Datasets) -> tuple[bool, float, float]:
    """Notebook 1, exercise 2: ``(same weights to the bit, dense accuracy, sparse accuracy)``."""
    dense = train(RunConfig(), data, progress=False)
    sparse = train(RunConfig(loss="sparse_softmax_cross_entropy"), data, progress=False)
    same = all(np.array_equal(dense.params[k], sparse.params[k]) for k in dense.params)
    return same, dense.summary["test_accuracy"], sparse.summary["test_accuracy"]


# --- notebook 2: logistic regression with Adam ---------------------------------------------------------


def wrong_sign_momentum(data: Datasets, steps: int = 50) -> dict[str, list[float]]:
    """Notebook 2, exercise 1: the batch loss of each step, right momentum and wrong-sign momentum."""
    X, Y = data.train.images, one_hot(data.train.labels, dtype=data.train.images.dtype)
    order = batch_indices(len(X), 100, 0, 0)[:steps]
    out = {}
    for name, opt in (("right", SGD(0.05, momentum=0.9)), ("wrong sign", bugs.WrongSignMomentum(0.05))):
        params = models.init_params("linear", dtype=X.dtype)
        out[name] = []
        for idx in order:
            loss, grads = models.loss_and_grads(params, X[idx], Y[idx])
            out[name].append(loss)
            opt.apply(grads, params)
    return out


def paper_epsilon(steps: int = 100, size: float = 1e-7) -> float:
    """Notebook 2, exercise 2: relative difference of Keras' Adam and the paper's after ``steps`` tiny gradients."""
    ours, papers = {"w": np.zeros(4)}, {"w": np.zeros(4)}
    keras_rule, paper_rule = Adam(0.001), bugs.PaperEpsilonAdam(0.001)
    g = size * np.array([1.0, -1.0, 0.5, 2.0])
    for _ in range(steps):
        keras_rule.apply({"w": g}, ours)
        paper_rule.apply({"w": g}, papers)
    return float(np.abs(ours["w"] - papers["w"]).max() / np.abs(ours["w"]).max())


def adam_ignores_scale(steps: int = 10) -> np.ndarray:
    """Notebook 2, exercise 3: how far each weight moved, in units of the rate, for gradients 1e-3 and 1e3."""
    params, opt = {"w": np.zeros(2)}, Adam(0.001)
    for _ in range(steps):
        opt.apply({"w": np.array([1e-3, 1e3])}, params)
    return -params["w"] / 0.001


# --- notebook 3: the perceptron ------------------------------------------------------------------------


def mse(logits: np.ndarray, y: np.ndarray) -> float:
    r"""Mean squared error of the probabilities, :math:`L = \frac{1}{2N}\sum_n \lVert p_n - y_n\rVert^2`."""
    p = losses.softmax(logits)
    return float(0.5 * np.sum((p - y) ** 2) / len(logits))


def mse_grad(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    r""":math:`\partial L/\partial p = (p - y)/N`, then through the softmax Jacobian (the part easy to forget)."""
    p = losses.softmax(logits)
    return losses.softmax_backward((p - y) / len(logits), p)


def mse_gradcheck(data64: Datasets) -> dict[str, float]:
    """Notebook 3, exercise 1: relative error of ``mse_grad``, and of the slip that skips the Jacobian."""
    params = models.init_params("linear", init="normal", std=0.1, seed=0, dtype=np.float64)
    x, y = data64.train.images[:16], one_hot(data64.train.labels[:16], dtype=np.float64)
    logits, _ = models.forward(params, x)
    numeric = numerical_gradient(lambda: mse(logits, y), logits)
    p = losses.softmax(logits)
    return {
        "mse_grad": relative_error(mse_grad(logits, y), numeric),
        "(p - y) / N, no Jacobian": relative_error((p - y) / len(p), numeric),
    }


def mse_training(data: Datasets, rates=(0.5, 2.0)) -> dict[float, float]:
    """Notebook 3, exercise 2: test accuracy after 1000 SGD steps on the squared error, per rate."""
    out = {}
    for rate in rates:
        params = _sgd_by_hand(data, mse_grad, rate, 1000)
        out[rate] = models.accuracy(params, data.test.images, data.test.labels)
    return out


def confidently_wrong() -> dict[str, float]:
    """Notebook 3, exercise 2: each loss's gradient at the true class of a confidently wrong row."""
    z, y = np.array([[10.0, *[0.0] * 9]]), np.eye(10)[[1]]  # class 0 leads by 10; the truth is class 1
    return {
        "cross-entropy": float(losses.softmax_cross_entropy_grad(z, y)[0, 1]),
        "squared error": float(mse_grad(z, y)[0, 1]),
    }


# --- notebook 4: TensorFlow basics ---------------------------------------------------------------------


def largest_finite_gap(naive_loss, dtype) -> float:
    """The largest gap g at which ``naive_loss`` of the logits (0, -g), true class 0, is still finite."""
    y = np.array([[1.0, 0.0]], dtype)
    lo, hi = 0.0, 2000.0
    for _ in range(60):
        mid = (lo + hi) / 2
        with np.errstate(all="ignore"):
            finite = np.isfinite(float(naive_loss(np.array([[0.0, -mid]], dtype), y)))
        lo, hi = (mid, hi) if finite else (lo, mid)
    return lo


def naive_limits_float64() -> dict[str, float]:
    """Notebook 4, exercise 1: where each twin's naive loss stops being finite in float64."""
    import tfimpl.losses as tf_losses

    return {
        "scratch": largest_finite_gap(losses.naive_cross_entropy, np.float64),
        "tfimpl": largest_finite_gap(tf_losses.naive_cross_entropy, np.float64),
    }


def one_naive_step(data: Datasets) -> dict[str, float]:
    """Notebook 4, exercise 2: the share of NaN weights after one naive step and after one stable step."""
    x, labels = data.train.images[:100], data.train.labels[:100]
    out = {}
    for loss in ("naive_cross_entropy", "softmax_cross_entropy"):
        params = models.init_params("linear", dtype=x.dtype)
        params["b1"][9] = -200  # class 9 trails every other class by 200: its probability underflows to 0
        with np.errstate(all="ignore"):
            _, grads = models.loss_and_grads(params, x, labels, loss=loss)
        SGD(0.5).apply(grads, params)
        out[loss] = float(np.mean(np.isnan(params["W1"])))
    return out


# --- notebook 5: understanding TensorFlow with MNIST ---------------------------------------------------


def tutorial_inverse(steps: int = 100_000) -> float:
    """Notebook 5, exercise 1: X B = I for the 0..9 matrix of the notebook, the tutorial's step count."""
    B = np.random.default_rng(0).integers(0, 10, (10, 10)).astype(np.float64)
    X = learn_inverse(B.T, steps=steps)[0].T  # X B = I is B^T X^T = I
    return float(np.abs(X - np.linalg.inv(B)).max())


def inverse_with_decaying_sgd(steps: int = 5000) -> dict[str, float]:
    """Notebook 5, exercise 1: plain gradient descent on sum |AX - I| with rate 0.01/sqrt(t), against Adagrad."""
    A = random_integer_matrix()
    eye, X = np.eye(len(A)), np.zeros_like(A)
    for t in range(1, steps + 1):
        X -= 0.01 / np.sqrt(t) * (A.T @ np.sign(A @ X - eye))
    adagrad, _ = learn_inverse(A, steps=steps)
    inverse = np.linalg.inv(A)
    return {"decaying SGD": float(np.abs(X - inverse).max()), "Adagrad": float(np.abs(adagrad - inverse).max())}


def optimal_inputs_without_penalty(params: dict[str, np.ndarray]) -> dict[str, float]:
    """Notebook 5, exercise 2: the optimal inputs' largest pixel and mean own logit, with and without the penalty."""
    out = {}
    for l2 in (0.25, 0.0):
        images, logits = optimal_inputs(params, l2=l2)
        out[f"l2 {l2}: largest |pixel|"] = float(np.abs(images).max())
        out[f"l2 {l2}: mean own logit"] = float(np.mean(np.diag(logits)))
    return out


# --- notebook 6: backpropagation by hand ---------------------------------------------------------------


def mlp_gradcheck(data64: Datasets, activation: str = "relu", backward=None, samples: int = 40) -> float:
    """Notebook 6, exercises 1 and 2: the four backward steps with a chosen activation backward, checked.

    Returns the relative error of ``dW1`` against central differences on ``samples`` entries.
    """
    forward_act, backward_act = layers.ACTIVATIONS[activation]
    backward_act = backward or backward_act
    rng = np.random.default_rng(0)
    W1, b1 = rng.normal(0, 0.05, (784, 32)), np.zeros(32)
    W2, b2 = rng.normal(0, 0.05, (32, 10)), np.zeros(10)
    x, y = data64.train.images[:4], one_hot(data64.train.labels[:4], dtype=np.float64)

    def loss() -> float:
        h, _ = forward_act(x @ W1 + b1)
        return losses.softmax_cross_entropy(h @ W2 + b2, y)

    a, _ = layers.dense_forward(x, W1, b1)
    h, act_cache = forward_act(a)
    z, cache2 = layers.dense_forward(h, W2, b2)
    dh, _, _ = layers.dense_backward(losses.softmax_cross_entropy_grad(z, y), cache2)
    _, dW1, _ = layers.dense_backward(backward_act(dh, act_cache), (x, W1), need_dx=False)
    idx = rng.choice(np.flatnonzero(x.any(axis=0).repeat(32)), size=samples, replace=False)  # inked pixels
    return relative_error(dW1.reshape(-1)[idx], numerical_gradient(loss, W1, indices=idx))


def lockstep_gap(data: Datasets, activation: str, steps: int = 550, every=(1, 10, 50, 100, 200)) -> dict:
    """Notebook 6, exercise 3: scratch and tfimpl trained side by side in float32 from the same start.

    Returns, after ``steps`` batches and at each step of ``every``, the parameters' relative gap
    (``compare``'s max-norm form) and how many hidden pre-activations had had different signs in the two
    twins (a *ReLU flip* where the activation is ReLU) on the batches they trained on.
    """
    import tfimpl.optimizers as tf_optimizers
    import tfimpl.train as tf_train
    from tfimpl.backend import tf
    from tfimpl.bridge import to_numpy, to_variables
    from tfimpl.device import exact_float32

    X, Y = data.train.images, one_hot(data.train.labels)
    mine = models.init_params("mlp", init="normal", seed=0)  # the lockstep recipe of compare: 784-300-10
    variables, flips = to_variables(mine), 0
    ours, theirs = SGD(0.1), tf_optimizers.make_optimizer("sgd", 0.1)
    theirs.build(list(variables.values()))
    with exact_float32():  # IEEE float32 on any device, as compare runs it

        @tf.function(input_signature=[tf.TensorSpec([100, 784]), tf.TensorSpec([100, 10])])
        def tf_step(x, y):
            return tf_train.train_step(variables, theirs, x, y, activation=activation)

        history = {}
        for step, idx in enumerate(batch_indices(len(X), 100, 0, 0)[:steps], start=1):
            logits, caches = models.forward(mine, X[idx], activation=activation)  # train_step, written out
            on_ours = caches[0][1] > 0  # the hidden outputs: positive exactly where the pre-activations are
            on_theirs = X[idx] @ variables["W1"].numpy() + variables["b1"].numpy() > 0
            flips += int(np.sum(on_ours != on_theirs))
            dlogits = losses.softmax_cross_entropy_grad(logits, Y[idx])
            grads, _ = models.backward(dlogits, caches, activation=activation)
            ours.apply(grads, mine)
            tf_step(X[idx], Y[idx])
            if step in every or step == steps:
                a, b = (np.concatenate([p[k].ravel() for k in p]) for p in (mine, to_numpy(variables)))
                history[step] = (float(np.abs(a - b).max() / (np.abs(a).max() + np.abs(b).max())), flips)
    return {"relative gap": history[steps][0], "sign flips": flips, "by step": history}


def main(argv: list[str] | None = None) -> int:
    """Run the named solutions (all by default) and print what each returns."""
    import argparse

    from common.data import load_mnist

    parser = argparse.ArgumentParser(prog="python notebooks/solutions.py", description="the exercises' solutions")
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help="a solution's printed name, or part of it (default: all)"
    )
    args = parser.parse_args(argv)
    data, data64 = load_mnist(), load_mnist(dtype=np.float64)
    runs = {
        "rate_without_mean": lambda: rate_without_mean(data),
        "sparse_changes_nothing": lambda: sparse_changes_nothing(data),
        "wrong_sign_momentum (first, last loss)": lambda: {
            k: (v[0], v[-1]) for k, v in wrong_sign_momentum(data).items()
        },
        "paper_epsilon": paper_epsilon,
        "adam_ignores_scale": adam_ignores_scale,
        "mse_gradcheck": lambda: mse_gradcheck(data64),
        "mse_training": lambda: mse_training(data),
        "confidently_wrong": confidently_wrong,
        "naive_limits_float64": naive_limits_float64,
        "one_naive_step": lambda: one_naive_step(data),
        "tutorial_inverse": tutorial_inverse,
        "inverse_with_decaying_sgd": inverse_with_decaying_sgd,
        "optimal_inputs_without_penalty": lambda: optimal_inputs_without_penalty(
            train(
                replace(RunConfig(model="mlp", loss="clipped_binary_cross_entropy"), steps=550), data, progress=False
            ).params
        ),
        "mlp_gradcheck relu": lambda: mlp_gradcheck(data64),
        "mlp_gradcheck relu without mask": lambda: mlp_gradcheck(data64, backward=bugs.relu_backward_without_mask),
        "mlp_gradcheck sigmoid": lambda: mlp_gradcheck(data64, "sigmoid"),
        "lockstep_gap relu": lambda: lockstep_gap(data, "relu"),
        "lockstep_gap tanh": lambda: lockstep_gap(data, "tanh"),
    }
    for name, solve in runs.items():
        if not args.names or any(n in name for n in args.names):
            print(f"{name}: {solve()}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
