r"""Which device runs the graph: ``auto`` (a GPU when TensorFlow sees one), ``cpu`` or ``gpu``."""

from __future__ import annotations

import tensorflow as tf

__all__ = ["describe", "resolve_device"]


def resolve_device(name: str = "auto") -> str:
    """A TensorFlow device string, ``"/GPU:0"`` or ``"/CPU:0"``.

    Raises
    ------
    RuntimeError
        ``gpu`` was asked for and TensorFlow sees none (with what to install).
    """
    gpus = tf.config.list_physical_devices("GPU")
    if name == "cpu":
        return "/CPU:0"
    if name == "gpu" and not gpus:
        raise RuntimeError(
            "--device gpu, but TensorFlow sees no GPU. Install the CUDA build (pip install -e '.[gpu]', "
            "which pulls tensorflow[and-cuda]) on a machine with an NVIDIA driver, or use --device cpu / auto."
        )
    if name not in ("auto", "gpu"):
        raise ValueError(f"unknown device {name!r}; choose auto, cpu or gpu")
    return "/GPU:0" if gpus else "/CPU:0"


def describe(device: str) -> str:
    """A readable name, e.g. ``GPU:0 (NVIDIA H100 80GB HBM3)`` or ``CPU:0``."""
    short = device.strip("/")
    if short.startswith("GPU"):
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            return f"{short} ({details.get('device_name', 'GPU')})"
    return short
