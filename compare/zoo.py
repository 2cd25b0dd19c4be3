r"""The bug zoo: ``python -m compare zoo`` runs every classic mistake of :data:`scratch.bugs.ZOO` through every check.

Rows are the mistakes (the first is none at all, which every check must pass); columns are the checks,
all on the MLP 784-64-10 with ReLU, L2 of 1e-4 and the first MNIST images (the parameters of
:func:`compare.checks.start_params`):

=============  =========================================================================================
loss only      gradcheck in float64 of the loss's gradient ``dlogits`` alone (``scratch gradcheck``'s
               ``losses`` rows): 1e-7
fd64           gradcheck in float64 of the whole model, 10 coordinates of each array, kinks left out: 1e-7
fd32           the same in float32, at float32's own step (1e-2) and threshold (1e-2)
tape           the whole model's gradients against ``tf.GradientTape``, float64 (``compare gradients``): 1e-10
piece alone    the replaced piece on its own against TensorFlow: the ``layers`` family's check of that layer,
               the ``gradients`` family's ``dlogits`` row for a loss gradient, the ``optimizers`` family's
               check (20 steps) for an optimizer (float64): 1e-10, 1e-9 for optimizers
lockstep       10 training steps beside TensorFlow's from the same start on the same batches, losses and
               final parameters, float64 (``compare train``): 1e-10
accuracy       test accuracy after 300 steps (float32) against the right pieces' run: caught when it
               ends more than 1 point lower, or diverges
=============  =========================================================================================

Each cell says caught or missed, with the error (or the accuracy) that decided. The table in
``docs/math.md#the-bug-zoo`` is this command's output.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

import scratch.models as np_models
import tfimpl.losses as tf_losses
import tfimpl.models as tf_models
import tfimpl.optimizers as tf_optimizers
import tfimpl.train as tf_train
from common.cli import one_line_errors
from common.data import Datasets, batch_indices, load_mnist
from common.labels import as_form, one_hot
from common.rows import Row
from common.spec import LOSS_FORMS
from scratch import bugs, gradcheck
from scratch.losses import LOSSES
from tfimpl.bridge import to_numpy, to_variables

from . import checks, layers

__all__ = ["ACCURACY_DROP", "COLUMNS", "Cell", "format_matrix", "main", "zoo_matrix"]

L2 = 1e-4
SAMPLES = 10  # coordinates per parameter array in the model gradchecks
LOCKSTEP_STEPS = 10
OPTIMIZER_STEPS = 20  # the optimizers family runs 100; 20 already tell every mistake here (and cost a fifth)
ACCURACY_STEPS = 300
ACCURACY_DROP = 0.01  # one percentage point: what a user would notice; the seed experiment moves 0.1 to 0.2
RATES = {"sgd": 0.5, "momentum": 0.05, "adam": 0.001}
#: The checks each mistake is put through, in the order the matrix shows them.
COLUMNS = ("loss only", "fd64", "fd32", "tape", "piece alone", "lockstep", "accuracy")


@dataclass(frozen=True)
class Cell:
    """One check's verdict on one mistake, and the error (or accuracy) that decided it."""

    caught: bool
    value: str

    def __str__(self) -> str:
        return f"{'**caught**' if self.caught else 'missed'} {self.value}"


def _number(error: float) -> str:
    """One significant digit; rounding-level errors (below 1e-12) all read the same on every machine."""
    return "<1e-12" if error < 1e-12 else f"{error:.0e}"


def _cell(rows: list[Row]) -> Cell:
    """Caught when any row fails; the value is the largest relative error."""
    worst = max(r.max_rel_error for r in rows)
    return Cell(any(not r.passed for r in rows), _number(worst))


def _start(dtype: str) -> dict:
    return checks.start_params("mlp", dtype)


def loss_only(bug: bugs.Bug, data: Datasets) -> Cell:
    """The loss's gradient alone, ``dlogits`` at the model's logits, against central differences (float64)."""
    pieces = bug.make()
    x, labels, _ = checks.batch(data, "float64")
    logits, _ = np_models.forward(_start("float64"), x)
    t = as_form(labels, LOSS_FORMS[pieces.loss], np.float64)
    loss_fn = LOSSES[pieces.loss][0]
    return _cell(
        gradcheck.check_gradients(lambda: loss_fn(logits, t), {"z": logits}, {"z": pieces.loss_grad(logits, t)})
    )


def model_gradcheck(bug: bugs.Bug, data: Datasets, dtype: str) -> Cell:
    """The whole model's gradient against central differences, at the dtype's own step and threshold."""
    pieces = bug.make()
    x, labels, _ = checks.batch(data, dtype)
    params = _start(dtype)
    _, grads = pieces.loss_and_grads(params, x, labels, l2=L2)
    rows = gradcheck.check_gradients(
        lambda: pieces.loss_value(params, x, labels, l2=L2),
        params,
        grads,
        samples=SAMPLES,
        kinks=gradcheck.model_kinks(params, x, loss=pieces.loss),
    )
    return _cell(rows)


def tape(bug: bugs.Bug, data: Datasets) -> Cell:
    """The whole model's gradients against ``tf.GradientTape`` (float64)."""
    pieces = bug.make()
    x, labels, _ = checks.batch(data, "float64")
    params = _start("float64")
    _, ours = pieces.loss_and_grads(params, x, labels, l2=L2)
    _, theirs = tf_models.loss_and_grads(to_variables(params), x, labels, loss=pieces.loss, l2=L2)
    tol = checks.TOLERANCES[("value", "float64")]
    return _cell([checks.row("tape", "float64", checks.concat(ours), checks.concat(theirs), tol)])


def _piece_rows(piece: str, pieces: bugs.Pieces, bug: bugs.Bug) -> list[Row]:
    """The check of compare's own families that sees this piece on its own (float64)."""
    if piece == "loss_grad":
        logits = np.random.default_rng(2).normal(0, 2, (32, 10))
        y = one_hot(np.arange(32) % 10, dtype=np.float64)
        return [checks.dlogits_row(pieces.loss, "float64", logits, y, pieces.loss_grad)]
    if piece == "activation_backward":
        return [layers.activation_row(pieces.activation, "float64", scratch_backward=pieces.activation_backward)]
    if piece == "dense_backward":
        return layers.dense_rows("float64", scratch_backward=pieces.dense_backward)
    if piece == "l2_grad":
        params = _start("float64")
        ours, theirs = pieces.l2_grad(params, 0.3), tf_losses.l2_penalty_grad(to_variables(params), 0.3)
        return [checks.row("l2", "float64", checks.concat(ours), checks.concat(theirs), 1e-10)]
    optimizer = pieces.make_optimizer(checks.OPTIMIZER_RATES[bug.optimizer])
    return [checks.optimizer_row(bug.optimizer, "float64", scratch_optimizer=optimizer, steps=OPTIMIZER_STEPS)]


def piece_alone(bug: bugs.Bug, data: Datasets) -> Cell:
    """The replaced piece on its own; for no mistake, every kind of piece."""
    kinds = ("loss_grad", "activation_backward", "dense_backward", "l2_grad", "optimizer")
    return _cell(
        [r for kind in (kinds if bug.piece == "all" else (bug.piece,)) for r in _piece_rows(kind, bug.make(), bug)]
    )


def _batches(data: Datasets, steps: int) -> np.ndarray:
    """The first ``steps`` shuffled batches of 100 of epoch 0, as training draws them."""
    return batch_indices(len(data.train.images), 100, 0, 0)[:steps]


def _tensorflow_lockstep(data: Datasets, loss: str, optimizer: str):
    """TensorFlow's 10 steps (eager ``tfimpl.train.train_step``): the losses, then the final parameters."""
    variables = to_variables(_start("float64"))
    opt = tf_optimizers.make_optimizer(optimizer, RATES[optimizer])
    losses = []
    for idx in _batches(data, LOCKSTEP_STEPS):
        x = data.train.images[idx].astype(np.float64)
        y = one_hot(data.train.labels[idx], dtype=np.float64)
        losses.append(float(tf_train.train_step(variables, opt, x, y, loss=loss, l2=L2)))
    return np.concatenate([losses, checks.concat(to_numpy(variables))])


def lockstep(bug: bugs.Bug, data: Datasets, reference: dict) -> Cell:
    """10 steps with the pieces beside TensorFlow's right ones: every loss and the final parameters (float64)."""
    pieces = bug.make()
    params, opt = _start("float64"), pieces.make_optimizer(RATES[bug.optimizer])
    losses = []
    for idx in _batches(data, LOCKSTEP_STEPS):
        x, y = data.train.images[idx].astype(np.float64), one_hot(data.train.labels[idx], dtype=np.float64)
        value, grads = pieces.loss_and_grads(params, x, y, l2=L2)
        opt.apply(grads, params)
        losses.append(value)
    setting = ("tensorflow", pieces.loss, bug.optimizer)  # computed once per setting
    if setting not in reference:
        reference[setting] = _tensorflow_lockstep(data, pieces.loss, bug.optimizer)
    ours = np.concatenate([losses, checks.concat(params)])
    return _cell(
        [checks.row("lockstep", "float64", ours, reference[setting], checks.TOLERANCES[("lockstep", "float64")])]
    )


def _trained_accuracy(make: Callable[[], bugs.Pieces], optimizer: str, data: Datasets) -> float | None:
    """Test accuracy after 300 float32 steps with the pieces; None when the loss stops being finite."""
    pieces = make()
    params, opt = _start("float32"), pieces.make_optimizer(RATES[optimizer])
    for idx in _batches(data, ACCURACY_STEPS):
        y = one_hot(data.train.labels[idx], dtype=np.float32)
        with np.errstate(all="ignore"):
            value, grads = pieces.loss_and_grads(params, data.train.images[idx], y, l2=L2)
            if not np.isfinite(value):
                return None
            opt.apply(grads, params)
    return np_models.accuracy(params, data.test.images, data.test.labels)


def accuracy(bug: bugs.Bug, data: Datasets, reference: dict) -> Cell:
    """Caught when the run diverges or ends more than :data:`ACCURACY_DROP` below the right pieces' run."""
    setting = (bug.make().loss, bug.optimizer)
    if setting not in reference:
        reference[setting] = _trained_accuracy(lambda: bugs.Pieces(loss=setting[0]), bug.optimizer, data)
    acc = _trained_accuracy(bug.make, bug.optimizer, data)
    if acc is None:
        return Cell(True, "diverged")
    return Cell(acc < reference[setting] - ACCURACY_DROP, f"{acc:.1%}")


def zoo_matrix(data: Datasets, *, progress: bool = True) -> list[tuple[str, list[Cell]]]:
    """Every mistake of :data:`scratch.bugs.ZOO` through every check of :data:`compare.zoo.COLUMNS`, in order."""
    from tfimpl.device import exact_float32

    reference: dict = {}
    matrix = []
    with exact_float32():
        for name, bug in tqdm(bugs.ZOO.items(), desc="zoo", unit="mistake", disable=not progress):
            cells = [
                loss_only(bug, data),
                model_gradcheck(bug, data, "float64"),
                model_gradcheck(bug, data, "float32"),
                tape(bug, data),
                piece_alone(bug, data),
                lockstep(bug, data, reference),
                accuracy(bug, data, reference),
            ]
            matrix.append((name, cells))
    return matrix


def format_matrix(matrix: list[tuple[str, list[Cell]]]) -> str:
    """The matrix as a Markdown table, one row per mistake, one column per check."""
    lines = ["| mistake | " + " | ".join(COLUMNS) + " |", "|---|" + "---|" * len(COLUMNS)]
    lines += [f"| {name} | " + " | ".join(str(c) for c in cells) + " |" for name, cells in matrix]
    return "\n".join(lines)


def main(argv=None) -> int:
    """``python -m compare zoo``: print the matrix; exit 1 if a mistake escapes every check or a check
    fails the right pieces."""
    parser = argparse.ArgumentParser(prog="python -m compare zoo", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    with one_line_errors() as outcome:
        matrix = zoo_matrix(load_mnist(args.data_dir))
        print(format_matrix(matrix))
        escaped = [name for name, cells in matrix[1:] if not any(c.caught for c in cells)]
        false_alarms = [COLUMNS[i] for i, c in enumerate(matrix[0][1]) if c.caught]
        for name in escaped:
            print(f"NOT caught by any check: {name}")
        for column in false_alarms:
            print(f"NOT: {column} fails the right pieces")
        outcome.status = 1 if escaped or false_alarms else 0
    return outcome.status
