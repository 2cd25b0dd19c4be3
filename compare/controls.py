r"""Negative controls: deliberately wrong pieces that each family of checks must report as FAIL.

A check that cannot fail proves nothing. Each control below swaps one correct piece for a plausible
mistake from :mod:`scratch.bugs` (where every deliberately wrong piece is defined, once) and runs the
*same* check function as its family; each row is marked ``expected_to_fail``, and ``python -m compare``
exits non-zero if one of them passes. The pieces have the public interfaces of the pieces they
replace: a loss gradient ``(logits, y) -> dlogits``, an optimizer with ``apply(grads, params)``, an
activation backward ``(dout, cache) -> dx``, a convolution's backward ``(dout, cache) -> (dx, dW, db)``.
The three convolution controls (a kernel not flipped in ``dx``, col2im overwriting instead of adding,
pooling's gradient sent to every position) run through the ``layers`` family's check of :mod:`compare.conv`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

import scratch.losses as np_losses
from common.data import Datasets
from common.labels import one_hot
from common.rows import Row
from scratch import bugs

from . import checks, conv, layers, lockstep

__all__ = ["FAMILY", "control_rows"]

FAMILY = "controls"


def control_rows(data: Datasets) -> list[Row]:
    """One control per family, each run through its family's real check (all float64)."""
    logits = np.random.default_rng(2).normal(0, 2, (32, 10))
    y = one_hot(data.train.labels[:32], dtype=np.float64)
    adam = bugs.PaperEpsilonAdam(checks.OPTIMIZER_RATES["adam"])
    momentum = bugs.WrongSignMomentum(checks.OPTIMIZER_RATES["momentum"], 0.9)
    swapped = lockstep.lockstep(data, "linear", "float64", steps=20, swap=(0, 1))  # 20 steps show it
    wrong_grad = bugs.without_mean(np_losses.softmax_cross_entropy_grad)
    controls = {
        "gradient without 1/N": checks.dlogits_row("softmax_cross_entropy", "float64", logits, y, wrong_grad),
        "Adam with the paper's epsilon": checks.optimizer_row("adam", "float64", scratch_optimizer=adam),
        "momentum with the wrong sign": checks.optimizer_row("momentum", "float64", scratch_optimizer=momentum),
        "relu_backward without its mask": layers.activation_row(
            "relu", "float64", scratch_backward=bugs.relu_backward_without_mask
        ),
        "lockstep with batches 0 and 1 swapped": lockstep.lockstep_rows(swapped, data)[0],  # the per-step losses
        "conv dx with the kernel not flipped": _dx_row(bugs.conv2d_backward_unflipped),
        "col2im overwriting instead of adding": _dx_row(bugs.conv2d_backward_overwriting),
        "max-pool gradient to every position": conv.pool_row(
            "float64", scratch_backward=bugs.max_pool_backward_to_every_position
        ),
    }
    return [
        replace(r, check=f"{name}: {r.check}", family=FAMILY, expected_to_fail=True) for name, r in controls.items()
    ]


def _dx_row(backward) -> Row:
    """A wrong convolution backward through the layers family's check, stride 1 'same' (overlapping windows): its dx row."""
    return conv.conv_rows("float64", scratch_backward=backward, cases=conv.CONV_CASES[:1])[0]
