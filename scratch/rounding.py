r"""Floating-point formats by their unit roundoff, and TF32's rounding emulated in NumPy.

A format with a ``p``-bit significand rounds any real number it can reach with relative error at most
:math:`u = 2^{-p}`: float64 :math:`2^{-53}`, float32 :math:`2^{-24}`, TF32 (10 stored bits + 1)
:math:`2^{-11}`. The h-sweep of :mod:`scratch.sweep` predicts a finite difference's best step from
:math:`u`, and ``python -m compare precision`` derives its tolerances from it. TF32 is how NVIDIA GPUs
since Ampere run float32 matrix products by default: both inputs rounded to TF32, the products added
up in float32. :func:`tf32_round` does the rounding so a CPU can show what it does.

See ``docs/math.md#floating-point-on-cpus-and-gpus``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["UNIT_ROUNDOFF", "tf32_round"]

#: :math:`u = 2^{-p}` for each format this project meets.
UNIT_ROUNDOFF = {"float64": 2.0**-53, "float32": 2.0**-24, "tf32": 2.0**-11, "bfloat16": 2.0**-8}


def tf32_round(a: np.ndarray) -> np.ndarray:
    """Round float32 values to TF32 (10 mantissa bits), to nearest with ties to even; float32 out.

    A float32 has 23 stored mantissa bits; TF32 keeps the top 10, so the low 13 are rounded away: add
    half of the last kept bit's unit (less one when that bit is even, for ties to even), then clear them.
    """
    bits = np.asarray(a, dtype=np.float32).view(np.uint32)
    keep_odd = (bits >> np.uint32(13)) & np.uint32(1)
    rounded = (bits + np.uint32(0x0FFF) + keep_odd) & np.uint32(0xFFFFE000)
    return rounded.view(np.float32)
