"""What this machine offers, as the kernel tells it: ``/proc`` fields, the usable cores, the memory.

Read by the benchmarks' machine description (``benchmarks/machine.py``), by the seed table's note of
where it ran (``compare/seeds.py``) and by the test suite's choice of worker processes (``conftest.py``).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

__all__ = ["cpu_model", "memory_bytes", "proc_field", "usable_cores"]


def proc_field(path: str, key: str) -> str | None:
    """The value of the first ``key: value`` line of a ``/proc`` file; None where there is none."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    """The processor's name (``Intel(R) Xeon(R) Processor``), or the platform's word for it."""
    return proc_field("/proc/cpuinfo", "model name") or platform.processor() or platform.machine()


def usable_cores() -> int:
    """The cores this process may run on (its affinity), or all of them where that cannot be asked."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def memory_bytes(key: str = "MemTotal") -> int | None:
    """A ``/proc/meminfo`` figure in bytes: ``MemTotal``, or ``MemAvailable`` (what the kernel could hand
    out now); None where it cannot be read."""
    value = proc_field("/proc/meminfo", key)  # e.g. "24632812 kB"
    try:
        return int(value.split()[0]) * 1024 if value else None
    except ValueError:
        return None
