r"""Negative controls: deliberately wrong pieces that each family of checks must report as FAIL.

A check that cannot fail proves nothing. Each control below swaps one correct piece for a plausible
mistake and runs the *same* check function; the suite expects every one of them to FAIL.
"""

from __future__ import annotations

import numpy as np

import scratch.losses as np_losses
from scratch.data import Datasets, one_hot
from scratch.optimizers import SGD, Adam, _keras_cast

from . import checks

__all__ = ["PaperEpsilonAdam", "WrongSignMomentum", "control_rows"]


def _sce_grad_without_mean(logits, y):
    """The classic slip: forgetting that the loss is a batch *mean*, so the gradient lacks ``1/N``."""
    return np_losses.softmax(logits) - y


class PaperEpsilonAdam(Adam):
    """Adam with epsilon where Kingma & Ba put it, ``lr * m_hat / (sqrt(v_hat) + eps)``, not Keras' epsilon hat."""

    def _update(self, key, g, p):
        f = p.dtype.type
        m, v, beta_1_power, beta_2_power = self._moments(key, g, p)
        m_hat, v_hat = m / (f(1) - beta_1_power), v / (f(1) - beta_2_power)
        p -= self._lr(p.dtype) * m_hat / (np.sqrt(v_hat) + f(self.epsilon))


class WrongSignMomentum(SGD):
    """Momentum that *adds* the gradient to the velocity: ``m = mu m + lr g`` (climbs instead of descends)."""

    def _update(self, key, g, p):
        if key not in self.momentums:
            self.momentums[key] = np.zeros_like(p)
        m = self.momentums[key]
        m[...] = m * _keras_cast(self.momentum, p.dtype) + g * self._lr(p.dtype)
        p += m


def control_rows(data: Datasets) -> list[checks.Row]:
    """The four controls of the issue, each run through its family's real check (all float64)."""
    logits = np.random.default_rng(2).normal(0, 2, (32, 10))
    y = one_hot(data.train.labels[:32], dtype=np.float64)
    rows = [
        checks.dlogits_row("softmax_cross_entropy", "float64", logits, y, scratch_grad=_sce_grad_without_mean),
        checks.optimizer_row("adam", "float64", scratch_optimizer=PaperEpsilonAdam(checks.OPTIMIZER_RATES["adam"])),
        checks.optimizer_row(
            "momentum", "float64", scratch_optimizer=WrongSignMomentum(checks.OPTIMIZER_RATES["momentum"], 0.9)
        ),
    ]
    run = checks.lockstep(data, "linear", "float64", swap=(0, 1))
    rows += checks.lockstep_rows(run, data)[:1]  # the per-step losses
    names = [
        "CONTROL softmax_cross_entropy gradient without 1/N",
        "CONTROL Adam with the paper's epsilon",
        "CONTROL momentum with the wrong sign",
        "CONTROL lockstep with batches 0 and 1 swapped",
    ]
    return [checks.Row(**{**r.to_dict(), "check": f"{name}: {r.check}"}) for name, r in zip(names, rows, strict=True)]
