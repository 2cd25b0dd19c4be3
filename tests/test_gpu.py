"""The GPU path for real: training on GPU:0, compare's precision family measured there, benchmark rows.

Every test here needs a GPU visible to TensorFlow and skips with that reason elsewhere (CI has none).
"""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow", reason="the GPU tests need TensorFlow's CUDA build")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not tf.config.list_physical_devices("GPU"), reason="no GPU visible to TensorFlow"),
]


def test_training_on_the_gpu_reports_device_precision_and_timings(mnist):
    from common.config import RunConfig
    from tfimpl.train import train

    s = train(RunConfig(model="mlp", epochs=1, steps=None, xla=True, device="gpu"), mnist, progress=False).summary
    assert s["device"].startswith("GPU:0") and s["precision"] in ("tf32", "float32")
    assert s["steps_per_call"] == 550 and s["compile_seconds"] > 0 and s["test_accuracy"] > 0.9


def test_compare_precision_family_is_measured_on_the_gpu(mnist):
    from compare.precision import precision_rows

    rows = precision_rows(mnist, gpu=True)
    tf32 = [r for r in rows if r.dtype == "tf32" and not r.check.startswith("CONTROL")]
    assert tf32 and all(r.note == "measured on GPU:0" and r.passed for r in tf32)
    assert all(r.passed for r in rows if r.dtype == "float32")
    assert not rows[-1].passed  # the control: TF32 judged as float32 fails


def test_compare_equality_families_pass_on_the_gpu(mnist):
    from compare.cli import run_families

    rows, used = run_families(["forward", "gradients", "layers", "optimizers"], progress=False)
    assert used["device"].startswith("GPU") and used["tf32"] is False and used["op_determinism"] is True
    failed = [(r.check, r.dtype, r.max_rel_error) for r in rows if not r.passed]
    assert not failed, failed


def test_benchmark_rows_for_the_gpu(mnist):
    from benchmarks import workloads
    from benchmarks.builders import build

    for impl in ("tfimpl-graph-multi", "tfimpl-xla"):
        w = build(workloads.Case("train_step", impl, "mlp", 100, "gpu"), mnist, steps=4)
        w.warm_up(1)
        losses = w.run()
        w.check(losses)
        assert np.all(np.isfinite(losses))
