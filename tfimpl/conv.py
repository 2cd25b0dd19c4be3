r"""The convolution, max-pooling and dropout of :mod:`scratch.conv` on TensorFlow ops.

The same layouts (NHWC images, ``(kh, kw, c_in, c_out)`` kernels) and the same padding arithmetic
(:func:`common.geometry.window`). As in :mod:`tfimpl.layers`, each ``*_backward`` replays its forward under
``tf.GradientTape`` and returns the vector-Jacobian product; the derivations are in :mod:`scratch.conv`.
"""

from __future__ import annotations

from common.geometry import check_conv, check_pool, window

from .backend import tf

__all__ = [
    "im2col",
    "col2im",
    "conv2d_naive",
    "conv2d_forward",
    "conv2d_backward",
    "max_pool_forward",
    "max_pool_backward",
    "dropout_mask",
    "dropout_forward",
    "dropout_backward",
]


def _vjp(fn, inputs, dout):
    inputs = [tf.convert_to_tensor(t) for t in inputs]
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        out = fn(*inputs)
    return tape.gradient(out, inputs, output_gradients=dout)


def im2col(x, kh, kw, stride=1, padding="same"):
    """``tf.image.extract_patches``: every window as one row, in :func:`scratch.conv.im2col`'s order ``(kh, kw, C)``."""
    x = tf.convert_to_tensor(x)
    patches = tf.image.extract_patches(x, [1, kh, kw, 1], [1, stride, stride, 1], [1, 1, 1, 1], padding.upper())
    return tf.reshape(patches, (-1, kh * kw * x.shape[3]))  # (N*Ho*Wo, kh*kw*C)


def col2im(cols, x_shape, kh, kw, stride=1, padding="same"):
    """The adjoint of :func:`im2col`, as the tape's vector-Jacobian product of ``extract_patches``. See :func:`scratch.conv.col2im`."""
    zeros = tf.zeros(x_shape, dtype=tf.convert_to_tensor(cols).dtype)
    return _vjp(lambda x: im2col(x, kh, kw, stride, padding), [zeros], cols)[0]


def conv2d_naive(x, W, b, stride=1, padding="same"):
    """The convolution as a loop over the ``kh * kw`` kernel offsets, each a shifted image times one ``(C, c_out)``
    slice of the kernel, for reading. See :func:`scratch.conv.conv2d_naive` (which loops over output pixels)."""
    x, W = tf.convert_to_tensor(x), tf.convert_to_tensor(W)
    check_conv(tuple(x.shape), tuple(W.shape), stride, padding)
    kh, kw = W.shape[0], W.shape[1]
    ho, top, bottom = window(x.shape[1], kh, stride, padding)
    wo, left, right = window(x.shape[2], kw, stride, padding)
    xp = tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]])
    out = 0
    for p in range(kh):
        for q in range(kw):
            shifted = xp[:, p : p + stride * ho : stride, q : q + stride * wo : stride, :]  # (N, Ho, Wo, C)
            out += tf.einsum("nhwc,co->nhwo", shifted, W[p, q])
    return out + b


def _conv2d(x, W, b, stride, padding):
    return tf.nn.conv2d(x, W, stride, padding.upper()) + b


def conv2d_forward(x, W, b, stride=1, padding="same"):
    """``tf.nn.conv2d(x, W, stride, padding) + b``; the cache holds the inputs. See :func:`scratch.conv.conv2d_forward`."""
    x = tf.convert_to_tensor(x)
    check_conv(tuple(x.shape), tuple(W.shape), stride, padding)
    return _conv2d(x, W, b, stride, padding), (x, W, b, stride, padding)


def conv2d_backward(dout, cache, *, need_dx=True):
    """``(dx, dW, db)`` from the tape (TF's ``Conv2DBackpropInput`` and ``Conv2DBackpropFilter``). See :func:`scratch.conv.conv2d_backward`."""
    x, W, b, stride, padding = cache
    dx, dW, db = _vjp(lambda x, W, b: _conv2d(x, W, b, stride, padding), [x, W, b], dout)
    return (dx if need_dx else None), dW, db


def max_pool_forward(x):
    """``tf.nn.max_pool2d(x, 2, 2, "VALID")``. See :func:`scratch.conv.max_pool_forward`."""
    x = tf.convert_to_tensor(x)
    check_pool(tuple(x.shape))
    return tf.nn.max_pool2d(x, 2, 2, "VALID"), x


def max_pool_backward(dout, cache):
    """From the tape (TF's ``MaxPoolGrad``: each gradient to its window's first maximum). See :func:`scratch.conv.max_pool_backward`."""
    return _vjp(lambda x: tf.nn.max_pool2d(x, 2, 2, "VALID"), [cache], dout)[0]


def dropout_mask(rng, shape, rate, dtype="float32"):
    """An inverted-dropout mask from a ``tf.random.Generator``: ``1/(1-rate)`` kept, 0 dropped. See :func:`scratch.conv.dropout_mask`."""
    keep = 1.0 - rate
    return tf.cast(rng.uniform(shape) < keep, dtype) / tf.cast(keep, dtype)


def dropout_forward(x, mask):
    """``x * mask``; the cache holds both. See :func:`scratch.conv.dropout_forward`."""
    return x * mask, (x, mask)


def dropout_backward(dout, cache):
    """From the tape: ``dout * mask``. See :func:`scratch.conv.dropout_backward`."""
    x, mask = cache
    return _vjp(lambda x: x * mask, [x], dout)[0]
