"""tfimpl: mirrors scratch, trains as a graph traced once, reaches the tutorials' numbers, shares params.npz."""

from __future__ import annotations

import json

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow", reason="tfimpl needs TensorFlow: pip install -e '.[dev]'")

from device_bounds import FLOAT32_FLIPS  # noqa: E402

from common.config import RunConfig  # noqa: E402
from common.errors import UserError  # noqa: E402
from common.files import load_params  # noqa: E402
from scratch import models as np_models  # noqa: E402
from tfimpl import models as tf_models  # noqa: E402
from tfimpl.bridge import to_numpy, to_variables  # noqa: E402
from tfimpl.cli import main as tf_main  # noqa: E402
from tfimpl.train import train as tf_train  # noqa: E402


def test_same_parameter_keys_and_shapes():
    a = np_models.init_params("mlp", hidden=(30, 20), init="normal")
    b = to_numpy(tf_models.init_params("mlp", hidden=(30, 20), init="normal"))
    assert list(a) == list(b) and all(a[k].shape == b[k].shape and a[k].dtype == b[k].dtype for k in a)


def test_zero_init_is_exactly_9_8_percent(mnist):
    params = tf_models.init_params("linear", init="zeros")
    assert tf_models.accuracy(params, mnist.test.images, mnist.test.labels) == 0.098


def test_train_step_is_traced_once_across_steps_and_epochs(mnist):
    cfg = RunConfig(steps=130, batch_size=1000, steps_per_call=20, log_every=30)  # 55 steps/epoch: 3 epochs
    r = tf_train(cfg, mnist, progress=False)
    assert r.summary["traces"] == 1 and r.summary["steps"] == 130


def test_steps_per_call_and_xla_give_the_same_result(mnist):
    """Bitwise equality needs the same arithmetic every time: TF32 off and op determinism on (a GPU
    otherwise may sum in a different order from one run to the next)."""
    from tfimpl.device import exact_float32

    with exact_float32():
        base = RunConfig(steps=40, model="mlp", hidden=(32,), init="normal", learning_rate=0.1)
        one = tf_train(base, mnist, progress=False)
        many = tf_train(RunConfig(**{**base.to_dict(), "hidden": (32,), "steps_per_call": 8}), mnist, progress=False)
        xla = tf_train(RunConfig(**{**base.to_dict(), "hidden": (32,), "xla": True}), mnist, progress=False)
        for k in one.params:
            np.testing.assert_array_equal(one.params[k], many.params[k])
            # XLA fuses and reorders float32 arithmetic: within a few float32 ulps after 40 steps.
            np.testing.assert_allclose(one.params[k], xla.params[k], rtol=1e-4, atol=1e-6)


def test_float64_runs(mnist):
    from common.data import DataSet, Datasets

    # a small float64 set, cast from the session's float32 one: this module's peak memory stays low
    cut = lambda s, n: DataSet(s.images[:n].astype(np.float64), s.labels[:n])  # noqa: E731
    small = Datasets(cut(mnist.train, 11000), cut(mnist.validation, 1000), cut(mnist.test, 2000))
    r = tf_train(RunConfig(steps=20, dtype="float64"), small, progress=False)
    assert r.params["W1"].dtype == np.float64 and r.summary["steps"] == 20


@pytest.mark.skipif(not tf.config.list_physical_devices("GPU"), reason="no GPU visible to TensorFlow")
@pytest.mark.gpu
def test_gpu_run_reports_its_device(mnist):
    r = tf_train(RunConfig(steps=50, device="gpu"), mnist, progress=False)
    assert r.summary["device"].startswith("GPU")


def test_gpu_without_one_is_a_clear_error(mnist):
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU is visible, so --device gpu is valid here")
    with pytest.raises(UserError, match="sees no GPU"):
        tf_train(RunConfig(steps=1, device="gpu"), mnist, progress=False)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("argv", "steps", "floor"),
    [
        ([], 1000, 0.915),
        (["--optimizer", "adam", "--lr", "0.001", "--init", "truncated_normal", "--epochs", "10"], 5500, 0.92),
        (
            [
                "--model",
                "mlp",
                "--init",
                "normal",
                "--lr",
                "0.5",
                "--loss",
                "clipped_binary_cross_entropy",
                "--epochs",
                "10",
                "--steps-per-call",
                "50",
            ],
            5500,
            0.978,
        ),
    ],
    ids=["linear-sgd", "linear-adam", "mlp"],
)
def test_tutorial_numbers_from_the_command(tmp_path, argv, steps, floor):
    """The command's ``main``, as ``python -m tfimpl train`` runs it, then what it wrote."""
    assert tf_main(["train", *argv, "--out", str(tmp_path / "run")]) == 0
    s = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert s["implementation"] == "tfimpl" and s["device"].startswith(("CPU", "GPU"))
    assert s["steps"] == steps and s["test_accuracy"] >= floor, s["test_accuracy"]


def test_params_cross_load_both_ways(tmp_path, mnist):
    from scratch.cli import main as np_main

    np_main(["train", "--steps", "100", "--out", str(tmp_path / "np")])
    tf_main(["train", "--steps", "100", "--out", str(tmp_path / "tf")])
    for name in ("np", "tf"):
        summary = json.loads((tmp_path / name / "summary.json").read_text())
        params = load_params(tmp_path / name / "params.npz")
        acc_np = np_models.accuracy(params, mnist.test.images, mnist.test.labels)
        acc_tf = tf_models.accuracy(to_variables(params), mnist.test.images, mnist.test.labels)
        assert summary["test_accuracy"] in (acc_np, acc_tf)
        assert abs(acc_np - acc_tf) <= FLOAT32_FLIPS / 10000 + 1e-12  # exact on a CPU (conftest.py)


def test_tf1_bridge_reaches_the_accuracy_of_tfimpl_train(mnist):
    """The bridge's recipe is ``python -m tfimpl train``'s defaults: zeros, SGD at 0.5, 1000 batches of 100,
    the same shuffled batches (``common.data.batch_indices``, seed 0). It feeds class ids to the sparse
    cross-entropy where train feeds one-hot rows to the dense one, so the two float32 gradients may differ in
    the last bit, but on a CPU both end at 91.57%: asserted to one test image (0.01 point), plus the near-ties
    a GPU may flip."""
    from tfimpl.tf1_tutorial import run

    config = RunConfig()
    assert (config.init, config.optimizer, config.learning_rate, config.steps, config.batch_size, config.seed) == (
        "zeros", "sgd", 0.5, 1000, 100, 0
    )  # fmt: skip
    bridge, trained = run(mnist), tf_train(config, mnist, progress=False).summary["test_accuracy"]
    assert bridge == run(mnist), bridge  # deterministic: a second session gives the same accuracy
    assert abs(bridge - trained) <= (1 + FLOAT32_FLIPS) / 10000 + 1e-12, (bridge, trained)
    assert abs(bridge - 0.9157) <= (1 + FLOAT32_FLIPS) / 10000 + 1e-12, bridge  # the docstring's 91.57%


def test_graph_groups_like_the_tutorial():
    from tfimpl.graph import describe_train_step

    text = describe_train_step(RunConfig(model="mlp"))
    for group, op in [
        ("model", "MatMul"),
        ("cost", "SoftmaxCrossEntropyWithLogits"),
        ("gradients", "ReluGrad"),
        ("optimizer", "AssignSubVariableOp"),
    ]:
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(group))
        assert op in line


def test_both_twins_train_on_the_same_batches_through_their_loops(mnist):
    """The same config and start through each twin's own ``train`` loop: the same batches in the same order.

    float64, 15 steps over the end of an epoch (11,000 images at batch 1000: 11 steps an epoch): identical
    batches leave the parameters within 1e-10 of each other (compare's float64 bound); batches in
    another order (another seed) move them by far more.
    """
    from common.data import DataSet, Datasets
    from scratch.train import train as np_train

    cut = lambda s, n: DataSet(s.images[:n].astype(np.float64), s.labels[:n])  # noqa: E731  (float64 arithmetic)
    data = Datasets(cut(mnist.train, 11000), cut(mnist.validation, 500), cut(mnist.test, 500))
    config = RunConfig(steps=15, batch_size=1000, dtype="float64", learning_rate=0.5, log_every=5)
    start = np_models.init_params("linear", init="normal", std=0.01, seed=3, dtype="float64")
    ours = np_train(config, data, progress=False, initial_params=start)
    theirs = tf_train(config, data, progress=False, initial_params=start)
    shifted = np_train(RunConfig(**{**config.to_dict(), "seed": 1}), data, progress=False, initial_params=start)
    for k in start:
        np.testing.assert_allclose(ours.params[k], theirs.params[k], rtol=0, atol=1e-10)
    assert np.abs(ours.params["W1"] - shifted.params["W1"]).max() > 1e-3
    val = lambda h: [(r["step"], r["val_loss"]) for r in h if "val_loss" in r]  # noqa: E731
    assert [s for s, _ in val(ours.history)] == [s for s, _ in val(theirs.history)] == [11, 15]
    np.testing.assert_allclose([v for _, v in val(ours.history)], [v for _, v in val(theirs.history)], rtol=1e-10)


def test_the_summary_records_what_ran(mnist):
    """100 steps run in calls of at most 100 (not the epoch's 550), and the config says which widths and std."""
    s = tf_train(RunConfig(model="mlp", hidden=None, steps=100, log_every=50), mnist, progress=False).summary
    assert s["steps"] == 100 and s["steps_per_call"] <= 100
    assert s["config"]["hidden"] == [300] and s["config"]["init"] == "normal" and s["config"]["init_std"] == 0.03
    linear = RunConfig(optimizer="adam", init="truncated_normal")
    assert linear.hidden is None and linear.init_std == 0.01  # the linear model has no hidden layer to record
