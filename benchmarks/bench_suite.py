"""The side-by-side suite: every operation x implementation x model x batch size x visible device.

Groups are ``operation / model / batch``, so pytest-benchmark's table puts the implementations of one
measurement next to each other. Each benchmark warms up first (tracing, XLA compilation, BLAS threads)
and checks what it computed afterwards (see :mod:`benchmarks.workloads`).

Timed (on demand; minutes)::

    pytest -n 0 benchmarks/bench_suite.py --benchmark-enable --benchmark-only -k "train_step and mlp"

CI runs it with ``--benchmark-disable`` (the default in ``pyproject.toml``) as a smoke test: the cases
come from :func:`benchmarks.conftest.smoke_cases`, each run once. The GPU appears as a device parameter
when TensorFlow sees one; no change to the command.
"""

from __future__ import annotations

import pytest

from benchmarks import workloads
from benchmarks.builders import build

pytest.importorskip("tensorflow")


def test_workload(benchmark, mnist, case):
    benchmark.group = f"{case.operation} / {case.model} / batch {case.batch_size}"
    benchmark.extra_info.update(implementation=case.implementation, device=case.device)
    # Disabled (CI): a two-step round or epoch proves the code path; timed: the real round.
    w = build(case, mnist, steps=2 if benchmark.disabled else None)
    w.warm_up(0 if benchmark.disabled else 2)
    benchmark.extra_info.update(steps=w.steps, examples=w.examples)
    try:
        result = benchmark(w.run)
        w.check(result)
    finally:
        del w
        workloads.release(full=not benchmark.disabled)
