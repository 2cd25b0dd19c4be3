r"""Time to accuracy: how long each implementation takes to reach a tutorial's test accuracy.

The figure users compare. Two recipes, both at batch 100 from the same NumPy-drawn start (seed 0):

* ``linear`` to **92%**: the first tutorial, softmax regression from zeros, SGD at 0.5;
* ``mlp`` to **98%**: the MLP tutorial, 784-300-10 ReLU from normal(0.03), SGD at 0.5, the clipped
  per-class loss.

Each implementation trains an epoch at a time and is scored on the 10,000 test images after each epoch,
until it reaches the target or runs out of epochs. Reported: ``steady_seconds`` (the epochs' training
time only), ``compile_seconds`` (tracing and compiling before the first step, on a warm-up whose effect
is undone), and ``wall_seconds`` (everything from building the model to the epoch that reached the
target, scoring included). Keras ``fit`` is the peer, with the same loss, rate and batch size.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from common.config import CNN_RECIPE
from common.data import Datasets, batch_indices
from common.labels import one_hot
from common.spec import CLIP_MAX, CLIP_MIN

__all__ = ["CNN_RECIPE", "RECIPES", "time_to_accuracy"]


@dataclass(frozen=True)
class Recipe:
    model: str
    init: str
    loss: str
    target: float
    max_epochs: int
    learning_rate: float = 0.5
    batch_size: int = 100


RECIPES = {
    "linear": Recipe("linear", "zeros", "softmax_cross_entropy", 0.92, 10),
    "mlp": Recipe("mlp", "normal", "clipped_binary_cross_entropy", 0.98, 15),
}


def _start(recipe: Recipe) -> dict:
    import scratch.models as np_models

    return np_models.init_params(recipe.model, init=recipe.init, seed=0)


def _epochs(recipe: Recipe, data: Datasets, train_epoch, accuracy, compile_seconds: float, started: float) -> dict:
    """Train epoch by epoch until the target: the steady seconds, the epochs, the wall seconds."""
    steady, acc, epoch = 0.0, 0.0, 0
    while acc < recipe.target and epoch < recipe.max_epochs:
        idx = batch_indices(len(data.train), recipe.batch_size, 0, epoch)  # (550, 100)
        t0 = time.perf_counter()
        train_epoch(idx)
        steady += time.perf_counter() - t0
        acc, epoch = accuracy(), epoch + 1
    return {
        "target": recipe.target,
        "reached": bool(acc >= recipe.target),
        "accuracy": float(acc),
        "epochs": epoch,
        "steady_seconds": steady,
        "compile_seconds": compile_seconds,
        "wall_seconds": time.perf_counter() - started,
    }


def _scratch(recipe: Recipe, data: Datasets) -> dict:
    import scratch.models as np_models
    from scratch.optimizers import SGD
    from scratch.train import train_step

    started = time.perf_counter()
    params, opt = _start(recipe), SGD(recipe.learning_rate)
    X, T = data.train.images, one_hot(data.train.labels)

    def train_epoch(idx):
        for rows in idx:
            train_step(params, opt, X[rows], T[rows], loss=recipe.loss)

    accuracy = lambda: np_models.accuracy(params, data.test.images, data.test.labels)  # noqa: E731
    return _epochs(recipe, data, train_epoch, accuracy, 0.0, started)


def _tfimpl(recipe: Recipe, data: Datasets, device: str) -> dict:
    import tfimpl.models as tf_models
    from tfimpl.backend import tf
    from tfimpl.bridge import to_variables
    from tfimpl.compiled import make_train_function, warm_up
    from tfimpl.optimizers import make_optimizer
    from tfimpl.train import train_step

    started = time.perf_counter()
    with tf.device("/GPU:0" if device == "gpu" else "/CPU:0"):
        params, opt = to_variables(_start(recipe)), make_optimizer("sgd", recipe.learning_rate)
        opt.build(list(params.values()))
        X, T = tf.constant(data.train.images), tf.constant(one_hot(data.train.labels))
        x_test = tf.constant(data.test.images)
        step = lambda x, y: train_step(params, opt, x, y, loss=recipe.loss)  # noqa: E731
        run_steps = make_train_function(step, X, T, recipe.batch_size, xla=True)
        t0 = time.perf_counter()
        variables = [*params.values(), *opt.variables]
        warm_up(run_steps, variables, [len(data.train) // recipe.batch_size], recipe.batch_size)
        compile_seconds = time.perf_counter() - t0
        accuracy = lambda: tf_models.accuracy(params, x_test, data.test.labels)  # noqa: E731
        return _epochs(
            recipe, data, lambda idx: run_steps(tf.constant(idx)).numpy(), accuracy, compile_seconds, started
        )


def _clipped_per_example(y, logits):
    """The MLP tutorial's loss per example, for Keras (which takes the mean over the batch itself)."""
    from tfimpl.backend import tf

    p = tf.clip_by_value(tf.nn.softmax(logits), CLIP_MIN, CLIP_MAX)
    return -tf.reduce_sum(y * tf.math.log(p) + (1 - y) * tf.math.log(1 - p), axis=1)


def _keras(recipe: Recipe, data: Datasets, device: str) -> dict:
    from tfimpl.backend import keras, tf

    from .tf_workloads import keras_model

    started = time.perf_counter()
    with tf.device("/GPU:0" if device == "gpu" else "/CPU:0"):
        model = keras_model(_start(recipe))
        loss = (
            keras.losses.CategoricalCrossentropy(from_logits=True)
            if recipe.loss == "softmax_cross_entropy"
            else _clipped_per_example
        )
        model.compile(optimizer=keras.optimizers.SGD(recipe.learning_rate), loss=loss, metrics=["accuracy"])
        X, T = data.train.images, one_hot(data.train.labels)
        saved = [v.numpy() for v in model.variables]
        t0 = time.perf_counter()
        model.fit(X[:200], T[:200], batch_size=recipe.batch_size, epochs=1, verbose=0)  # traces fit's step
        model.optimizer.iterations.assign(0)
        for v, value in zip(model.variables, saved, strict=True):
            v.assign(value)
        compile_seconds = time.perf_counter() - t0

        def train_epoch(idx):
            model.fit(X[idx.ravel()], T[idx.ravel()], batch_size=recipe.batch_size, epochs=1, verbose=0, shuffle=False)

        def accuracy():
            logits = model.predict(data.test.images, batch_size=1000, verbose=0)
            return float(np.mean(np.argmax(logits, axis=1) == data.test.labels))

        return _epochs(recipe, data, train_epoch, accuracy, compile_seconds, started)


#: The CNN's recipe (:data:`common.config.CNN_RECIPE`) runs through each twin's own ``train``: scored once,
#: after its 3 epochs, against this target.
CNN_TARGET = 0.99


def _cnn(data: Datasets, impl: str, device: str) -> dict:
    """The CNN recipe through the twin's ``train`` (tfimpl's plain graph: XLA's CPU convolutions are slow)."""
    from common.config import RunConfig

    config = RunConfig(**CNN_RECIPE, device=device)
    if impl == "scratch":
        from scratch.train import train
    else:
        from tfimpl.train import train
    started = time.perf_counter()
    s = train(config, data, progress=False).summary
    return {
        "target": CNN_TARGET,
        "reached": bool(s["test_accuracy"] >= CNN_TARGET),
        "accuracy": float(s["test_accuracy"]),
        "epochs": CNN_RECIPE["epochs"],
        "steady_seconds": s["train_seconds"],
        "compile_seconds": s["compile_seconds"],
        "wall_seconds": time.perf_counter() - started,
    }


def time_to_accuracy(data: Datasets, models, devices, *, tensorflow: bool = True, progress: bool = True) -> list[dict]:
    """One row per (model, implementation, device): the seconds to the recipe's target accuracy. The ``cnn``
    runs its recipe's 3 epochs in scratch and tfimpl's graph (Keras has no copy of it here) and is scored at
    the end."""
    from tqdm import tqdm

    if "cnn" in models:
        cnn_jobs = [("scratch", "cpu")] + ([("tfimpl-graph", d) for d in devices] if tensorflow else [])
        models = [m for m in models if m != "cnn"]
    else:
        cnn_jobs = []
    jobs = [(m, "scratch", "cpu") for m in models]
    if tensorflow:
        jobs += [(m, impl, d) for m in models for d in devices for impl in ("tfimpl-xla", "keras")]
    rows = []
    for model, impl, device in tqdm(jobs, desc="time to accuracy", disable=not progress):
        recipe = RECIPES[model]
        if impl == "scratch":
            result = _scratch(recipe, data)
        else:
            result = (_tfimpl if impl == "tfimpl-xla" else _keras)(recipe, data, device)
        rows.append({"model": model, "implementation": impl, "device": device, **result})
    for impl, device in tqdm(cnn_jobs, desc="cnn to 99%", disable=not progress):
        rows.append({"model": "cnn", "implementation": impl, "device": device, **_cnn(data, impl, device)})
    return rows
