r"""Training: mini-batch SGD (or Adagrad, Adam) over MNIST, by hand.

:func:`train_step` is the whole idea in three lines: loss and gradients, then the optimizer's update.
:func:`train` wraps it in the bookkeeping every run needs. That bookkeeping, :func:`run_loop`, is shared
with :mod:`tfimpl.train`, so both packages shuffle, batch, log, validate and stop on NaN identically:
each only supplies "run these batches" and "evaluate this split".
"""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import models
from .config import RunConfig
from .data import Datasets, batch_indices, load_mnist, one_hot
from .files import save_params, write_json, write_jsonl
from .losses import LOSSES
from .optimizers import make_optimizer

__all__ = ["TrainResult", "TrainingDiverged", "default_out_dir", "run_loop", "save_run", "train", "train_step"]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message names the step and suggests a lower learning rate."""

    def __init__(self, step: int, loss: float, config: RunConfig):
        self.step, self.loss = step, loss
        super().__init__(
            f"the training loss became {loss} at step {step} ({config.optimizer}, learning rate "
            f"{config.learning_rate}, loss {config.loss}). Try a lower learning rate, e.g. "
            f"--lr {config.learning_rate / 10:g}"
            + (", or a stable loss such as softmax_cross_entropy" if config.loss == "naive_cross_entropy" else "")
            + ". Nothing was written."
        )


@dataclass
class TrainResult:
    """What a run produced: final parameters (NumPy arrays), the history rows, and the summary."""

    params: dict[str, np.ndarray]
    history: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)


def train_step(params, optimizer, x, y, *, loss="softmax_cross_entropy", l2=0.0, activation="relu") -> float:
    r"""One step of gradient descent: :math:`\theta \leftarrow \text{update}(\theta, \nabla_\theta J)`.

    Parameters
    ----------
    params : dict, updated in place
    optimizer : a :mod:`scratch.optimizers` optimizer
    x : (B, 784) array
    y : (B,) class ids or (B, 10) one-hot rows

    Returns
    -------
    float
        The batch loss *before* the update.
    """
    value, grads = models.loss_and_grads(params, x, y, loss=loss, l2=l2, activation=activation)
    optimizer.apply(grads, params)
    return value


def total_steps(config: RunConfig, n_train: int) -> int:
    """``config.steps``, or ``epochs * (n_train // batch_size)``."""
    if config.steps is not None:
        return config.steps
    return config.epochs * (n_train // config.batch_size)


def run_loop(
    config: RunConfig,
    data: Datasets,
    *,
    run_steps: Callable[[np.ndarray], np.ndarray],
    evaluate: Callable[[str], tuple[float, float]],
    batch_accuracy: Callable[[np.ndarray], float],
    progress: bool = True,
    desc: str = "train",
) -> tuple[list[dict], dict]:
    r"""The training loop's bookkeeping, shared by both packages.

    Parameters
    ----------
    run_steps : callable
        ``run_steps(idx)`` with ``idx: (k, B)`` int64 indices into ``data.train`` trains ``k`` steps, one
        batch per row, and returns their ``k`` losses (NumPy calls it with ``k = 1``, TensorFlow with
        up to ``steps_per_call``).
    evaluate : callable
        ``evaluate("validation" | "test") -> (loss, accuracy)`` on the whole split.
    batch_accuracy : callable
        ``batch_accuracy(idx)`` with ``idx: (B,)``: the current parameters' accuracy on that batch.

    Returns
    -------
    history : list of dict
        A row every ``log_every`` steps (``step, epoch, loss, accuracy``) and one per epoch end
        (``step, epoch, val_loss, val_accuracy``).
    stats : dict
        ``steps, epochs, train_seconds, steps_per_second`` and the final metrics.

    Raises
    ------
    TrainingDiverged
        As soon as a step's loss is NaN or infinite.
    """
    n = len(data.train)
    steps = total_steps(config, n)
    steps_per_epoch = n // config.batch_size
    history: list[dict] = []
    recent: list[float] = []
    step, epoch, train_seconds = 0, 0, 0.0
    bar = tqdm(total=steps, desc=desc, unit="step", disable=not progress, mininterval=0.5)
    while step < steps:
        order = batch_indices(n, config.batch_size, config.seed, epoch)  # (steps_per_epoch, B)
        start = 0
        while start < steps_per_epoch and step < steps:
            k = min(config.steps_per_call, steps_per_epoch - start, steps - step)
            chunk = order[start : start + k]
            t0 = time.perf_counter()
            losses = np.asarray(run_steps(chunk), dtype=np.float64)
            train_seconds += time.perf_counter() - t0
            bad = np.flatnonzero(~np.isfinite(losses))
            if bad.size:
                bar.close()
                raise TrainingDiverged(step + int(bad[0]) + 1, float(losses[bad[0]]), config)
            before, step, start = step, step + k, start + k
            recent.extend(losses.tolist())
            bar.update(k)
            if step // config.log_every > before // config.log_every or step == steps:
                row = {
                    "step": step,
                    "epoch": epoch + start / steps_per_epoch,
                    "loss": float(np.mean(recent)),
                    "accuracy": batch_accuracy(chunk[-1]),
                }
                history.append(row)
                bar.set_postfix(loss=f"{row['loss']:.4f}", acc=f"{row['accuracy']:.3f}")
                recent = []
        epoch += 1
        if start == steps_per_epoch or step == steps:
            val_loss, val_acc = evaluate("validation")
            history.append(
                {
                    "step": step,
                    "epoch": epoch if start == steps_per_epoch else epoch - 1 + start / steps_per_epoch,
                    "val_loss": val_loss,
                    "val_accuracy": val_acc,
                }
            )
    bar.close()
    test_loss, test_acc = evaluate("test")
    last_val = next(r for r in reversed(history) if "val_loss" in r)
    stats = {
        "steps": step,
        "epochs": step / steps_per_epoch,
        "test_accuracy": test_acc,
        "test_loss": test_loss,
        "validation_accuracy": last_val["val_accuracy"],
        "validation_loss": last_val["val_loss"],
        "final_train_loss": next(r["loss"] for r in reversed(history) if "loss" in r),
        "train_seconds": train_seconds,
        "steps_per_second": step / train_seconds if train_seconds > 0 else math.inf,
    }
    return history, stats


def training_targets(labels: np.ndarray, loss: str, dtype) -> np.ndarray:
    """Class ids for sparse losses, one-hot rows ``(N, 10)`` for dense ones."""
    return labels if LOSSES[loss][2] == "sparse" else one_hot(labels, 10, dtype)


def load_data(config: RunConfig) -> Datasets:
    """MNIST in the run's dtype (downloading it if needed)."""
    return load_mnist(config.data_dir, dtype=np.dtype(config.dtype))


def train(
    config: RunConfig, data: Datasets | None = None, *, progress: bool = True, initial_params=None
) -> TrainResult:
    """Train the configured model with NumPy and return its parameters, history and summary.

    ``initial_params`` (a parameter dict, copied) replaces the initialiser, e.g. to start both packages
    from identical weights.
    """
    data = load_data(config) if data is None else data
    dtype = np.dtype(config.dtype)
    if data.train.images.dtype != dtype:
        raise TypeError(f"the data is {data.train.images.dtype} but the run is {dtype}; load_mnist(dtype={dtype})")
    if initial_params is None:
        params = models.init_params(
            config.model, hidden=config.hidden, init=config.init, std=config.init_std, seed=config.seed, dtype=dtype
        )
    else:
        params = {k: np.array(v, dtype=dtype) for k, v in initial_params.items()}
    optimizer = make_optimizer(config.optimizer, config.learning_rate, momentum=config.momentum)
    X, Y = data.train.images, data.train.labels
    T = training_targets(Y, config.loss, dtype)  # converted once, not once per step
    kw = {"loss": config.loss, "l2": config.l2, "activation": config.activation}

    def run_steps(idx: np.ndarray) -> np.ndarray:
        return np.array([train_step(params, optimizer, X[i], T[i], **kw) for i in idx])

    def evaluate(split: str) -> tuple[float, float]:
        s = getattr(data, split)
        return models.evaluate(params, s.images, s.labels, loss=config.loss, activation=config.activation)

    def batch_accuracy(i: np.ndarray) -> float:
        return models.accuracy(params, X[i], Y[i], activation=config.activation)

    history, stats = run_loop(
        config,
        data,
        run_steps=run_steps,
        evaluate=evaluate,
        batch_accuracy=batch_accuracy,
        progress=progress,
        desc=f"scratch {config.model}",
    )
    summary = make_summary("scratch", config, stats, device="cpu", versions={"numpy": np.__version__})
    return TrainResult(params=params, history=history, summary=summary)


def make_summary(implementation: str, config: RunConfig, stats: dict, *, device: str, versions: dict) -> dict:
    """The ``summary.json`` object: identity, results, the machine, and the full configuration."""
    return {
        "implementation": implementation,
        "model": config.model,
        "optimizer": config.optimizer,
        **stats,
        "device": device,
        "dtype": config.dtype,
        "python": platform.python_version(),
        "versions": versions,
        "config": config.to_dict(),
    }


def default_out_dir(implementation: str, config: RunConfig) -> Path:
    """``runs/<implementation>-<model>-<optimizer>-seed<seed>`` unless ``--out`` says otherwise."""
    if config.out:
        return Path(config.out)
    return Path("runs") / f"{implementation}-{config.model}-{config.optimizer}-seed{config.seed}"


def save_run(result: TrainResult, out_dir: str | Path) -> Path:
    """Write ``summary.json``, ``history.jsonl`` and ``params.npz`` into ``out_dir``, each atomically."""
    out_dir = Path(out_dir)
    save_params(out_dir / "params.npz", {k: np.asarray(v) for k, v in result.params.items()})
    write_jsonl(out_dir / "history.jsonl", result.history)
    write_json(out_dir / "summary.json", result.summary)
    return out_dir
