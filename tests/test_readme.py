"""Every command the README shows runs as written from the project's root, in the environment it sets up.

Each command is taken from the README itself (its ``bash`` blocks and the inline commands in its text),
then checked without doing the work: a ``.venv/bin/python -m MODULE ...`` command runs MODULE's own
``__main__`` in this process with argparse stopped right after it parsed the flags, so the module must
exist and every flag must parse (a training of minutes takes milliseconds); a ``pip install -e
".[extras]"`` names extras that ``pyproject.toml`` has; a pytest command names paths that exist and
options pytest knows. One form throughout: no bare ``python``, which outside the environment would be
another interpreter.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import re
import runpy
import shlex
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
VENV_PYTHON = ".venv/bin/python"


def readme_commands(text: str) -> list[str]:
    """The commands of the README's ``bash`` blocks and its inline commands, comments and prompts removed."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            commands += [part.strip() for part in line.split("&&") if part.strip()]
    prose = re.sub(r"```.*?```", " ", text, flags=re.S)  # the fences' backticks would pair with inline ones
    flat = " ".join(prose.split())  # inline commands may wrap across lines
    for span in re.findall(r"`([^`]+)`", flat):
        if span.startswith((f"{VENV_PYTHON} ", ".venv/bin/pip ", "python3 -m ")):
            commands += [part.strip() for part in span.split("&&")]
    return list(dict.fromkeys(commands))


COMMANDS = readme_commands(README)


class Parsed(Exception):
    """Raised by argparse, patched, once a command's flags have parsed: the work itself is never done."""


@pytest.fixture
def parse_only(monkeypatch):
    parse = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, args=None, namespace=None):
        raise Parsed(parse(self, args, namespace))

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    monkeypatch.chdir(ROOT)


def run_parse_only(argv: list[str], monkeypatch) -> None:
    """``python -m MODULE args`` or ``python FILE args`` in this process, up to its parsed flags."""
    if argv[0] == "-m":
        target, args = argv[1], argv[2:]
        monkeypatch.setattr(sys, "argv", [target, *args])
        spec = importlib.util.find_spec(target)
        if spec is not None and not hasattr(spec.loader, "get_code"):  # a module pytest's assertion rewriter owns
            run = functools.partial(runpy.run_path, spec.origin, run_name="__main__")
        else:
            run = functools.partial(runpy.run_module, target, run_name="__main__", alter_sys=True)
    else:
        target, args = argv[0], argv[1:]
        assert (ROOT / target).is_file(), f"{target}: no such file"
        monkeypatch.setattr(sys, "argv", [target, *args])
        run = functools.partial(runpy.run_path, str(ROOT / target), run_name="__main__")
    if "--help" in args or "-h" in args:
        with pytest.raises(SystemExit) as done:  # argparse prints the help and exits 0
            run()
        assert done.value.code == 0
        return
    with pytest.raises(Parsed):
        run()


def pytest_knows(config, option: str) -> bool:
    """Whether the running pytest, with its plugins, knows a long ``--option``: the same pytest, from the same
    environment, that the README's commands start (asked through its config instead of a second process)."""
    try:
        config.getoption(option.lstrip("-").replace("-", "_"))
    except ValueError:
        return False
    return True


#: The short options the README uses that take a value, and the long name pytest knows each by.
SHORT_WITH_VALUE = {"-k": "--keyword", "-m": "--markexpr", "-n": "--numprocesses"}


def check_pytest(args: list[str], config) -> None:
    skip_value = False
    for arg in args:
        if skip_value:  # the value of -k, -m or -n
            skip_value = False
        elif arg in SHORT_WITH_VALUE:
            assert pytest_knows(config, SHORT_WITH_VALUE[arg]), f"pytest does not know {arg}"
            skip_value = True
        elif arg.startswith("-"):
            assert pytest_knows(config, arg.split("=")[0]), f"pytest does not know {arg}"
        else:
            assert (ROOT / arg.split("::")[0]).exists(), f"{arg}: no such path"


def check_pip(args: list[str]) -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for arg in args:
        if arg.startswith(".["):
            wanted = arg[2:-1].split(",")
            assert set(wanted) <= set(extras), f"pyproject.toml has no extra {set(wanted) - set(extras)}"


def test_the_readme_shows_commands():
    """The extraction finds the set-up, the main job and the tests, so the test below has work to do."""
    assert "python3 -m venv .venv" in COMMANDS and '.venv/bin/pip install -e ".[dev]"' in COMMANDS
    assert f"{VENV_PYTHON} -m compare" in COMMANDS and f"{VENV_PYTHON} -m pytest" in COMMANDS
    assert len(COMMANDS) >= 20


def test_one_form_throughout():
    """No command starts with a bare ``python``: every one names the environment's interpreter."""
    bare = [c for c in COMMANDS if re.match(r"python(\d(\.\d+)?)?\s", c) and not c.startswith("python3 -m venv")]
    assert not bare, bare


@pytest.mark.parametrize("command", COMMANDS)
def test_command_runs_as_written(command, parse_only, monkeypatch, request):
    words = shlex.split(command)
    program, args = words[0], words[1:]
    if program == "python3" and args[:2] == ["-m", "venv"]:
        return  # the standard library's venv, before the environment exists
    if program == ".venv/bin/pip":
        assert args[:2] == ["install", "-e"], command
        check_pip(args)
    elif program == ".venv/bin/jupyter":
        assert args[0] == "lab" and (ROOT / args[1]).is_dir(), command
        extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
        assert any(d.startswith("jupyterlab") for d in extras["notebooks"])
    elif program == VENV_PYTHON and args[:2] == ["-m", "pytest"]:
        check_pytest(args[2:], request.config)
    elif program == VENV_PYTHON:
        run_parse_only(args, monkeypatch)
    else:
        pytest.fail(f"a command this test does not know how to check: {command}")


def test_the_check_can_fail(parse_only, monkeypatch, request):
    """Negative controls: a flag that does not exist, a module that does not exist, an extra that does not."""
    with pytest.raises(SystemExit):
        run_parse_only(["-m", "scratch", "train", "--learnin-rate", "0.1"], monkeypatch)
    with pytest.raises(ImportError):
        run_parse_only(["-m", "scratch_by_hand", "train"], monkeypatch)
    with pytest.raises(AssertionError, match="no extra"):
        check_pip([".[dev,book]"])
    with pytest.raises(AssertionError, match="pytest does not know --benchmark-enabled"):
        check_pytest(["--benchmark-enabled"], request.config)
    assert pytest_knows(request.config, "--benchmark-enable")  # a plugin's option is found
    with pytest.raises(AssertionError, match="pytest does not know -j"):
        check_pytest(["-j", "2"], request.config)
    check_pytest(["-n", "0", "tests/math"], request.config)  # xdist's -n, and its value skipped
    assert readme_commands("```bash\n.venv/bin/python -m compare  # the main job\n```") == [f"{VENV_PYTHON} -m compare"]
