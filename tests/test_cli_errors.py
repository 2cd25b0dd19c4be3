"""Bad input, as a new user gives it: each case runs the real command in a subprocess, in both packages
where it applies, and must end in exactly one ``error:`` line (no traceback), the documented exit status,
and nothing written; a good run writes its folder whole, with the usual file permissions."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
BOTH = ["scratch", "tfimpl"]


def run(package: str, *args: str, cwd: Path | None = None, umask: int | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    pre = (lambda: os.umask(umask)) if umask is not None else None
    return subprocess.run(
        [sys.executable, "-m", package, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=pre,
    )


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The single ``error:`` line of a failed command; fails on a traceback or on several error lines."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("error:") or "error:" in ln[:80]]
    assert len(lines) == 1, result.stderr
    return lines[0]


def nothing_in(folder: Path) -> bool:
    return not folder.exists() or not any(folder.iterdir())


# --- the output folder, checked before any work ---------------------------------------------------------


def _out_cases(tmp: Path) -> dict:
    (tmp / "a-file").write_text("x")
    (tmp / "holds").mkdir()
    (tmp / "holds" / "summary.json").mkdir()
    return {
        "an existing file": (tmp / "a-file", "is an existing file"),
        "below a file": (tmp / "a-file" / "run", "sits below"),
        "holding a folder named summary.json": (tmp / "holds", "holds a folder named summary.json"),
        "on a read-only file system": (Path("/sys/mnist-by-hand-run"), "cannot write in /sys"),
    }


@pytest.mark.parametrize("package", BOTH)
@pytest.mark.parametrize(
    "case", ["an existing file", "below a file", "holding a folder named summary.json", "on a read-only file system"]
)
def test_an_unwritable_out_is_refused_before_training(tmp_path, package, case):
    out, message = _out_cases(tmp_path)[case]
    if case == "on a read-only file system" and os.access("/sys", os.W_OK) and not Path("/sys/fs").exists():
        pytest.skip("no read-only /sys here")
    started = time.perf_counter()
    result = run(package, "train", "--steps", "100000", "--out", str(out))
    assert result.returncode == 2 and message in one_error_line(result)
    assert time.perf_counter() - started < 60  # refused up front: 100,000 steps would take minutes
    assert "step" not in result.stderr  # no progress bar: nothing trained


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a folder of mode 0555; /sys covers read-only here")
def test_a_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o555)
    result = run("scratch", "train", "--out", str(folder / "run"))
    assert result.returncode == 2 and "cannot write in" in one_error_line(result)


@pytest.mark.parametrize("package", BOTH)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", ""], "--out: is empty"),
        (["--seed", "-1"], "argument --seed: must be a whole number >= 0"),
        (["--batch-size", "60000", "--epochs", "1"], "larger than the 55000 training images"),
        (["--lr", "nan"], "argument --lr"),
    ],
    ids=["empty out", "negative seed", "batch larger than the data", "nan rate"],
)
def test_nonsense_flags_name_the_flag(tmp_path, package, args, message):
    result = run(package, "train", *args, cwd=tmp_path)
    assert result.returncode == 2 and message in one_error_line(result)
    assert nothing_in(tmp_path / "runs")


@pytest.mark.parametrize("package", BOTH)
def test_a_data_dir_that_is_a_file(tmp_path, package):
    (tmp_path / "data").write_text("x")
    result = run(package, "train", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "run"))
    assert result.returncode == 2 and "is a file, not a folder" in one_error_line(result)
    assert not (tmp_path / "run").exists()


# --- runs that go wrong -----------------------------------------------------------------------------------


@pytest.mark.parametrize("package", BOTH)
@pytest.mark.parametrize(
    "args", [["--model", "mlp", "--lr", "1e6"], ["--optimizer", "adam", "--lr", "1e6"]], ids=["mlp sgd", "adam"]
)
def test_a_diverging_run_stops_and_writes_nothing(tmp_path, package, args):
    result = run(package, "train", *args, "--out", str(tmp_path / "run"))
    line = one_error_line(result)
    assert (
        result.returncode == 3
        and "Try a lower learning rate, e.g. --lr 100000" in line
        and "Nothing was written" in line
    )
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("package", BOTH)
def test_ctrl_c_prints_one_line_and_writes_nothing(tmp_path, package):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", package, "train", "--model", "mlp", "--epochs", "50", "--out", str(tmp_path / "run")]
    if package == "tfimpl":
        cmd += ["--steps-per-call", "10"]
    # SIGINT back to its default in the child: a shell's background job would start with it ignored
    restore = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # noqa: E731
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=restore)
    deadline = time.time() + 120
    seen = ""
    while time.time() < deadline and "step" not in seen:  # wait until training has started
        seen += os.read(proc.stderr.fileno(), 4096).decode(errors="replace")
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    lines = [ln for ln in (seen + err).replace("\r", "\n").splitlines() if ln.startswith("error:")]
    assert proc.returncode == 130 and "Traceback" not in err
    assert (
        len(lines) == 1
        and lines[0].startswith("error: interrupted at step ")
        and lines[0].endswith("; nothing written")
    )
    assert not (tmp_path / "run").exists()


# --- plots on folders that are not run folders ----------------------------------------------------------


def _broken_runs(tmp: Path, good: Path) -> dict:
    cases = {"missing": tmp / "nope"}
    for name, summary in (("no summary", None), ("empty summary", "{}"), ("invalid JSON", "{not json")):
        folder = tmp / name.replace(" ", "-")
        folder.mkdir()
        (folder / "history.jsonl").write_text("")
        if summary is not None:
            (folder / "summary.json").write_text(summary)
        cases[name] = folder
    for name in ("nan params", "text params"):
        folder = tmp / name.replace(" ", "-")
        folder.mkdir()
        for f in ("summary.json", "history.jsonl"):
            (folder / f).write_bytes((good / f).read_bytes())
        cases[name] = folder
    params = dict(np.load(good / "params.npz"))
    params["W1"][0, 0] = np.nan
    np.savez(cases["nan params"] / "params.npz", **params)
    (cases["text params"] / "params.npz").write_text("these are not parameters\n")
    return cases


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("good") / "run"
    result = run("scratch", "train", "--steps", "20", "--out", str(out), umask=0o022)
    assert result.returncode == 0, result.stderr
    return out


PLOT_ERRORS = {
    "missing": "no such run folder",
    "no summary": "summary.json: missing",
    "empty summary": "not a run summary",
    "invalid JSON": "summary.json: not valid JSON",
    "nan params": "hold NaN or infinite values",
    "text params": "not an .npz archive",
}


@pytest.mark.parametrize("package", BOTH)
@pytest.mark.parametrize("case", list(PLOT_ERRORS))
def test_plots_of_a_broken_run_folder(tmp_path, good_run, package, case):
    folder = _broken_runs(tmp_path, good_run)[case]
    result = run(package, "plots", str(folder))
    assert result.returncode == 2 and PLOT_ERRORS[case] in one_error_line(result)
    assert not list(Path(folder).glob("*.png")) if Path(folder).exists() else True


# --- commands of one package -----------------------------------------------------------------------------


def test_gradcheck_of_nothing_is_refused():
    result = run("scratch", "gradcheck", "--samples", "0")
    assert result.returncode == 2 and "argument --samples: must be a whole number > 0" in one_error_line(result)


@pytest.mark.parametrize("steps", ["0", "-3"])
def test_tf1_needs_a_positive_step_count(steps):
    result = run("tfimpl", "tf1", "--steps", steps)
    assert result.returncode == 2 and "argument --steps: must be a whole number > 0" in one_error_line(result)


def test_an_explicit_zero_init_mlp_says_why_it_will_not_learn(tmp_path):
    result = run("scratch", "train", "--model", "mlp", "--init", "zeros", "--steps", "5", "--out", str(tmp_path / "r"))
    assert result.returncode == 0 and "warning: --init zeros with an MLP" in result.stderr


# --- what a good run writes -------------------------------------------------------------------------------


@pytest.mark.parametrize("package", BOTH)
def test_a_run_folder_is_whole_and_readable(tmp_path, package):
    out = tmp_path / "run"
    result = run(package, "train", "--model", "mlp", "--steps", "30", "--out", str(out), umask=0o022)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["history.jsonl", "params.npz", "summary.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no staging folder left behind
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()}
    assert set(modes.values()) == {0o644}, modes
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["init"] == "normal"  # the MLP's tutorial default when --init is not given
    for key in ("compile_seconds", "train_seconds", "wall_seconds"):
        assert summary[key] >= 0
    assert "WARNING: All log messages" not in result.stderr and "oneDNN" not in result.stderr


def test_no_tensorflow_start_up_lines():
    result = run("tfimpl", "graph")
    assert result.returncode == 0
    assert "absl::InitializeLog" not in result.stderr and "oneDNN custom operations" not in result.stderr
