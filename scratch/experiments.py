r"""The tutorials' side experiments, by hand: optimal input images, a matrix inverse learned by Adagrad,
the linear model's weights as training goes, and the first tutorial's "what if" runs.

:mod:`tfimpl.experiments` does the first two with ``tf.GradientTape`` and Keras' Adagrad;
``python -m scratch plots`` and ``python -m scratch experiment`` drive them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from . import models
from .config import RunConfig
from .data import Datasets, batch_indices, one_hot
from .optimizers import Adagrad, make_optimizer
from .train import train, train_step

__all__ = [
    "EXPERIMENTS",
    "learn_inverse",
    "optimal_inputs",
    "resolve_seed",
    "run_experiment",
    "weight_snapshots",
]


def optimal_inputs(
    params: dict[str, np.ndarray],
    *,
    l2: float = 0.25,
    steps: int = 300,
    learning_rate: float = 0.1,
    activation: str = "relu",
) -> tuple[np.ndarray, np.ndarray]:
    r"""For each class :math:`k`, the input the model scores highest, by gradient descent on the input.

    .. math::

        x_k^\star = \arg\min_x \; -z_k(x) + \lambda \lVert x \rVert_2^2, \qquad
        \nabla_x = -\frac{\partial z_k}{\partial x} + 2 \lambda x

    starting from zeros, with plain gradient descent. Without the penalty the logit grows without bound
    by pushing pixels to extremes; :math:`\lambda = 0.25` keeps the images readable.
    :func:`scratch.models.input_grad` backpropagates to the pixels (``need_dx=True``).

    Returns
    -------
    images : (10, 784) array
    logits : (10, 10) array, the final logits of each image
    """
    if not (l2 >= 0 and steps > 0 and learning_rate > 0):
        raise ValueError(f"need l2 >= 0, steps > 0, learning_rate > 0; got {l2}, {steps}, {learning_rate}")
    dtype = params["W1"].dtype
    x = np.zeros((10, 784), dtype=dtype)
    for _ in range(steps):
        _, dz = models.input_grad(params, x, activation=activation)  # (10, 784): d z_kk / d x_k
        x -= dtype.type(learning_rate) * (-dz + dtype.type(2 * l2) * x)
    logits, _ = models.forward(params, x, activation=activation)
    return x, logits


def learn_inverse(A: np.ndarray, *, steps: int = 5000, learning_rate: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    r"""Learn :math:`X \approx A^{-1}` with Adagrad on the L1 loss :math:`\sum_{ij} |(AX - I)_{ij}|`.

    The L1 loss has the subgradient :math:`\partial L / \partial X = A^\top \operatorname{sign}(AX - I)`
    (``sign(0) = 0``, as TensorFlow's ``abs`` gradient). Its magnitude never shrinks near the optimum, so
    plain SGD would bounce at a fixed distance; Adagrad's per-entry rates shrink like
    :math:`1/\sqrt{t}` and let it settle. Starts from zeros.

    Returns
    -------
    X : (n, n) array
    losses : (steps,) array, the L1 loss before each step
    """
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"A must be square, got shape {A.shape}")
    eye = np.eye(len(A))
    params = {"X": np.zeros_like(A)}
    opt = Adagrad(learning_rate)
    losses = np.empty(steps)
    for t in range(steps):
        residual = A @ params["X"] - eye  # (n, n)
        losses[t] = np.abs(residual).sum()
        opt.apply({"X": A.T @ np.sign(residual)}, params)
    return params["X"], losses


def random_integer_matrix(n: int = 10, seed: int = 0) -> np.ndarray:
    """A well-conditioned random integer matrix: entries in [-9, 9], re-drawn until cond(A) < 100."""
    rng = np.random.default_rng(seed)
    while True:
        A = rng.integers(-9, 10, (n, n)).astype(np.float64)
        if np.linalg.cond(A) < 100:
            return A


def weight_snapshots(
    data: Datasets, steps: Sequence[int] = (0, 1, 10, 1000), *, learning_rate: float = 0.5, seed: int = 0
) -> list[tuple[int, np.ndarray, float]]:
    """The first tutorial's linear model (zeros, SGD, batch 100) at each step in ``steps``.

    Returns ``(step, W1 copy (784, 10), test accuracy)`` for each; 9.8%, about 40%, 79% and 92%.
    """
    params = models.init_params("linear", init="zeros", dtype=data.train.images.dtype)
    opt = make_optimizer("sgd", learning_rate)
    X, T = data.train.images, one_hot(data.train.labels, dtype=data.train.images.dtype)
    return snapshots_at(
        steps,
        len(X),
        seed,
        train_batch=lambda idx: train_step(params, opt, X[idx], T[idx]),
        snapshot=lambda: (params["W1"].copy(), models.accuracy(params, data.test.images, data.test.labels)),
    )


def snapshots_at(steps: Sequence[int], n_train: int, seed: int, *, train_batch, snapshot, batch_size: int = 100):
    """Train batch by batch (the training loop's shuffled batches) and take ``snapshot()`` at each of ``steps``.

    The schedule shared by both packages' :func:`weight_snapshots`: ``train_batch(idx)`` runs one step on
    the examples ``idx``. Returns ``[(step, *snapshot()), ...]`` in increasing step order.
    """
    per_epoch = n_train // batch_size
    out, done, epoch, batches = [], 0, None, None
    for target in sorted(steps):
        while done < target:
            e, i = divmod(done, per_epoch)
            if e != epoch:  # one permutation per epoch, not one per step
                epoch, batches = e, batch_indices(n_train, batch_size, seed, e)
            train_batch(batches[i])
            done += 1
        out.append((done, *snapshot()))
    return out


#: The first tutorial's experiments: name -> (what it asks, list of (label, config changes)).
EXPERIMENTS = {
    "learning-rate": (
        "How does the learning rate change the result of 1000 SGD steps?",
        [(f"lr {lr}", {"learning_rate": lr}) for lr in (0.005, 0.05, 0.5, 5.0)],
    ),
    "optimizer": (
        "SGD, Adagrad and Adam, each at a rate that suits it, 1000 steps",
        [
            ("sgd lr 0.5", {}),
            ("adagrad lr 0.5", {"optimizer": "adagrad"}),
            ("adam lr 0.005", {"optimizer": "adam", "learning_rate": 0.005}),
        ],
    ),
    "batch-size": (
        "Batches of 1 and of 1000 against 100 (1000 steps each, so 1000 vs 1,000,000 images seen)",
        [
            ("batch 1, lr 0.005", {"batch_size": 1, "learning_rate": 0.005}),
            ("batch 100", {}),
            ("batch 1000", {"batch_size": 1000}),
        ],
    ),
    "loss": (
        "Sparse against dense cross-entropy: the same numbers, from class ids or one-hot rows",
        [("dense (one-hot)", {}), ("sparse (class ids)", {"loss": "sparse_softmax_cross_entropy"})],
    ),
    "seed": (
        "Random init: a fixed seed twice gives the same result; no fixed seed gives a different one each run",
        [
            ("seed 0", {"seed": 0, "init": "normal"}),
            ("seed 0 again", {"seed": 0, "init": "normal"}),
            ("no fixed seed", {"seed": None, "init": "normal"}),
            ("no fixed seed again", {"seed": None, "init": "normal"}),
        ],
    ),
}


def run_experiment(name: str, data: Datasets, *, base: RunConfig | None = None, progress: bool = False):
    """Run one experiment of :data:`EXPERIMENTS`: ``[(label, test accuracy, final train loss), ...]``."""
    return run_with(train, name, data, base=base, progress=progress)


def run_with(train_fn, name: str, data: Datasets, *, base: RunConfig | None = None, progress: bool = False):
    """:func:`run_experiment` with any package's ``train(config, data, progress=...)``; tfimpl passes its own."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {sorted(EXPERIMENTS)}")
    base = base or RunConfig()
    results = []
    for label, changes in EXPERIMENTS[name][1]:
        changes = resolve_seed(changes)
        if "seed" in changes and label.startswith("no fixed seed"):
            label = f"{label} (drew {changes['seed']})"
        s = train_fn(replace(base, **changes), data, progress=progress).summary
        results.append((label, s["test_accuracy"], s["final_train_loss"]))
    return results


def resolve_seed(changes: dict) -> dict:
    """``seed: None`` means "no fixed seed": draw one from the OS's entropy (printed, so it can be rerun)."""
    if "seed" in changes and changes["seed"] is None:
        return {**changes, "seed": int(np.random.SeedSequence().entropy % 2**31)}
    return changes
