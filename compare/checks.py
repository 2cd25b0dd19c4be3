r"""The cross-checks: hand-written NumPy (:mod:`scratch`) against TensorFlow (:mod:`tfimpl`).

Every check produces :class:`common.rows.Row` objects: what was compared, the dtype, the largest absolute and
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
near :math:`784u \approx 8.7\times10^{-14}`. 1e-10 is deliberately loose against that (a library that sums
in another order still passes) and still fails any real mistake (a missing ``1/N`` is :math:`\sim 1`).

float64 against central finite differences: **1e-7**, the gradient-check bound of
:mod:`scratch.gradcheck` (the difference quotient is good to a few :math:`10^{-11}` absolute; correct gradients
measure :math:`10^{-10}` to :math:`2\times10^{-9}` relative).

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
each step's difference into the next; added up over 550 steps with no cancellation that is
:math:`550 \times 1.7\times10^{-6} = 9.3\times10^{-4}`, a loose upper bound. What brings the MLP close to it
is ReLU flips: a hidden unit on in one twin and off in the other changes that example's gradient by its
whole size (``docs/math.md#floating-point-on-cpus-and-gpus``; with tanh units the gap after 550 steps is
about 2e-7). Measured on the MLP, with op determinism on: 6.5e-4 on an AMD EPYC VM (the CPU this project is
developed on now; 3.0e-4 there with ``OPENBLAS_NUM_THREADS=1``, which changes NumPy's summation order),
1.6e-4 on an earlier CPU, 3.0e-4 on an H100 with TF32 off. Feeding a single batch out
of order moves the losses by :math:`10^{-1}`, so the bound still catches that. float64 must give
**identical** test predictions; float32 test accuracies within **0.1 percentage point**.

Cross-loading: the same parameters evaluated by both. float64: **0** predictions may differ. float32:
at most **2** of 10,000: an image whose two largest logits lie within the products' rounding
(:math:`\sim 10^{-6}` relative) of each other may go either way when the summation order changes, and
on a GPU it does; on this CPU none does.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import scratch.losses as np_losses
import scratch.models as np_models
import scratch.optimizers as np_optimizers
import tfimpl.losses as tf_losses
import tfimpl.models as tf_models
import tfimpl.optimizers as tf_optimizers
from common.data import Datasets
from common.labels import one_hot
from common.rows import Row
from common.spec import LOSS_FORMS
from scratch.gradcheck import errors, numerical_gradient
from tfimpl.backend import tf
from tfimpl.bridge import to_numpy, to_variables

__all__ = [
    "TOLERANCES",
    "batch",
    "concat",
    "count_row",
    "dlogits_row",
    "forward_rows",
    "gradient_rows",
    "optimizer_row",
    "optimizer_rows",
    "row",
    "start_params",
]

DTYPES = ("float64", "float32")
MODELS = ("linear", "mlp")
#: (kind of check, dtype) -> the largest relative error that passes; each derived in this module's docstring.
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


def row(check: str, dtype: str, ours, reference, tolerance: float, note: str = "", *, family: str = "") -> Row:
    """A row comparing two arrays: the errors of :func:`scratch.gradcheck.errors`, passed if within tolerance."""
    abs_err, rel_err = errors(ours, reference)
    return Row(check, dtype, abs_err, rel_err, tolerance, bool(rel_err <= tolerance), note, family)


def count_row(check: str, dtype: str, count: int, total: int, tolerance: int, note: str = "", *, family: str) -> Row:
    """A row counting items that differ (test predictions): at most ``tolerance`` of ``total`` may."""
    return Row(check, dtype, float(count), count / total, tolerance, count <= tolerance, note, family, count=True)


def concat(grads: dict) -> np.ndarray:
    """Every array of a parameter (or gradient) dict, flattened into one float64 vector, in key order."""
    return np.concatenate([np.asarray(g, np.float64).ravel() for g in grads.values()])


def batch(data: Datasets, dtype: str, n: int = 32):
    """The first ``n`` training images, their labels and one-hot rows: the batch every family checks on."""
    x = data.train.images[:n].astype(dtype)
    labels = data.train.labels[:n]
    return x, labels, one_hot(labels, dtype=dtype)


def start_params(model: str, dtype: str, seed: int = 0):
    """The parameters every family starts from: small random normals (64 hidden units for the MLP)."""
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
        x, labels, y = batch(data, dtype)
        for model in MODELS:
            params = start_params(model, dtype)
            ours, _ = np_models.forward(params, x)
            theirs, _ = tf_models.forward(to_variables(params), x)
            rows.append(row(f"logits of the {model} model", dtype, ours, theirs, tol, family="forward"))
        logits = np.random.default_rng(1).normal(0, 3, (32, 10)).astype(dtype)
        rows.append(row("softmax", dtype, np_losses.softmax(logits), tf_losses.softmax(logits), tol, family="forward"))
        rows.append(
            row(
                "log_softmax",
                dtype,
                np_losses.log_softmax(logits),
                tf_losses.log_softmax(logits),
                tol,
                family="forward",
            )
        )
        big = np.array([[1e4, -1e4] + [0.0] * 8, [-1e4] * 9 + [1e4]], dtype=dtype)
        rows.append(
            row(
                "log_softmax at logits of +-1e4",
                dtype,
                np_losses.log_softmax(big),
                tf_losses.log_softmax(big),
                tol,
                family="forward",
            )
        )
        for name, (loss_fn, _) in np_losses.LOSSES.items():
            target = labels if LOSS_FORMS[name] == "sparse" else y
            theirs = tf_losses.LOSSES[name][0](logits, target)
            rows.append(row(f"loss {name}", dtype, loss_fn(logits, target), theirs, tol, family="forward"))
    return rows


# --------------------------------------------------------------------------------------------------------
# Gradients
# --------------------------------------------------------------------------------------------------------


def dlogits_row(name: str, dtype: str, logits, target, scratch_grad: Callable | None = None) -> Row:
    """``dlogits`` of one loss: the hand-written gradient against ``tf.GradientTape``."""
    ours = (scratch_grad or np_losses.LOSSES[name][1])(logits, target)
    theirs = tf_losses.LOSSES[name][1](logits, target)
    return row(
        f"dlogits of {name}: by hand vs tape", dtype, ours, theirs, TOLERANCES[("value", dtype)], family="gradients"
    )


def gradient_rows(data: Datasets, dtypes=DTYPES, *, fd_samples: int = 20) -> list[Row]:
    """Every loss's ``dlogits`` and both models' ``loss_and_grads``: by hand, by tape, and (float64) by finite differences."""
    rows = []
    for dtype in dtypes:
        tol = TOLERANCES[("value", dtype)]
        x, labels, y = batch(data, dtype)
        logits = np.random.default_rng(2).normal(0, 2, (32, 10)).astype(dtype)
        for name in np_losses.LOSSES:
            rows.append(dlogits_row(name, dtype, logits, labels if LOSS_FORMS[name] == "sparse" else y))
        for model in MODELS:
            params = start_params(model, dtype)
            variables = to_variables(params)
            for name in np_losses.LOSSES:
                kw = {"loss": name, "l2": 1e-3}
                _, ours = np_models.loss_and_grads(params, x, labels, **kw)
                _, theirs = tf_models.loss_and_grads(variables, x, labels, **kw)
                rows.append(
                    row(
                        f"{model} {name}: loss_and_grads by hand vs tape",
                        dtype,
                        concat(ours),
                        concat(theirs),
                        tol,
                        family="gradients",
                    )
                )
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
    tol, fam = TOLERANCES[("finite differences", "float64")], "gradients"
    return [
        row(
            f"{model} {name}: by hand vs central differences", "float64", np.concatenate(a_np), numeric, tol, family=fam
        ),
        row(f"{model} {name}: tape vs central differences", "float64", np.concatenate(a_tf), numeric, tol, family=fam),
    ]


# --------------------------------------------------------------------------------------------------------
# Optimizers
# --------------------------------------------------------------------------------------------------------

OPTIMIZER_RATES = {"sgd": 0.1, "momentum": 0.05, "adagrad": 0.1, "adam": 0.01}


def optimizer_row(name: str, dtype: str, *, scratch_optimizer=None, steps: int = OPTIMIZER_STEPS) -> Row:
    """``steps`` updates of one optimizer from the same parameters with the same gradients, scratch vs Keras."""
    rng = np.random.default_rng(4)
    # the linear model's two tensors: each update is elementwise, so two tensors of different sizes and
    # gradient scales test what four would (Keras' eager update costs about 2.5 ms per tensor per step)
    params = start_params("linear", dtype, seed=5)
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
    return row(f"{name}, {steps} steps", dtype, concat(mine), concat(to_numpy(variables)), tol, family="optimizers")


def optimizer_rows(dtypes=DTYPES) -> list[Row]:
    """SGD, momentum, Adagrad and Adam, each over 100 steps, both dtypes."""
    return [optimizer_row(name, dtype) for dtype in dtypes for name in np_optimizers.OPTIMIZERS]
