r"""What the benchmarks time: one workload per (operation, implementation, model, batch size, device).

Shared by the pytest-benchmark suite (:mod:`benchmarks.bench_suite`) and the report
(``python -m benchmarks report``), so both time exactly the same code.

Operations
    ``forward``         logits of one batch of test images
    ``loss_and_grads``  the batch loss and every parameter's gradient (no update)
    ``train_step``      a round of ``k`` consecutive SGD steps on contiguous training batches
    ``epoch``           one epoch of SGD, 55,000 // B steps over shuffled batches
    ``evaluate``        loss and accuracy of the 10,000 test images, B at a time

Implementations
    ``scratch``              NumPy by hand (:mod:`scratch`), always on the CPU
    ``tfimpl-eager``         :mod:`tfimpl` called op by op, no ``tf.function``
    ``tfimpl-graph``         :mod:`tfimpl` inside ``tf.function``, one step per call
    ``tfimpl-graph-multi``   the same graph running all ``k`` steps of a round in one call
    ``tfimpl-xla``           that multi-step graph compiled by XLA (``jit_compile=True``)
    ``keras``                the same model as ``keras.Sequential``, through ``fit`` / ``evaluate`` /
                             ``predict_on_batch``: what a user would otherwise write

Every workload starts from the same seeded parameters (normal, std 0.03) and trains with SGD at rate 0.1
on softmax cross-entropy, whatever the implementation. Its ``run()`` does one call; ``check(result)``
asserts that the call computed something sensible (finite loss, the right shapes, parameters that moved,
the same accuracy as NumPy), so a benchmark that silently stops computing fails.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from common.data import Datasets, batch_indices
from common.labels import one_hot
from scratch import models as np_models
from scratch.optimizers import SGD
from scratch.train import train_step as np_train_step

__all__ = [
    "BATCH_SIZES",
    "IMPLEMENTATIONS",
    "MODELS",
    "OPERATIONS",
    "Case",
    "Workload",
    "build",
    "cases",
    "devices",
    "product_shapes",
]

#: Model name -> hidden layer widths. ``wide`` is there to move the crossover: more arithmetic per step
#: makes the fixed cost per call (where NumPy wins) matter less than the speed of the products.
MODELS = {"linear": (), "mlp": (300,), "wide": (1024,)}
BATCH_SIZES = (1, 10, 100, 1000, 10000)
IMPLEMENTATIONS = ("scratch", "tfimpl-eager", "tfimpl-graph", "tfimpl-graph-multi", "tfimpl-xla", "keras")
OPERATIONS = ("forward", "loss_and_grads", "train_step", "epoch", "evaluate")

#: Which implementations each operation has. Keras has no public "gradients only" call; the multi-step
#: graph only differs from the plain graph when there are several steps.
OPERATION_IMPLEMENTATIONS = {
    "forward": ("scratch", "tfimpl-eager", "tfimpl-graph", "tfimpl-xla", "keras"),
    "loss_and_grads": ("scratch", "tfimpl-eager", "tfimpl-graph", "tfimpl-xla"),
    "train_step": IMPLEMENTATIONS,
    "epoch": IMPLEMENTATIONS,
    "evaluate": ("scratch", "tfimpl-eager", "tfimpl-graph", "tfimpl-xla", "keras"),
}
#: An epoch (or the test set) at batch 1 or 10 is 55,000 (10,000) Python-level calls per round: minutes
#: for the eager and Keras paths, and the per-step figure is already the ``train_step`` row.
OPERATION_BATCH_SIZES = {"epoch": (100, 1000, 10000), "evaluate": (100, 1000, 10000)}

LEARNING_RATE = 0.1
INIT_STD = 0.03
SEED = 0
#: Steps in a ``train_step`` round: enough to amortise a Keras ``fit`` call, within the 55,000 examples.
ROUND_STEPS = 50
TF_IMPLEMENTATIONS = tuple(i for i in IMPLEMENTATIONS if i != "scratch")


@dataclass(frozen=True)
class Case:
    operation: str
    implementation: str
    model: str
    batch_size: int
    device: str = "cpu"

    @property
    def id(self) -> str:
        return f"{self.operation}-{self.implementation}-{self.model}-b{self.batch_size}-{self.device}"


@dataclass
class Workload:
    """One timed call and its check. ``steps`` batches of ``batch_size`` pass through each call."""

    case: Case
    run: Callable[[], object]
    check: Callable[[object], None]
    steps: int
    examples: int

    def warm_up(self, calls: int = 2) -> None:
        """Trace, compile and settle thread pools and allocators outside the timing; checks each result."""
        for _ in range(calls):
            self.check(self.run())


def devices() -> list[str]:
    """``["cpu"]``, plus ``"gpu"`` when TensorFlow is installed and sees one."""
    try:
        import tensorflow as tf
    except ImportError:
        return ["cpu"]
    return ["cpu", "gpu"] if tf.config.list_physical_devices("GPU") else ["cpu"]


def tensorflow_available() -> bool:
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return False
    return True


def cases(
    operations=OPERATIONS,
    implementations=IMPLEMENTATIONS,
    models=tuple(MODELS),
    batch_sizes=BATCH_SIZES,
    device_names: list[str] | None = None,
) -> Iterator[Case]:
    """Every meaningful combination; NumPy only runs on the CPU, TensorFlow on every visible device."""
    device_names = devices() if device_names is None else device_names
    for op, impl, model, batch in itertools.product(operations, implementations, models, batch_sizes):
        if impl not in OPERATION_IMPLEMENTATIONS[op] or batch not in OPERATION_BATCH_SIZES.get(op, BATCH_SIZES):
            continue
        for dev in device_names if impl != "scratch" else ["cpu"]:
            yield Case(op, impl, model, batch, dev)


def product_shapes(model: str, batch_size: int, kind: str) -> list[tuple[tuple[int, int], tuple[int, int], str]]:
    """The matrix products of one forward pass (``kind="forward"``) or one train step (``"train"``).

    Returns ``[(a_shape, b_shape, form)]`` with ``form`` one of ``"a@b"`` (forward ``h W``), ``"a.T@b"``
    (``dW = h^T dout``) and ``"a@b.T"`` (``dh = dout W^T``, every layer but the first).
    """
    sizes = [784, *MODELS[model], 10]
    out = []
    for layer, (d_in, d_out) in enumerate(itertools.pairwise(sizes)):
        out.append(((batch_size, d_in), (d_in, d_out), "a@b"))
        if kind == "train":
            out.append(((batch_size, d_in), (batch_size, d_out), "a.T@b"))
            if layer > 0:
                out.append(((batch_size, d_out), (d_in, d_out), "a@b.T"))
    return out


def flops(model: str, batch_size: int, kind: str) -> int:
    """Multiply-adds times two of :func:`product_shapes`."""
    total = 0
    for a, b, form in product_shapes(model, batch_size, kind):
        m, k = (a[1], a[0]) if form == "a.T@b" else a
        n = b[0] if form == "a@b.T" else b[1]
        total += 2 * m * k * n
    return total


# ------------------------------------------------------------------------------------------------------
# Building a workload
# ------------------------------------------------------------------------------------------------------


def initial_params(model: str) -> dict[str, np.ndarray]:
    """The seeded starting point every implementation copies."""
    kind = "linear" if model == "linear" else "mlp"
    return np_models.init_params(kind, hidden=MODELS[model] or None, init="normal", std=INIT_STD, seed=SEED)


def round_steps(operation: str, batch_size: int, n_train: int) -> int:
    """Steps per call: a ``train_step`` round (:data:`ROUND_STEPS`, fewer if the data runs out), an epoch."""
    if operation == "epoch":
        return n_train // batch_size
    if operation == "train_step":
        return max(1, min(ROUND_STEPS, n_train // batch_size))
    return 1


def build(case: Case, data: Datasets, *, steps: int | None = None) -> Workload:
    """The workload for ``case`` on ``data``; ``steps`` overrides the ``train_step`` round length."""
    if case.batch_size > len(data.test) and case.operation in ("forward", "loss_and_grads"):
        raise ValueError(f"batch {case.batch_size} is larger than the test set ({len(data.test)})")
    k = round_steps(case.operation, case.batch_size, len(data.train))
    if steps is not None and case.operation == "train_step":
        k = min(steps, k)
    ctx = _Context(case, data, k)
    if case.implementation == "scratch":
        return _scratch(ctx)
    if case.implementation == "keras":
        return _keras(ctx)
    return _tfimpl(ctx)


@dataclass
class _Context:
    case: Case
    data: Datasets
    steps: int

    def __post_init__(self):
        self.params = initial_params(self.case.model)
        B = self.case.batch_size
        # forward / loss_and_grads: the first B test images (real digits, not noise)
        self.x = self.data.test.images[:B]
        self.labels = self.data.test.labels[:B]
        self.y = one_hot(self.labels)
        # training rounds: contiguous batches; an epoch: the shuffled batches of epoch 0
        if self.case.operation == "epoch":
            self.idx = batch_indices(len(self.data.train), B, SEED, 0)
        else:
            self.idx = np.arange(self.steps * B, dtype=np.int64).reshape(self.steps, B)
        self.start = {k: v.copy() for k, v in self.params.items()}

    @functools.cached_property
    def reference(self) -> tuple[float, float]:
        """NumPy's test loss and accuracy of the starting parameters."""
        return np_models.evaluate(self.start, self.data.test.images, self.data.test.labels)

    @functools.cached_property
    def expected_logits(self) -> np.ndarray:
        return np_models.forward(self.start, self.x)[0]

    def workload(self, run, check) -> Workload:
        c = self.case
        steps = {"train_step": self.steps, "epoch": self.steps}.get(c.operation, 1)
        if c.operation == "evaluate":
            steps = -(-len(self.data.test) // c.batch_size)
        examples = len(self.data.test) if c.operation == "evaluate" else steps * c.batch_size
        return Workload(c, run, check, steps, examples)

    # The checks, shared by every implementation -------------------------------------------------

    def check_logits(self, logits) -> None:
        logits = np.asarray(logits)
        assert logits.shape == (self.case.batch_size, 10), logits.shape
        expected = self.expected_logits
        # float32 sums in a different order: agreement to 1e-4 relative to the logits' scale
        scale = float(np.abs(expected).max()) + 1.0
        np.testing.assert_allclose(logits, expected, rtol=0, atol=1e-4 * scale)

    def check_loss_and_grads(self, value, grads: dict) -> None:
        assert np.isfinite(float(value)), value
        for k, p in self.start.items():
            g = np.asarray(grads[k])
            assert g.shape == p.shape and np.all(np.isfinite(g)), (k, g.shape)
        assert float(np.abs(np.asarray(grads["W1"])).max()) > 0, "all-zero W1 gradient"

    def check_trained(self, losses, current: dict) -> None:
        losses = np.asarray(losses, dtype=np.float64)
        assert losses.size and np.all(np.isfinite(losses)), losses
        last = f"b{len(self.start) // 2}"
        assert not np.array_equal(np.asarray(current[last]), self.start[last]), "the parameters did not move"

    def check_evaluation(self, result) -> None:
        loss, acc = (float(v) for v in result)
        # same parameters as the NumPy reference; float32 rounding may flip a few near-ties (<= 0.2%)
        assert np.isfinite(loss) and abs(acc - self.reference[1]) <= 2e-3, (loss, acc, self.reference)
        assert abs(loss - self.reference[0]) <= 1e-3 * max(1.0, abs(self.reference[0])), (loss, self.reference)


def _chunks(n: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def _weighted(parts: list[tuple[float, float, int]]) -> tuple[float, float]:
    n = sum(p[2] for p in parts)
    return sum(p[0] * p[2] for p in parts) / n, sum(p[1] * p[2] for p in parts) / n


# ------------------------------------------------------------------------------------------------------
# NumPy
# ------------------------------------------------------------------------------------------------------


def _scratch(ctx: _Context) -> Workload:
    op, params = ctx.case.operation, ctx.params
    if op == "forward":
        return ctx.workload(lambda: np_models.forward(params, ctx.x)[0], ctx.check_logits)
    if op == "loss_and_grads":
        return ctx.workload(
            lambda: np_models.loss_and_grads(params, ctx.x, ctx.y), lambda r: ctx.check_loss_and_grads(*r)
        )
    if op == "evaluate":
        test = ctx.data.test

        def evaluate():
            parts = []
            for s in _chunks(len(test), ctx.case.batch_size):
                loss, acc = np_models.evaluate(params, test.images[s], test.labels[s])
                parts.append((loss, acc, s.stop - s.start))
            return _weighted(parts)

        return ctx.workload(evaluate, ctx.check_evaluation)
    X, T = ctx.data.train.images, one_hot(ctx.data.train.labels)
    opt = SGD(LEARNING_RATE)
    contiguous = op == "train_step"

    def train():
        losses = np.empty(len(ctx.idx))
        for i, rows in enumerate(ctx.idx):
            if contiguous:  # a slice is a view: no copy, as a real loop over a pre-shuffled array would do
                s = slice(int(rows[0]), int(rows[0]) + len(rows))
                losses[i] = np_train_step(params, opt, X[s], T[s])
            else:
                losses[i] = np_train_step(params, opt, X[rows], T[rows])
        return losses

    return ctx.workload(train, lambda losses: ctx.check_trained(losses, params))


# ------------------------------------------------------------------------------------------------------
# TensorFlow: tfimpl in its three forms
# ------------------------------------------------------------------------------------------------------


def _tf_device(name: str) -> str:
    return "/GPU:0" if name == "gpu" else "/CPU:0"


def _tfimpl(ctx: _Context) -> Workload:
    import tensorflow as tf

    from tfimpl import models as tf_models
    from tfimpl.bridge import to_numpy, to_variables
    from tfimpl.compiled import make_train_function
    from tfimpl.optimizers import make_optimizer
    from tfimpl.train import train_step as tf_train_step

    impl, op, B = ctx.case.implementation, ctx.case.operation, ctx.case.batch_size
    device = _tf_device(ctx.case.device)
    eager = impl == "tfimpl-eager"
    xla = impl == "tfimpl-xla"

    def compiled(fn, signature):
        return fn if eager else tf.function(fn, jit_compile=xla, input_signature=signature)

    with tf.device(device):
        params = to_variables(ctx.params)
        spec = tf.TensorSpec([None, 784], tf.float32)
        if op == "forward":
            x = tf.constant(ctx.x)
            fwd = compiled(lambda x: tf_models.forward(params, x)[0], [spec])

            def run():
                with tf.device(device):
                    return fwd(x).numpy()

            return ctx.workload(run, ctx.check_logits)
        if op == "loss_and_grads":
            x, y = tf.constant(ctx.x), tf.constant(ctx.y)
            lag = compiled(lambda x, y: tf_models.loss_and_grads(params, x, y), [spec, tf.TensorSpec([None, 10])])

            def run():
                with tf.device(device):
                    value, grads = lag(x, y)
                    return float(value), {k: g.numpy() for k, g in grads.items()}

            return ctx.workload(run, lambda r: ctx.check_loss_and_grads(*r))
        if op == "evaluate":
            test = ctx.data.test
            chunks = [(tf.constant(test.images[s]), test.labels[s]) for s in _chunks(len(test), B)]
            ev = compiled(
                lambda x, labels: _tf_loss_and_correct(tf_models, params, x, labels),
                [spec, tf.TensorSpec([None], tf.int64)],
            )
            labels = [tf.constant(lab, tf.int64) for _, lab in chunks]

            def run():
                with tf.device(device):
                    totals = [ev(x, lab) for (x, _), lab in zip(chunks, labels, strict=True)]
                    loss = sum(float(t[0]) for t in totals) / len(test)
                    return loss, sum(float(t[1]) for t in totals) / len(test)

            return ctx.workload(run, ctx.check_evaluation)

        # training: train_step rounds and epochs
        optimizer = make_optimizer("sgd", LEARNING_RATE)
        X = tf.constant(ctx.data.train.images)
        T = tf.constant(one_hot(ctx.data.train.labels))
        if eager:
            optimizer.build(list(params.values()))
            batches = [(tf.gather(X, rows), tf.gather(T, rows)) for rows in ctx.idx] if op == "train_step" else None
            idx = tf.constant(ctx.idx)

            def run():
                with tf.device(device):
                    out = []
                    for i in range(len(ctx.idx)):
                        xb, yb = batches[i] if batches else (tf.gather(X, idx[i]), tf.gather(T, idx[i]))
                        out.append(float(tf_train_step(params, optimizer, xb, yb)))
                    return out

        else:
            run_steps = make_train_function(
                params, optimizer, X, T, B, loss="softmax_cross_entropy", l2=0.0, activation="relu", xla=xla
            )
            per_call = 1 if impl == "tfimpl-graph" else len(ctx.idx)
            idx = [tf.constant(ctx.idx[i : i + per_call]) for i in range(0, len(ctx.idx), per_call)]

            def run():
                with tf.device(device):
                    return np.concatenate([run_steps(chunk).numpy() for chunk in idx])

        return ctx.workload(run, lambda losses: ctx.check_trained(losses, to_numpy(params)))


def _tf_loss_and_correct(tf_models, params, x, labels):
    """Summed loss and number correct of one chunk, so chunks add up to the test-set means."""
    import tensorflow as tf

    logits = tf_models.forward(params, x)[0]
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    correct = tf.reduce_sum(tf.cast(tf.argmax(logits, axis=1) == labels, tf.float32))
    return tf.reduce_sum(tf.cast(losses, tf.float64)), correct


# ------------------------------------------------------------------------------------------------------
# Keras, the peer
# ------------------------------------------------------------------------------------------------------


def keras_model(params: dict[str, np.ndarray]):
    """``keras.Sequential`` of Dense layers with ``params`` as its weights, compiled with SGD and CE."""
    import keras

    n_layers = len(params) // 2
    layers = [keras.Input((784,))]
    for l in range(1, n_layers + 1):
        layers.append(keras.layers.Dense(params[f"W{l}"].shape[1], activation="relu" if l < n_layers else None))
    model = keras.Sequential(layers)
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


def _keras(ctx: _Context) -> Workload:
    import tensorflow as tf

    op, B = ctx.case.operation, ctx.case.batch_size
    device = _tf_device(ctx.case.device)
    with tf.device(device):
        model = keras_model(ctx.params)
    if op == "forward":

        def run():
            with tf.device(device):
                return model.predict_on_batch(ctx.x)

        return ctx.workload(run, ctx.check_logits)
    if op == "evaluate":
        test = ctx.data.test
        y = one_hot(test.labels)

        def run():
            with tf.device(device):
                return model.evaluate(test.images, y, batch_size=B, verbose=0)

        return ctx.workload(run, ctx.check_evaluation)
    n = len(ctx.idx) * B
    X, T = ctx.data.train.images, one_hot(ctx.data.train.labels)
    if op == "train_step":
        X, T = X[:n], T[:n]
    else:  # an epoch: Keras shuffles itself; give it the same examples our epoch uses
        rows = np.sort(ctx.idx.ravel())
        X, T = X[rows], T[rows]

    def run():
        with tf.device(device):
            hist = model.fit(X, T, batch_size=B, epochs=1, verbose=0, shuffle=op == "epoch")
        return hist.history["loss"]

    return ctx.workload(run, lambda losses: ctx.check_trained(losses, _keras_params(model)))
