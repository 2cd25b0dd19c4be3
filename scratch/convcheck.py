r"""``python -m scratch gradcheck``'s rows for convolution: each kernel of :mod:`scratch.conv`, the CNN, and
three wrong backwards that must fail.

Each kernel is checked on a scalar :math:`L = \sum \text{out} \odot G` with a random :math:`G`, so that
``dout = G`` and every coordinate of every input is compared (float64, :func:`scratch.gradcheck.check_gradients`).
The CNN is checked on real digits with sampled coordinates and tanh units: with ReLU, a step in a
first-layer weight reaches the kink of some of the thousands of conv-2 units it moves
(``docs/math.md#convolution-by-hand``); steps that break a max-pool tie are counted and left out.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from common.rows import Row
from common.spec import CNN

from . import bugs, conv, models
from .gradcheck import check_gradients, model_kinks

__all__ = ["CONV_HEADERS", "conv_gradcheck_table", "conv_rows", "kernel_rows", "pool_rows"]

#: The families of :func:`conv_gradcheck_table`, as the command prints them.
CONV_HEADERS = {
    "conv kernels": "conv kernels: conv2d (stride 1 and 2, same and valid), max-pool and dropout vs central differences",
    "cnn model": "cnn model (tanh units, dropout): loss_and_grads vs central differences, sampled coordinates",
}


def _draw(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


def conv_rows(backward=conv.conv2d_backward, stride: int = 1, padding: str = "same", **row_kw) -> list[Row]:
    """``backward`` (the real one by default) on a 7x7x2 batch of 2 with a 3x3x2x3 kernel: dx, dW, db rows."""
    x, W, b = _draw((2, 7, 7, 2), 1), _draw((3, 3, 2, 3), 2), _draw((3,), 3)
    out, cache = conv.conv2d_forward(x, W, b, stride, padding)
    G = _draw(out.shape, 4)  # L = sum(out * G), so dout = G
    dx, dW, db = backward(G, cache)
    return check_gradients(
        lambda: float(np.vdot(conv.conv2d_forward(x, W, b, stride, padding)[0], G)),
        {"x": x, "W": W, "b": b},
        {"x": dx, "W": dW, "b": db},
        prefix=f"conv2d stride {stride}, {padding}: d",
        **{"family": "conv kernels", **row_kw},
    )


def pool_rows(backward=conv.max_pool_backward, **row_kw) -> list[Row]:
    """``backward`` (the real one by default) of a 2x2 max-pool on continuous values (no ties), 6x5 (odd edge)."""
    x = _draw((2, 6, 5, 3), 5)
    out, cache = conv.max_pool_forward(x)
    G = _draw(out.shape, 6)
    return check_gradients(
        lambda: float(np.vdot(conv.max_pool_forward(x)[0], G)),
        {"x": x},
        {"x": backward(G, cache)},
        prefix="max_pool 2x2: d",
        **{"family": "conv kernels", **row_kw},
    )


def kernel_rows() -> list[Row]:
    """The convolution at stride 1 'same' and stride 2 'valid', max-pooling and dropout: every coordinate."""
    rows = conv_rows() + conv_rows(stride=2, padding="valid") + pool_rows()
    h, mask = _draw((4, 8), 7), conv.dropout_mask(np.random.default_rng(8), (4, 8), 0.5, "float64")
    G = _draw(h.shape, 9)
    return rows + check_gradients(
        lambda: float(np.vdot(conv.dropout_forward(h, mask)[0], G)),
        {"x": h},
        {"x": conv.dropout_backward(G, mask)},
        prefix="dropout: d",
        family="conv kernels",
    )


def conv_gradcheck_table(x: np.ndarray, labels: np.ndarray, *, samples: int = 30, seed: int = 0) -> list[Row]:
    """The kernels, the CNN on ``x`` (float64 images), then the three negative controls (their dx rows)."""
    rows = kernel_rows()
    params = models.init_params("cnn", init="glorot_uniform", seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed + 1)
    params = {k: v if k[0] == "W" else rng.normal(0, 0.1, v.shape) for k, v in params.items()}  # biases off 0
    mask = conv.dropout_mask(rng, (len(x), CNN["dense"]), 0.5, "float64")
    kw = {"l2": 1e-3, "activation": "tanh", "mask": mask}
    _, grads = models.loss_and_grads(params, x, labels, **kw)
    rows += check_gradients(
        lambda: models.loss_and_grads(params, x, labels, **kw)[0],
        params,
        grads,
        samples=samples,
        seed=seed,
        family="cnn model",
        kinks=model_kinks(params, x, activation="tanh"),
    )
    control = {"family": "negative control", "expected_to_fail": True}
    wrong = [
        ("conv dx with the kernel not flipped: ", conv_rows(bugs.conv2d_backward_unflipped, **control)),
        ("col2im overwriting instead of adding: ", conv_rows(bugs.conv2d_backward_overwriting, **control)),
        ("max-pool gradient to every position: ", pool_rows(bugs.max_pool_backward_to_every_position, **control)),
    ]
    return rows + [replace(found[0], check=title + found[0].check) for title, found in wrong]  # each dx row
