"""One PNG per operation: examples per second against batch size (median, with the rounds' spread as a band),
a panel per model, the roofline dotted."""

from __future__ import annotations

import textwrap
from pathlib import Path

from . import workloads
from .machine import machine_line

__all__ = ["STYLE", "plot"]

STYLE = {
    "scratch": ("black", "o"),
    "tfimpl-eager": ("#9e9ac8", "v"),
    "tfimpl-graph": ("#3182bd", "s"),
    "tfimpl-graph-multi": ("#31a354", "D"),
    "tfimpl-xla": ("#e6550d", "^"),
    "keras": ("#de2d26", "x"),
}


def _lines(ax, rows: list[dict], model: str) -> None:
    for impl in workloads.IMPLEMENTATIONS:
        for device in ("cpu", "gpu"):
            found = sorted(
                (r for r in rows if (r["model"], r["implementation"], r["device"]) == (model, impl, device)),
                key=lambda r: r["batch_size"],
            )
            if found:
                color, marker = STYLE[impl]
                batch = [r["batch_size"] for r in found]
                # the band: the slowest round to the fastest
                ax.fill_between(
                    batch,
                    [r["batch_size"] * r["steps_per_second_min"] for r in found],
                    [r["batch_size"] * r["steps_per_second_max"] for r in found],
                    color=color,
                    alpha=0.18,
                    linewidth=0,
                )
                ax.plot(
                    batch,
                    [r["examples_per_second"] for r in found],
                    color=color,
                    marker=marker,
                    linestyle="-" if device == "cpu" else "--",
                    label=f"{impl} ({device})",
                    linewidth=2 if impl == "scratch" else 1.4,
                )
    for device, style in (("cpu", ":"), ("gpu", (0, (1, 3)))):
        roof = sorted(
            {
                (r["batch_size"], r["batch_size"] * r["steps_per_call"] / r["roofline_seconds_per_call"])
                for r in rows
                if (r["model"], r["device"]) == (model, device)
            }
        )
        if roof:
            ax.plot(
                *zip(*roof, strict=True), color="0.45", linestyle=style, linewidth=1.5, label=f"roofline ({device})"
            )


def _crossover_notes(ax, report: dict, operation: str, model: str) -> None:
    notes = []
    for c in report["crossovers"]:
        if (c["operation"], c["model"], c["device"]) != (operation, model, "cpu") or c["implementation"] not in (
            "tfimpl-graph",
            "best tfimpl",
        ):
            continue
        label = "TF graph" if c["implementation"] == "tfimpl-graph" else "best TF"
        if c["batch_size"]:
            color = STYLE["tfimpl-graph"][0] if c["implementation"] == "tfimpl-graph" else "0.25"
            ax.axvline(c["batch_size"], color=color, linestyle="-.", linewidth=1)
            notes.append(f"{label} overtakes NumPy at B~{c['batch_size']:,.0f}")
        else:
            notes.append(f"{label}: {c['explanation'].split(' (')[0]}")
    if notes:
        box = {"facecolor": "white", "alpha": 0.8, "edgecolor": "0.8"}
        ax.text(0.98, 0.03, "\n".join(notes), transform=ax.transAxes, ha="right", va="bottom", fontsize=7.5, bbox=box)


def plot(report: dict, operation: str, path: Path) -> Path | None:
    """Examples per second against batch size, one panel per model; None when nothing was measured."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from common.plots import save

    rows = [m for m in report["measurements"] if m["operation"] == operation]
    if not rows:
        return None
    models = [m for m in workloads.MODELS if any(r["model"] == m for r in rows)]
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4.6), squeeze=False, sharey=True)
    for ax, model in zip(axes[0], models, strict=True):
        _lines(ax, rows, model)
        _crossover_notes(ax, report, operation, model)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{model} ({'-'.join(map(str, [784, *workloads.MODELS[model], 10]))})")
        ax.set_xlabel("batch size")
        ax.grid(True, which="major", alpha=0.3)
    axes[0][0].set_ylabel("examples per second (higher is better)")
    handles, labels = axes[0][-1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=8, frameon=False)
    machine = textwrap.fill(machine_line(report["machine"]), 150)
    fig.suptitle(f"{operation}: NumPy by hand against TensorFlow and Keras\n{machine}", fontsize=9)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return save(fig, path)
