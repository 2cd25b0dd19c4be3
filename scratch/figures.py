r"""Every figure of the tutorials for one run folder: ``python -m scratch plots RUN_DIR``.

The drawing is in :mod:`scratch.plots`; this module computes what to draw with one or more
implementations (``python -m tfimpl plots`` passes both, so the optimal inputs and the learned inverse
are computed by hand *and* with ``tf.GradientTape``, side by side, and their difference is printed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import experiments, models, plots
from .data import Datasets
from .files import load_params

__all__ = ["NUMPY", "Implementation", "make_figures"]


@dataclass(frozen=True)
class Implementation:
    """What the figures need from a package, as NumPy in and NumPy out."""

    name: str
    predict: Callable  # (params, x, activation) -> (N,) class ids
    optimal_inputs: Callable  # (params, activation) -> (10, 784)
    learn_inverse: Callable  # (A) -> (X, losses)


NUMPY = Implementation(
    name="scratch (NumPy by hand)",
    predict=lambda p, x, act: models.predict(p, x, activation=act),
    optimal_inputs=lambda p, act: experiments.optimal_inputs(p, activation=act)[0],
    learn_inverse=lambda A: experiments.learn_inverse(A),
)


def _hidden(params: dict, x: np.ndarray, activation: str) -> np.ndarray:
    _, caches = models.forward(params, x, activation=activation)
    return caches[0][1]  # the first layer's activation output, (N, H)


def make_figures(run_dir: str | Path, data: Datasets, implementations=(NUMPY,), *, progress=True) -> list[Path]:
    """Draw every figure into ``run_dir``; returns the PNG paths. Prints the confusion matrix and comparisons."""
    run_dir = Path(run_dir)
    summary, history = plots.read_run(run_dir)
    params = load_params(run_dir / "params.npz")
    act = summary["config"]["activation"]
    dtype = params["W1"].dtype
    x, y = data.test.images.astype(dtype, copy=False), data.test.labels
    main = implementations[0]
    tasks = ["examples", "confusion", "curves", "weights"] + (["mlp"] if len(params) > 2 else []) + ["inverse"]
    bar = tqdm(tasks, desc="figures", disable=not progress)
    out = []
    for task in bar:
        bar.set_postfix_str(task)
        if task == "examples":
            pred = np.asarray(main.predict(params, x, act))
            out.append(
                plots.plot_examples(
                    x,
                    y,
                    pred,
                    run_dir / "examples.png",
                    title=f"Test images, {main.name}: {np.mean(pred == y):.2%} correct",
                )
            )
            wrong = np.flatnonzero(pred != y)
            out.append(
                plots.plot_examples(
                    x[wrong],
                    y[wrong],
                    pred[wrong],
                    run_dir / "misclassified.png",
                    title=f"Misclassified test images ({len(wrong)} of {len(y)})",
                )
            )
        elif task == "confusion":
            cm = plots.confusion_matrix(y, pred)
            print("Confusion matrix (rows: true digit, columns: predicted):\n" + plots.format_confusion(cm))
            out.append(plots.plot_confusion(cm, run_dir / "confusion.png"))
            out.append(plots.plot_errors_per_digit(cm, run_dir / "errors_per_digit.png"))
        elif task == "curves":
            out.append(
                plots.plot_learning_curves(
                    history,
                    run_dir / "learning_curves.png",
                    title=f"{summary['implementation']} {summary['model']}, {summary['optimizer']} "
                    f"lr {summary['config']['learning_rate']}: test accuracy {summary['test_accuracy']:.2%}",
                )
            )
        elif task == "weights":
            snaps = experiments.weight_snapshots(data)
            out.append(plots.plot_weights(snaps, run_dir / "linear_weights.png"))
        elif task == "mlp":
            out.append(plots.plot_fingerprints(_hidden(params, x, act), y, run_dir / "fingerprints.png"))
            results = {impl.name: np.asarray(impl.optimal_inputs(params, act)) for impl in implementations}
            means = np.stack([x[y == k].mean(axis=0) for k in range(10)])
            out.append(plots.plot_optimal_inputs(results, means, run_dir / "optimal_inputs.png"))
            _print_agreement("optimal input images", results)
        else:
            A = experiments.random_integer_matrix()
            inv_results = {impl.name: impl.learn_inverse(A) for impl in implementations}
            out.append(plots.plot_inverse(inv_results, A, run_dir / "matrix_inverse.png"))
            for name, (X, _) in inv_results.items():
                print(
                    f"matrix inverse, {name}: max |X - numpy.linalg.inv(A)| = {np.abs(X - np.linalg.inv(A)).max():.2e}"
                )
            _print_agreement("learned inverses", {k: v[0] for k, v in inv_results.items()})
    return out


def _print_agreement(what: str, results: dict[str, np.ndarray]) -> None:
    if len(results) < 2:
        return
    (a_name, a), (b_name, b) = list(results.items())[:2]
    print(
        f"{what}: {a_name} vs {b_name}: max |difference| {np.abs(a - b).max():.2e} "
        f"(largest value {np.abs(a).max():.2f})"
    )
