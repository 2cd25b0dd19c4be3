r"""The gradient-checking figures: the h-sweep's V and the curvature against divergence.

Like :mod:`common.plots`, these functions only draw: the numbers come from :mod:`scratch.sweep` and
:mod:`scratch.sharpness`, passed in as plain arrays and dicts, so nothing here knows either twin.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter

from .plots import save

__all__ = ["plot_curvature", "plot_sweep"]


def _sweep_panel(ax, p: dict) -> None:
    h = p["h"]
    ax.loglog(h, p["central"], ".-", color="C0", lw=1.6, ms=4, label="central difference, measured")
    ax.loglog(h, p["one_sided"], "--", color="C1", lw=1.2, label="one-sided difference, measured")
    ax.loglog(h, p["model_central"], ":", color="0.35", lw=1.2, label=r"model $h^2/6 + u/h$ (central, unit constants)")
    ax.loglog(h, p["model_one_sided"], ":", color="C1", alpha=0.5, lw=1, label=r"model $h/2 + 2u/h$ (one-sided)")
    (hp, ep), (hm, em) = p["predicted"], p["measured"]
    ax.plot([hp], [ep], "*", color="black", ms=15, zorder=5, label=r"predicted optimum $(3u)^{1/3}$, $u^{2/3}$")
    ax.plot([hm], [em], "o", mfc="none", mec="C3", mew=2, ms=11, zorder=5, label="measured optimum")
    if p.get("step") is not None:
        ax.axvline(p["step"], color="C2", lw=1, alpha=0.8, label="the project's h and pass threshold")
        ax.axhline(p["threshold"], color="C2", lw=1, alpha=0.8)
    text = f"predicted: h* {hp:.0e}, error {ep:.0e}\nmeasured:  h* {hm:.0e}, error {em:.0e}"
    if p.get("step") is not None:
        text += f"\nproject: h = {p['step']:g}, passes below {p['threshold']:g}"
    ax.text(
        0.03,
        0.03,
        text,
        transform=ax.transAxes,
        fontsize=8,
        family="monospace",
        va="bottom",
        bbox={"facecolor": "white", "edgecolor": "0.7", "alpha": 0.9},
    )
    ax.set_title(p["title"])
    ax.set_xlabel("step h")
    ax.set_ylim(1e-13, 3)
    ax.set_xlim(h.min() / 1.5, h.max() * 1.5)
    ax.grid(True, which="major", alpha=0.3)


def plot_sweep(panels: Sequence[dict], path):
    """The V of each precision side by side: the relative error of a finite difference against its step.

    Each panel is a dict: ``title``, ``h``, ``central``, ``one_sided`` (measured errors), ``model_central``
    and ``model_one_sided`` (the error models with unit constants), ``predicted`` and ``measured``
    (``(h*, error)``), and optionally the project's ``step`` and ``threshold`` for that precision.
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 5.6), sharey=True, squeeze=False)
    for ax, p in zip(axes[0], panels, strict=True):
        _sweep_panel(ax, p)
    axes[0, 0].set_ylabel("relative error of the difference quotient")
    fig.suptitle("The h-sweep: truncation falls as h^2 to the right (h one-sided), rounding rises as u/h to the left")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    return save(fig, path)


def _rates_panel(ax, m: dict) -> None:
    rates = np.asarray(m["rates"])
    trained = np.array([a is not None for a in m["accuracy"]])
    acc = np.array([a if a is not None else 0.0 for a in m["accuracy"]])
    rose = np.asarray(m["rose"], bool)
    calm = trained & ~rose
    ax.semilogx(rates[trained], acc[trained], "-", color="0.6", lw=1)
    ax.semilogx(rates[calm], acc[calm], "o", color="C0", ms=7, label="trained; the loss kept below its start")
    ax.semilogx(
        rates[trained & rose],
        acc[trained & rose],
        "o",
        color="C1",
        ms=7,
        label="trained, but the loss rose above its start",
    )
    ax.semilogx(
        rates[~trained], acc[~trained], "x", color="C3", ms=11, mew=2.5, label="stopped by the divergence watch"
    )
    ax.axvline(
        m["predicted"], color="black", lw=1.6, label=f"predicted edge: 2 / lambda_max(start) = {m['predicted']:.3g}"
    )
    ax.axvspan(m["predicted"], rates.max() * 2, color="0.5", alpha=0.08, label="predicted unstable")
    ax.set_xlim(rates.min() / 1.5, rates.max() * 1.5)
    ax.set_ylim(-0.04, 1.02)
    ax.set_xlabel("learning rate (SGD, batch 100, 1000 steps)")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"{m['title']}\nlambda_max at the start = {m['lambda0']:.3g}")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="center left")


def _some_minor_ticks(y: float, _) -> str:
    """Label the log axis' minor ticks at 2, 3, 4 and 5 times a power of ten, no others."""
    mantissa = round(y / 10 ** np.floor(np.log10(y)), 6)
    return f"{y:g}" if mantissa in (2, 3, 4, 5) else ""


def _along_panel(ax, m: dict) -> None:
    for i, (rate, steps, lams) in enumerate(m["along"]):
        ax.plot(steps, lams, "o-", color=f"C{i + 2}", ms=4, label=f"lambda_max along SGD at lr {rate:g}")
        ax.axhline(2 / rate, color=f"C{i + 2}", ls="--", lw=1.2, label=f"2 / lr = {2 / rate:.3g}: stable below")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(_some_minor_ticks))
    ax.set_xlabel("training step")
    ax.set_ylabel("lambda_max (power iteration, 1000 images)")
    ax.set_title("lambda_max along training")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)


def plot_curvature(models: Sequence[dict], path):
    """Per model, the learning-rate sweep beside the edge ``2 / lambda_max`` predicts (top row), and lambda_max
    along training runs beside their own ``2 / lr`` (bottom row).

    Each model is a dict: ``title``; ``rates``, ``accuracy`` (None where the watch stopped the run) and
    ``rose`` (whether the loss went above its start); ``predicted`` (2 / lambda_max at the start) and
    ``lambda0``; ``along``, a list of ``(rate, steps, lambda_max values)``.
    """
    fig, axes = plt.subplots(2, len(models), figsize=(6.8 * len(models), 10), squeeze=False)
    for j, m in enumerate(models):
        _rates_panel(axes[0, j], m)
        _along_panel(axes[1, j], m)
    fig.suptitle("Curvature predicts divergence: gradient descent is stable while lr < 2 / lambda_max")
    fig.tight_layout()
    return save(fig, path)
