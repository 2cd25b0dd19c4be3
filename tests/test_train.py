"""Training: the tutorials' numbers, reproducibility, the NaN stop, and the command line's files."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from common.config import RunConfig
from common.files import ParamsError, load_params, save_params
from common.runs import TrainingDiverged
from scratch import models
from scratch.cli import main
from scratch.train import train

LINEAR_SGD = RunConfig()  # the first tutorial: zeros, SGD 0.5, batch 100, 1000 steps
LINEAR_ADAM = RunConfig(optimizer="adam", learning_rate=0.001, init="truncated_normal", epochs=10, steps=None)
# The MLP tutorial: 784-300-10 ReLU, normal(0.03) weights, SGD, batch 100, its clipped per-class loss.
MLP = RunConfig(
    model="mlp", init="normal", learning_rate=0.5, loss="clipped_binary_cross_entropy", epochs=10, steps=None
)


@pytest.mark.slow
def test_linear_sgd_1000_steps_reaches_91_5(mnist):
    s = train(LINEAR_SGD, mnist, progress=False).summary
    assert s["steps"] == 1000 and s["test_accuracy"] >= 0.915, s["test_accuracy"]


@pytest.mark.slow
def test_linear_adam_10_epochs_reaches_92(mnist):
    s = train(LINEAR_ADAM, mnist, progress=False).summary
    assert s["steps"] == 5500 and s["test_accuracy"] >= 0.92, s["test_accuracy"]


@pytest.mark.slow
def test_mlp_reaches_97_8(mnist):
    s = train(MLP, mnist, progress=False).summary
    assert s["test_accuracy"] >= 0.978, s["test_accuracy"]


def test_same_seed_same_numbers_different_seed_different(mnist):
    cfg = RunConfig(model="mlp", hidden=(32,), init="normal", optimizer="adam", learning_rate=0.001, steps=60)
    a, b = train(cfg, mnist, progress=False), train(cfg, mnist, progress=False)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert a.history == b.history
    c = train(RunConfig(**{**cfg.to_dict(), "hidden": (32,), "seed": 1}), mnist, progress=False)
    assert not np.array_equal(a.params["W1"], c.params["W1"])


def test_history_and_summary_contents(mnist):
    cfg = RunConfig(steps=120, log_every=50, batch_size=1000)
    r = train(cfg, mnist, progress=False)
    train_rows = [h for h in r.history if "loss" in h]
    val_rows = [h for h in r.history if "val_loss" in h]
    assert [h["step"] for h in train_rows] == [50, 100, 120]
    assert [h["step"] for h in val_rows] == [55, 110, 120]  # 55 steps per epoch at batch 1000
    assert r.summary["steps"] == 120 and r.summary["implementation"] == "scratch"
    assert 0.8 < r.summary["test_accuracy"] < 1
    assert r.summary["config"]["batch_size"] == 1000


def test_nan_loss_stops_with_the_step_and_advice(mnist):
    cfg = RunConfig(learning_rate=1e4, loss="naive_cross_entropy", steps=100)
    with pytest.raises(TrainingDiverged, match=r"became (nan|inf) at step \d+ .*lower learning rate"):
        train(cfg, mnist, progress=False)


def test_params_file_checks(tmp_path):
    params = models.init_params("mlp", hidden=(8,), init="normal")
    path = tmp_path / "p.npz"
    save_params(path, params)
    loaded = load_params(path, like=params)
    assert all(np.array_equal(params[k], loaded[k]) for k in params)
    with pytest.raises(ParamsError, match=r"W1 is \(784, 8\) float32, expected \(784, 300\)"):
        load_params(path, like=models.init_params("mlp"))
    np.savez(tmp_path / "bad.npz", W1=np.zeros((784, 10)), b1=np.zeros(10, np.float32))
    with pytest.raises(ParamsError, match="one dtype"):
        load_params(tmp_path / "bad.npz")
    np.savez(tmp_path / "obj.npz", W1=np.array([object()]), b1=np.zeros(10))
    with pytest.raises(ParamsError, match="not a readable parameter file"):
        load_params(tmp_path / "obj.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ParamsError, match=r"not an \.npz archive"):
        load_params(tmp_path / "junk.npz")
    with pytest.raises(ParamsError, match="expected arrays"):
        save_params(tmp_path / "x.npz", {"W": np.zeros((784, 10))})
    assert not (tmp_path / "x.npz").exists()


def test_scratch_never_imports_tensorflow():
    code = (
        "import sys, pkgutil, importlib, scratch\n"
        "for m in pkgutil.iter_modules(scratch.__path__):\n"
        "    if m.name != '__main__': importlib.import_module('scratch.' + m.name)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_from_the_command_to_the_gradient_in_six_frames(monkeypatch, tmp_path):
    """The path a learner reads: ``python -m scratch train`` reaches the loss's gradient kernel in 6 frames.

    Counted as the stack sees it, from ``scratch.cli.main`` down to the kernel, both ends included (the
    spy below stands in the kernel's place in the loss table and records the stack once).
    """
    import inspect
    from pathlib import Path

    from scratch import losses

    stacks = []
    loss_fn, grad_fn = losses.LOSSES["softmax_cross_entropy"]

    def kernel(logits, y):
        if not stacks:
            stacks.append(
                [f"{Path(f.filename).parent.name}/{Path(f.filename).name}:{f.function}" for f in inspect.stack()]
            )
        return grad_fn(logits, y)

    monkeypatch.setitem(losses.LOSSES, "softmax_cross_entropy", (loss_fn, kernel))
    assert main(["train", "--steps", "2", "--out", str(tmp_path / "run")]) == 0
    frames = stacks[0]
    path = frames[: frames.index("scratch/cli.py:main") + 1][::-1]
    assert path == [
        "scratch/cli.py:main",
        "common/cli.py:train_command",
        "scratch/train.py:train",  # the loop: for epoch, for batch
        "scratch/train.py:train_step",
        "scratch/models.py:loss_and_grads",
        "tests/test_train.py:kernel",  # softmax_cross_entropy_grad's place
    ]


def test_the_loop_is_on_the_page():
    """scratch.train.train holds the two nested for loops and the step itself, not a call into a framework."""
    import ast
    import inspect

    import scratch.train

    tree = ast.parse(inspect.getsource(scratch.train.train))
    outer = [n for n in ast.walk(tree) if isinstance(n, ast.For) and any(isinstance(c, ast.For) for c in n.body)]
    assert len(outer) == 1, "one `for epoch` loop around one `for batch` loop"
    inner = next(c for c in outer[0].body if isinstance(c, ast.For))
    calls = {n.func.id for n in ast.walk(inner) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert "train_step" in calls
