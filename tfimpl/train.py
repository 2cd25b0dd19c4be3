r"""Training as TensorFlow graphs: one ``tf.function`` that runs ``k`` train steps per call.

The bookkeeping (shuffling, batching, logging, validation, the NaN stop) is :func:`scratch.train.run_loop`,
shared with the NumPy package, so both see the same batches in the same order. What differs is inside:

* The whole training set is put on the device once; each call receives only a ``(k, B)`` tensor of
  example indices and gathers its batches there (no Python lists, no host-to-device copy per step).
* The step function is traced once (``input_signature`` with ``k`` left as ``None``) and never retraced
  across steps or epochs; ``steps_per_call`` > 1 runs a ``tf.range`` loop inside the graph, like
  Keras' ``steps_per_execution``, to cut the Python overhead per step.
* ``xla=True`` compiles the graph with XLA (``jit_compile=True``).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from scratch.config import RunConfig
from scratch.data import Datasets
from scratch.train import TrainingDiverged, TrainResult, default_out_dir, load_data, make_summary, run_loop, save_run
from scratch.train import training_targets as _targets_np

from . import models
from .device import describe, resolve_device
from .optimizers import make_optimizer

__all__ = [
    "TrainResult",
    "TrainingDiverged",
    "default_out_dir",
    "make_train_function",
    "run_loop",
    "save_run",
    "train",
    "train_step",
]


def train_step(params, optimizer, x, y, *, loss="softmax_cross_entropy", l2=0.0, activation="relu"):
    """One step: the tape's loss and gradients, then ``optimizer.apply``. Returns the loss before the update."""
    value, grads = models.loss_and_grads(params, x, y, loss=loss, l2=l2, activation=activation)
    with tf.name_scope("optimizer"):
        optimizer.apply([grads[k] for k in params], [params[k] for k in params])
    return value


def make_train_function(params, optimizer, X, T, batch_size, *, loss, l2, activation, xla=False):
    """A ``tf.function`` ``run_steps(idx: (k, B) int64) -> (k,) losses`` over the on-device data ``X, T``."""
    optimizer.build(list(params.values()))
    dtype = X.dtype

    @tf.function(jit_compile=xla, input_signature=[tf.TensorSpec([None, batch_size], tf.int64)])
    def run_steps(idx):
        k = tf.shape(idx)[0]
        out = tf.TensorArray(dtype, size=k)
        for i in tf.range(k):
            with tf.name_scope("inputs"):
                xb, yb = tf.gather(X, idx[i]), tf.gather(T, idx[i])
            out = out.write(i, train_step(params, optimizer, xb, yb, loss=loss, l2=l2, activation=activation))
        return out.stack()

    return run_steps


def train(config: RunConfig, data: Datasets | None = None, *, progress: bool = True, initial_params=None):
    """Train with TensorFlow. ``initial_params`` (a NumPy dict) replaces the TF initialiser, e.g. for lockstep runs."""
    data = load_data(config) if data is None else data
    device = resolve_device(config.device)
    dtype = np.dtype(config.dtype)
    with tf.device(device):
        if initial_params is None:
            params = models.init_params(
                config.model, hidden=config.hidden, init=config.init, std=config.init_std, seed=config.seed, dtype=dtype
            )
        else:
            params = models.to_variables({k: np.asarray(v, dtype=dtype) for k, v in initial_params.items()})
        optimizer = make_optimizer(config.optimizer, config.learning_rate, momentum=config.momentum)
        X = tf.constant(data.train.images)
        T = tf.constant(_targets_np(data.train.labels, config.loss, dtype))
        run_steps_graph = make_train_function(
            params,
            optimizer,
            X,
            T,
            config.batch_size,
            loss=config.loss,
            l2=config.l2,
            activation=config.activation,
            xla=config.xla,
        )
        splits = {s: (tf.constant(getattr(data, s).images), getattr(data, s).labels) for s in ("validation", "test")}

        def run_steps(idx):
            return run_steps_graph(tf.constant(idx, tf.int64)).numpy()

        def evaluate(split):
            x, labels = splits[split]
            return models.evaluate(params, x, labels, loss=config.loss, activation=config.activation)

        def batch_accuracy(i):
            return models.accuracy(params, tf.gather(X, i), data.train.labels[i], activation=config.activation)

        history, stats = run_loop(
            config,
            data,
            run_steps=run_steps,
            evaluate=evaluate,
            batch_accuracy=batch_accuracy,
            progress=progress,
            desc=f"tfimpl {config.model}",
        )
    stats["traces"] = int(run_steps_graph.experimental_get_tracing_count())
    summary = make_summary(
        "tfimpl",
        config,
        stats,
        device=describe(device),
        versions={"numpy": np.__version__, "tensorflow": tf.__version__},
    )
    return TrainResult(params=models.to_numpy(params), history=history, summary=summary)
