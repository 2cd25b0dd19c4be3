"""The notebooks as stored: jupytext percent files (plain Python, no outputs) that teach with links and LaTeX,
use both twins, and end with a cell of assertions.

They are executed by the book's build (``python -m sphinx -W ... docs docs/_build/html``, which CI runs
before the tests): a failing cell fails the build, and ``tests/test_book.py`` checks each executed page
for its headline and its figures. ``python notebooks/build.py --execute`` runs them on their own.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
jupytext = pytest.importorskip("jupytext", reason="the notebooks need the dev extra: pip install -e '.[dev]'")


def test_the_tutorials_are_there_in_order():
    names = [p.stem for p in NOTEBOOKS]
    assert names == [
        "01_simple_linear_model",
        "02_logistic_regression_adam",
        "03_perceptron",
        "04_tensorflow_basics",
        "05_understanding_tensorflow_mnist",
        "06_backprop_by_hand",
        "07_convolution_by_hand",
    ]


READING_ORDER = "3, 1, 4, 2, 5, 6, 7"  # why: README.md, "The notebooks"


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
