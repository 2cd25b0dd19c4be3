r"""Every figure of the tutorials for one run folder: ``python -m scratch plots RUN_DIR`` (or ``tfimpl``).

The drawing is in :mod:`common.plots`; what to draw is computed by the implementations passed in, each an
:class:`Implementation` that a twin's command line builds from its own functions.

* One implementation (``python -m scratch plots``, ``python -m tfimpl plots``): :data:`FIGURES`, the run's
  own figures, into the run folder; the two side experiments, which are not about this run's model (the
  first tutorial's linear model as it trains, and the second tutorial's matrix inverse), into its
  ``side-experiments/`` folder.
* Two (``python -m compare plots``): :data:`TWIN_FIGURES`, each showing both twins side by side, into the
  run folder's ``twins/`` folder, so the twins' own figures are never overwritten; the differences are
  printed. The learning curves are not among them: a run has one history, from the twin that trained it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm  # plain text bars everywhere, notebooks included (no widget library needed)

from . import plots
from .data import Datasets
from .errors import UserError
from .experiments import random_integer_matrix
from .files import load_params

__all__ = ["FIGURES", "SIDE", "TWINS", "TWIN_FIGURES", "Implementation", "RunFolderError", "make_figures", "read_run"]

SIDE = "side-experiments"  # the sub-folder of a run folder for figures not about its model
TWINS = "twins"  # the sub-folder for python -m compare plots


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


def _hidden_layer(r: _Run) -> list[Path]:
    if len(r.params) <= 2:
        return []  # the linear model has no hidden layer
    main = r.implementations[0]
    hidden = np.asarray(main.hidden(r.params, r.x, r.activation))
    means = np.stack([r.x[r.y == k].mean(axis=0) for k in range(10)])
    images = {main.name: np.asarray(main.optimal_inputs(r.params, r.activation))}
    return [
        plots.plot_fingerprints(hidden, r.y, r.dir / "fingerprints.png"),
        plots.plot_optimal_inputs(images, means, r.dir / "optimal_inputs.png"),
    ]


def _side_weights(r: _Run) -> list[Path]:
    snapshots = {impl.name: impl.weight_snapshots(r.data) for impl in r.implementations}
    title = (
        "Side experiment, not this run: the first tutorial's linear model (zeros, SGD 0.5), its weights as it trains"
    )
    for name, snaps in snapshots.items():
        accs = ", ".join(f"{acc:.1%} at step {step}" for step, _, acc in snaps)
        print(f"side experiment (the first tutorial's linear model, trained by {name}): {accs}")
    _print_agreement("linear weights after 1000 steps", {k: v[-1][1] for k, v in snapshots.items()})
    return [plots.plot_twin_weights(snapshots, r.dir / SIDE / "linear_weights.png", title=title)]


def _side_inverse(r: _Run) -> list[Path]:
    A = random_integer_matrix()
    results = {impl.name: impl.learn_inverse(A) for impl in r.implementations}
    for name, (X, _) in results.items():
        print(
            f"side experiment (a matrix inverse learned by Adagrad, {name}): max |X - numpy.linalg.inv(A)| = {inverse_error(X, A):.2e}"
        )
    _print_agreement("learned inverses", {k: v[0] for k, v in results.items()})
    return [plots.plot_inverse(results, A, r.dir / SIDE / "matrix_inverse.png")]


def inverse_error(X: np.ndarray, A: np.ndarray) -> float:
    """``max |X - inv(A)|``, the figure printed for a learned inverse."""
    return float(np.abs(X - np.linalg.inv(A)).max())


def _twin_predictions(r: _Run) -> list[Path]:
    preds = {impl.name: np.asarray(impl.predict(r.params, r.x, r.activation)) for impl in r.implementations}
    (a_name, a), (b_name, b) = list(preds.items())[:2]
    differ = int(np.sum(a != b))
    print(f"test predictions of the same parameters: {a_name} and {b_name} differ on {differ} of {len(a)}")
    cms = {name: plots.confusion_matrix(r.y, p) for name, p in preds.items()}
    return [plots.plot_twin_confusions(cms, differ, r.dir / "predictions.png")]


def _twin_hidden(r: _Run) -> list[Path]:
    if len(r.params) <= 2:
        return []
    hidden = {impl.name: np.asarray(impl.hidden(r.params, r.x, r.activation)) for impl in r.implementations}
    images = {impl.name: np.asarray(impl.optimal_inputs(r.params, r.activation)) for impl in r.implementations}
    means = np.stack([r.x[r.y == k].mean(axis=0) for k in range(10)])
    _print_agreement("hidden activations", hidden)
    _print_agreement("optimal input images", images)
    return [
        plots.plot_twin_fingerprints(hidden, r.y, r.dir / "fingerprints.png"),
        plots.plot_optimal_inputs(images, means, r.dir / "optimal_inputs.png"),
    ]


#: One implementation's figures, in the order they are drawn: name -> function of the run returning the
#: PNG paths. ``examples`` comes first: it computes the predictions the confusion matrix counts.
FIGURES = {
    "examples": _examples,
    "confusion": _confusion,
    "curves": _curves,
    "hidden": _hidden_layer,
    "side: linear weights": _side_weights,
    "side: inverse": _side_inverse,
}

#: Both twins side by side (``python -m compare plots``), into the run folder's ``twins/``.
TWIN_FIGURES = {
    "predictions": _twin_predictions,
    "hidden": _twin_hidden,
    "side: linear weights": _side_weights,
    "side: inverse": _side_inverse,
}


def make_figures(run_dir: str | Path, data: Datasets, implementations, *, progress=True) -> list[Path]:
    """Draw a run folder's figures: :data:`FIGURES` for one implementation, :data:`TWIN_FIGURES` for two
    (into ``twins/``); the side experiments go into a ``side-experiments/`` folder. Returns the PNG paths;
    prints the confusion matrix, the side experiments' results and how far apart the twins end."""
    run_dir = Path(run_dir)
    summary, history = read_run(run_dir)
    params = load_params(run_dir / "params.npz")
    if params["W1"].ndim == 4:
        raise UserError(
            f"{run_dir} holds a cnn: these figures are the linear model's and the MLP's; the cnn's filters and "
            "feature maps are drawn in notebooks/07_convolution_by_hand.py"
        )
    dtype = params["W1"].dtype
    implementations = tuple(implementations)
    twins = len(implementations) > 1
    out_dir = run_dir / TWINS if twins else run_dir
    (out_dir / SIDE).mkdir(parents=True, exist_ok=True)
    run = _Run(
        out_dir,
        summary,
        history,
        params,
        data.test.images.astype(dtype, copy=False),
        data.test.labels,
        data,
        implementations,
        summary["config"].get("activation", "relu"),
    )
    if twins:
        print(
            f"learning curves: see {run_dir / 'learning_curves.png'}; a run has one history, from the twin that trained it"
        )
    out = []
    table = TWIN_FIGURES if twins else FIGURES
    bar = tqdm(table.items(), desc="figures", disable=not progress)
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
