"""One PNG per operation, a column per model: steps per second against batch size (the tables' unit, median
with the rounds' spread as a band, the roofline dotted), and below it each path's speed over scratch's on a
linear axis, where a 1.3x gap can be seen. The batch sizes where the lead changes hands are the report's
(:func:`benchmarks.analysis.crossovers`), marked in both panels and named in the legend."""

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
DEVICE_LINE = {"cpu": "-", "gpu": "--"}
ROOF_LINE = {"cpu": ":", "gpu": (0, (1, 3))}


def _layers(model: str) -> str:
    if model == "cnn":
        return "conv 5x5x16, conv 5x5x36, 128, 10"
    return "-".join(map(str, [784, *workloads.MODELS[model], 10]))


def _series(rows, model, impl, device):
    return sorted(
        (r for r in rows if (r["model"], r["implementation"], r["device"]) == (model, impl, device)),
        key=lambda r: r["batch_size"],
    )


def _rates(ax, rows: list[dict], model: str) -> None:
    for impl in workloads.IMPLEMENTATIONS:
        for device in ("cpu", "gpu"):
            found = _series(rows, model, impl, device)
            if not found:
                continue
            color, marker = STYLE[impl]
            batch = [r["batch_size"] for r in found]
            ax.fill_between(  # the slowest round to the fastest
                batch,
                [r["steps_per_second_min"] for r in found],
                [r["steps_per_second_max"] for r in found],
                color=color,
                alpha=0.18,
                linewidth=0,
            )
            ax.plot(
                batch,
                [r["steps_per_second"] for r in found],
                color=color,
                marker=marker,
                linestyle=DEVICE_LINE[device],
                label=f"{impl} ({device})",
                linewidth=2 if impl == "scratch" else 1.4,
            )
    for device, style in ROOF_LINE.items():
        roof = sorted(
            {
                (r["batch_size"], r["steps_per_call"] / r["roofline_seconds_per_call"])
                for r in rows
                if (r["model"], r["device"]) == (model, device)
            }
        )
        if roof:
            ax.plot(
                *zip(*roof, strict=True), color="0.45", linestyle=style, linewidth=1.5, label=f"roofline ({device})"
            )


def _ratios(ax, rows: list[dict], model: str) -> None:
    base = {r["batch_size"]: r["steps_per_second"] for r in _series(rows, model, "scratch", "cpu")}
    ax.axhline(1.0, color="black", linewidth=2)
    for impl in workloads.TF_IMPLEMENTATIONS:
        for device in ("cpu", "gpu"):
            pts = [(r["batch_size"], r["steps_per_second"] / base[r["batch_size"]])
                   for r in _series(rows, model, impl, device) if r["batch_size"] in base]  # fmt: skip
            if pts:
                color, marker = STYLE[impl]
                ax.plot(
                    *zip(*pts, strict=True), color=color, marker=marker, linestyle=DEVICE_LINE[device], linewidth=1.4
                )


def _lead_changes(axes, report: dict, operation: str, model: str) -> None:
    """The report's own changes of leader (CPU, the plain graph and the best tfimpl path), in both panels."""
    for c in report["crossovers"]:
        if (c["operation"], c["model"], c["device"]) != (operation, model, "cpu"):
            continue
        if c["implementation"] not in ("tfimpl-graph", "best tfimpl"):
            continue
        color = STYLE["tfimpl-graph"][0] if c["implementation"] == "tfimpl-graph" else "0.25"
        name = "TF graph" if c["implementation"] == "tfimpl-graph" else "best tfimpl"
        for change in c.get("changes", []):
            verb = "leads" if change["leader"] == "TensorFlow" else "falls behind"
            for ax in axes:
                ax.axvline(
                    change["batch_size"],
                    color=color,
                    linestyle="-.",
                    linewidth=1,
                    label=f"{name} {verb} from B~{change['batch_size']:,.0f}" if ax is axes[0] else None,
                )


def plot(report: dict, operation: str, path: Path) -> Path | None:
    """Steps per second and speed over scratch against batch size, a column per model; None when nothing was measured."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from common.plots import save

    rows = [m for m in report["measurements"] if m["operation"] == operation]
    if not rows:
        return None
    models = [m for m in workloads.MODELS if any(r["model"] == m for r in rows)]
    fig, axes = plt.subplots(
        2, len(models), figsize=(5.4 * len(models), 7.4), squeeze=False, sharex="col", height_ratios=(3, 2)
    )
    for col, model in enumerate(models):
        top, bottom = axes[0][col], axes[1][col]
        _rates(top, rows, model)
        _ratios(bottom, rows, model)
        _lead_changes((top, bottom), report, operation, model)
        top.set_yscale("log")
        top.set_title(f"{model} ({_layers(model)})")
        bottom.set_xscale("log")
        bottom.set_xlabel("batch size")
        bottom.set_ylim(bottom=0)
        for ax in (top, bottom):
            ax.grid(True, which="major", alpha=0.3)
            handles, labels = ax.get_legend_handles_labels()
            if any(label.startswith(("TF graph", "best tfimpl")) for label in labels):
                ax.legend(
                    [h for h, label in zip(handles, labels, strict=True) if label.startswith(("TF graph", "best"))],
                    [label for label in labels if label.startswith(("TF graph", "best"))],
                    fontsize=7,
                    loc="upper left" if ax is top else "upper right",
                )
    axes[0][0].set_ylabel("steps per second (higher is better)")
    axes[1][0].set_ylabel("steps/s over scratch's (1 = NumPy)")
    seen: dict = {}
    for ax in axes[0]:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if not label.startswith(("TF graph", "best")):
                seen.setdefault(label, h)
    seen["slowest to fastest round"] = Patch(color="0.5", alpha=0.3)
    fig.legend(list(seen.values()), list(seen), loc="lower center", ncol=min(5, len(seen)), fontsize=8, frameon=False)
    machine = textwrap.fill(machine_line(report["machine"]), 150)
    fig.suptitle(f"{operation}: NumPy by hand against TensorFlow and Keras\n{machine}", fontsize=9)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return save(fig, path)
