r"""The ``precision`` family: what TF32 does to float32 matrix products, measured on a GPU, emulated on a CPU.

On NVIDIA GPUs since Ampere, TensorFlow runs float32 matrix products in TF32 unless told otherwise: both
inputs are rounded to a 10-bit mantissa, the products accumulated in float32. The rows compare the logits
and the gradients of one MNIST batch, computed

* in NumPy float64 (the reference) and NumPy float32,
* by TensorFlow in float32 with TF32 off, and
* with TF32 on: by TensorFlow on a GPU (``measured``), or, where there is none, by the same public
  :mod:`scratch.layers` kernels with every matrix product's two inputs rounded to TF32 (``emulated``, by
  :func:`scratch.rounding.tf32_round`, the one home of that rounding and of the unit roundoffs).

Tolerances from the unit roundoff
---------------------------------
A format with a ``p``-bit significand rounds with relative error at most :math:`u = 2^{-p}`: float64
:math:`2^{-53} \approx 1.1\times10^{-16}`, float32 :math:`2^{-24} \approx 6.0\times10^{-8}`, TF32 (10
stored bits + 1) :math:`2^{-11} \approx 4.9\times10^{-4}`. Each row's error is
:func:`scratch.gradcheck.errors`' relative one, :math:`\max|a - n| / (\max|a| + \max|n|)`.

*float32* (and float64): the inputs are exact, only the additions round. A dot product of :math:`K` terms
whose rounding errors have random signs is off by about :math:`\sqrt{K}\,u` relative to the sum of the
magnitudes :math:`\sum_i|x_i w_i|` (Higham and Mary's probabilistic bound, 2019, with its constant taken as
1), so the tolerance is :math:`\sqrt{K}\,u` with :math:`K = 784`, the longest sum in the models:
:math:`1.7\times10^{-6}`.

*TF32*: the rounding of the inputs dominates. Each product :math:`x_i w_i` is made from two inputs each
rounded to 10 stored bits, so it is off by at most :math:`2u_{TF32} + u_{TF32}^2 \approx 9.8\times10^{-4}` of
:math:`|x_i w_i|`, and the sum by at most :math:`2u_{TF32}\sum_i|x_i w_i|`, whatever :math:`K` is (the
float32 additions add about :math:`\sqrt{K}\,u_{32} \approx 2\times10^{-6}` of that sum). That bound is
relative to :math:`\sum_i|x_i w_i|`, not to the result: where the terms cancel, the result is smaller and its
relative error larger. The tolerance leaves room for the result to be 14 times smaller than the sum of
magnitudes: :math:`14 \times 2u_{TF32} = 1.4\times10^{-2}`. That number equals :math:`\sqrt{784}\,u_{TF32}`,
which is how :func:`tolerance` computes it, but :math:`\sqrt{K}` plays no part in the TF32 derivation.
The errors really measured are far smaller than the worst case, because each input's rounding has its own
random sign and they mostly cancel: 1.05e-4 (linear logits) and 1.79e-4 (MLP logits) on an H100, that is
:math:`0.2u_{TF32}` to :math:`0.4u_{TF32}`, 80 to 130 times below the tolerance.

The negative control judges a TF32 result by the float32 tolerance: TF32's errors, about
:math:`10^{-4}` (a fifth to two fifths of :math:`u_{TF32} = 4.9\times10^{-4}`), are some 60 times
float32's :math:`1.7\times10^{-6}`, so it must FAIL.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

import scratch.layers as np_layers
import scratch.losses as np_losses
import scratch.models as np_models
import tfimpl.models as tf_models
from common.data import Datasets
from common.labels import one_hot
from common.rows import Row
from scratch.rounding import UNIT_ROUNDOFF, tf32_round
from tfimpl.bridge import to_variables
from tfimpl.device import tensor_float_32

from .checks import concat, row, start_params

__all__ = ["FAMILY", "K", "precision_rows", "tolerance"]

K = 784  # the longest sum: one logit of the first layer adds 784 products
FAMILY = "precision"


def tolerance(fmt: str) -> float:
    r""":math:`\sqrt{K}\,u` for the format (see the module docstring).

    float32 and float64: :math:`\sqrt{K}\,u`, the probabilistic bound of a ``K``-term sum whose additions round.
    TF32: the same number, :math:`28\,u_{TF32} = 1.4\times10^{-2}`, derived another way: each product's two
    inputs rounded to TF32 put it within :math:`2u_{TF32}` of its exact value, so a sum is within
    :math:`2u_{TF32}\sum_i|x_i w_i|`, and the factor 14 leaves room for a result 14 times smaller than that
    sum of magnitudes. :math:`14 \times 2 = 28 = \sqrt{784}` exactly, so the one expression serves both.
    """
    return math.sqrt(K) * UNIT_ROUNDOFF[fmt]


def _emulated_tf32(params: dict, x: np.ndarray, y: np.ndarray):
    """Logits and gradients of the MLP or linear model with every matrix product's inputs rounded to TF32.

    The public kernels of :mod:`scratch.layers` and :mod:`scratch.losses`, called as TensorFlow calls
    cuBLAS in TF32: each ``dense_forward`` and ``dense_backward`` gets TF32-rounded operands. On the
    batch and parameters of this family it reproduces an H100's TF32 errors to the digits printed
    (logits 1.05e-4 and 1.79e-4 relative, gradients 1.6e-4; ``../shared/gpu/evidence-h100-b5f3dc9``).
    """
    r = tf32_round
    n_layers = len(params) // 2
    h, caches = x, []
    for l in range(1, n_layers + 1):
        W = params[f"W{l}"]
        z, _ = np_layers.dense_forward(r(h), r(W), params[f"b{l}"])
        caches.append((h, W))
        h = np_layers.relu_forward(z)[0] if l < n_layers else z
        if l < n_layers:
            caches[-1] = (*caches[-1], h)
    logits = h
    dh, grads = np_losses.softmax_cross_entropy_grad(logits, y), {}
    for l in range(n_layers, 0, -1):
        inp, W, *act = caches[l - 1]
        if act:
            dh = np_layers.relu_backward(dh, act[0])
        dx, grads[f"W{l}"], _ = np_layers.dense_backward(r(dh), (r(inp), r(W)), need_dx=l > 1)
        grads[f"b{l}"] = dh.sum(axis=0)  # the bias gradient is a sum, not a matrix product: no TF32
        dh = dx
    return logits, {k: grads[k] for k in params}


def _tensorflow(params, x, y, tf32: bool):
    with tensor_float_32(tf32):
        variables = to_variables(params)
        logits, _ = tf_models.forward(variables, x)
        _, grads = tf_models.loss_and_grads(variables, x, y)
    return np.asarray(logits), {k: np.asarray(g) for k, g in grads.items()}


def _model_rows(model: str, x: np.ndarray, y: np.ndarray, gpu: bool) -> tuple[list[Row], np.ndarray, np.ndarray]:
    """One model's rows; also its TF32 logits and the float64 reference logits, for the control."""
    params = start_params(model, "float32")  # the parameters of the forward and gradients families
    p64 = {k: v.astype(np.float64) for k, v in params.items()}
    ref64 = (
        np_models.forward(p64, x.astype(np.float64))[0],
        np_models.loss_and_grads(p64, x.astype(np.float64), y.astype(np.float64))[1],
    )
    ref32 = (np_models.forward(params, x)[0], np_models.loss_and_grads(params, x, y)[1])
    tf32 = _tensorflow(params, x, y, True) if gpu else _emulated_tf32(params, x, y)
    off = _tensorflow(params, x, y, False)
    how = "measured on GPU:0" if gpu else "emulated in NumPy (no GPU)"
    cases = [
        ("NumPy float32", ref32, "float32", "measured on the CPU", (ref64, "NumPy float64")),
        ("TensorFlow float32, TF32 off", off, "float32", "measured", (ref64, "NumPy float64")),
        ("TF32", tf32, "tf32", how, (ref64, "NumPy float64")),
        ("TF32", tf32, "tf32", how, (ref32, "NumPy float32")),
    ]
    rows = []
    for what, (logits, grads), fmt, note, (ref, ref_name) in cases:
        tol = tolerance(fmt)
        rows.append(row(f"{model} logits: {what} vs {ref_name}", fmt, logits, ref[0], tol, note, family=FAMILY))
        rows.append(
            row(
                f"{model} gradients: {what} vs {ref_name}", fmt, concat(grads), concat(ref[1]), tol, note, family=FAMILY
            )
        )
    return rows, tf32[0], ref64[0]


def precision_rows(data: Datasets, *, gpu: bool | None = None) -> list[Row]:
    """Logits and gradients in float32, TF32 off and TF32 on, against NumPy float64 and float32.

    ``gpu`` (default: whether TensorFlow sees one) decides whether the TF32 rows are measured there or
    emulated in NumPy. Ends with the negative control: the MLP's TF32 logits judged by float32's tolerance.
    """
    import tensorflow as tf

    gpu = bool(tf.config.list_physical_devices("GPU")) if gpu is None else gpu
    x, y = data.train.images[:32].astype(np.float32), one_hot(data.train.labels[:32])
    linear, _, _ = _model_rows("linear", x, y, gpu)
    mlp, tf32_logits, ref64_logits = _model_rows("mlp", x, y, gpu)
    control = row(
        "negative control: mlp TF32 logits vs NumPy float64, judged by float32's tolerance",
        "tf32",
        tf32_logits,
        ref64_logits,
        tolerance("float32"),
        "measured on GPU:0" if gpu else "emulated in NumPy (no GPU)",
        family=FAMILY,
    )
    return [*linear, *mlp, replace(control, expected_to_fail=True)]
