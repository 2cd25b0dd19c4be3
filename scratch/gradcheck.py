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

import numpy as np

from common.data import load_mnist
from common.errors import InputTypeError
from common.labels import one_hot
from common.rows import Row

from . import bugs, losses, models

__all__ = ["TOLERANCE", "check_gradients", "errors", "gradcheck_table", "numerical_gradient", "relative_error"]

#: The largest relative error a float64 gradient check passes: central differences with ``h = 1e-5`` are
#: good to about 1e-10 here, so 1e-7 leaves three orders of margin and still fails any real mistake.
TOLERANCE = 1e-7


def errors(analytic, numeric) -> tuple[float, float]:
    r"""``(max_i |a_i - n_i|, relative error)``, the relative error in the max-norm (see the module docstring).

    Non-finite values agree only where both arrays have the same NaNs and the same infinities (then the
    finite entries are compared); otherwise both errors are infinite.
    """
    a, n = np.asarray(analytic, np.float64).ravel(), np.asarray(numeric, np.float64).ravel()
    if a.shape != n.shape:
        raise ValueError(f"shapes differ: analytic {np.shape(analytic)}, numeric {np.shape(numeric)}")
    if a.size == 0:
        return 0.0, 0.0
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(n))):
        same = np.array_equal(np.isnan(a), np.isnan(n)) and np.array_equal(a[~np.isnan(a)], n[~np.isnan(n)])
        finite = np.isfinite(a) & np.isfinite(n)
        return errors(a[finite], n[finite]) if same else (np.inf, np.inf)
    abs_err = float(np.max(np.abs(a - n)))
    return abs_err, abs_err / max(1e-8, float(np.max(np.abs(a)) + np.max(np.abs(n))))


def relative_error(analytic, numeric) -> float:
    r""":math:`\max_i |a_i - n_i| / \max(10^{-8}, \max_i |a_i| + \max_i |n_i|)`; 0 for empty arrays. See ``docs/math.md#gradient-checking``."""
    return errors(analytic, numeric)[1]


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
        raise InputTypeError(f"finite differences need float64 (float32 rounding swamps them), got {x.dtype}")
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


def check_gradients(
    f: Callable[[], float],
    params: dict[str, np.ndarray],
    grads: dict[str, np.ndarray],
    *,
    tolerance: float = TOLERANCE,
    h: float = 1e-5,
    samples: int | None = None,
    seed: int = 0,
    prefix: str = "",
    family: str = "",
    expected_to_fail: bool = False,
) -> list[Row]:
    r"""Compare ``grads[k]`` with central differences of ``f`` for every ``params[k]``: one row each.

    Parameters
    ----------
    f : callable
        ``f()`` recomputes the loss from the current ``params`` (which this function perturbs in place).
    params, grads : dicts of float64 arrays with the same keys
    tolerance : float
        Largest relative error that passes.
    samples : int, optional
        Check this many random coordinates per array (a *sampled* check) instead of all of them.
    prefix, family, expected_to_fail
        Passed to each :class:`common.rows.Row` (the row's name is ``prefix + key``).

    A row passes when its relative error is within ``tolerance`` and it compared at least one coordinate:
    a check of nothing does not pass.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for k, p in params.items():
        idx = None
        if samples is not None and samples < p.size:
            idx = rng.choice(p.size, size=samples, replace=False)
        numeric = numerical_gradient(f, p, h=h, indices=idx)
        analytic = grads[k] if idx is None else grads[k].reshape(-1)[idx]
        abs_err, rel_err = errors(analytic, numeric)
        rows.append(
            Row(
                check=f"{prefix}{k}",
                dtype=str(p.dtype),
                max_abs_error=abs_err,
                max_rel_error=rel_err,
                tolerance=tolerance,
                passed=bool(numeric.size > 0 and rel_err <= tolerance),
                family=family,
                expected_to_fail=expected_to_fail,
                coords=int(numeric.size),
            )
        )
    return rows


def gradcheck_table(data_dir: str | None = None, *, samples: int = 30, seed: int = 0) -> list[Row]:
    r"""Every loss on raw logits, then both models with every loss, against central differences (float64).

    Uses 16 real MNIST training images; the model weights are small random normals (not zeros, whose
    gradients are too symmetric to catch much), and an MLP with 32 hidden units keeps it quick. Last comes
    a **negative control**: the cross-entropy gradient with its ``1/N`` dropped
    (:func:`scratch.bugs.without_mean`), which must fail.
    """
    data = load_mnist(data_dir, dtype=np.float64)
    x, labels = data.train.images[:16].copy(), data.train.labels[:16].copy()
    y = one_hot(labels, dtype=np.float64)
    rng = np.random.default_rng(seed)
    rows: list[Row] = []
    for name, (loss_fn, grad_fn) in losses.LOSSES.items():
        logits = rng.normal(0, 1, (16, 10))
        target = labels if name.startswith("sparse") else y
        grad = {"logits": grad_fn(logits, target)}
        rows += check_gradients(
            lambda fn=loss_fn, z=logits, t=target: fn(z, t),
            {"logits": logits},
            grad,
            prefix=f"{name} ",
            family="losses",
        )
    for model, std in (("linear", 0.1), ("mlp", 0.05)):
        params = models.init_params(
            model, hidden=(32,) if model == "mlp" else None, init="normal", std=std, seed=seed, dtype=np.float64
        )
        for name in losses.LOSSES:
            kw = {"loss": name, "l2": 1e-3}
            _, grads = models.loss_and_grads(params, x, labels, **kw)
            rows += check_gradients(
                lambda p=params, kw=kw: models.loss_and_grads(p, x, labels, **kw)[0],
                params,
                grads,
                samples=samples,
                seed=seed,
                prefix=f"{name} ",
                family=f"{model} model",
            )
    logits = rng.normal(0, 1, (16, 10))
    wrong = bugs.without_mean(losses.softmax_cross_entropy_grad)(logits, y)
    rows += check_gradients(
        lambda: losses.softmax_cross_entropy(logits, y),
        {"logits": logits},
        {"logits": wrong},
        prefix="softmax_cross_entropy gradient without 1/N ",
        family="negative control",
        expected_to_fail=True,
    )
    return rows
