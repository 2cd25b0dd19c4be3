r"""The convolutional network, forward and backward by hand, from the kernels of :mod:`scratch.conv`.

.. code-block:: text

    x (N, 784) -> (N, 28, 28, 1)
    conv 5x5, 16 filters, 'same' -> ReLU -> 2x2 max-pool   (N, 14, 14, 16)    W1: (5, 5, 1, 16)
    conv 5x5, 36 filters, 'same' -> ReLU -> 2x2 max-pool   (N, 7, 7, 36)      W2: (5, 5, 16, 36)
    flatten (row-major NHWC, as tf.reshape)                (N, 1764)
    dense 1764 -> 128 -> ReLU -> [dropout]                 (N, 128)           W3: (1764, 128)
    dense 128 -> 10: the logits                            (N, 10)            W4: (128, 10)

The parameters are named as the MLP's (``W1, b1, ..., W4, b4``), and the shapes are
:func:`common.spec.param_shapes`'s, so :mod:`scratch.models` reaches this network through the same seam,
and the L2 penalty (every ``W``) covers the kernels too. Dropout runs only when a mask is given
(:func:`scratch.conv.dropout_mask`): training passes one, evaluation none. The hidden activation (ReLU
by default) follows every convolution and the first dense layer.
"""

from __future__ import annotations

import numpy as np

from common.spec import CNN

from . import conv, layers

__all__ = ["forward", "backward"]


def forward(params: dict[str, np.ndarray], x: np.ndarray, *, activation: str = "relu", mask=None):
    r"""Logits of a batch and the caches :func:`backward` needs.

    Parameters
    ----------
    params : dict
        ``W1: (5, 5, 1, 16), b1: (16,), W2: (5, 5, 16, 36), b2: (36,), W3: (1764, 128), b3, W4: (128, 10), b4``.
    x : (N, 784) or (N, 28, 28, 1) array
    mask : (N, 128) array, optional
        An inverted-dropout mask for the dense hidden layer; None: no dropout (evaluation).

    Returns
    -------
    logits : (N, 10) array
    caches : dict
        Per layer: ``"conv1"``, ``"conv2"``: ``(conv, activation, pool)`` caches; ``"dense3"``:
        ``(dense, activation, dropout)``; ``"dense4"``: the dense cache.
    """
    h = x.reshape(-1, *CNN["image"])  # (N, 28, 28, 1)
    caches = {}
    for l in (1, 2):
        h, conv_cache = conv.conv2d_forward(h, params[f"W{l}"], params[f"b{l}"], 1, "same")
        h, act_cache = layers.activation_forward(activation, h)
        h, pool_cache = conv.max_pool_forward(h)  # (N, 14, 14, 16), then (N, 7, 7, 36)
        caches[f"conv{l}"] = (conv_cache, act_cache, pool_cache)
    h = h.reshape(h.shape[0], -1)  # (N, 1764)
    h, dense_cache = layers.dense_forward(h, params["W3"], params["b3"])
    h, act_cache = layers.activation_forward(activation, h)  # (N, 128)
    drop_cache = None
    if mask is not None:
        h, drop_cache = conv.dropout_forward(h, mask)
    caches["dense3"] = (dense_cache, act_cache, drop_cache)
    logits, caches["dense4"] = layers.dense_forward(h, params["W4"], params["b4"])  # (N, 10)
    return logits, caches


def backward(dlogits: np.ndarray, caches: dict, *, activation: str = "relu", need_dx: bool = False):
    r"""Backpropagation through the network: each layer's backward in reverse, each handing on its ``dx``.

    .. math::

        \delta_4 = \frac{\partial L}{\partial z}, \quad
        \delta_3 = \bigl(\delta_4 W_4^\top \odot m\bigr) \odot [a_3 > 0], \quad
        \delta_{\text{pool}_2} = \operatorname{unflatten}(\delta_3 W_3^\top)

    then, for each convolution block in reverse: the pool's gradient to its argmax
    (:func:`scratch.conv.max_pool_backward`), the ReLU mask, and :func:`scratch.conv.conv2d_backward`.

    Returns
    -------
    grads : dict
        ``W1, b1, ..., W4, b4``, each the shape of its parameter.
    dx : (N, 28, 28, 1) array or None
        The gradient with respect to the images, only when ``need_dx``.

    See ``docs/math.md#convolution-by-hand``.
    """
    grads = {}
    dh, grads["W4"], grads["b4"] = layers.dense_backward(dlogits, caches["dense4"])  # (N, 128)
    dense_cache, act_cache, drop_cache = caches["dense3"]
    if drop_cache is not None:
        dh = conv.dropout_backward(dh, drop_cache)
    dh = layers.activation_backward(activation, dh, act_cache)
    dh, grads["W3"], grads["b3"] = layers.dense_backward(dh, dense_cache)  # (N, 1764)
    dh = dh.reshape(caches["conv2"][2][0].shape)  # (N, 7, 7, 36): the pool's argmax has the pooled shape
    for l in (2, 1):
        conv_cache, act_cache, pool_cache = caches[f"conv{l}"]
        dh = conv.max_pool_backward(dh, pool_cache)
        dh = layers.activation_backward(activation, dh, act_cache)
        dh, grads[f"W{l}"], grads[f"b{l}"] = conv.conv2d_backward(dh, conv_cache, need_dx=l > 1 or need_dx)
    return {f"{p}{l}": grads[f"{p}{l}"] for l in range(1, 5) for p in "Wb"}, dh  # W1, b1, ... like params
