"""The notebooks run top to bottom on the real MNIST, and their last cell's assertions hold.

They are stored as jupytext percent files (plain Python, no outputs); the tests execute them with
nbclient in a scratch folder, so the figures they write land there.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
jupytext = pytest.importorskip("jupytext", reason="the notebooks need the dev extra: pip install -e '.[dev]'")


def test_the_five_tutorials_are_there_in_order():
    names = [p.stem for p in NOTEBOOKS]
    assert names == [
        "01_simple_linear_model",
        "02_logistic_regression_adam",
        "03_perceptron",
        "04_tensorflow_basics",
        "05_understanding_tensorflow_mnist",
        "06_backprop_by_hand",
    ]


READING_ORDER = "3, 1, 4, 2, 5, 6"  # why: README.md, "The notebooks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_notebook_opens_with_the_reading_order(path):
    first = jupytext.read(path).cells[0].source
    stated = re.search(r"Reading order: ([0-9, *]+)\.", first)
    assert stated and stated.group(1).replace("*", "") == READING_ORDER, first
    assert f"notebooks are read in the order {READING_ORDER}" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_form_has_no_outputs_and_teaches_with_links(path):
    notebook = jupytext.read(path)
    assert all(c.get("outputs", []) == [] and c.get("execution_count") is None for c in notebook.cells)
    markdown = " ".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    assert "docs/math.md" in markdown and "$" in markdown  # LaTeX, linked to the derivations
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    assert "scratch" in code and "tfimpl" in code  # both twins, side by side
    assert notebook.cells[-1].cell_type == "code" and "assert" in notebook.cells[-1].source


def test_no_notebook_with_outputs_is_committed():
    tracked = subprocess.run(["git", "ls-files", "notebooks"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert tracked and not [t for t in tracked if t.endswith(".ipynb")], tracked


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_its_assertions_hold(path, tmp_path):
    from nbclient import NotebookClient

    notebook = jupytext.read(path)
    started = time.perf_counter()
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    seconds = time.perf_counter() - started
    out = "".join(o.get("text", "") for o in notebook.cells[-1].outputs)
    assert re.search(r"^headline: ", out, re.M), out
    assert list(tmp_path.glob("*.png")), "no figure was drawn"
    print(f"{path.stem}: {seconds:.0f} s; {out.strip()}")
