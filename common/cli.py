r"""Command-line plumbing both twins share: the ``train``, ``plots`` and ``experiment`` subcommands, and
:func:`one_line_errors`, which turns the user's mistakes (and only those) into one ``error:`` line.

Exit statuses: 0 done; 1 a check failed; 2 bad input (a flag, a data file, an output folder); 3 the
loss diverged (nothing written); 130 Ctrl-C (nothing written). Any other exception is a bug and keeps
its traceback (:mod:`common.errors`).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .config import HelpFormatter, add_run_arguments, config_from_args
from .download import ensure_mnist
from .errors import UserError
from .experiments import EXPERIMENTS
from .files import check_out_dir
from .runs import Interrupted, TrainingDiverged, default_out_dir, save_run

__all__ = [
    "Outcome",
    "add_figure_commands",
    "add_train_command",
    "description",
    "fail",
    "one_line_errors",
    "print_experiment",
    "train_command",
]


def description(doc: str) -> str:
    """A module docstring's first line as ``--help`` shows it: without reST's double backticks."""
    return doc.strip().split("\n")[0].replace("``", "")


def config_warnings(config) -> list[str]:
    """Settings that run but will not learn, each with what to use instead."""
    out = []
    if config.model == "mlp" and config.init == "zeros":
        out.append(
            "--init zeros with an MLP: every hidden unit starts identical and receives the same gradient, so "
            "they never differ and the network learns little (about 11%); use --init normal"
        )
    if config.model == "cnn" and config.optimizer == "sgd" and config.learning_rate >= 0.1:
        out.append(
            f"the cnn with SGD at rate {config.learning_rate:g} does not learn (about 10%); its 99% recipe is "
            "--optimizer adam --lr 0.001 --batch-size 64 --epochs 3 --dropout 0.25"
        )
    return out


def train_command(
    implementation: str, train_fn: Callable, args: argparse.Namespace, *, sharpness: Callable | None = None
) -> int:
    """Train, write the run folder whole, print one line. The output folder is checked before any work.

    ``sharpness(config) -> lambda_max``, the twin's curvature at the run's start, is asked only when the run
    diverges, and its prediction joins the message.
    """
    started = time.perf_counter()
    config = config_from_args(args)
    out = check_out_dir(default_out_dir(implementation, config))
    ensure_mnist(config.data_dir)  # the data are found (or fetched) before the framework is even imported
    for warning in config_warnings(config):
        print(f"warning: {warning}", file=sys.stderr)
    try:
        result = train_fn(config)  # the twin's train: the loop is there
    except TrainingDiverged as exc:
        if sharpness is not None and config.model != "cnn":  # the R-operator is written for dense layers only
            exc.add_sharpness(sharpness(config))
        raise
    result.summary["wall_seconds"] = time.perf_counter() - started
    save_run(result, out)
    s = result.summary
    per_call = f", {s['steps_per_call']} steps per graph call" if "steps_per_call" in s else ""
    precision = f" in {s['precision']}" if s.get("precision", s["dtype"]) != s["dtype"] else ""
    print(
        f"{implementation} {s['model']} ({s['optimizer']}, {s['dtype']}{precision}) on {s['device']}: {s['steps']} steps{per_call}, "
        f"test accuracy {s['test_accuracy']:.2%}; {s['steps_per_second']:,.0f} steps/s steady state, "
        f"compile {s['compile_seconds']:.2f} s, wall {s['wall_seconds']:.1f} s -> {out}"
    )
    return 0


def add_train_command(
    sub, implementation: str, train_fn: Callable, *, tensorflow: bool = False, sharpness: Callable | None = None
) -> None:
    """The ``train`` subcommand; ``train_fn(config)`` is the twin's ``train``, ``sharpness`` its curvature at the
    start (see :func:`train_command`)."""
    p = sub.add_parser(
        "train",
        help=f"train a model with {'TensorFlow' if tensorflow else 'NumPy'}; writes summary.json, history.jsonl, params.npz",
        formatter_class=HelpFormatter,
    )
    add_run_arguments(p, tensorflow=tensorflow)
    p.set_defaults(func=functools.partial(train_command, implementation, train_fn, sharpness=sharpness))


def add_figure_commands(sub, plots_func, experiment_func) -> None:
    """The ``plots`` and ``experiment`` subcommands, shared by both packages' command lines."""
    p = sub.add_parser("plots", help="draw the tutorials' figures (PNG) into a run folder made by train")
    p.add_argument("run_dir")
    p.add_argument("--data-dir", default=None)
    p.set_defaults(func=plots_func)
    p = sub.add_parser("experiment", help="the first tutorial's experiments; each prints its test accuracies")
    p.add_argument(
        "names",
        nargs="*",
        type=_experiment,
        metavar="NAME",
        help=f"any of {', '.join(sorted(EXPERIMENTS))} (default: all)",
    )
    p.add_argument("--data-dir", default=None)
    p.set_defaults(func=experiment_func)


def _experiment(name: str) -> str:
    """An experiment's name (a ``type`` rather than ``choices``: Python 3.11 checks ``[]`` against choices)."""
    if name not in EXPERIMENTS:
        raise argparse.ArgumentTypeError(f"unknown experiment {name!r}; choose from {', '.join(sorted(EXPERIMENTS))}")
    return name


def print_experiment(names, train_fn: Callable, data) -> int:
    """Run the named experiments (all by default) with a twin's ``train`` and print their accuracies,
    each against the first tutorial's own setting (zeros, SGD 0.5, batch 100, 1000 steps)."""
    from .experiments import run_experiment

    baseline = run_experiment(train_fn, "loss", data)[0][1]  # the dense row is the tutorial's default run
    print(f"baseline, the first tutorial's setting: test accuracy {baseline:.2%}")
    for name in names or sorted(EXPERIMENTS):
        print(f"\n{name}: {EXPERIMENTS[name][0]}")
        results = run_experiment(train_fn, name, data, progress=False)
        best = max(acc for _, acc, _ in results)
        for label, acc, loss in results:
            marker = "  <- best" if acc == best else ""
            print(
                f"  {label:<38} test accuracy {acc:7.2%} ({(acc - baseline) * 100:+.2f} points vs baseline)"
                f"   final training loss {loss:7.4f}{marker}"
            )
    return 0


@dataclass
class Outcome:
    """The exit status a command ends with; :func:`one_line_errors` sets it when it catches an error."""

    status: int = 0


@contextlib.contextmanager
def one_line_errors() -> Iterator[Outcome]:
    """Within the block, the user's mistakes end in one ``error:`` line; a bug keeps its traceback.

    Use it around a command (no extra frame between the command and the code it calls)::

        with one_line_errors() as outcome:
            outcome.status = args.func(args)
        return outcome.status

    Caught: :class:`common.errors.UserError` (status 2), :class:`common.runs.TrainingDiverged` (3),
    Ctrl-C (130). Anything else propagates.
    """
    outcome = Outcome()
    try:
        yield outcome
    except TrainingDiverged as exc:
        outcome.status = fail(exc, 3)
    except Interrupted as exc:
        outcome.status = fail(exc, 130)
    except KeyboardInterrupt:
        outcome.status = fail("interrupted; nothing written", 130)
    except UserError as exc:
        outcome.status = fail(exc, 2)


def fail(message, status: int) -> int:
    """Print ``error: <message>`` on one line (a multi-line message is joined) and return ``status``."""
    print("error: " + " ".join(str(message).split()), file=sys.stderr)
    return status
