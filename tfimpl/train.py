r"""Training as TensorFlow graphs: the step by the tape and Keras, the loop written out as in :mod:`scratch`.

:func:`train_step` mirrors :func:`scratch.train.train_step` line for line. :func:`train` is the same loop
as :func:`scratch.train.train`, with the same bookkeeping (:class:`common.runs.RunLog`: batches, history
rows, the divergence watch, the clock), so both twins see the same batches in the same order. What
differs is the step's packaging (:mod:`tfimpl.compiled`): the training set lives on the device, one
graph call runs ``k`` steps (a whole epoch unless ``--steps-per-call`` says otherwise), compilation
happens before the clock starts, and validation is one compiled call.
"""

from __future__ import annotations

import time

import numpy as np

from common.config import RunConfig
from common.data import Datasets, load_mnist
from common.labels import targets
from common.runs import RunLog, TrainResult, make_summary
from common.spec import CNN, LOSS_FORMS

from . import compiled, conv, models
from .backend import tf
from .bridge import to_numpy, to_variables
from .device import describe, precision, resolve_device, tensor_float_32
from .optimizers import make_optimizer

__all__ = ["train_step", "train"]


def train_step(params, optimizer, x, y, *, loss="softmax_cross_entropy", l2=0.0, activation="relu", mask=None):
    """One step: the tape's loss and gradients, then ``optimizer.apply``. Returns the loss before the update.

    ``mask``: the CNN's dropout mask for this step, as in :func:`scratch.train.train_step`."""
    value, grads = models.loss_and_grads(params, x, y, loss=loss, l2=l2, activation=activation, mask=mask)
    with tf.name_scope("optimizer"):
        optimizer.apply([grads[k] for k in params], [params[k] for k in params])
    return value


def _initial(config: RunConfig, initial_params, dtype):
    if initial_params is None:
        return models.init_params(
            config.model, hidden=config.hidden, init=config.init, std=config.init_std, seed=config.seed, dtype=dtype
        )
    return to_variables({k: np.asarray(v, dtype=dtype) for k, v in initial_params.items()})


def train(config: RunConfig, data: Datasets | None = None, *, progress: bool = True, initial_params=None):
    """Train with TensorFlow; returns a :class:`common.runs.TrainResult` with NumPy parameters.

    ``initial_params`` (a NumPy dict) replaces the TF initialiser, e.g. for lockstep runs.
    """
    dtype = np.dtype(config.dtype)
    data = load_mnist(config.data_dir, dtype=dtype) if data is None else data
    device = resolve_device(config.device)
    with tensor_float_32(config.tf32), tf.device(device):
        params = _initial(config, initial_params, dtype)
        optimizer = make_optimizer(config.optimizer, config.learning_rate, momentum=config.momentum)
        optimizer.build(list(params.values()))
        X = tf.constant(data.train.images)  # (55000, 784), on the device once
        T = tf.constant(targets(data.train.labels, LOSS_FORMS[config.loss], len(data.train), dtype))
        kw = {"loss": config.loss, "l2": config.l2, "activation": config.activation}
        drops = tf.random.Generator.from_seed(config.seed) if config.dropout else None  # the masks' own stream

        def step(x, y):
            shape = (config.batch_size, CNN["dense"])
            mask = conv.dropout_mask(drops, shape, config.dropout, dtype.name) if drops is not None else None
            return train_step(params, optimizer, x, y, mask=mask, **kw)

        run_steps = compiled.make_train_function(step, X, T, config.batch_size, xla=config.xla)
        evaluate = compiled.make_evaluate(params, loss=config.loss, activation=config.activation, xla=config.xla)
        splits = {
            s: (tf.constant(getattr(data, s).images), tf.constant(getattr(data, s).labels))
            for s in ("validation", "test")
        }

        def score(split):  # (loss, accuracy) on a whole split, as Python floats
            return tuple(float(v) for v in evaluate(*splits[split]))

        k = config.steps_per_call or len(X) // config.batch_size  # steps per graph call
        log_every = config.log_every if config.steps_per_call else None  # by default a call may cross a row
        sizes = compiled.call_sizes(config, len(X), k, cut_at_log_rows=log_every is not None)
        started = time.perf_counter()  # tracing and compiling, apart from the steady state
        compiled.warm_up(run_steps, [*params.values(), *optimizer.variables], sizes, config.batch_size)
        score("validation")
        compile_seconds = time.perf_counter() - started

        with RunLog(config, len(X), progress=progress, desc=f"tfimpl {config.model}") as run:
            for epoch in range(run.epochs):
                for idx in compiled.calls(run.batches(epoch), k, run.step, log_every):  # idx: (k, B), one call
                    losses = run_steps(tf.constant(idx)).numpy()  # (k,)
                    if run.record_all(losses):  # checks each loss; True when a history row is due
                        x, y = tf.gather(X, idx[-1]), data.train.labels[idx[-1]]
                        run.log(batch_accuracy=models.accuracy(params, x, y, activation=config.activation))
                run.validate(*score("validation"))
        stats = run.stats(*score("test"), compile_seconds=compile_seconds)
        stats.update(traces=int(run_steps.graph.experimental_get_tracing_count()), steps_per_call=max(sizes))
        stats["precision"] = precision(config.dtype, device)
    versions = {"numpy": np.__version__, "tensorflow": tf.__version__}
    summary = make_summary("tfimpl", config, stats, device=describe(device), versions=versions)
    return TrainResult(params=to_numpy(params), history=run.history, summary=summary)
