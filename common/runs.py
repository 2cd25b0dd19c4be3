r"""A training run's bookkeeping, shared by both twins: batches, logging, validation, the divergence stop,
timings, the summary and the run folder.

Each twin supplies only "run these batches" and "evaluate this split" (:func:`run_loop`); everything
else is here, so a NumPy run and a TensorFlow run with the same seed see the same batches in the same
order, log the same rows and stop for the same reasons.

Timings in ``summary.json``
    ``compile_seconds``  tracing and compiling before the first step (0 for NumPy)
    ``train_seconds``    the steady state: the training loop from the first step to the last, its
                         logging and per-epoch validation included, compilation not
    ``steps_per_second`` ``steps / train_seconds``
    ``wall_seconds``     the whole command, data loading and the final test evaluation included
"""

from __future__ import annotations

import math
import platform
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .config import RunConfig
from .data import Datasets, batch_indices
from .files import json_bytes, jsonl_bytes, params_bytes, write_folder

__all__ = [
    "DIVERGENCE_FACTOR",
    "DIVERGENCE_WINDOW",
    "Interrupted",
    "TrainResult",
    "TrainingDiverged",
    "calls_of",
    "chunk_sizes",
    "default_out_dir",
    "make_summary",
    "run_loop",
    "save_run",
    "schedule",
    "total_steps",
]

#: A run has diverged when the mean loss of the last ``DIVERGENCE_WINDOW`` steps is more than
#: ``DIVERGENCE_FACTOR`` times the first step's loss (or when a loss is NaN or infinite). Healthy runs
#: fall below their first loss within a few steps; the loudest healthy run in the experiments (SGD at
#: rate 5.0) peaks at a window mean of about 2x its start.
DIVERGENCE_FACTOR = 10.0
DIVERGENCE_WINDOW = 50


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite, or stayed far above its start; names the step and a lower rate."""

    def __init__(self, step: int, loss: float, config: RunConfig, *, why: str = ""):
        self.step, self.loss = step, loss
        self.suggested_rate = config.learning_rate / 10
        what = why or f"became {loss}"
        super().__init__(
            f"the training loss {what} at step {step} ({config.optimizer}, learning rate "
            f"{config.learning_rate}, loss {config.loss}). Try a lower learning rate, e.g. "
            f"--lr {self.suggested_rate:g}"
            + (", or a stable loss such as softmax_cross_entropy" if config.loss == "naive_cross_entropy" else "")
            + ". Nothing was written."
        )


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during training: how far the run got."""

    def __init__(self, step: int, total: int):
        self.step, self.total = step, total
        super().__init__(f"interrupted at step {step} of {total}; nothing written")


@dataclass
class TrainResult:
    """What a run produced: final parameters (NumPy arrays), the history rows, and the summary."""

    params: dict[str, np.ndarray]
    history: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)


def total_steps(config: RunConfig, n_train: int) -> int:
    """``config.steps``, or ``epochs * (n_train // batch_size)``."""
    if config.steps is not None:
        return config.steps
    return config.epochs * (n_train // config.batch_size)


def calls_of(config: RunConfig, n_train: int) -> int:
    """Steps per call of ``run_steps``: ``config.steps_per_call``, else a whole epoch."""
    return config.steps_per_call or n_train // config.batch_size


def schedule(config: RunConfig, n_train: int, k: int, *, cut_at_log_rows: bool = True):
    """The loop's calls, in order: ``(epoch, start, size)`` for each ``run_steps`` call of ``size`` steps.

    A call takes at most ``k`` steps and never crosses an epoch's end (the batches are reshuffled there).
    With ``cut_at_log_rows`` it never crosses a multiple of ``log_every`` either, so the history has a row
    at every ``log_every`` steps; without, a row comes after the first call that crosses one (a whole
    epoch per call on a GPU: one read-back per epoch).
    """
    per_epoch, steps = n_train // config.batch_size, total_steps(config, n_train)
    step, epoch, start = 0, 0, 0
    while step < steps:
        to_log_row = config.log_every - step % config.log_every if cut_at_log_rows else k
        size = min(k, per_epoch - start, steps - step, to_log_row)
        yield epoch, start, size
        step, start = step + size, start + size
        if start == per_epoch:
            epoch, start = epoch + 1, 0


def chunk_sizes(config: RunConfig, n_train: int, k: int, *, cut_at_log_rows: bool = True) -> list[int]:
    """Every distinct number of steps :func:`run_loop` will pass to one ``run_steps`` call, in order."""
    return list(dict.fromkeys(size for _, _, size in schedule(config, n_train, k, cut_at_log_rows=cut_at_log_rows)))


@dataclass
class _Progress:
    """The loop's state: where it is, the rows so far, and the losses since the last log row."""

    steps: int
    per_epoch: int
    step: int = 0
    epoch: int = 0
    start: int = 0  # steps done in the current epoch
    history: list = field(default_factory=list)
    recent: list = field(default_factory=list)
    window: deque = field(default_factory=lambda: deque(maxlen=DIVERGENCE_WINDOW))  # the last losses
    window_sum: float = 0.0
    first_loss: float | None = None


def _check_losses(losses: np.ndarray, p: _Progress, config: RunConfig) -> None:
    """Raise :class:`TrainingDiverged` on a NaN/inf loss, or a window mean far above the first loss."""
    bad = np.flatnonzero(~np.isfinite(losses))
    if bad.size:
        raise TrainingDiverged(p.step + int(bad[0]) + 1, float(losses[bad[0]]), config)
    if p.first_loss is None:
        p.first_loss = float(losses[0])
    for i, value in enumerate(losses.tolist()):
        if len(p.window) == DIVERGENCE_WINDOW:
            p.window_sum -= p.window[0]  # the oldest leaves the window as the new one enters
        p.window.append(value)
        p.window_sum += value
        mean = p.window_sum / len(p.window)
        if len(p.window) == DIVERGENCE_WINDOW and mean > DIVERGENCE_FACTOR * max(p.first_loss, 1e-3):
            step = p.step + i + 1
            why = (
                f"stayed above {DIVERGENCE_FACTOR:g}x its start ({p.first_loss:.3g}): mean {mean:.3g} over steps "
                f"{step - DIVERGENCE_WINDOW + 1}-{step}"
            )
            raise TrainingDiverged(step, value, config, why=why)


def _log_row(p: _Progress, config: RunConfig, chunk: np.ndarray, batch_accuracy, bar) -> None:
    """After a call: a history row when a ``log_every`` boundary was crossed (or at the end)."""
    before = p.step - len(chunk)
    if p.step // config.log_every > before // config.log_every or p.step == p.steps:
        row = {
            "step": p.step,
            "epoch": p.epoch + p.start / p.per_epoch,
            "loss": float(np.mean(p.recent)),
            "accuracy": batch_accuracy(chunk[-1]),
        }
        p.history.append(row)
        bar.set_postfix(loss=f"{row['loss']:.4f}", acc=f"{row['accuracy']:.3f}")
        p.recent = []


def _validate(p: _Progress, evaluate) -> None:
    """At an epoch's end (or the run's): a validation row."""
    val_loss, val_acc = evaluate("validation")
    whole = p.start == p.per_epoch
    epoch = p.epoch + 1 if whole else p.epoch + p.start / p.per_epoch
    p.history.append({"step": p.step, "epoch": epoch, "val_loss": val_loss, "val_accuracy": val_acc})


def _run_call(p: _Progress, config: RunConfig, order: np.ndarray, size: int, run_steps, batch_accuracy, bar) -> None:
    """One ``run_steps`` call of ``size`` steps: check its losses, count them, log a row if one is due."""
    chunk = order[p.start : p.start + size]  # (size, B)
    losses = np.asarray(run_steps(chunk), dtype=np.float64)
    _check_losses(losses, p, config)
    p.step, p.start = p.step + size, p.start + size
    p.recent.extend(losses.tolist())
    bar.update(size)
    _log_row(p, config, chunk, batch_accuracy, bar)


def run_loop(
    config: RunConfig,
    data: Datasets,
    *,
    run_steps: Callable[[np.ndarray], np.ndarray],
    evaluate: Callable[[str], tuple[float, float]],
    batch_accuracy: Callable[[np.ndarray], float],
    warm_up: Callable[[list[int]], None] | None = None,
    steps_per_call: int | None = None,
    cut_at_log_rows: bool = True,
    progress: bool = True,
    desc: str = "train",
) -> tuple[list[dict], dict]:
    r"""The training loop, shared by both packages.

    Parameters
    ----------
    run_steps : callable
        ``run_steps(idx)`` with ``idx: (k, B)`` int64 indices into ``data.train`` trains ``k`` steps, one
        batch per row, and returns their ``k`` losses.
    evaluate : callable
        ``evaluate("validation" | "test") -> (loss, accuracy)`` on the whole split.
    batch_accuracy : callable
        ``batch_accuracy(idx)`` with ``idx: (B,)``: the current parameters' accuracy on that batch.
    warm_up : callable, optional
        ``warm_up(sizes)`` compiles ``run_steps`` for each number of steps per call it will see, and must
        leave the model as it was. Timed as ``compile_seconds``, apart from the steady state.
    steps_per_call : int, optional
        Steps per ``run_steps`` call; by default :func:`calls_of` the config (NumPy passes 25).
    cut_at_log_rows : bool
        Cut calls where a log row is due (see :func:`schedule`).

    Returns
    -------
    history : list of dict
        A row every ``log_every`` steps (``step, epoch, loss, accuracy``) and one per epoch end
        (``step, epoch, val_loss, val_accuracy``).
    stats : dict
        ``steps, epochs, compile_seconds, train_seconds, steps_per_second`` and the final metrics.

    Raises
    ------
    TrainingDiverged
        A loss is NaN or infinite, or the loss stays far above its start (:data:`DIVERGENCE_FACTOR`).
    Interrupted
        Ctrl-C; says at which step.
    """
    n = len(data.train)
    p = _Progress(steps=total_steps(config, n), per_epoch=n // config.batch_size)
    k = steps_per_call or calls_of(config, n)
    t0 = time.perf_counter()
    if warm_up is not None:
        warm_up(chunk_sizes(config, n, k, cut_at_log_rows=cut_at_log_rows))
    t1 = time.perf_counter()
    bar = tqdm(total=p.steps, desc=desc, unit="step", disable=not progress, mininterval=0.5)
    order = None
    try:
        for epoch, start, size in schedule(config, n, k, cut_at_log_rows=cut_at_log_rows):
            if order is None or epoch != p.epoch:
                order = batch_indices(n, config.batch_size, config.seed, epoch)  # (per_epoch, B)
            p.epoch, p.start = epoch, start
            _run_call(p, config, order, size, run_steps, batch_accuracy, bar)
            if p.start == p.per_epoch or p.step == p.steps:
                _validate(p, evaluate)
    except KeyboardInterrupt:
        raise Interrupted(p.step, p.steps) from None
    finally:
        bar.close()
    t2 = time.perf_counter()
    return p.history, _stats(p, evaluate, compile_seconds=t1 - t0 if warm_up else 0.0, train_seconds=t2 - t1)


def _stats(p: _Progress, evaluate, *, compile_seconds: float, train_seconds: float) -> dict:
    test_loss, test_acc = evaluate("test")
    last_val = next(r for r in reversed(p.history) if "val_loss" in r)
    return {
        "steps": p.step,
        "epochs": p.step / p.per_epoch,
        "test_accuracy": test_acc,
        "test_loss": test_loss,
        "validation_accuracy": last_val["val_accuracy"],
        "validation_loss": last_val["val_loss"],
        "final_train_loss": next(r["loss"] for r in reversed(p.history) if "loss" in r),
        "compile_seconds": compile_seconds,
        "train_seconds": train_seconds,
        "steps_per_second": p.step / train_seconds if train_seconds > 0 else math.inf,
    }


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
    if config.out is not None:
        return Path(config.out)
    return Path("runs") / f"{implementation}-{config.model}-{config.optimizer}-seed{config.seed}"


def save_run(result: TrainResult, out_dir: str | Path) -> Path:
    """Write ``params.npz``, ``history.jsonl`` and ``summary.json`` as one folder, whole or not at all."""
    return write_folder(
        out_dir,
        {
            "params.npz": params_bytes({k: np.asarray(v) for k, v in result.params.items()}, str(out_dir)),
            "history.jsonl": jsonl_bytes(result.history),
            "summary.json": json_bytes(result.summary),
        },
    )
