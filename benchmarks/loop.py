r"""Does ``train`` run at the speed of its own step? The train command's loop against the ``train_step`` case.

For scratch and tfimpl-xla, linear and MLP, at batch 100, with the benchmark's recipe (normal(0.03)
start, SGD at 0.1, softmax cross-entropy):

* ``train_step``: the benchmark case (:mod:`benchmarks.workloads`), a round of steps per call, called
  over and over for a window as long as the ``train`` run before it (at least :data:`STEP_SECONDS`);
* ``train``: the twin's own ``train(config)``, the loop behind ``python -m <twin> train``, with its
  shuffling, logging, divergence checks and per-epoch validation, reporting its steady-state steps/s
  (compilation apart, :mod:`common.runs`), for whole epochs lasting about a second
  (:func:`loop_steps_for`).

Both are read the same way: every step in the window over the window's whole time. ``train`` can only
be read so (``steps / train_seconds``); the step's rate used to be the median call's, which leaves out the
slow calls a shared VM's stalls make and the loop cannot leave out. Over the same pairs on a 2-core Xeon
(scratch, 11 or 15 pairs) the median call put the loop at 0.876 (linear) and 0.900 (MLP) of its step when
the machine was quiet, 0.893 and 0.878 with a second training beside it; all steps over all the time read
0.932, 0.961, 0.978 and 0.929. A window as long as the loop run meets as many stalls as the run did.

Both run with NumPy's BLAS on one thread (:func:`benchmarks.machine.blas_threads`): on a 2-core machine
with other work running, OpenBLAS's two threads wait on each other, and scratch's speed swung 30-fold
between measurements (pair ratios from 0.03 to 0.98 in one busy pass), where one thread gave 0.93-0.94.
What this table measures, the loop's own overhead, does not depend on the BLAS's threads.

The target: ``train`` at least 90% of ``train_step``. A shared VM's speed drifts by 10-30% over seconds,
and a second program on a 2-core machine takes half of it, so the two are measured in *centred pairs*:
step, loop, step, loop, ..., step. Each loop run is divided by the mean of the step rates just before
and just after it, so a drift that is steady over a few seconds cancels; the row reports the median of
the ratios, their spread (min, max) and an interval for the median, from the ratios' order statistics
(:func:`benchmarks.analysis.median_interval`, at :data:`CONFIDENCE` each time it is looked at).

How many pairs: at least :data:`PAIRS`, then more, one at a time, while that interval still holds the
target, up to :data:`MAX_PAIRS`. A row far from 0.9 is decided by its first nine pairs; one near it
(scratch's linear loop, about 0.92 of its step) gets the pairs it takes, or says "too near to tell".
It is looked at after every pair, up to 37 times, each look a chance to call a row wrongly: at 95% a
look, a row whose true median is exactly 0.9 would end with an interval leaving 0.9 out 15% of the time;
at :data:`CONFIDENCE` (99%) a look, 3.4% (``test_the_pair_rule_calls_a_row_at_the_target_wrongly_under_5_percent``).
Neighbouring ratios share a step window: not quite independent, as the binomial law assumes.

Where the difference goes, for scratch: :func:`loop_parts` (``python -m benchmarks loop --parts``) times,
inside one real ``train`` run, each thing its loop does that the ``train_step`` case does not: the epoch's
shuffle, each step's bookkeeping (divergence check, history), the history rows with their batch
accuracy, and the validation split scored at each epoch's end. Their share of the run is what the loop
gives up against its step.

The report and the dedicated command (``python -m benchmarks loop``) are one measurement: the report
runs that command in a fresh process (:func:`loop_rows_in_fresh_process`), so the table cannot depend on
what ran before it in the report's own process (some hundred TensorFlow functions built and released by
the sweep, and their garbage). What is left between the two is the machine's drift.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from unittest import mock

import numpy as np

from common.config import RunConfig
from common.data import Datasets, load_mnist
from common.runs import RunLog

from . import workloads
from .analysis import median_interval
from .builders import build
from .machine import blas_threads, describe_machine, machine_line
from .report_md import loop_table
from .workloads import INIT_STD, LEARNING_RATE, Case

__all__ = [
    "BATCH_SIZE",
    "CONFIDENCE",
    "LOOP_SECONDS",
    "MAX_PAIRS",
    "MIN_EPOCHS",
    "MODELS",
    "PAIRS",
    "PARTS",
    "STEP_SECONDS",
    "TARGET",
    "loop_parts",
    "loop_rows",
    "loop_rows_in_fresh_process",
    "loop_steps_for",
    "main",
    "more_pairs_due",
    "parts_table",
    "step_rate",
]

LOOP_SECONDS = 1.0  # a train run lasts about this long or more: a VM's bursts of 10-100 ms average out in it
MIN_EPOCHS = 2  # whole epochs, at least two: the loop's per-epoch validation and its logging are in the figure
TARGET = 0.9
PAIRS = 9  # five left a quiet median at 0.84 once (pair ratios 0.76-1.07); nine gave 0.93 (0.91-1.00)
MAX_PAIRS = 45  # a median of 45 ratios spread like scratch linear's (sd about 0.06) moves by about a point
CONFIDENCE = 0.99  # each look at the median's interval: over all the looks, under 5% wrong (module docstring)
STEP_SECONDS = 0.5  # the first window, and the shortest: about one loop run of the linear model
MODELS = ("linear", "mlp")
BATCH_SIZE = 100  # the tutorials' batch: the train_step case and the train run both use it


def loop_steps_for(rate: float, per_epoch: int) -> int:
    """Steps for one ``train`` run: whole epochs, at least :data:`MIN_EPOCHS`, lasting about
    :data:`LOOP_SECONDS` at ``rate`` steps/s (or more).

    Two epochs of the linear model last 0.3 s on a 2-core Xeon, and its pair ratios then ranged from 0.63
    to 1.6: two passes of the same table put its median 18% apart. Eight epochs (1.1-1.45 s) gave 0.87-1.04
    and two medians 0.5% apart (scratch; XLA 0.93-1.24, 1.5% apart), 9 pairs each. The MLP's two epochs
    already last about 2 s.
    """
    return per_epoch * max(MIN_EPOCHS, math.ceil(LOOP_SECONDS * rate / per_epoch))


def _config(impl: str, model: str, steps: int) -> RunConfig:
    """The benchmark's recipe as a ``train`` run of ``steps`` steps."""
    return RunConfig(
        model=model,
        init="normal",
        init_std=INIT_STD,
        learning_rate=LEARNING_RATE,
        steps=steps,
        batch_size=BATCH_SIZE,
        xla=impl == "tfimpl-xla",
    )


def _train_rate(impl: str, model: str, data: Datasets, steps: int) -> float:
    config = _config(impl, model, steps)
    if impl == "scratch":
        from scratch.train import train
    else:
        from tfimpl.train import train
    return float(train(config, data, progress=False).summary["steps_per_second"])


def step_rate(w: workloads.Workload, seconds: float) -> float:
    """Steps/s over a window of ``seconds`` (and at least 3 calls): all its steps over all its time."""
    w.warm_up(1)
    calls, start = 0, time.perf_counter()
    while calls < 3 or time.perf_counter() - start < seconds:
        result = w.run()
        calls += 1
    elapsed = time.perf_counter() - start
    w.check(result)
    return w.steps * calls / elapsed


def more_pairs_due(ratios: list[float], pairs: int = PAIRS, level: float = CONFIDENCE) -> bool:
    """Fewer than ``pairs`` ratios so far, or the median's interval at ``level`` still holds :data:`TARGET`."""
    return len(ratios) < pairs or _holds_target(median_interval(ratios, level))


def _holds_target(interval) -> bool:  # no interval yet (too few ratios) holds everything
    return interval is None or interval[0] <= TARGET <= interval[1]


def loop_rows(
    data: Datasets,
    *,
    implementations=("scratch", "tfimpl-xla"),
    models=MODELS,
    pairs: int = PAIRS,
    max_pairs: int | None = MAX_PAIRS,
    steps: int | None = None,
    step_seconds: float = STEP_SECONDS,
) -> list[dict]:
    """``train`` steps/s against ``train_step`` steps/s, in centred pairs: at least ``pairs`` of them, and
    more while the median's interval holds the target, up to ``max_pairs`` (None: exactly ``pairs``); the
    median ratio, its interval and its spread."""
    if max_pairs is not None and max_pairs < pairs:
        raise ValueError(f"max_pairs ({max_pairs}) must be at least pairs ({pairs})")
    most = pairs if max_pairs is None else max_pairs
    with blas_threads(1) as threads:
        return [
            {**row, "numpy_blas_threads": threads}
            for impl in implementations
            for row in _rows(impl, models, data, (pairs, most), steps, step_seconds)
        ]


def _rows(impl: str, models, data: Datasets, allowed, steps_given: int | None, step_seconds: float) -> list[dict]:
    fewest, most = allowed  # pairs per row, at least and at most
    rows = []
    for model in models:
        w = build(Case("train_step", impl, model, BATCH_SIZE), data)
        steps, loops, ratios = [step_rate(w, step_seconds)], [], []
        loop_steps = steps_given or loop_steps_for(steps[0], len(data.train.images) // BATCH_SIZE)
        while len(ratios) < most and more_pairs_due(ratios, fewest):
            loops.append(_train_rate(impl, model, data, loop_steps))
            steps.append(step_rate(w, max(step_seconds, loop_steps / loops[-1])))  # as long as that run
            ratios.append(loops[-1] / ((steps[-2] + steps[-1]) / 2))  # over the steps just before and after
        ratio = float(np.median(ratios))
        interval = median_interval(ratios, CONFIDENCE)
        rows.append(
            {
                "implementation": impl,
                "model": model,
                "batch_size": BATCH_SIZE,
                "train_step_steps_per_second": float(np.median(steps)),
                "train_steps_per_second": float(np.median(loops)),
                "pairs": len(ratios),
                "loop_steps": loop_steps,
                "ratio": ratio,
                "ratio_min": float(min(ratios)),
                "ratio_max": float(max(ratios)),
                "ratio_interval": None if interval is None else list(interval[:2]),
                "interval_coverage": None if interval is None else interval[2],
                "ratios": ratios,
                "required": TARGET,
                "met": bool(ratio >= TARGET),
                "decided": not _holds_target(interval),  # the interval leaves the target out
                "pairs_allowed": [fewest, most],  # at least, at most: more while the interval holds the target
                "interval_level": CONFIDENCE,
            }
        )
        del w
        workloads.release()
    return rows


#: The parts of scratch's loop that the ``train_step`` case does not have, in the order the loop meets them.
PARTS = {
    "shuffle": "`RunLog.batches`: the epoch's batches, shuffled",
    "bookkeeping": "`RunLog.record`, every step: divergence check, history, progress bar (off here)",
    "batch accuracy": "`models.accuracy` on the batch just trained, for each history row",
    "history row": "`RunLog.log`, every `log_every` steps",
    "validation": "`models.evaluate` on the 5,000 validation images, at each epoch's end",
}


def loop_parts(data: Datasets, model: str = "linear", steps: int | None = None) -> dict:
    """Where scratch's ``train`` spends its time: each of :data:`PARTS`, timed inside one real run.

    The functions the loop calls are wrapped in a clock for the run (``unittest.mock.patch.object``):
    the code that runs is :func:`scratch.train.train` itself. The step (:func:`scratch.train.train_step`) is
    timed too; what no part holds is the loop's own lines, the batch gathers among them, which the
    ``train_step`` case also has. A wrapper adds under a microsecond a call (0.7 us on a 2-core Xeon), part of
    it inside its own clock, so ``bookkeeping`` (one call a step, 3-7 us there) reads a little high.
    ``steps`` defaults to 5 epochs; NumPy's BLAS on one thread, as in the table.

    Returns ``model``, ``steps``, ``train_seconds`` (the run's clock), and per part (``step`` and each of
    :data:`PARTS`) its ``calls``, ``seconds`` and ``share`` of the run.
    """
    import scratch.train as np_train
    from scratch import models as np_models

    clock = {name: {"calls": 0, "seconds": 0.0} for name in ("step", *PARTS)}

    def timed(name, fn, counts=lambda args: True):
        def clocked(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                if counts(args):
                    clock[name]["calls"] += 1
                    clock[name]["seconds"] += time.perf_counter() - start

        return clocked

    patches = [
        mock.patch.object(np_train, "train_step", timed("step", np_train.train_step)),
        mock.patch.object(RunLog, "batches", timed("shuffle", RunLog.batches)),
        mock.patch.object(RunLog, "record", timed("bookkeeping", RunLog.record)),
        mock.patch.object(np_models, "accuracy", timed("batch accuracy", np_models.accuracy)),
        mock.patch.object(RunLog, "log", timed("history row", RunLog.log)),
        # the test split is scored after the run's clock stops: only the validation split's calls count
        mock.patch.object(
            np_models,
            "evaluate",
            timed("validation", np_models.evaluate, lambda a: len(a) > 1 and a[1] is data.validation.images),
        ),
    ]
    config = _config("scratch", model, steps or 5 * (len(data.train.images) // BATCH_SIZE))
    with blas_threads(1), ExitStack() as patched:
        for p in patches:
            patched.enter_context(p)
        seconds = float(np_train.train(config, data, progress=False).summary["train_seconds"])
    parts = {name: {**c, "share": c["seconds"] / seconds} for name, c in clock.items()}
    return {"model": model, "steps": config.steps, "train_seconds": seconds, "parts": parts}


def parts_table(result: dict) -> list[str]:
    """:func:`loop_parts` as a Markdown table, with the share the loop gives up against its step."""
    parts = result["parts"]
    lines = [
        f"scratch {result['model']}, {result['steps']:,} steps in {result['train_seconds']:.2f} s "
        "(NumPy's BLAS on one thread):",
        "",
        "| part | what it is | calls | ms | share of the run |",
        "|---|---|---:|---:|---:|",
    ]
    for name, what in {"step": "`train_step`: loss, gradients and update", **PARTS}.items():
        p = parts[name]
        lines.append(f"| {name} | {what} | {p['calls']:,} | {p['seconds'] * 1e3:,.1f} | {p['share']:.1%} |")
    extra = sum(parts[name]["share"] for name in PARTS)
    rest = 1 - extra - parts["step"]["share"]
    lines += [
        f"| the rest | the loop's own lines, the batch gathers among them (the `train_step` case gathers too) "
        f"| | | {rest:.1%} |",
        "",
        f"The parts the `train_step` case does not have take {extra:.1%} of the run: with its steps at the case's "
        f"speed, the loop would run at {1 - extra:.2f} of it.",
    ]
    return lines


def loop_rows_in_fresh_process(argv=()) -> list[dict]:
    """``python -m benchmarks loop --json`` (and ``argv``) in a process of its own: its rows.

    Its errors, a traceback included, show on this process's stderr; a failure raises
    :class:`subprocess.CalledProcessError`, as a bug should.
    """
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "loop", "--json", *argv],
        cwd=Path(__file__).parents[1],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


def add_arguments(p) -> None:
    p.add_argument("--pairs", type=int, default=PAIRS, help=f"centred pairs per row, at least (default {PAIRS})")
    p.add_argument(
        "--max-pairs",
        type=int,
        default=None,
        help=f"centred pairs per row, at most: more are taken while the median's {CONFIDENCE * 100:.0f}%% interval holds "
        f"the target {TARGET} (default {MAX_PAIRS}, or --pairs if more)",
    )
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help=f"steps per train run (default: whole epochs, at least {MIN_EPOCHS}, lasting about {LOOP_SECONDS:g} s)",
    )
    p.add_argument(
        "--step-seconds",
        type=float,
        default=STEP_SECONDS,
        help=f"the shortest train_step window, in seconds (default {STEP_SECONDS}); later ones last as long as "
        "the train run before them",
    )
    p.add_argument(
        "--models", nargs="+", choices=MODELS, default=MODELS, help=f"models to time (default {' '.join(MODELS)})"
    )
    p.add_argument("--scratch-only", action="store_true", help="without TensorFlow: scratch's rows only")
    p.add_argument("--json", action="store_true", help="print the rows as one line of JSON (the report reads it)")
    p.add_argument(
        "--parts",
        action="store_true",
        help="instead of the table: where scratch's loop spends its time, each part timed inside one run "
        "(5 epochs, or --steps)",
    )


def main(args, argv) -> int:
    """``python -m benchmarks loop``: the report's loop table, measured alone."""
    if args.pairs < 1:
        raise SystemExit("--pairs must be at least 1")
    if args.max_pairs is not None and args.max_pairs < args.pairs:
        raise SystemExit(f"--max-pairs must be at least --pairs ({args.pairs}), got {args.max_pairs}")
    if args.steps is not None and args.steps < 1:
        raise SystemExit("--steps must be at least 1")
    if not args.step_seconds > 0:
        raise SystemExit("--step-seconds must be positive")
    if args.parts:
        if args.json or (args.pairs, args.max_pairs, args.step_seconds) != (PAIRS, None, STEP_SECONDS):
            raise SystemExit(
                "--parts times one train run per model: --json, --pairs, --max-pairs and --step-seconds do not apply"
            )
        data = load_mnist(dtype=np.float32)
        print(f"Machine: {machine_line(describe_machine())}\n")
        for model in args.models:
            print("\n".join(parts_table(loop_parts(data, model, args.steps))) + "\n")
        return 0
    impls = ("scratch",) if args.scratch_only or not workloads.tensorflow_available() else ("scratch", "tfimpl-xla")
    rows = loop_rows(
        load_mnist(dtype=np.float32),
        implementations=impls,
        models=tuple(args.models),
        pairs=args.pairs,
        max_pairs=max(args.pairs, MAX_PAIRS) if args.max_pairs is None else args.max_pairs,
        steps=args.steps,
        step_seconds=args.step_seconds,
    )
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"Machine: {machine_line(describe_machine())}\n")
    print("\n".join(loop_table(rows)))
    return 0
