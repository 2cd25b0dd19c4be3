r"""The initialisers of :mod:`scratch.initializers`, drawn with TensorFlow's seeded ``tf.random.Generator``.

The same seed gives the same weights run after run, but not the same numbers as NumPy (different
generators). To start both packages from identical weights, build them with :mod:`scratch` and convert
with :func:`tfimpl.bridge.to_variables`. The distributions are described in :mod:`scratch.initializers`.
"""

from __future__ import annotations

import math

from .backend import tf

__all__ = ["zeros", "normal", "truncated_normal", "glorot_uniform", "INITIALIZERS"]


def _rng(rng):
    return tf.random.Generator.from_non_deterministic_state() if rng is None else rng


def zeros(shape, dtype="float32", rng=None, std=0.0):
    """``tf.zeros``."""
    return tf.zeros(shape, dtype=dtype)


def normal(shape, dtype="float32", rng=None, std=0.03):
    """``rng.normal(shape, stddev=std)`` (TF 1's ``tf.random_normal``)."""
    return _rng(rng).normal(shape, stddev=std, dtype=dtype)


def truncated_normal(shape, dtype="float32", rng=None, std=0.01):
    """``rng.truncated_normal``: normal draws beyond 2 std are re-drawn."""
    return _rng(rng).truncated_normal(shape, stddev=std, dtype=dtype)


def glorot_uniform(shape, dtype="float32", rng=None, std=0.0):
    """Uniform in :math:`\\pm\\sqrt{6 / (\\text{fan\\_in} + \\text{fan\\_out})}`, Keras' default kernel init."""
    field = math.prod(shape[:-2])  # the window of a convolution kernel, 1 for a dense matrix
    limit = math.sqrt(6.0 / (field * (shape[-2] + shape[-1])))
    return _rng(rng).uniform(shape, -limit, limit, dtype=dtype)


INITIALIZERS = {
    "zeros": zeros,
    "normal": normal,
    "truncated_normal": truncated_normal,
    "glorot_uniform": glorot_uniform,
}
