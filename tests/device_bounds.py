"""Agreement bounds that depend on the device TensorFlow computes on, stated once for the tests."""

from __future__ import annotations


def tensorflow_sees_a_gpu() -> bool:
    """Whether TensorFlow (if installed) sees a GPU; decides which agreement bound a test states."""
    try:
        import tensorflow as tf
    except ImportError:
        return False
    return bool(tf.config.list_physical_devices("GPU"))


#: Test images whose prediction may differ between the twins in float32. On a CPU the libraries agree to
#: the last prediction (0). On a GPU, even with TF32 off, cuBLAS sums in another order; an image whose two
#: largest logits lie within that rounding (~1e-6 relative) can flip: at most 2 of 10,000 (the bound of
#: compare's cross-load check, docs/math.md#floating-point-on-cpus-and-gpus). With TF32 on, as the H100
#: ran these tests, one image flipped in a cross-load and one in the weight snapshots.
FLOAT32_FLIPS = 2 if tensorflow_sees_a_gpu() else 0
