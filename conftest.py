"""Fixtures shared by tests/ and benchmarks/. The real MNIST comes from $MNIST_DIR (CI points it at
../shared/data/mnist). One float32 copy serves each worker's session; the float64 one lives per module.

The suite runs on two worker processes (pytest-xdist: ``-n auto --dist loadfile`` in pyproject.toml, so
a module and its fixtures stay in one worker), each with one thread for NumPy's BLAS and for TensorFlow
(:data:`WORKER_THREADS`). On a 2-core machine that is what fills both cores: run serially, the suite
kept one core busy and the other at about an eighth (113% CPU), because most of its time is Python,
small TensorFlow ops and waits on subprocesses and the browser; two workers with their libraries' default
two threads each fought over the cores and gained nothing.

Two workers cost memory: each imports TensorFlow and keeps what its TensorFlow runs allocated, so the
largest worker peaks at 2.0-2.6 GB and the two together, with their subprocesses and the browser, at
4.1-4.3 GB (PSS summed over the process tree), against 2.6 GB in one process. So ``-n auto`` asks
:func:`workers_for`: two workers where there are two cores and the memory for both, else one process.
``-n 0`` runs it in this one process, serially, whatever the machine (for a test's own timing, or to keep
the suite within 2.6 GB); so does ``--pdb``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from common.data import load_mnist
from common.host import memory_bytes, usable_cores

#: Set for the workers (a value already in the environment wins): read by OpenBLAS and TensorFlow when they
#: start, which in a worker is after it inherits this environment.
WORKER_THREADS = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
}


#: The most workers the suite runs on, the number it is measured with (``-n auto``).
MAX_WORKERS = 2
#: Memory set aside per worker: the largest worker's peak (2.6 GB) with room for the subprocess it waits on.
WORKER_MEMORY_BYTES = 3 * 10**9


def workers_for(cores: int, available_bytes: int) -> int:
    """Workers for ``-n auto``: one per core up to :data:`MAX_WORKERS`, each with :data:`WORKER_MEMORY_BYTES`
    free; 0 (one process, serially) where that allows fewer than two, since a lone worker only adds a process."""
    n = min(MAX_WORKERS, cores, available_bytes // WORKER_MEMORY_BYTES)
    return n if n >= 2 else 0


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_auto_num_workers(config):
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):  # the user's own count: xdist's hook reads it
        return None
    return workers_for(usable_cores(), memory_bytes("MemAvailable") or 0)  # memory unread counts as none


def pytest_configure(config):
    if getattr(config.option, "numprocesses", None):  # the controller, before it starts its workers
        for name, value in WORKER_THREADS.items():
            os.environ.setdefault(name, value)


@pytest.fixture(scope="session")
def mnist():
    """MNIST in float32, the dtype of every tutorial."""
    return load_mnist(dtype=np.float32)


@pytest.fixture(scope="module")
def mnist64():
    """MNIST in float64, for gradient checks and exact comparisons."""
    return load_mnist(dtype=np.float64)
