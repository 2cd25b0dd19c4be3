"""The benchmark machinery: the grid, the products' arithmetic, the checks, the crossover and the report files."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import time

import numpy as np
import pytest

from benchmarks import __main__ as bench_cli
from benchmarks import analysis, report, roofline, workloads
from benchmarks.builders import build
from common.data import DataSet, Datasets
from common.errors import InputTypeError


def test_product_shapes_and_flops_of_the_mlp_step():
    shapes = workloads.product_shapes("mlp", 100, "train")
    assert shapes == [
        ((100, 784), (784, 300), "a@b"),  # x W1
        ((100, 784), (100, 300), "a.T@b"),  # dW1 = x^T dh
        ((100, 300), (300, 10), "a@b"),  # h W2
        ((100, 300), (100, 10), "a.T@b"),  # dW2 = h^T dz
        ((100, 10), (300, 10), "a@b.T"),  # dh = dz W2^T; none for the first layer
    ]
    assert workloads.flops("mlp", 100, "train") == 2 * (2 * 100 * 784 * 300 + 3 * 100 * 300 * 10)
    assert workloads.flops("linear", 10, "forward") == 2 * 10 * 784 * 10


def test_cases_cover_the_grid_and_only_tensorflow_moves_to_the_gpu():
    cases = list(workloads.cases(device_names=["cpu", "gpu"]))
    assert {c.device for c in cases if c.implementation == "scratch"} == {"cpu"}
    assert {c.device for c in cases if c.implementation == "tfimpl-xla"} == {"cpu", "gpu"}
    steps = {(c.implementation, c.batch_size) for c in cases if c.operation == "train_step" and c.model == "wide"}
    assert steps == {(i, b) for i in workloads.IMPLEMENTATIONS for b in workloads.BATCH_SIZES}
    assert not [c for c in cases if c.operation == "loss_and_grads" and c.implementation == "keras"]
    assert min(c.batch_size for c in cases if c.operation == "epoch") == 100
    assert len({c.id for c in cases}) == len(cases)


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


@pytest.mark.parametrize("impl", ["scratch", "tfimpl-graph", "keras"])
def test_checks_reject_wrong_results(tf, mnist, impl):
    """Negative controls for the benchmarks' own assertions: each check fails on a wrong answer."""
    fwd = build(workloads.Case("forward", impl, "mlp", 10), mnist)
    fwd.check(fwd.run())
    with pytest.raises(AssertionError):
        fwd.check(np.zeros((10, 10), np.float32))
    with pytest.raises(AssertionError):
        fwd.check(fwd.run()[:5])

    train = build(workloads.Case("train_step", impl, "linear", 10), mnist, steps=2)
    with pytest.raises(AssertionError, match="did not move"):
        train.check([0.1, 0.2])  # nothing has run yet
    losses = train.run()
    train.check(losses)
    with pytest.raises(AssertionError):
        train.check([float("nan")])


def test_evaluation_check_compares_with_numpy(tf, mnist):
    ev = build(workloads.Case("evaluate", "tfimpl-eager", "linear", 1000), mnist)
    loss, acc = ev.run()
    ev.check((loss, acc))
    with pytest.raises(AssertionError):
        ev.check((loss, acc + 0.01))  # 100 more right answers than NumPy found


def test_crossing_interpolates_in_log_batch():
    b, text, changes = analysis.crossing([(1, 0.5, "a"), (10, 0.8, "a"), (100, 2.0, "tfimpl-graph")])
    expected = 10 ** (1 + math.log(1 / 0.8) / math.log(2.0 / 0.8))
    assert b == pytest.approx(expected) and 10 < b < 100 and len(changes) == 1
    assert "a at 10, tfimpl-graph at 100" in text and "between 10 and 100" in text
    b, text, changes = analysis.crossing([(1, 1.5, "a"), (10, 3.0, "a")])
    assert b is None and not changes and "ahead of NumPy at every batch" in text
    b, text, changes = analysis.crossing([(1, 0.5, "a"), (10, 0.9, "a")])
    assert b is None and not changes and "behind NumPy at every batch" in text


def test_every_change_of_leader_is_named_on_a_non_monotonic_series():
    """Ahead at 1, behind at 10 and 100, ahead again from ~379: three statements, not one."""
    ratios = [(1, 2.48, "x"), (10, 0.8, "x"), (100, 0.7, "x"), (1000, 1.4, "x"), (10000, 1.6, "x")]
    b, text, changes = analysis.crossing(ratios)
    assert [c["leader"] for c in changes] == ["NumPy", "TensorFlow"]
    assert changes[0]["between"] == [1, 10] and changes[1]["between"] == [100, 1000]
    up = 10 ** (2 + math.log(1 / 0.7) / math.log(1.4 / 0.7))
    assert b == pytest.approx(up) == changes[1]["batch_size"]
    assert text.startswith("ahead of NumPy at batch 1; falls behind NumPy at about")
    assert f"overtakes NumPy at about {up:,.0f}" in text
    # behind again at the end: the lead changes three times and TensorFlow does not hold it
    b, text, changes = analysis.crossing([*ratios, (100000, 0.9, "x")])
    assert b is None and len(changes) == 3 and changes[-1]["leader"] == "NumPy"


def test_the_plot_marks_the_reports_own_changes(tmp_path):
    """The vertical lines in the plot sit at the batch sizes the table prints."""
    from benchmarks import report_plot

    rows = []
    for impl, rates in (("scratch", (100, 50, 20)), ("tfimpl-graph", (40, 60, 15))):
        for b, r in zip((1, 10, 100), rates, strict=True):
            rows.append({"operation": "train_step", "implementation": impl, "model": "mlp", "batch_size": b,
                         "device": "cpu", "steps_per_second": r, "steps_per_second_min": 0.9 * r,
                         "steps_per_second_max": 1.1 * r, "examples_per_second": r * b, "steps_per_call": 1,
                         "roofline_seconds_per_call": 1 / (1000 * r)})  # fmt: skip
    crossovers = analysis.crossovers(rows)
    marked = [c["batch_size"] for x in crossovers if x["implementation"] == "tfimpl-graph" for c in x["changes"]]
    assert len(marked) == 2
    report = {"measurements": rows, "crossovers": crossovers, "machine": _machine()}
    import matplotlib.pyplot as plt

    drawn = []
    original = plt.Axes.axvline
    plt.Axes.axvline = lambda self, x, *a, **k: drawn.append(x) or original(self, x, *a, **k)
    try:
        assert report_plot.plot(report, "train_step", tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    finally:
        plt.Axes.axvline = original
    assert sorted(set(drawn)) == pytest.approx(
        sorted(
            set(
                marked
                + [c["batch_size"] for x in crossovers if x["implementation"] == "best tfimpl" for c in x["changes"]]
            )
        )
    )


def _machine():
    from benchmarks.machine import describe_machine

    return describe_machine()


def _row(impl, model, steps_per_second, efficiency=0.5, own=0.7):
    return {
        "operation": "train_step",
        "implementation": impl,
        "model": model,
        "batch_size": 100,
        "device": "cpu",
        "steps_per_second": steps_per_second,
        "examples_per_second": 100 * steps_per_second,
        "products_alone_ratio": efficiency,
        "products_alone_own_ratio": own,
    }


def test_targets_are_ratios_in_one_run():
    rows = [
        _row("scratch", "linear", 9000),
        _row("keras", "linear", 300),
        _row("tfimpl-graph", "linear", 400),
        _row("scratch", "mlp", 800, efficiency=0.4, own=0.65),
        _row("keras", "mlp", 200),
        _row("tfimpl-xla", "mlp", 350),
    ]
    got = {t["target"]: (round(t["measured"], 3), t["met"]) for t in analysis.targets(rows)}
    assert got["scratch linear / Keras fit"] == (30.0, True)
    assert got["scratch mlp / Keras fit"] == (4.0, True)
    assert got["scratch mlp: products alone (NumPy) / step"] == (0.65, True)
    assert got["scratch mlp: products alone (fastest library) / step"] == (0.4, False)
    assert got["best tfimpl linear (tfimpl-graph) / Keras fit"] == (1.333, False)
    assert got["best tfimpl mlp (tfimpl-xla) / Keras fit"] == (1.75, True)


def test_the_verdict_weighs_speed_against_compile_time():
    rows = [
        _row("scratch", "mlp", 500),
        {**_row("tfimpl-xla", "mlp", 1000), "compile_seconds": 0.7},
        {**_row("tfimpl-graph", "mlp", 400), "compile_seconds": 0.2},
        _row("keras", "mlp", 250),
        _row("scratch", "linear", 5000),
        {**_row("tfimpl-xla", "linear", 4000), "compile_seconds": 0.5},
    ]
    got = {v["model"]: v for v in analysis.verdict(rows)}
    mlp = got["mlp"]
    assert mlp["best_tf"] == "tfimpl-xla" and mlp["best_tf_over_scratch"] == 2.0 and mlp["scratch_over_keras"] == 2.0
    assert mlp["payback_steps"] == pytest.approx(0.7 / (1 / 500 - 1 / 1000))  # 700 steps
    assert "700 steps (1.3 epochs)" in mlp["advice"] and "2.00x NumPy" in mlp["advice"]
    # NumPy faster than every TensorFlow path: nothing to pay back, and the advice says so
    assert got["linear"]["payback_steps"] is None and got["linear"]["advice"].startswith("NumPy by hand is the fastest")
    assert got["linear"]["keras"] is None


@pytest.fixture(scope="module")
def report_run(tf, tmp_path_factory):
    """One small report run, shared by the tests below (the train loop shortened: the linear model, 220 steps,
    once, scratch's only, without TensorFlow in its process; time to accuracy with the linear recipe's target
    at 90%, which one epoch reaches, not its 92%)."""
    from dataclasses import replace

    from benchmarks import accuracy

    out = tmp_path_factory.mktemp("report") / "report"
    saved = accuracy.RECIPES["linear"]
    accuracy.RECIPES["linear"] = replace(saved, target=0.90)
    try:
        rep = report.run_report(
            out,
            operations=("train_step",),  # forward's path: benchmarks/bench_suite.py's smoke cases
            implementations=("scratch", "tfimpl-xla", "keras"),
            models=("mlp",),
            batch_sizes=(100, 1000),  # 1,000: where a peak timed once, busy, was beaten by 24%
            seconds=0.01,
            warmup=1,
            min_rounds=1,
            command="test",
            accuracy_models=("linear",),
            loop=(
                *("--steps", "220", "--pairs", "1", "--max-pairs", "1", "--step-seconds", "0.1"),
                *("--models", "linear", "--scratch-only"),
            ),
            progress=False,
            peak_seconds=0.1,  # still at least 3 rounds of each product; the report's default is 0.3 s
            one_thread=False,  # the per-core figure's second process: test_one_thread_rates_run_in_a_process_of_their_own
        )
    finally:
        accuracy.RECIPES["linear"] = saved
    return out, rep, json.loads((out / "results.json").read_text())


def test_report_writes_json_markdown_and_plots(report_run):
    out, rep, data = report_run
    assert data["machine"]["cores"] >= 1 and data["machine"]["numpy_blas"]["name"]
    meas = data["measurements"]
    assert len(meas) == 3 * 2  # train_step x 3 implementations x 2 batch sizes, the MLP, CPU
    for m in meas:
        for key in ("implementation", "model", "batch_size", "device", "steps_per_second", "examples_per_second"):
            assert key in m
        assert m["steps_per_second"] > 0 and m["flops_per_step"] > 0 and m["bytes_per_step"] > 0
        assert m["examples_per_second"] == pytest.approx(m["steps_per_second"] * m["batch_size"])
        assert m["steps_per_second_min"] <= m["steps_per_second"] <= m["steps_per_second_max"]  # the spread
    assert {m["steps_per_call"] for m in meas if m["operation"] == "train_step" and m["batch_size"] == 100} == {
        workloads.ROUND_STEPS
    }
    assert len(data["bounds"]) == 2  # train x (100, 1000), the MLP
    got = {(c["operation"], c["implementation"]) for c in data["crossovers"]}
    assert got == {("train_step", i) for i in ("best tfimpl", "tfimpl-xla", "keras")}
    md = (out / "report.md").read_text()
    assert "| mlp | scratch | cpu |" in md and "## The project's own targets" in md and data["machine"]["numpy"] in md
    assert "Largest efficiency in this report" in md and "set by" in md
    # the answer comes first, the internal targets last
    assert md.index("## Verdict") < md.index("## Time to accuracy") < md.index("## The project's own targets")
    assert [v["model"] for v in data["verdict"]] == ["mlp"] and data["verdict"][0]["compile_seconds"] >= 0
    cpu = data["peaks"]["cpu"]
    assert cpu["gemm_flops"] >= cpu["gemm_flops_measured"] and [t["when"] for t in cpu["timings"]] == ["start", "end"]
    # the products timed for the peak: two squares and this report's own largest, at batch 1,000 (not 10,000)
    for timing in cpu["timings"]:
        for library in ("numpy", "tensorflow"):
            shapes = set(timing["measured"][library]["gemm_by_shape"])
            assert shapes == {"1024x1024x1024", "2048x2048x2048", "1000x784x300", "1000x784x1024"}, shapes
    assert cpu["gemm_set_by"].split(":")[0] in (
        "measured",
        "per core x 2 cores",
        "physical",
        f"per core x {data['machine']['usable_cores']} cores",
    )
    assert "## Time to accuracy" in md and "## Does `train` run at the speed" in md and "roofline" in md
    assert "](train_step.png)" in md  # the report shows its plots (the book renders report.md)
    assert (out / "train_step.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (out / "forward.png").exists() and "](forward.png)" not in md  # nothing measured, nothing drawn
    assert rep["wall_seconds"] > 0 and data["precision"]["cpu"] == "float32"
    # the loop table, from `python -m benchmarks loop` in its own process, with the arguments it was given
    [row] = data["loop"]
    assert (row["implementation"], row["model"], row["pairs"], row["loop_steps"]) == ("scratch", "linear", 1, 220)
    assert row["ratio_min"] <= row["ratio"] <= row["ratio_max"] and row["train_steps_per_second"] > 0
    assert "up to 1; a row whose" in md and "| too few pairs |" in md  # the rule as the rows record it


def _efficiencies(obj, path=""):
    """Every value under a key that says "efficiency", anywhere in results.json."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if "efficiency" in k and isinstance(v, int | float):
                yield f"{path}.{k}", v
            yield from _efficiencies(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _efficiencies(v, f"{path}[{i}]")


def test_the_tensorflow_peak_graphs_are_traced_once_for_all_shapes(report_run):
    """The report timed its peaks twice (start and end), each over four products and four copy sizes: one
    trace of each graph served them all (a trace per shape cost the report about 0.7 s a timing)."""
    gemm_loop, copy_loop, _ = roofline.tensorflow_loops(False)
    assert len(report_run[2]["peaks"]["cpu"]["timings"]) == 2
    assert gemm_loop.experimental_get_tracing_count() == copy_loop.experimental_get_tracing_count() == 1


def test_no_efficiency_exceeds_100_percent(report_run):
    """On a report run the roofline is a bound, batch 1,000 included, where a peak timed once on a busy machine was beaten."""
    _, rep, data = report_run
    found = dict(_efficiencies(data))
    assert len(found) == len(rep["measurements"]) and all(0 < v <= 1 for v in found.values()), found


def test_time_to_accuracy_is_reported(report_run):
    rows = {(r["implementation"], r["device"]): r for r in report_run[1]["time_to_accuracy"]}
    assert {("scratch", "cpu"), ("tfimpl-xla", "cpu"), ("keras", "cpu")} <= set(rows)
    for r in rows.values():  # the fixture's target: 90%, in one epoch
        assert r["reached"] and r["target"] == 0.90 <= r["accuracy"] and r["epochs"] == 1
        assert 0 < r["steady_seconds"] <= r["wall_seconds"]
    assert rows[("scratch", "cpu")]["compile_seconds"] == 0 < rows[("tfimpl-xla", "cpu")]["compile_seconds"]


def test_the_efficiency_check_can_fail():
    """Negative control: a key named efficiency above 1 is found, however deep."""
    assert dict(_efficiencies({"a": [{"efficiency": 1.2}]})) == {".a[0].efficiency": 1.2}


def _timing(when, numpy, tensorflow=None, one_thread=None):
    def lib(flops):
        return {"gemm_flops": flops, "gemm_by_shape": {"2048x2048x2048": flops}, "bandwidth": 1e11}

    measured = {"numpy": lib(numpy)} | ({"tensorflow": lib(tensorflow)} if tensorflow else {})
    per_core = (
        None if one_thread is None else {"one_thread": {"numpy": one_thread}, "cores": 2, "gemm_flops": 2 * one_thread}
    )
    return {"cpu": {"when": when, "measured": measured, "per_core_x_cores": per_core}}


def test_the_ceiling_is_the_largest_figure_and_names_it(monkeypatch):
    """A busy start (half the machine) cannot lower the ceiling: the end, or one core times the cores, hold it."""
    monkeypatch.setattr(roofline, "physical_peak", lambda: None)
    busy, quiet = _timing("start", 2.1e11, one_thread=2.0e11), _timing("end", 4.0e11, 4.2e11)
    got = roofline.ceiling(busy, quiet)["cpu"]
    assert (
        got["gemm_flops"] == 4.2e11
        and got["gemm_set_by"].startswith("measured: tensorflow")
        and "end" in got["gemm_set_by"]
    )
    assert got["gemm_flops_per_core_x_cores"] == 4.0e11
    # busy at both timings: the one-thread figure, which a second program cannot halve, sets it
    got = roofline.ceiling(busy, _timing("end", 2.2e11))["cpu"]
    assert got["gemm_flops"] == 4.0e11 and got["gemm_set_by"].startswith("per core x 2 cores: numpy")
    # negative control: the start timing alone, busy, is the old bound, which a quiet step at 3e11 beats
    assert roofline.ceiling(_timing("start", 2.1e11))["cpu"]["gemm_flops"] < 3e11


def test_one_thread_rates_run_in_a_process_of_their_own():
    """The per-core figure: NumPy's best product on one BLAS thread, measured in a second process."""
    got = roofline.one_thread_peak(0.02, False, [(512, 512, 512)])
    assert set(got) == {"numpy"} and 1e9 < got["numpy"] < 1e13  # FLOP/s of one x86 core, within reason


def test_the_peak_products_are_squares_and_the_reports_own_largest():
    """The default (a report up to batch 10,000) and a report that stops at 1,000, or runs only small batches."""
    assert roofline.GEMM_SHAPES["cpu"] == [
        (1024, 1024, 1024),
        (2048, 2048, 2048),
        (1000, 784, 300),
        (1000, 784, 1024),
        (10000, 784, 300),
        (10000, 784, 1024),
    ]
    assert roofline.gemm_shapes("gpu", (100, 1000))[:2] == [(4096, 4096, 4096), (8192, 8192, 8192)]
    assert roofline.gemm_shapes("cpu", (100, 1000))[2:] == [(1000, 784, 300), (1000, 784, 1024)]
    assert roofline.gemm_shapes("cpu", (1, 10, 100)) == [(1024, 1024, 1024), (2048, 2048, 2048)]


def test_the_physical_peak_is_cores_fma_lanes_and_clock(monkeypatch):
    monkeypatch.setattr(roofline, "cpu_clock", lambda: (3000.0, "test"))
    got = roofline.physical_peak({"cpu_flags": ["avx2", "fma", "avx512f"], "usable_cores": 2})
    assert got["gemm_flops"] == 2 * 2 * 16 * 2 * 3000e6 and got["lanes"] == 16
    assert roofline.physical_peak({"cpu_flags": ["avx2", "fma"], "usable_cores": 4})["lanes"] == 8
    monkeypatch.setattr(roofline, "cpu_clock", lambda: (None, "no clock reported"))
    assert roofline.physical_peak({"cpu_flags": [], "usable_cores": 2}) is None


def test_centred_pairs_cancel_a_steady_drift(monkeypatch, mnist):
    """The machine slows by 10% per measurement; the loop runs at exactly its step's speed at each moment.
    Centred pairs read 1.0; the old protocol (best of each) read the drift instead."""
    from benchmarks import loop

    clock = iter(range(100))
    speed = lambda: 1000 * 0.9 ** next(clock)  # noqa: E731  (steps/s at this moment)
    monkeypatch.setattr(loop, "step_rate", lambda w, seconds: speed())
    monkeypatch.setattr(loop, "_train_rate", lambda impl, model, data, steps: speed())
    monkeypatch.setattr(loop, "build", lambda case, data: None)
    row = loop.loop_rows(mnist, implementations=("scratch",), models=("linear",), pairs=4, max_pairs=None)[0]
    # each loop at 0.9^k against the mean of 0.9^(k-1) and 0.9^(k+1): 0.9 / ((1 + 0.81) / 2) = 0.994
    assert row["ratio"] == pytest.approx(0.9 / 0.905) and row["ratio_min"] == pytest.approx(row["ratio_max"])
    clock = iter(range(100))
    steps, loops = [speed() for _ in range(0, 9, 2)], [speed() for _ in range(1, 9, 2)]
    assert max(loops) / max(steps) < 0.9  # negative control: best of each, a drift reads as a slow loop


def test_the_median_interval_is_the_order_statistics_binomial_odds_give():
    """Nine ratios: the 2nd and 8th smallest, 96.1%; 27: the 8th and 20th, 98.1%; five have none at 95%.
    Drawn 20,000 times from a skewed law, the nine-value interval holds the true median 96% of the time;
    the 3rd and 7th (the negative control) hold it only 82% of the time."""
    from benchmarks.analysis import median_interval

    assert median_interval(range(1, 10)) == pytest.approx((2, 8, 1 - 2 * 10 / 512))
    assert median_interval(range(27, 0, -1)) == pytest.approx((8, 20, 0.98084), abs=1e-5)
    assert median_interval(range(5)) is None and median_interval(range(6))[:2] == (0, 5)
    assert median_interval(range(2000), 0.99)[:2] == (941, 1058)  # 2^2000 is past a float: exact integers
    with pytest.raises(ValueError, match="level must lie strictly between 0 and 1"):
        median_interval(range(9), 95)
    rng = np.random.default_rng(0)
    draws = np.sort(rng.exponential(size=(20_000, 9)), axis=1)
    median = np.log(2)  # the exponential law's median
    held = [low <= median <= high for low, high, _ in map(median_interval, draws)]
    assert np.mean(held) == pytest.approx(0.961, abs=0.006)
    assert np.mean((draws[:, 2] <= median) & (median <= draws[:, 6])) == pytest.approx(0.820, abs=0.01)


def test_the_pair_rule_calls_a_row_at_the_target_wrongly_under_5_percent():
    """The interval is looked at after each pair from 9 to 45. For a loop whose true median is exactly 0.9,
    a row should end with an interval leaving 0.9 out under 5% of the time: at 99% a look, 3.4% (4,000
    simulated rows, standard error 0.3%). The negative control, 95% a look, calls such a row 15% of the time."""
    from benchmarks import loop

    rng = np.random.default_rng(1)

    def wrongly_called(level: float) -> float:
        called = 0
        for _ in range(4000):
            ratios = list(loop.TARGET + rng.normal(0, 0.05, loop.MAX_PAIRS))  # median exactly at the target
            n = loop.PAIRS
            while n < loop.MAX_PAIRS and loop.more_pairs_due(ratios[:n], loop.PAIRS, level):
                n += 1
            called += not loop.more_pairs_due(ratios[:n], 0, level)
        return called / 4000

    assert wrongly_called(loop.CONFIDENCE) < 0.05
    assert wrongly_called(0.95) > 0.10


def test_pairs_are_added_while_the_median_interval_holds_the_target(monkeypatch, mnist):
    """Ratios alternating 0.85 and 0.95 never tell which side of 0.9 the loop is on: the row takes every pair
    it may (15 here) and says so. Ratios of 1.10 and 1.12 are decided by the first nine."""
    from benchmarks import loop
    from benchmarks.report_md import loop_table

    monkeypatch.setattr(loop, "step_rate", lambda w, seconds: 1000.0)
    monkeypatch.setattr(loop, "build", lambda case, data: None)
    for cycle, taken in (([850.0, 950.0], 15), ([1100.0, 1120.0], 9)):
        rates = itertools.cycle(cycle)
        monkeypatch.setattr(loop, "_train_rate", lambda impl, model, data, steps, rates=rates: next(rates))
        [row] = loop.loop_rows(mnist, implementations=("scratch",), models=("linear",), steps=550, max_pairs=15)
        assert row["pairs"] == len(row["ratios"]) == taken
        low, high = row["ratio_interval"]
        assert (low <= loop.TARGET <= high) == (taken == 15) == (not row["decided"])
        assert row["interval_coverage"] >= loop.CONFIDENCE
        if taken == 15:
            assert "| 0.85-0.95 (15) | **no**, too near to tell |" in loop_table([row])[2]
    assert "| 1.100 | 1.100-1.120 (99.6%) | 1.10-1.12 (9) | yes |" in loop_table([row])[2]
    with pytest.raises(ValueError, match=r"max_pairs \(3\) must be at least pairs \(9\)"):
        loop.loop_rows(mnist, implementations=("scratch",), models=("linear",), max_pairs=3)


def test_the_step_rate_counts_the_slow_calls_as_the_loop_does(monkeypatch):
    """Three calls of 1 ms and one of 5 ms, 10 steps each: 40 steps in 8 ms is 5,000 steps/s, the figure a
    loop meeting the same stall reports; the median call (1 ms), the old reading, would say 10,000."""
    from types import SimpleNamespace

    from benchmarks import loop

    now, calls = [0.0], []

    def run():
        calls.append(None)
        now[0] += 0.005 if len(calls) % 4 == 0 else 0.001
        return "result"

    checked = []
    w = SimpleNamespace(steps=10, warm_up=lambda n: None, run=run, check=checked.append)
    monkeypatch.setattr(loop.time, "perf_counter", lambda: now[0])
    assert loop.step_rate(w, 0.008) == pytest.approx(5000)
    assert len(calls) == 4 and checked == ["result"]


def test_each_step_window_lasts_as_long_as_the_train_run_before_it(monkeypatch, mnist):
    from benchmarks import loop

    windows = []
    rates = iter([1000.0, 100.0, 4000.0])  # 1,100 steps: 1.1 s, 11 s, 0.275 s (under the 0.5 s floor)
    monkeypatch.setattr(loop, "step_rate", lambda w, seconds: windows.append(seconds) or 1000.0)
    monkeypatch.setattr(loop, "_train_rate", lambda impl, model, data, steps: next(rates))
    monkeypatch.setattr(loop, "build", lambda case, data: None)
    loop.loop_rows(
        mnist, implementations=("scratch",), models=("linear",), pairs=3, max_pairs=None, steps=1100, step_seconds=0.5
    )
    assert windows == pytest.approx([0.5, 1.1, 11.0, 0.5])


def test_a_train_run_lasts_whole_epochs_and_about_a_second(monkeypatch, mnist):
    from benchmarks import loop

    assert loop.loop_steps_for(3000.0, 550) == 6 * 550  # 5.5 epochs in a second: six
    assert loop.loop_steps_for(400.0, 550) == 2 * 550  # under one epoch a second: the floor of two
    assert loop.loop_steps_for(1e9, 550) * 1e-9 >= loop.LOOP_SECONDS
    asked = []
    monkeypatch.setattr(loop, "step_rate", lambda w, seconds: 3000.0)
    monkeypatch.setattr(loop, "_train_rate", lambda impl, model, data, steps: asked.append(steps) or 3000.0)
    monkeypatch.setattr(loop, "build", lambda case, data: None)
    [row] = loop.loop_rows(mnist, implementations=("scratch",), models=("linear",), pairs=2, max_pairs=None)
    per_epoch = len(mnist.train.images) // 100
    assert asked == [row["loop_steps"]] * 2 and row["loop_steps"] == loop.loop_steps_for(3000.0, per_epoch)


def test_step_bytes_count_the_least_traffic():
    # linear forward at batch 1: read the image (784) and W and b (7850), write the logits (10)
    assert roofline.step_bytes("linear", 1, "forward") == 4 * (784 + 7850 + 10)
    # a train step reads the labels (10) instead, and writes W and b back (7850)
    assert roofline.step_bytes("linear", 1, "train") == 4 * (784 + 7850 + 10 + 7850)
    peaks = {"gemm_flops": 1e11, "bandwidth": 1e10}
    compute = workloads.flops("mlp", 1000, "train") / 1e11
    assert roofline.roofline_seconds(peaks, "mlp", 1000, "train") == pytest.approx(compute)  # compute-bound


@pytest.mark.parametrize(
    "argv, message",
    [
        (["report", "--batch-sizes", "0,10"], "batch sizes must be positive"),
        (["report", "--batch-sizes", "ten"], "comma-separated integers"),
        (["report", "--models", "huge"], "unknown ['huge']"),
        (["report", "--operations", "backward"], "unknown ['backward']"),
    ],
)
def test_cli_refuses_nonsense(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        bench_cli.main(argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_cli_refuses_nonpositive_seconds():
    with pytest.raises(SystemExit, match="--seconds must be positive"):
        bench_cli.main(["report", "--seconds", "0"])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--pairs", "0"], "--pairs must be at least 1"),
        (["--steps", "0"], "--steps must be at least 1"),
        (["--step-seconds", "-1"], "--step-seconds must be positive"),
        (["--pairs", "12", "--max-pairs", "10"], r"--max-pairs must be at least --pairs \(12\), got 10"),
        (["--parts", "--max-pairs", "20"], "--max-pairs and --step-seconds do not apply"),
    ],
)
def test_the_loop_command_refuses_nonsense(argv, message):
    with pytest.raises(SystemExit, match=message):
        bench_cli.main(["loop", *argv])


@pytest.mark.parametrize("command, option", [("loop", "--max-pairs"), ("report", "--no-progress")])
def test_each_command_prints_its_help(command, option, capsys):
    """argparse formats each help string with %: a bare "95%" in one broke ``loop --help`` with a TypeError."""
    with pytest.raises(SystemExit) as exc:
        bench_cli.main([command, "--help"])
    assert exc.value.code == 0 and option in capsys.readouterr().out


def test_a_failing_loop_process_raises():
    """The report's loop table comes from a process of its own; if that process fails, the call raises (the
    report with it, the child's message on stderr) rather than returning an empty table."""
    from benchmarks import loop

    with pytest.raises(subprocess.CalledProcessError):
        loop.loop_rows_in_fresh_process(["--models", "no-such-model"])


def test_convbench_times_each_repeat_once_and_takes_the_median():
    """convbench's helper is the shared timing loop with one call a round: ``repeat`` calls, their median."""
    from benchmarks import convbench

    sleeps = iter([0.001, 0.03, 0.002])  # one slow call among three: the median ignores it
    calls = []

    def fn():
        calls.append(1)
        time.sleep(next(sleeps))

    ms = convbench.median_ms(fn, 3)
    assert len(calls) == 3 and 1.5 <= ms < 10, ms  # the median call slept 2 ms; their mean is at least 11


def test_the_loop_parts_are_timed_inside_a_real_train_run(mnist):
    """benchmarks.loop.loop_parts wraps what scratch's loop calls in a clock for one run of scratch.train.train
    and counts each call: every step, every epoch's shuffle and validation, every history row, and not the
    test split scored after the run. The wrappers are gone afterwards."""
    import scratch.train as np_train
    from benchmarks import loop
    from common.runs import RunLog
    from scratch import models as np_models

    wrapped = lambda: (  # noqa: E731
        np_train.train_step,
        RunLog.record,
        RunLog.batches,
        RunLog.log,
        np_models.accuracy,
        np_models.evaluate,
    )
    before = wrapped()
    out = loop.loop_parts(mnist, "linear", steps=1100)  # two epochs of 550; a history row every 100 steps
    parts = out["parts"]
    assert parts["step"]["calls"] == parts["bookkeeping"]["calls"] == 1100
    assert parts["shuffle"]["calls"] == parts["validation"]["calls"] == 2  # the test split's scoring not counted
    assert parts["batch accuracy"]["calls"] == parts["history row"]["calls"] == 11
    assert all(p["seconds"] > 0 for p in parts.values())
    assert sum(p["share"] for p in parts.values()) < 1  # the loop's own lines are in none of them
    assert wrapped() == before
    wide = DataSet(mnist.train.images[:1000].astype(np.float64), mnist.train.labels[:1000])
    with pytest.raises(InputTypeError):  # raised inside the run, with every wrapper in place
        loop.loop_parts(Datasets(wide, mnist.validation, mnist.test), "linear", steps=10)
    assert wrapped() == before  # and taken off again
    text = "\n".join(loop.parts_table(out))
    extra = sum(parts[name]["share"] for name in loop.PARTS)
    assert f"take {extra:.1%} of the run" in text and f"at {1 - extra:.2f} of it" in text
