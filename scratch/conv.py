r"""Convolution, max-pooling and dropout by hand: pure forward/backward pairs, TensorFlow's layouts.

Images are NHWC ``(N, H, W, C)`` and kernels ``(kh, kw, c_in, c_out)``, exactly what ``tf.nn.conv2d``
takes, so parameters copy to and from :mod:`tfimpl` with no transposes. As in :mod:`scratch.layers`,
``*_forward`` returns ``(out, cache)`` and ``*_backward(dout, cache)`` the gradients.

The convolution (a cross-correlation, as in every framework: the kernel is not flipped) is

.. math::

    \text{out}_{n,i,j,o} = b_o + \sum_{p<k_h}\sum_{q<k_w}\sum_{c} x^{\text{pad}}_{n,\,si+p,\,sj+q,\,c}\, W_{p,q,c,o}

:func:`conv2d_naive` writes those sums as loops, for reading; :func:`conv2d_forward` lays every window out
as one row of a matrix (:func:`im2col`), so the whole layer is one matrix product. The padding arithmetic
is :func:`common.geometry.window`'s. See ``docs/math.md#convolution-by-hand``.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from common.geometry import check_conv, check_pool, window

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


def _padded(x: np.ndarray, kh: int, kw: int, stride: int, padding: str):
    """``x`` with TensorFlow's zeros around it, and the output's height and width."""
    ho, top, bottom = window(x.shape[1], kh, stride, padding)
    wo, left, right = window(x.shape[2], kw, stride, padding)
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0))), ho, wo


def im2col(x: np.ndarray, kh: int, kw: int, stride: int = 1, padding: str = "same") -> np.ndarray:
    r"""Every window of the padded images as one row: ``(N, H, W, C) -> (N * Ho * Wo, kh * kw * C)``.

    Row :math:`(n, i, j)` holds :math:`x^{\text{pad}}_{n,\,si+p,\,sj+q,\,c}` for all :math:`(p, q, c)` in
    that order, the order of ``W.reshape(kh * kw * C, c_out)``; so ``im2col(x) @ W.reshape(-1, c_out)`` is the
    convolution. ``sliding_window_view`` first *views* every window, ``(N, Ho, Wo, C, kh, kw)``, without
    copying a pixel (the same memory read with other strides); the transpose puts each window's numbers in
    the order ``(p, q, c)``, and ``np.array`` makes the one copy (a new, writable array). Each pixel lands in
    up to ``kh * kw`` rows: for 5x5 kernels at stride 1 the matrix is 25 times the image's size, which is
    im2col's price.
    """
    xp, ho, wo = _padded(x, kh, kw, stride, padding)
    n, c = x.shape[0], x.shape[3]
    windows = sliding_window_view(xp, (kh, kw), axis=(1, 2))[:, ::stride, ::stride]  # (N, Ho, Wo, C, kh, kw)
    return np.array(windows.transpose(0, 1, 2, 4, 5, 3)).reshape(n * ho * wo, kh * kw * c)


def col2im(cols: np.ndarray, x_shape: tuple, kh: int, kw: int, stride: int = 1, padding: str = "same") -> np.ndarray:
    r"""The adjoint of :func:`im2col`: each row's entries *added* back onto the pixels they came from.

    ``(N * Ho * Wo, kh * kw * C) -> (N, H, W, C)``. A pixel that sat in several windows receives the sum of
    their gradients (the scatter-add, ``+=``; overwriting would keep only the last window's); the padding's
    share is dropped. Unlike :func:`im2col` it has no view to lean on (overlapping windows must be *summed*),
    so it adds one kernel offset :math:`(p, q)` at a time: ``kh * kw`` strided additions.
    """
    n, h, w, c = x_shape
    ho, top, bottom = window(h, kh, stride, padding)
    wo, left, right = window(w, kw, stride, padding)
    cols = cols.reshape(n, ho, wo, kh, kw, c)
    dxp = np.zeros((n, h + top + bottom, w + left + right, c), dtype=cols.dtype)
    for p in range(kh):
        for q in range(kw):
            dxp[:, p : p + stride * ho : stride, q : q + stride * wo : stride, :] += cols[:, :, :, p, q, :]
    return dxp[:, top : top + h, left : left + w, :]


def conv2d_naive(x: np.ndarray, W: np.ndarray, b: np.ndarray, stride: int = 1, padding: str = "same") -> np.ndarray:
    r"""The convolution as loops over the output pixels, for reading: never on the training path.

    For every output position :math:`(i, j)`, the window :math:`x^{\text{pad}}_{:,\,si:si+k_h,\,sj:sj+k_w,\,:}`
    is multiplied by the kernel and summed over :math:`(p, q, c)`, for all images and filters at once.
    ``tests/math/test_conv.py`` checks it equals :func:`conv2d_forward`.
    """
    check_conv(x.shape, W.shape, stride, padding)
    kh, kw, _, c_out = W.shape
    xp, ho, wo = _padded(x, kh, kw, stride, padding)
    out = np.empty((x.shape[0], ho, wo, c_out), dtype=x.dtype)
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, i * stride : i * stride + kh, j * stride : j * stride + kw, :]  # (N, kh, kw, C)
            out[:, i, j, :] = np.tensordot(patch, W, axes=3) + b  # sum over p, q, c -> (N, c_out)
    return out


def conv2d_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray, stride: int = 1, padding: str = "same"):
    r"""The convolution as one matrix product: :math:`\text{out} = \text{im2col}(x)\, W_{\text{mat}} + b`.

    Parameters
    ----------
    x : (N, H, W, C) array
    W : (kh, kw, C, c_out) array; :math:`W_{\text{mat}}` is ``W.reshape(kh * kw * C, c_out)``
    b : (c_out,) array
    stride : int >= 1
    padding : {"same", "valid"}, TensorFlow's (:func:`common.geometry.window`)

    Returns
    -------
    out : (N, Ho, Wo, c_out) array
    cache : ``(cols, x.shape, W, stride, padding)``, with ``cols: (N * Ho * Wo, kh * kw * C)``.
    """
    check_conv(x.shape, W.shape, stride, padding)
    kh, kw, _, c_out = W.shape
    cols = im2col(x, kh, kw, stride, padding)  # (N*Ho*Wo, kh*kw*C)
    out = cols @ W.reshape(-1, c_out)  # (N*Ho*Wo, c_out)
    out += b
    ho, wo = window(x.shape[1], kh, stride, padding)[0], window(x.shape[2], kw, stride, padding)[0]
    return out.reshape(x.shape[0], ho, wo, c_out), (cols, x.shape, W, stride, padding)


def conv2d_backward(dout: np.ndarray, cache: tuple, *, need_dx: bool = True):
    r"""Gradients of the convolution: the dense layer's three products on the im2col matrix, then col2im.

    With :math:`X = \text{im2col}(x)` and :math:`D` = ``dout`` as ``(N * Ho * Wo, c_out)``, the forward pass is
    the dense layer :math:`X W_{\text{mat}} + b`, so

    .. math::

        dW_{\text{mat}} = X^\top D, \qquad db = \textstyle\sum_{n,i,j} D, \qquad
        dx = \text{col2im}\bigl(D\, W_{\text{mat}}^\top\bigr)

    **Why dx is a convolution with the flipped kernel.** Pixel :math:`x_{n,a,b,c}` meets the kernel entry
    :math:`W_{p,q,c,o}` in output :math:`(i, j) = (a - p, b - q)` (stride 1), so

    .. math::

        dx_{n,a,b,c} = \sum_{p,q,o} d\text{out}_{n,\,a-p,\,b-q,\,o}\, W_{p,q,c,o}

    a sum in which the offset into ``dout`` *decreases* as the kernel index grows: a correlation of
    ``dout`` with the kernel turned 180 degrees (:math:`W_{k_h-1-p,\,k_w-1-q}`) and its channel axes swapped.
    col2im computes the same sums by scattering each window's row back, without building the flipped kernel.
    ``need_dx=False`` skips it (the first layer's pixels need no gradient); ``dx`` is then None.

    Returns
    -------
    dx : (N, H, W, C) array or None
    dW : (kh, kw, C, c_out) array
    db : (c_out,) array

    See ``docs/math.md#convolution-by-hand``.
    """
    cols, x_shape, W, stride, padding = cache
    kh, kw, _, c_out = W.shape
    d = dout.reshape(-1, c_out)  # (N*Ho*Wo, c_out)
    dW = (cols.T @ d).reshape(W.shape)  # (kh, kw, C, c_out)
    db = d.sum(axis=0)  # (c_out,)
    dx = col2im(d @ W.reshape(-1, c_out).T, x_shape, kh, kw, stride, padding) if need_dx else None
    return dx, dW, db


# The four pixels of a 2x2 window, (p, q) in row-major order: max-pooling's winner is an index into these.
_POOL_OFFSETS = ((0, 0), (0, 1), (1, 0), (1, 1))


def _corners(x: np.ndarray, ho: int, wo: int) -> list[np.ndarray]:
    """For each window offset ``(p, q)``, the view ``x[:, 2i+p, 2j+q, :]``: four ``(N, ho, wo, C)`` views."""
    return [x[:, p : 2 * ho : 2, q : 2 * wo : 2, :] for p, q in _POOL_OFFSETS]


def max_pool_forward(x: np.ndarray) -> tuple[np.ndarray, tuple]:
    r"""2x2 max-pooling, stride 2, TensorFlow's ``"VALID"`` (an odd last row or column is dropped).

    .. math::

        \text{out}_{n,i,j,c} = \max_{p,q \in \{0,1\}} x_{n,\,2i+p,\,2j+q,\,c}

    ``(N, H, W, C) -> (N, H//2, W//2, C)``: the elementwise max of four strided views of ``x``, one per
    pixel of the window (no copy until the max). The cache keeps, per output, which of the four won: 0
    top-left, 1 top-right, 2 bottom-left, 3 bottom-right, and on a tie the first of them (``argmax``'s rule,
    and TensorFlow's).
    """
    check_pool(x.shape)
    ho, wo = x.shape[1] // 2, x.shape[2] // 2
    corners = _corners(x, ho, wo)  # four (N, Ho, Wo, C) views
    out = np.maximum(np.maximum(corners[0], corners[1]), np.maximum(corners[2], corners[3]))
    arg = np.full(out.shape, 3, dtype=np.int8)  # (N, Ho, Wo, C): the last corner, unless an earlier one won
    for k in (2, 1, 0):  # the earliest winner is written last
        arg[corners[k] == out] = k
    return out, (arg, x.shape)


def max_pool_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    r"""The max's gradient goes to the pixel that won, and only there: :math:`dx = d\text{out}` at the argmax, 0 elsewhere.

    The max is locally the identity of its winner and ignores the rest. On a tie TensorFlow's CPU kernel,
    like this one, gives it all to the first maximum in row-major order (``tests/test_cnn_twins.py`` and ``python -m compare layers`` check
    the two agree on tied windows). ``(N, Ho, Wo, C) -> (N, H, W, C)``: each of the four strided views of
    ``dx`` gets ``dout`` where its pixel won.

    See ``docs/math.md#convolution-by-hand``.
    """
    arg, (n, h, w, c) = cache
    dx = np.zeros((n, h, w, c), dtype=dout.dtype)
    for k, corner in enumerate(_corners(dx, h // 2, w // 2)):  # views: writing them writes dx
        np.copyto(corner, dout, where=arg == k)  # dout where this pixel won; the zeros stay elsewhere
    return dx


def dropout_mask(rng: np.random.Generator, shape: tuple, rate: float, dtype="float32") -> np.ndarray:
    r"""An inverted-dropout mask: each entry :math:`1/(1-r)` with probability :math:`1-r`, else 0.

    Drawn apart from the forward pass, so that :mod:`compare` can draw one and hand the same mask to
    both twins. Its mean is 1, which is why evaluation needs no rescaling (and uses no mask).
    """
    keep = 1.0 - rate
    return ((rng.random(shape) < keep) / keep).astype(dtype)


def dropout_forward(x: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Inverted dropout: :math:`\text{out} = x \odot m`, with :math:`m` from :func:`dropout_mask`; the cache is the mask."""
    return x * mask, mask


def dropout_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    r""":math:`dx = d\text{out} \odot m`: a dropped unit passes no gradient, a kept one its gradient times :math:`1/(1-r)`."""
    return dout * cache
