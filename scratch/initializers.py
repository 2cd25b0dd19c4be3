r"""The weight initialisers the tutorials use. Each takes a shape, a dtype and a seeded generator.

All draws come from :class:`numpy.random.Generator`, so the same seed gives the same weights on every
machine. :mod:`tfimpl.initializers` draws the same distributions with TensorFlow's own generator, so the
numbers differ; to start both twins from identical weights, draw them here and hand the arrays to
``tfimpl.bridge.to_variables`` (as :mod:`compare` does).
"""

from __future__ import annotations

import numpy as np

__all__ = ["zeros", "normal", "truncated_normal", "glorot_uniform", "INITIALIZERS"]


def zeros(shape: tuple[int, ...], dtype="float32", rng: np.random.Generator | None = None, std: float = 0.0):
    r"""All zeros. The first tutorial's linear model starts here: every logit is 0, every class ties,
    ``argmax`` picks class 0, and the test accuracy is exactly the share of zeros, 980/10000 = 9.8%."""
    return np.zeros(shape, dtype=dtype)


def normal(shape: tuple[int, ...], dtype="float32", rng: np.random.Generator | None = None, std: float = 0.03):
    r""":math:`\mathcal N(0, \sigma^2)`, :math:`\sigma = 0.03` by default (the MLP tutorial's
    ``tf.random_normal(..., stddev=0.03)``)."""
    rng = np.random.default_rng() if rng is None else rng
    return (std * rng.standard_normal(shape)).astype(dtype)


def truncated_normal(
    shape: tuple[int, ...], dtype="float32", rng: np.random.Generator | None = None, std: float = 0.01
):
    r""":math:`\mathcal N(0, \sigma^2)` with every draw beyond :math:`2\sigma` drawn again.

    This is ``tf.random.truncated_normal(shape, stddev=std)``: the result lies in :math:`(-2\sigma, 2\sigma)`
    and, because the tails are cut, its standard deviation is about :math:`0.88\sigma`.
    """
    rng = np.random.default_rng() if rng is None else rng
    out = rng.standard_normal(shape)
    bad = np.abs(out) >= 2
    while bad.any():  # about 4.6% of draws land beyond 2 sigma; each round re-draws only those
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) >= 2
    return (std * out).astype(dtype)


def glorot_uniform(shape: tuple[int, ...], dtype="float32", rng: np.random.Generator | None = None, std: float = 0.0):
    r"""Glorot/Xavier uniform: :math:`U(-a, a)`, :math:`a = \sqrt{6 / (\text{fan\_in} + \text{fan\_out})}`.

    Keras' default for Dense and convolution kernels. ``std`` is ignored: the scale comes from the shape. A
    convolution kernel ``(kh, kw, c_in, c_out)`` counts its window: fan_in :math:`= k_h k_w c_\text{in}`,
    fan_out :math:`= k_h k_w c_\text{out}`, as Keras does.
    """
    rng = np.random.default_rng() if rng is None else rng
    field = int(np.prod(shape[:-2], dtype=np.int64))  # 1 for a dense (in, out) matrix
    fan_in, fan_out = field * shape[-2], field * shape[-1]
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


#: Name -> initialiser, the choices of ``--init``.
INITIALIZERS = {
    "zeros": zeros,
    "normal": normal,
    "truncated_normal": truncated_normal,
    "glorot_uniform": glorot_uniform,
}
