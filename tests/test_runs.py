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
from common.runs import DIVERGENCE_FACTOR, DIVERGENCE_WINDOW, RunLog, TrainingDiverged, default_out_dir
from scratch.train import train


def _tiny(n_train: int = 1000) -> Datasets:
    rng = np.random.default_rng(0)
    split = lambda n: DataSet(rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n))  # noqa: E731
    return Datasets(split(n_train), split(50), split(50))


def _loop(config, data, losses_at, *, per_call: int = 1):
    """The twins' loop with a fake step: ``losses_at(step)`` is the loss of global step ``step`` (1-based).

    ``per_call > 1`` records the losses ``per_call`` steps at a time, as tfimpl's graph calls do.
    """
    with RunLog(config, len(data.train), progress=False) as run:
        for epoch in range(run.epochs):
            batches = run.batches(epoch)
            for start in range(0, len(batches), per_call):
                first = run.step + 1
                losses = [losses_at(s) for s in range(first, first + len(batches[start : start + per_call]))]
                if run.record_all(losses):
                    run.log(batch_accuracy=0.5)
            run.validate(1.0, 0.5)
    return run.history, run.stats(1.0, 0.5)


def test_history_epochs_are_exact():
    # 1000 images at batch 100: 10 steps an epoch; logs every 4 steps; 23 steps in all
    history, stats = _loop(RunConfig(batch_size=100, steps=23, log_every=4), _tiny(), lambda s: 2.0)
    train_rows = [(r["step"], r["epoch"]) for r in history if "loss" in r]
    val_rows = [(r["step"], r["epoch"]) for r in history if "val_loss" in r]
    assert train_rows == [(4, 0.4), (8, 0.8), (12, 1.2), (16, 1.6), (20, 2.0), (23, 2.3)]
    assert val_rows == [(10, 1), (20, 2), (23, 2.3)]
    assert stats["epochs"] == 2.3 and stats["steps"] == 23


def test_the_batches_are_the_epochs_permutations_cut_at_the_last_step():
    run = RunLog(RunConfig(batch_size=100, steps=23), 1000, progress=False)
    assert run.epochs == 3 and [len(run.batches(e)) for e in range(3)] == [10, 10, 3]
    seen = np.concatenate([run.batches(e).ravel() for e in range(2)])
    assert sorted(seen[:1000]) == list(range(1000))  # each epoch visits every example once
    assert not np.array_equal(run.batches(0), run.batches(1))  # and each epoch has its own order


def test_summary_timings_are_consistent(mnist):
    s = train(RunConfig(steps=30, log_every=10), mnist, progress=False).summary
    assert s["compile_seconds"] == 0.0 and s["train_seconds"] > 0
    assert s["steps_per_second"] == pytest.approx(30 / s["train_seconds"], rel=1e-12)
    assert s["epochs"] == pytest.approx(30 / 550)


def test_a_nan_names_its_step_and_a_tenth_of_the_rate():
    config = RunConfig(batch_size=100, steps=50, learning_rate=0.5)
    with pytest.raises(TrainingDiverged) as exc:
        _loop(config, _tiny(), lambda s: math.nan if s == 37 else 2.0, per_call=10)
    assert exc.value.step == 37 and exc.value.suggested_rate == 0.05
    assert "at step 37" in str(exc.value) and "--lr 0.05" in str(exc.value)


def test_the_divergence_message_can_say_what_the_curvature_predicted():
    """A twin adds lambda_max at the start; the rate 2 / lambda_max joins the advice, before "Nothing was written"."""
    exc = TrainingDiverged(12, math.inf, RunConfig(learning_rate=50.0))
    assert "lambda_max" not in str(exc) and exc.lambda_max is None
    exc.add_sharpness(4.4067)
    text = str(exc)
    assert "lambda_max = 4.41" in text and "2 / lambda_max = 0.454" in text and "--lr 5" in text
    assert text.endswith(". Nothing was written.") and "\n" not in text


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


def test_ctrl_c_inside_the_loop_says_at_which_step():
    from common.runs import Interrupted

    def losses_at(step):
        if step == 7:
            raise KeyboardInterrupt
        return 2.0

    with pytest.raises(Interrupted, match="interrupted at step 6 of 23; nothing written"):
        _loop(RunConfig(batch_size=100, steps=23), _tiny(), losses_at)


def test_tfimpl_calls_cover_every_step_once_cut_where_rows_fall():
    pytest.importorskip("tensorflow")
    from tfimpl.compiled import call_sizes, calls

    # 55 steps an epoch (5500 images at batch 100), 20 per call, logs every 100, 130 steps:
    # 20, 20, 15 (epoch end), 20, 20, 5 (a log row at step 100), 10 (epoch end), 20
    config = RunConfig(batch_size=100, steps=130, steps_per_call=20)
    assert call_sizes(config, 5500, 20, cut_at_log_rows=True) == [20, 15, 5, 10]
    run = RunLog(config, 5500, progress=False)
    sizes, seen = [], []
    for epoch in range(run.epochs):
        first = epoch * run.per_epoch
        for block in calls(run.batches(epoch), 20, first, config.log_every):
            sizes.append(len(block))
            seen.extend(block.tolist())
    assert sizes == [20, 20, 15, 20, 20, 5, 10, 20]
    assert seen == np.concatenate([run.batches(e) for e in range(run.epochs)]).tolist()
    assert call_sizes(config, 5500, 20, cut_at_log_rows=False) == [20, 15]  # 20, 20, 15, 20, 20, 15, 20


def test_tfimpl_with_steps_not_a_multiple_of_the_call_trains_every_step_once(mnist):
    pytest.importorskip("tensorflow")
    from tfimpl.device import exact_float32
    from tfimpl.train import train as tf_train

    base = {"model": "linear", "batch_size": 1000, "steps": 67, "learning_rate": 0.5}
    with exact_float32():  # bitwise equality needs the same sums every time, on a GPU too
        one = tf_train(RunConfig(**base, steps_per_call=1), mnist, progress=False)
        chunked = tf_train(RunConfig(**base, steps_per_call=20), mnist, progress=False)
    assert chunked.summary["steps"] == 67 and chunked.summary["traces"] == 1
    assert chunked.summary["steps_per_call"] == 20
    for k in one.params:  # the same steps on the same batches, only grouped differently: the same bits
        np.testing.assert_array_equal(one.params[k], chunked.params[k])
    assert one.history == chunked.history  # and the same rows: the calls are cut where rows fall


def test_the_unrolled_loop_trains_the_same_bits_as_the_plain_one(mnist):
    """tfimpl.compiled: 1, 2 or 8 steps written out per loop iteration, the same steps in the same order.
    19 steps: two blocks of 8 and a remainder of 3, so both of the graph's loops run."""
    pytest.importorskip("tensorflow")
    from common.labels import one_hot
    from tfimpl import compiled, models, optimizers
    from tfimpl.backend import tf
    from tfimpl.device import exact_float32
    from tfimpl.train import train_step

    X, T = tf.constant(mnist.train.images[:1900]), tf.constant(one_hot(mnist.train.labels[:1900]))
    order = np.arange(1900).reshape(19, 100)

    def run(unroll, idx):
        params = models.init_params("linear", init="normal", seed=0)
        opt = optimizers.make_optimizer("sgd", 0.5)
        opt.build(list(params.values()))
        run_steps = compiled.make_train_function(lambda x, y: train_step(params, opt, x, y), X, T, 100, unroll=unroll)
        losses = run_steps(tf.constant(idx)).numpy()
        return run_steps.unroll, losses, params["W1"].numpy()

    with exact_float32():
        plain = run(1, order)
        for unroll in (2, 8):
            got = run(unroll, order)
            assert got[0] == unroll
            np.testing.assert_array_equal(got[1], plain[1])
            np.testing.assert_array_equal(got[2], plain[2])
        swapped = run(8, order[[1, 0, *range(2, 19)]])  # negative control: two batches swapped
    assert not np.array_equal(swapped[2], plain[2])
    default = compiled.make_train_function(lambda x, y: tf.reduce_sum(x), X, T, 100)
    assert default.unroll == compiled.UNROLL_CPU  # X lives on the CPU here


_RETRACING_RUNS = """
import json, logging
import numpy as np
from tfimpl import compiled, models
from tfimpl.backend import tf

seen = []
handler = logging.Handler()
handler.emit = lambda record: seen.append(record.getMessage())
tf.get_logger().addHandler(handler)
X, T = tf.constant(np.zeros((200, 784), np.float32)), tf.constant(np.zeros((200, 10), np.float32))
labels = tf.constant(np.zeros(200, np.int64))
for run in range(7):  # seven runs, as compare seeds makes them: new graphs each, each traced once
    params = models.init_params("linear", seed=run)
    compiled.make_train_function(lambda x, y: tf.reduce_sum(x), X, T, 100)(tf.zeros((1, 100), tf.int64))
    evaluate = compiled.make_evaluate(params, loss="softmax_cross_entropy", activation="relu")
    for _ in range(3):  # the warm-up, then validation and test
        evaluate(X, labels)
ours = sum("retracing" in m for m in seen)
for _ in range(6):  # negative control: a function made in a loop of one's own
    tf.function(lambda x: x + 1)(tf.constant(1.0))
print(json.dumps({"ours": ours, "control": sum("retracing" in m for m in seen) - ours}))
"""


def test_the_retracing_warning_is_dropped_for_the_per_run_graphs_and_no_other():
    """Every run traces its own graphs once; TensorFlow counts all runs' graphs as one function and warns of
    retracing after a few. tfimpl.compiled drops that warning for its two per-run graphs, and only for them.

    In a fresh process (TensorFlow gives each function two such warnings per process, and other tests may
    have used them up): seven runs' graphs, built and called as a run does, warn nothing; a function made in
    a loop of one's own still warns (the negative control)."""
    pytest.importorskip("tensorflow")
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _RETRACING_RUNS],
        cwd=Path(__file__).parents[1],
        capture_output=True,
        text=True,
        check=True,
    )
    counts = json.loads(done.stdout.splitlines()[-1])
    assert counts["control"] >= 1, "TensorFlow no longer warns of a function made in a loop"
    assert counts["ours"] == 0


@pytest.mark.parametrize("xla", [False, True])
def test_the_warm_up_compiles_what_each_call_needs_and_trains_nothing(mnist, xla):
    """tfimpl.compiled.warm_up: XLA compiles each shape of ``idx``, so each size runs once; the plain graph's
    one trace serves every size, so one call of one step does it. Afterwards every variable is as before,
    and the first real call does not trace again."""
    pytest.importorskip("tensorflow")
    from common.labels import one_hot
    from tfimpl import compiled, models, optimizers
    from tfimpl.backend import tf
    from tfimpl.train import train_step

    X, T = tf.constant(mnist.train.images[:900]), tf.constant(one_hot(mnist.train.labels[:900]))
    params = models.init_params("linear", init="normal", seed=0)
    opt = optimizers.make_optimizer("adam", 0.01)  # moments and a step count, all to be put back
    opt.build(list(params.values()))
    variables = [*params.values(), *opt.variables]
    before = [v.numpy().copy() for v in variables]
    run_steps = compiled.make_train_function(lambda x, y: train_step(params, opt, x, y), X, T, 100, xla=xla)
    calls = []
    counted = lambda idx: calls.append(tuple(idx.shape)) or run_steps(idx)  # noqa: E731
    counted.graph, counted.xla = run_steps.graph, run_steps.xla
    compiled.warm_up(counted, variables, [5, 4], 100)
    assert calls == ([(5, 100), (4, 100)] if xla else [(1, 100)])
    for v, b in zip(variables, before, strict=True):
        np.testing.assert_array_equal(v.numpy(), b)
    traces = run_steps.graph.experimental_get_tracing_count()
    run_steps(tf.constant(np.arange(500).reshape(5, 100)))
    assert run_steps.graph.experimental_get_tracing_count() == traces
    assert not np.array_equal(params["W1"].numpy(), before[0])  # negative control: a real call does train


def test_the_default_output_folder():
    assert default_out_dir("scratch", RunConfig(model="mlp", optimizer="adam", seed=3)) == Path(
        "runs/scratch-mlp-adam-seed3"
    )
    assert default_out_dir("tfimpl", RunConfig(out="x/y")) == Path("x/y")


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
