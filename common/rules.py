r"""Every validation rule of the project, written once.

The command line (:mod:`common.config`), both twins' optimizers and models, and the experiments call
these, so a learning rate, a fraction or a list of hidden widths is judged the same way everywhere and
refused with the same one-line message.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from .errors import UserError

__all__ = [
    "check_choice",
    "check_fraction",
    "check_hidden",
    "check_nonnegative",
    "check_positive_int",
    "check_rate",
]


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_rate(name: str, value) -> float:
    """A finite number > 0 (a learning rate, a standard deviation); returns it as a float."""
    if not (_is_number(value) and math.isfinite(value) and value > 0):
        raise UserError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_nonnegative(name: str, value) -> float:
    """A finite number >= 0 (an L2 scale, an epsilon)."""
    if not (_is_number(value) and math.isfinite(value) and value >= 0):
        raise UserError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_fraction(name: str, value) -> float:
    """A number in [0, 1) (a momentum, Adam's betas)."""
    if not (_is_number(value) and 0 <= value < 1):
        raise UserError(f"{name} must lie in [0, 1), got {value!r}")
    return float(value)


def check_positive_int(name: str, value) -> int:
    """A whole number > 0 (a batch size, a step count)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UserError(f"{name} must be a whole number > 0, got {value!r}")
    return value


def check_hidden(hidden: Iterable[int]) -> tuple[int, ...]:
    """Hidden layer widths: one or more whole numbers > 0."""
    hidden = tuple(hidden)
    if not hidden or any(isinstance(h, bool) or int(h) != h or h <= 0 for h in hidden):
        raise UserError(f"hidden layer sizes must be one or more whole numbers > 0, got {hidden}")
    return tuple(int(h) for h in hidden)


def check_choice(name: str, value, options) -> None:
    """``value`` is one of ``options`` (a dict's keys or a sequence)."""
    if value not in options:
        raise UserError(f"unknown {name} {value!r}; choose one of {', '.join(sorted(options))}")
