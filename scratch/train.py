r"""Training: mini-batch SGD (or momentum, Adagrad, Adam) over MNIST, by hand.

:func:`train_step` is the whole idea in two lines: loss and gradients, then the optimizer's update.
:func:`train` hands it to the loop every run shares (:func:`common.runs.run_loop`: shuffling, batching,
logging, validation, the divergence stop, the timings), so a NumPy run and a TensorFlow run with the
same seed see the same batches in the same order.
"""

from __future__ import annotations

import numpy as np

from common.config import RunConfig
from common.data import Datasets, load_mnist
from common.labels import targets
from common.runs import TrainResult, make_summary, run_loop
from common.spec import LOSS_FORMS

from . import models
from .optimizers import make_optimizer

__all__ = ["train_step", "train"]


def train_step(params, optimizer, x, y, *, loss="softmax_cross_entropy", l2=0.0, activation="relu") -> float:
    r"""One step of gradient descent: :math:`\theta \leftarrow \text{update}(\theta, \nabla_\theta J)`.

    Parameters
    ----------
    params : dict, updated in place
    optimizer : a :mod:`scratch.optimizers` optimizer
    x : (B, 784) array
    y : (B,) class ids or (B, 10) one-hot rows

    Returns
    -------
    float
        The batch loss *before* the update.
    """
    value, grads = models.loss_and_grads(params, x, y, loss=loss, l2=l2, activation=activation)
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
        raise TypeError(f"the data is {data.train.images.dtype} but the run is {dtype}; load_mnist(dtype={dtype})")
    if initial_params is None:
        params = models.init_params(
            config.model, hidden=config.hidden, init=config.init, std=config.init_std, seed=config.seed, dtype=dtype
        )
    else:
        params = {k: np.array(v, dtype=dtype) for k, v in initial_params.items()}
    optimizer = make_optimizer(config.optimizer, config.learning_rate, momentum=config.momentum)
    X, labels = data.train.images, data.train.labels
    T = targets(labels, LOSS_FORMS[config.loss], len(labels), dtype)  # converted once, not once per step
    kw = {"loss": config.loss, "l2": config.l2, "activation": config.activation}

    def run_steps(idx: np.ndarray) -> np.ndarray:  # idx: (k, B)
        return np.array([train_step(params, optimizer, X[i], T[i], **kw) for i in idx])

    def evaluate(split: str) -> tuple[float, float]:
        s = getattr(data, split)
        return models.evaluate(params, s.images, s.labels, loss=config.loss, activation=config.activation)

    def batch_accuracy(i: np.ndarray) -> float:
        return models.accuracy(params, X[i], labels[i], activation=config.activation)

    history, stats = run_loop(
        config,
        data,
        run_steps=run_steps,
        evaluate=evaluate,
        batch_accuracy=batch_accuracy,
        steps_per_call=25,  # the loop's own cost (checks, progress) shared by 25 steps; each loss still checked
        progress=progress,
        desc=f"scratch {config.model}",
    )
    summary = make_summary("scratch", config, stats, device="cpu", versions={"numpy": np.__version__})
    return TrainResult(params=params, history=history, summary=summary)
