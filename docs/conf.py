r"""The book: ``.venv/bin/python -m sphinx -W --keep-going -b html docs docs/_build/html``.

Sphinx with myst-nb (Markdown, and the jupytext notebooks executed as the book builds), numpydoc (the
docstrings' ``.. math::`` blocks), sphinx-book-theme, and MathJax served from the built site (the copy
the ``jupyter-server-mathjax`` package ships), never from a CDN: the book builds and is tested offline.

What it holds: ``index.md`` (the README's introduction and the reading order), ``math.md``, the notebooks
(copied into ``docs/notebooks`` at each build, links adjusted), ``api/`` (generated here at each build: ``scratch.X``
and ``tfimpl.X`` side by side, module by module), the benchmark report, and the figures the docs draw.
Two rewrites keep the repository's links working in the book: a docstring's ``docs/math.md#anchor``
becomes a link to that section, and ``math.md``'s links to source files become links to their API page.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

project = "mnist-by-hand"
author = "the mnist-by-hand authors"
copyright = "2026, the mnist-by-hand authors"
root_doc = "index"

extensions = ["myst_nb", "numpydoc", "sphinx.ext.autodoc", "sphinx.ext.mathjax", "sphinx_design"]
include_patterns = [
    "index.md",
    "math.md",
    "seeds.md",
    "api/*.md",
    "benchmarks/*.md",
    "benchmarks/cnn/*.md",
    "notebooks/[0-9][0-9]_*.py",
]
exclude_patterns = ["_build", "**/.ipynb_checkpoints"]
nitpicky = True  # a reference to something that does not exist is a warning, and -W makes it an error
nitpick_ignore_regex = [
    ("py:class", r"(numpy|np|tf|tensorflow|keras|collections|pathlib|os|argparse|contextlib)\..*"),
    ("py:class", r"(optional|callable|array).*"),
]

# --- Markdown and notebooks ------------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
myst_update_mathjax = False  # MyST would write a MathJax 3 configuration; the book serves MathJax 2
nb_custom_formats = {".py": ["jupytext.reads", {"fmt": "py:percent"}]}
nb_execution_mode = "cache"  # executed once per change of a notebook; jupyter-cache keeps the results
nb_execution_cache_path = str(HERE / "_build" / ".jupyter_cache")
nb_execution_timeout = 600
nb_execution_raise_on_error = True  # a failing cell (each notebook ends with assertions) fails the build
nb_execution_in_temp = True  # the figures a notebook writes land in a temporary folder, not the repository
nb_merge_streams = True

# --- Docstrings --------------------------------------------------------------------------------------------
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_xref_param_type = False

# --- Math, served from the site -------------------------------------------------------------------------------
import jupyter_server_mathjax  # noqa: E402  (MathJax 2.7 as a Python package: no CDN, no npm)

MATHJAX = Path(jupyter_server_mathjax.__file__).parent / "static"
html_static_path = [str(MATHJAX)]  # copied into _static/
mathjax_path = "MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"  # relative to _static/; the config the package ships
mathjax2_config = {
    "tex2jax": {
        "inlineMath": [["\\(", "\\)"]],
        "displayMath": [["\\[", "\\]"]],
        "processEscapes": True,
        "ignoreClass": "tex2jax_ignore|mathjax_ignore|document",  # text is never math by accident...
        "processClass": "math|output_area",  # ...only what Sphinx and myst-nb mark as math
    },
    # the package ships the STIX-Web fonts only (as Jupyter's classic notebook configures it)
    "HTML-CSS": {"availableFonts": ["STIX-Web"], "preferredFont": "STIX-Web", "webFont": "STIX-Web", "imageFont": None},
    # The config's fast preview typesets every equation twice, a rough pass and then the real one: without it
    # the math page (426 equations) is fully typeset in about half the time (headless Chromium here: 9-11 s
    # -> 4-6 s). The assistive MathML, which screen readers read, stays on.
    "fast-preview": {"disabled": True},
}

# --- HTML ------------------------------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "mnist-by-hand"
html_theme_options = {"show_toc_level": 2, "use_download_button": False}
suppress_warnings = ["myst.header"]  # the README's headings start at level 2 inside the included intro


# --- The API pages: scratch.X and tfimpl.X side by side ---------------------------------------------------------


def mirrored_modules() -> list[str]:
    """The modules both twins have (``scratch/X.py`` and ``tfimpl/X.py``), in scratch's reading order."""
    order = [m.strip() for m in importlib.import_module("scratch").__doc__.split(":mod:`~scratch.")[1:]]
    order = [m.split("`")[0] for m in order]
    found = {p.stem for p in (ROOT / "scratch").glob("*.py")} & {p.stem for p in (ROOT / "tfimpl").glob("*.py")}
    found -= {"__init__", "__main__", "cli"}
    return [m for m in order if m in found] + sorted(found - set(order))


def _single(package: str) -> list[str]:
    """The modules only one twin has (scratch's gradient checker, tfimpl's graph machinery, ...)."""
    others = "tfimpl" if package == "scratch" else "scratch"
    mine = {p.stem for p in (ROOT / package).glob("*.py")} - {"__init__", "__main__"}
    return sorted(mine - {p.stem for p in (ROOT / others).glob("*.py")})


def _modules(package: str) -> list[str]:
    """Every module of a package that sits beside the twins (``common``, ``compare``)."""
    return sorted({p.stem for p in (ROOT / package).glob("*.py")} - {"__init__", "__main__"})


def _directive(obj) -> str:
    return "autoclass" if isinstance(obj, type) else "autofunction" if callable(obj) else "autodata"


def _entry(package: str, module: str, name: str, obj) -> list[str]:
    """One card's body: the autodoc directive, or a sentence where the twin uses a framework's class as is."""
    if isinstance(obj, type) and not obj.__module__.startswith(package):  # Keras' SGD, say: its docs are Keras'
        return [f"`{package}.{module}.{name}` is `{obj.__module__.split('.src.')[0]}.{obj.__name__}` itself."]
    return ["```{eval-rst}", f".. {_directive(obj)}:: {package}.{module}.{name}", "```"]


def _pair_page(module: str) -> str:
    """A page of ``module``: each public name of ``scratch.module`` beside its twin in ``tfimpl.module``."""
    ours, theirs = (importlib.import_module(f"{p}.{module}") for p in ("scratch", "tfimpl"))
    lines = [
        f"# `{module}`: by hand and with TensorFlow",
        "",
        f"Left, `scratch.{module}`: NumPy by hand, with the derivation. Right, `tfimpl.{module}`: the same name",
        "and signature, with TensorFlow doing the calculus.",
        "",
        "::::{grid} 1 1 2 2",
        ":gutter: 2",
        "",
        ":::{grid-item-card} scratch (NumPy by hand)",
        "```{eval-rst}",
        f".. automodule:: scratch.{module}",
        "   :no-members:",
        "```",
        ":::",
        "",
        ":::{grid-item-card} tfimpl (TensorFlow)",
        "```{eval-rst}",
        f".. automodule:: tfimpl.{module}",
        "   :no-members:",
        "```",
        ":::",
        "::::",
        "",
    ]
    for name in ours.__all__:
        lines += [f"## `{name}`", "", "::::{grid} 1 1 2 2", ":gutter: 2", ""]
        for package, title, mod in (
            ("scratch", "scratch (NumPy by hand)", ours),
            ("tfimpl", "tfimpl (TensorFlow)", theirs),
        ):
            lines += [f":::{{grid-item-card}} {title}", *_entry(package, module, name, getattr(mod, name)), ":::", ""]
        lines += ["::::", ""]
    return "\n".join(lines)


def _single_page(package: str, module: str) -> str:
    return "\n".join(
        [
            f"# `{package}.{module}`",
            "",
            "```{eval-rst}",
            f".. automodule:: {package}.{module}",
            "   :members:",
            "```",
            "",
        ]
    )


SECTIONS = (
    ("The twins side by side", "by hand in NumPy on the left, TensorFlow on the right"),
    ("Only in scratch", "the gradient checker, the deliberately wrong pieces, the command line"),
    ("Only in tfimpl", "TensorFlow's own machinery: graphs, devices, the bridge between the twins"),
    ("common: the ground floor", "data, configuration, the loop's bookkeeping, files, plots, errors"),
    ("compare: the cross-checks", "scratch against tfimpl, check by check"),
)


def write_api_pages(app) -> None:
    """``api/*.md``: the mirrored modules side by side, then each package's own modules; an index."""
    api = HERE / "api"
    api.mkdir(exist_ok=True)
    sections = [
        {m: _pair_page(m) for m in mirrored_modules()},
        {f"scratch.{m}": _single_page("scratch", m) for m in _single("scratch")},
        {f"tfimpl.{m}": _single_page("tfimpl", m) for m in _single("tfimpl")},
        {f"common.{m}": _single_page("common", m) for m in _modules("common")},
        {f"compare.{m}": _single_page("compare", m) for m in _modules("compare")},
    ]
    index = ["# API: the twins side by side", ""]
    for package in ("scratch", "tfimpl", "common", "compare"):
        index += ["```{eval-rst}", f".. automodule:: {package}", "   :no-members:", "```", ""]
    pages = {}
    for (title, what), section in zip(SECTIONS, sections, strict=True):
        index += [
            f"## {title}",
            "",
            f"{what[0].upper()}{what[1:]}.",
            "",
            "```{toctree}",
            ":maxdepth: 1",
            "",
            *section,
            "```",
            "",
        ]
        pages.update(section)
    for name, text in {**pages, "index": "\n".join(index)}.items():
        path = api / f"{name}.md"
        if not path.exists() or path.read_text() != text:  # unchanged pages keep their time stamp
            path.write_text(text)


# --- Links written for the repository, made to work in the book --------------------------------------------------

MATH_LINK = re.compile(r"``docs/math\.md#([a-z0-9-]+)``")
SEE_MATH = re.compile(r"^\s*See ``docs/math\.md#[a-z0-9-]+``\.?\s*$")
SECTION_RULE = re.compile(r"^\s*-{3,}\s*$")


def place_for_numpydoc(app, what, name, obj, options, lines) -> None:
    """Before numpydoc parses a docstring: what it would misread, said the way it reads it.

    An ``Equations`` section (the optimizers' update rules) is not one of numpydoc's, which would drop it:
    it becomes a rubric in the description. A closing ``See docs/math.md#...`` line after the
    ``Parameters`` or ``Returns`` section would be read as one more parameter: it moves up, to the end of
    the description, where a reader of the source finds it too.
    """
    for i in range(len(lines) - 1):
        if lines[i].strip() == "Equations" and SECTION_RULE.match(lines[i + 1]):
            lines[i : i + 2] = [".. rubric:: Equations", ""]
            break
    sections = [i - 1 for i in range(1, len(lines)) if SECTION_RULE.match(lines[i]) and lines[i - 1].strip()]
    see = [i for i, line in enumerate(lines) if SEE_MATH.match(line)]
    if sections and see and see[-1] > sections[0]:
        line = lines.pop(see[-1]).strip()
        lines[sections[0] : sections[0]] = [line, ""]


CODE_LINK = re.compile(r"\]\(\.\./(scratch|tfimpl|compare|common|benchmarks|tests)/([a-z_/0-9]+)\.py\)")


def defaults_by_name(app, what, name, obj, options, lines) -> None:
    """A class attribute whose default is a function (``Pieces.dense_backward``) names that function,
    instead of repeating its docstring out of context."""
    elsewhere = callable(obj) and getattr(obj, "__module__", None) and not name.startswith(f"{obj.__module__}.")
    if what in ("attribute", "method") and elsewhere and hasattr(obj, "__qualname__"):
        lines[:] = [f"Default: :func:`{obj.__module__}.{obj.__qualname__}`."]


def link_math_sections(app, what, name, obj, options, lines) -> None:
    """A docstring's ``docs/math.md#anchor`` becomes a link to that section of the math page."""
    for i, line in enumerate(lines):
        lines[i] = MATH_LINK.sub(lambda m: f"`docs/math.md#{m.group(1)} <../math.html#{m.group(1)}>`__", line)


def link_code_to_api(app, docname, source) -> None:
    """In ``math.md``, a link to ``../scratch/losses.py`` goes to the API page of ``losses`` instead."""
    if docname != "math":
        return
    mirrored = set(mirrored_modules())

    def target(m):
        package, module = m.group(1), m.group(2)
        if package in ("scratch", "tfimpl") and module in mirrored:
            return f"](api/{module}.md)"
        if package in ("scratch", "tfimpl", "common", "compare") and "/" not in module:
            return f"](api/{package}.{module}.md)"
        return f"](path:../{package}/{module}.py)"  # tests/...: the file itself, as a download

    source[0] = CODE_LINK.sub(target, source[0])


def copy_notebooks(app) -> None:
    """``docs/notebooks/``: a copy of each notebook, its links made relative to where the copy sits.

    A notebook links ``../docs/math.md#softmax`` from ``notebooks/``; from ``docs/notebooks/`` that is
    ``../math.md#softmax``. Links between notebooks need no change. The copy is rewritten only when its
    notebook changes, so an unchanged notebook is neither re-read nor re-executed.
    """
    folder = HERE / "notebooks"
    folder.mkdir(exist_ok=True)
    sources = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
    for stale in set(folder.glob("*.py")) - {folder / p.name for p in sources}:
        stale.unlink()
    for source in sources:
        text = source.read_text().replace("](../docs/", "](../")
        copy = folder / source.name
        if not copy.exists() or copy.read_text() != text:
            copy.write_text(text)


def setup(app):
    app.connect("builder-inited", write_api_pages)
    app.connect("builder-inited", copy_notebooks)
    app.connect("autodoc-process-docstring", defaults_by_name, priority=50)
    app.connect("autodoc-process-docstring", place_for_numpydoc, priority=100)  # before numpydoc (500)
    app.connect("autodoc-process-docstring", link_math_sections)
    app.connect("source-read", link_code_to_api)
