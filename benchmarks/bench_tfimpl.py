"""tfimpl's graph train step against Keras' ``model.fit`` on the same model, batch and optimizer.

Each round trains the same 55 steps of batch 100 (5,500 images): tfimpl as one graph call per step or
55 steps per call, Keras as ``model.fit(..., epochs=1)``. Ratios come from one run:
``pytest benchmarks/bench_tfimpl.py --benchmark-enable --benchmark-only``.
"""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from scratch.data import one_hot  # noqa: E402
from tfimpl import models  # noqa: E402
from tfimpl.optimizers import make_optimizer  # noqa: E402
from tfimpl.train import make_train_function  # noqa: E402

STEPS, BATCH = 55, 100
RECIPES = {"linear": ((), 0.5), "mlp": ((300,), 0.1)}


def _keras_model(model):
    hidden, lr = RECIPES[model]
    layers = (
        [keras.Input((784,))] + [keras.layers.Dense(h, activation="relu") for h in hidden] + [keras.layers.Dense(10)]
    )
    m = keras.Sequential(layers)
    m.compile(optimizer=keras.optimizers.SGD(lr), loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    return m


@pytest.mark.benchmark(group="55 train steps, batch 100: linear")
@pytest.mark.parametrize("impl", ["tfimpl graph x1", "tfimpl graph x55", "keras fit"])
def test_linear(benchmark, mnist, impl):
    _bench(benchmark, mnist, "linear", impl)


@pytest.mark.benchmark(group="55 train steps, batch 100: mlp 784-300-10")
@pytest.mark.parametrize("impl", ["tfimpl graph x1", "tfimpl graph x55", "keras fit"])
def test_mlp(benchmark, mnist, impl):
    _bench(benchmark, mnist, "mlp", impl)


def _bench(benchmark, mnist, model, impl):
    x = mnist.train.images[: STEPS * BATCH]
    y = one_hot(mnist.train.labels[: STEPS * BATCH])
    if impl == "keras fit":
        m = _keras_model(model)
        m.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)  # traces the train function
        hist = benchmark(m.fit, x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
        assert np.isfinite(hist.history["loss"][-1])
        return
    hidden, lr = RECIPES[model]
    params = models.init_params(model, hidden=hidden or None, init="normal", seed=0)
    run_steps = make_train_function(
        params,
        make_optimizer("sgd", lr),
        tf.constant(x),
        tf.constant(y),
        BATCH,
        loss="softmax_cross_entropy",
        l2=0.0,
        activation="relu",
    )
    per_call = STEPS if impl.endswith("x55") else 1
    idx = tf.constant(np.arange(STEPS * BATCH).reshape(STEPS // per_call, per_call, BATCH), tf.int64)

    def epoch():
        return [run_steps(chunk) for chunk in idx]

    epoch()  # trace outside the timing
    losses = benchmark(epoch)
    assert np.all(np.isfinite(np.concatenate([l.numpy() for l in losses])))
