"""compare: the whole suite passes, every negative control fails, and the command reports both."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="compare needs TensorFlow: pip install -e '.[dev]'")

from compare import checks, controls
from compare.cli import main


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """``python -m compare --json`` once, the main job as a user runs it: (exit code, rows, settings)."""
    path = tmp_path_factory.mktemp("compare") / "rows.json"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    result = subprocess.run(
        [sys.executable, "-m", "compare", "--json", str(path)], env=env, capture_output=True, text=True, timeout=600
    )
    out = json.loads(path.read_text())
    return result.returncode, out["rows"], out["settings"], result.stdout


def _rows(report, prefix):
    return [r for r in report[1] if r["check"].startswith(prefix)]


def test_command_exits_zero_and_writes_every_field(report):
    code, rows, _, _ = report
    assert code == 0
    for key in ("check", "dtype", "max_abs_error", "max_rel_error", "tolerance", "passed"):
        assert all(key in r for r in rows), key
    assert {r["dtype"] for r in rows} == {"float32", "float64", "tf32"}


@pytest.mark.parametrize(
    ("family", "at_least"),
    [
        ("forward", 18),
        ("gradient", 40),
        ("layers", 34),
        ("optimizer", 8),
        ("train", 12),
        ("crossload", 8),
        ("precision", 16),
    ],
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
    assert by[("train mlp lockstep: final parameters", "float32")]["tolerance"] == 1e-3


def test_every_optimizer_is_covered_for_100_steps(report):
    names = {r["check"] for r in _rows(report, "optimizer")}
    assert names == {f"optimizer {o} x100 steps" for o in ("sgd", "momentum", "adagrad", "adam")}


def test_each_negative_control_is_reported_as_fail(report):
    rows = _rows(report, "CONTROL")
    assert len(rows) == 6
    assert all(not r["passed"] and r["expected_to_fail"] for r in rows)
    # each fails by a wide margin: TF32 by its measured 1e-4 against float32's 1.7e-6, the others by 1e3
    assert all(r["max_rel_error"] > (10 if r["dtype"] == "tf32" else 1e3) * r["tolerance"] for r in rows)


def test_settings_are_stated_and_the_callers_restored(report):
    """compare ran its equality checks with TF32 off and op determinism on, said so, and put back ours."""
    import tensorflow as tf

    from compare.cli import run_families
    from tfimpl.device import op_determinism_enabled

    _, _, settings, _ = report
    assert settings["tf32"] is False and settings["op_determinism"] is True
    assert settings["device"].startswith(("CPU", "GPU"))
    # used as a library: the caller's settings (TensorFlow's defaults here) are back afterwards
    rows, used = run_families(["optimizers"], progress=False)
    assert rows and used["tf32"] is False and used["op_determinism"] is True
    assert tf.config.experimental.tensor_float_32_execution_enabled()
    assert not op_determinism_enabled()


def test_precision_rows_say_how_they_were_made(report):
    rows = _rows(report, "precision")
    tf32 = [r for r in rows if r["dtype"] == "tf32"]
    assert tf32 and all(r["note"] in ("measured on GPU:0", "emulated in NumPy (no GPU)") for r in tf32)
    # the tolerances are sqrt(784) times the unit roundoff, 2^-24 and 2^-11
    assert {r["tolerance"] for r in rows} == {28 * 2.0**-24, 28 * 2.0**-11}


def test_tf32_rounding_keeps_ten_mantissa_bits():
    from compare.precision import tf32_round

    x = np.array([1 + 2**-10, 1 + 2**-11, 1 + 3 * 2**-11, 1 + 2**-12, -3.0], np.float32)
    # 1 + 2^-10 is representable; 1 + 2^-11 is a tie and goes to even (1); 1 + 3*2^-11 ties up to 1 + 2^-9
    np.testing.assert_array_equal(tf32_round(x), np.array([1 + 2**-10, 1, 1 + 2**-9, 1, -3.0], np.float32))


def test_the_width_of_the_table(report):
    """Every line the command printed fits 120 columns; the long names are whole in --json."""
    lines = report[3].splitlines()
    assert len(lines) > 100 and max(len(line) for line in lines) <= 120
    assert any(len(r["check"]) > 45 for r in report[1])  # names that the table had to cut


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


def test_an_unknown_family_is_one_line_with_the_choices(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["nonsense"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "unknown family nonsense" in err and "[]" not in err


def test_swapped_batches_also_break_float32_lockstep(mnist):
    """The float32 tolerance (1e-3) is tight enough to catch the same mistake."""
    run = checks.lockstep(mnist, "linear", "float32", swap=(3, 4))
    loss_row = checks.lockstep_rows(run, mnist)[0]
    assert not loss_row.passed and loss_row.max_rel_error > 1e-3


def test_row_errors_handle_nan_and_inf():
    same = checks._row("x", "float64", np.array([np.nan, 1.0]), np.array([np.nan, 1.0]), 1e-10)
    different = checks._row("x", "float64", np.array([np.inf, 1.0]), np.array([1.0, 1.0]), 1e-10)
    assert same.passed and not different.passed
