"""Curvature beyond the fast tier: TensorFlow's power iteration beside ours, the learning-rate sweep and
lambda_max along a run (python -m scratch curvature), and its one-line errors (docs/math.md#curvature-and-divergence)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from common.config import RunConfig
from common.errors import UserError
from scratch import curvature, models, sharpness
from scratch.cli import main


def test_the_sweep_trains_below_the_edge_and_the_watch_stops_far_above(mnist):
    """The tutorial's rate trains; 128 (280 times 2 / lambda_max) is stopped by the divergence watch."""
    calm, wild = sharpness.rate_sweep(RunConfig(steps=200), mnist, (0.5, 128.0))
    assert calm.stopped_at is None and calm.accuracy > 0.85 and calm.rise < 1 and not calm.rose
    assert wild.stopped_at == 50 and wild.accuracy is None and wild.rose  # the first full 50-step window


def test_lambda_max_along_a_run_starts_where_the_run_starts(mnist):
    config = RunConfig(steps=20)
    steps, values = sharpness.sharpness_along(config, mnist, every=10, examples=200)
    assert steps.tolist() == [0, 10, 20] and np.all(values > 0)
    assert values[0] == curvature.sharpness_at_start(config, mnist, examples=200)  # the same start, the same code
    assert values[2] < values[0]  # SGD at 0.5 leaves the zeros start, where the linear model is sharpest


def test_tensorflows_power_iteration_finds_the_same_eigenvalue(mnist):
    pytest.importorskip("tensorflow")
    from tfimpl import curvature as tf_curvature
    from tfimpl.bridge import to_variables

    x, labels = mnist.train.images[:50].astype(np.float64), mnist.train.labels[:50]
    params = models.init_params("mlp", hidden=(16,), init="normal", std=0.1, seed=0, dtype=np.float64)
    ours, _ = curvature.top_eigenvalue(params, x, labels, iterations=40)
    theirs, v = tf_curvature.top_eigenvalue(to_variables(params), x, labels, iterations=40)
    # different random starts, the same top eigenvalue: 40 iterations leave about 1e-8 here (from 300)
    assert theirs == pytest.approx(ours, rel=1e-6)
    with pytest.raises(UserError, match="v\\['b2'\\] is missing"):
        tf_curvature.hvp(to_variables(params), x, labels, {k: a for k, a in v.items() if k != "b2"})
    with pytest.raises(UserError, match="iterations must be a whole number > 0"):
        tf_curvature.top_eigenvalue(to_variables(params), x, labels, iterations=0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--iterations", "0"], "error: --iterations must be a whole number > 0, got 0"),
        (["--out", "figure.pdf"], "error: --out figure.pdf: give a path ending in .png for the figure"),
    ],
)
def test_bad_input_to_the_curvature_command_is_one_line_before_any_work(args, message, capsys, monkeypatch):
    monkeypatch.setattr(sharpness, "curvature_experiment", lambda *a, **k: pytest.fail("work started"))
    assert main(["curvature", *args]) == 2
    assert capsys.readouterr().err == message + "\n"


def test_the_experiment_refuses_zero_iterations_as_a_function_too(mnist):
    with pytest.raises(UserError, match="iterations must be a whole number > 0, got 0"):
        sharpness.curvature_experiment(mnist, iterations=0)
    with pytest.raises(UserError, match="examples must be a whole number > 0"):
        curvature.sharpness_at_start(replace(RunConfig(), model="linear"), mnist, examples=0)
