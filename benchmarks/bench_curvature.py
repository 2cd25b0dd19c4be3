"""The cost of a Hessian-vector product beside the gradient it differentiates: ``hvp`` against ``loss_and_grads``.

Both by hand in NumPy (:mod:`scratch.curvature`, :mod:`scratch.models`), float32, the same parameters and
batch. Counting the large matrix products (those over the 784 pixels), ``loss_and_grads`` does two (the
forward pass and ``dW1``) and ``hvp`` three (the forward pass, the R-forward ``x V1`` and ``R{dW1}``); the
rest is small, so expect about 1.5x. Print the ratio (median of 7 timings of each, taken alternately in one run)::

    python -m benchmarks.bench_curvature

or time them with pytest-benchmark: ``pytest -n 0 benchmarks/bench_curvature.py --benchmark-enable --benchmark-only``.
The report (``python -m benchmarks report``) does not include them yet.
"""

from __future__ import annotations

import sys
import timeit

import numpy as np
import pytest

from common.config import positive_int
from common.data import load_mnist
from scratch import curvature, models

MODELS = ("linear", "mlp")
BATCHES = (100, 1000)


def setup(model: str, batch: int, data=None):
    """``(params, x, labels, v)``: the tutorial model with small random weights, a batch, a unit direction."""
    data = load_mnist() if data is None else data
    params = models.init_params(model, init="normal", std=0.05, seed=0)
    rng = np.random.default_rng(1)
    v = {k: rng.standard_normal(p.shape).astype(p.dtype) for k, p in params.items()}
    return params, data.train.images[:batch], data.train.labels[:batch], v


@pytest.mark.benchmark(group="curvature: loss_and_grads against hvp, batch 100")
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("operation", ["loss_and_grads", "hvp"])
def test_hvp_against_loss_and_grads(benchmark, mnist, model, operation):
    params, x, labels, v = setup(model, 100, mnist)
    if operation == "hvp":
        out = benchmark(curvature.hvp, params, x, labels, v)
    else:
        out = benchmark(models.loss_and_grads, params, x, labels)[1]
    assert all(out[k].shape == params[k].shape and np.all(np.isfinite(out[k])) for k in params)


def ratios(repeats: int = 7, data=None) -> list[tuple[str, int, float, float]]:
    """``(model, batch, seconds per loss_and_grads, seconds per hvp)``, medians of alternate timings."""
    out = []
    for model in MODELS:
        for batch in BATCHES:
            params, x, labels, v = setup(model, batch, data)
            calls = {
                "grad": lambda p=params, x=x, t=labels: models.loss_and_grads(p, x, t),
                "hvp": lambda p=params, x=x, t=labels, v=v: curvature.hvp(p, x, t, v),
            }
            number = max(1, int(0.05 / timeit.timeit(calls["hvp"], number=1)))
            times = {k: [] for k in calls}
            for _ in range(repeats):
                for k, call in calls.items():
                    times[k].append(timeit.timeit(call, number=number) / number)
            out.append((model, batch, float(np.median(times["grad"])), float(np.median(times["hvp"]))))
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_curvature",
        description="what a Hessian-vector product costs beside the gradient",
    )
    parser.add_argument(
        "--repeats", type=positive_int, default=7, help="alternate timings per call (the median is kept)"
    )
    args = parser.parse_args(argv)
    print(f"hvp against loss_and_grads, scratch (NumPy by hand), float32, median of {args.repeats} alternate timings")
    for model, batch, grad, hvp in ratios(repeats=args.repeats):
        print(
            f"  {model:<6} batch {batch:>5}: loss_and_grads {grad * 1e3:7.3f} ms, hvp {hvp * 1e3:7.3f} ms, ratio {hvp / grad:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
