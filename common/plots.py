r"""The tutorials' figures as matplotlib PNGs. Plot functions take NumPy arrays, so both packages share them.

:func:`common.figures.make_figures` decides what to draw for a run folder; these functions only draw.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from .files import atomic_write_bytes

__all__ = [
    "confusion_matrix",
    "format_confusion",
    "plot_confusion",
    "plot_errors_per_digit",
    "plot_examples",
    "plot_fingerprints",
    "plot_inverse",
    "plot_learning_curves",
    "plot_optimal_inputs",
    "plot_twin_confusions",
    "plot_twin_fingerprints",
    "plot_twin_weights",
    "plot_weights",
    "save",
]

DIVERGING = "RdBu_r"  # red positive, blue negative, white zero
IMAGE_SHAPE = (28, 28)  # an MNIST image: 784 pixels, row by row


def save(fig, path: str | Path) -> Path:
    """Write ``fig`` as PNG atomically and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


def plot_examples(images, labels, predictions, path, *, title: str):
    """A 3x3 grid of digits titled "true 7, predicted 7" (red where the prediction is wrong)."""
    fig, axes = plt.subplots(nrows=3, ncols=3, figsize=(6, 6.6))
    for ax, img, t, p in zip(axes.flat, images[:9], labels[:9], predictions[:9], strict=False):
        ax.imshow(img.reshape(IMAGE_SHAPE), cmap="binary")
        ax.set_title(f"true {t}, predicted {p}", fontsize=10, color="black" if t == p else "crimson")
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[len(images[:9]) :]:
        ax.axis("off")
    fig.suptitle(title)
    return save(fig, path)


def plot_weights(snapshots: Sequence[tuple[int, np.ndarray, float]], path, *, title: str | None = None):
    """The linear model's ten weight images per snapshot, on one common colour scale."""
    return plot_twin_weights({"": snapshots}, path, title=title)


def plot_twin_weights(snapshots: dict[str, Sequence[tuple[int, np.ndarray, float]]], path, *, title: str | None = None):
    """:func:`plot_weights` for one or more implementations: a block of rows each, on one colour scale."""
    rows = [(name, *snap) for name, snaps in snapshots.items() for snap in snaps]
    vmax = max(float(np.abs(W).max()) for _, _, W, _ in rows) or 1.0
    height = 1.2 * len(rows) + 0.8
    fig, axes = plt.subplots(len(rows), 10, figsize=(13, height), squeeze=False)
    fig.subplots_adjust(top=1 - 0.75 / height)  # the title close above the first row, however many rows
    for row, (name, step, W, acc) in enumerate(rows):
        for k in range(10):
            ax = axes[row, k]
            im = ax.imshow(W[:, k].reshape(IMAGE_SHAPE), cmap=DIVERGING, vmin=-vmax, vmax=vmax)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"digit {k}")
        label = f"{name.split(' ')[0]}\nstep {step}\n{acc:.1%}" if name else f"step {step}\n{acc:.1%}"
        axes[row, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=11)
    fig.colorbar(im, ax=axes, shrink=0.8, label="weight (red +, blue -)")
    fig.suptitle(title or "Softmax regression: weights W[:, digit] as images (test accuracy at left)")
    return save(fig, path)


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, n: int = 10) -> np.ndarray:
    """``cm[true, predicted]`` counts, ``(n, n)`` int64."""
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (np.asarray(labels), np.asarray(predictions)), 1)
    return cm


def format_confusion(cm: np.ndarray) -> str:
    """The confusion matrix as a text table, true digits down, predictions across."""
    head = "true\\pred " + " ".join(f"{j:>5}" for j in range(len(cm)))
    rows = [f"{i:>9} " + " ".join(f"{v:>5}" for v in row) for i, row in enumerate(cm)]
    return "\n".join([head, *rows])


def plot_confusion(cm: np.ndarray, path, *, title: str = "Confusion matrix (test set)"):
    """Counts in each cell; colour on a log scale so the off-diagonal errors are visible."""
    from matplotlib.colors import LogNorm

    fig, ax = plt.subplots(figsize=(7, 6))
    im = ax.imshow(np.maximum(cm, 0.5), cmap="Blues", norm=LogNorm(vmin=0.5, vmax=cm.max()))
    for i in range(len(cm)):
        for j in range(len(cm)):
            if cm[i, j]:
                ax.text(
                    j,
                    i,
                    str(cm[i, j]),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if cm[i, j] > cm.max() / 8 else "black",
                )
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label="images (log scale)")
    return save(fig, path)


def plot_twin_confusions(cms: dict[str, np.ndarray], differ: int, path):
    """Each implementation's confusion matrix side by side (errors only: the diagonal is left blank)."""
    fig, axes = plt.subplots(1, len(cms), figsize=(6.2 * len(cms), 5.4), squeeze=False)
    vmax = max(int((cm - np.diag(np.diag(cm))).max()) for cm in cms.values()) or 1
    for ax, (name, cm) in zip(axes.flat, cms.items(), strict=True):
        errors = cm - np.diag(np.diag(cm))
        im = ax.imshow(errors, cmap="Reds", vmin=0, vmax=vmax)
        for i, j in zip(*np.nonzero(errors), strict=True):
            ax.text(j, i, str(errors[i, j]), ha="center", va="center", fontsize=7)
        ax.set_xticks(range(10))
        ax.set_yticks(range(10))
        ax.set_xlabel("predicted digit")
        ax.set_ylabel("true digit")
        ax.set_title(f"{name}: {errors.sum()} of {cm.sum()} wrong")
    fig.colorbar(im, ax=list(axes.flat), shrink=0.8, label="misclassified test images")
    total = next(iter(cms.values())).sum()
    fig.suptitle(f"Errors of the same parameters in each twin: {differ} of {total} test predictions differ")
    return save(fig, path)


def plot_errors_per_digit(cm: np.ndarray, path):
    """How many test images of each true digit were misclassified."""
    errors = cm.sum(axis=1) - np.diag(cm)
    fig, ax = plt.subplots(figsize=(7, 3.8))
    bars = ax.bar(range(10), errors, color="indianred")
    ax.bar_label(bars, [f"{e}\n({e / max(t, 1):.1%})" for e, t in zip(errors, cm.sum(axis=1), strict=True)], fontsize=8)
    ax.set_xticks(range(10))
    ax.set_xlabel("true digit")
    ax.set_ylabel("misclassified test images")
    ax.set_ylim(0, errors.max() * 1.3 + 1)
    ax.set_title(f"Errors per true digit ({errors.sum()} of {cm.sum()} wrong)")
    return save(fig, path)


def plot_learning_curves(history: list[dict], path, *, title: str = "Learning curves"):
    """Training (batch) and validation loss and accuracy against the step."""
    train = [h for h in history if "loss" in h]
    val = [h for h in history if "val_loss" in h]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.plot([h["step"] for h in train], [h["loss"] for h in train], label="training (mean over the last steps)")
    ax1.plot([h["step"] for h in val], [h["val_loss"] for h in val], "o-", label="validation")
    ax1.set_ylabel("loss")
    ax2.plot(
        [h["step"] for h in train],
        [h["batch_accuracy"] for h in train],
        label="the batch just trained, after its step",
        alpha=0.7,
    )
    ax2.plot([h["step"] for h in val], [h["val_accuracy"] for h in val], "o-", label="validation")
    ax2.set_ylabel("accuracy")
    for ax in (ax1, ax2):
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    return save(fig, path)


def plot_fingerprints(hidden: np.ndarray, labels: np.ndarray, path, *, per_class: int = 20):
    """Hidden activations of test images, ``per_class`` of each digit stacked, units ordered by their favourite digit."""
    rows = np.concatenate([np.flatnonzero(labels == k)[:per_class] for k in range(10)])
    H = hidden[rows]  # (10 * per_class, units)
    means = np.stack([hidden[labels == k].mean(axis=0) for k in range(10)])  # (10, units)
    order = np.lexsort((-means.max(axis=0), means.argmax(axis=0)))  # by favourite digit, strongest first
    fig, ax = plt.subplots(figsize=(12, 6))
    im = ax.imshow(H[:, order], aspect="auto", cmap="magma", interpolation="nearest")
    ax.set_yticks(np.arange(10) * per_class + per_class / 2 - 0.5, [f"digit {k}" for k in range(10)])
    for k in range(1, 10):
        ax.axhline(k * per_class - 0.5, color="white", lw=0.6)
    ax.set_xlabel(f"hidden unit ({H.shape[1]}), grouped by the digit that activates it most on average")
    ax.set_title(f"Hidden-layer fingerprints: ReLU activations of {per_class} test images per digit")
    fig.colorbar(im, ax=ax, label="activation")
    return save(fig, path)


def plot_twin_fingerprints(hidden: dict[str, np.ndarray], labels: np.ndarray, path, *, per_class: int = 20):
    """:func:`plot_fingerprints` of each implementation, stacked, with the units in the first one's order."""
    rows = np.concatenate([np.flatnonzero(labels == k)[:per_class] for k in range(10)])
    first = next(iter(hidden.values()))
    means = np.stack([first[labels == k].mean(axis=0) for k in range(10)])
    order = np.lexsort((-means.max(axis=0), means.argmax(axis=0)))
    fig, axes = plt.subplots(len(hidden), 1, figsize=(12, 4.2 * len(hidden)), squeeze=False)
    vmax = max(float(h[rows].max()) for h in hidden.values())
    for ax, (name, h) in zip(axes.flat, hidden.items(), strict=True):
        im = ax.imshow(h[rows][:, order], aspect="auto", cmap="magma", interpolation="nearest", vmin=0, vmax=vmax)
        ax.set_yticks(np.arange(10) * per_class + per_class / 2 - 0.5, [f"digit {k}" for k in range(10)])
        ax.set_title(f"{name}: hidden activations of {per_class} test images per digit")
    axes[-1, 0].set_xlabel("hidden unit, grouped by the digit that activates it most (order of the first twin)")
    fig.colorbar(im, ax=list(axes.flat), label="activation")
    return save(fig, path)


def plot_optimal_inputs(results: dict[str, np.ndarray], means: np.ndarray, path, *, l2: float = 0.25):
    """Rows: each implementation's optimal input per digit, then the mean test image of that digit."""
    rows = [*results.items(), ("mean test image", means)]
    fig, axes = plt.subplots(len(rows), 10, figsize=(13, 1.6 * len(rows) + 0.6), squeeze=False)
    vmax = max(float(np.abs(x).max()) for _, x in results.items())
    for r, (name, images) in enumerate(rows):
        for k in range(10):
            ax = axes[r, k]
            if name == "mean test image":
                ax.imshow(images[k].reshape(IMAGE_SHAPE), cmap="binary")
            else:
                ax.imshow(images[k].reshape(IMAGE_SHAPE), cmap=DIVERGING, vmin=-vmax, vmax=vmax)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"digit {k}")
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center")
    fig.suptitle(
        f"Inputs the MLP scores highest per digit (gradient descent on the input, L2 penalty {l2}); red +, blue -"
    )
    return save(fig, path)


def plot_inverse(results: dict[str, tuple[np.ndarray, np.ndarray]], A: np.ndarray, path):
    """Left: the L1 loss of each implementation against the step. Right: ``|X - inv(A)|`` per entry."""
    inv = np.linalg.inv(A)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.4, 1]})
    for name, (X, losses) in results.items():
        ax1.semilogy(
            np.arange(1, len(losses) + 1), losses, label=f"{name}: max |X - inv(A)| = {np.abs(X - inv).max():.1e}"
        )
    ax1.set_xlabel("step (learning rate 0.01)")
    ax1.set_ylabel("L1 loss  sum |A X - I|")
    ax1.grid(alpha=0.3, which="both")
    ax1.legend(fontsize=9)
    X = next(iter(results.values()))[0]
    im = ax2.imshow(np.abs(X - inv), cmap="viridis")
    ax2.set_title("|X - inv(A)| per entry")
    fig.colorbar(im, ax=ax2)
    fig.suptitle("Learning the inverse of a random 10x10 integer matrix")
    return save(fig, path)
