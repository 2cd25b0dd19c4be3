r"""A bound that is a bound: the roofline of this machine, measured in the same run as the workloads.

A step cannot finish before its arithmetic is done at the machine's peak rate, nor before its bytes have
moved at the machine's peak bandwidth:

.. math::

    t_{\text{roofline}} = \max\Bigl(\frac{\text{FLOPs}}{\text{peak FLOP/s}},\ \frac{\text{bytes}}{\text{peak bytes/s}}\Bigr)

and an implementation's *efficiency* is :math:`t_{\text{roofline}} / t_{\text{measured}} \le 1`.

* **Peak FLOP/s**, the *ceiling*: the largest of three figures, so that no step can beat it, busy
  machine or quiet (:func:`measure_peaks`, :func:`ceiling`):

  - *measured*: the best float32 matrix product of several shapes (squares of 1024 and 2048 on a CPU,
    4096 and 8192 on a GPU, and the largest products of the workloads the report runs,
    :func:`gemm_shapes`), by NumPy's BLAS and by TensorFlow, each timed for at least 0.3 s, at the start
    of the run and again at its end;
  - *per core x cores* (CPU): the best product on one thread (NumPy's and TensorFlow's), in a process of
    its own, times the usable cores. A second program on a 2-core machine halves what two threads can get, but leaves one
    thread its core, and a core is never faster with its neighbours busy than alone;
  - *physical* (CPU, where the clock can be read): cores x FMA units (taken as 2, the most any x86 core
    has) x float32 lanes (16 with AVX-512, 8 with AVX2) x 2 FLOPs x clock (the highest the kernel
    reports: ``cpuinfo_max_freq`` where there is one, else ``cpu MHz``, which a VM reports at its base
    clock, below turbo; that is why the measured figures stay in).

  ``results.json`` keeps all three side by side and names the one that set the ceiling.
* **Peak bandwidth**: the best of copies (read and write) of several sizes, from ones that fit in the
  caches to ones that do not, at the start and at the end. The fastest (a cache-resident copy) is the
  bound: a small model's step runs out of the caches too, and a bound must not be beaten.
* On a GPU both are timed inside one XLA-compiled loop, so no iteration waits for the host.
* **FLOPs** of a step: its matrix products (:func:`benchmarks.workloads.flops`); the elementwise work
  is far smaller. **Bytes**: :func:`step_bytes`, the compulsory traffic, which no implementation can
  avoid: the batch (and its labels) read once, every weight and bias read once, and, for a train step,
  written once. Activations and gradients may live in registers and caches (XLA fuses the gradient
  into the update and never writes it out), so they are not counted: the bound stays a bound.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from common.spec import param_shapes

from .machine import cpu_clock, describe_machine
from .timing import time_rounds
from .workloads import BATCH_SIZES, MODELS, flops

__all__ = [
    "GEMM_SHAPES",
    "ceiling",
    "gemm_rates",
    "gemm_shapes",
    "measure_peaks",
    "one_thread_peak",
    "one_thread_rates",
    "physical_peak",
    "roofline_seconds",
    "step_bytes",
    "tensorflow_loops",
]

FLOAT32 = 4
COPY_SIZES_MIB = (0.25, 2, 16, 64)
FMA_UNITS = 2  # the most any x86 core has: a bound must not assume fewer
LANES = (("avx512f", 16), ("avx2", 8))  # float32 lanes of the widest vector unit; SSE's 4 otherwise


def gemm_shapes(device: str, batch_sizes=BATCH_SIZES) -> list[tuple[int, int, int]]:
    """``(m, k, n)`` of the products whose best rate is the measured peak on ``device``: two squares (1024
    and 2048 on a CPU, 4096 and 8192 on a GPU) and the workloads' own largest products, the batch times a
    hidden layer's weights, at each of ``batch_sizes`` from 1,000 up (smaller batches, and the linear
    model's ``(B, 784) x (784, 10)``, are far from any peak). A report passes the batch sizes it runs; the
    default is the full sweep's, :data:`benchmarks.workloads.BATCH_SIZES`."""
    squares = (1024, 2048) if device == "cpu" else (4096, 8192)
    own = sorted({(b, 784, hidden[0]) for hidden in MODELS.values() if hidden for b in batch_sizes if b >= 1000})
    return [(n, n, n) for n in squares] + own


#: The products of the full sweep, up to batch 10,000, per device (:func:`gemm_shapes`).
GEMM_SHAPES = {device: gemm_shapes(device) for device in ("cpu", "gpu")}


def step_bytes(model: str, batch_size: int, kind: str) -> int:
    """Compulsory bytes of a ``forward`` or ``train`` step of ``model`` at ``batch_size`` (float32).

    Read the batch ``(B, 784)``; read every parameter; write the logits ``(B, 10)`` (forward) or read
    the labels ``(B, 10)`` and write every parameter back (train).
    """
    if model == "cnn":
        parameters = sum(math.prod(shape) for shape in param_shapes("cnn").values())
    else:
        sizes = [784, *MODELS[model], 10]
        parameters = sum(d_in * d_out + d_out for d_in, d_out in itertools.pairwise(sizes))
    words = batch_size * 784 + parameters + batch_size * 10  # the logits out, or the labels in
    if kind == "train":
        words += parameters  # the updated parameters written back
    return FLOAT32 * words


def _best(fn, seconds: float) -> float:
    fn()  # warm up
    return float(np.min(time_rounds(fn, seconds=seconds, min_rounds=3)[0]))


def gemm_rates(seconds: float, shapes=None) -> dict[str, float]:
    """NumPy's float32 FLOP/s for each product of ``shapes`` (default :data:`GEMM_SHAPES`), ``"m x k x n"`` -> FLOP/s."""
    rng = np.random.default_rng(0)
    rates = {}
    for m, k, n in shapes or GEMM_SHAPES["cpu"]:
        a, b = rng.random((m, k), dtype=np.float32), rng.random((k, n), dtype=np.float32)
        out = np.empty((m, n), np.float32)
        rates[f"{m}x{k}x{n}"] = 2 * m * k * n / _best(lambda a=a, b=b, out=out: np.matmul(a, b, out=out), seconds)
    return rates


def _numpy_peaks(seconds: float, shapes) -> dict:
    gemm = gemm_rates(seconds, shapes)
    bandwidth = []
    for mib in COPY_SIZES_MIB:
        src = np.ones(int(mib * 2**20) // FLOAT32, np.float32)
        dst = np.empty_like(src)
        bandwidth.append(2 * src.nbytes / _best(lambda s=src, d=dst: np.copyto(d, s), seconds / len(COPY_SIZES_MIB)))
    return {
        "gemm_flops": max(gemm.values()),
        "gemm_by_shape": gemm,
        "bandwidth": max(bandwidth),
        "bandwidth_by_size": dict(zip(COPY_SIZES_MIB, bandwidth, strict=True)),
    }


ONE_THREAD_SHAPES = [(1024, 1024, 1024), (2048, 2048, 2048), (10000, 784, 1024)]


def one_thread_rates(seconds: float, tensorflow: bool, shapes=None) -> dict[str, float]:
    """Best FLOP/s of ``shapes`` (default :data:`ONE_THREAD_SHAPES`) on one thread, per library. Call it in a
    fresh process whose environment sets ``OPENBLAS_NUM_THREADS=1``: BLAS and TensorFlow fix their thread
    pools when they load."""
    shapes = shapes or ONE_THREAD_SHAPES
    out = {"numpy": max(gemm_rates(seconds, shapes).values())}
    if tensorflow:
        from tfimpl.backend import tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        out["tensorflow"] = max(_tensorflow_gemm_rates("cpu", seconds, shapes).values())
    return out


def one_thread_peak(seconds: float, tensorflow: bool, shapes=None) -> dict | None:
    """:func:`one_thread_rates` in a process of its own; None if that process fails (the other figures remain)."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    code = (
        "import json; from benchmarks.roofline import one_thread_rates; "
        f"print(json.dumps(one_thread_rates({seconds!r}, {tensorflow!r}, {shapes!r})))"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            cwd=Path(__file__).parents[1],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return json.loads(done.stdout.splitlines()[-1])


def physical_peak(machine: dict | None = None) -> dict | None:
    """Cores x FMA units x float32 lanes x 2 x clock, from what the CPU reports; None where no clock is read."""
    machine = machine or describe_machine()
    mhz, source = cpu_clock()
    if mhz is None:
        return None
    lanes = next((n for flag, n in LANES if flag in machine["cpu_flags"]), 4)
    cores = machine["usable_cores"]
    return {
        "gemm_flops": cores * FMA_UNITS * lanes * 2 * mhz * 1e6,
        "cores": cores,
        "fma_units": FMA_UNITS,
        "lanes": lanes,
        "clock_mhz": mhz,
        "clock_source": source,
    }


@functools.cache
def tensorflow_loops(gpu: bool):
    """``(gemm_loop, copy_loop, repeats)``: the timed graphs, traced once per process and device kind.

    Their shapes are left open (``None``), so one trace serves every product and copy size, and a
    report's second timing (at its end) traces nothing; XLA, on a GPU, still compiles each shape.
    """
    from tfimpl.backend import tf

    repeats = 20 if gpu else 2
    matrix, vector = tf.TensorSpec([None, None], tf.float32), tf.TensorSpec([None], tf.float32)

    @tf.function(jit_compile=gpu, input_signature=[matrix, matrix])
    def gemm_loop(a, b):
        c = tf.zeros((), tf.float32)
        for _ in tf.range(repeats):  # the carried scalar keeps each product from being hoisted
            c = tf.reduce_sum(tf.matmul(a + c, b)[:1, :1]) * 0.0
        return c

    @tf.function(jit_compile=gpu, input_signature=[vector])
    def copy_loop(x):
        for _ in tf.range(repeats * 10):
            x = x * 1.0000001  # read and write every element once
        return x[:1]

    return gemm_loop, copy_loop, repeats


def _tensorflow_gemm_rates(device: str, seconds: float, shapes) -> dict[str, float]:
    """TensorFlow's float32 FLOP/s per product shape, ``repeats`` products inside one compiled loop."""
    from tfimpl.backend import tf

    gpu = device == "gpu"
    gemm_loop, _, repeats = tensorflow_loops(gpu)
    rates = {}
    with tf.device("/GPU:0" if gpu else "/CPU:0"):
        for m, k, n in shapes:
            a = tf.random.stateless_uniform((m, k), seed=(0, 1))
            b = tf.random.stateless_uniform((k, n), seed=(0, 2))
            rates[f"{m}x{k}x{n}"] = repeats * 2 * m * k * n / _best(lambda a=a, b=b: gemm_loop(a, b).numpy(), seconds)
    return rates


def _tensorflow_peaks(device: str, seconds: float, shapes) -> dict:
    """GEMM and copy rates with TensorFlow, ``repeats`` iterations inside one compiled loop."""
    from tfimpl.backend import tf

    gpu = device == "gpu"
    _, copy_loop, repeats = tensorflow_loops(gpu)
    with tf.device("/GPU:0" if gpu else "/CPU:0"):

        def copies(mib):
            x0 = tf.ones((int(mib * 2**20) // FLOAT32,))
            return 2 * repeats * 10 * x0.shape[0] * FLOAT32 / _best(lambda: copy_loop(x0).numpy(), seconds / 4)

        bandwidth = [copies(mib) for mib in COPY_SIZES_MIB]
    by_shape = _tensorflow_gemm_rates(device, seconds, shapes)
    return {
        "gemm_flops": max(by_shape.values()),
        "gemm_by_shape": by_shape,
        "bandwidth": max(bandwidth),
        "bandwidth_by_size": dict(zip(COPY_SIZES_MIB, bandwidth, strict=True)),
    }


def measure_peaks(
    devices,
    *,
    seconds: float = 0.5,
    tensorflow: bool = True,
    when: str = "start",
    one_thread: bool = True,
    batch_sizes=BATCH_SIZES,
) -> dict:
    """One timing of every device's figures: ``{device: {"measured": {library: ...}, ...}}``.

    ``when`` labels it (``"start"``, ``"end"``); :func:`ceiling` combines several. ``one_thread`` adds the
    per-core figure (a second process, a few seconds), which a busy machine does not lower: once a run is enough.
    ``batch_sizes``: the report's, whose largest products join the shapes timed (:func:`gemm_shapes`).
    """
    out = {}
    for device in devices:
        shapes = gemm_shapes(device, batch_sizes)
        found = {"numpy": _numpy_peaks(seconds, shapes)} if device == "cpu" else {}
        if tensorflow:
            found["tensorflow"] = _tensorflow_peaks(device, seconds, shapes)
        entry = {"when": when, "measured": found}
        if device == "cpu" and one_thread:
            one = one_thread_peak(seconds, tensorflow)
            cores = describe_machine()["usable_cores"]
            entry["per_core_x_cores"] = (
                None if one is None else {"one_thread": one, "cores": cores, "gemm_flops": max(one.values()) * cores}
            )
        out[device] = entry
    return out


def _per_core(timings, device: str) -> float | None:
    found = [t[device]["per_core_x_cores"]["gemm_flops"] for t in timings if t[device].get("per_core_x_cores")]
    return max(found) if found else None


def ceiling(*timings: dict) -> dict:
    """The peaks a step is measured against: per device, the largest FLOP/s and bytes/s of every timing
    (start and end), the per-core figure and the physical one, with what set each and the rest beside it."""
    physical = physical_peak()
    out = {}
    for device in timings[0]:
        flops_candidates, bandwidth_candidates = [], []
        for t in timings:
            entry = t[device]
            for library, f in entry["measured"].items():
                best_shape = max(f["gemm_by_shape"], key=f["gemm_by_shape"].get)
                flops_candidates.append(
                    (f["gemm_flops"], f"measured: {library}, {best_shape}, {entry['when']} of the run")
                )
                bandwidth_candidates.append((f["bandwidth"], f"measured: {library}, {entry['when']} of the run"))
            per_core = entry.get("per_core_x_cores")
            if per_core:
                flops_candidates.append(
                    (
                        per_core["gemm_flops"],
                        f"per core x {per_core['cores']} cores: {max(per_core['one_thread'], key=per_core['one_thread'].get)}, {entry['when']} of the run",
                    )
                )
        if device == "cpu" and physical:
            flops_candidates.append(
                (physical["gemm_flops"], f"physical: {physical['clock_mhz']:.0f} MHz ({physical['clock_source']})")
            )
        gemm, gemm_by = max(flops_candidates)
        bandwidth, bandwidth_by = max(bandwidth_candidates)
        out[device] = {
            "gemm_flops": gemm,
            "gemm_set_by": gemm_by,
            "bandwidth": bandwidth,
            "bandwidth_set_by": bandwidth_by,
            "gemm_flops_measured": max(f["gemm_flops"] for t in timings for f in t[device]["measured"].values()),
            "gemm_flops_per_core_x_cores": _per_core(timings, device),
            "gemm_flops_physical": physical["gemm_flops"] if device == "cpu" and physical else None,
            "physical": physical if device == "cpu" else None,
            "timings": [t[device] for t in timings],
        }
    return out


def roofline_seconds(peaks: dict, model: str, batch_size: int, kind: str) -> float:
    """``max(FLOPs / peak FLOP/s, bytes / peak bandwidth)`` for one step on one device."""
    return max(
        flops(model, batch_size, kind) / peaks["gemm_flops"], step_bytes(model, batch_size, kind) / peaks["bandwidth"]
    )
