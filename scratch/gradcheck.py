r"""Gradient checking: analytic gradients against central finite differences.

For a scalar function :math:`f` and a coordinate :math:`\theta_i`

.. math::

    \frac{\partial f}{\partial \theta_i} \approx \frac{f(\theta + h e_i) - f(\theta - h e_i)}{2h}

with error :math:`\tfrac{h^2}{6}|f^{(3)}|` from truncation (the one-sided difference has
:math:`\tfrac h2|f^{(2)}|`) plus about :math:`u |f| / h` from rounding: each :math:`f(\theta \pm h e_i)` is
rounded to within about :math:`u|f|`, :math:`u = \epsilon_\text{mach}/2` the format's unit roundoff, so
their difference carries up to :math:`2u|f|`, divided by :math:`2h`. The two terms cross near
:math:`h^\star \approx (3u)^{1/3}`, where the error is about :math:`u^{2/3}`; ``python -m scratch gradcheck --sweep``
measures the whole V (:mod:`scratch.sweep`).
Hence :data:`STEPS` and :data:`TOLERANCES`: float64 checks step by ``h = 1e-5`` and pass below 1e-7;
float32 can only check near its own :math:`h^\star \approx 10^{-2}`, where a correct gradient still
scores up to about 1e-3, so it passes below 1e-2 and misses every mistake smaller than that. That is
why the real checks run in float64 (``docs/math.md#the-h-sweep-and-the-pass-thresholds``).

The error reported is the **relative error** of the whole array, in the max-norm

.. math::

    r = \frac{\max_i |a_i - n_i|}{\max\bigl(10^{-8},\ \max_i |a_i| + \max_i |n_i|\bigr)}

i.e. the largest absolute disagreement measured against the size of the gradient. The per-coordinate
form :math:`|a_i - n_i| / (|a_i| + |n_i|)` (CS231n's) is harsher than it looks: a weight whose true
gradient is :math:`10^{-6}` (a pixel that is almost always 0) still carries the difference quotient's
absolute rounding error of about :math:`u |f| / h \approx 3 \times 10^{-11}` (float64, :math:`h = 10^{-5}`,
:math:`|f| \approx 2.3`), so a perfectly correct gradient scores :math:`10^{-5}` there. For smooth functions in
float64 a correct gradient gives :math:`r \lesssim 10^{-9}`; a wrong one gives :math:`r \approx 10^{-2}` to 1. The floor
:math:`10^{-8}` keeps an all-zero gradient (e.g. a weight fed only by always-zero pixels) from dividing by 0.

**Kinks.** ReLU at 0 and the clip of the MLP tutorial's loss at its bounds are not differentiable. When
a coordinate's :math:`\pm h` step carries a ReLU input or a clipped probability across its kink, the two
sides of the difference see different formulas: the quotient is wrong while the analytic gradient is
right. Given ``kinks`` (:func:`model_kinks` for the models), :func:`differences` notes which coordinates
crossed which kink, and :func:`check_gradients` reports them apart (a count per kink, in the row's note)
and leaves them out of the error rather than failing them (``docs/math.md#kinks``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from common.data import load_mnist
from common.errors import InputTypeError
from common.labels import one_hot
from common.rows import Row
from common.spec import CLIP_MAX, CLIP_MIN

from . import bugs, losses, models

__all__ = [
    "STEPS",
    "TOLERANCES",
    "TOLERANCE",
    "check_gradients",
    "differences",
    "errors",
    "gradcheck_table",
    "model_kinks",
    "numerical_gradient",
    "relative_error",
]

#: The central difference's step per dtype: near the optimum :math:`(3u)^{1/3}` that the h-sweep
#: predicts and measures (float64: predicted 6.9e-6, measured 1.8e-5; float32: 5.6e-3 and 1.8e-2).
STEPS = {"float64": 1e-5, "float32": 1e-2}

#: The largest relative error a gradient check passes, per dtype. float64: a correct gradient measures
#: 2e-11 on the sweep's function and 1.1e-10 to 1.4e-9 on the models' batch-mean losses (whose value is
#: large beside their gradient), so 1e-7 leaves 70x margin and fails any mistake of 1e-7 or more.
#: float32: a correct gradient measures 6e-6 on the sweep's function and 9e-4 on the zoo's MLP, so 1e-2
#: (see ``docs/math.md#the-h-sweep-and-the-pass-thresholds``).
TOLERANCES = {"float64": 1e-7, "float32": 1e-2}

#: The float64 threshold, the one every check in this project uses.
TOLERANCE = TOLERANCES["float64"]

#: A kink probe: ``kinks()`` returns ``{kink name: bool array}``, which side of each kink every unit is on.
Kinks = Callable[[], dict[str, np.ndarray]]


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


def _step(x: np.ndarray, h: float | None) -> float:
    if x.dtype.name not in STEPS:
        raise InputTypeError(f"finite differences need float64 (or float32 with h near 1e-2), got {x.dtype}")
    return STEPS[x.dtype.name] if h is None else h


def differences(
    f: Callable[[], float],
    x: np.ndarray,
    *,
    h: float | None = None,
    indices: np.ndarray | None = None,
    kinks: Kinks | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    r"""Central differences of ``f()`` with respect to ``x``, and the coordinates whose step crossed a kink.

    ``x`` is perturbed **in place**, one coordinate at a time, and restored.

    Parameters
    ----------
    f : callable
        Takes no arguments and reads ``x`` (a closure); returns a float.
    x : float64 (or float32) array
    h : float, optional
        The step; by default the dtype's, :data:`STEPS`.
    indices : (K,) int array, optional
        Flat indices to check (a *sampled* check); all of them by default.
    kinks : callable, optional
        ``kinks()`` gives ``{name: bool array}``, the side of its kink every unit is on (:func:`model_kinks`);
        it is read at :math:`\theta`, :math:`\theta + h e_i` and :math:`\theta - h e_i`.

    Returns
    -------
    numeric : array
        ``x.shape`` for a full check, ``(K,)`` for a sampled one.
    crossed : dict
        ``{kink name: (K,) bool}``: the coordinates whose :math:`\pm h` step moved some unit across that kink
        (only kinks that were crossed; empty without ``kinks``).

    See ``docs/math.md#kinks``.
    """
    h = _step(x, h)
    flat = x.reshape(-1)  # a view: writes go to x
    idx = np.arange(flat.size) if indices is None else np.asarray(indices)
    out = np.empty(idx.size)
    crossed: dict[str, np.ndarray] = {}
    before = kinks() if kinks is not None else None
    for j, i in enumerate(idx):
        old = flat[i]
        sides = []
        for step in (h, -h):
            flat[i] = old + x.dtype.type(step)
            sides.append(f())
            if before is not None:
                after = kinks()
                for name, state in before.items():
                    if not np.array_equal(state, after[name]):
                        crossed.setdefault(name, np.zeros(idx.size, bool))[j] = True
        flat[i] = old
        out[j] = (sides[0] - sides[1]) / (2 * h)
    return (out.reshape(x.shape) if indices is None else out), crossed


def numerical_gradient(
    f: Callable[[], float],
    x: np.ndarray,
    *,
    h: float | None = None,
    indices: np.ndarray | None = None,
) -> np.ndarray:
    r"""Central differences of ``f()`` with respect to ``x`` (:func:`differences` without the kinks).

    ``x`` is perturbed in place and restored; ``h`` defaults to the dtype's step (:data:`STEPS`, 1e-5 in
    float64). Returns ``x.shape`` for a full check, ``(K,)`` for ``indices`` of length ``K``.

    See ``docs/math.md#gradient-checking``.
    """
    return differences(f, x, h=h, indices=indices)[0]


def model_kinks(
    params: dict[str, np.ndarray], x: np.ndarray, *, loss: str = "softmax_cross_entropy", activation: str = "relu"
) -> Kinks:
    r"""A kink probe for a model: which side of ReLU's 0 each hidden unit is on, and of each clip bound.

    Returns a function of no arguments reading the current ``params`` (as :func:`differences` perturbs
    them) that gives ``{"ReLU of layer l": (N, H) bool}`` for each ReLU layer (pre-activation > 0) and, for
    the clipped loss, ``{"clip at 1e-10": p >= 1e-10, "clip at 0.9999999": p <= 0.9999999}``.
    sigmoid and tanh have no kinks. For the CNN, also which pixel wins each max-pool window: MNIST's blank
    background makes exact ties common there, and a step that breaks one is a kink of the max.
    See ``docs/math.md#kinks``.
    """

    def state() -> dict[str, np.ndarray]:
        logits, caches = models.forward(params, x, activation=activation)
        out = _cnn_kinks(caches, activation) if isinstance(caches, dict) else {}
        if activation == "relu" and not isinstance(caches, dict):
            for l, (_, act_cache) in enumerate(caches[:-1], start=1):
                out[f"ReLU of layer {l}"] = act_cache > 0  # the cache is max(0, a): positive exactly where a > 0
        if loss == "clipped_binary_cross_entropy":
            p = losses.softmax(logits)
            out[f"clip at {CLIP_MIN:g}"] = p >= CLIP_MIN
            out[f"clip at {CLIP_MAX:g}"] = p <= CLIP_MAX
        return out

    return state


def _cnn_kinks(caches: dict, activation: str) -> dict[str, np.ndarray]:
    """The CNN's kinks: each max-pool's winners, and (for ReLU) the sign of every ReLU's input."""
    out = {f"max-pool {l} winner": caches[f"conv{l}"][2][0] for l in (1, 2)}
    if activation == "relu":
        for l in (1, 2):
            out[f"ReLU of conv {l}"] = caches[f"conv{l}"][1] > 0
        out["ReLU of dense 3"] = caches["dense3"][1] > 0
    return out


def check_gradients(
    f: Callable[[], float],
    params: dict[str, np.ndarray],
    grads: dict[str, np.ndarray],
    *,
    tolerance: float | None = None,
    h: float | None = None,
    samples: int | None = None,
    seed: int = 0,
    prefix: str = "",
    family: str = "",
    expected_to_fail: bool = False,
    kinks: Kinks | None = None,
) -> list[Row]:
    r"""Compare ``grads[k]`` with central differences of ``f`` for every ``params[k]``: one row each.

    Parameters
    ----------
    f : callable
        ``f()`` recomputes the loss from the current ``params`` (which this function perturbs in place).
    params, grads : dicts of float64 (or float32) arrays with the same keys
    tolerance, h : float, optional
        Largest relative error that passes, and the step; by default the dtype's (:data:`TOLERANCES`,
        :data:`STEPS`).
    samples : int, optional
        Check this many random coordinates per array (a *sampled* check) instead of all of them.
    prefix, family, expected_to_fail
        Passed to each :class:`common.rows.Row` (the row's name is ``prefix + key``).
    kinks : callable, optional
        A kink probe (:func:`model_kinks`): coordinates whose step crosses a kink are counted in the row's
        note, per kink, and left out of the error; they are not failures.

    A row passes when its relative error is within ``tolerance`` and it compared at least one coordinate:
    a check of nothing does not pass.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for k, p in params.items():
        idx = np.arange(p.size)
        if samples is not None and samples < p.size:
            idx = rng.choice(p.size, size=samples, replace=False)
        numeric, crossed = differences(f, p, h=h, indices=idx, kinks=kinks)
        smooth = ~np.any(list(crossed.values()), axis=0) if crossed else np.ones(idx.size, bool)
        abs_err, rel_err = errors(grads[k].reshape(-1)[idx][smooth], numeric[smooth])
        tol = TOLERANCES[p.dtype.name] if tolerance is None else tolerance
        note = ", ".join(f"{name}: {int(m.sum())}" for name, m in crossed.items())
        rows.append(
            Row(
                check=f"{prefix}{k}",
                dtype=str(p.dtype),
                max_abs_error=abs_err,
                max_rel_error=rel_err,
                tolerance=tol,
                passed=bool(smooth.any() and rel_err <= tol),
                note=f"{int((~smooth).sum())} coordinates crossed a kink, left out ({note})" if note else "",
                family=family,
                expected_to_fail=expected_to_fail,
                coords=int(smooth.sum()),
            )
        )
    return rows


def gradcheck_table(data_dir: str | None = None, *, samples: int = 30, seed: int = 0) -> list[Row]:
    r"""Every loss on raw logits, then both models with every loss, against central differences (float64).

    Uses 16 real MNIST training images; the model weights are small random normals (not zeros, whose
    gradients are too symmetric to catch much), and an MLP with 32 hidden units keeps it quick. A
    coordinate whose step crosses a kink is counted in its row's note, not failed. Last comes
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
                kinks=model_kinks(params, x, loss=name),
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
