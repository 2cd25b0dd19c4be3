"""Fixtures shared by tests/ and benchmarks/. The real MNIST comes from $MNIST_DIR (CI points it at
../shared/data/mnist). One float32 copy serves each worker's session; the float64 one lives per module.

The suite runs on two worker processes (pytest-xdist: ``-n 2 --dist loadfile`` in pyproject.toml, so a
module and its fixtures stay in one worker), each with one thread for NumPy's BLAS and for TensorFlow
(:data:`WORKER_THREADS`). On this 2-core machine that is what fills both cores: run serially, the suite
kept one core busy and the other at about an eighth (113% CPU), because most of its time is Python,
small TensorFlow ops and waits on subprocesses and the browser; two workers with their libraries' default
two threads each fought over the cores and gained nothing. ``-n 0`` runs it in this one process, serially
(for ``--pdb``, or to see a test's own timing alone).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from common.data import load_mnist

#: Set for the workers (a value already in the environment wins): read by OpenBLAS and TensorFlow when they
#: start, which in a worker is after it inherits this environment.
WORKER_THREADS = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
}


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
