"""Every module compiles with warnings as errors (a bad escape in a docstring is a SyntaxWarning)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(
    p for pkg in ("common", "scratch", "tfimpl", "compare", "benchmarks") for p in (ROOT / pkg).glob("*.py")
)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_compiles_without_warnings(path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compile(path.read_text(), str(path), "exec")


def test_docs_links_point_at_real_sections():
    """Every ``docs/math.md#anchor`` named in a docstring is a heading of docs/math.md, and back."""
    import re

    doc = (ROOT / "docs" / "math.md").read_text()
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^## (.+)$", doc, re.M)}
    used = {a for p in SOURCES for a in re.findall(r"docs/math\.md#([a-z0-9-]+)", p.read_text())}
    assert used, "no docstring links to docs/math.md"
    assert used <= anchors, f"broken links: {used - anchors}"
    assert anchors <= used, f"sections no docstring links to: {anchors - used}"
    for target in re.findall(r"\]\((\.\./[^)#]+)\)", doc):
        assert (ROOT / "docs" / target).resolve().exists(), target
