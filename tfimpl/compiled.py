r"""The train step as one TensorFlow graph: ``k`` steps per call, traced once, compiled before the clock.

:func:`make_train_function` builds ``run_steps(idx: (k, B)) -> (k,) losses`` over training data already on
the device; each call receives only batch indices and gathers its batches there. The loop over the ``k``
steps runs inside the graph (like Keras' ``steps_per_execution``):

* with ``xla=True`` XLA compiles the whole loop, which then runs on the device with no trip to the host;
* without XLA the loop is a ``tf.while_loop``, and on a GPU each iteration hands its condition back to
  the host. The body therefore holds :data:`UNROLL` steps written out one after another, so the host is
  asked once per :data:`UNROLL` steps; a second loop takes the remainder.

:func:`warm_up` traces and compiles for each number of steps per call a run will use, then puts every
parameter and optimizer variable back, so the warm-up never trains the model. :func:`make_evaluate`
compiles the evaluation (loss and accuracy of a split) as one graph.
"""

from __future__ import annotations

from . import models
from .backend import tf
from .train import train_step

__all__ = ["UNROLL", "make_evaluate", "make_train_function", "warm_up"]

#: Train steps written out inside one iteration of the graph's loop (without XLA).
UNROLL = 8


def make_train_function(params, optimizer, X, T, batch_size, *, loss, l2, activation, xla=False, unroll=None):
    """``run_steps(idx: (k, B) int64) -> (k,) losses`` over the on-device data ``X, T``.

    ``unroll`` steps are written out per loop iteration (default :data:`UNROLL` without XLA, 1 with it);
    the parameters end bitwise the same whatever ``unroll`` is. The data are passed to the graph as
    arguments, not captured by it, so they are freed with the run (``run_steps.graph`` is the
    ``tf.function``, traced once).
    """
    optimizer.build(list(params.values()))
    unroll = (1 if xla else UNROLL) if unroll is None else unroll

    def one_step(X, T, row):
        with tf.name_scope("inputs"):
            xb, yb = tf.gather(X, row), tf.gather(T, row)
        return train_step(params, optimizer, xb, yb, loss=loss, l2=l2, activation=activation)

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

    run_steps.graph = graph
    return run_steps


def warm_up(run_steps, params, optimizer, sizes, batch_size) -> None:
    """Trace and compile ``run_steps`` for each of ``sizes`` steps per call, leaving the model untouched.

    Runs each size once on the first rows of the training data, then assigns every parameter and every
    optimizer variable (moments, accumulators, the step count) its value from before.
    """
    variables = list(params.values()) + list(optimizer.variables)
    saved = [tf.identity(v) for v in variables]
    for k in sizes:
        run_steps(tf.reshape(tf.range(k * batch_size, dtype=tf.int64), (k, batch_size))).numpy()
    for v, value in zip(variables, saved, strict=True):
        v.assign(value)


def make_evaluate(params, *, loss, activation, xla=False):
    """A compiled ``evaluate(x, labels) -> (loss, accuracy)`` of the whole split, as tensors."""

    signature = [tf.TensorSpec([None, 784], params["W1"].dtype), tf.TensorSpec([None], tf.int64)]

    @tf.function(jit_compile=xla, input_signature=signature)  # one trace serves every split
    def evaluate(x, labels):
        return models._loss_and_accuracy(params, x, labels, loss=loss, activation=activation)

    return evaluate
