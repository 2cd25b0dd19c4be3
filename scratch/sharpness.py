r"""Curvature predicts divergence: :math:`\lambda_{max}` at the start and along training, beside where SGD breaks.

On a quadratic with Hessian :math:`H`, a gradient step multiplies the error along an eigenvector by
:math:`1 - \eta\lambda`; along the top one that factor has size above 1 once :math:`\eta > 2/\lambda_{max}`,
and the iterates grow without bound. So :math:`\lambda_{max}` at the start (:func:`scratch.curvature.top_eigenvalue`,
power iteration on Hessian-vector products) predicts the largest stable learning rate. ``python -m scratch
curvature`` sets that prediction beside what the first tutorial's learning-rate experiment really does,
for the linear model and the MLP (softmax cross-entropy, SGD, batches of 100, 1000 steps, the tutorials'
starts): each rate of a grid trained by :func:`scratch.train.train` with its divergence watch, and
:math:`\lambda_{max}` measured every 100 steps along two runs.

How close it comes, and why not closer, is in ``docs/math.md#curvature-and-divergence``: the loss is not
a quadratic, and :math:`\lambda_{max}` moves as training goes (cross-entropy flattens as the softmax
saturates; the "edge of stability" literature finds training drives :math:`\lambda_{max}` up to about
:math:`2/\eta` and holds it there).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from common import rules
from common.checkplots import plot_curvature
from common.config import RunConfig
from common.data import Datasets, batch_indices
from common.labels import one_hot
from common.runs import DIVERGENCE_WINDOW, TrainingDiverged

from . import curvature, models
from .optimizers import make_optimizer
from .train import train, train_step

__all__ = ["ALONG", "CONFIGS", "RATES", "RateRun", "format_curvature", "plot", "rate_sweep", "sharpness_along"]

#: The two models as the tutorials start them; the learning rate is what the experiment varies.
CONFIGS = {"linear": RunConfig(model="linear"), "mlp": RunConfig(model="mlp")}
#: The rates tried: factors of 2 for the linear model, of sqrt(2) for the MLP, whose edge is sharper.
RATES = {"linear": tuple(2.0**k for k in range(-3, 8)), "mlp": tuple(2.0 ** (k / 2) for k in range(-4, 9))}
#: The rates whose lambda_max is followed during training: the tutorial's 0.5, and one past the prediction.
ALONG = {"linear": (0.5, 4.0), "mlp": (0.5, 1.0)}


@dataclass(frozen=True)
class RateRun:
    """One rate of the sweep: the test accuracy, or the step where the divergence watch stopped it."""

    rate: float
    accuracy: float | None  # None when stopped
    rise: float | None  # the largest 50-step mean loss over the first loss (the watch's statistic)
    stopped_at: int | None  # the step the watch stopped it, or None

    @property
    def rose(self) -> bool:
        """Whether the loss ever averaged above its start over 50 steps: training went uphill."""
        return self.stopped_at is not None or (self.rise is not None and self.rise > 1)


def rate_sweep(config: RunConfig, data: Datasets, rates) -> list[RateRun]:
    """Train ``config`` at each rate with :func:`scratch.train.train` (its divergence watch included)."""
    runs = []
    for rate in rates:
        try:
            result = train(replace(config, learning_rate=float(rate), log_every=1), data, progress=False)
        except TrainingDiverged as exc:
            runs.append(RateRun(float(rate), None, None, exc.step))
            continue
        losses = np.array([row["loss"] for row in result.history if "loss" in row])  # one per step
        window = np.convolve(losses, np.ones(DIVERGENCE_WINDOW) / DIVERGENCE_WINDOW, mode="valid")
        runs.append(RateRun(float(rate), result.summary["test_accuracy"], float(window.max() / losses[0]), None))
    return runs


def sharpness_along(
    config: RunConfig, data: Datasets, *, every: int = 100, examples: int = 1000, iterations: int = 20
) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, lambda_max)``: the top Hessian eigenvalue on the first ``examples`` training images at step
    0 and every ``every`` steps of a run with ``config`` (the batches :func:`scratch.train.train` draws)."""
    dtype = np.dtype(config.dtype)
    params = models.init_params(
        config.model, hidden=config.hidden, init=config.init, std=config.init_std, seed=config.seed, dtype=dtype
    )
    optimizer = make_optimizer(config.optimizer, config.learning_rate, momentum=config.momentum)
    X, Y = data.train.images, one_hot(data.train.labels, dtype=dtype)
    probe = (X[:examples], data.train.labels[:examples])
    kw = {"loss": config.loss, "l2": config.l2, "activation": config.activation}
    steps, values = [], []
    per_epoch = len(X) // config.batch_size
    for step in range(config.steps + 1):
        if step % every == 0:
            steps.append(step)
            values.append(curvature.top_eigenvalue(params, *probe, iterations=iterations, **kw)[0])
        if step < config.steps:
            epoch, i = divmod(step, per_epoch)
            idx = batch_indices(len(X), config.batch_size, config.seed, epoch)[i]
            train_step(params, optimizer, X[idx], Y[idx], **kw)
    return np.array(steps), np.array(values)


def curvature_experiment(data: Datasets, *, examples: int = 1000, iterations: int = 20) -> dict:
    """For each model: lambda_max at the start, the rate sweep, and lambda_max along the :data:`ALONG` runs."""
    rules.check_positive_int("iterations", iterations)
    rules.check_positive_int("examples", examples)
    out = {}
    for name, config in CONFIGS.items():
        lam = curvature.sharpness_at_start(config, data, examples=examples, iterations=iterations)
        along = [
            (
                rate,
                *sharpness_along(replace(config, learning_rate=rate), data, examples=examples, iterations=iterations),
            )
            for rate in ALONG[name]
        ]
        out[name] = {"lambda0": lam, "runs": rate_sweep(config, data, RATES[name]), "along": along}
    return out


def _first(runs: list[RateRun], test) -> str:
    rate = next((r.rate for r in runs if test(r)), None)
    return "none of those tried" if rate is None else f"lr {rate:.3g}"


def format_curvature(result: dict) -> str:
    """The experiment as text: the prediction, each rate's outcome, and lambda_max along the runs."""
    lines = []
    for name, m in result.items():
        lam = m["lambda0"]
        rose, stopped = _first(m["runs"], lambda r: r.rose), _first(m["runs"], lambda r: r.stopped_at is not None)
        lines += [
            f"{name}: lambda_max at the start {lam:.3g}, so SGD is predicted stable below 2 / lambda_max = {2 / lam:.3g}",
            f"  the loss first rose above its start at {rose}; the divergence watch first stopped a run at {stopped}",
        ]
        for r in m["runs"]:
            outcome = f"stopped at step {r.stopped_at}" if r.stopped_at else f"test accuracy {r.accuracy:.1%}"
            rise = "" if r.rise is None else f", largest 50-step mean loss {r.rise:.2f} x the first"
            lines.append(f"  lr {r.rate:8.3g}: {outcome}{rise}")
        for rate, steps, values in m["along"]:
            trail = ", ".join(f"{v:.3g}" for v in values)
            lines.append(f"  lambda_max along lr {rate:g} (2 / lr = {2 / rate:.3g}), steps 0-{steps[-1]}: {trail}")
    return "\n".join(lines)


def plot(result: dict, path) -> Path:
    """Draw the experiment (:func:`common.checkplots.plot_curvature`)."""
    models_ = []
    for name, m in result.items():
        runs = m["runs"]
        models_.append(
            {
                "title": f"{name} ({CONFIGS[name].init} start, softmax cross-entropy)",
                "rates": [r.rate for r in runs],
                "accuracy": [r.accuracy for r in runs],
                "rose": [r.rose for r in runs],
                "predicted": 2 / m["lambda0"],
                "lambda0": m["lambda0"],
                "along": m["along"],
            }
        )
    return plot_curvature(models_, path)
