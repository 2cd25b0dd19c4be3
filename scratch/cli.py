r"""``python -m scratch``: train a model by hand, check the gradients, draw the figures, run the experiments.

Commands::

    python -m scratch train                       # the first tutorial: about 92% in 1000 steps
    python -m scratch train --model mlp --lr 0.5 --loss clipped_binary_cross_entropy --epochs 10
    python -m scratch gradcheck                   # every loss and both models against finite differences
    python -m scratch gradcheck --sweep           # a difference's error against its step h: the V, and the thresholds
    python -m scratch curvature                   # lambda_max by power iteration beside where SGD really diverges
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import rules
from common.cli import add_figure_commands, add_train_command, description, one_line_errors, print_experiment
from common.config import positive_int
from common.data import load_mnist
from common.errors import UserError
from common.figures import Implementation, make_figures
from common.files import check_out_dir
from common.rows import format_table

from . import convcheck, curvature, experiments, gradcheck, models, sharpness, sweep
from .train import train

__all__ = ["IMPLEMENTATION", "main"]

#: What the figures need, computed by hand.
IMPLEMENTATION = Implementation(
    name="scratch (NumPy by hand)",
    predict=lambda p, x, act: models.predict(p, x, activation=act),
    hidden=lambda p, x, act: models.forward(p, x, activation=act)[1][0][1],  # the first layer's activation cache
    optimal_inputs=lambda p, act: experiments.optimal_inputs(p, activation=act)[0],
    learn_inverse=experiments.learn_inverse,
    weight_snapshots=experiments.weight_snapshots,
)

GRADCHECK_HEADERS = {
    "losses": "losses: dlogits by hand vs central differences (float64), every coordinate",
    "linear model": "linear model: loss_and_grads by hand vs central differences, sampled coordinates",
    "mlp model": "mlp model (32 hidden units): loss_and_grads by hand vs central differences, sampled coordinates",
    **convcheck.CONV_HEADERS,
    "negative control": "negative control: deliberately wrong gradients, which the check must catch",
}


def _sweep(args: argparse.Namespace) -> int:
    out = _png(args.out)
    curves = sweep.h_sweep(data_dir=args.data_dir, h_range=args.h_range)
    print(sweep.format_sweep(curves))
    print(sweep.plot(curves, out))
    return 0


def _png(out: str) -> Path:
    """A figure's path, checked before any work: a ``.png`` whose folder can be written."""
    if Path(out).suffix != ".png":
        raise UserError(f"--out {out}: give a path ending in .png for the figure")
    check_out_dir(Path(out).parent, run_folder=False)
    return Path(out)


def _curvature(args: argparse.Namespace) -> int:
    rules.check_positive_int("--iterations", args.iterations)  # before any work: a zero is one line
    out = _png(args.out)
    result = sharpness.curvature_experiment(
        load_mnist(args.data_dir), examples=args.examples, iterations=args.iterations
    )
    print(sharpness.format_curvature(result))
    print(sharpness.plot(result, out))
    return 0


def _gradcheck(args: argparse.Namespace) -> int:
    if args.sweep:
        return _sweep(args)
    rows = gradcheck.gradcheck_table(args.data_dir, samples=args.samples)
    data = load_mnist(args.data_dir, dtype="float64")
    rows += convcheck.conv_gradcheck_table(data.train.images[:2], data.train.labels[:2], samples=min(args.samples, 10))
    rows.sort(key=lambda r: r.family == "negative control")  # the controls last, together
    print(format_table(rows, headers=GRADCHECK_HEADERS))
    kinks = [f"  {r.family}: {r.check}: {r.note}" for r in rows if "kink" in r.note]
    print("\nkinks: " + ("coordinates left out, not failed:\n" + "\n".join(kinks) if kinks else "no step crossed one"))
    bad = [r for r in rows if not r.as_expected]
    print(f"\n{len(rows) - len(bad)} of {len(rows)} checks as expected")
    print("coords: coordinates compared; max rel: max|analytic - numeric| / (max|analytic| + max|numeric|)")
    return 1 if bad else 0


def _plots(args: argparse.Namespace) -> int:
    for path in make_figures(args.run_dir, load_mnist(args.data_dir), (IMPLEMENTATION,)):
        print(path)
    return 0


def _experiment(args: argparse.Namespace) -> int:
    return print_experiment(args.names, train, load_mnist(args.data_dir))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scratch", description=description(__doc__))
    sub = parser.add_subparsers(dest="command", required=True)
    add_train_command(sub, "scratch", train, sharpness=curvature.sharpness_at_start)
    p = sub.add_parser("gradcheck", help="check every hand-written gradient against finite differences")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--samples", type=positive_int, default=30, help="coordinates sampled per parameter array")
    p.add_argument("--sweep", action="store_true", help="measure a difference's error against h instead (the V)")
    p.add_argument("--h-range", nargs=2, type=float, default=sweep.H_RANGE, metavar=("LOW", "HIGH"), help="steps swept")
    p.add_argument("--out", default="runs/h_sweep.png", help="where --sweep draws its figure (a .png)")
    p.set_defaults(func=_gradcheck)
    p = sub.add_parser("curvature", help="lambda_max by power iteration, and where SGD really diverges (a figure)")
    p.add_argument("--iterations", type=int, default=20, help="power iterations per lambda_max")
    p.add_argument("--examples", type=positive_int, default=1000, help="training images the Hessian is taken on")
    p.add_argument("--out", default="runs/curvature.png", help="where to draw the figure (a .png)")
    p.add_argument("--data-dir", default=None)
    p.set_defaults(func=_curvature)
    add_figure_commands(sub, _plots, _experiment)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a subcommand. The user's mistakes end in one ``error:`` line; a bug keeps its traceback."""
    args = build_parser().parse_args(argv)
    with one_line_errors() as outcome:
        outcome.status = args.func(args)
    return outcome.status
