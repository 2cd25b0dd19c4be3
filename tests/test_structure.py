"""The house rules: who imports whom, the exact mirror, and sizes a reader can hold in their head."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("common", "scratch", "tfimpl", "compare", "benchmarks")
MIRRORED = [
    "losses",
    "layers",
    "conv",
    "cnn",
    "initializers",
    "models",
    "optimizers",
    "train",
    "experiments",
    "curvature",
]


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


def mirror_differences(ours, theirs) -> list[str]:
    """What keeps two modules from being exact mirrors: ``__all__``, definition order, signatures, pointers."""
    if ours.__all__ != theirs.__all__:
        return [f"__all__ differs: {ours.__all__} vs {theirs.__all__}"]
    found = [f"{m.__name__} does not define __all__ in order" for m in (ours, theirs) if _defined_order(m) != m.__all__]
    for name in ours.__all__:
        a, b = getattr(ours, name), getattr(theirs, name)
        if not inspect.isfunction(a):
            continue
        pa, pb = inspect.signature(a).parameters, inspect.signature(b).parameters
        if [(p.name, p.kind, p.default) for p in pa.values()] != [(p.name, p.kind, p.default) for p in pb.values()]:
            found.append(f"{name}: signatures differ")
        if ours.__name__ not in (b.__doc__ or "") + (inspect.getmodule(b).__doc__ or ""):
            found.append(f"{theirs.__name__}.{name} does not point to the derivation in {ours.__name__}")
    return found


@pytest.mark.parametrize("module", MIRRORED)
def test_the_mirror_is_exact(module):
    """The same public names, in the same definition order, with the same signatures."""
    pytest.importorskip("tensorflow")
    ours, theirs = (importlib.import_module(f"{p}.{module}") for p in ("scratch", "tfimpl"))
    assert mirror_differences(ours, theirs) == []


def test_the_mirror_check_can_fail(tmp_path, monkeypatch):
    """Negative control: two modules whose one default differs, and one that loses its pointer, are told apart."""
    source = '''"""The derivations: see fake_ours."""
__all__ = ["f"]


def f(x, *, loss="softmax_cross_entropy"):
    """A function."""
'''
    (tmp_path / "fake_ours.py").write_text(source)
    (tmp_path / "fake_theirs.py").write_text(source.replace('"softmax_cross_entropy"', '"sparse"'))
    (tmp_path / "fake_same.py").write_text(source.replace("see fake_ours", "nowhere"))
    monkeypatch.syspath_prepend(str(tmp_path))
    ours, theirs, same = (importlib.import_module(n) for n in ("fake_ours", "fake_theirs", "fake_same"))
    assert mirror_differences(ours, theirs) == ["f: signatures differ"]
    assert mirror_differences(ours, same) == ["fake_same.f does not point to the derivation in fake_ours"]


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


# --- one home per idea: no import cycles, no private names across modules ---------------------------------


def _module_name(path: Path) -> str:
    return f"{path.parent.name}.{path.stem}"


def _project_imports(path: Path) -> tuple[set[str], set[str]]:
    """The project modules ``path`` imports (anywhere in it), and the private names it takes from them."""
    package = path.parent.name
    modules, private = set(), set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package if node.level == 1 else node.module or ""
            if node.level == 1 and node.module:
                base = f"{package}.{node.module}"
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                target = candidate if (ROOT / candidate.replace(".", "/")).with_suffix(".py").exists() else base
                modules.add(target)
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    private.add(f"{target}.{alias.name}")
        elif isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            if isinstance(node.value, ast.Name) and node.value.id not in ("self", "cls"):
                private.add(f"{node.value.id}.{node.attr}")
    ours = {
        m for m in modules if m.split(".")[0] in PACKAGES and (ROOT / m.replace(".", "/")).with_suffix(".py").exists()
    }
    return ours - {_module_name(path)}, private


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _project_imports(p)[0] for pkg in PACKAGES for p in _sources(pkg)}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle, as the path that closes it (depth-first search)."""
    found, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_no_import_cycles():
    """No module imports (at the top or inside a function) a module that imports it back, however far round."""
    assert _cycles(_graph()) == []


def test_the_cycle_check_can_fail():
    """Negative control: a cycle of two, and one of three, are found."""
    assert _cycles({"a": {"b"}, "b": {"a"}}) == [["a", "b", "a"]]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


@pytest.mark.parametrize("package", [*PACKAGES, "tests", "tests/math"])
def test_no_private_name_is_taken_from_another_module(package):
    """``from x import _y`` and ``module._y`` reach into another module's insides; the public name is the seam."""
    found = {p.name: sorted(_project_imports(p)[1]) for p in _sources(package)}
    assert not {k: v for k, v in found.items() if v}


def test_the_private_name_check_can_fail(tmp_path):
    path = tmp_path / "compare" / "bad.py"
    path.parent.mkdir()
    path.write_text("from .checks import _row\nimport tfimpl.models as m\nm._loss_and_accuracy(1)\n")
    assert _project_imports(path)[1] == {"compare.checks._row", "m._loss_and_accuracy"}


# --- the fast tier ---------------------------------------------------------------------------------------

FAST_TIER_FORBIDDEN = {"tfimpl", "compare", "benchmarks", "tensorflow", "keras", "subprocess", "nbclient", "jupytext"}


def test_the_fast_tier_needs_no_tensorflow_no_subprocess_and_no_notebook():
    """``pytest tests/math`` is what a learner runs after each edit: NumPy only, in seconds."""
    files = [*sorted((ROOT / "tests" / "math").glob("*.py")), ROOT / "conftest.py"]
    assert len(files) > 5
    bad = {p.name: sorted(_imported_roots(p) & FAST_TIER_FORBIDDEN) for p in files}
    assert not {k: v for k, v in bad.items() if v}


# --- the suite's workers ---------------------------------------------------------------------------------

GB = 10**9


@pytest.mark.parametrize(
    ("cores", "available", "workers"),
    [
        (2, 20 * GB, 2),  # this machine: two cores, the memory for two
        (16, 100 * GB, 2),  # never more than the count the suite is measured with
        (1, 20 * GB, 0),  # one core: one process, serially
        (2, 4 * GB, 0),  # two cores but memory for one worker: serially, within 2.6 GB
        (8, 6 * GB, 2),
        (2, 0, 0),  # memory that cannot be read counts as none
    ],
)
def test_auto_runs_two_workers_only_with_two_cores_and_the_memory_for_both(cores, available, workers):
    from conftest import WORKER_MEMORY_BYTES, workers_for

    assert WORKER_MEMORY_BYTES >= 2.6 * GB  # at least the largest worker's measured peak
    assert workers_for(cores, available) == workers


@pytest.mark.skipif(not Path("/proc/meminfo").exists(), reason="no /proc/meminfo: -n auto runs serially here")
def test_the_free_memory_is_read_so_two_cores_get_two_workers():
    """A misread would count as no memory and quietly run the suite serially, at twice the time."""
    from common.host import memory_bytes

    fields = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    total = int(fields["MemTotal"].split()[0])  # kB
    assert 0 < memory_bytes("MemAvailable") <= total * 1024
