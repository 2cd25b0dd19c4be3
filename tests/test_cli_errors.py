"""Bad input, as a new user gives it, in both packages where it applies: each case must end in exactly one
``error:`` line (no traceback), the documented exit status, and nothing written; a good run writes its
folder whole, with the usual permissions; a bug in the code keeps its traceback.

Most cases call the command's ``main(argv)`` in this process, the same code a shell runs minus the
interpreter's start-up (argparse's own errors arrive as ``SystemExit``). Where the process itself is the
point (a real Ctrl-C, the traceback a user sees, TensorFlow's start-up lines) a subprocess runs it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
BOTH = ["scratch", "tfimpl"]


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def cli(package: str, *args: str) -> Result:
    """``python -m <package> *args``, in this process: its exit status and what it printed."""
    if package == "tfimpl":
        pytest.importorskip("tensorflow")
    main = __import__(f"{package}.cli", fromlist=["main"]).main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's errors
            code = exc.code
    return Result(code, out.getvalue(), err.getvalue())


def subprocess_run(package: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", package, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def one_error_line(result) -> str:
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
    result = cli(package, "train", "--steps", "100000", "--out", str(out))
    assert result.returncode == 2 and message in one_error_line(result)
    assert "step" not in result.stderr  # refused up front: no progress bar, nothing trained


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a folder of mode 0555; /sys covers read-only here")
def test_a_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o555)
    result = cli("scratch", "train", "--out", str(folder / "run"))
    assert result.returncode == 2 and "cannot write in" in one_error_line(result)


FLAG_CASES = {
    "empty out": (["--out", ""], "--out: is empty"),
    "negative seed": (["--seed", "-1"], "argument --seed: must be a whole number >= 0"),
    "batch larger than the data": (["--batch-size", "60000", "--epochs", "1"], "larger than the 55000 training images"),
    "nan rate": (["--lr", "nan"], "argument --lr"),
    "zero rate": (["--lr", "0"], "argument --lr/--learning-rate: must be a finite number > 0"),
    "negative rate": (["--lr", "-0.1"], "argument --lr"),
    "zero batch": (["--batch-size", "0"], "argument --batch-size: must be a whole number > 0"),
    "unknown model": (["--model", "resnet"], "argument --model: invalid choice"),
    "steps and epochs": (["--steps", "10", "--epochs", "1"], "not allowed with argument"),
    "momentum of 1.5": (["--momentum", "1.5"], "argument --momentum: must lie in [0, 1)"),
    "zero hidden units": (["--hidden", "0"], "argument --hidden: must be a whole number > 0"),
    "hidden for the linear model": (["--hidden", "30"], "the linear model has no hidden layer"),
    "hidden for the cnn": (["--model", "cnn", "--hidden", "30"], "the cnn's layers are fixed"),
    "dropout for the mlp": (["--model", "mlp", "--dropout", "0.5"], "--dropout applies to the cnn only"),
    "dropout of 1": (["--model", "cnn", "--dropout", "1"], "argument --dropout: must lie in [0, 1)"),
}


@pytest.mark.parametrize("package", BOTH)
@pytest.mark.parametrize("case", list(FLAG_CASES))
def test_nonsense_flags_name_the_flag(tmp_path, monkeypatch, package, case):
    args, message = FLAG_CASES[case]
    monkeypatch.chdir(tmp_path)
    result = cli(package, "train", *args)
    assert result.returncode == 2 and message in one_error_line(result)
    assert nothing_in(tmp_path / "runs")


@pytest.mark.parametrize("package", BOTH)
def test_a_data_dir_that_is_a_file(tmp_path, package):
    (tmp_path / "data").write_text("x")
    result = cli(package, "train", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "run"))
    assert result.returncode == 2 and "is a file, not a folder" in one_error_line(result)
    assert not (tmp_path / "run").exists()


# --- runs that go wrong -----------------------------------------------------------------------------------


@pytest.mark.parametrize("package", BOTH)
@pytest.mark.parametrize(
    "args",
    [["--model", "mlp", "--lr", "1e6"], ["--optimizer", "adam", "--lr", "1e6"], ["--lr", "1e4", "--steps", "50"]],
    ids=["mlp sgd", "adam", "linear sgd"],
)
def test_a_diverging_run_stops_and_writes_nothing(tmp_path, package, args):
    result = cli(package, "train", *args, "--out", str(tmp_path / "run"))
    line = one_error_line(result)
    assert result.returncode == 3 and "Try a lower learning rate, e.g. --lr" in line and "Nothing was written" in line
    assert re.search(r"lambda_max = [\d.]+ .* stable below about 2 / lambda_max = [\d.]+\. Nothing", line), line
    assert not (tmp_path / "run").exists()


def _interrupt_at_step(step: int):
    """A patch for ``RunLog.record``/``record_all`` that raises KeyboardInterrupt at ``step``, as Ctrl-C would."""
    from common.runs import RunLog

    record = RunLog.record

    def interrupted(self, loss):
        if self.step + 1 == step:
            raise KeyboardInterrupt
        return record(self, loss)

    return interrupted


@pytest.mark.parametrize("package", BOTH)
def test_ctrl_c_during_training_is_one_line_and_writes_nothing(tmp_path, monkeypatch, package):
    from common.runs import RunLog

    monkeypatch.setattr(RunLog, "record", _interrupt_at_step(40))
    result = cli(package, "train", "--steps", "100", "--out", str(tmp_path / "run"))
    assert result.returncode == 130
    assert one_error_line(result) == "error: interrupted at step 39 of 100; nothing written"
    assert not (tmp_path / "run").exists()


def test_a_real_ctrl_c_in_a_shell(tmp_path):
    """The signal itself, once, in a real process: the same one line, exit status 130, nothing written."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "scratch", "train", "--model", "mlp", "--epochs", "50", "--out", str(tmp_path / "run")]
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
    assert len(lines) == 1 and lines[0].startswith("error: interrupted at step ")
    assert lines[0].endswith("; nothing written") and not (tmp_path / "run").exists()


# --- a bug is not the user's fault ---------------------------------------------------------------------


BROKEN_KERNEL = """
import sys
import scratch.layers as layers

def dense_backward(dout, cache, *, need_dx=True):
    raise ValueError("operands could not be broadcast together with shapes (100,10) (300,)")

layers.dense_backward = dense_backward  # a learner's edit gone wrong
from scratch.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_bug_in_a_kernel_shows_its_traceback(tmp_path):
    """A plain ValueError from the math propagates whole: the traceback names the kernel and the line."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    script = tmp_path / "broken.py"
    script.write_text(BROKEN_KERNEL)
    result = subprocess.run(
        [sys.executable, str(script), "train", "--steps", "5", "--out", str(tmp_path / "run")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1 and "Traceback (most recent call last)" in result.stderr
    assert 'in dense_backward\n    raise ValueError("operands could not be broadcast' in result.stderr
    assert "in loss_and_grads" in result.stderr and "in backward" in result.stderr  # the path to it
    assert "ValueError: operands could not be broadcast" in result.stderr.splitlines()[-1]
    assert not [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert not (tmp_path / "run").exists()


def test_the_same_error_from_the_user_is_one_line(tmp_path):
    """The negative control of the test above: the project's own error type does become one line."""
    result = cli("scratch", "train", "--model", "linear", "--hidden", "3", "--out", str(tmp_path / "run"))
    assert result.returncode == 2 and "no hidden layer" in one_error_line(result)


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
    result = cli("scratch", "train", "--steps", "20", "--out", str(out))
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
    result = cli(package, "plots", str(folder))
    assert result.returncode == 2 and PLOT_ERRORS[case] in one_error_line(result)
    assert not list(Path(folder).glob("*.png")) if Path(folder).exists() else True


# --- commands of one package -----------------------------------------------------------------------------


def test_gradcheck_of_nothing_is_refused():
    result = cli("scratch", "gradcheck", "--samples", "0")
    assert result.returncode == 2 and "argument --samples: must be a whole number > 0" in one_error_line(result)


@pytest.mark.parametrize("steps", ["0", "-3"])
def test_tf1_needs_a_positive_step_count(steps):
    result = cli("tfimpl", "tf1", "--steps", steps)
    assert result.returncode == 2 and "argument --steps: must be a whole number > 0" in one_error_line(result)


def test_an_explicit_zero_init_mlp_says_why_it_will_not_learn(tmp_path):
    result = cli("scratch", "train", "--model", "mlp", "--init", "zeros", "--steps", "5", "--out", str(tmp_path / "r"))
    assert result.returncode == 0 and "warning: --init zeros with an MLP" in result.stderr


def test_the_cnn_with_the_linear_models_sgd_rate_points_to_its_recipe():
    from common.cli import config_warnings
    from common.config import RunConfig

    (warning,) = config_warnings(RunConfig(model="cnn"))  # the defaults: SGD at 0.5
    assert "does not learn" in warning and "--optimizer adam --lr 0.001" in warning
    assert config_warnings(RunConfig(model="cnn", optimizer="adam", learning_rate=0.001)) == []  # negative control


def test_train_without_out_writes_the_default_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli("scratch", "train", "--steps", "5").returncode == 0
    assert sorted(p.name for p in (tmp_path / "runs" / "scratch-linear-sgd-seed0").iterdir()) == [
        "history.jsonl",
        "params.npz",
        "summary.json",
    ]


# --- what a good run writes -------------------------------------------------------------------------------


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.parametrize("package", BOTH)
def test_a_run_folder_is_whole_and_readable(tmp_path, package, umask_022):
    from common.files import load_params

    out = tmp_path / "run"
    result = cli(
        package, "train", "--model", "mlp", "--hidden", "20", "--steps", "30", "--log-every", "10", "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["history.jsonl", "params.npz", "summary.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no staging folder left behind
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()}
    assert set(modes.values()) == {0o644}, modes
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["init"] == "normal"  # the MLP's tutorial default when --init is not given
    assert summary["config"]["hidden"] == [20] and summary["steps"] == 30 and summary["implementation"] == package
    for key in ("compile_seconds", "train_seconds", "wall_seconds", "steps_per_second", "test_accuracy"):
        assert summary[key] >= 0
    rows = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    # tfimpl runs up to an epoch per graph call by default, so its row comes after the call (at 30)
    logged = [10, 20, 30] if package == "scratch" else [30]
    assert [r["step"] for r in rows if "loss" in r] == logged and rows[-1]["step"] == 30
    params = load_params(out / "params.npz")
    assert params["W1"].shape == (784, 20) and params["W1"].dtype == np.float32


def test_tensorflow_starts_without_its_start_up_lines():
    """In a real process (the lines come from TensorFlow's import): absl's and oneDNN's notices are gone."""
    result = subprocess_run("tfimpl", "graph")
    assert result.returncode == 0, result.stderr
    assert "absl::InitializeLog" not in result.stderr and "oneDNN custom operations" not in result.stderr
