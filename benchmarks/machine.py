"""What machine a benchmark ran on: CPU, cores, GPU, library versions and NumPy's BLAS."""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
from pathlib import Path

import numpy as np

from common.host import cpu_model, memory_bytes, proc_field, usable_cores

__all__ = ["blas_threads", "cpu_clock", "describe_machine", "machine_line"]


def _cpu_flags() -> list[str]:
    flags = set((proc_field("/proc/cpuinfo", "flags") or "").split())
    return [f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile") if f in flags]


def cpu_clock() -> tuple[float | None, str]:
    """The highest clock the kernel reports, in MHz, and where it was read.

    ``cpuinfo_max_freq`` (cpufreq) is the maximum, turbo included; a VM often has no cpufreq, and its
    ``/proc/cpuinfo`` ``cpu MHz`` is then the base clock, which turbo exceeds.
    """
    peaks = []
    for f in Path("/sys/devices/system/cpu").glob("cpu[0-9]*/cpufreq/cpuinfo_max_freq"):
        try:
            peaks.append(int(f.read_text()) / 1000)
        except (OSError, ValueError):
            continue
    if peaks:
        return max(peaks), "cpufreq cpuinfo_max_freq"
    try:
        mhz = [
            float(line.split(":")[1])
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("cpu MHz")
        ]
    except (OSError, ValueError, IndexError):
        mhz = []
    return (max(mhz), "/proc/cpuinfo cpu MHz, the base clock on a VM") if mhz else (None, "no clock reported")


def _openblas():
    """NumPy's bundled OpenBLAS (the PyPI wheels' scipy-openblas), or None."""
    libs = Path(np.__file__).parent.parent / "numpy.libs"
    for lib_path in sorted(libs.glob("libscipy_openblas*.so*")) if libs.is_dir() else []:
        try:
            return ctypes.CDLL(str(lib_path))
        except OSError:
            continue
    return None


@contextlib.contextmanager
def blas_threads(n: int):
    """NumPy's OpenBLAS on ``n`` threads inside the block, as before after it; yields the count in force
    (None where the BLAS is not the bundled OpenBLAS, and nothing changes)."""
    lib = _openblas()
    get = getattr(lib, "scipy_openblas_get_num_threads64_", None)
    set_ = getattr(lib, "scipy_openblas_set_num_threads64_", None)
    if get is None or set_ is None:
        yield None
        return
    get.restype = ctypes.c_int
    set_.argtypes = [ctypes.c_int]
    before = get()
    set_(n)
    try:
        yield get()
    finally:
        set_(before)


def _numpy_blas() -> dict:
    """NumPy's BLAS as built, and, for OpenBLAS, the kernel it picked at run time (e.g. ``SkylakeX``)."""
    info: dict = {}
    try:
        deps = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info = {"name": deps.get("name"), "version": deps.get("version")}
    except Exception:  # older NumPy has no dict mode; the name is then simply unknown
        info = {"name": "unknown"}
    libs = Path(np.__file__).parent.parent / "numpy.libs"
    for lib_path in sorted(libs.glob("libscipy_openblas*.so*")) if libs.is_dir() else []:
        try:
            lib = ctypes.CDLL(str(lib_path))
        except OSError:
            continue
        for symbol, key in (
            ("scipy_openblas_get_corename64_", "kernel"),
            ("scipy_openblas_get_num_threads64_", "threads"),
        ):
            fn = getattr(lib, symbol, None)
            if fn is None:
                continue
            fn.restype = ctypes.c_char_p if key == "kernel" else ctypes.c_int
            value = fn()
            info[key] = value.decode() if isinstance(value, bytes) else int(value)
    return info


def _tensorflow() -> dict:
    try:
        from tfimpl.backend import keras, tf
    except ImportError:
        return {"tensorflow": None, "gpus": []}

    gpus = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        gpus.append(details.get("device_name", gpu.name))
    build = tf.sysconfig.get_build_info()
    return {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "tensorflow_cuda": build.get("cuda_version") or None,
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on for x86 CPUs)"),
        "gpus": gpus,
    }


def describe_machine() -> dict:
    """A JSON-ready description of this machine and software."""
    return {
        "cpu": cpu_model(),
        "cpu_flags": _cpu_flags(),
        "cores": os.cpu_count(),
        "usable_cores": usable_cores(),
        "memory_gib": _memory_gib(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numpy_blas": _numpy_blas(),
        **_tensorflow(),
        "platform": platform.platform(),
    }


def _memory_gib() -> float | None:
    total = memory_bytes("MemTotal")
    return round(total / 2**30, 1) if total else None


def machine_line(m: dict) -> str:
    """One line: ``Intel Xeon (2 cores, avx512f); no GPU; NumPy 2.4 + OpenBLAS 0.3 (SkylakeX); TF 2.21``."""
    blas = m["numpy_blas"]
    blas_text = f"{blas.get('name')} {blas.get('version') or ''}".strip()
    if blas.get("kernel"):
        blas_text += f" ({blas['kernel']} kernels, {blas.get('threads', '?')} threads)"
    gpu = ", ".join(m["gpus"]) if m.get("gpus") else "no GPU visible to TensorFlow"
    flags = ", ".join(m["cpu_flags"])
    tf_text = f"TensorFlow {m['tensorflow']}, Keras {m['keras']}" if m.get("tensorflow") else "no TensorFlow"
    return (
        f"{m['cpu']} ({m['usable_cores']} cores{', ' + flags if flags else ''}, {m['memory_gib']} GiB); {gpu}; "
        f"NumPy {m['numpy']} with {blas_text}; {tf_text}; Python {m['python']}"
    )
