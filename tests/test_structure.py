"""The house rules: who imports whom, the exact mirror, and sizes a reader can hold in their head."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("common", "scratch", "tfimpl", "compare", "benchmarks")
MIRRORED = ["losses", "layers", "initializers", "models", "optimizers", "train", "experiments"]


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).glob("*.py"))


def _imported_roots(path: Path) -> set[str]:
    """The top-level packages a module imports, anywhere in it (function-level imports included)."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


# Who may import whom: the twins stand on common and never on each other; compare and benchmarks sit above.
FORBIDDEN = {
    "common": {"scratch", "tfimpl", "compare", "benchmarks", "tensorflow", "keras"},
    "scratch": {"tfimpl", "compare", "benchmarks", "tensorflow", "keras"},
    "tfimpl": {"scratch", "compare", "benchmarks"},
    "compare": {"benchmarks"},
    "benchmarks": {"compare"},
}


@pytest.mark.parametrize("package", PACKAGES)
def test_import_rules(package):
    bad = {p.name: sorted(_imported_roots(p) & FORBIDDEN[package]) for p in _sources(package)}
    assert not {k: v for k, v in bad.items() if v}, f"{package} imports what it must not"


def test_the_import_rule_check_can_fail(tmp_path):
    """Negative control: a module that imports its twin is caught, inside a function too."""
    path = tmp_path / "bad.py"
    path.write_text("def f():\n    from tfimpl import models\n    import tensorflow as tf\n")
    assert _imported_roots(path) & FORBIDDEN["scratch"] == {"tfimpl", "tensorflow"}


def _defined_order(module) -> list[str]:
    """Public names of ``__all__`` in the order the module defines them (by line of definition)."""
    source = inspect.getsource(module)
    lines = {}
    for node in ast.parse(source).body:
        targets = [node.name] if isinstance(node, ast.FunctionDef | ast.ClassDef) else []
        if isinstance(node, ast.Assign):
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
        for name in targets:
            lines.setdefault(name, node.lineno)
    return sorted((n for n in module.__all__ if n in lines), key=lines.get)


@pytest.mark.parametrize("module", MIRRORED)
def test_the_mirror_is_exact(module):
    """The same public names, in the same definition order, with the same signatures."""
    pytest.importorskip("tensorflow")
    ours, theirs = (importlib.import_module(f"{p}.{module}") for p in ("scratch", "tfimpl"))
    assert ours.__all__ == theirs.__all__
    assert _defined_order(ours) == ours.__all__ and _defined_order(theirs) == theirs.__all__
    for name in ours.__all__:
        a, b = getattr(ours, name), getattr(theirs, name)
        if inspect.isfunction(a):
            pa, pb = inspect.signature(a).parameters, inspect.signature(b).parameters
            assert [(p.name, p.kind, p.default) for p in pa.values()] == [
                (p.name, p.kind, p.default) for p in pb.values()
            ], name
            assert f"scratch.{module}" in (b.__doc__ or "") or f"scratch.{module}" in inspect.getmodule(b).__doc__, (
                f"tfimpl.{module}.{name} should point to the derivation in scratch.{module}"
            )


def test_the_mirror_check_can_fail():
    """Negative control: a signature with one default changed is told apart."""

    def a(x, *, loss="softmax_cross_entropy"): ...

    def b(x, *, loss="sparse_softmax_cross_entropy"): ...

    sig = lambda f: [(p.name, p.kind, p.default) for p in inspect.signature(f).parameters.values()]  # noqa: E731
    assert sig(a) != sig(b)


def test_registries_match_the_spec():
    """Each twin's tables have exactly the names common.spec (and so the configuration) knows."""
    pytest.importorskip("tensorflow")
    from common import spec

    for twin in ("scratch", "tfimpl"):
        assert list(importlib.import_module(f"{twin}.losses").LOSSES) == list(spec.LOSS_FORMS)
        assert tuple(importlib.import_module(f"{twin}.layers").ACTIVATIONS) == spec.ACTIVATIONS
        assert tuple(importlib.import_module(f"{twin}.initializers").INITIALIZERS) == spec.INITIALIZERS
        assert tuple(importlib.import_module(f"{twin}.optimizers").OPTIMIZERS) == spec.OPTIMIZERS


FILE_LINES = 400
FUNCTION_LINES = 50


@pytest.mark.parametrize("package", PACKAGES)
def test_no_file_over_400_lines(package):
    long = {p.name: n for p in _sources(package) if (n := len(p.read_text().splitlines())) > FILE_LINES}
    assert not long, long


def _function_lengths(path: Path) -> dict[str, int]:
    """Lines of each function's body, its docstring left out."""
    out = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:]
            if body:
                out[f"{path.parent.name}/{path.name}:{node.name}"] = body[-1].end_lineno - body[0].lineno + 1
    return out


@pytest.mark.parametrize("package", PACKAGES)
def test_no_function_over_50_lines(package):
    long = {k: n for p in _sources(package) for k, n in _function_lengths(p).items() if n > FUNCTION_LINES}
    assert not long, long
