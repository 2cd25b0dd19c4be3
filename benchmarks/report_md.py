"""``report.md``: the benchmark report as Markdown tables, one small function per section."""

from __future__ import annotations

from . import workloads
from .analysis import lookup
from .machine import machine_line

__all__ = ["loop_table", "markdown"]


def _rate(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}" if v >= 10 else f"{v:.2f}"


def _header(report: dict) -> list[str]:
    precision = report.get("precision", {})
    text = ", ".join(f"{d}: {p}" for d, p in precision.items()) or "float32"
    models = [m for m in workloads.MODELS if any(r["model"] == m for r in report["measurements"])]
    return [
        f"# Benchmark report: {', '.join(models)}",
        "",
        f"Measured {report['date']} at commit `{report.get('commit', 'unknown')}` with `{report['command']}` "
        f"({report['wall_seconds'] / 60:.1f} min).",
        "",
        f"**Machine:** {machine_line(report['machine'])}.",
        "",
        f"**Precision of float32 matrix products:** {text}.",
        "",
    ]


def _verdict(report: dict) -> list[str]:
    rows = report.get("verdict", [])
    if not rows:
        return []
    lines = [
        "## Verdict: NumPy by hand, TensorFlow or Keras? (`train_step`, batch 100)",
        "",
        "| model | device | scratch steps/s | best TensorFlow path | its steps/s | TF / scratch | Keras `fit` steps/s "
        "| scratch / Keras | TF compile s | paid back after |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for v in rows:
        keras = _rate(v["keras"]) if v["keras"] else "n/a"
        over_keras = f"{v['scratch_over_keras']:.2f}x" if v["scratch_over_keras"] else "n/a"
        payback = f"{v['payback_steps']:,.0f} steps" if v["payback_steps"] is not None else "never"
        lines.append(
            f"| {v['model']} | {v['device']} | {_rate(v['scratch'])} | {v['best_tf']} | "
            f"{_rate(v['best_tf_steps_per_second'])} | {v['best_tf_over_scratch']:.2f}x | {keras} | {over_keras} | "
            f"{v['compile_seconds']:.2f} | {payback} |"
        )
    lines.append("")
    lines += [f"- **{v['model']}** ({v['device']}): {v['advice']}" for v in rows]
    return [*lines, ""]


def _targets(report: dict) -> list[str]:
    if not report["targets"]:
        return []
    lines = [
        "## The project's own targets (batch 100, CPU, `train_step` rounds)",
        "",
        "Checks on the implementations, not advice: a miss says where a step loses time.",
        "",
        "| target | what it means | measured | required | met |",
        "|---|---|---:|---:|:-:|",
    ]
    for t in report["targets"]:
        measured = "n/a" if t["measured"] is None else f"{t['measured']:.2f}"
        lines.append(
            f"| {t['target']} | {t.get('meaning', '')} | {measured} | {t['required']:g} | {'yes' if t['met'] else '**no**'} |"
        )
    return [*lines, ""]


def loop_table(rows: list[dict]) -> list[str]:
    """The loop against its step: medians of centred pairs, the median's interval and the pairs' spread."""
    lines = [
        "| implementation | model | `train_step` steps/s | `train` steps/s | ratio (median) | median's interval "
        "| min-max (pairs) | target 0.9 met |",
        "|---|---|---:|---:|---:|---:|---:|:-:|",
    ]
    for r in rows:
        interval = r.get("ratio_interval")
        within = (
            "too few pairs"
            if interval is None
            else f"{interval[0]:.3f}-{interval[1]:.3f} ({r['interval_coverage']:.1%})"
        )
        met = "yes" if r["met"] else "**no**"
        if interval is not None and not r.get("decided", True):
            met += ", too near to tell"  # the interval still holds the target after every pair allowed
        lines.append(
            f"| {r['implementation']} | {r['model']} | {_rate(r['train_step_steps_per_second'])} | "
            f"{_rate(r['train_steps_per_second'])} | {r['ratio']:.3f} | {within} | "
            f"{r['ratio_min']:.2f}-{r['ratio_max']:.2f} ({r['pairs']}) | {met} |"
        )
    return lines


def _loop(report: dict) -> list[str]:
    rows = report.get("loop", [])
    if not rows:
        return []
    lines = [
        "## Does `train` run at the speed of its own step? (batch 100, CPU)",
        "",
        "Steady-state steps/s of the `train` command's loop against the `train_step` case, in centred pairs",
        "(step, loop, step, ...: each loop run over the mean of the steps just before and after it; each side's steps",
        "over its whole time, the step's window as long as the loop run before it), NumPy's BLAS on",
        "one thread (on a busy 2-core machine two OpenBLAS threads wait on each other; see `benchmarks/loop.py`),",
        "measured by `python -m benchmarks loop` in a process of its own: the same measurement as run alone.",
        *_pairs_rule(rows[0]),
        "",
    ]
    return [*lines, *loop_table(rows), ""]


def _pairs_rule(row: dict) -> list[str]:
    """How many pairs the rows took, in words (rows written before the rule existed have no such keys)."""
    if "pairs_allowed" not in row:
        return []
    (fewest, most), level, target = row["pairs_allowed"], row["interval_level"], row["required"]
    return [
        f"At least {fewest} pairs, and more while the median's interval (order statistics, {level:.0%} at each look)",
        f"holds {target}, up to {most}; a row whose interval still holds {target} then is too near the target for",
        "this machine to tell.",
    ]


def _accuracy(report: dict) -> list[str]:
    rows = report.get("time_to_accuracy", [])
    if not rows:
        return []
    lines = [
        "## Time to accuracy (batch 100, the tutorials' recipes)",
        "",
        "`linear` to 92% (zeros, SGD 0.5) and `mlp` to 98% (normal(0.03), SGD 0.5, the clipped per-class loss),",
        "scored after each epoch; `cnn` to 99% (Adam 0.001, batch 64, dropout 0.25, each twin's own `train`), scored",
        "after its 3 epochs; steady = the epochs' training only; wall = compile, training and the test scoring.",
        "",
        "| model | implementation | device | reached | epochs | steady s | compile s | wall s |",
        "|---|---|---|:-:|---:|---:|---:|---:|",
    ]
    for r in rows:
        reached = f"{r['accuracy']:.2%}" if r["reached"] else f"**no** ({r['accuracy']:.2%})"
        lines.append(
            f"| {r['model']} | {r['implementation']} | {r['device']} | {reached} | {r['epochs']} | "
            f"{r['steady_seconds']:.1f} | {r['compile_seconds']:.1f} | {r['wall_seconds']:.1f} |"
        )
    return [*lines, ""]


def _crossovers(report: dict) -> list[str]:
    if not report["crossovers"]:
        return []
    lines = [
        "## Where TensorFlow overtakes NumPy",
        "",
        "Every change of leader along the batch axis, interpolated in log batch between the sizes around it (the",
        "plot marks the same batch sizes); `best tfimpl` takes the fastest tfimpl variant at each size and names it.",
        "",
        "| operation | model | TF device | TensorFlow path | where the lead changes |",
        "|---|---|---|---|---|",
    ]
    for c in report["crossovers"]:
        lines.append(
            f"| {c['operation']} | {c['model']} | {c['device']} | {c['implementation']} | {c['explanation']} |"
        )
    return [*lines, ""]


def _cell(r: dict) -> str:
    spread = f"{_rate(r['steps_per_second_min'])}-{_rate(r['steps_per_second_max'])}"
    return f"{_rate(r['steps_per_second'])} [{spread}] {r['efficiency']:.0%}"


def _operation(report: dict, op: str) -> list[str]:
    rows = [m for m in report["measurements"] if m["operation"] == op]
    if not rows:
        return []
    batches = sorted({m["batch_size"] for m in rows})
    lines = [
        f"## `{op}`: steps per second (efficiency against the roofline)",
        "",
        "Median over the rounds, the slowest and fastest round in brackets, then the efficiency.",
        "",
        "| model | implementation | device | " + " | ".join(f"B={b:,}" for b in batches) + " |",
        "|---|---|---|" + "---:|" * len(batches),
    ]
    for model in workloads.MODELS:
        for impl in workloads.IMPLEMENTATIONS:
            for device in ("cpu", "gpu"):
                found = [lookup(rows, model=model, implementation=impl, device=device, batch_size=b) for b in batches]
                cells = [_cell(r) if r else "" for r in found]
                if any(cells):
                    lines.append(f"| {model} | {impl} | {device} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _roofline(report: dict) -> list[str]:
    lines = [
        "## The roofline: this machine's peaks, a ceiling no step can beat",
        "",
        "Peak float32 FLOP/s is the largest of: the best product of several shapes measured at the start and the",
        "end of the run, one thread's best times the cores, and the physical figure (cores x 2 FMA units x lanes",
        "x 2 x clock). All are in results.json; the one that set the ceiling is named.",
        "",
        "| device | ceiling GFLOP/s | set by | measured | per core x cores | physical | peak GB/s (fastest copy) |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for device, p in report["peaks"].items():
        cells = [
            f"{p[k] / 1e9:,.0f}" if p.get(k) else "n/a"
            for k in ("gemm_flops_measured", "gemm_flops_per_core_x_cores", "gemm_flops_physical")
        ]
        lines.append(
            f"| {device} | {p['gemm_flops'] / 1e9:,.0f} | {p['gemm_set_by']} | {' | '.join(cells)} | "
            f"{p['bandwidth'] / 1e9:,.0f} |"
        )
    found = [m["efficiency"] for m in report["measurements"]]
    if found:
        lines += ["", f"Largest efficiency in this report: {max(found):.1%}."]
    return [*lines, ""]


def _products(report: dict) -> list[str]:
    lines = [
        "## A library-level reference: the same matrix products alone",
        "",
        "Microseconds for one step's products (forward only for `forward` and `evaluate`); `products_alone_ratio`",
        "in results.json is this time over the step's. Not a bound: one XLA graph can beat separate calls.",
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
    return [*lines, ""]


def markdown(report: dict) -> str:
    sections = [_header, _verdict, _accuracy, _crossovers, _loop]
    lines = [line for section in sections for line in section(report)]
    for op in workloads.OPERATIONS:
        table = _operation(report, op)
        if table:  # the plot is written beside report.md (benchmarks.report)
            table += [f"![{op}: steps per second and speed over scratch against batch size]({op}.png)", ""]
        lines += table
    lines += _roofline(report) + _products(report) + _targets(report)
    return "\n".join(lines)
