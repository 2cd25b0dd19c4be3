r"""What the benchmarks time: one workload per (operation, implementation, model, batch size, device).

Shared by the pytest-benchmark suite (:mod:`benchmarks.bench_suite`) and the report
(``python -m benchmarks report``), so both time exactly the same code. This module holds the grid, the
:class:`Context` with its checks, and the NumPy builders; :mod:`benchmarks.tf_workloads` the TensorFlow
ones; :func:`benchmarks.builders.build` picks one for a case.

Operations
    ``forward``         logits of one batch of test images
    ``loss_and_grads``  the batch loss and every parameter's gradient (no update)
    ``train_step``      a round of ``k`` SGD steps on the shuffled batches of epoch 0, each gathered by index
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
import sys
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
    "Context",
    "Workload",
    "build_scratch",
    "cases",
    "cnn_product_shapes",
    "conv_flops",
    "devices",
    "product_shapes",
]

#: Model name -> hidden layer widths. ``wide`` is there to move the crossover: more arithmetic per step
#: makes the fixed cost per call (where NumPy wins) matter less than the speed of the products. ``cnn`` is
#: :data:`common.spec.CNN` (no hidden widths: its products are :func:`product_shapes`'s).
MODELS = {"linear": (), "mlp": (300,), "wide": (1024,), "cnn": ()}
BATCH_SIZES = (1, 10, 100, 1000, 10000)
#: Models whose batch sizes stop short of :data:`BATCH_SIZES`: the CNN's im2col matrix at batch 10,000
#: would hold 10,000 x 196 x 400 floats (3.1 GB) for its second convolution alone.
MODEL_BATCH_SIZES = {"cnn": (1, 10, 100, 1000)}
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

#: (model, implementation, device) left out of the grid, and why (measured on the 2-core CI machine).
EXCLUDED = {
    ("cnn", "tfimpl-xla", "cpu"): "XLA's CPU convolutions ran 2 steps/s at batch 64 after a 26 s compile; "
    "on a GPU it stays in",
}
#: Steps in a CNN ``train_step`` round: a NumPy CNN step at batch 1,000 takes about a second.
CNN_ROUND_STEPS = 5

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
        from tfimpl.backend import tf
    except ImportError:
        return ["cpu"]
    return ["cpu", "gpu"] if tf.config.list_physical_devices("GPU") else ["cpu"]


def tensorflow_available() -> bool:
    try:
        from tfimpl import backend  # noqa: F401  (TensorFlow, without its start-up lines)
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
        if batch not in MODEL_BATCH_SIZES.get(model, BATCH_SIZES):
            continue
        for dev in device_names if impl != "scratch" else ["cpu"]:
            if (model, impl, dev) not in EXCLUDED:
                yield Case(op, impl, model, batch, dev)


def product_shapes(model: str, batch_size: int, kind: str) -> list[tuple[tuple[int, int], tuple[int, int], str]]:
    """The matrix products of one forward pass (``kind="forward"``) or one train step (``"train"``).

    Returns ``[(a_shape, b_shape, form)]`` with ``form`` one of ``"a@b"`` (forward ``h W``), ``"a.T@b"``
    (``dW = h^T dout``) and ``"a@b.T"`` (``dh = dout W^T``, every layer but the first). The CNN's
    convolutions are their im2col products (:func:`cnn_product_shapes`).
    """
    if model == "cnn":
        return cnn_product_shapes(batch_size, kind)
    sizes = [784, *MODELS[model], 10]
    out = []
    for layer, (d_in, d_out) in enumerate(itertools.pairwise(sizes)):
        out.append(((batch_size, d_in), (d_in, d_out), "a@b"))
        if kind == "train":
            out.append(((batch_size, d_in), (batch_size, d_out), "a.T@b"))
            if layer > 0:
                out.append(((batch_size, d_out), (d_in, d_out), "a@b.T"))
    return out


def cnn_product_shapes(batch_size: int, kind: str) -> list[tuple[tuple[int, int], tuple[int, int], str]]:
    """The CNN's products, as :func:`scratch.conv.conv2d_forward` and :func:`scratch.conv.conv2d_backward`
    compute them: each convolution is im2col's ``(B * Ho * Wo, kh * kw * C)`` matrix times the kernel.

    Per image, forward: 2 x 784 x 25 x 16 + 2 x 196 x 400 x 36 = 6.3 MFLOP of convolution (of 6.7 in
    all); a train step adds each layer's ``dW`` and, but for the first convolution, its ``dx`` (18.2 of
    19.6 MFLOP). :func:`flops` sums them.
    """
    B, out = batch_size, []
    layers = [(B * 784, 25, 16), (B * 196, 400, 36), (B, 1764, 128), (B, 128, 10)]  # (rows, k, n) per layer
    for layer, (rows, k, n) in enumerate(layers):
        out.append(((rows, k), (k, n), "a@b"))
        if kind == "train":
            out.append(((rows, k), (rows, n), "a.T@b"))
            if layer > 0:
                out.append(((rows, n), (k, n), "a@b.T"))
    return out


def conv_flops(batch_size: int, kind: str) -> int:
    """The CNN's convolution FLOPs alone (its first two layers of :func:`cnn_product_shapes`), for the roofline."""
    return _flops(cnn_product_shapes(batch_size, kind)[: 2 if kind == "forward" else 5])  # conv 1 and conv 2


def _flops(products) -> int:
    total = 0
    for a, b, form in products:
        m, k = (a[1], a[0]) if form == "a.T@b" else a
        n = b[0] if form == "a@b.T" else b[1]
        total += 2 * m * k * n
    return total


def flops(model: str, batch_size: int, kind: str) -> int:
    """Multiply-adds times two of :func:`product_shapes` (the CNN's convolutions included)."""
    return _flops(product_shapes(model, batch_size, kind))


# ------------------------------------------------------------------------------------------------------
# Building a workload
# ------------------------------------------------------------------------------------------------------


def initial_params(model: str) -> dict[str, np.ndarray]:
    """The seeded starting point every implementation copies."""
    if model == "cnn":
        return np_models.init_params("cnn", init="normal", std=INIT_STD, seed=SEED)
    kind = "linear" if model == "linear" else "mlp"
    return np_models.init_params(kind, hidden=MODELS[model] or None, init="normal", std=INIT_STD, seed=SEED)


def round_steps(operation: str, batch_size: int, n_train: int, model: str = "mlp") -> int:
    """Steps per call: a ``train_step`` round (:data:`ROUND_STEPS`, :data:`CNN_ROUND_STEPS` for the CNN,
    fewer if the data runs out), an epoch."""
    if operation == "epoch":
        return n_train // batch_size
    if operation == "train_step":
        return max(1, min(CNN_ROUND_STEPS if model == "cnn" else ROUND_STEPS, n_train // batch_size))
    return 1


@dataclass
class Context:
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
        # training: the shuffled batches of epoch 0, as training draws them. A call of train_step takes the
        # next round of `steps` batches (see rounds()), so successive calls stream through the whole
        # training set as training does: reusing one round would keep its 16 MB warm in the caches.
        self.epoch_idx = batch_indices(len(self.data.train), B, SEED, 0)  # (per_epoch, B)
        self.idx = self.epoch_idx[: self.steps]
        self.start = {k: v.copy() for k, v in self.params.items()}

    def rounds(self) -> list[np.ndarray]:
        """The batches each call trains on, in turn: consecutive rounds of an epoch (``train_step``), or
        the epoch itself (``epoch``)."""
        if self.case.operation != "train_step":
            return [self.idx]
        k = self.steps
        return [self.epoch_idx[i : i + k] for i in range(0, len(self.epoch_idx) - k + 1, k)]

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


def chunks(n: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def weighted(parts: list[tuple[float, float, int]]) -> tuple[float, float]:
    n = sum(p[2] for p in parts)
    return sum(p[0] * p[2] for p in parts) / n, sum(p[1] * p[2] for p in parts) / n


# ------------------------------------------------------------------------------------------------------
# NumPy
# ------------------------------------------------------------------------------------------------------


def _scratch_evaluate(ctx: Context) -> Workload:
    test, params = ctx.data.test, ctx.params

    def evaluate():
        parts = []
        for s in chunks(len(test), ctx.case.batch_size):
            loss, acc = np_models.evaluate(params, test.images[s], test.labels[s])
            parts.append((loss, acc, s.stop - s.start))
        return weighted(parts)

    return ctx.workload(evaluate, ctx.check_evaluation)


def _scratch_train(ctx: Context) -> Workload:
    """``train_step`` rounds and epochs: every step gathers its batch by index, as training does."""
    params, X, T = ctx.params, ctx.data.train.images, one_hot(ctx.data.train.labels)
    opt = SGD(LEARNING_RATE)

    rounds = itertools.cycle(ctx.rounds())

    def train():
        batches = next(rounds)  # (steps, B)
        losses = np.empty(len(batches))
        for i, rows in enumerate(batches):
            losses[i] = np_train_step(params, opt, X[rows], T[rows])
        return losses

    return ctx.workload(train, lambda losses: ctx.check_trained(losses, params))


def build_scratch(ctx: Context) -> Workload:
    op, params = ctx.case.operation, ctx.params
    if op == "forward":
        return ctx.workload(lambda: np_models.forward(params, ctx.x)[0], ctx.check_logits)
    if op == "loss_and_grads":
        return ctx.workload(
            lambda: np_models.loss_and_grads(params, ctx.x, ctx.y), lambda r: ctx.check_loss_and_grads(*r)
        )
    return _scratch_evaluate(ctx) if op == "evaluate" else _scratch_train(ctx)


def release(*, full: bool = True) -> None:
    """Free what the last workload left behind: Keras' global state and TensorFlow's traced functions.

    Each TensorFlow workload builds its own ``tf.function`` (and XLA program); without this, a sweep of
    hundreds of cases holds every one of them and its memory grows case by case. ``full=False`` collects
    the young generations only: in a process holding a large heap (the test suite's) a full collection
    costs about half a second, and a two-step smoke case leaves little behind.
    """
    import gc

    if "keras" in sys.modules:  # Keras' session holds graphs and layer names; nothing to clear if never loaded
        from tfimpl.backend import keras

        keras.backend.clear_session(free_memory=False)  # its own collection would be a full one, every time
    gc.collect(2 if full else 1)
