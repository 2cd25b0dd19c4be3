"""The project retells the five tutorials of ``../shared/seeds/``; it reproduces none of their prose or code.

How the scan works. Every text file of the project (tracked or new, not ignored) and every tutorial is
lowercased, curly quotes made straight, lines that only import something dropped (``import numpy as np``
names a library, it says nothing), and the rest split into tokens: runs of letters, digits and
underscores, so ``tf.nn.sparse_softmax_cross_entropy_with_logits(labels=t, logits=z)`` is the seven tokens
``tf nn sparse_softmax_cross_entropy_with_logits labels t logits z``. A **shared phrase** is five consecutive
tokens found in both, across line breaks, prose and code alike. Phrases made only of numbers are facts
(the first test labels 7 2 1 0 4, a row of a one-hot matrix) and carry over. The few phrases in
:data:`ALLOWED` are idioms any Python program writes, each with the reason it is not a copy. Everything
else fails the test, with the phrase, the tutorial and the file.

No network: the tutorials are read from disk, and the test is skipped (saying so) where they are absent.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT.parent / "shared" / "seeds"
N = 5
TEXT_SUFFIXES = {".py", ".md", ".toml", ".txt", ".cfg", ".ini", ".yml", ".yaml", ".json", ".sh", ""}

#: Five-token phrases that both sides write because Python or the project's own API makes them, not
#: because one copied the other.
ALLOWED = {
    "for epoch in range epochs": "the header of every epoch loop; the tutorial's whole line is these five words",
    "for i p in enumerate": "a Python idiom; the lines around it differ",
    "mnist test images mnist test": "an argument list naming common.data.Datasets' splits, kept from the old "
    "input_data API on purpose so the tutorials' readers recognise them",
    "test images mnist test labels": "the same argument list",
}

IMPORT_LINE = re.compile(r"^\s*(?:import\s|from\s+\S+\s+import\s)")


def tokens(text: str) -> list[str]:
    """Lowercase word tokens of ``text``, import lines dropped (see the module docstring)."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    kept = "\n".join(line for line in text.splitlines() if not IMPORT_LINE.match(line))
    return re.findall(r"[a-z0-9_]+", kept)


def phrases(text: str, n: int = N) -> set[str]:
    """Every run of ``n`` consecutive tokens, except runs made only of numbers."""
    toks = tokens(text)
    runs = (" ".join(toks[i : i + n]) for i in range(len(toks) - n + 1))
    return {r for r in runs if not r.replace(" ", "").isdigit()}


def seed_phrases() -> dict[str, str]:
    """Phrase -> the tutorial file it comes from (the first, where several share it)."""
    out: dict[str, str] = {}
    for path in sorted(SEEDS.glob("[0-9][0-9][0-9]_*.txt")):
        for p in phrases(path.read_text(encoding="utf-8")):
            out.setdefault(p, path.name)
    return out


def project_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    return [ROOT / f for f in listed if Path(f).suffix in TEXT_SUFFIXES and (ROOT / f).is_file()]


def shared(text: str, seeds: dict[str, str]) -> set[str]:
    """The phrases of ``text`` that a tutorial also has, less the allowed idioms."""
    return {p for p in phrases(text) if p in seeds and p not in ALLOWED}


@pytest.fixture(scope="module")
def seeds() -> dict[str, str]:
    if not SEEDS.is_dir():
        pytest.skip(f"the tutorials are not at {SEEDS} (they sit beside the project in its workspace)")
    return seed_phrases()


def test_no_phrase_of_a_tutorial_is_in_the_project(seeds):
    found = []
    for path in project_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # a binary file under a text name: nothing to read
            continue
        found += [f"{seeds[p]}: {p!r} in {path.relative_to(ROOT)}" for p in sorted(shared(text, seeds))]
    assert not found, "\n".join(found)


def test_every_allowed_idiom_is_still_needed(seeds):
    """An allowance nobody uses any more is dropped, so the list stays as short as the truth."""
    texts = " ".join(p.read_text(encoding="utf-8", errors="ignore") for p in project_files())
    in_project = phrases(texts)
    assert {p for p in ALLOWED if p in seeds and p in in_project} == set(ALLOWED)


def test_the_scan_finds_a_copied_sentence_and_a_copied_line(seeds):
    """Negative control: a sentence and a code line taken from each tutorial, pasted into a file, are found."""
    for path in sorted(SEEDS.glob("[0-9][0-9][0-9]_*.txt")):
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if len(tokens(ln)) >= N]
        sentence = max((ln for ln in lines if "=" not in ln and "(" not in ln), key=len)
        code = next(ln for ln in lines if "=" in ln and "(" in ln and not ln.startswith("#"))
        pasted = f"# a learner's notes\n{sentence}\nvalue = 1\n{code}\n"
        assert shared(sentence, seeds) and shared(code, seeds) and shared(pasted, seeds), path.name
    assert not shared("TensorFlow 1 first describes the computation as a graph, then runs it.", seeds)
