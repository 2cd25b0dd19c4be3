r"""The train step as one TensorFlow graph: ``k`` steps per call, traced once, compiled before the clock.

:func:`make_train_function` builds ``run_steps(idx: (k, B)) -> (k,) losses`` over training data already on
the device; each call receives only batch indices and gathers its batches there. The loop over the ``k``
steps runs inside the graph (like Keras' ``steps_per_execution``):

* with ``xla=True`` XLA compiles the whole loop, which then runs on the device with no trip to the host;
* without XLA the loop is a ``tf.while_loop``, and on a GPU each iteration hands its condition back to
  the host. The body therefore holds :data:`UNROLL` steps written out one after another, so the host is
  asked once per :data:`UNROLL` steps; a second loop takes the remainder. On a CPU the condition costs
  next to nothing, and each written-out step is traced again: :data:`UNROLL_CPU` keeps the steady state
  (measured on 2 cores: the linear model 3,067-3,456 steps/s at 2, 3,098-3,328 at 8; the MLP 556-577
  and 513-527) and traces in about 0.6-1 s less than 8.

:func:`calls` cuts an epoch's batches into the calls :func:`tfimpl.train.train` makes (a whole epoch
each by default), :func:`call_sizes` lists the sizes a run will use, and :func:`warm_up` traces and
compiles them (XLA each size, the plain graph once), then puts every parameter and optimizer variable
back, so the warm-up never trains the model. :func:`make_evaluate` compiles the evaluation of a split
as one graph. The NumPy twin needs none of this: :func:`scratch.train.train` calls its step once per
batch.

Each run builds its own graphs, the steps' and the evaluation's, and traces each once (``traces`` in its
``summary.json`` counts the steps' graph). TensorFlow counts the graphs of every run in a process as one
function, since they share one piece of Python code, and after a few runs it warns of "tf.function
retracing" and advises defining the function outside the loop. For these graphs the warning is false (a
command that trains many times in one process, ``python -m compare seeds``, printed it between its runs),
so the module drops it, for these two graphs only, from TensorFlow's logger.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np

from common.config import RunConfig
from common.runs import total_steps

from . import models
from .backend import tf

__all__ = ["UNROLL", "UNROLL_CPU", "call_sizes", "calls", "make_evaluate", "make_train_function", "warm_up"]

#: Train steps written out inside one iteration of the graph's loop (without XLA), on a GPU.
UNROLL = 8
#: The same on a CPU, where the loop's condition costs next to nothing.
UNROLL_CPU = 2


#: The per-run graphs, as TensorFlow names them in its retracing warning.
_PER_RUN_GRAPHS = ("make_train_function.<locals>.graph", "make_evaluate.<locals>.evaluate")


class _OneTracePerRun(logging.Filter):
    """Drops TensorFlow's "retracing" warning about the graphs in ``_PER_RUN_GRAPHS`` (module docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg if isinstance(record.msg, str) else ""  # TensorFlow formats it before logging
        return not ("triggered tf.function retracing" in message and any(g in message for g in _PER_RUN_GRAPHS))


tf.get_logger().addFilter(_OneTracePerRun())


def _cuts(n: int, k: int, first_step: int, log_every: int | None) -> Iterator[tuple[int, int]]:
    """``(start, size)`` of each call over ``n`` steps: at most ``k`` steps, and with ``log_every`` never
    across a multiple of it (counting from ``first_step``), so a history row falls at every multiple."""
    start = 0
    while start < n:
        size = min(k, n - start)
        if log_every is not None:
            size = min(size, log_every - (first_step + start) % log_every)
        yield start, size
        start += size


def calls(batches: np.ndarray, k: int, first_step: int, log_every: int | None = None) -> Iterator[np.ndarray]:
    """An epoch's ``batches: (n, B)`` as the ``(size, B)`` blocks of consecutive graph calls (cut as ``_cuts`` says).

    Without ``log_every`` a call may cross a log row, which then comes after the call: a whole epoch per
    call on a GPU means one read-back per epoch.
    """
    for start, size in _cuts(len(batches), k, first_step, log_every):
        yield batches[start : start + size]


def call_sizes(config: RunConfig, n_train: int, k: int, *, cut_at_log_rows: bool) -> list[int]:
    """Every distinct number of steps one call of a run will take, in order of first use."""
    per_epoch, steps = n_train // config.batch_size, total_steps(config, n_train)
    log_every = config.log_every if cut_at_log_rows else None
    sizes = {}
    for epoch in range(-(-steps // per_epoch)):
        n = min(per_epoch, steps - epoch * per_epoch)
        sizes.update((size, None) for _, size in _cuts(n, k, epoch * per_epoch, log_every))
    return list(sizes)


def make_train_function(step, X, T, batch_size, *, xla=False, unroll=None):
    """``run_steps(idx: (k, B) int64) -> (k,) losses`` over the on-device data ``X, T``.

    ``step(x, y) -> loss`` is one train step on a batch (:func:`tfimpl.train.train_step` with its
    parameters, optimizer and loss bound; build the optimizer first). ``unroll`` steps are written out per
    loop iteration (default without XLA: :data:`UNROLL` where ``X`` lives on a GPU, :data:`UNROLL_CPU` on
    a CPU; 1 with XLA); the parameters end bitwise the same whatever ``unroll`` is. The data are passed to
    the graph as arguments, not captured by it, so they are freed with the run (``run_steps.graph`` is the
    ``tf.function``, traced once; ``run_steps.unroll`` the steps written out per iteration; ``run_steps.xla``
    whether XLA compiles it).
    """
    if unroll is None:
        unroll = 1 if xla else (UNROLL if "GPU" in X.device.upper() else UNROLL_CPU)

    def one_step(X, T, row):
        with tf.name_scope("inputs"):
            xb, yb = tf.gather(X, row), tf.gather(T, row)
        return step(xb, yb)

    signature = [
        tf.TensorSpec(X.shape, X.dtype),
        tf.TensorSpec(T.shape, T.dtype),
        tf.TensorSpec([None, batch_size], tf.int64),
    ]

    @tf.function(jit_compile=xla, input_signature=signature)
    def graph(X, T, idx):
        k = tf.shape(idx)[0]
        out = tf.TensorArray(X.dtype, size=k)
        blocks = k // unroll
        for j in tf.range(blocks):
            for u in range(unroll):  # written out: one graph iteration, `unroll` steps
                out = out.write(j * unroll + u, one_step(X, T, idx[j * unroll + u]))
        for i in tf.range(blocks * unroll, k):
            out = out.write(i, one_step(X, T, idx[i]))
        return out.stack()

    def run_steps(idx):
        return graph(X, T, idx)

    run_steps.graph, run_steps.unroll, run_steps.xla = graph, unroll, xla
    return run_steps


def warm_up(run_steps, variables, sizes, batch_size) -> None:
    """Trace and compile ``run_steps`` for each of ``sizes`` steps per call, leaving ``variables`` untouched.

    XLA compiles a program for each shape of ``idx``, so each size runs once; without XLA one trace
    (``idx`` is ``(None, B)``) and one graph optimisation serve every size, so a single one-step call
    does it, and the warm-up does not cost a run's worth of steps. The calls use the first rows of the
    training data; then every variable (the parameters and the optimizer's moments, accumulators and step
    count) gets its value from before.
    """
    variables = list(variables)
    saved = [tf.identity(v) for v in variables]
    for k in sizes if run_steps.xla else [1]:
        run_steps(tf.reshape(tf.range(k * batch_size, dtype=tf.int64), (k, batch_size))).numpy()
    for v, value in zip(variables, saved, strict=True):
        v.assign(value)


def make_evaluate(params, *, loss, activation, xla=False):
    """A compiled ``evaluate(x, labels) -> (loss, accuracy)`` of a whole split, as tensors."""

    signature = [tf.TensorSpec([None, 784], params["W1"].dtype), tf.TensorSpec([None], tf.int64)]

    @tf.function(jit_compile=xla, input_signature=signature)  # one trace serves every split
    def evaluate(x, labels):
        return models.evaluate(params, x, labels, loss=loss, activation=activation)

    return evaluate
