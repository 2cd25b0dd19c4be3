r"""Softmax regression, the MLP and the CNN as TensorFlow functions of a dict of ``tf.Variable``.

Same parameter keys and layouts as :mod:`scratch.models` (``W1: (784, H)``, ``b1: (H,)``, ...), so
:mod:`tfimpl.bridge` moves parameters between the packages with no transposes. The seam
:func:`loss_and_grads` ``(params, x, y) -> (loss, grads)`` gets its gradients from ``tf.GradientTape``
instead of the hand-written backward pass; the math is in :mod:`scratch.models`.
"""

from __future__ import annotations

import numpy as np

from common import rules
from common.errors import InputTypeError, UserError
from common.labels import check_labels
from common.spec import CNN, EVAL_BATCH, LOSS_FORMS, NUM_CLASSES, NUM_INPUTS, param_shapes
from common.spec import INITIALIZERS as INITIALIZER_NAMES

from . import cnn, layers, losses
from .backend import tf
from .initializers import INITIALIZERS

__all__ = [
    "init_params",
    "forward",
    "backward",
    "loss_and_grads",
    "input_grad",
    "predict",
    "accuracy",
    "evaluate",
]


def init_params(model="linear", *, hidden=None, init="zeros", std=None, seed=0, dtype="float32"):
    """Fresh ``tf.Variable`` parameters from TF's seeded generator; biases zero. See :func:`scratch.models.init_params`."""
    rules.check_choice("init", init, INITIALIZER_NAMES)
    if std is not None:
        rules.check_rate("std", std)
    dtype = tf.as_dtype(np.dtype(dtype).name)
    rng = tf.random.Generator.from_seed(seed)
    kwargs = {} if std is None else {"std": std}
    params = {}
    for key, shape in param_shapes(model, hidden).items():
        value = INITIALIZERS[init](shape, dtype, rng, **kwargs) if key[0] == "W" else tf.zeros(shape, dtype)
        params[key] = tf.Variable(value, name=key)
    return params


def _is_cnn(params):
    return len(params["W1"].shape) == 4  # a tf.Variable or a NumPy array (a TrainResult's)


def _check_inputs(params, x):
    W1 = params["W1"]
    if _is_cnn(params):
        if x.shape.rank < 2 or tuple(x.shape[1:]) not in ((NUM_INPUTS,), CNN["image"][:2], CNN["image"]):
            raise UserError(
                f"the cnn takes 28x28 images: x must have shape (N, 784) or (N, 28, 28, 1), got {tuple(x.shape)}"
            )
    elif x.shape.rank != 2 or x.shape[1] != W1.shape[0]:
        raise UserError(f"x must have shape (N, {W1.shape[0]}), got {tuple(x.shape)}; flatten images to 784 pixels")
    if x.dtype != W1.dtype:
        raise InputTypeError(f"x is {x.dtype.name} but the parameters are {W1.dtype.name}; load the data in that dtype")


def _logits(params, x, activation, mask=None):
    if _is_cnn(params):
        return cnn.forward(params, x, activation=activation, mask=mask)[0]
    n_layers = len(params) // 2
    h = x
    for l in range(1, n_layers + 1):
        h, _ = layers.dense_forward(h, params[f"W{l}"], params[f"b{l}"])
        if l < n_layers:
            h, _ = layers.activation_forward(activation, h)
    return h


def forward(params, x, *, activation="relu", mask=None):
    """``(logits, cache)``; the cache is what :func:`backward` needs to replay the pass on a tape (the CNN's:
    :func:`tfimpl.cnn.forward`). See :func:`scratch.models.forward`."""
    x = tf.convert_to_tensor(x)
    if _is_cnn(params):
        return cnn.forward(params, x, activation=activation, mask=mask)
    return _logits(params, x, activation), (params, x, activation)


def backward(dlogits, caches, *, activation="relu", need_dx=False):
    """``(grads, dx)``: the tape's vector-Jacobian product of the logits with ``dlogits``."""
    if _is_cnn(caches[0]):
        return cnn.backward(dlogits, caches, activation=activation, need_dx=need_dx)
    params, x, act = caches
    keys = list(params)
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = _logits(params, x, act)
    *grads, dx = tape.gradient(logits, [params[k] for k in keys] + [x], output_gradients=dlogits)
    return dict(zip(keys, grads, strict=True)), (dx if need_dx else None)


def _as_form(y, form, dtype):
    """Labels in the form the loss wants, as :func:`common.labels.as_form`: converted, not checked."""
    y = tf.convert_to_tensor(y)
    if y.shape.rank == 1:
        return y if form == "sparse" else tf.one_hot(y, NUM_CLASSES, dtype=dtype)
    return tf.argmax(y, axis=1) if form == "sparse" else tf.cast(y, dtype)


def loss_and_grads(params, x, y, *, loss="softmax_cross_entropy", l2=0.0, activation="relu", mask=None):
    """The seam: mean batch loss (+ L2) and its gradient for every parameter, from ``tf.GradientTape``."""
    x = tf.convert_to_tensor(x)
    loss_fn, _ = losses.LOSSES[loss]
    targets = _as_form(y, LOSS_FORMS[loss], x.dtype)
    keys = list(params)
    with tf.GradientTape() as tape:
        with tf.name_scope("model"):
            logits = _logits(params, x, activation, mask)
        with tf.name_scope("cost"):
            value = loss_fn(logits, targets)
            if l2:
                value += losses.l2_penalty(params, l2)
    grads = tape.gradient(value, [params[k] for k in keys])
    return value, dict(zip(keys, grads, strict=True))


def input_grad(params, x, *, activation="relu"):
    """``(logits, dx)``: gradient of each row's target-class logit (row ``k`` -> class ``k % 10``) w.r.t. ``x``."""
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = _logits(params, x, activation)
        picked = tf.reduce_sum(logits * tf.one_hot(tf.range(tf.shape(x)[0]) % NUM_CLASSES, NUM_CLASSES, dtype=x.dtype))
    return logits, tape.gradient(picked, x)


def predict(params, x, *, activation="relu"):
    """Class ids: ``tf.argmax`` of the logits; ``x`` is checked first, as in :func:`scratch.models.predict`."""
    x = tf.convert_to_tensor(x)
    _check_inputs(params, x)
    return tf.argmax(_eval_logits(params, x, activation), axis=1)


def _eval_logits(params, x, activation):
    """Logits of a whole split: the CNN's in batches of :data:`common.spec.EVAL_BATCH` (``tf.map_fn``, one at a
    time), the others' at once. Graph-safe, so :func:`tfimpl.compiled.make_evaluate` can hold it."""
    if not _is_cnn(params):
        return _logits(params, x, activation)
    x = tf.reshape(x, (-1, NUM_INPUTS))
    n = tf.shape(x)[0]
    padded = tf.pad(x, [[0, (-n) % EVAL_BATCH], [0, 0]])
    chunks = tf.reshape(padded, (-1, EVAL_BATCH, NUM_INPUTS))
    out = tf.map_fn(
        lambda b: _logits(params, b, activation), chunks, fn_output_signature=x.dtype, parallel_iterations=1
    )
    return tf.reshape(out, (-1, NUM_CLASSES))[:n]


def accuracy(params, x, labels, *, activation="relu"):
    """Share of ``x`` whose predicted class equals ``labels`` (a Python float)."""
    return float(tf.reduce_mean(tf.cast(predict(params, x, activation=activation) == labels, tf.float64)))


def evaluate(params, x, labels, *, loss="softmax_cross_entropy", activation="relu"):
    """``(loss, accuracy)`` on a whole split, no L2 term, as scalar tensors (``float()`` gives the numbers).

    Tensors rather than floats, so that a ``tf.function`` can hold it (:func:`tfimpl.compiled.make_evaluate`).
    ``x`` and ``labels`` are checked first, by :func:`common.labels.check_labels`'s rule.
    """
    x, labels = tf.convert_to_tensor(x), tf.convert_to_tensor(labels)
    _check_inputs(params, x)
    check_labels(tuple(labels.shape), labels.dtype.is_integer, x.shape[0])
    loss_fn, _ = losses.LOSSES[loss]
    logits = _eval_logits(params, x, activation)  # (N, 10), in batches for the CNN
    value = loss_fn(logits, _as_form(labels, LOSS_FORMS[loss], logits.dtype))
    acc = tf.reduce_mean(tf.cast(tf.argmax(logits, axis=1) == tf.cast(labels, tf.int64), tf.float64))
    return value, acc
