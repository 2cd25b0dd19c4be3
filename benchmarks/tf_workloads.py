r"""The TensorFlow side of :mod:`benchmarks.workloads`: :mod:`tfimpl` in its forms, and Keras, the peer.

``tfimpl-eager`` calls the functions op by op; ``tfimpl-graph`` wraps them in ``tf.function`` (one step per
call); ``tfimpl-graph-multi`` runs a round's steps in one call (:func:`tfimpl.compiled.make_train_function`);
``tfimpl-xla`` compiles that call with XLA. ``keras`` is the same model as a ``keras.Sequential``, through
``fit`` / ``evaluate`` / ``predict_on_batch``. Every builder returns a :class:`benchmarks.workloads.Workload`
whose ``run()`` is one timed call, checked by the shared checks of :class:`benchmarks.workloads.Context`.
"""

from __future__ import annotations

import itertools

import numpy as np

from common.labels import one_hot
from tfimpl import models as tf_models
from tfimpl.backend import tf
from tfimpl.bridge import to_numpy, to_variables
from tfimpl.compiled import make_train_function
from tfimpl.optimizers import make_optimizer
from tfimpl.train import train_step as tf_train_step

from .workloads import LEARNING_RATE, Context, Workload, chunks

__all__ = ["build_keras", "build_tfimpl", "keras_model"]

SPEC_X = tf.TensorSpec([None, 784], tf.float32)


def _device(ctx: Context) -> str:
    return "/GPU:0" if ctx.case.device == "gpu" else "/CPU:0"


def _compiled(ctx: Context, fn, signature):
    """``fn`` as the implementation runs it: as is (eager), or a ``tf.function`` (with XLA for ``tfimpl-xla``)."""
    impl = ctx.case.implementation
    if impl == "tfimpl-eager":
        return fn
    return tf.function(fn, jit_compile=impl == "tfimpl-xla", input_signature=signature)


def _on(device: str, fn):
    """``fn`` run under ``tf.device(device)``."""

    def run():
        with tf.device(device):
            return fn()

    return run


def _forward(ctx: Context, params, device) -> Workload:
    x = tf.constant(ctx.x)
    fwd = _compiled(ctx, lambda x: tf_models.forward(params, x)[0], [SPEC_X])
    return ctx.workload(_on(device, lambda: fwd(x).numpy()), ctx.check_logits)


def _loss_and_grads(ctx: Context, params, device) -> Workload:
    x, y = tf.constant(ctx.x), tf.constant(ctx.y)
    lag = _compiled(ctx, lambda x, y: tf_models.loss_and_grads(params, x, y), [SPEC_X, tf.TensorSpec([None, 10])])

    def run():
        value, grads = lag(x, y)
        return float(value), {k: g.numpy() for k, g in grads.items()}

    return ctx.workload(_on(device, run), lambda r: ctx.check_loss_and_grads(*r))


def _loss_and_correct(params, x, labels):
    """Summed loss and number correct of one chunk, so chunks add up to the test-set means."""
    logits = tf_models.forward(params, x)[0]
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    correct = tf.reduce_sum(tf.cast(tf.argmax(logits, axis=1) == labels, tf.float32))
    return tf.reduce_sum(tf.cast(losses, tf.float64)), correct


def _evaluate(ctx: Context, params, device) -> Workload:
    test = ctx.data.test
    parts = [
        (tf.constant(test.images[s]), tf.constant(test.labels[s], tf.int64))
        for s in chunks(len(test), ctx.case.batch_size)
    ]
    ev = _compiled(
        ctx, lambda x, labels: _loss_and_correct(params, x, labels), [SPEC_X, tf.TensorSpec([None], tf.int64)]
    )

    def run():
        totals = [ev(x, labels) for x, labels in parts]
        return sum(float(t[0]) for t in totals) / len(test), sum(float(t[1]) for t in totals) / len(test)

    return ctx.workload(_on(device, run), ctx.check_evaluation)


def _train_eager(ctx: Context, params, device, X, T) -> Workload:
    optimizer = make_optimizer("sgd", LEARNING_RATE)
    optimizer.build(list(params.values()))
    rounds = itertools.cycle([tf.constant(r) for r in ctx.rounds()])

    def run():
        idx = next(rounds)
        return [float(tf_train_step(params, optimizer, tf.gather(X, row), tf.gather(T, row))) for row in idx]

    return ctx.workload(_on(device, run), lambda losses: ctx.check_trained(losses, to_numpy(params)))


def _train_graph(ctx: Context, params, device, X, T) -> Workload:
    impl, B = ctx.case.implementation, ctx.case.batch_size
    optimizer = make_optimizer("sgd", LEARNING_RATE)
    optimizer.build(list(params.values()))
    step = lambda x, y: tf_train_step(params, optimizer, x, y)  # noqa: E731  (softmax cross-entropy, no L2)
    run_steps = make_train_function(step, X, T, B, xla=impl == "tfimpl-xla")
    per_call = 1 if impl == "tfimpl-graph" else len(ctx.idx)
    rounds = itertools.cycle(
        [[tf.constant(r[i : i + per_call]) for i in range(0, len(r), per_call)] for r in ctx.rounds()]
    )
    run = _on(device, lambda: np.concatenate([run_steps(chunk).numpy() for chunk in next(rounds)]))
    return ctx.workload(run, lambda losses: ctx.check_trained(losses, to_numpy(params)))


_TRAINING_SET: dict = {}


def _training_set(ctx: Context, device: str):
    """The training images and one-hot labels on ``device``, made once per device and data set.

    172 MB each time otherwise: a sweep of hundreds of cases would copy them hundreds of times.
    """
    key = (device, id(ctx.data))
    if key not in _TRAINING_SET:
        _TRAINING_SET.clear()
        with tf.device(device):
            _TRAINING_SET[key] = (tf.constant(ctx.data.train.images), tf.constant(one_hot(ctx.data.train.labels)))
    return _TRAINING_SET[key]


def build_tfimpl(ctx: Context) -> Workload:
    """One of the four tfimpl forms for ``ctx.case``, on its device."""
    op, device = ctx.case.operation, _device(ctx)
    with tf.device(device):
        params = to_variables(ctx.params)
        if op in ("forward", "loss_and_grads", "evaluate"):
            return {"forward": _forward, "loss_and_grads": _loss_and_grads, "evaluate": _evaluate}[op](
                ctx, params, device
            )
        X, T = _training_set(ctx, device)
        if ctx.case.implementation == "tfimpl-eager":
            return _train_eager(ctx, params, device, X, T)
        return _train_graph(ctx, params, device, X, T)


# ------------------------------------------------------------------------------------------------------
# Keras, the peer
# ------------------------------------------------------------------------------------------------------


def keras_model(params: dict[str, np.ndarray]):
    """``keras.Sequential`` of Dense layers with ``params`` as its weights, compiled with SGD and CE."""
    from tfimpl.backend import keras

    n_layers = len(params) // 2
    if params["W1"].ndim == 4:
        return _compiled_keras(keras, keras.Sequential(_keras_cnn_layers(keras)), params)
    layers = [keras.Input((784,))]
    for l in range(1, n_layers + 1):
        layers.append(keras.layers.Dense(params[f"W{l}"].shape[1], activation="relu" if l < n_layers else None))
    return _compiled_keras(keras, keras.Sequential(layers), params)


def _keras_cnn_layers(keras) -> list:
    """The CNN of :mod:`scratch.cnn` as Keras layers: Conv2D kernels are ``(kh, kw, c_in, c_out)`` too."""
    conv = {"kernel_size": 5, "padding": "same", "activation": "relu"}
    return [
        keras.Input((784,)),
        keras.layers.Reshape((28, 28, 1)),
        keras.layers.Conv2D(16, **conv),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(36, **conv),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),  # NHWC row-major, as NumPy's reshape
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10),
    ]


def _compiled_keras(keras, model, params):
    n_layers = len(params) // 2
    model.set_weights([params[f"{p}{l}"] for l in range(1, n_layers + 1) for p in "Wb"])
    model.compile(
        optimizer=keras.optimizers.SGD(LEARNING_RATE),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def _keras_params(model) -> dict[str, np.ndarray]:
    weights = model.get_weights()  # [W1, b1, W2, b2, ...]
    n_layers = len(weights) // 2
    return {f"{p}{l}": weights[2 * (l - 1) + i] for l in range(1, n_layers + 1) for i, p in enumerate("Wb")}


def build_keras(ctx: Context) -> Workload:
    """``predict_on_batch``, ``evaluate`` or ``fit`` of the same model, on the case's device."""
    op, B, device = ctx.case.operation, ctx.case.batch_size, _device(ctx)
    with tf.device(device):
        model = keras_model(ctx.params)
    if op == "forward":
        return ctx.workload(_on(device, lambda: model.predict_on_batch(ctx.x)), ctx.check_logits)
    if op == "evaluate":
        test, y = ctx.data.test, one_hot(ctx.data.test.labels)
        return ctx.workload(
            _on(device, lambda: model.evaluate(test.images, y, batch_size=B, verbose=0)), ctx.check_evaluation
        )
    # the examples of our next round (or the epoch), in our order (fit's own shuffling is off); the
    # gather is timed, as it is for the others
    rounds, X, T = itertools.cycle(ctx.rounds()), ctx.data.train.images, one_hot(ctx.data.train.labels)

    def run():
        rows = next(rounds).ravel()
        return model.fit(X[rows], T[rows], batch_size=B, epochs=1, verbose=0, shuffle=False).history["loss"]

    return ctx.workload(_on(device, run), lambda losses: ctx.check_trained(losses, _keras_params(model)))
