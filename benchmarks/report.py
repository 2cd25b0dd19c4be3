r"""``python -m benchmarks report``: a timed sweep, written as JSON, a Markdown table and PNG plots.

For every workload of :mod:`benchmarks.workloads` chosen by the flags, the sweep warms up, then times
rounds of calls until ``--seconds`` have passed (at least three rounds) and keeps the median time per
call. In the same run it times the matrix products alone (:mod:`benchmarks.bounds`) and divides:

* ``efficiency`` = the fastest library's time for the products / the implementation's time: how close
  to this machine's limit the implementation is;
* ``efficiency_own_library`` = the same with the products timed in the implementation's own library
  (NumPy's BLAS for ``scratch``, TensorFlow's kernels for the others): how much the implementation adds on
  top of the library it calls.

Files (``--out``, default ``runs/benchmarks``): ``results.json``, ``report.md``, and ``<operation>.png``
for each operation, examples per second against batch size, one line per implementation and device, the
products' bound dotted, and the batch size where TensorFlow overtakes NumPy marked.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import math
import textwrap
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from common.data import load_mnist
from common.files import atomic_write_bytes, write_json

from . import bounds, workloads
from .machine import describe_machine, machine_line
from .timing import time_rounds

__all__ = ["crossovers", "main", "measure", "run_report", "targets"]

QUICK = {"operations": ("train_step",), "seconds": 0.1, "warmup": 1, "min_rounds": 2}
FULL = {"operations": workloads.OPERATIONS, "seconds": 1.0, "warmup": 2, "min_rounds": 3}
BOUND_KIND = {
    "forward": "forward",
    "evaluate": "forward",
    "loss_and_grads": "train",
    "train_step": "train",
    "epoch": "train",
}


def measure(w: workloads.Workload, *, seconds: float, warmup: int, min_rounds: int = 3) -> dict:
    """Median seconds per call of ``w.run`` over rounds of at least 10 ms; checks the last result.

    ``warmup`` untimed calls first. The first timed call is a round of its own and sets how many calls
    later rounds make; rounds go on until ``seconds`` have passed and there are ``min_rounds`` of them.
    """
    w.warm_up(max(1, warmup))
    times, result = time_rounds(w.run, seconds=seconds, min_rounds=min_rounds)
    w.check(result)
    return {
        "seconds_per_call": float(np.median(times)),
        "seconds_min": float(times.min()),
        "seconds_iqr": float(np.subtract(*np.percentile(times, [75, 25]))),
        "rounds": len(times),
    }


def _bound_rows(measurements: list[dict], seconds: float) -> list[dict]:
    """Products alone for every (model, batch, kind) measured: NumPy on the CPU, TF on each device."""
    keys = sorted(
        {(m["model"], m["batch_size"], BOUND_KIND[m["operation"]], m["device"]) for m in measurements},
        key=lambda k: (k[0], k[2], k[1], k[3]),
    )
    rows = []
    for model, batch, kind, device in keys:
        row = {"model": model, "batch_size": batch, "kind": kind, "device": device}
        row["flops"] = workloads.flops(model, batch, kind)
        if device == "cpu":
            row["numpy_seconds"] = bounds.numpy_products(model, batch, kind, min_seconds=seconds)
        if workloads.tensorflow_available():
            row["tensorflow_seconds"] = bounds.tensorflow_products(
                model, batch, kind, device=device, min_seconds=seconds
            )
        row["seconds"] = min(v for k, v in row.items() if k.endswith("_seconds"))
        row["gflops_per_second"] = row["flops"] / row["seconds"] / 1e9
        rows.append(row)
    return rows


def _attach_bounds(measurements: list[dict], bound_rows: list[dict]) -> None:
    index = {(b["model"], b["batch_size"], b["kind"], b["device"]): b for b in bound_rows}
    for m in measurements:
        b = index[(m["model"], m["batch_size"], BOUND_KIND[m["operation"]], m["device"])]
        own = b.get("numpy_seconds" if m["implementation"] == "scratch" else "tensorflow_seconds")
        m["bound_seconds_per_call"] = b["seconds"] * m["steps_per_call"]
        m["efficiency"] = m["bound_seconds_per_call"] / m["seconds_per_call"]
        m["efficiency_own_library"] = own * m["steps_per_call"] / m["seconds_per_call"] if own else None


def _lookup(measurements, **key) -> dict | None:
    for r in measurements:
        if all(r.get(k) == v for k, v in key.items()):
            return r
    return None


def crossovers(measurements: list[dict]) -> list[dict]:
    """Per operation, model, TF device and TensorFlow implementation: the batch size where it overtakes scratch.

    With ``r(B)`` = that implementation's examples/s over scratch's at each measured batch size, the
    crossover is where ``log r`` turns positive, interpolated linearly in ``log B`` between the two sizes
    around it. ``"best tfimpl"`` takes the fastest tfimpl variant at each size. ``batch_size`` is None,
    with the reason in ``explanation``, when TensorFlow is ahead everywhere or nowhere.
    """
    out = []
    tf_rows = [r for r in measurements if r["implementation"] != "scratch"]
    combos = sorted({(r["operation"], r["model"], r["device"]) for r in tf_rows})
    for op, model, device in combos:
        impls = ["best tfimpl"] + [
            i for i in workloads.TF_IMPLEMENTATIONS if any(r["implementation"] == i for r in tf_rows)
        ]
        for impl in impls:
            ratios = []
            for batch in sorted({r["batch_size"] for r in measurements if (r["operation"], r["model"]) == (op, model)}):
                np_row = _lookup(measurements, operation=op, model=model, batch_size=batch, implementation="scratch")
                rows = [
                    r
                    for r in tf_rows
                    if (r["operation"], r["model"], r["batch_size"], r["device"]) == (op, model, batch, device)
                    and (
                        r["implementation"] == impl
                        or (impl == "best tfimpl" and r["implementation"].startswith("tfimpl"))
                    )
                ]
                if np_row and rows:
                    best = max(rows, key=lambda r: r["examples_per_second"])
                    ratios.append(
                        (batch, best["examples_per_second"] / np_row["examples_per_second"], best["implementation"])
                    )
            if len(ratios) < 2:
                continue
            batch_size, text = _crossing(ratios)
            out.append(
                {
                    "operation": op,
                    "model": model,
                    "device": device,
                    "implementation": impl,
                    "batch_size": batch_size,
                    "explanation": text,
                    "ratios": [[b, r, i] for b, r, i in ratios],
                }
            )
    return out


def _crossing(ratios: list[tuple[int, float, str]]) -> tuple[float | None, str]:
    if all(r >= 1 for _, r, _ in ratios):
        return None, f"ahead of NumPy at every batch size measured (from {ratios[0][0]:,})"
    if all(r < 1 for _, r, _ in ratios):
        return None, f"behind NumPy at every batch size measured (up to {ratios[-1][0]:,})"
    if ratios[-1][1] < 1:
        return None, f"behind NumPy again at the largest batch size measured ({ratios[-1][0]:,})"
    crossing, text = None, ""
    for (b0, r0, _), (b1, r1, impl) in itertools.pairwise(ratios):  # the last change from behind to ahead
        if r0 < 1 <= r1:
            frac = -math.log(r0) / (math.log(r1) - math.log(r0))
            crossing = math.exp(math.log(b0) + frac * (math.log(b1) - math.log(b0)))
            text = f"overtakes NumPy between batch {b0:,} and {b1:,} (about {crossing:,.0f}; {impl})"
    return crossing, text


def targets(measurements: list[dict]) -> list[dict]:
    """Issue 5's ratios at batch 100 on the CPU, from the ``train_step`` rows."""

    def get(impl, model):
        return _lookup(
            measurements, operation="train_step", implementation=impl, model=model, batch_size=100, device="cpu"
        )

    rows = []
    for model, need in (("linear", 10.0), ("mlp", 3.0)):
        s, k = get("scratch", model), get("keras", model)
        if s and k:
            ratio = s["steps_per_second"] / k["steps_per_second"]
            rows.append({"target": f"scratch {model} / Keras fit", "measured": ratio, "required": need})
    s = get("scratch", "mlp")
    if s:
        rows.append(
            {
                "target": "scratch mlp: products alone (NumPy) / step",
                "measured": s["efficiency_own_library"],
                "required": 0.6,
            }
        )
        rows.append(
            {
                "target": "scratch mlp: products alone (fastest library) / step",
                "measured": s["efficiency"],
                "required": 0.6,
            }
        )
    for model in ("linear", "mlp"):
        k = get("keras", model)
        tf_rows = [r for i in workloads.TF_IMPLEMENTATIONS if i != "keras" and (r := get(i, model))]
        if k and tf_rows:
            best = max(tf_rows, key=lambda r: r["steps_per_second"])
            rows.append(
                {
                    "target": f"best tfimpl {model} ({best['implementation']}) / Keras fit",
                    "measured": best["steps_per_second"] / k["steps_per_second"],
                    "required": 1.5,
                }
            )
    for r in rows:
        r["met"] = bool(r["measured"] is not None and r["measured"] >= r["required"])
    return rows


# ------------------------------------------------------------------------------------------------------
# Writing it down
# ------------------------------------------------------------------------------------------------------


def _fmt_rate(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}" if v >= 10 else f"{v:.2f}"


def markdown(report: dict) -> str:
    meas = report["measurements"]
    lines = [
        "# Benchmark report",
        "",
        f"Measured {report['date']} with `{report['command']}` ({report['wall_seconds'] / 60:.1f} min).",
        "",
        f"**Machine:** {machine_line(report['machine'])}.",
        "",
    ]
    if report["targets"]:
        lines += ["## Targets (batch 100, CPU, `train_step` rounds)", "", "| target | measured | required | met |"]
        lines += ["|---|---:|---:|:-:|"]
        for t in report["targets"]:
            measured = "n/a" if t["measured"] is None else f"{t['measured']:.2f}"
            lines.append(f"| {t['target']} | {measured} | {t['required']:g} | {'yes' if t['met'] else '**no**'} |")
        lines.append("")
    if report["crossovers"]:
        lines += [
            "## Where TensorFlow overtakes NumPy",
            "",
            "The batch size from which each TensorFlow path trains (or predicts) more examples per second than",
            "`scratch`; `best tfimpl` takes the fastest tfimpl variant at each size.",
            "",
            "| operation | model | TF device | TensorFlow path | crossover |",
            "|---|---|---|---|---|",
        ]
        for c in report["crossovers"]:
            lines.append(
                f"| {c['operation']} | {c['model']} | {c['device']} | {c['implementation']} | {c['explanation']} |"
            )
        lines.append("")
    for op in workloads.OPERATIONS:
        rows = [m for m in meas if m["operation"] == op]
        if not rows:
            continue
        batches = sorted({m["batch_size"] for m in rows})
        lines += [
            f"## `{op}`: steps per second (efficiency against the matrix-product bound)",
            "",
            "| model | implementation | device | " + " | ".join(f"B={b:,}" for b in batches) + " |",
            "|---|---|---|" + "---:|" * len(batches),
        ]
        for model in workloads.MODELS:
            for impl in workloads.IMPLEMENTATIONS:
                for device in ("cpu", "gpu"):
                    cells = []
                    for b in batches:
                        r = _lookup(rows, model=model, implementation=impl, device=device, batch_size=b)
                        cells.append(f"{_fmt_rate(r['steps_per_second'])} ({r['efficiency']:.0%})" if r else "")
                    if any(cells):
                        lines.append(f"| {model} | {impl} | {device} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += [
        "## The bound: the same matrix products alone",
        "",
        "Microseconds for one step's products (forward only for `forward` and `evaluate`).",
        "",
        "| model | kind | device | batch | NumPy (us) | TensorFlow (us) | best GFLOP/s |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for b in report["bounds"]:
        npv = f"{b['numpy_seconds'] * 1e6:,.1f}" if "numpy_seconds" in b else ""
        tfv = f"{b['tensorflow_seconds'] * 1e6:,.1f}" if "tensorflow_seconds" in b else ""
        lines.append(
            f"| {b['model']} | {b['kind']} | {b['device']} | {b['batch_size']:,} | {npv} | {tfv} | {b['gflops_per_second']:.1f} |"
        )
    lines.append("")
    return "\n".join(lines)


STYLE = {
    "scratch": ("black", "o"),
    "tfimpl-eager": ("#9e9ac8", "v"),
    "tfimpl-graph": ("#3182bd", "s"),
    "tfimpl-graph-multi": ("#31a354", "D"),
    "tfimpl-xla": ("#e6550d", "^"),
    "keras": ("#de2d26", "x"),
}


def plot(report: dict, operation: str, path: Path) -> Path | None:
    """Examples per second against batch size, one panel per model."""
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
        for impl in workloads.IMPLEMENTATIONS:
            for device in ("cpu", "gpu"):
                pts = sorted(
                    (r["batch_size"], r["examples_per_second"])
                    for r in rows
                    if r["model"] == model and r["implementation"] == impl and r["device"] == device
                )
                if not pts:
                    continue
                color, marker = STYLE[impl]
                ax.plot(
                    *zip(*pts, strict=True),
                    color=color,
                    marker=marker,
                    linestyle="-" if device == "cpu" else "--",
                    label=f"{impl} ({device})",
                    linewidth=2 if impl == "scratch" else 1.4,
                )
        bound = sorted(
            (r["batch_size"], r["batch_size"] * r["steps_per_call"] / r["bound_seconds_per_call"])
            for r in rows
            if r["model"] == model and r["implementation"] == "scratch"
        )
        if bound:
            ax.plot(
                *zip(*bound, strict=True), color="0.5", linestyle=":", linewidth=1.5, label="products alone (CPU bound)"
            )
        notes = []
        for c in report["crossovers"]:
            if (c["operation"], c["model"], c["device"]) != (operation, model, "cpu"):
                continue
            if c["implementation"] not in ("tfimpl-graph", "best tfimpl"):
                continue
            label = "TF graph" if c["implementation"] == "tfimpl-graph" else "best TF"
            if c["batch_size"]:
                color = STYLE["tfimpl-graph"][0] if c["implementation"] == "tfimpl-graph" else "0.25"
                ax.axvline(c["batch_size"], color=color, linestyle="-.", linewidth=1)
                notes.append(f"{label} overtakes NumPy at B~{c['batch_size']:,.0f}")
            else:
                notes.append(f"{label}: {c['explanation'].split(' (')[0]}")
        if notes:
            ax.text(
                0.98,
                0.03,
                "\n".join(notes),
                transform=ax.transAxes,
                ha="right",
                va="bottom",
                fontsize=7.5,
                bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "0.8"},
            )
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


# ------------------------------------------------------------------------------------------------------
# The sweep
# ------------------------------------------------------------------------------------------------------


def run_report(
    out: str | Path,
    *,
    operations: Iterable[str],
    implementations: Iterable[str],
    models: Iterable[str],
    batch_sizes: Iterable[int],
    seconds: float,
    warmup: int,
    min_rounds: int,
    command: str,
    progress: bool = True,
) -> dict:
    from tqdm import tqdm

    started = time.perf_counter()
    out = Path(out)
    if workloads.tensorflow_available():
        import tensorflow as tf

        # Every workload builds its own tf.function on purpose; TF's "retracing" warning counts those.
        tf.get_logger().setLevel("ERROR")
    data = load_mnist(dtype=np.float32)
    case_list = list(workloads.cases(tuple(operations), tuple(implementations), tuple(models), tuple(batch_sizes)))
    if not workloads.tensorflow_available():
        case_list = [c for c in case_list if c.implementation == "scratch"]
    measurements = []
    bar = tqdm(case_list, desc="benchmarks", unit="case", disable=not progress)
    for case in bar:
        bar.set_postfix_str(case.id, refresh=True)
        w = workloads.build(case, data)
        timing = measure(w, seconds=seconds, warmup=warmup, min_rounds=min_rounds)
        measurements.append(
            {
                "operation": case.operation,
                "implementation": case.implementation,
                "model": case.model,
                "batch_size": case.batch_size,
                "device": case.device,
                "steps_per_call": w.steps,
                "examples_per_call": w.examples,
                **timing,
                "steps_per_second": w.steps / timing["seconds_per_call"],
                "examples_per_second": w.examples / timing["seconds_per_call"],
            }
        )
        del w
    bound_rows = _bound_rows(measurements, min(seconds, 0.5))
    _attach_bounds(measurements, bound_rows)
    report = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "machine": describe_machine(),
        "settings": {
            "seconds": seconds,
            "warmup": warmup,
            "min_rounds": min_rounds,
            "round_steps": workloads.ROUND_STEPS,
        },
        "measurements": measurements,
        "bounds": bound_rows,
        "crossovers": crossovers(measurements),
        "targets": targets(measurements),
    }
    report["wall_seconds"] = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "results.json", report)
    atomic_write_bytes(out / "report.md", markdown(report).encode())
    for op in workloads.OPERATIONS:
        plot(report, op, out / f"{op}.png")
    return report


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"batch sizes must be positive, got {text!r}")
    return values


def _names(options):
    def parse(text: str) -> list[str]:
        values = text.split(",")
        bad = [v for v in values if v not in options]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown {bad}; choose from {', '.join(options)}")
        return values

    return parse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="train_step only, short timings: under 5 minutes on 2 cores")
    p.add_argument("--out", default="runs/benchmarks", help="output folder (default runs/benchmarks)")
    p.add_argument(
        "--operations", type=_names(workloads.OPERATIONS), help="comma-separated; default all (quick: train_step)"
    )
    p.add_argument("--implementations", type=_names(workloads.IMPLEMENTATIONS), default=list(workloads.IMPLEMENTATIONS))
    p.add_argument("--models", type=_names(tuple(workloads.MODELS)), default=list(workloads.MODELS))
    p.add_argument("--batch-sizes", type=_int_list, default=list(workloads.BATCH_SIZES))
    p.add_argument("--seconds", type=float, help="time per measurement (default 1.0; quick 0.15)")
    p.add_argument("--no-progress", action="store_true")


def main(args: argparse.Namespace, argv: list[str]) -> int:
    preset = QUICK if args.quick else FULL
    seconds = preset["seconds"] if args.seconds is None else args.seconds
    if not seconds > 0:
        raise SystemExit("--seconds must be positive")
    report = run_report(
        args.out,
        operations=args.operations or preset["operations"],
        implementations=args.implementations,
        models=args.models,
        batch_sizes=args.batch_sizes,
        seconds=seconds,
        warmup=preset["warmup"],
        min_rounds=preset["min_rounds"],
        command="python -m benchmarks " + " ".join(argv),
        progress=not args.no_progress,
    )
    print(markdown(report))
    print(f"wrote {args.out}/results.json, report.md and the plots in {report['wall_seconds'] / 60:.1f} min")
    return 0
