r"""One result row for every check the project runs, and the table that prints them.

``python -m scratch gradcheck`` and ``python -m compare`` both report :class:`Row` objects: what was
compared, in which dtype, the largest absolute and relative error, the tolerance, and whether it passed.
A negative control (a deliberately wrong piece that must be caught) is a row with
``expected_to_fail=True``: it is *as expected* when it fails. The errors themselves are measured by
:func:`scratch.gradcheck.errors`, the one home of the relative error.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from dataclasses import asdict, dataclass

__all__ = ["Row", "format_table"]


@dataclass(frozen=True)
class Row:
    """One check and its verdict.

    ``count`` rows measure a number of items (test predictions that differ): their ``max_abs_error``
    and ``tolerance`` are counts, printed as whole numbers. ``coords`` is how many coordinates a
    sampled gradient check compared.
    """

    check: str
    dtype: str
    max_abs_error: float
    max_rel_error: float
    tolerance: float
    passed: bool
    note: str = ""
    family: str = ""
    expected_to_fail: bool = False
    coords: int | None = None
    count: bool = False

    @property
    def as_expected(self) -> bool:
        """A check passes; a negative control fails."""
        return self.passed != self.expected_to_fail

    @property
    def verdict(self) -> str:
        if self.expected_to_fail:
            return "FAIL (expected)" if not self.passed else "PASS (should FAIL!)"
        return "PASS" if self.passed else "FAIL"

    def to_dict(self) -> dict:
        return {**asdict(self), "as_expected": self.as_expected}


def _number(value: float, count: bool) -> str:
    return f"{int(value):d}" if count else f"{value:.1e}"


def format_table(rows: Iterable[Row], *, width: int = 120, headers: dict[str, str] | None = None) -> str:
    """The rows under one header per family, each check's name whole (both wrapped), at most ``width`` columns.

    ``headers`` maps a family to the line that introduces it (what its rows compare); a family without
    one is introduced by its name. Counts print as whole numbers, with ``-`` for their relative error.
    """
    rows = list(rows)
    show_coords = any(r.coords is not None for r in rows)
    tail = f"  {'dtype':<7}  {'max abs':>7}  {'max rel':>7}  {'tolerance':>9}" + ("  coords" if show_coords else "")
    tail += "  result"
    name_width = max(24, width - len(tail) - len("PASS (should FAIL!)") + len("result") - 2)
    lines, family = [], None
    for r in rows:
        if r.family != family:
            family = r.family
            title = textwrap.wrap((headers or {}).get(family, family), width, subsequent_indent="  ")
            lines += ["", *title] if lines else title
            lines.append(f"  {'check':<{name_width}}{tail}")
        name = textwrap.wrap(r.check, name_width) or [""]
        rel = "-" if r.count else f"{r.max_rel_error:.1e}"
        cells = f"  {r.dtype:<7}  {_number(r.max_abs_error, r.count):>7}  {rel:>7}  {_number(r.tolerance, r.count):>9}"
        if show_coords:
            cells += f"  {'' if r.coords is None else r.coords:>6}"
        lines += [f"  {part}" for part in name[:-1]]
        lines.append(f"  {name[-1]:<{name_width}}{cells}  {r.verdict}")
    return "\n".join(lines)
