r"""The ``train`` and ``crossload`` families: both twins trained side by side, then each other's parameters.

:func:`lockstep` trains :mod:`scratch` and :mod:`tfimpl` step by step through their public ``train_step``,
from identical parameters on identical batches (:func:`common.data.batch_indices`), and
:func:`lockstep_rows` compares the losses at every step, the final parameters and the test predictions.
:func:`crossload_rows` evaluates the parameters each twin trained in both twins. The tolerances, and
why float32 gets 1e-3 after 550 steps, are in :mod:`compare.checks`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import scratch.models as np_models
import scratch.optimizers as np_optimizers
import scratch.train as np_train
import tfimpl.models as tf_models
import tfimpl.optimizers as tf_optimizers
import tfimpl.train as tf_train
from common.data import Datasets, batch_indices
from common.labels import one_hot
from common.rows import Row
from tfimpl.backend import tf
from tfimpl.bridge import to_numpy, to_variables

from .checks import DTYPES, MODELS, TOLERANCES, concat, count_row, row

__all__ = ["LOCKSTEP_RECIPES", "Lockstep", "crossload_rows", "lockstep", "lockstep_rows", "train_rows"]


LOCKSTEP_RECIPES = {
    "linear": {"init": "zeros", "learning_rate": 0.5},  # the first tutorial
    "mlp": {"init": "normal", "learning_rate": 0.1},  # 784-300-10, normal(0.03)
}


@dataclass
class Lockstep:
    """Both packages trained side by side on identical batches from identical parameters."""

    model: str
    dtype: str
    losses_np: np.ndarray  # (steps,)
    losses_tf: np.ndarray  # (steps,)
    params_np: dict
    params_tf: dict


def lockstep(
    data: Datasets,
    model: str,
    dtype: str,
    *,
    epochs: int = 1,
    steps: int | None = None,
    batch_size: int = 100,
    seed: int = 0,
    swap=None,
) -> Lockstep:
    """Train scratch and tfimpl step by step through their public ``train_step``.

    ``steps`` stops after that many steps, in as many epochs as they take, instead of at the end of
    ``epochs``. ``swap=(i, j)`` feeds TensorFlow batches ``i`` and ``j`` in the opposite order (the
    negative control, which needs only the first few steps to show).
    """
    recipe = LOCKSTEP_RECIPES[model]
    params0 = np_models.init_params(model, init=recipe["init"], seed=seed, dtype=dtype)
    mine = {k: v.copy() for k, v in params0.items()}
    variables = to_variables(params0)
    opt_np = np_optimizers.make_optimizer("sgd", recipe["learning_rate"])
    opt_tf = tf_optimizers.make_optimizer("sgd", recipe["learning_rate"])
    opt_tf.build(list(variables.values()))
    X, Y = data.train.images, one_hot(data.train.labels, dtype=dtype)  # X cast batch by batch, not copied whole
    if steps is not None:
        epochs = -(-steps // (len(X) // batch_size))

    @tf.function(input_signature=[tf.TensorSpec([batch_size, 784], dtype), tf.TensorSpec([batch_size, 10], dtype)])
    def tf_step(x, y):
        return tf_train.train_step(variables, opt_tf, x, y)

    losses_np, losses_tf = [], []
    for epoch in range(epochs):
        order = batch_indices(len(X), batch_size, seed, epoch)[: None if steps is None else steps - len(losses_np)]
        order_tf = order.copy()
        if swap is not None and epoch == 0:
            i, j = swap
            order_tf[[i, j]] = order_tf[[j, i]]
        for idx_np, idx_tf in zip(order, order_tf, strict=True):
            losses_np.append(np_train.train_step(mine, opt_np, X[idx_np].astype(dtype, copy=False), Y[idx_np]))
            losses_tf.append(float(tf_step(X[idx_tf].astype(dtype, copy=False), Y[idx_tf])))
    return Lockstep(model, dtype, np.array(losses_np), np.array(losses_tf), mine, to_numpy(variables))


def lockstep_rows(run: Lockstep, data: Datasets) -> list[Row]:
    """Per-step loss difference, final parameter difference, and the test predictions and accuracies of both."""
    dtype, model = run.dtype, run.model
    x = data.test.images.astype(dtype, copy=False)
    pred_np = np_models.predict(run.params_np, x)
    pred_tf = tf_models.predict(to_variables(run.params_tf), x).numpy()
    acc_np = float(np.mean(pred_np == data.test.labels))
    acc_tf = float(np.mean(pred_tf == data.test.labels))
    differing = int(np.sum(pred_np != pred_tf))
    steps = len(run.losses_np)
    note = f"test accuracy scratch {acc_np:.2%}, tfimpl {acc_tf:.2%}; {differing} of {len(x)} predictions differ"
    tol = TOLERANCES[("lockstep", dtype)]
    rows = [
        row(f"{model}: the loss at each of {steps} steps", dtype, run.losses_np, run.losses_tf, tol, family="train"),
        row(f"{model}: final parameters", dtype, concat(run.params_np), concat(run.params_tf), tol, family="train"),
    ]
    if dtype == "float64":
        tol = TOLERANCES[("predictions differing", dtype)]
        rows.append(
            count_row(f"{model}: test predictions that differ", dtype, differing, len(x), tol, note, family="train")
        )
    else:
        gap = abs(acc_np - acc_tf)
        tol = TOLERANCES[("accuracy gap", dtype)]
        passed = gap <= tol + 1e-12
        rows.append(Row(f"{model}: test accuracy gap", dtype, gap, gap, tol, passed, note, family="train"))
    return rows


def train_rows(data: Datasets, dtypes=DTYPES, runs: dict | None = None, steps: int | None = None) -> list[Row]:
    """Lockstep training for both models and both dtypes: one epoch, or ``steps`` steps. ``runs`` collects the
    :class:`Lockstep` s."""
    rows = []
    for dtype in dtypes:
        for model in MODELS:
            run = lockstep(data, model, dtype, steps=steps)
            if runs is not None:
                runs[(model, dtype)] = run
            rows += lockstep_rows(run, data)
    return rows


def crossload_rows(data: Datasets, runs: dict) -> list[Row]:
    """Parameters trained by one package, evaluated in the other: the same predictions."""
    rows = []
    for (model, dtype), run in runs.items():
        x = data.test.images.astype(dtype, copy=False)
        for trained_by, params in (("scratch", run.params_np), ("tfimpl", run.params_tf)):
            pred_np = np_models.predict(params, x)
            pred_tf = tf_models.predict(to_variables(params), x).numpy()
            differing = int(np.sum(pred_np != pred_tf))
            tol = TOLERANCES[("predictions differing", dtype)]
            note = f"accuracy {np.mean(pred_np == data.test.labels):.2%} in both" if differing == 0 else ""
            check = f"{model} trained by {trained_by}: test predictions that differ"
            rows.append(count_row(check, dtype, differing, len(x), tol, note, family="crossload"))
    return rows
