r"""The ``curvature`` family: the hand-written Hessian-vector product against TensorFlow's and against differences.

:mod:`scratch.curvature` writes the R-operator out, kernel by kernel; :mod:`tfimpl.curvature` gets each
kernel, and the whole :math:`Hv`, from ``tf.autodiff.ForwardAccumulator`` over ``tf.GradientTape``. The rows:

* each R-kernel on its own against TensorFlow's (dense R-forward and R-backward, the R-backward of ReLU,
  sigmoid and tanh, the R-gradient of softmax cross-entropy and of the clipped per-class loss, the latter
  with probabilities outside the clip), in float64 and float32;
* the whole ``hvp`` of both models (the MLP with each activation) and both losses against TensorFlow's,
  in float64 and float32;
* the whole ``hvp`` against central differences of the hand-written gradient along the same unit
  direction, :math:`(g(\theta + hv) - g(\theta - hv))/2h`, in float64;
* negative controls, in both dtypes: ReLU's R-backward with a second-derivative term where ReLU has
  none, and the dense R-backward without its :math:`d\text{out}\,V^\top` term (:mod:`scratch.bugs`). Each
  must FAIL.

This family's tolerances
------------------------
Against TensorFlow, those of every value check (:data:`compare.checks.TOLERANCES`): float64 **1e-10**;
float32 **1e-5**. An HVP is four passes of the same 784-term products (forward, R-forward, backward,
R-backward), each with a typical relative error of :math:`\sqrt{784}\,u = 1.7\times10^{-6}` in float32, so
about :math:`4 \times 1.7\times10^{-6} = 7\times10^{-6}` if they all added up; measured: at most 3e-7.
Against central differences: **1e-7**, the gradient check's bound (:mod:`scratch.gradcheck`). The
differences of a gradient along a unit direction are best near :math:`h = 10^{-4}` (measured 1e-11 to
5e-11 there; 1e-10 to 3e-10 at 1e-5, where rounding takes over, the gradient being small beside the loss).
See ``docs/math.md#hessian-vector-products``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

import scratch.curvature as np_curvature
import scratch.layers as np_layers
import scratch.models as np_models
import tfimpl.curvature as tf_curvature
import tfimpl.layers as tf_layers
from common.data import Datasets
from common.rows import Row
from scratch import bugs
from tfimpl.bridge import to_variables

from .checks import DTYPES, TOLERANCES, batch, concat, row

__all__ = ["CASES", "FAMILY", "FD_STEP", "curvature_rows", "hvp_rows", "kernel_rows"]

FAMILY = "curvature"
FD_STEP = 1e-4  # along a unit direction: where the gradient's differences are best (the module docstring)
#: (model, activation, loss) of every whole-HVP row.
CASES = [("linear", "relu", loss) for loss in ("softmax_cross_entropy", "clipped_binary_cross_entropy")] + [
    ("mlp", act, loss)
    for act in ("relu", "sigmoid", "tanh")
    for loss in ("softmax_cross_entropy", "clipped_binary_cross_entropy")
]


def _draw(shape, dtype, seed, scale=1.0):
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype(dtype)


def dense_rows(dtype: str, *, scratch_rbackward=None) -> list[Row]:
    """``dense_rforward`` and ``dense_rbackward`` (or ``scratch_rbackward``) against the JVP of TF's dense layer."""
    x, W, b, dout = (
        _draw((8, 30), dtype, 1),
        _draw((30, 20), dtype, 2),
        _draw((20,), dtype, 3),
        _draw((8, 20), dtype, 4),
    )
    rx, V, c, rdout = (
        _draw((8, 30), dtype, 5),
        _draw((30, 20), dtype, 6),
        _draw((20,), dtype, 7),
        _draw((8, 20), dtype, 8),
    )
    tol = TOLERANCES[("value", dtype)]
    ours_out, rcache_np = np_curvature.dense_rforward(np_layers.dense_forward(x, W, b)[1], rx, V, c)
    theirs_out, rcache_tf = tf_curvature.dense_rforward(tf_layers.dense_forward(x, W, b)[1], rx, V, c)
    backward = scratch_rbackward or np_curvature.dense_rbackward
    ours = backward(dout, rdout, np_layers.dense_forward(x, W, b)[1], rcache_np)
    theirs = tf_curvature.dense_rbackward(dout, rdout, tf_layers.dense_forward(x, W, b)[1], rcache_tf)
    return [
        row("dense_rforward", dtype, ours_out, theirs_out, tol, family=FAMILY),
        row(
            "dense_rbackward (rdx, rdW, rdb)",
            dtype,
            np.concatenate([np.ravel(a) for a in ours]),
            np.concatenate([np.ravel(a) for a in theirs]),
            tol,
            family=FAMILY,
        ),
    ]


def activation_row(name: str, dtype: str, *, scratch_rbackward=None) -> Row:
    """One activation's R-backward (or ``scratch_rbackward``) against the JVP of the tape's backward."""
    a = _draw((16, 40), dtype, 9, scale=2.0)
    a = np.where(np.abs(a) < 0.05, np.copysign(0.05, a), a).astype(dtype)  # ReLU's kink is never straddled
    dout, rdout, ra = _draw((16, 40), dtype, 10), _draw((16, 40), dtype, 11), _draw((16, 40), dtype, 12)
    _, cache_np = np_layers.activation_forward(name, a)
    _, cache_tf = tf_layers.activation_forward(name, a)
    ours = (scratch_rbackward or np_curvature.R_ACTIVATIONS[name])(dout, rdout, cache_np, ra)
    theirs = tf_curvature.R_ACTIVATIONS[name](dout, rdout, cache_tf, ra)
    return row(f"{name}_rbackward", dtype, ours, theirs, TOLERANCES[("value", dtype)], family=FAMILY)


def loss_rows(dtype: str) -> list[Row]:
    """Both losses' R-gradients; the clipped one with half its rows 30 logits apart, so the clip is active."""
    z, rz = _draw((16, 10), dtype, 13, scale=2.0), _draw((16, 10), dtype, 14)
    z[np.arange(8), (3 * np.arange(8)) % 10] += 30  # p = 1 and p = e^-30: outside [1e-10, 0.9999999]
    y = np.eye(10, dtype=dtype)[np.arange(16) % 10]
    tol = TOLERANCES[("value", dtype)]
    rows = []
    for name in ("softmax_cross_entropy", "clipped_binary_cross_entropy"):
        ours = np_curvature.R_LOSSES[name](z, y, rz)
        theirs = tf_curvature.R_LOSSES[name](z, y, rz)
        rows.append(row(f"R_LOSSES[{name!r}]", dtype, ours, theirs, tol, family=FAMILY))
    return rows


def kernel_rows(dtypes=DTYPES) -> list[Row]:
    """Every R-kernel of :mod:`scratch.curvature` against TensorFlow's forward-over-backward, both dtypes."""
    rows = []
    for dtype in dtypes:
        rows += dense_rows(dtype)
        rows += [activation_row(name, dtype) for name in np_curvature.R_ACTIVATIONS]
        rows += loss_rows(dtype)
    return rows


def _case(model: str, dtype: str, seed: int = 0):
    """Parameters (32 hidden units, biases not zero) and a unit direction for one model."""
    hidden = (32,) if model == "mlp" else None
    params = np_models.init_params(model, hidden=hidden, init="normal", std=0.1, seed=seed, dtype=dtype)
    rng = np.random.default_rng(seed + 1)
    params = {k: (p + rng.normal(0, 0.02, p.shape)).astype(dtype) for k, p in params.items()}
    v = {k: rng.standard_normal(p.shape) for k, p in params.items()}
    norm = np.sqrt(sum(float(np.vdot(a, a)) for a in v.values()))
    return params, {k: (a / norm).astype(dtype) for k, a in v.items()}


def _differences(params, x, labels, v, kw) -> np.ndarray:
    """:math:`(g(\\theta + hv) - g(\\theta - hv)) / 2h` of the hand-written gradient, flattened."""
    sides = []
    for sign in (1, -1):
        moved = {k: p + sign * FD_STEP * v[k] for k, p in params.items()}
        sides.append(concat(np_models.loss_and_grads(moved, x, labels, **kw)[1]))
    return (sides[0] - sides[1]) / (2 * FD_STEP)


def hvp_rows(data: Datasets, dtypes=DTYPES) -> list[Row]:
    """The whole HVP for every case: by hand vs TensorFlow (both dtypes), by hand vs differences (float64)."""
    rows = []
    for dtype in dtypes:
        x, labels, _ = batch(data, dtype, n=16)
        for model, act, loss in CASES:
            params, v = _case(model, dtype)
            kw = {"loss": loss, "l2": 1e-3, "activation": act}
            ours = concat(np_curvature.hvp(params, x, labels, v, **kw))
            theirs = concat(tf_curvature.hvp(to_variables(params), x, labels, v, **kw))
            name = f"{model} {act} {loss}: hvp"
            rows.append(row(f"{name} vs TensorFlow", dtype, ours, theirs, TOLERANCES[("value", dtype)], family=FAMILY))
            if dtype == "float64":
                fd, tol = _differences(params, x, labels, v, kw), TOLERANCES[("finite differences", "float64")]
                rows.append(row(f"{name} vs central differences of the gradient", dtype, ours, fd, tol, family=FAMILY))
    return rows


def control_rows(dtypes=DTYPES) -> list[Row]:
    """The two wrong R-kernels of :mod:`scratch.bugs`, each through its kernel's check: each must FAIL."""
    rows = []
    for dtype in dtypes:
        relu = activation_row("relu", dtype, scratch_rbackward=bugs.relu_rbackward_with_curvature)
        dense = dense_rows(dtype, scratch_rbackward=bugs.dense_rbackward_without_weight_term)[1]
        rows.append(replace(relu, check="negative control: relu_rbackward with a second-derivative term"))
        rows.append(replace(dense, check="negative control: dense_rbackward without the dout V^T term"))
    return [replace(r, expected_to_fail=True) for r in rows]


def curvature_rows(data: Datasets) -> list[Row]:
    """The family: the R-kernels, the whole HVP, then the negative controls."""
    return kernel_rows() + hvp_rows(data) + control_rows()
