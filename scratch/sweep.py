r"""The h-sweep: where a finite difference's own error comes from, measured against the step ``h``.

One fixed gradient, the cross-entropy of one MNIST image through a linear layer with respect to 30
weights, is checked by central and one-sided differences at every step from 1 down to 1e-12, in float64,
in float32, and in float32 with TF32's input rounding emulated (:func:`scratch.rounding.tf32_round` on
both inputs of the matrix product, as an NVIDIA GPU does by default). The relative error draws a V:

.. math::

    E(h) \approx \underbrace{\tfrac{h^2}{6}\,|f^{(3)}|}_{\text{truncation}}
            + \underbrace{\frac{u\,|f|}{h}}_{\text{rounding}}, \qquad
    h^\star = \Bigl(\frac{3u|f|}{|f^{(3)}|}\Bigr)^{1/3} \approx (3u)^{1/3}, \qquad
    E(h^\star) \approx u^{2/3},

where each of :math:`f(\theta \pm h)` is rounded to within about :math:`u|f|` (:math:`u = \epsilon_\text{mach}/2`,
the format's unit roundoff), their difference to :math:`2u|f|`, and the division by :math:`2h` leaves
:math:`u|f|/h`; the approximations for a function whose value and third derivative are of order 1, which this one is
(its checked weights are of order 1, the loss about 3, its gradient up to 1). The one-sided difference
:math:`(f(\theta + h) - f(\theta))/h` has truncation :math:`\tfrac h2 |f^{(2)}|` and rounding
:math:`2u|f|/h`, so :math:`h^\star \approx 2\sqrt u` and its best error is about :math:`2\sqrt u`, far worse.

In TF32 what rounds is the perturbed weight itself: :math:`\theta \pm h` reaches the product as
:math:`\theta \pm h + \delta` with :math:`|\delta| \le u_{TF32}|\theta|`, so below
:math:`h \approx u_{TF32}|\theta|` the step vanishes and the quotient is 0 (relative error 1). That one
rounding is typically a quarter of its bound, where float32's error in the loss adds many roundings, so
TF32's measured best error sits about 20 times below :math:`u_{TF32}^{2/3}`.

``python -m scratch gradcheck --sweep`` prints the table and draws the figure; the thresholds it
justifies are :data:`scratch.gradcheck.STEPS` and :data:`scratch.gradcheck.TOLERANCES`.
See ``docs/math.md#the-h-sweep-and-the-pass-thresholds``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.checkplots import plot_sweep
from common.data import Datasets, load_mnist
from common.errors import UserError

from . import losses
from .gradcheck import STEPS, TOLERANCES, errors
from .rounding import UNIT_ROUNDOFF, tf32_round

__all__ = ["H_RANGE", "PRECISIONS", "Curve", "format_sweep", "h_sweep", "plot", "predicted", "sweep_point"]

#: The steps swept by default, smallest and largest (TF32's optimum lies near 0.2, so the range reaches 1).
H_RANGE = (1e-12, 1.0)
PRECISIONS = ("float64", "float32", "tf32")
PIXELS = 3  # the brightest pixels of the image: their 3 x 10 weights are the checked coordinates


@dataclass(frozen=True)
class Curve:
    """One precision's sweep: the steps, and the relative error of each difference at each step."""

    precision: str
    h: np.ndarray  # (H,) the steps, largest first
    central: np.ndarray  # (H,) relative error of the central difference
    one_sided: np.ndarray  # (H,) relative error of the one-sided difference

    @property
    def unit_roundoff(self) -> float:
        return UNIT_ROUNDOFF[self.precision]

    def best(self, scheme: str = "central") -> tuple[float, float]:
        """The measured optimum ``(h, error)``: the step with the smallest error."""
        err = self.central if scheme == "central" else self.one_sided
        i = int(np.argmin(err))
        return float(self.h[i]), float(err[i])

    def at(self, h: float) -> float:
        """The central difference's error at the swept step nearest ``h`` (in log scale)."""
        return float(self.central[int(np.argmin(np.abs(np.log(self.h / h))))])


def predicted(precision: str, scheme: str = "central") -> tuple[float, float]:
    r"""The predicted optimum ``(h*, best error)`` for unit-sized constants: :math:`((3u)^{1/3}, u^{2/3})`
    for the central difference, :math:`(2\sqrt u, 2\sqrt u)` for the one-sided one."""
    u = UNIT_ROUNDOFF[precision]
    return ((3 * u) ** (1 / 3), u ** (2 / 3)) if scheme == "central" else (2 * math.sqrt(u), 2 * math.sqrt(u))


def sweep_point(data: Datasets | None = None, *, data_dir: str | None = None, seed: int = 0):
    """The fixed point of the sweep: ``(x (1, 784), label (1,), W (784, 10), b (10,), coordinates)``.

    ``x`` is the first training image, rounded to TF32 once so that all three precisions see the same
    data; ``W`` is drawn in float32 (so float32 holds it exactly): normal(0, 1) on the rows of the image's
    three brightest pixels, whose 30 weights are the checked coordinates, normal(0, 0.01) elsewhere.
    """
    data = load_mnist(data_dir) if data is None else data
    x = tf32_round(data.train.images[:1]).astype(np.float64)  # (1, 784)
    pixels = np.argsort(-x[0], kind="stable")[:PIXELS]
    rng = np.random.default_rng(seed)
    W = rng.normal(0, 0.01, (784, 10))
    W[pixels] = rng.normal(0, 1, (PIXELS, 10))
    coords = [(int(i), k) for i in pixels for k in range(10)]
    return x, data.train.labels[:1], W.astype(np.float32).astype(np.float64), np.zeros(10), coords


def _loss(precision: str, x: np.ndarray, W: np.ndarray, b: np.ndarray, t: np.ndarray) -> float:
    """The cross-entropy of ``x W + b`` computed in ``precision`` (TF32: the product's inputs rounded)."""
    if precision == "tf32":
        logits = tf32_round(x) @ tf32_round(W) + b.astype(np.float32)  # (1, 10), added up in float32
    else:
        dtype = np.dtype(precision)
        logits = x.astype(dtype) @ W.astype(dtype) + b.astype(dtype)
    return losses.sparse_softmax_cross_entropy(logits, t)


def _check_range(h_range) -> tuple[float, float]:
    low, high = (float(v) for v in h_range)
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low < high):
        raise UserError(f"the sweep range must be two finite steps with 0 < low < high, got {low:g} {high:g}")
    return low, high


def h_sweep(
    data: Datasets | None = None,
    *,
    data_dir: str | None = None,
    h_range=H_RANGE,
    per_decade: int = 4,
    precisions=PRECISIONS,
    seed: int = 0,
) -> list[Curve]:
    """Central and one-sided differences of :func:`sweep_point`'s loss at every step, one :class:`Curve` per
    precision, each against the exact (float64, hand-written) gradient at the same point.

    ``data`` (loaded from ``data_dir`` if not given) supplies the image; ``h_range`` is ``(low, high)``, both
    > 0; ``per_decade`` steps per factor of 10, largest first.
    """
    low, high = _check_range(h_range)
    x, t, W, b, coords = sweep_point(data, data_dir=data_dir, seed=seed)
    exact = (x.T @ losses.sparse_softmax_cross_entropy_grad(x @ W + b, t))[tuple(zip(*coords, strict=True))]
    steps = np.logspace(math.log10(high), math.log10(low), round(per_decade * math.log10(high / low)) + 1)
    curves = []
    for precision in precisions:
        Wp = W.astype(np.float64 if precision == "float64" else np.float32)  # the stored parameters
        f0 = _loss(precision, x, Wp, b, t)
        central, one_sided = np.empty(steps.size), np.empty(steps.size)
        for j, h in enumerate(steps):
            plus, minus = np.empty(len(coords)), np.empty(len(coords))
            for c, (i, k) in enumerate(coords):
                old = Wp[i, k]
                Wp[i, k] = old + Wp.dtype.type(h)
                plus[c] = _loss(precision, x, Wp, b, t)
                Wp[i, k] = old - Wp.dtype.type(h)
                minus[c] = _loss(precision, x, Wp, b, t)
                Wp[i, k] = old
            central[j] = errors(exact, (plus - minus) / (2 * h))[1]
            one_sided[j] = errors(exact, (plus - f0) / h)[1]
        curves.append(Curve(precision, steps, central, one_sided))
    return curves


def format_sweep(curves: list[Curve]) -> str:
    """The sweep as a table: each precision's predicted and measured optimum, and its error at the project's step."""
    lines = [
        "relative error of 30 weights' differences of one example's cross-entropy: the optimum step and error",
        f"  {'precision':<9}  {'u':>7}  {'central h*':^20}  {'central best':^20}  {'one-sided h*, best':^22}"
        "  at the project's h",
        f"  {'':<9}  {'':>7}  {'predicted  measured':>20}  {'predicted  measured':>20}  {'predicted  measured':>20}",
    ]
    for c in curves:
        (hp, ep), (hm, em) = predicted(c.precision), c.best()
        (hp1, _), (hm1, em1) = predicted(c.precision, "one-sided"), c.best("one-sided")
        own = f"{c.at(STEPS[c.precision]):.1e} at h = {STEPS[c.precision]:g}" if c.precision in STEPS else "-"
        lines.append(
            f"  {c.precision:<9}  {c.unit_roundoff:7.1e}  {hp:9.1e}  {hm:9.1e}  {ep:9.1e}  {em:9.1e}  "
            f"{hp1:9.1e}  {hm1:7.0e}, {em1:.0e}  {own}"
        )
    lines.append("predicted: central h* = (3u)^(1/3), best u^(2/3); one-sided h* = best = 2 sqrt(u)")
    lines += [
        f"{c.precision} at float64's step h = {STEPS['float64']:g}: {c.at(STEPS['float64']):.0e}"
        for c in curves
        if c.precision != "float64"
    ]
    return "\n".join(lines)


def plot(curves: list[Curve], path) -> Path:
    """Draw the sweep (:func:`common.checkplots.plot_sweep`): each precision's V, its error models with unit
    constants, the predicted and measured optima, and the project's step and threshold where it has one."""
    panels = []
    for c in curves:
        u = c.unit_roundoff
        panels.append(
            {
                "title": f"{c.precision} (u = {u:.1e})" + (", inputs of x W rounded" if c.precision == "tf32" else ""),
                "h": c.h,
                "central": c.central,
                "one_sided": c.one_sided,
                "model_central": c.h**2 / 6 + u / c.h,
                "model_one_sided": c.h / 2 + 2 * u / c.h,
                "predicted": predicted(c.precision),
                "measured": c.best(),
                "step": STEPS.get(c.precision),
                "threshold": TOLERANCES.get(c.precision),
            }
        )
    return plot_sweep(panels, path)
