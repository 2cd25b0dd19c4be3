r"""The cross-checks: hand-written NumPy (:mod:`scratch`) against TensorFlow (:mod:`tfimpl`).

Every check produces :class:`Row` objects: what was compared, the dtype, the largest absolute and
relative error, the tolerance, and whether it passed. Checks talk only to the public seam of the two
packages (``losses``, ``models.loss_and_grads``, the optimizers, ``train.train_step``).

Relative error is taken in the max-norm, as in :func:`scratch.gradcheck.relative_error`:
:math:`\max|a-b| / \max(10^{-8}, \max|a| + \max|b|)`.

Tolerances
----------
Every check here runs with TF32 off and TensorFlow's op determinism on (:func:`tfimpl.device.exact_float32`,
applied by :mod:`compare.cli`), so float32 means IEEE float32 on any device. What TF32 does instead is the
``precision`` family (:mod:`compare.precision`). With :math:`u` the unit roundoff (float64
:math:`1.1\times10^{-16}`, float32 :math:`6.0\times10^{-8}`):

float64, forward values and gradients: **1e-10**. Both sides evaluate the same formulas in IEEE double;
they differ only in summation order and op fusion, which for sums of 784 terms bounds the difference
near :math:`784u \approx 10^{-13}`. 1e-10 leaves room and still fails any real mistake (a missing
``1/N`` is :math:`\sim 1`).

float64 against central finite differences: **1e-7**, the gradient-check bound of
:mod:`scratch.gradcheck` (the differences themselves are good to about :math:`10^{-9}`).

float32, forward values and gradients: **1e-5**. A dot product of 784 terms carries a worst-case error of
:math:`784u \approx 4.7\times10^{-5}` and a typical one of :math:`\sqrt{784}\,u \approx 1.7\times10^{-6}`;
TensorFlow's kernels (oneDNN or Eigen on a CPU, cuBLAS on a GPU) and OpenBLAS block the sums differently,
so errors of a few :math:`10^{-7}` are expected (measured: at most 3e-7), and 1e-5 sits between the
typical and the worst case while a wrong formula is off by :math:`10^{-2}` or more.

Optimizers: 100 steps from the same parameters with the same gradients. float64 **1e-9**; float32
**1e-5** (:math:`100` steps of float32 rounding, :math:`\approx 100u = 6\times10^{-6}` worst case).
Measured: bit-exact on a CPU.

Lockstep training (one epoch, 550 steps): float64 **1e-10**. float32 **1e-3**: each step's products
differ by about :math:`\sqrt{784}\,u = 1.7\times10^{-6}` between the libraries, and training carries
each step's difference into the next; added up over 550 steps that is :math:`550 \times 1.7\times10^{-6}
\approx 10^{-3}`. Measured on the MLP: 1.6e-4 on this CPU with op determinism on, 3.0e-4 on an H100 with
TF32 off; feeding a single batch out of order moves the losses by :math:`10^{-1}`, so the bound still
catches that. float64 must give **identical** test predictions; float32 test accuracies within
**0.1 percentage point**.

Cross-loading: the same parameters evaluated by both. float64: **0** predictions may differ. float32:
at most **2** of 10,000: an image whose two largest logits lie within the products' rounding
(:math:`\sim 10^{-6}` relative) of each other may go either way when the summation order changes, and
on a GPU it does; on this CPU none does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

import scratch.losses as np_losses
import scratch.models as np_models
import scratch.optimizers as np_optimizers
import scratch.train as np_train
import tfimpl.losses as tf_losses
import tfimpl.models as tf_models
import tfimpl.optimizers as tf_optimizers
import tfimpl.train as tf_train
from common.data import Datasets, batch_indices
from common.labels import one_hot
from common.spec import LOSS_FORMS
from scratch.gradcheck import numerical_gradient
from tfimpl.backend import tf
from tfimpl.bridge import to_numpy, to_variables

__all__ = [
    "TOLERANCES",
    "Row",
    "crossload_rows",
    "forward_rows",
    "gradient_rows",
    "lockstep",
    "optimizer_rows",
    "train_rows",
]

DTYPES = ("float64", "float32")
MODELS = ("linear", "mlp")
TOLERANCES = {
    ("value", "float64"): 1e-10,
    ("value", "float32"): 1e-5,
    ("finite differences", "float64"): 1e-7,
    ("optimizer", "float64"): 1e-9,
    ("optimizer", "float32"): 1e-5,
    ("lockstep", "float64"): 1e-10,
    ("lockstep", "float32"): 1e-3,
    ("accuracy gap", "float32"): 0.001,
    ("accuracy gap", "float64"): 0.0,
    ("predictions differing", "float64"): 0,
    ("predictions differing", "float32"): 2,
}
OPTIMIZER_STEPS = 100


@dataclass(frozen=True)
class Row:
    """One comparison: its name, dtype, errors, tolerance and verdict (``note`` adds context)."""

    check: str
    dtype: str
    max_abs_error: float
    max_rel_error: float
    tolerance: float
    passed: bool
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _errors(ours, reference) -> tuple[float, float]:
    a = np.asarray(ours, np.float64).ravel()
    b = np.asarray(reference, np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    diff = np.abs(a - b)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        same = np.array_equal(np.isnan(a), np.isnan(b)) and np.array_equal(a[~np.isnan(a)], b[~np.isnan(b)])
        return (0.0, 0.0) if same else (float("inf"), float("inf"))
    abs_err = float(diff.max()) if diff.size else 0.0
    scale = float(np.abs(a).max() + np.abs(b).max()) if diff.size else 0.0
    return abs_err, abs_err / max(1e-8, scale)


def _row(check: str, dtype: str, ours, reference, tolerance: float, note: str = "") -> Row:
    abs_err, rel_err = _errors(ours, reference)
    return Row(check, dtype, abs_err, rel_err, tolerance, bool(rel_err <= tolerance), note)


def _concat(grads: dict) -> np.ndarray:
    return np.concatenate([np.asarray(g, np.float64).ravel() for g in grads.values()])


def _batch(data: Datasets, dtype: str, n: int = 32):
    x = data.train.images[:n].astype(dtype)
    labels = data.train.labels[:n]
    return x, labels, one_hot(labels, dtype=dtype)


def _params(model: str, dtype: str, seed: int = 0):
    hidden = (64,) if model == "mlp" else None
    std = 0.1 if model == "linear" else 0.05
    return np_models.init_params(model, hidden=hidden, init="normal", std=std, seed=seed, dtype=dtype)


# --------------------------------------------------------------------------------------------------------
# Forward values
# --------------------------------------------------------------------------------------------------------


def forward_rows(data: Datasets, dtypes=DTYPES) -> list[Row]:
    """softmax, log-softmax, every loss and both models' logits, NumPy against TensorFlow."""
    rows = []
    for dtype in dtypes:
        tol = TOLERANCES[("value", dtype)]
        x, labels, y = _batch(data, dtype)
        for model in MODELS:
            params = _params(model, dtype)
            ours, _ = np_models.forward(params, x)
            theirs, _ = tf_models.forward(to_variables(params), x)
            rows.append(_row(f"forward logits {model}", dtype, ours, theirs, tol))
        logits = np.random.default_rng(1).normal(0, 3, (32, 10)).astype(dtype)
        rows.append(_row("forward softmax", dtype, np_losses.softmax(logits), tf_losses.softmax(logits), tol))
        rows.append(
            _row("forward log_softmax", dtype, np_losses.log_softmax(logits), tf_losses.log_softmax(logits), tol)
        )
        big = np.array([[1e4, -1e4] + [0.0] * 8, [-1e4] * 9 + [1e4]], dtype=dtype)
        rows.append(
            _row(
                "forward log_softmax, logits +-1e4", dtype, np_losses.log_softmax(big), tf_losses.log_softmax(big), tol
            )
        )
        for name, (loss_fn, _) in np_losses.LOSSES.items():
            target = labels if LOSS_FORMS[name] == "sparse" else y
            theirs = tf_losses.LOSSES[name][0](logits, target)
            rows.append(_row(f"forward loss {name}", dtype, loss_fn(logits, target), theirs, tol))
    return rows


# --------------------------------------------------------------------------------------------------------
# Gradients
# --------------------------------------------------------------------------------------------------------


def dlogits_row(name: str, dtype: str, logits, target, scratch_grad: Callable | None = None) -> Row:
    """``dlogits`` of one loss: the hand-written gradient against ``tf.GradientTape``."""
    ours = (scratch_grad or np_losses.LOSSES[name][1])(logits, target)
    theirs = tf_losses.LOSSES[name][1](logits, target)
    return _row(f"gradient dlogits {name}", dtype, ours, theirs, TOLERANCES[("value", dtype)])


def gradient_rows(data: Datasets, dtypes=DTYPES, *, fd_samples: int = 20) -> list[Row]:
    """Every loss's ``dlogits`` and both models' ``loss_and_grads``: by hand, by tape, and (float64) by finite differences."""
    rows = []
    for dtype in dtypes:
        tol = TOLERANCES[("value", dtype)]
        x, labels, y = _batch(data, dtype)
        logits = np.random.default_rng(2).normal(0, 2, (32, 10)).astype(dtype)
        for name in np_losses.LOSSES:
            rows.append(dlogits_row(name, dtype, logits, labels if LOSS_FORMS[name] == "sparse" else y))
        for model in MODELS:
            params = _params(model, dtype)
            variables = to_variables(params)
            for name in np_losses.LOSSES:
                kw = {"loss": name, "l2": 1e-3}
                _, ours = np_models.loss_and_grads(params, x, labels, **kw)
                _, theirs = tf_models.loss_and_grads(variables, x, labels, **kw)
                rows.append(_row(f"gradient {model} {name}", dtype, _concat(ours), _concat(theirs), tol))
                if dtype == "float64":
                    rows += _finite_difference_rows(model, name, params, x, labels, ours, theirs, kw, fd_samples)
    return rows


def _finite_difference_rows(model, name, params, x, labels, ours, theirs, kw, samples) -> list[Row]:
    """Sampled central differences (float64) of the scratch loss, against both analytic gradients."""
    rng = np.random.default_rng(3)
    numeric, a_np, a_tf = [], [], []
    for k, p in params.items():
        idx = rng.choice(p.size, size=min(samples, p.size), replace=False)
        numeric.append(numerical_gradient(lambda: np_models.loss_and_grads(params, x, labels, **kw)[0], p, indices=idx))
        a_np.append(np.asarray(ours[k]).ravel()[idx])
        a_tf.append(np.asarray(theirs[k]).ravel()[idx])
    numeric = np.concatenate(numeric)
    tol = TOLERANCES[("finite differences", "float64")]
    return [
        _row(f"gradient {model} {name} scratch vs finite differences", "float64", np.concatenate(a_np), numeric, tol),
        _row(f"gradient {model} {name} tfimpl vs finite differences", "float64", np.concatenate(a_tf), numeric, tol),
    ]


# --------------------------------------------------------------------------------------------------------
# Optimizers
# --------------------------------------------------------------------------------------------------------

OPTIMIZER_RATES = {"sgd": 0.1, "momentum": 0.05, "adagrad": 0.1, "adam": 0.01}


def optimizer_row(name: str, dtype: str, *, scratch_optimizer=None, steps: int = OPTIMIZER_STEPS) -> Row:
    """``steps`` updates of one optimizer from the same parameters with the same gradients, scratch vs Keras."""
    rng = np.random.default_rng(4)
    params = _params("mlp", dtype, seed=5)
    params = {k: v + rng.normal(0, 0.01, v.shape).astype(dtype) for k, v in params.items()}  # biases non-zero
    lr = OPTIMIZER_RATES[name]
    ours = scratch_optimizer or np_optimizers.make_optimizer(name, lr)
    theirs = tf_optimizers.make_optimizer(name, lr)
    variables = to_variables(params)
    mine = {k: v.copy() for k, v in params.items()}
    keys = list(params)
    for _ in range(steps):
        # gradients of mixed sizes, some tiny (where Adam's epsilon matters), some large
        grads = {k: (rng.normal(0, 1, v.shape) * 10.0 ** rng.integers(-6, 1)).astype(dtype) for k, v in params.items()}
        ours.apply(grads, mine)
        theirs.apply([tf.constant(grads[k]) for k in keys], [variables[k] for k in keys])
    tol = TOLERANCES[("optimizer", dtype)]
    return _row(f"optimizer {name} x{steps} steps", dtype, _concat(mine), _concat(to_numpy(variables)), tol)


def optimizer_rows(dtypes=DTYPES) -> list[Row]:
    """SGD, momentum, Adagrad and Adam, each over 100 steps, both dtypes."""
    return [optimizer_row(name, dtype) for dtype in dtypes for name in np_optimizers.OPTIMIZERS]


# --------------------------------------------------------------------------------------------------------
# Lockstep training and cross-loading
# --------------------------------------------------------------------------------------------------------

LOCKSTEP_RECIPES = {
    "linear": {"init": "zeros", "learning_rate": 0.5},  # the first tutorial
    "mlp": {"init": "normal", "learning_rate": 0.1},  # 784-300-10, normal(0.03)
}


@dataclass
class Lockstep:
    """Both packages trained side by side on identical batches from identical parameters."""

    model: str
    dtype: str
    losses_np: np.ndarray  # (steps,)
    losses_tf: np.ndarray  # (steps,)
    params_np: dict
    params_tf: dict


def lockstep(
    data: Datasets, model: str, dtype: str, *, epochs: int = 1, batch_size: int = 100, seed: int = 0, swap=None
) -> Lockstep:
    """Train scratch and tfimpl step by step through their public ``train_step``.

    ``swap=(i, j)`` feeds TensorFlow batches ``i`` and ``j`` in the opposite order (the negative control).
    """
    recipe = LOCKSTEP_RECIPES[model]
    params0 = np_models.init_params(model, init=recipe["init"], seed=seed, dtype=dtype)
    mine = {k: v.copy() for k, v in params0.items()}
    variables = to_variables(params0)
    opt_np = np_optimizers.make_optimizer("sgd", recipe["learning_rate"])
    opt_tf = tf_optimizers.make_optimizer("sgd", recipe["learning_rate"])
    opt_tf.build(list(variables.values()))
    X, Y = data.train.images.astype(dtype, copy=False), one_hot(data.train.labels, dtype=dtype)

    @tf.function(input_signature=[tf.TensorSpec([batch_size, 784], dtype), tf.TensorSpec([batch_size, 10], dtype)])
    def tf_step(x, y):
        return tf_train.train_step(variables, opt_tf, x, y)

    losses_np, losses_tf = [], []
    for epoch in range(epochs):
        order = batch_indices(len(X), batch_size, seed, epoch)
        order_tf = order.copy()
        if swap is not None and epoch == 0:
            i, j = swap
            order_tf[[i, j]] = order_tf[[j, i]]
        for idx_np, idx_tf in zip(order, order_tf, strict=True):
            losses_np.append(np_train.train_step(mine, opt_np, X[idx_np], Y[idx_np]))
            losses_tf.append(float(tf_step(X[idx_tf], Y[idx_tf])))
    return Lockstep(model, dtype, np.array(losses_np), np.array(losses_tf), mine, to_numpy(variables))


def lockstep_rows(run: Lockstep, data: Datasets) -> list[Row]:
    """Per-step loss difference, final parameter difference, and the test predictions and accuracies of both."""
    dtype, model = run.dtype, run.model
    x = data.test.images.astype(dtype, copy=False)
    pred_np = np_models.predict(run.params_np, x)
    pred_tf = tf_models.predict(to_variables(run.params_tf), x).numpy()
    acc_np = float(np.mean(pred_np == data.test.labels))
    acc_tf = float(np.mean(pred_tf == data.test.labels))
    differing = int(np.sum(pred_np != pred_tf))
    steps = len(run.losses_np)
    note = f"test accuracy scratch {acc_np:.2%}, tfimpl {acc_tf:.2%}; {differing} of {len(x)} predictions differ"
    tol = TOLERANCES[("lockstep", dtype)]
    rows = [
        _row(f"train {model} lockstep: loss at each of {steps} steps", dtype, run.losses_np, run.losses_tf, tol),
        _row(f"train {model} lockstep: final parameters", dtype, _concat(run.params_np), _concat(run.params_tf), tol),
    ]
    if dtype == "float64":
        tol = TOLERANCES[("predictions differing", dtype)]
        rows.append(
            Row(
                f"train {model} lockstep: test predictions",
                dtype,
                float(differing),
                differing / len(x),
                tol,
                differing <= tol,
                note,
            )
        )
    else:
        gap = abs(acc_np - acc_tf)
        tol = TOLERANCES[("accuracy gap", dtype)]
        rows.append(Row(f"train {model} lockstep: test accuracy gap", dtype, gap, gap, tol, gap <= tol + 1e-12, note))
    return rows


def train_rows(data: Datasets, dtypes=DTYPES, runs: dict | None = None) -> list[Row]:
    """One epoch of lockstep training for both models and both dtypes. ``runs`` collects the :class:`Lockstep` s."""
    rows = []
    for dtype in dtypes:
        for model in MODELS:
            run = lockstep(data, model, dtype)
            if runs is not None:
                runs[(model, dtype)] = run
            rows += lockstep_rows(run, data)
    return rows


def crossload_rows(data: Datasets, runs: dict) -> list[Row]:
    """Parameters trained by one package, evaluated in the other: the same predictions."""
    rows = []
    for (model, dtype), run in runs.items():
        x = data.test.images.astype(dtype, copy=False)
        for trained_by, params in (("scratch", run.params_np), ("tfimpl", run.params_tf)):
            pred_np = np_models.predict(params, x)
            pred_tf = tf_models.predict(to_variables(params), x).numpy()
            differing = int(np.sum(pred_np != pred_tf))
            tol = TOLERANCES[("predictions differing", dtype)]
            rows.append(
                Row(
                    f"crossload {model} trained by {trained_by}: predictions",
                    dtype,
                    float(differing),
                    differing / len(x),
                    tol,
                    differing <= tol,
                    f"accuracy {np.mean(pred_np == data.test.labels):.2%} in both" if differing == 0 else "",
                )
            )
    return rows
