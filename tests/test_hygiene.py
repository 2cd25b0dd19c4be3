"""Every module compiles with warnings as errors (a bad escape in a docstring is a SyntaxWarning)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(p for pkg in ("scratch", "tfimpl", "compare", "benchmarks") for p in (ROOT / pkg).glob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_compiles_without_warnings(path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compile(path.read_text(), str(path), "exec")


def test_sources_found():
    assert len(SOURCES) >= 10
