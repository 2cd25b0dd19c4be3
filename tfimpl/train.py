r"""Training as TensorFlow graphs: the step by the tape and Keras, the loop shared with :mod:`scratch`.

:func:`train_step` mirrors :func:`scratch.train.train_step` line for line. :func:`train` hands the
bookkeeping (shuffling, batching, logging, validation, the divergence stop, timings) to
:func:`common.runs.run_loop`, as the NumPy twin does, so both see the same batches in the same order.
What differs is inside (:mod:`tfimpl.compiled`): the training set lives on the device, each graph call
runs ``k`` steps (a whole epoch unless ``--steps-per-call`` says otherwise), compilation happens before
the clock starts, and validation is one compiled call.
"""

from __future__ import annotations

import numpy as np

from common.config import RunConfig
from common.data import Datasets, load_mnist
from common.labels import targets
from common.runs import TrainResult, calls_of, make_summary, run_loop
from common.spec import LOSS_FORMS

from . import models
from .backend import tf
from .bridge import to_numpy, to_variables
from .device import describe, precision, resolve_device, tensor_float_32
from .optimizers import make_optimizer

__all__ = ["train_step", "train"]


def train_step(params, optimizer, x, y, *, loss="softmax_cross_entropy", l2=0.0, activation="relu"):
    """One step: the tape's loss and gradients, then ``optimizer.apply``. Returns the loss before the update."""
    value, grads = models.loss_and_grads(params, x, y, loss=loss, l2=l2, activation=activation)
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
    from .compiled import make_evaluate, make_train_function, warm_up

    dtype = np.dtype(config.dtype)
    data = load_mnist(config.data_dir, dtype=dtype) if data is None else data
    device = resolve_device(config.device)
    with tensor_float_32(config.tf32), tf.device(device):
        params = _initial(config, initial_params, dtype)
        optimizer = make_optimizer(config.optimizer, config.learning_rate, momentum=config.momentum)
        X = tf.constant(data.train.images)
        T = tf.constant(targets(data.train.labels, LOSS_FORMS[config.loss], len(data.train), dtype))
        kw = {"loss": config.loss, "activation": config.activation}
        run_steps = make_train_function(params, optimizer, X, T, config.batch_size, l2=config.l2, xla=config.xla, **kw)
        evaluate_graph = make_evaluate(params, xla=config.xla, **kw)
        splits = {
            s: (tf.constant(getattr(data, s).images), tf.constant(getattr(data, s).labels))
            for s in ("validation", "test")
        }

        def evaluate(split):
            value, acc = evaluate_graph(*splits[split])
            return float(value), float(acc)

        def compile_all(sizes):
            """Trace and compile the train graph for every call size, and the evaluation; change nothing."""
            warm_up(run_steps, params, optimizer, sizes, config.batch_size)
            for split in splits:
                evaluate(split)

        history, stats = run_loop(
            config,
            data,
            run_steps=lambda idx: run_steps(tf.constant(idx, tf.int64)).numpy(),
            evaluate=evaluate,
            batch_accuracy=lambda i: models.accuracy(
                params, tf.gather(X, i), data.train.labels[i], activation=config.activation
            ),
            warm_up=compile_all,
            cut_at_log_rows=config.steps_per_call is not None,  # by default a whole epoch per call
            progress=progress,
            desc=f"tfimpl {config.model}",
        )
        stats["traces"] = int(run_steps.graph.experimental_get_tracing_count())
        stats["precision"] = precision(config.dtype, device)
        stats["steps_per_call"] = calls_of(config, len(data.train))
    versions = {"numpy": np.__version__, "tensorflow": tf.__version__}
    summary = make_summary("tfimpl", config, stats, device=describe(device), versions=versions)
    return TrainResult(params=to_numpy(params), history=history, summary=summary)
