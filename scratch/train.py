r"""Training: mini-batch SGD (or momentum, Adagrad, Adam) over MNIST, by hand.

:func:`train_step` is the whole idea in two lines: loss and gradients, then the optimizer's update.
:func:`train` is the loop, written out: for each epoch, for each shuffled batch, one step. The
bookkeeping it calls (the batches, history rows, the divergence watch, the clock, the progress bar) is
:class:`common.runs.RunLog`, shared with :mod:`tfimpl.train`, so a NumPy run and a TensorFlow run with
the same seed see the same batches in the same order and log the same rows.
"""

from __future__ import annotations

import numpy as np

from common.config import RunConfig
from common.data import Datasets, load_mnist
from common.errors import InputTypeError
from common.labels import targets
from common.runs import RunLog, TrainResult, make_summary
from common.spec import CNN, LOSS_FORMS

from . import conv, models
from .optimizers import make_optimizer

__all__ = ["train_step", "train"]


def train_step(params, optimizer, x, y, *, loss="softmax_cross_entropy", l2=0.0, activation="relu", mask=None) -> float:
    r"""One step of gradient descent: :math:`\theta \leftarrow \text{update}(\theta, \nabla_\theta J)`.

    Parameters
    ----------
    params : dict, updated in place
    optimizer : a :mod:`scratch.optimizers` optimizer
    x : (B, 784) array
    y : (B,) class ids or (B, 10) one-hot rows
    mask : (B, 128) array, optional
        The CNN's dropout mask for this step (:func:`scratch.conv.dropout_mask`).

    Returns
    -------
    float
        The batch loss *before* the update.
    """
    value, grads = models.loss_and_grads(params, x, y, loss=loss, l2=l2, activation=activation, mask=mask)
    optimizer.apply(grads, params)
    return value


def train(config: RunConfig, data: Datasets | None = None, *, progress: bool = True, initial_params=None):
    """Train the configured model with NumPy; returns a :class:`common.runs.TrainResult`.

    ``initial_params`` (a parameter dict, copied) replaces the initialiser, e.g. to start both packages
    from identical weights.
    """
    dtype = np.dtype(config.dtype)
    data = load_mnist(config.data_dir, dtype=dtype) if data is None else data
    if data.train.images.dtype != dtype:
        raise InputTypeError(f"the data is {data.train.images.dtype} but the run is {dtype}; load_mnist(dtype={dtype})")
    if initial_params is None:
        params = models.init_params(
            config.model, hidden=config.hidden, init=config.init, std=config.init_std, seed=config.seed, dtype=dtype
        )
    else:
        params = {k: np.array(v, dtype=dtype) for k, v in initial_params.items()}
    optimizer = make_optimizer(config.optimizer, config.learning_rate, momentum=config.momentum)
    X, labels = data.train.images, data.train.labels  # (55000, 784), (55000,)
    T = targets(labels, LOSS_FORMS[config.loss], len(labels), dtype)  # the loss's label form, made once
    kw = {"loss": config.loss, "l2": config.l2, "activation": config.activation}
    drops = np.random.default_rng([config.seed, 1]) if config.dropout else None  # the masks' own stream

    def score(split):  # (loss, accuracy) on a whole split, no L2 term
        return models.evaluate(params, split.images, split.labels, loss=config.loss, activation=config.activation)

    with RunLog(config, len(X), progress=progress, desc=f"scratch {config.model}") as run:
        for epoch in range(run.epochs):
            for idx in run.batches(epoch):  # idx: (B,) this batch's example ids
                mask = (
                    conv.dropout_mask(drops, (len(idx), CNN["dense"]), config.dropout, dtype)
                    if drops is not None
                    else None
                )
                loss = train_step(params, optimizer, X[idx], T[idx], mask=mask, **kw)
                if run.record(loss):  # checks the loss for divergence; True when a history row is due
                    run.log(batch_accuracy=models.accuracy(params, X[idx], labels[idx], activation=config.activation))
            run.validate(*score(data.validation))
    stats = run.stats(*score(data.test))
    summary = make_summary("scratch", config, stats, device="cpu", versions={"numpy": np.__version__})
    return TrainResult(params=params, history=run.history, summary=summary)
