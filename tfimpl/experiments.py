r"""The experiments of :mod:`scratch.experiments` with ``tf.GradientTape`` and Keras' optimizers.

The derivations are in :mod:`scratch.experiments`; here TensorFlow differentiates. ``python -m tfimpl
plots`` runs both versions and prints how far apart they end.
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
from .backend import tf
from .compiled import make_train_function
from .optimizers import Adagrad, make_optimizer
from .train import train, train_step

__all__ = ["optimal_inputs", "learn_inverse", "weight_snapshots", "run_experiment"]


def optimal_inputs(params, *, l2=0.25, steps=300, learning_rate=0.1, activation="relu"):
    """Gradient descent on the input of ``-z_k(x) + l2 * ||x||^2``, the gradient from ``tf.GradientTape``.

    See :func:`scratch.experiments.optimal_inputs` for the derivation.
    """
    rules.check_nonnegative("l2", l2)
    rules.check_positive_int("steps", steps)
    rules.check_rate("learning_rate", learning_rate)
    variables = {k: tf.constant(v) for k, v in params.items()}
    dtype = variables["W1"].dtype
    x = tf.Variable(initial_value=tf.zeros((10, 784), dtype))  # (10, 784): one image per digit
    target = tf.one_hot(tf.range(10), 10, dtype=dtype)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            logits, _ = models.forward(variables, x, activation=activation)
            objective = -tf.reduce_sum(logits * target) + l2 * tf.reduce_sum(x * x)
        x.assign_sub(learning_rate * tape.gradient(objective, x))

    for _ in range(steps):
        step()
    logits, _ = models.forward(variables, x, activation=activation)
    return x.numpy(), logits.numpy()


def learn_inverse(A, *, steps=5000, learning_rate=0.01):
    """``X ~ inv(A)`` by Keras' Adagrad on ``sum |A X - I|``, gradients from ``tf.GradientTape``.

    See :func:`scratch.experiments.learn_inverse` for the subgradient and why Adagrad settles.
    """
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise UserError(f"A must be square, got shape {A.shape}")
    A_t, eye = tf.constant(A), tf.eye(len(A), dtype=tf.float64)
    X = tf.Variable(tf.zeros_like(A_t))
    opt = Adagrad(learning_rate=learning_rate)
    opt.build([X])

    @tf.function
    def run(n):
        losses = tf.TensorArray(tf.float64, size=n)
        for t in tf.range(n):
            with tf.GradientTape() as tape:
                l1 = tf.reduce_sum(tf.abs(A_t @ X - eye))  # sum |A X - I|
            opt.apply([tape.gradient(l1, X)], [X])
            losses = losses.write(t, l1)
        return losses.stack()

    losses = run(tf.constant(steps))
    return X.numpy(), losses.numpy()


def weight_snapshots(
    data: Datasets, steps: Sequence[int] = (0, 1, 10, 1000), *, learning_rate: float = 0.5, seed: int = 0
):
    """The first tutorial's linear model, trained with TensorFlow, at each step in ``steps``.

    See :func:`scratch.experiments.weight_snapshots`; the schedule is :func:`common.experiments.snapshots_at`.
    """
    params = models.init_params("linear", init="zeros", dtype=data.train.images.dtype)
    opt = make_optimizer("sgd", learning_rate)
    opt.build(list(params.values()))
    X, T = tf.constant(data.train.images), tf.constant(one_hot(data.train.labels, dtype=data.train.images.dtype))
    # the batches between two snapshots as one graph call, as tfimpl.train runs its steps
    run_steps = make_train_function(lambda x, y: train_step(params, opt, x, y), X, T, 100)
    return registry.snapshots_at(
        steps,
        len(data.train),
        seed,
        train_batches=run_steps,
        snapshot=lambda: (params["W1"].numpy(), models.accuracy(params, data.test.images, data.test.labels)),
    )


def run_experiment(name, data, *, base: RunConfig | None = None, progress=False):
    """One experiment of :data:`common.experiments.EXPERIMENTS`, trained with :func:`tfimpl.train.train`."""
    return registry.run_experiment(train, name, data, base=base, progress=progress)
