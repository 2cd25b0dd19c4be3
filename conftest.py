"""Fixtures shared by tests/ and benchmarks/. The real MNIST comes from $MNIST_DIR (CI points it at
../shared/data/mnist). One float32 copy serves the whole session; the float64 one lives per module."""

from __future__ import annotations

import numpy as np
import pytest

from common.data import load_mnist


@pytest.fixture(scope="session")
def mnist():
    """MNIST in float32, the dtype of every tutorial."""
    return load_mnist(dtype=np.float32)


@pytest.fixture(scope="module")
def mnist64():
    """MNIST in float64, for gradient checks and exact comparisons."""
    return load_mnist(dtype=np.float64)
