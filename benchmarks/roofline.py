r"""A bound that is a bound: the roofline of this machine, measured in the same run as the workloads.

A step cannot finish before its arithmetic is done at the machine's peak rate, nor before its bytes have
moved at the machine's peak bandwidth:

.. math::

    t_{\text{roofline}} = \max\Bigl(\frac{\text{FLOPs}}{\text{peak FLOP/s}},\ \frac{\text{bytes}}{\text{peak bytes/s}}\Bigr)

and an implementation's *efficiency* is :math:`t_{\text{roofline}} / t_{\text{measured}} \le 1`.

* **Peak FLOP/s**: the best of large float32 matrix products (2048 x 2048 on a CPU, 8192 x 8192 on a
  GPU), by NumPy's BLAS and by TensorFlow, whichever is faster.
* **Peak bandwidth**: the best of copies (read and write) of several sizes, from ones that fit in the
  caches to ones that do not. The fastest (a cache-resident copy) is the bound: a small model's step
  runs out of the caches too, and a bound must not be beaten.
* On a GPU both are timed inside one XLA-compiled loop, so no iteration waits for the host.
* **FLOPs** of a step: its matrix products (:func:`benchmarks.workloads.flops`); the elementwise work
  is far smaller. **Bytes**: :func:`step_bytes`, the compulsory traffic, which no implementation can
  avoid: the batch (and its labels) read once, every weight and bias read once, and, for a train step,
  written once. Activations and gradients may live in registers and caches (XLA fuses the gradient
  into the update and never writes it out), so they are not counted: the bound stays a bound.
"""

from __future__ import annotations

import itertools

import numpy as np

from .timing import time_rounds
from .workloads import MODELS, flops

__all__ = ["measure_peaks", "roofline_seconds", "step_bytes"]

FLOAT32 = 4
COPY_SIZES_MIB = (0.25, 2, 16, 64)


def step_bytes(model: str, batch_size: int, kind: str) -> int:
    """Compulsory bytes of a ``forward`` or ``train`` step of ``model`` at ``batch_size`` (float32).

    Read the batch ``(B, 784)``; read every parameter; write the logits ``(B, 10)`` (forward) or read
    the labels ``(B, 10)`` and write every parameter back (train).
    """
    sizes = [784, *MODELS[model], 10]
    parameters = sum(d_in * d_out + d_out for d_in, d_out in itertools.pairwise(sizes))
    words = batch_size * 784 + parameters + batch_size * 10  # the logits out, or the labels in
    if kind == "train":
        words += parameters  # the updated parameters written back
    return FLOAT32 * words


def _best(fn, seconds: float) -> float:
    fn()  # warm up
    return float(np.min(time_rounds(fn, seconds=seconds, min_rounds=3)[0]))


def _numpy_peaks(seconds: float) -> dict:
    n = 2048
    rng = np.random.default_rng(0)
    a, b, out = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32), np.empty((n, n), np.float32)
    gemm = 2 * n**3 / _best(lambda: np.matmul(a, b, out=out), seconds)
    bandwidth = []
    for mib in COPY_SIZES_MIB:
        src = np.ones(int(mib * 2**20) // FLOAT32, np.float32)
        dst = np.empty_like(src)
        bandwidth.append(2 * src.nbytes / _best(lambda s=src, d=dst: np.copyto(d, s), seconds / len(COPY_SIZES_MIB)))
    return {
        "gemm_flops": gemm,
        "bandwidth": max(bandwidth),
        "bandwidth_by_size": dict(zip(COPY_SIZES_MIB, bandwidth, strict=True)),
    }


def _tensorflow_peaks(device: str, seconds: float) -> dict:
    """GEMM and copy rates with TensorFlow, ``repeats`` iterations inside one compiled loop."""
    import tensorflow as tf

    gpu = device == "gpu"
    n, repeats = (8192, 20) if gpu else (2048, 2)
    with tf.device("/GPU:0" if gpu else "/CPU:0"):
        a = tf.random.stateless_uniform((n, n), seed=(0, 1))

        @tf.function(jit_compile=gpu)
        def gemm_loop(a):
            c = tf.zeros((), tf.float32)
            for _ in tf.range(repeats):  # the carried scalar keeps each product from being hoisted
                c = tf.reduce_sum(tf.matmul(a + c, a)[:1, :1]) * 0.0
            return c

        def copies(mib):
            x0 = tf.ones((int(mib * 2**20) // FLOAT32,))

            @tf.function(jit_compile=gpu)
            def copy_loop(x):
                for _ in tf.range(repeats * 10):
                    x = x * 1.0000001  # read and write every element once
                return x[:1]

            return 2 * repeats * 10 * x0.shape[0] * FLOAT32 / _best(lambda: copy_loop(x0).numpy(), seconds / 4)

        gemm = repeats * 2 * n**3 / _best(lambda: gemm_loop(a).numpy(), seconds)
        bandwidth = [copies(mib) for mib in COPY_SIZES_MIB]
    return {
        "gemm_flops": gemm,
        "bandwidth": max(bandwidth),
        "bandwidth_by_size": dict(zip(COPY_SIZES_MIB, bandwidth, strict=True)),
    }


def measure_peaks(devices, *, seconds: float = 0.5, tensorflow: bool = True) -> dict:
    """Per device (``"cpu"``, ``"gpu"``): peak FLOP/s and bytes/s, and what set them."""
    out = {}
    for device in devices:
        found = {"numpy": _numpy_peaks(seconds)} if device == "cpu" else {}
        if tensorflow:
            found["tensorflow"] = _tensorflow_peaks(device, seconds)
        out[device] = {
            "gemm_flops": max(f["gemm_flops"] for f in found.values()),
            "bandwidth": max(f["bandwidth"] for f in found.values()),
            "by_library": found,
        }
    return out


def roofline_seconds(peaks: dict, model: str, batch_size: int, kind: str) -> float:
    """``max(FLOPs / peak FLOP/s, bytes / peak bandwidth)`` for one step on one device."""
    return max(
        flops(model, batch_size, kind) / peaks["gemm_flops"], step_bytes(model, batch_size, kind) / peaks["bandwidth"]
    )
