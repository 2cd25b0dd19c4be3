from __future__ import annotations

import numpy as np
import pytest

from common.data import load_mnist


@pytest.fixture(scope="session")
def mnist():
    return load_mnist(dtype=np.float32)
