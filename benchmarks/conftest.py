"""The suite's cases: every case when timed (``--benchmark-enable``); a smoke test otherwise.

The smoke test (what CI runs, benchmarks disabled) takes each operation x implementation for the
``mlp`` model at its smallest batch size, with a two-step round or epoch, so every code path runs once
and nothing can rot, in about 25 s. ``linear``, ``wide`` and the larger batches only change sizes, not
code paths (the builders loop over the layers whatever their number). The ``cnn`` adds one path each: its
``forward`` in NumPy and in Keras (whose Conv2D layers take our kernels unchanged: the logits must match).
"""

from __future__ import annotations

from benchmarks import workloads


def smoke_cases() -> list[workloads.Case]:
    smallest = {}
    for c in workloads.cases(models=("mlp",)):
        key = (c.operation, c.implementation, c.model, c.device)
        if key not in smallest or c.batch_size < smallest[key].batch_size:
            smallest[key] = c
    cnn = [workloads.Case("forward", impl, "cnn", 1) for impl in ("scratch", "keras")]
    return list(smallest.values()) + cnn


def pytest_generate_tests(metafunc):
    if "case" in metafunc.fixturenames:
        cases = smoke_cases() if metafunc.config.getoption("benchmark_disable") else list(workloads.cases())
        metafunc.parametrize("case", cases, ids=[c.id for c in cases])
