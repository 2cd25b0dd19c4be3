"""compare: the whole suite passes, every negative control fails, and the command reports both."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="compare needs TensorFlow: pip install -e '.[dev]'")

from common.data import DataSet, Datasets
from common.rows import Row
from compare import checks, controls, lockstep
from compare.cli import FAMILIES, HEADERS, main

#: The train family's lockstep runs here: a fifth of the command's epoch (550 steps), which CI runs in
#: full as the README's main job (.ci/run). Every check and control still runs; the float32 drift the
#: 1e-3 bound is derived for only grows with the steps, so a pass at 550 is the command's to show.
LOCKSTEP_STEPS = 110


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """``python -m compare --json --steps 110`` once, through its ``main`` in this process (a shell adds only
    the interpreter's start-up, which tests/test_cli_errors.py checks in a real process): (exit code, rows,
    settings, what it printed)."""
    path = tmp_path_factory.mktemp("compare") / "rows.json"
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["--json", str(path), "--steps", str(LOCKSTEP_STEPS)])
    written = json.loads(path.read_text())
    return code, written["rows"], written["settings"], out.getvalue()


def _rows(report, family, *, controls=False):
    """The rows of one family; its negative controls only with ``controls=True``."""
    return [r for r in report[1] if r["family"] == family and r["expected_to_fail"] == controls]


def test_command_exits_zero_and_writes_every_field(report):
    code, rows, _, _ = report
    assert code == 0
    for key in (
        "check",
        "family",
        "dtype",
        "max_abs_error",
        "max_rel_error",
        "tolerance",
        "passed",
        "expected_to_fail",
    ):
        assert all(key in r for r in rows), key
    assert {r["dtype"] for r in rows} == {"float32", "float64", "tf32"}


@pytest.mark.parametrize(
    ("family", "at_least"),
    [
        ("forward", 18),
        ("gradients", 40),
        ("layers", 34),
        ("curvature", 38),
        ("optimizers", 8),
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


def test_every_row_uses_its_familys_stated_tolerance(report):
    """Each row's tolerance is the one compare/checks.py derives for its kind and dtype, nothing ad hoc."""
    kinds = {
        "forward": "value",
        "gradients": "value",
        "layers": "value",
        "curvature": "value",
        "optimizers": "optimizer",
        "crossload": "predictions differing",
    }
    for r in report[1]:
        if r["expected_to_fail"] or r["family"] in ("train", "precision"):
            continue
        kind = "finite differences" if "central differences" in r["check"] else kinds[r["family"]]
        assert r["tolerance"] == checks.TOLERANCES[(kind, r["dtype"])], r
    train = {(r["check"], r["dtype"]): r for r in _rows(report, "train")}
    assert train[("mlp: final parameters", "float32")]["tolerance"] == checks.TOLERANCES[("lockstep", "float32")]
    assert train[("mlp: test predictions that differ", "float64")]["max_abs_error"] == 0  # identical predictions
    assert (
        train[("mlp: test accuracy gap", "float32")]["max_abs_error"] <= checks.TOLERANCES[("accuracy gap", "float32")]
    )


def test_the_float32_tolerance_sits_where_its_derivation_puts_it():
    """compare/checks.py: between the typical (sqrt(K) u) and the worst-case (K u) error of a 784-term sum."""
    u, K = 2.0**-24, 784
    assert K**0.5 * u < checks.TOLERANCES[("value", "float32")] < K * u
    # float64: loose on purpose, far above K u, still 1e9 below a wrong formula's O(1) error
    assert K * 2.0**-53 < checks.TOLERANCES[("value", "float64")] <= 1e-9


def test_the_lockstep_runs_are_as_long_as_asked(report):
    """``--steps`` cuts the linear and MLP runs (the CNN's are its own 20), and the settings say so."""
    settings = report[2]
    lengths = {r["check"] for r in _rows(report, "train") if "the loss at each of" in r["check"]}
    assert lengths == {
        f"linear: the loss at each of {LOCKSTEP_STEPS} steps",
        f"mlp: the loss at each of {LOCKSTEP_STEPS} steps",
        "cnn, Adam, dropout: the loss at each of 20 steps",
    }
    assert settings["lockstep_steps"] == LOCKSTEP_STEPS


def test_a_lockstep_run_past_an_epoch_goes_on_into_the_next(mnist):
    """Steps beyond an epoch are trained on the next epoch's batches, not silently dropped: 700 images
    make an epoch of 7 batches, and 9 steps are asked for."""
    small = Datasets(DataSet(mnist.train.images[:700], mnist.train.labels[:700]), mnist.validation, mnist.test)
    run = lockstep.lockstep(small, "linear", "float64", steps=9)
    assert len(run.losses_np) == len(run.losses_tf) == 9
    np.testing.assert_allclose(run.losses_np, run.losses_tf, rtol=1e-12)


def test_every_optimizer_is_covered_for_100_steps(report):
    names = {r["check"] for r in _rows(report, "optimizers")}
    assert names == {f"{o}, 100 steps" for o in ("sgd", "momentum", "adagrad", "adam")}


def test_the_optimizers_match_keras_bit_for_bit(report):
    """docs/math.md's claim: scratch's updates, in Keras' order, end bitwise equal to Keras' own (eager) updates.

    (Traced into a graph, Keras' Adagrad is rewritten by TensorFlow's optimizer and differs in the last bit.)"""
    rows = _rows(report, "optimizers")
    assert len(rows) == 8 and all(r["max_abs_error"] == 0 for r in rows), [(r["check"], r["dtype"]) for r in rows]


def test_each_negative_control_is_reported_as_fail(report):
    rows = [r for r in report[1] if r["expected_to_fail"]]
    assert len(rows) == 13 and {r["family"] for r in rows} == {"controls", "precision", "curvature"}
    assert {r["dtype"] for r in rows if r["family"] == "curvature"} == {"float64", "float32"}
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
    rows, used = run_families(["forward"], progress=False)  # any family; forward is the quickest
    assert rows and used["tf32"] is False and used["op_determinism"] is True
    assert tf.config.experimental.tensor_float_32_execution_enabled()
    assert not op_determinism_enabled()


def test_precision_rows_say_how_they_were_made(report):
    rows = _rows(report, "precision")
    tf32 = [r for r in rows if r["dtype"] == "tf32"]
    assert tf32 and all(r["note"] in ("measured on GPU:0", "emulated in NumPy (no GPU)") for r in tf32)
    # the tolerances are sqrt(784) times the unit roundoff, 2^-24 and 2^-11
    assert {r["tolerance"] for r in rows} == {28 * 2.0**-24, 28 * 2.0**-11}


def test_the_table_fits_120_columns_and_shows_every_name_whole(report):
    """Long names wrap instead of being cut; each family has its header; counts print as counts."""
    out = report[3]
    assert max(len(line) for line in out.splitlines()) <= 120
    flat = " ".join(out.split())
    missing = [r["check"] for r in report[1] if " ".join(r["check"].split()) not in flat]
    assert not missing, missing
    assert all(" ".join(HEADERS[f].split()) in flat for f in FAMILIES)  # every family's header, whole
    crossload = out[out.index(HEADERS["crossload"]) :].splitlines()[2]
    assert crossload.split()[-5:] == ["float64", "0", "-", "0", "PASS"], crossload


def test_a_real_failure_makes_the_command_exit_nonzero(monkeypatch, capsys):
    wrong = Row("softmax", "float64", 1.0, 1.0, 1e-10, False, family="forward")
    monkeypatch.setattr(checks, "forward_rows", lambda data: [wrong])
    assert main(["forward"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "NOT: forward: softmax (float64)" in out


def test_a_control_that_passes_makes_the_command_exit_nonzero(monkeypatch):
    ok = Row("something wrong", "float64", 0.0, 0.0, 1e-10, True, family="controls", expected_to_fail=True)
    monkeypatch.setattr(controls, "control_rows", lambda data: [ok])
    assert main(["controls"]) == 1


def test_an_unknown_family_is_one_line_with_the_choices(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["nonsense"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "unknown family nonsense" in err and "[]" not in err


def test_swapped_batches_also_break_float32_lockstep(mnist):
    """The float32 tolerance (1e-3) is tight enough to catch the same mistake."""
    run = lockstep.lockstep(mnist, "linear", "float32", steps=20, swap=(3, 4))
    loss_row = lockstep.lockstep_rows(run, mnist)[0]
    assert not loss_row.passed and loss_row.max_rel_error > 1e-3


def test_row_errors_handle_nan_and_inf():
    same = checks.row("x", "float64", np.array([np.nan, 1.0]), np.array([np.nan, 1.0]), 1e-10)
    different = checks.row("x", "float64", np.array([np.inf, 1.0]), np.array([1.0, 1.0]), 1e-10)
    assert same.passed and not different.passed
