r"""The CNN's convolutions timed piece by piece, NumPy against TensorFlow on the CPU, and NumPy's peak memory.

``python -m benchmarks.convbench [--batch 64] [--repeat 20]`` prints, in one run and alternating the
implementations so that a drifting machine shifts both alike:

* both convolutions' forward and backward at the given batch, by hand (:mod:`scratch.conv`: im2col, one
  product, col2im) and as one ``tf.function`` (``tf.nn.conv2d`` and the tape's ``Conv2DBackprop*``), and
  the whole ``loss_and_grads`` of each;
* the pieces of NumPy's second convolution (im2col, the three products, col2im), which say what limits it;
* the peak memory NumPy allocates for one train step (``tracemalloc``, which NumPy reports its buffers to)
  at batch 64 and 1,000.

The FLOPs are :func:`benchmarks.workloads.conv_flops`'s.
"""

from __future__ import annotations

import argparse
import tracemalloc

import numpy as np

from common.data import load_mnist
from scratch import conv as np_conv
from scratch import models as np_models
from scratch import train as np_train
from scratch.optimizers import make_optimizer

from .timing import time_rounds
from .workloads import conv_flops

__all__ = ["conv_step_numpy", "conv_times", "main", "median_ms", "peak_step_memory"]


def median_ms(fn, repeat: int) -> float:
    """The median of ``repeat`` calls, each timed alone (:func:`benchmarks.timing.time_rounds`, one call a round)."""
    times, _ = time_rounds(fn, seconds=0.0, min_rounds=repeat, round_seconds=0.0)
    return 1e3 * float(np.median(times))


def conv_step_numpy(params, x):
    """Both convolutions forward and backward by hand, with ``dout = 1`` (what a train step does to them)."""
    h1, c1 = np_conv.conv2d_forward(x, params["W1"], params["b1"])  # (B, 28, 28, 16)
    p1 = h1[:, ::2, ::2, :]  # stands in for the pool: same shape, no extra work counted
    h2, c2 = np_conv.conv2d_forward(p1, params["W2"], params["b2"])  # (B, 14, 14, 36)
    np_conv.conv2d_backward(np.ones_like(h2), c2)
    np_conv.conv2d_backward(np.ones_like(h1), c1, need_dx=False)


def _conv_step_tf(params, x):
    from tfimpl.backend import tf

    W1, b1, W2, b2 = (tf.constant(params[k]) for k in ("W1", "b1", "W2", "b2"))

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch([W1, b1, W2, b2])
            h1 = tf.nn.conv2d(x, W1, 1, "SAME") + b1
            h2 = tf.nn.conv2d(h1[:, ::2, ::2, :], W2, 1, "SAME") + b2
            total = tf.reduce_sum(h2) + tf.reduce_sum(h1)  # dout = 1 for both, as in conv_step_numpy
        return tape.gradient(total, [W1, b1, W2, b2])

    xt = tf.constant(x)
    step(xt)  # traced before the clock
    return lambda: [g.numpy() for g in step(xt)]


def conv_times(batch: int = 64, repeat: int = 20) -> dict[str, float]:
    """Median milliseconds of each measurement at ``batch``, NumPy and TensorFlow alternating, in one run."""
    from tfimpl import models as tf_models
    from tfimpl.backend import tf
    from tfimpl.bridge import to_variables

    data = load_mnist()
    params = np_models.init_params("cnn", init="glorot_uniform", seed=0)
    x, labels = data.train.images[:batch], data.train.labels[:batch]
    x4 = x.reshape(-1, 28, 28, 1)
    variables = to_variables(params)
    tf_lag = tf.function(lambda x, y: tf_models.loss_and_grads(variables, x, y))
    tf_lag(x, labels)
    p1 = np.ones((batch, 14, 14, 16), np.float32)
    _, c2 = np_conv.conv2d_forward(p1, params["W2"], params["b2"])
    d2 = np.ones((batch * 196, 36), np.float32)
    cases = {
        "numpy: conv 1+2 forward+backward": lambda: conv_step_numpy(params, x4),
        "tf graph: conv 1+2 forward+backward": _conv_step_tf(params, x4),
        "numpy: loss_and_grads": lambda: np_models.loss_and_grads(params, x, labels),
        "tf graph: loss_and_grads": lambda: [g.numpy() for g in tf_lag(x, labels)[1].values()],
        "numpy conv 2: im2col": lambda: np_conv.im2col(p1, 5, 5),
        "numpy conv 2: the 3 products": lambda: (
            c2[0] @ params["W2"].reshape(400, 36),
            c2[0].T @ d2,
            d2 @ params["W2"].reshape(400, 36).T,
        ),
        "numpy conv 2: col2im": lambda: np_conv.col2im(c2[0], p1.shape, 5, 5),
    }
    times = {name: [] for name in cases}
    for _ in range(3):  # alternate: each measurement a third of the repeats at a time
        for name, fn in cases.items():
            times[name].append(median_ms(fn, max(1, repeat // 3)))
    return {name: float(np.median(t)) for name, t in times.items()}


def peak_step_memory(batch: int) -> float:
    """Peak megabytes NumPy allocates during one CNN train step at ``batch`` (``tracemalloc``), data excluded."""
    data = load_mnist()
    params = np_models.init_params("cnn", init="glorot_uniform", seed=0)
    opt = make_optimizer("adam", 1e-3)
    x, labels = data.train.images[:batch].copy(), data.train.labels[:batch].copy()
    np_train.train_step(params, opt, x, labels)  # the optimizer's moments exist before the count starts
    tracemalloc.start()
    np_train.train_step(params, opt, x, labels)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.convbench", description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=21)
    args = parser.parse_args(argv)
    ms = conv_times(args.batch, args.repeat)
    gflop = conv_flops(args.batch, "train") / 1e9
    for name, t in ms.items():
        rate = f"  ({gflop / (t / 1e3):.0f} GFLOP/s)" if "conv 1+2" in name else ""
        print(f"{name:<40} {t:8.2f} ms{rate}")
    ratio = ms["numpy: conv 1+2 forward+backward"] / ms["tf graph: conv 1+2 forward+backward"]
    print(f"NumPy / TensorFlow, convolutions forward+backward at batch {args.batch}: {ratio:.1f}x")
    for batch in (64, 1000):
        print(f"peak memory of one NumPy train step at batch {batch}: {peak_step_memory(batch):.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
