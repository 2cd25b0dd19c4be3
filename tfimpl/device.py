r"""Which device runs the graph, and in which precision its float32 matrix products run.

``--device auto`` takes a GPU when TensorFlow sees one. On NVIDIA GPUs of the Ampere generation and newer,
TensorFlow computes float32 matrix products in **TF32** by default: it rounds both inputs to a 10-bit
mantissa (unit roundoff :math:`2^{-11}`, against float32's :math:`2^{-24}`) and accumulates in float32.
:func:`tensor_float_32` turns that on or off for a block and restores the caller's setting after;
:func:`precision` names what a run really used. See ``docs/math.md#floating-point-on-cpus-and-gpus``.
"""

from __future__ import annotations

import contextlib

from common.errors import UserError

from .backend import tf

__all__ = ["describe", "exact_float32", "op_determinism_enabled", "precision", "resolve_device", "tensor_float_32"]


def resolve_device(name: str = "auto") -> str:
    """A TensorFlow device string, ``"/GPU:0"`` or ``"/CPU:0"``.

    Raises
    ------
    common.errors.UserError
        ``gpu`` was asked for and TensorFlow sees none (with what to install).
    """
    gpus = tf.config.list_physical_devices("GPU")
    if name == "cpu":
        return "/CPU:0"
    if name == "gpu" and not gpus:
        raise UserError(
            "--device gpu, but TensorFlow sees no GPU. Install the CUDA build (pip install -e '.[gpu]', "
            "which pulls tensorflow[and-cuda]) on a machine with an NVIDIA driver, or use --device cpu / auto."
        )
    if name not in ("auto", "gpu"):
        raise UserError(f"unknown device {name!r}; choose auto, cpu or gpu")
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


@contextlib.contextmanager
def tensor_float_32(enabled: bool | None):
    """Within the block, TF32 on (``True``), off (``False``) or as it is (``None``); restored after."""
    before = tf.config.experimental.tensor_float_32_execution_enabled()
    if enabled is not None:
        tf.config.experimental.enable_tensor_float_32_execution(enabled)
    try:
        yield
    finally:
        tf.config.experimental.enable_tensor_float_32_execution(before)


def precision(dtype: str, device: str) -> str:
    """What float32 matrix products really run in: ``"float64"``, ``"float32"`` or ``"tf32"``.

    TF32 applies only to float32 on a GPU that has it (compute capability 8.0, Ampere, or newer), and
    only while TensorFlow's TF32 setting is on (its default).
    """
    if dtype != "float32" or not device.strip("/").startswith("GPU"):
        return dtype
    if not tf.config.experimental.tensor_float_32_execution_enabled():
        return "float32"
    gpus = tf.config.list_physical_devices("GPU")
    capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability") if gpus else None
    return "tf32" if capability and tuple(capability) >= (8, 0) else "float32"


def op_determinism_enabled() -> bool:
    """Whether TensorFlow's op determinism is on (``tf.config.experimental.enable_op_determinism``)."""
    from tensorflow.python.framework import config  # the public API can turn it on, not read or undo it

    return bool(config.is_op_determinism_enabled())


@contextlib.contextmanager
def exact_float32(*, determinism: bool = True):
    """Within the block: TF32 off, and (by default) op determinism on; the caller's settings restored after.

    What :mod:`compare` runs its equality checks under, so float32 means float32 on any device and the
    same inputs give the same bits run after run.
    """
    from tensorflow.python.framework import config

    was_deterministic = op_determinism_enabled()
    with tensor_float_32(False):
        if determinism:
            tf.config.experimental.enable_op_determinism()
        try:
            yield
        finally:
            if not was_deterministic:
                config.disable_op_determinism()
