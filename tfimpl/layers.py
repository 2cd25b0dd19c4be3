r"""The layers of :mod:`scratch.layers` on TensorFlow ops.

TensorFlow keeps no caches of ours: it records the forward pass on a tape. To keep the same
``forward -> (out, cache)`` / ``backward(dout, cache)`` shape, the cache here holds the *inputs*, and
``*_backward`` replays the forward under ``tf.GradientTape`` and asks for the vector-Jacobian product
(``output_gradients=dout``), which is exactly what the hand-written backward computes. The derivatives
are written out in :mod:`scratch.layers`; ``python -m compare layers`` checks each pair against the tape.
"""

from __future__ import annotations

from .backend import tf

__all__ = [
    "dense_forward",
    "dense_backward",
    "relu_forward",
    "relu_backward",
    "sigmoid_forward",
    "sigmoid_backward",
    "tanh_forward",
    "tanh_backward",
    "ACTIVATIONS",
    "activation_forward",
    "activation_backward",
]


def _vjp(fn, inputs, dout):
    inputs = [tf.convert_to_tensor(t) for t in inputs]
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        out = fn(*inputs)
    return tape.gradient(out, inputs, output_gradients=dout)


def _dense(x, W, b):
    return x @ W + b  # (N, D_out); @ is tf.linalg.matmul


def dense_forward(x, W, b):
    """``x @ W + b`` (what ``keras.layers.Dense`` computes with its ``(in, out)`` kernel). See :func:`scratch.layers.dense_forward`."""
    return _dense(x, W, b), (x, W, b)


def dense_backward(dout, cache, *, need_dx=True):
    """``(dx, dW, db)`` from the tape; ``dx`` is None when not needed. See :func:`scratch.layers.dense_backward`."""
    dx, dW, db = _vjp(_dense, cache, dout)
    return (dx if need_dx else None), dW, db


def relu_forward(x):
    """``tf.nn.relu``."""
    return tf.nn.relu(x), x


def relu_backward(dout, cache):
    """From the tape (TF's ``ReluGrad``: zero where the input is <= 0)."""
    return _vjp(tf.nn.relu, [cache], dout)[0]


def sigmoid_forward(x):
    """``tf.sigmoid``."""
    return tf.sigmoid(x), x


def sigmoid_backward(dout, cache):
    """From the tape."""
    return _vjp(tf.sigmoid, [cache], dout)[0]


def tanh_forward(x):
    """``tf.tanh``."""
    return tf.tanh(x), x


def tanh_backward(dout, cache):
    """From the tape."""
    return _vjp(tf.tanh, [cache], dout)[0]


ACTIVATIONS = {
    "relu": (relu_forward, relu_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "tanh": (tanh_forward, tanh_backward),
}


def activation_forward(name, x):
    """Dispatch to the named activation's forward."""
    return ACTIVATIONS[name][0](x)


def activation_backward(name, dout, cache):
    """Dispatch to the named activation's backward."""
    return ACTIVATIONS[name][1](dout, cache)
