r"""``python -m scratch``: train a model by hand, check the gradients, draw the figures, run the experiments.

python -m scratch train                       # the first tutorial: about 92% in 1000 steps
python -m scratch train --model mlp --lr 0.5 --loss clipped_binary_cross_entropy --epochs 10
python -m scratch gradcheck                   # every loss and both models against finite differences
"""

from __future__ import annotations

import argparse

import numpy as np

from common.cli import add_figure_commands, add_train_command, print_experiment, run_command
from common.config import positive_int
from common.data import load_mnist
from common.figures import Implementation, make_figures
from common.labels import one_hot

from . import experiments, gradcheck, losses, models
from .train import train

__all__ = ["IMPLEMENTATION", "gradcheck_table", "main"]

#: What the figures need, computed by hand.
IMPLEMENTATION = Implementation(
    name="scratch (NumPy by hand)",
    predict=lambda p, x, act: models.predict(p, x, activation=act),
    hidden=lambda p, x, act: models.forward(p, x, activation=act)[1][0][1],  # the first layer's activation cache
    optimal_inputs=lambda p, act: experiments.optimal_inputs(p, activation=act)[0],
    learn_inverse=experiments.learn_inverse,
    weight_snapshots=experiments.weight_snapshots,
)


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
    y = one_hot(labels, dtype=np.float64)
    rng = np.random.default_rng(seed)
    rows: list[gradcheck.GradCheckResult] = []
    for name, (loss_fn, grad_fn) in losses.LOSSES.items():
        logits = rng.normal(0, 1, (16, 10))
        target = labels if name.startswith("sparse") else y
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
    for path in make_figures(args.run_dir, load_mnist(args.data_dir), (IMPLEMENTATION,)):
        print(path)
    return 0


def _experiment(args: argparse.Namespace) -> int:
    return print_experiment(args.names, train, load_mnist(args.data_dir))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scratch", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    add_train_command(sub, "scratch", train)
    p = sub.add_parser("gradcheck", help="check every hand-written gradient against finite differences")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--samples", type=positive_int, default=30, help="coordinates sampled per parameter array")
    p.set_defaults(func=_gradcheck)
    add_figure_commands(sub, _plots, _experiment)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_command(build_parser(), argv)
