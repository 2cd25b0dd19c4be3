r"""The convolutional network of :mod:`scratch.cnn` as TensorFlow ops: the same layers, parameters and order.

``W1: (5, 5, 1, 16)`` and ``W2: (5, 5, 16, 36)`` are ``tf.nn.conv2d`` filters as they are, and the flatten is
``tf.reshape`` of NHWC, the row-major order of NumPy's ``reshape``, so a parameter dict moves between the
twins unchanged. :func:`backward` asks the tape; the derivation is in :mod:`scratch.cnn`.
"""

from __future__ import annotations

from common.spec import CNN

from . import conv, layers
from .backend import tf

__all__ = ["forward", "backward"]


def _logits(params, x, activation, mask):
    h = tf.reshape(x, (-1, *CNN["image"]))  # (N, 28, 28, 1)
    for l in (1, 2):
        h, _ = conv.conv2d_forward(h, params[f"W{l}"], params[f"b{l}"], 1, "same")
        h, _ = layers.activation_forward(activation, h)
        h, _ = conv.max_pool_forward(h)  # (N, 14, 14, 16), then (N, 7, 7, 36)
    h = tf.reshape(h, (-1, h.shape[1] * h.shape[2] * h.shape[3]))  # (N, 1764)
    h, _ = layers.dense_forward(h, params["W3"], params["b3"])
    h, _ = layers.activation_forward(activation, h)  # (N, 128)
    if mask is not None:
        h, _ = conv.dropout_forward(h, mask)
    return layers.dense_forward(h, params["W4"], params["b4"])[0]  # (N, 10)


def forward(params, x, *, activation="relu", mask=None):
    """``(logits, cache)``: the cache holds what :func:`backward` replays. See :func:`scratch.cnn.forward`."""
    x = tf.convert_to_tensor(x)
    return _logits(params, x, activation, mask), (params, x, activation, mask)


def backward(dlogits, caches, *, activation="relu", need_dx=False):
    """``(grads, dx)``: the tape's vector-Jacobian product of the logits with ``dlogits``. See :func:`scratch.cnn.backward`."""
    params, x, act, mask = caches
    keys = list(params)
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = _logits(params, x, act, mask)
    *grads, dx = tape.gradient(logits, [params[k] for k in keys] + [x], output_gradients=dlogits)
    dx = tf.reshape(dx, (-1, *CNN["image"]))
    return dict(zip(keys, grads, strict=True)), (dx if need_dx else None)
