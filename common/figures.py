r"""Every figure of the tutorials for one run folder: ``python -m scratch plots RUN_DIR`` (or ``tfimpl``).

The drawing is in :mod:`common.plots`; what to draw is computed by the implementations passed in, each an
:class:`Implementation` that a twin's command line builds from its own functions. ``python -m tfimpl
plots`` passes TensorFlow's and NumPy's, so the optimal inputs and the learned inverse are computed both
ways, side by side, and their difference is printed. :data:`FIGURES` is the table of figures, in order.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import plots
from .data import Datasets
from .errors import UserError
from .experiments import random_integer_matrix
from .files import load_params

__all__ = ["FIGURES", "Implementation", "RunFolderError", "make_figures", "read_run"]


class RunFolderError(UserError):
    """A run folder is missing, or its files are not what ``train`` writes; the message names the file."""


@dataclass(frozen=True)
class Implementation:
    """What the figures need from a twin, as NumPy in and NumPy out."""

    name: str
    predict: Callable  # (params, x, activation) -> (N,) class ids
    hidden: Callable  # (params, x, activation) -> (N, H), the first hidden layer's activations
    optimal_inputs: Callable  # (params, activation) -> (10, 784)
    learn_inverse: Callable  # (A) -> (X, losses)
    weight_snapshots: Callable  # (data) -> [(step, W (784, 10), accuracy), ...]


def read_run(run_dir: str | Path) -> tuple[dict, list[dict]]:
    """``summary.json`` and the rows of ``history.jsonl``, each checked; one-line errors naming the file."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunFolderError(f"{run_dir}: no such run folder; give a folder written by train (--out)")
    texts = []
    for name in ("summary.json", "history.jsonl"):
        path = run_dir / name
        if not path.is_file():
            raise RunFolderError(f"{path}: missing; is {run_dir} a folder written by train?")
        texts.append((path, path.read_bytes().decode(errors="replace")))
    try:
        path = texts[0][0]
        summary = json.loads(texts[0][1])
        path = texts[1][0]
        history = [json.loads(line) for line in texts[1][1].splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise RunFolderError(f"{path}: not valid JSON ({exc}); run train again to rewrite it") from None
    needed = ("implementation", "model", "optimizer", "test_accuracy", "config")
    if not isinstance(summary, dict) or any(k not in summary for k in needed):
        raise RunFolderError(f"{run_dir / 'summary.json'}: not a run summary (needs {', '.join(needed)})")
    return summary, history


@dataclass
class _Run:
    """What every figure function reads: the run, the test set, and the implementations."""

    dir: Path
    summary: dict
    history: list
    params: dict
    x: np.ndarray
    y: np.ndarray
    data: Datasets
    implementations: tuple
    activation: str
    pred: np.ndarray | None = None


def _examples(r: _Run) -> list[Path]:
    main = r.implementations[0]
    r.pred = np.asarray(main.predict(r.params, r.x, r.activation))
    wrong = np.flatnonzero(r.pred != r.y)
    title = f"Test images, {main.name}: {np.mean(r.pred == r.y):.2%} correct"
    return [
        plots.plot_examples(r.x, r.y, r.pred, r.dir / "examples.png", title=title),
        plots.plot_examples(
            r.x[wrong],
            r.y[wrong],
            r.pred[wrong],
            r.dir / "misclassified.png",
            title=f"Misclassified test images ({len(wrong)} of {len(r.y)})",
        ),
    ]


def _confusion(r: _Run) -> list[Path]:
    cm = plots.confusion_matrix(r.y, r.pred)
    print("Confusion matrix (rows: true digit, columns: predicted):\n" + plots.format_confusion(cm))
    return [
        plots.plot_confusion(cm, r.dir / "confusion.png"),
        plots.plot_errors_per_digit(cm, r.dir / "errors_per_digit.png"),
    ]


def _curves(r: _Run) -> list[Path]:
    s = r.summary
    title = (
        f"{s['implementation']} {s['model']}, {s['optimizer']} lr {s['config']['learning_rate']}: "
        f"test accuracy {s['test_accuracy']:.2%}"
    )
    return [plots.plot_learning_curves(r.history, r.dir / "learning_curves.png", title=title)]


def _weights(r: _Run) -> list[Path]:
    return [plots.plot_weights(r.implementations[0].weight_snapshots(r.data), r.dir / "linear_weights.png")]


def _hidden_layer(r: _Run) -> list[Path]:
    if len(r.params) <= 2:
        return []  # the linear model has no hidden layer
    hidden = np.asarray(r.implementations[0].hidden(r.params, r.x, r.activation))
    results = {impl.name: np.asarray(impl.optimal_inputs(r.params, r.activation)) for impl in r.implementations}
    means = np.stack([r.x[r.y == k].mean(axis=0) for k in range(10)])
    _print_agreement("optimal input images", results)
    return [
        plots.plot_fingerprints(hidden, r.y, r.dir / "fingerprints.png"),
        plots.plot_optimal_inputs(results, means, r.dir / "optimal_inputs.png"),
    ]


def _inverse(r: _Run) -> list[Path]:
    A = random_integer_matrix()
    results = {impl.name: impl.learn_inverse(A) for impl in r.implementations}
    for name, (X, _) in results.items():
        print(f"matrix inverse, {name}: max |X - numpy.linalg.inv(A)| = {inverse_error(X, A):.2e}")
    _print_agreement("learned inverses", {k: v[0] for k, v in results.items()})
    return [plots.plot_inverse(results, A, r.dir / "matrix_inverse.png")]


def inverse_error(X: np.ndarray, A: np.ndarray) -> float:
    """``max |X - inv(A)|``, the figure printed for a learned inverse."""
    return float(np.abs(X - np.linalg.inv(A)).max())


#: The figures, in the order they are drawn: name -> function of the run returning the PNG paths.
#: ``examples`` comes first: it computes the predictions the confusion matrix counts.
FIGURES = {
    "examples": _examples,
    "confusion": _confusion,
    "curves": _curves,
    "weights": _weights,
    "hidden": _hidden_layer,
    "inverse": _inverse,
}


def make_figures(run_dir: str | Path, data: Datasets, implementations, *, progress=True) -> list[Path]:
    """Draw every figure into ``run_dir`` with the first implementation (the others beside it where
    figures compare); returns the PNG paths. Prints the confusion matrix and the comparisons."""
    run_dir = Path(run_dir)
    summary, history = read_run(run_dir)
    params = load_params(run_dir / "params.npz")
    dtype = params["W1"].dtype
    run = _Run(
        run_dir,
        summary,
        history,
        params,
        data.test.images.astype(dtype, copy=False),
        data.test.labels,
        data,
        tuple(implementations),
        summary["config"].get("activation", "relu"),
    )
    out = []
    bar = tqdm(FIGURES.items(), desc="figures", disable=not progress)
    for name, draw in bar:
        bar.set_postfix_str(name)
        out += draw(run)
    return out


def _print_agreement(what: str, results: dict[str, np.ndarray]) -> None:
    if len(results) < 2:
        return
    (a_name, a), (b_name, b) = list(results.items())[:2]
    print(
        f"{what}: {a_name} vs {b_name}: max |difference| {np.abs(a - b).max():.2e} "
        f"(largest value {np.abs(a).max():.2f})"
    )
