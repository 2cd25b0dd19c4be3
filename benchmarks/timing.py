"""The one timing loop behind the report and the products' bound."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

__all__ = ["time_rounds"]


def time_rounds(fn: Callable[[], object], *, seconds: float, min_rounds: int = 3, round_seconds: float = 0.01):
    """Seconds per call of ``fn()``, one value per round, and the last call's result.

    The first call is a round of its own and sets how many calls the later rounds make (enough for
    ``round_seconds``, so the timer's own cost does not count); rounds go on until ``seconds`` have
    passed and there are ``min_rounds`` of them. Warm up before calling this: nothing here is untimed.
    """
    times, calls, start = [], 1, time.perf_counter()
    while len(times) < min_rounds or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        for _ in range(calls):
            result = fn()
        times.append((time.perf_counter() - t0) / calls)
        calls = max(1, int(round_seconds / max(times[0], 1e-9)))
    return np.asarray(times), result
