r"""The tutorials' experiments, as a registry both twins run: what each asks and the runs it makes.

The twins supply the training (``scratch.train.train`` or ``tfimpl.train.train``) and their own
optimal inputs, learned inverse and weight snapshots (``scratch.experiments``, ``tfimpl.experiments``);
what is shared lives here: the registry :data:`EXPERIMENTS`, :func:`run_experiment`, the snapshot
schedule :func:`snapshots_at`, the matrix :func:`random_integer_matrix`, and :func:`resolve_seed`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from .config import RunConfig
from .data import Datasets, batch_indices
from .errors import UserError

__all__ = ["EXPERIMENTS", "random_integer_matrix", "resolve_seed", "run_experiment", "snapshots_at"]


def random_integer_matrix(n: int = 10, seed: int = 0) -> np.ndarray:
    """A well-conditioned random integer matrix: entries in [-9, 9], re-drawn until cond(A) < 100."""
    rng = np.random.default_rng(seed)
    while True:
        A = rng.integers(-9, 10, (n, n)).astype(np.float64)
        if np.linalg.cond(A) < 100:
            return A


def snapshots_at(steps: Sequence[int], n_train: int, seed: int, *, train_batches, snapshot, batch_size: int = 100):
    """Train on the training loop's shuffled batches and take ``snapshot()`` at each of ``steps``.

    The schedule shared by both packages' :func:`scratch.experiments.weight_snapshots`: ``train_batches(idx)``
    trains one step on each row of ``idx``, ``(k, B)`` example ids, in order. Each ``idx`` runs up to the
    next snapshot or the epoch's end, whichever comes first, so a twin may run it as one graph call.
    Returns ``[(step, *snapshot()), ...]`` in increasing step order.
    """
    per_epoch = n_train // batch_size
    out, done = [], 0
    for target in sorted(steps):
        while done < target:
            epoch, i = divmod(done, per_epoch)
            block = batch_indices(n_train, batch_size, seed, epoch)[i : i + target - done]  # ends with the epoch
            train_batches(block)
            done += len(block)
        out.append((done, *snapshot()))
    return out


#: The first tutorial's experiments: name -> (what it asks, list of (label, config changes)).
EXPERIMENTS = {
    "learning-rate": (
        "How does the learning rate change the result of 1000 SGD steps?",
        [(f"lr {lr}", {"learning_rate": lr}) for lr in (0.005, 0.05, 0.5, 5.0)],
    ),
    "optimizer": (
        "SGD, Adagrad and Adam, each at a rate that suits it, 1000 steps",
        [
            ("sgd lr 0.5", {}),
            ("adagrad lr 0.5", {"optimizer": "adagrad"}),
            ("adam lr 0.005", {"optimizer": "adam", "learning_rate": 0.005}),
        ],
    ),
    "batch-size": (
        "Batches of 1 and of 1000 against 100 (1000 steps each, so 1000 vs 1,000,000 images seen)",
        [
            ("batch 1, lr 0.005", {"batch_size": 1, "learning_rate": 0.005}),
            ("batch 100", {}),
            ("batch 1000", {"batch_size": 1000}),
        ],
    ),
    "loss": (
        "Sparse against dense cross-entropy: the same numbers, from class ids or one-hot rows",
        [("dense (one-hot)", {}), ("sparse (class ids)", {"loss": "sparse_softmax_cross_entropy"})],
    ),
    "seed": (
        "Random init: a fixed seed twice gives the same result; no fixed seed gives a different one each run",
        [
            ("seed 0", {"seed": 0, "init": "normal"}),
            ("seed 0 again", {"seed": 0, "init": "normal"}),
            ("no fixed seed", {"seed": None, "init": "normal"}),
            ("no fixed seed again", {"seed": None, "init": "normal"}),
        ],
    ),
}


def run_experiment(
    train_fn: Callable, name: str, data: Datasets, *, base: RunConfig | None = None, progress: bool = False
) -> list[tuple[str, float, float]]:
    """Run one experiment of :data:`EXPERIMENTS` with a twin's ``train(config, data, progress=...)``.

    Returns ``[(label, test accuracy, final train loss), ...]``.
    """
    if name not in EXPERIMENTS:
        raise UserError(f"unknown experiment {name!r}; choose one of {sorted(EXPERIMENTS)}")
    base = base or RunConfig()
    results = []
    for label, changes in EXPERIMENTS[name][1]:
        changes = resolve_seed(changes)
        if "seed" in changes and label.startswith("no fixed seed"):
            label = f"{label} (drew {changes['seed']})"
        s = train_fn(replace(base, **changes), data, progress=progress).summary
        results.append((label, s["test_accuracy"], s["final_train_loss"]))
    return results


def resolve_seed(changes: dict) -> dict:
    """``seed: None`` means "no fixed seed": draw one from the OS's entropy (printed, so it can be rerun)."""
    if "seed" in changes and changes["seed"] is None:
        return {**changes, "seed": int(np.random.SeedSequence().entropy % 2**31)}
    return changes
