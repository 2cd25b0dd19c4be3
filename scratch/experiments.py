r"""The tutorials' side experiments, by hand: optimal input images, a matrix inverse learned by Adagrad,
the linear model's weights as training goes, and the first tutorial's "what if" runs.

:mod:`tfimpl.experiments` does the same with ``tf.GradientTape`` and Keras' optimizers. The registry of
"what if" runs and the snapshot schedule are shared, in :mod:`common.experiments`.
``python -m scratch plots`` and ``python -m scratch experiment`` drive them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from common import experiments as registry
from common import rules
from common.config import RunConfig
from common.data import Datasets
from common.errors import UserError
from common.labels import one_hot

from . import models
from .optimizers import Adagrad, make_optimizer
from .train import train, train_step

__all__ = ["optimal_inputs", "learn_inverse", "weight_snapshots", "run_experiment"]


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
    rules.check_nonnegative("l2", l2)
    rules.check_positive_int("steps", steps)
    rules.check_rate("learning_rate", learning_rate)
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
        raise UserError(f"A must be square, got shape {A.shape}")
    eye = np.eye(len(A))
    params = {"X": np.zeros_like(A)}
    opt = Adagrad(learning_rate)
    losses = np.empty(steps)
    for t in range(steps):
        residual = A @ params["X"] - eye  # (n, n)
        losses[t] = np.abs(residual).sum()
        opt.apply({"X": A.T @ np.sign(residual)}, params)
    return params["X"], losses


def weight_snapshots(
    data: Datasets, steps: Sequence[int] = (0, 1, 10, 1000), *, learning_rate: float = 0.5, seed: int = 0
) -> list[tuple[int, np.ndarray, float]]:
    """The first tutorial's linear model (zeros, SGD, batch 100) at each step in ``steps``.

    Returns ``(step, W1 copy (784, 10), test accuracy)`` for each: 9.80%, 24.9%, 71.5% and 91.6% with
    seed 0 (the tutorial, with its own batch order, shows about 40% and 79% after 1 and 10 steps).
    """
    params = models.init_params("linear", init="zeros", dtype=data.train.images.dtype)
    opt = make_optimizer("sgd", learning_rate)
    X, T = data.train.images, one_hot(data.train.labels, dtype=data.train.images.dtype)
    return registry.snapshots_at(
        steps,
        len(X),
        seed,
        train_batches=lambda idx: [train_step(params, opt, X[rows], T[rows]) for rows in idx],  # a step a batch
        snapshot=lambda: (params["W1"].copy(), models.accuracy(params, data.test.images, data.test.labels)),
    )


def run_experiment(name: str, data: Datasets, *, base: RunConfig | None = None, progress: bool = False):
    """One experiment of :data:`common.experiments.EXPERIMENTS`, trained by hand: ``[(label, accuracy, loss)]``."""
    return registry.run_experiment(train, name, data, base=base, progress=progress)
