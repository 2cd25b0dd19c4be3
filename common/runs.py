r"""A training run's bookkeeping, shared by both twins and *called from* their loops.

The loop itself is written out in each twin's ``train`` (:func:`scratch.train.train`): for each epoch,
for each batch, one train step, then :meth:`RunLog.record`. Everything around it lives here, small and
plain, so a NumPy run and a TensorFlow run with the same seed see the same batches in the same order,
log the same rows and stop for the same reasons:

* :meth:`RunLog.batches`: the epoch's shuffled batches (:func:`common.data.batch_indices`), cut at the
  run's last step;
* :meth:`RunLog.record`: counts a step, watches for divergence (:class:`DivergenceWatch`), moves the
  progress bar, and says when a history row is due (:meth:`RunLog.log`);
* :meth:`RunLog.validate`: the row at each epoch's end;
* the clock: ``with RunLog(...) as run:`` times the loop; Ctrl-C inside it becomes :class:`Interrupted`;
* :meth:`RunLog.stats`, :func:`make_summary`, :func:`save_run`: the summary and the run folder.

Timings in ``summary.json``:

``compile_seconds``
    tracing and compiling before the first step (0 for NumPy)
``train_seconds``
    the steady state: the training loop from the first step to the last, its logging and per-epoch
    validation included, compilation not
``steps_per_second``
    ``steps / train_seconds``
``wall_seconds``
    the whole command, data loading and the final test evaluation included
"""

from __future__ import annotations

import math
import platform
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm  # plain text bars everywhere, notebooks included (no widget library needed)

from .config import RunConfig
from .data import batch_indices
from .files import json_bytes, jsonl_bytes, params_bytes, write_folder

__all__ = [
    "DIVERGENCE_FACTOR",
    "DIVERGENCE_WINDOW",
    "DivergenceWatch",
    "Interrupted",
    "RunLog",
    "TrainResult",
    "TrainingDiverged",
    "default_out_dir",
    "make_summary",
    "save_run",
    "total_steps",
]

#: A run has diverged when the mean loss of the last ``DIVERGENCE_WINDOW`` steps is more than
#: ``DIVERGENCE_FACTOR`` times the first step's loss (or when a loss is NaN or infinite). Healthy runs
#: fall below their first loss within a few steps; the loudest healthy run in the experiments (SGD at
#: rate 5.0) peaks at a window mean of about 2x its start.
DIVERGENCE_FACTOR = 10.0
DIVERGENCE_WINDOW = 50


class TrainingDiverged(RuntimeError):
    r"""The loss became NaN or infinite, or stayed far above its start; names the step and a lower rate.

    A twin's command line can add the curvature the run started on (:meth:`add_sharpness`): the top
    eigenvalue :math:`\lambda_{max}` of the loss's Hessian, and the rate :math:`2/\lambda_{max}` below
    which gradient descent is stable (``docs/math.md#curvature-and-divergence``).
    """

    def __init__(self, step: int, loss: float, config: RunConfig, *, why: str = ""):
        self.step, self.loss, self.config = step, loss, config
        self.suggested_rate = config.learning_rate / 10
        self.why = why or f"became {loss}"
        self.lambda_max: float | None = None
        super().__init__(self._message())

    def _message(self) -> str:
        config = self.config
        curvature = ""
        if self.lambda_max is not None:
            curvature = (
                f" At the start the loss curved most steeply with lambda_max = {self.lambda_max:.3g} (the top "
                f"eigenvalue of its Hessian), so gradient descent is stable below about 2 / lambda_max = "
                f"{2 / self.lambda_max:.3g}."
            )
        return (
            f"the training loss {self.why} at step {self.step} ({config.optimizer}, learning rate "
            f"{config.learning_rate}, loss {config.loss}). Try a lower learning rate, e.g. "
            f"--lr {self.suggested_rate:g}"
            + (", or a stable loss such as softmax_cross_entropy" if config.loss == "naive_cross_entropy" else "")
            + "."
            + curvature
            + " Nothing was written."
        )

    def add_sharpness(self, lambda_max: float) -> None:
        """Say what the curvature at the start predicted (measured by the twin: common knows no math)."""
        self.lambda_max = float(lambda_max)
        self.args = (self._message(),)


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


class DivergenceWatch:
    """Stops a run whose loss is NaN or infinite, or whose last 50 losses average over 10x the first."""

    def __init__(self, config: RunConfig):
        self.config = config
        self.first: float | None = None
        self.window: deque[float] = deque(maxlen=DIVERGENCE_WINDOW)
        self.window_sum = 0.0  # kept as the window slides: one subtraction and one addition a step

    def check(self, step: int, loss: float) -> None:
        """Raise :class:`TrainingDiverged` if ``loss``, the loss of ``step`` (1-based), ends the run."""
        if not math.isfinite(loss):
            raise TrainingDiverged(step, loss, self.config)
        if self.first is None:
            self.first = loss
        if len(self.window) == DIVERGENCE_WINDOW:
            self.window_sum -= self.window[0]  # the oldest leaves as the new one enters
        self.window.append(loss)
        self.window_sum += loss
        mean = self.window_sum / len(self.window)
        if len(self.window) == DIVERGENCE_WINDOW and mean > DIVERGENCE_FACTOR * max(self.first, 1e-3):
            why = (
                f"stayed above {DIVERGENCE_FACTOR:g}x its start ({self.first:.3g}): mean {mean:.3g} over steps "
                f"{step - DIVERGENCE_WINDOW + 1}-{step}"
            )
            raise TrainingDiverged(step, loss, self.config, why=why)


class RunLog:
    r"""What a training loop keeps besides the model: step count, history, divergence watch, clock, bar.

    Use it as a context manager around the loop::

        with RunLog(config, len(X)) as run:
            for epoch in range(run.epochs):
                for idx in run.batches(epoch):              # (B,) example ids
                    loss = train_step(params, optimizer, X[idx], T[idx])
                    if run.record(loss):                    # True when a history row is due
                        run.log(batch_accuracy=...)
                run.validate(*evaluate(validation))
        stats = run.stats(*evaluate(test))

    History rows: one every ``log_every`` steps and at the last step (``step, epoch, loss,
    batch_accuracy``: the mean loss since the previous row, and the accuracy the caller measured on the
    batch just trained, after its update), and one at each epoch's end and at the run's (``step, epoch,
    val_loss, val_accuracy``).
    """

    def __init__(self, config: RunConfig, n_train: int, *, progress: bool = True, desc: str = "train"):
        self.config, self.n_train = config, n_train
        self.per_epoch = n_train // config.batch_size
        self.steps = total_steps(config, n_train)
        self.epochs = -(-self.steps // self.per_epoch)  # the last one may be cut short
        self.step = 0
        self.history: list[dict] = []
        self.watch = DivergenceWatch(config)
        self._recent: list[float] = []  # the losses since the last history row
        self._bar = tqdm(total=self.steps, desc=desc, unit="step", disable=not progress, mininterval=0.5)
        self._started = self.train_seconds = 0.0

    def __enter__(self) -> RunLog:
        self._started = time.perf_counter()
        return self

    def __exit__(self, kind, error, traceback) -> None:
        self.train_seconds = time.perf_counter() - self._started
        self._bar.close()
        if kind is KeyboardInterrupt:
            raise Interrupted(self.step, self.steps) from None

    def batches(self, epoch: int) -> np.ndarray:
        """Epoch ``epoch``'s shuffled batches, ``(per_epoch, B)`` example ids, cut at the run's last step."""
        order = batch_indices(self.n_train, self.config.batch_size, self.config.seed, epoch)
        return order[: self.steps - epoch * self.per_epoch]

    def record(self, loss: float) -> bool:
        """Count one step and its loss (checked for divergence); True when a history row is due after it."""
        self.step += 1
        self.watch.check(self.step, float(loss))  # a Python float: the watch's arithmetic at Python's speed
        self._recent.append(loss)  # as given: the history row's mean is taken in the loss's own dtype
        self._bar.update(1)
        return self.step % self.config.log_every == 0 or self.step == self.steps

    def record_all(self, losses) -> bool:
        """:meth:`record` for several consecutive steps (a graph call's); True when a row fell due among them."""
        due = False
        for loss in np.asarray(losses, dtype=np.float64).tolist():
            due |= self.record(loss)
        return due

    def _epoch(self) -> float:
        done, into = divmod(self.step, self.per_epoch)
        return done + into / self.per_epoch

    def log(self, batch_accuracy: float) -> None:
        """A history row: the mean loss since the last row, and the accuracy on the batch just trained.

        ``batch_accuracy`` is measured after that batch's own update, so late in training it reads 1.00
        on many batches while validation reads 0.97: it says the step fitted its batch, not that the
        model generalises (the validation rows say that).
        """
        loss = float(np.mean(self._recent))
        row = {"step": self.step, "epoch": self._epoch(), "loss": loss, "batch_accuracy": batch_accuracy}
        self.history.append(row)
        self._bar.set_postfix(loss=f"{loss:.4f}", batch_acc=f"{batch_accuracy:.3f}")
        self._recent = []

    def validate(self, loss: float, accuracy: float) -> None:
        """The row at an epoch's end (or the run's): the validation split's loss and accuracy."""
        whole = self.step % self.per_epoch == 0
        epoch = self.step // self.per_epoch if whole else self._epoch()
        self.history.append({"step": self.step, "epoch": epoch, "val_loss": loss, "val_accuracy": accuracy})

    def stats(self, test_loss: float, test_accuracy: float, *, compile_seconds: float = 0.0) -> dict:
        """The run's figures for ``summary.json``: steps, epochs, final metrics, timings."""
        last_val = next(r for r in reversed(self.history) if "val_loss" in r)
        return {
            "steps": self.step,
            "epochs": self.step / self.per_epoch,
            "test_accuracy": test_accuracy,
            "test_loss": test_loss,
            "validation_accuracy": last_val["val_accuracy"],
            "validation_loss": last_val["val_loss"],
            "final_train_loss": next(r["loss"] for r in reversed(self.history) if "loss" in r),
            "compile_seconds": compile_seconds,
            "train_seconds": self.train_seconds,
            "steps_per_second": self.step / self.train_seconds if self.train_seconds > 0 else math.inf,
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
