"""NumPy by hand: one training step at batch 100 for each model, and loading MNIST.

Run with timings: ``pytest -n 0 benchmarks/bench_scratch.py --benchmark-enable --benchmark-only``.
Targets on the 2-core CI machine (issue 2): linear >= 8,000 steps/s, MLP 784-300-10 >= 1,200 steps/s,
loading <= 1 s.
"""

from __future__ import annotations

import numpy as np
import pytest

from common.data import load_mnist
from common.download import resolve_dir
from common.labels import one_hot
from scratch import models
from scratch.optimizers import SGD
from scratch.train import train_step

RECIPES = {"linear": ("zeros", 0.5), "mlp": ("normal", 0.1)}


@pytest.mark.benchmark(group="scratch train_step batch 100")
@pytest.mark.parametrize("model", ["linear", "mlp"])
def test_train_step(benchmark, mnist, model):
    init, lr = RECIPES[model]
    params = models.init_params(model, init=init)
    opt = SGD(lr)
    x, y = mnist.train.images[:100].copy(), one_hot(mnist.train.labels[:100])
    before = models.evaluate(params, x, mnist.train.labels[:100])[0]
    for _ in range(20):  # warm up BLAS threads and the allocator
        train_step(params, opt, x, y)
    loss = benchmark(train_step, params, opt, x, y)
    assert np.isfinite(loss) and loss < before  # it is learning the batch, not just spinning


@pytest.mark.benchmark(group="load MNIST")
def test_load_mnist(benchmark):
    folder = resolve_dir()
    ds = benchmark.pedantic(load_mnist, args=(folder,), kwargs={"download": False}, rounds=5, warmup_rounds=1)
    assert len(ds.train) == 55000 and len(ds.test) == 10000
