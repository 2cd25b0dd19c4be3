r"""``python -m scratch``: train a model by hand, or run the gradient checks.

python -m scratch train                       # the first tutorial: about 92% in 1000 steps
python -m scratch train --model mlp --init normal --lr 0.5 --loss clipped_binary_cross_entropy --epochs 10
python -m scratch gradcheck                   # every loss and both models against finite differences
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from . import gradcheck, losses, models
from .config import add_run_arguments, config_from_args
from .data import MNISTError, load_mnist
from .train import TrainingDiverged, default_out_dir, save_run, train

__all__ = ["add_figure_commands", "gradcheck_table", "main", "print_experiment", "train_command"]


def train_command(implementation: str, train_fn, args: argparse.Namespace) -> int:
    """The ``train`` subcommand of both packages: train, write the run folder, print one line.

    Exit status 0, or 3 when the loss diverged (then nothing is written).
    """
    config = config_from_args(args)
    try:
        result = train_fn(config)
    except TrainingDiverged as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    out = save_run(result, default_out_dir(implementation, config))
    s = result.summary
    print(
        f"{implementation} {s['model']} ({s['optimizer']}, {s['dtype']}) on {s['device']}: {s['steps']} steps, "
        f"test accuracy {s['test_accuracy']:.2%}, {s['steps_per_second']:.0f} steps/s -> {out}"
    )
    return 0


def _train(args: argparse.Namespace) -> int:
    return train_command("scratch", train, args)


def gradcheck_table(
    data_dir: str | None = None, *, samples: int = 30, seed: int = 0
) -> list[gradcheck.GradCheckResult]:
    r"""Every loss on raw logits, then both models with every loss, against central differences (float64).

    Uses 16 real MNIST training images; the model weights are small random normals (not zeros, whose
    gradients are too symmetric to catch much), and an MLP with 32 hidden units keeps it quick. Last comes
    a **negative control**: the cross-entropy gradient with its ``1/N`` dropped, which must fail.
    """
    data = load_mnist(data_dir, dtype=np.float64)
    x, labels = data.train.images[:16].copy(), data.train.labels[:16].copy()
    y = models._targets(labels, "dense", len(labels), np.float64)
    rng = np.random.default_rng(seed)
    rows: list[gradcheck.GradCheckResult] = []
    for name, (loss_fn, grad_fn, form) in losses.LOSSES.items():
        logits = rng.normal(0, 1, (16, 10))
        target = labels if form == "sparse" else y
        rows += gradcheck.check_gradients(
            lambda fn=loss_fn, z=logits, t=target: fn(z, t),
            {"logits": logits},
            {"logits": grad_fn(logits, target)},
            prefix=f"{name} ",
        )
    for model, std in (("linear", 0.1), ("mlp", 0.05)):
        params = models.init_params(
            model, hidden=(32,) if model == "mlp" else None, init="normal", std=std, seed=seed, dtype=np.float64
        )
        for name in losses.LOSSES:
            kw = {"loss": name, "l2": 1e-3}
            _, grads = models.loss_and_grads(params, x, labels, **kw)
            rows += gradcheck.check_gradients(
                lambda p=params, kw=kw: models.loss_and_grads(p, x, labels, **kw)[0],
                params,
                grads,
                samples=samples,
                seed=seed,
                prefix=f"{model} {name} ",
            )
    logits = rng.normal(0, 1, (16, 10))
    wrong = losses.softmax_cross_entropy_grad(logits, y) * len(y)  # forgot the 1/N
    rows += gradcheck.check_gradients(
        lambda: losses.softmax_cross_entropy(logits, y),
        {"logits": logits},
        {"logits": wrong},
        prefix="NEGATIVE CONTROL (grad without 1/N) ",
    )
    return rows


def _gradcheck(args: argparse.Namespace) -> int:
    rows = gradcheck_table(args.data_dir, samples=args.samples)
    width = max(len(r.name) for r in rows)
    print(f"{'check':<{width}}  {'coords':>6}  {'max abs err':>11}  {'max rel err':>11}  {'tolerance':>9}  result")
    failures = 0
    for r in rows:
        control = r.name.startswith("NEGATIVE CONTROL")
        ok = (not r.passed) if control else r.passed
        verdict = (
            ("FAIL (expected)" if control else "PASS")
            if ok
            else ("PASS (control did not fail!)" if control else "FAIL")
        )
        failures += not ok
        print(
            f"{r.name:<{width}}  {r.checked:>6}  {r.max_abs_error:>11.2e}  {r.max_rel_error:>11.2e}  "
            f"{r.tolerance:>9.0e}  {verdict}"
        )
    print(f"{len(rows) - failures} of {len(rows)} checks as expected")
    return 1 if failures else 0


def _plots(args: argparse.Namespace) -> int:
    from .figures import make_figures

    for path in make_figures(args.run_dir, load_mnist(args.data_dir)):
        print(path)
    return 0


def _experiment(args: argparse.Namespace) -> int:
    from .experiments import run_experiment

    return print_experiment(args.names, run_experiment, load_mnist(args.data_dir))


def print_experiment(names, run_experiment, data) -> int:
    """Run the named experiments (all by default) with ``run_experiment`` and print their accuracies,
    each against the first tutorial's own setting (zeros, SGD 0.5, batch 100, 1000 steps)."""
    from .experiments import EXPERIMENTS

    baseline = run_experiment("loss", data)[0][1]  # the dense row is the tutorial's default run
    print(f"baseline, the first tutorial's setting: test accuracy {baseline:.2%}")
    for name in names or sorted(EXPERIMENTS):
        print(f"\n{name}: {EXPERIMENTS[name][0]}")
        results = run_experiment(name, data, progress=False)
        best = max(acc for _, acc, _ in results)
        for label, acc, loss in results:
            marker = "  <- best" if acc == best else ""
            print(
                f"  {label:<38} test accuracy {acc:7.2%} ({(acc - baseline) * 100:+.2f} points vs baseline)"
                f"   final training loss {loss:7.4f}{marker}"
            )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scratch", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train a model with NumPy and write summary.json, history.jsonl, params.npz")
    add_run_arguments(p)
    p.set_defaults(func=_train)
    p = sub.add_parser("gradcheck", help="check every hand-written gradient against finite differences")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--samples", type=int, default=30, help="coordinates sampled per parameter array")
    p.set_defaults(func=_gradcheck)
    add_figure_commands(sub, _plots, _experiment)
    return parser


def add_figure_commands(sub, plots_func, experiment_func) -> None:
    """The ``plots`` and ``experiment`` subcommands, shared by both packages' command lines."""
    p = sub.add_parser("plots", help="draw the tutorials' figures (PNG) into a run folder made by train")
    p.add_argument("run_dir")
    p.add_argument("--data-dir", default=None)
    p.set_defaults(func=plots_func)
    from .experiments import EXPERIMENTS

    p = sub.add_parser("experiment", help="the first tutorial's experiments; each prints its test accuracies")
    p.add_argument(
        "names",
        nargs="*",
        choices=[[], *sorted(EXPERIMENTS)],
        metavar="NAME",
        help=f"any of {', '.join(sorted(EXPERIMENTS))} (default: all)",
    )
    p.add_argument("--data-dir", default=None)
    p.set_defaults(func=experiment_func)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (MNISTError, ValueError, TypeError) as exc:
        parser.exit(2, f"error: {exc}\n")
