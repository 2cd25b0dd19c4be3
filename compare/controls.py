r"""Negative controls: deliberately wrong pieces that each family of checks must report as FAIL.

A check that cannot fail proves nothing. Each control below swaps one correct piece for a plausible
mistake and runs the *same* check function; the suite expects every one of them to FAIL. The wrong
pieces are built from public API only: a wrong gradient is a plain function over
:func:`scratch.losses.softmax`; a wrong optimizer is a small class with the optimizers' documented
interface, ``apply(grads, params)``; a wrong layer is a plain function given to the check.
"""

from __future__ import annotations

import numpy as np

import scratch.losses as np_losses
from common.data import Datasets
from common.labels import one_hot

from . import checks, layers

__all__ = ["PaperEpsilonAdam", "WrongSignMomentum", "control_rows", "relu_backward_without_mask"]


def _sce_grad_without_mean(logits, y):
    """The classic slip: forgetting that the loss is a batch *mean*, so the gradient lacks ``1/N``."""
    return np_losses.softmax(logits) - y


def relu_backward_without_mask(dout, cache):
    """ReLU's backward that forgets the mask and passes every gradient through."""
    return dout


class PaperEpsilonAdam:
    r"""Adam as Kingma & Ba write it, :math:`lr\,\hat m / (\sqrt{\hat v} + \epsilon)`, not Keras' epsilon hat.

    The same ``apply(grads, params)`` interface as :class:`scratch.optimizers.Adam`, written out whole.
    """

    def __init__(self, learning_rate: float, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7):
        self.lr, self.beta_1, self.beta_2, self.epsilon = learning_rate, beta_1, beta_2, epsilon
        self.t, self.m, self.v = 0, {}, {}

    def apply(self, grads, params):
        self.t += 1
        for k, p in params.items():
            g = grads[k]
            m = self.m[k] = self.beta_1 * self.m.get(k, 0) + (1 - self.beta_1) * g
            v = self.v[k] = self.beta_2 * self.v.get(k, 0) + (1 - self.beta_2) * g * g
            m_hat, v_hat = m / (1 - self.beta_1**self.t), v / (1 - self.beta_2**self.t)
            p -= (self.lr * m_hat / (np.sqrt(v_hat) + self.epsilon)).astype(p.dtype)


class WrongSignMomentum:
    """Momentum that *adds* the gradient to the velocity, ``m = mu m + lr g``: it climbs instead of descends."""

    def __init__(self, learning_rate: float, momentum: float = 0.9):
        self.lr, self.mu, self.m = learning_rate, momentum, {}

    def apply(self, grads, params):
        for k, p in params.items():
            m = self.m[k] = self.mu * self.m.get(k, 0) + self.lr * grads[k]
            p += m.astype(p.dtype)


def control_rows(data: Datasets) -> list[checks.Row]:
    """One control per family, each run through its family's real check (all float64)."""
    logits = np.random.default_rng(2).normal(0, 2, (32, 10))
    y = one_hot(data.train.labels[:32], dtype=np.float64)
    rows = [
        checks.dlogits_row("softmax_cross_entropy", "float64", logits, y, scratch_grad=_sce_grad_without_mean),
        checks.optimizer_row("adam", "float64", scratch_optimizer=PaperEpsilonAdam(checks.OPTIMIZER_RATES["adam"])),
        checks.optimizer_row(
            "momentum", "float64", scratch_optimizer=WrongSignMomentum(checks.OPTIMIZER_RATES["momentum"], 0.9)
        ),
        layers.activation_row("relu", "float64", scratch_backward=relu_backward_without_mask),
    ]
    run = checks.lockstep(data, "linear", "float64", swap=(0, 1))
    rows += checks.lockstep_rows(run, data)[:1]  # the per-step losses
    names = [
        "CONTROL softmax_cross_entropy gradient without 1/N",
        "CONTROL Adam with the paper's epsilon",
        "CONTROL momentum with the wrong sign",
        "CONTROL relu_backward without its mask",
        "CONTROL lockstep with batches 0 and 1 swapped",
    ]
    return [checks.Row(**{**r.to_dict(), "check": f"{name}: {r.check}"}) for name, r in zip(names, rows, strict=True)]
