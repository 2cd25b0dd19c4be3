r"""Moving parameters between NumPy arrays and ``tf.Variable``: same keys, shapes and dtypes, no transposes.

Weights are ``(in, out)`` in both twins (Keras' Dense kernel layout), so a parameter dict from
:mod:`scratch` becomes variables of :mod:`tfimpl` and back unchanged; ``params.npz`` is shared too.
"""

from __future__ import annotations

import numpy as np

from .backend import tf

__all__ = ["to_numpy", "to_variables"]


def to_variables(params: dict[str, np.ndarray]) -> dict[str, tf.Variable]:
    """``tf.Variable`` copies of a NumPy parameter dict (same keys, shapes and dtypes)."""
    return {k: tf.Variable(np.asarray(v), name=k) for k, v in params.items()}


def to_numpy(params) -> dict[str, np.ndarray]:
    """NumPy copies of a dict of variables or tensors."""
    return {k: v.numpy() if hasattr(v, "numpy") else np.array(v) for k, v in params.items()}
