"""compare: the whole suite passes, every negative control fails, and the command reports both."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="compare needs TensorFlow: pip install -e '.[dev]'")

from compare import checks, controls
from compare.cli import main


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """``python -m compare --json`` once: (exit code, rows)."""
    path = tmp_path_factory.mktemp("compare") / "rows.json"
    code = main(["--json", str(path)])
    return code, json.loads(path.read_text())


def _rows(report, prefix):
    return [r for r in report[1] if r["check"].startswith(prefix)]


def test_command_exits_zero_and_writes_every_field(report):
    code, rows = report
    assert code == 0
    for key in ("check", "dtype", "max_abs_error", "max_rel_error", "tolerance", "passed"):
        assert all(key in r for r in rows), key
    assert {r["dtype"] for r in rows} == {"float32", "float64"}


@pytest.mark.parametrize(
    ("family", "at_least"),
    [("forward", 18), ("gradient", 40), ("optimizer", 8), ("train", 12), ("crossload", 8)],
)
def test_every_family_passes_in_both_dtypes(report, family, at_least):
    rows = _rows(report, family)
    assert len(rows) >= at_least
    failed = [(r["check"], r["dtype"], r["max_rel_error"]) for r in rows if not r["passed"]]
    assert not failed, failed


def test_stated_tolerances_are_the_ones_used(report):
    by = {(r["check"], r["dtype"]): r for r in report[1]}
    assert by[("gradient mlp softmax_cross_entropy", "float64")]["tolerance"] == 1e-10
    assert by[("gradient linear softmax_cross_entropy tfimpl vs finite differences", "float64")]["tolerance"] == 1e-7
    assert by[("optimizer adam x100 steps", "float64")]["tolerance"] == 1e-9
    assert by[("train mlp lockstep: test predictions", "float64")]["max_abs_error"] == 0  # identical predictions
    assert by[("train mlp lockstep: test accuracy gap", "float32")]["max_abs_error"] <= 0.001


def test_every_optimizer_is_covered_for_100_steps(report):
    names = {r["check"] for r in _rows(report, "optimizer")}
    assert names == {f"optimizer {o} x100 steps" for o in ("sgd", "momentum", "adagrad", "adam")}


def test_each_negative_control_is_reported_as_fail(report):
    rows = _rows(report, "CONTROL")
    assert len(rows) == 4
    assert all(not r["passed"] and r["expected_to_fail"] for r in rows)
    assert all(r["max_rel_error"] > 1e3 * r["tolerance"] for r in rows)  # fails by a wide margin


def test_a_real_failure_makes_the_command_exit_nonzero(monkeypatch, capsys):
    wrong = checks.Row("forward softmax", "float64", 1.0, 1.0, 1e-10, False)
    monkeypatch.setattr(checks, "forward_rows", lambda data: [wrong])
    assert main(["forward"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "NOT: forward softmax" in out


def test_a_control_that_passes_makes_the_command_exit_nonzero(monkeypatch):
    ok = checks.Row("CONTROL something", "float64", 0.0, 0.0, 1e-10, True)
    monkeypatch.setattr(controls, "control_rows", lambda data: [ok])
    assert main(["controls"]) == 1


def test_swapped_batches_also_break_float32_lockstep(mnist):
    """The float32 tolerance (1e-4) is tight enough to catch the same mistake."""
    run = checks.lockstep(mnist, "linear", "float32", swap=(3, 4))
    loss_row = checks.lockstep_rows(run, mnist)[0]
    assert not loss_row.passed and loss_row.max_rel_error > 1e-3


def test_row_errors_handle_nan_and_inf():
    same = checks._row("x", "float64", np.array([np.nan, 1.0]), np.array([np.nan, 1.0]), 1e-10)
    different = checks._row("x", "float64", np.array([np.inf, 1.0]), np.array([1.0, 1.0]), 1e-10)
    assert same.passed and not different.passed
