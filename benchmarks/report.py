r"""``python -m benchmarks report``: a timed sweep, written as JSON, a Markdown table and PNG plots.

For every workload of :mod:`benchmarks.workloads` chosen by the flags, the sweep warms up (tracing and
compiling happen there, apart from the timing), then times rounds of calls until ``--seconds`` have
passed (at least three rounds) and keeps the median time per call. In the same run it measures:

* the machine's roofline (:mod:`benchmarks.roofline`), its peaks timed at the start and at the end:
  each row's ``efficiency`` is the roofline time over its own, at most 1;
* the same step's matrix products alone (:mod:`benchmarks.bounds`), a library-level reference;
* the ``train`` command's loop against the ``train_step`` case (:mod:`benchmarks.loop`);
* the time to a tutorial's accuracy (:mod:`benchmarks.accuracy`), Keras' ``fit`` included.

Files (``--out``, default ``runs/benchmarks``): ``results.json``, ``report.md``, and ``<operation>.png``
per operation. ``--tf32 on|off`` sets TensorFlow's TF32 for float32 matrix products on GPUs (on is
TensorFlow's default); the report names the precision each device ran with.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from common.data import load_mnist
from common.files import atomic_write_bytes, check_out_dir, write_json

from . import analysis, workloads
from .builders import build
from .machine import describe_machine
from .report_md import markdown
from .report_plot import plot
from .roofline import ceiling, measure_peaks
from .timing import time_rounds

__all__ = ["main", "measure", "run_report"]

QUICK = {
    "operations": ("train_step",),
    "seconds": 0.1,
    "warmup": 1,
    "min_rounds": 2,
    "accuracy_models": ("linear", "mlp"),
}
FULL = {
    "operations": workloads.OPERATIONS,
    "seconds": 1.0,
    "warmup": 2,
    "min_rounds": 3,
    "accuracy_models": ("linear", "mlp"),
}


def measure(w: workloads.Workload, *, seconds: float, warmup: int, min_rounds: int = 3) -> dict:
    """Median seconds per call of ``w.run`` over rounds of at least 10 ms, with the fastest and slowest
    round and the interquartile range; checks the last result.

    ``warmup`` untimed calls first; the first of them, less a warm call, is ``compile_seconds``. The first timed call is a round of its own and sets how many calls
    later rounds make; rounds go on until ``seconds`` have passed and there are ``min_rounds`` of them.
    """
    t0 = time.perf_counter()
    first = w.run()  # traces and compiles
    first_seconds = time.perf_counter() - t0
    w.check(first)
    w.warm_up(max(1, warmup) - 1)
    times, result = time_rounds(w.run, seconds=seconds, min_rounds=min_rounds)
    w.check(result)
    return {
        # tracing and compiling: the first call's time beyond a warm call's
        "compile_seconds": max(0.0, first_seconds - float(np.median(times))),
        "seconds_per_call": float(np.median(times)),
        "seconds_min": float(times.min()),
        "seconds_max": float(times.max()),
        "seconds_iqr": float(np.subtract(*np.percentile(times, [75, 25]))),
        "rounds": len(times),
    }


def _precision(devices) -> dict:
    """What float32 matrix products ran in on each device (TF32 on GPUs, if TensorFlow's setting is on)."""
    if not workloads.tensorflow_available():
        return {"cpu": "float32"}
    from tfimpl.device import precision

    return {d: precision("float32", "/GPU:0" if d == "gpu" else "/CPU:0") for d in devices}


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def _sweep(case_list, data, *, seconds, warmup, min_rounds, progress) -> list[dict]:
    """Measure every case, releasing TensorFlow's functions after each so memory stays flat."""
    from tqdm import tqdm

    if workloads.tensorflow_available():
        from tfimpl.backend import tf

        # Every workload builds its own tf.function on purpose; TF's "retracing" warning counts those.
        tf.get_logger().setLevel("ERROR")
    rows = []
    bar = tqdm(case_list, desc="benchmarks", unit="case", disable=not progress)
    for case in bar:
        bar.set_postfix_str(case.id, refresh=True)
        w = build(case, data)
        timing = measure(w, seconds=seconds, warmup=warmup, min_rounds=min_rounds)
        rows.append(
            {
                **{k: getattr(case, k) for k in ("operation", "implementation", "model", "batch_size", "device")},
                "steps_per_call": w.steps,
                "examples_per_call": w.examples,
                **timing,
                "steps_per_second": w.steps / timing["seconds_per_call"],
                # the spread over the rounds: the slowest round and the fastest
                "steps_per_second_min": w.steps / timing["seconds_max"],
                "steps_per_second_max": w.steps / timing["seconds_min"],
                "examples_per_second": w.examples / timing["seconds_per_call"],
            }
        )
        del w
        workloads.release()
    return rows


def _extras(data, measurements, *, seconds, warmup, min_rounds, accuracy_models, loop, progress) -> dict:
    """The products alone, the loop against the step (``loop``: None, or the loop command's arguments), and
    the time to accuracy."""
    from .accuracy import time_to_accuracy
    from .loop import loop_rows_in_fresh_process

    tensorflow = workloads.tensorflow_available()
    return {
        "bounds": analysis.bound_rows(measurements, min(seconds, 0.5)),
        "loop": [] if loop is None else loop_rows_in_fresh_process(loop),
        "time_to_accuracy": time_to_accuracy(
            data, accuracy_models, workloads.devices(), tensorflow=tensorflow, progress=progress
        ),
    }


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
    accuracy_models: Iterable[str] = (),
    loop: Sequence[str] | None = (),
    progress: bool = True,
    peak_seconds: float | None = None,
    one_thread: bool = True,
) -> dict:
    """The sweep and everything measured beside it; writes results.json, report.md and the plots.

    ``peak_seconds``: how long each peak product is timed (default: ``seconds``, at least 0.3 and at most 1);
    ``one_thread=False`` leaves out the per-core figure (a second process); ``loop``: the arguments of
    ``python -m benchmarks loop``, which measures the loop table in a process of its own (None: no loop table).
    """
    started = time.perf_counter()
    batch_sizes = tuple(batch_sizes)
    out = check_out_dir(out, run_folder=False)
    data = load_mnist(dtype=np.float32)
    case_list = list(workloads.cases(tuple(operations), tuple(implementations), tuple(models), batch_sizes))
    if not workloads.tensorflow_available():
        case_list = [c for c in case_list if c.implementation == "scratch"]
    # The peaks are timed at the start and again at the end, each product for at least 0.3 s: a busy
    # moment at one of them cannot lower the ceiling below what the steps reach (benchmarks.roofline).
    devices = sorted({c.device for c in case_list} | {"cpu"})
    peak_seconds = min(max(seconds, 0.3), 1.0) if peak_seconds is None else peak_seconds
    tensorflow = workloads.tensorflow_available()
    peak_args = {"seconds": peak_seconds, "tensorflow": tensorflow, "batch_sizes": batch_sizes}
    start_peaks = measure_peaks(devices, when="start", one_thread=one_thread, **peak_args)
    measurements = _sweep(case_list, data, seconds=seconds, warmup=warmup, min_rounds=min_rounds, progress=progress)
    extras = _extras(
        data,
        measurements,
        seconds=seconds,
        warmup=warmup,
        min_rounds=min_rounds,
        accuracy_models=tuple(accuracy_models),
        loop=loop,
        progress=progress,
    )
    end_peaks = measure_peaks(devices, when="end", one_thread=False, **peak_args)
    peaks = ceiling(start_peaks, end_peaks)
    analysis.attach_bounds(measurements, extras["bounds"], peaks)
    report = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _commit(),
        "command": command,
        "machine": describe_machine(),
        "precision": _precision(sorted({m["device"] for m in measurements} | {"cpu"})),
        "settings": {
            "seconds": seconds,
            "warmup": warmup,
            "min_rounds": min_rounds,
            "round_steps": workloads.ROUND_STEPS,
        },
        "measurements": measurements,
        "peaks": peaks,
        **extras,
        "verdict": analysis.verdict(measurements) + (analysis.verdict(measurements, "gpu") if "gpu" in devices else []),
        "crossovers": analysis.crossovers(measurements),
        "targets": analysis.targets(measurements),
    }
    report["wall_seconds"] = time.perf_counter() - started
    _write(out, report)
    return report


def _write(out: Path, report: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "results.json", report)
    atomic_write_bytes(out / "report.md", markdown(report).encode())
    for op in workloads.OPERATIONS:
        plot(report, op, out / f"{op}.png")


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
    p.add_argument(
        "--quick",
        action="store_true",
        help="train_step only, short timings, the loop, time to 92%% and 98%%: about 6 minutes on 2 cores",
    )
    p.add_argument("--out", default="runs/benchmarks", help="output folder (default runs/benchmarks)")
    p.add_argument(
        "--operations", type=_names(workloads.OPERATIONS), help="comma-separated; default all (quick: train_step)"
    )
    p.add_argument("--implementations", type=_names(workloads.IMPLEMENTATIONS), default=list(workloads.IMPLEMENTATIONS))
    p.add_argument(
        "--models",
        type=_names(tuple(workloads.MODELS)),
        default=[m for m in workloads.MODELS if m != "cnn"],
        help="comma-separated; default linear,mlp,wide (cnn: batches up to 1,000, 5-step rounds; "
        "--quick --models cnn takes about 10 minutes here)",
    )
    p.add_argument("--batch-sizes", type=_int_list, default=list(workloads.BATCH_SIZES))
    p.add_argument("--seconds", type=float, help="time per measurement (default 1.0; quick 0.1)")
    p.add_argument(
        "--accuracy-models",
        type=_names(("linear", "mlp", "cnn")),
        help="time to accuracy for these (default linear,mlp; cnn: its 99%% recipe, 3 epochs, minutes in NumPy)",
    )
    p.add_argument("--no-accuracy", action="store_true", help="skip the time to accuracy")
    p.add_argument("--no-loop", action="store_true", help="skip the train-loop against train_step comparison")
    p.add_argument(
        "--tf32", choices=("on", "off"), help="TF32 for float32 matrix products on GPUs (default: TensorFlow's, on)"
    )
    p.add_argument("--no-progress", action="store_true")


def main(args: argparse.Namespace, argv: list[str]) -> int:
    preset = QUICK if args.quick else FULL
    seconds = preset["seconds"] if args.seconds is None else args.seconds
    if not seconds > 0:
        raise SystemExit("--seconds must be positive")
    if args.tf32 is not None and workloads.tensorflow_available():
        from tfimpl.backend import tf

        tf.config.experimental.enable_tensor_float_32_execution(args.tf32 == "on")
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
        accuracy_models=() if args.no_accuracy else (args.accuracy_models or preset["accuracy_models"]),
        loop=None if args.no_loop else (),
        progress=not args.no_progress,
    )
    print(markdown(report))
    print(f"wrote {args.out}/results.json, report.md and the plots in {report['wall_seconds'] / 60:.1f} min")
    return 0
