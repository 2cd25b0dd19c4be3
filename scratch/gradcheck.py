r"""Gradient checking: analytic gradients against central finite differences, in float64.

For a scalar function :math:`f` and a coordinate :math:`\theta_i`

.. math::

    \frac{\partial f}{\partial \theta_i} \approx \frac{f(\theta + h e_i) - f(\theta - h e_i)}{2h}

with error :math:`O(h^2)` from truncation (the one-sided difference has :math:`O(h)`) plus about
:math:`\epsilon_{\text{mach}} |f| / h` from rounding. In float64 (:math:`\epsilon \approx 2.2\times10^{-16}`)
the default ``h = 1e-5`` keeps both near :math:`10^{-10}` absolute (measured: ``h = 1e-4`` and ``1e-6``
are each a little worse, one from truncation, the other from rounding); in float32
(:math:`\epsilon \approx 1.2\times10^{-7}`) the rounding term alone is :math:`10^{-2}`-ish for the same
``h``, which is why checks run in float64.

The error reported is the **relative error** of the whole array, in the max-norm

.. math::

    r = \frac{\max_i |a_i - n_i|}{\max\bigl(10^{-8},\ \max_i |a_i| + \max_i |n_i|\bigr)}

i.e. the largest absolute disagreement measured against the size of the gradient. The per-coordinate
form :math:`|a_i - n_i| / (|a_i| + |n_i|)` (CS231n's) is harsher than it looks: a weight whose true
gradient is :math:`10^{-6}` (a pixel that is almost always 0) still carries the difference quotient's
absolute rounding error of about :math:`\epsilon |f| / h \approx 10^{-11}`, so a perfectly correct
gradient scores :math:`10^{-5}` there. For smooth functions in float64 a correct gradient gives
:math:`r \lesssim 10^{-9}`; a wrong one gives :math:`r \approx 10^{-2}` to 1. The floor
:math:`10^{-8}` keeps an all-zero gradient (e.g. a weight fed only by always-zero pixels) from dividing by 0. Near a kink (ReLU at 0, the clip bounds) the difference
straddles the kink and :math:`r` can be large for a correct gradient, so checks stay away from kinks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["GradCheckResult", "check_gradients", "numerical_gradient", "relative_error"]


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    r""":math:`\max_i |a_i - n_i| / \max(10^{-8}, \max_i |a_i| + \max_i |n_i|)`; 0 for empty arrays. See ``docs/math.md#gradient-checking``."""
    analytic, numeric = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    if analytic.shape != numeric.shape:
        raise ValueError(f"shapes differ: analytic {analytic.shape}, numeric {numeric.shape}")
    if analytic.size == 0:
        return 0.0
    scale = np.max(np.abs(analytic)) + np.max(np.abs(numeric))
    return float(np.max(np.abs(analytic - numeric)) / max(1e-8, scale))


def numerical_gradient(
    f: Callable[[], float],
    x: np.ndarray,
    *,
    h: float = 1e-5,
    indices: np.ndarray | None = None,
) -> np.ndarray:
    r"""Central differences of ``f()`` with respect to ``x``, perturbing ``x`` **in place** and restoring it.

    Parameters
    ----------
    f : callable
        Takes no arguments and reads ``x`` (a closure); returns a float.
    x : float64 array
    h : float
        The step.
    indices : (K,) int array, optional
        Flat indices to check (a *sampled* check); all of them by default.

    Returns
    -------
    array
        ``x.shape`` for a full check, ``(K,)`` for a sampled one.

    See ``docs/math.md#gradient-checking``.
    """
    if x.dtype != np.float64:
        raise TypeError(f"finite differences need float64 (float32 rounding swamps them), got {x.dtype}")
    flat = x.reshape(-1)  # a view: writes go to x
    idx = np.arange(flat.size) if indices is None else np.asarray(indices)
    out = np.empty(idx.size)
    for j, i in enumerate(idx):
        old = flat[i]
        flat[i] = old + h
        f_plus = f()
        flat[i] = old - h
        f_minus = f()
        flat[i] = old
        out[j] = (f_plus - f_minus) / (2 * h)
    return out.reshape(x.shape) if indices is None else out


@dataclass(frozen=True)
class GradCheckResult:
    """One row of a gradient check."""

    name: str
    checked: int  # coordinates compared
    max_abs_error: float
    max_rel_error: float
    tolerance: float

    @property
    def passed(self) -> bool:
        """Within tolerance, and at least one coordinate compared: a check of nothing does not pass."""
        return bool(self.checked > 0 and self.max_rel_error <= self.tolerance)


def check_gradients(
    f: Callable[[], float],
    params: dict[str, np.ndarray],
    grads: dict[str, np.ndarray],
    *,
    tolerance: float = 1e-7,
    h: float = 1e-5,
    samples: int | None = None,
    seed: int = 0,
    prefix: str = "",
) -> list[GradCheckResult]:
    r"""Compare ``grads[k]`` with central differences of ``f`` for every ``params[k]``.

    Parameters
    ----------
    f : callable
        ``f()`` recomputes the loss from the current ``params`` (which this function perturbs in place).
    params, grads : dicts of float64 arrays with the same keys
    tolerance : float
        Largest relative error that passes.
    samples : int, optional
        Check this many random coordinates per array (a *sampled* check) instead of all of them.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for k, p in params.items():
        idx = None
        if samples is not None and samples < p.size:
            idx = rng.choice(p.size, size=samples, replace=False)
        numeric = numerical_gradient(f, p, h=h, indices=idx)
        analytic = grads[k] if idx is None else grads[k].reshape(-1)[idx]
        rows.append(
            GradCheckResult(
                name=f"{prefix}{k}",
                checked=int(numeric.size),
                max_abs_error=float(np.max(np.abs(analytic - numeric))) if numeric.size else 0.0,
                max_rel_error=relative_error(analytic, numeric),
                tolerance=tolerance,
            )
        )
    return rows
