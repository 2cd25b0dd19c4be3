"""The run bookkeeping, line by line: history epochs, summary timings, the divergence stop's step and advice,
chunked graph calls, the default output folder, the Glorot scale and the printed inverse error."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from common.config import RunConfig
from common.data import DataSet, Datasets
from common.figures import inverse_error
from common.runs import DIVERGENCE_FACTOR, DIVERGENCE_WINDOW, TrainingDiverged, chunk_sizes, default_out_dir, run_loop
from scratch.train import train


def _tiny(n_train: int = 1000) -> Datasets:
    rng = np.random.default_rng(0)
    split = lambda n: DataSet(rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n))  # noqa: E731
    return Datasets(split(n_train), split(50), split(50))


def _loop(config, data, losses_at, **kw):
    """run_loop with a fake step: ``losses_at(step)`` is the loss of global step ``step`` (1-based)."""
    done = [0]

    def run_steps(idx):
        out = [losses_at(done[0] + i + 1) for i in range(len(idx))]
        done[0] += len(idx)
        return np.array(out)

    return run_loop(
        config,
        data,
        run_steps=run_steps,
        evaluate=lambda s: (1.0, 0.5),
        batch_accuracy=lambda i: 0.5,
        progress=False,
        **kw,
    )


def test_history_epochs_are_exact():
    # 1000 images at batch 100: 10 steps an epoch; logs every 4 steps; 23 steps in all
    history, stats = _loop(RunConfig(batch_size=100, steps=23, log_every=4), _tiny(), lambda s: 2.0)
    train_rows = [(r["step"], r["epoch"]) for r in history if "loss" in r]
    val_rows = [(r["step"], r["epoch"]) for r in history if "val_loss" in r]
    assert train_rows == [(4, 0.4), (8, 0.8), (12, 1.2), (16, 1.6), (20, 2.0), (23, 2.3)]
    assert val_rows == [(10, 1), (20, 2), (23, 2.3)]
    assert stats["epochs"] == 2.3 and stats["steps"] == 23


def test_summary_timings_are_consistent(mnist):
    s = train(RunConfig(steps=30, log_every=10), mnist, progress=False).summary
    assert s["compile_seconds"] == 0.0 and s["train_seconds"] > 0
    assert s["steps_per_second"] == pytest.approx(30 / s["train_seconds"], rel=1e-12)
    assert s["epochs"] == pytest.approx(30 / 550)


def test_a_nan_names_its_step_and_a_tenth_of_the_rate():
    config = RunConfig(batch_size=100, steps=50, learning_rate=0.5)
    with pytest.raises(TrainingDiverged) as exc:
        _loop(config, _tiny(), lambda s: math.nan if s == 37 else 2.0, steps_per_call=10)
    assert exc.value.step == 37 and exc.value.suggested_rate == 0.05
    assert "at step 37" in str(exc.value) and "--lr 0.05" in str(exc.value)


def test_a_loss_far_above_its_start_stops_the_run_at_the_first_full_window():
    # first loss 2.3; from step 21 on, 100: the window of 50 first fills at step 50, with 30 of them 100
    config = RunConfig(batch_size=100, steps=200, learning_rate=3.0)
    with pytest.raises(TrainingDiverged) as exc:
        _loop(config, _tiny(), lambda s: 2.3 if s <= 20 else 100.0)
    assert exc.value.step == DIVERGENCE_WINDOW and "stayed above 10x its start" in str(exc.value)
    assert "--lr 0.3" in str(exc.value)


def test_a_loss_that_rises_less_than_tenfold_is_not_divergence():
    # the negative control: 9x the first loss, for the whole run, is a bad run but not a diverging one
    _, stats = _loop(
        RunConfig(batch_size=100, steps=120), _tiny(), lambda s: 1.0 if s == 1 else 0.99 * DIVERGENCE_FACTOR
    )
    assert stats["steps"] == 120


def test_chunked_calls_cover_every_step_once():
    # 55 steps an epoch (5500 images at batch 100), 20 per call, logs every 100, 130 steps:
    # 20, 20, 15 (epoch end), 20, 20, 5 (a log row at step 100), 10 (epoch end), 20
    config = RunConfig(batch_size=100, steps=130, steps_per_call=20)
    assert chunk_sizes(config, 5500, 20) == [20, 15, 5, 10]
    seen = []
    _loop(config, _tiny(5500), lambda s: seen.append(s) or 2.0)
    assert seen == list(range(1, 131))


def test_tfimpl_with_steps_not_a_multiple_of_the_call_trains_every_step_once(mnist):
    pytest.importorskip("tensorflow")
    from tfimpl.device import exact_float32
    from tfimpl.train import train as tf_train

    base = {"model": "linear", "batch_size": 1000, "steps": 67, "learning_rate": 0.5}
    with exact_float32():  # bitwise equality needs the same sums every time, on a GPU too
        one = tf_train(RunConfig(**base, steps_per_call=1), mnist, progress=False)
        chunked = tf_train(RunConfig(**base, steps_per_call=20), mnist, progress=False)
    assert chunked.summary["steps"] == 67 and chunked.summary["traces"] == 1
    for k in one.params:  # the same steps on the same batches, only grouped differently: the same bits
        np.testing.assert_array_equal(one.params[k], chunked.params[k])


def test_the_default_output_folder():
    assert default_out_dir("scratch", RunConfig(model="mlp", optimizer="adam", seed=3)) == Path(
        "runs/scratch-mlp-adam-seed3"
    )
    assert default_out_dir("tfimpl", RunConfig(out="x/y")) == Path("x/y")


def test_train_without_out_writes_the_default_folder(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    result = subprocess.run(
        [sys.executable, "-m", "scratch", "train", "--steps", "5"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "runs" / "scratch-linear-sgd-seed0").iterdir()) == [
        "history.jsonl",
        "params.npz",
        "summary.json",
    ]


@pytest.mark.parametrize("twin", ["scratch", "tfimpl"])
def test_glorot_uniform_has_its_scale(twin):
    if twin == "tfimpl":
        pytest.importorskip("tensorflow")
    import importlib

    init = importlib.import_module(f"{twin}.initializers")
    if twin == "scratch":
        rng = np.random.default_rng(0)
    else:
        from tfimpl.backend import tf

        rng = tf.random.Generator.from_seed(0)
    w = np.asarray(init.glorot_uniform((784, 300), "float64", rng))
    limit = math.sqrt(6 / (784 + 300))  # 0.0744
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.999 * limit  # fills (-a, a)
    assert w.var() == pytest.approx(limit**2 / 3, rel=0.02)  # the variance of U(-a, a)


def test_the_printed_inverse_error_is_the_largest_entry_off():
    A = np.array([[2.0, 1.0], [1.0, 3.0]])
    X = np.linalg.inv(A)
    X[1, 0] += 0.25
    X[0, 1] -= 0.5
    assert inverse_error(X, A) == pytest.approx(0.5, abs=1e-15)
