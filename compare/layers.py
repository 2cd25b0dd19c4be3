r"""The ``layers`` family: every hand-written backward of :mod:`scratch` against the tape's vector-Jacobian
product in :mod:`tfimpl`, one layer at a time, in both dtypes.

For a layer :math:`y = f(x)` and an upstream gradient :math:`g = \partial L / \partial y`, the backward
pass computes :math:`g^\top \partial y / \partial x`, the vector-Jacobian product. :mod:`scratch` writes
it out (``dense_backward``, ``relu_backward``, ...); :mod:`tfimpl`'s twins replay the forward pass under
``tf.GradientTape`` and ask for ``output_gradients=g``. Agreement layer by layer shows a learner each
derivative confirmed on its own, not only the whole model's. Tolerances are those of
:mod:`compare.checks` (``("value", dtype)``): the same formulas in the same precision.

Inputs keep away from kinks (ReLU at 0) where a derivative is not defined. The clip of the MLP
tutorial's loss is checked with logits large enough that some probabilities fall outside
:math:`[10^{-10}, 0.9999999]`, so the mask that blocks the gradient there is exercised.
"""

from __future__ import annotations

import numpy as np

import scratch.layers as np_layers
import scratch.losses as np_losses
import scratch.models as np_models
import tfimpl.layers as tf_layers
import tfimpl.losses as tf_losses
import tfimpl.models as tf_models
from common.rows import Row
from tfimpl.bridge import to_variables

from .checks import DTYPES, TOLERANCES, concat, row

__all__ = ["ACTIVATION_NAMES", "activation_row", "layer_rows"]

ACTIVATION_NAMES = ("relu", "sigmoid", "tanh")
FAMILY = "layers"


def _draw(shape, dtype, seed, scale=1.0):
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype(dtype)


def _away_from_zero(x):
    """Move entries within 0.05 of 0 to +-0.05, so ReLU's kink is never straddled."""
    return np.where(np.abs(x) < 0.05, np.copysign(0.05, x), x).astype(x.dtype)


def dense_rows(dtype: str, *, scratch_backward=None) -> list[Row]:
    """``dense_backward`` (or ``scratch_backward``) at batch 8 and at batch 1 (the outer-product branch): dx, dW, db."""
    rows = []
    for batch in (8, 1):
        x, W, b = _draw((batch, 30), dtype, 1), _draw((30, 20), dtype, 2), _draw((20,), dtype, 3)
        dout = _draw((batch, 20), dtype, 4)
        _, cache_np = np_layers.dense_forward(x, W, b)
        _, cache_tf = tf_layers.dense_forward(x, W, b)
        ours = (scratch_backward or np_layers.dense_backward)(dout, cache_np)
        theirs = tf_layers.dense_backward(dout, cache_tf)
        for name, a, t in zip(("dx", "dW", "db"), ours, theirs, strict=True):
            rows.append(
                row(f"dense_backward {name}, batch {batch}", dtype, a, t, TOLERANCES[("value", dtype)], family=FAMILY)
            )
    return rows


def activation_row(name: str, dtype: str, *, scratch_backward=None) -> Row:
    """One activation's backward: ``scratch_backward`` (default the real one) against the tape."""
    x = _away_from_zero(_draw((16, 40), dtype, 5, scale=2.0))
    dout = _draw((16, 40), dtype, 6)
    _, cache_np = np_layers.activation_forward(name, x)
    _, cache_tf = tf_layers.activation_forward(name, x)
    backward = scratch_backward or np_layers.ACTIVATIONS[name][1]
    ours, theirs = backward(dout, cache_np), tf_layers.activation_backward(name, dout, cache_tf)
    return row(f"{name}_backward", dtype, ours, theirs, TOLERANCES[("value", dtype)], family=FAMILY)


def softmax_rows(dtype: str) -> list[Row]:
    """``softmax_backward`` by hand, TF's written formula, and the tape through ``tf.nn.softmax``."""
    import tensorflow as tf

    z, g = _draw((16, 10), dtype, 7, scale=3.0), _draw((16, 10), dtype, 8)
    p = np_losses.softmax(z)
    z_t = tf.convert_to_tensor(z)
    with tf.GradientTape() as tape:
        tape.watch(z_t)
        probs = tf.nn.softmax(z_t)
    tape_vjp = tape.gradient(probs, z_t, output_gradients=tf.convert_to_tensor(g))
    tol = TOLERANCES[("value", dtype)]
    return [
        row(
            "softmax_backward vs the tape through tf.nn.softmax",
            dtype,
            np_losses.softmax_backward(g, p),
            tape_vjp,
            tol,
            family=FAMILY,
        ),
        row(
            "softmax_backward vs tfimpl's formula",
            dtype,
            np_losses.softmax_backward(g, p),
            tf_losses.softmax_backward(g, probs),
            tol,
            family=FAMILY,
        ),
    ]


def clip_row(dtype: str) -> Row:
    """The clipped loss's gradient where the clip is active (probabilities below 1e-10 and above 0.9999999)."""
    # Rows 0-7: one logit 30 above the rest, so p = 1 (above 0.9999999) and e^-30 (below 1e-10) are
    # clipped; rows 8-15: ordinary logits, inside the clip. Nothing sits near a clip bound, where the
    # gradient jumps and float32 rounding alone would decide which side a probability falls.
    z = _draw((16, 10), dtype, 9)
    z[np.arange(8), (3 * np.arange(8)) % 10] += 30  # the true class for some rows, a wrong one for others
    y = np.eye(10, dtype=dtype)[np.arange(16) % 10]
    p = np_losses.softmax(z.astype(np.float64))
    outside = int(np.sum((p < 1e-10) | (p > 0.9999999)))
    ours = np_losses.clipped_binary_cross_entropy_grad(z, y)
    theirs = tf_losses.clipped_binary_cross_entropy_grad(z, y)
    return row(
        "clip mask of clipped_binary_cross_entropy",
        dtype,
        ours,
        theirs,
        TOLERANCES[("value", dtype)],
        f"{outside} of {p.size} probabilities clipped",
        family=FAMILY,
    )


def model_rows(dtype: str) -> list[Row]:
    """The whole backward pass (``models.backward``, with ``dx``), ``input_grad`` and ``l2_penalty_grad``."""
    params = np_models.init_params("mlp", hidden=(24,), init="normal", std=0.2, seed=1, dtype=dtype)
    variables = to_variables(params)
    x, dlogits = _draw((8, 784), dtype, 10), _draw((8, 10), dtype, 11)
    tol = TOLERANCES[("value", dtype)]
    rows = []
    for activation in ACTIVATION_NAMES:
        _, caches_np = np_models.forward(params, x, activation=activation)
        _, caches_tf = tf_models.forward(variables, x, activation=activation)
        g_np, dx_np = np_models.backward(dlogits, caches_np, activation=activation, need_dx=True)
        g_tf, dx_tf = tf_models.backward(dlogits, caches_tf, activation=activation, need_dx=True)
        rows.append(
            row(
                f"models.backward ({activation}) grads and dx",
                dtype,
                np.concatenate([concat(g_np), dx_np.ravel()]),
                np.concatenate([concat(g_tf), np.asarray(dx_tf).ravel()]),
                tol,
                family=FAMILY,
            )
        )
    x10 = _draw((10, 784), dtype, 12)
    rows.append(
        row(
            "models.input_grad",
            dtype,
            np_models.input_grad(params, x10)[1],
            tf_models.input_grad(variables, x10)[1],
            tol,
            family=FAMILY,
        )
    )
    grads_np, grads_tf = np_losses.l2_penalty_grad(params, 0.3), tf_losses.l2_penalty_grad(variables, 0.3)
    rows.append(row("l2_penalty_grad", dtype, concat(grads_np), concat(grads_tf), tol, family=FAMILY))
    return rows


def layer_rows(dtypes=DTYPES) -> list[Row]:
    """Every layer's backward, the softmax Jacobian, the clip mask and the model's backward pass."""
    rows = []
    for dtype in dtypes:
        rows += dense_rows(dtype)
        rows += [activation_row(name, dtype) for name in ACTIVATION_NAMES]
        rows += softmax_rows(dtype)
        rows.append(clip_row(dtype))
        rows += model_rows(dtype)
    return rows
