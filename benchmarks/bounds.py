r"""The hardware's limit for a step: the same matrix products, timed alone.

A training step of a ``784-H-10`` network at batch ``B`` is, arithmetically, a handful of matrix
products (:func:`benchmarks.workloads.product_shapes`): ``x W1`` forward, ``x^T dh`` for the gradient of
``W1``, and the small ones of the last layer. Everything else (bias adds, ReLU, softmax, the update) is
memory traffic and Python. Timing those products alone, with the same library on the same device, gives
the fastest a step could possibly be; an implementation's *efficiency* is that time over its own.

NumPy's products go through its BLAS (OpenBLAS in the PyPI wheels); TensorFlow's through its own kernels
(oneDNN / Eigen on the CPU, cuBLAS on a GPU), so the two libraries have different bounds on the same CPU.
"""

from __future__ import annotations

import numpy as np

from .timing import time_rounds
from .workloads import flops, product_shapes

__all__ = ["numpy_products", "tensorflow_products"]


def _operands(model: str, batch_size: int, kind: str, rng: np.random.Generator):
    out = []
    for a_shape, b_shape, form in product_shapes(model, batch_size, kind):
        a = rng.standard_normal(a_shape, dtype=np.float32)
        b = rng.standard_normal(b_shape, dtype=np.float32)
        out.append((a, b, form))
    return out


def _median_time(fn, min_seconds: float) -> float:
    """Median seconds per call of ``fn()`` after one warm-up call."""
    fn()
    return float(np.median(time_rounds(fn, seconds=min_seconds)[0]))


def numpy_products(model: str, batch_size: int, kind: str, *, min_seconds: float = 0.2, seed: int = 0) -> float:
    """Seconds for one step's products with ``np.matmul`` into preallocated outputs."""
    ops = []
    for a, b, form in _operands(model, batch_size, kind, np.random.default_rng(seed)):
        a_ = a.T if form == "a.T@b" else a
        b_ = b.T if form == "a@b.T" else b
        ops.append((a_, b_, np.empty((a_.shape[0], b_.shape[1]), np.float32)))

    def run():
        for a, b, out in ops:
            # as scratch.layers.dense_backward: np.dot for the batch-of-one outer product
            (np.dot if a.shape[1] == 1 else np.matmul)(a, b, out=out)

    return _median_time(run, min_seconds)


def tensorflow_products(
    model: str, batch_size: int, kind: str, *, device: str = "cpu", min_seconds: float = 0.2, seed: int = 0
) -> float:
    """Seconds for one step's products with ``tf.matmul``, several steps' worth per graph call.

    The products run in a ``tf.range`` loop inside one ``tf.function`` so that the ~50 us cost of a call
    from Python is not counted (it is the implementations' overhead, not the hardware's). On a GPU the
    loop is compiled by XLA, so it runs on the device without handing its condition back to the host at
    every iteration (a plain ``tf.while_loop`` there waits on the host each time). Each iteration
    feeds a scalar from the previous one into its inputs, so no optimiser can hoist the products out of
    the loop as invariants; that extra add is one pass over the smaller operand, small next to the products.
    """
    from tfimpl.backend import tf

    dev = "/GPU:0" if device == "gpu" else "/CPU:0"
    ops = _operands(model, batch_size, kind, np.random.default_rng(seed))
    # about 10 ms of products per call at ~100 GFLOP/s, so the call's own cost is amortised
    repeats = int(np.clip(round(0.01 * 1e11 / flops(model, batch_size, kind)), 1, 50))
    with tf.device(dev):
        consts = [(tf.constant(a), tf.constant(b), form) for a, b, form in ops]

        @tf.function(jit_compile=device == "gpu")
        def loop():
            carry = tf.zeros((), tf.float32)
            for _ in tf.range(repeats):
                step = tf.zeros((), tf.float32)
                for a, b, form in consts:
                    if a.shape.num_elements() <= b.shape.num_elements():
                        a = a + carry
                    else:
                        b = b + carry
                    p = tf.matmul(a, b, transpose_a=form == "a.T@b", transpose_b=form == "a@b.T")
                    step += p[0, 0]
                carry = step * 0.0
            return carry

    def run():
        with tf.device(dev):
            loop().numpy()

    return _median_time(run, min_seconds) / repeats
