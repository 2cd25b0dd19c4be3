r"""Labels in the two forms the losses take, converted in one place.

Dense losses take one-hot rows ``(N, 10)``, sparse ones class ids ``(N,)`` (see
:data:`common.spec.LOSS_FORMS`). :func:`targets` turns either form into the one a loss wants.
"""

from __future__ import annotations

import numpy as np

from .errors import InputTypeError, UserError
from .spec import NUM_CLASSES

__all__ = ["as_form", "check_labels", "one_hot", "targets"]


def one_hot(labels: np.ndarray, num_classes: int = NUM_CLASSES, dtype=np.float32) -> np.ndarray:
    r"""Class ids ``(N,)`` to one-hot rows ``(N, num_classes)``.

    Raises
    ------
    ValueError
        ``labels`` is not a 1-D integer array or holds an id outside ``[0, num_classes)``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise UserError(f"one_hot expects 1-D integer class ids, got shape {labels.shape} {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise UserError(f"class ids must lie in [0, {num_classes}), got {labels.min()}..{labels.max()}")
    out = np.zeros((labels.size, num_classes), dtype=dtype)
    out[np.arange(labels.size), labels] = 1
    return out


def check_labels(shape: tuple, is_integer: bool, n: int) -> None:
    """The rule for labels of ``n`` examples: class ids ``(n,)`` (integers) or rows ``(n, 10)``.

    Takes the shape and whether the dtype is integer, so TensorFlow tensors are judged by the same rule.
    """
    shape = tuple(shape)
    if shape[:1] != (n,):
        raise UserError(f"y must have one row per example ({n}), got shape {shape}")
    if len(shape) == 1 and not is_integer:
        raise InputTypeError("1-D labels must be integer class ids")
    if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != NUM_CLASSES):
        raise UserError(f"y must be class ids (N,) or one-hot rows (N, {NUM_CLASSES}), got shape {shape}")


def targets(y: np.ndarray, form: str, n: int, dtype) -> np.ndarray:
    """Labels of ``n`` examples, checked by :func:`check_labels`, in the form a loss wants (:func:`as_form`)."""
    y = np.asarray(y)
    check_labels(y.shape, np.issubdtype(y.dtype, np.integer), n)
    return as_form(y, form, dtype)


def as_form(y: np.ndarray, form: str, dtype) -> np.ndarray:
    """Class ids for ``"sparse"``, one-hot rows for ``"dense"``; ``y`` itself when it is in that form already.

    No checks: this runs inside every training step, on labels validated where they entered
    (:func:`targets`, once per run).
    """
    if y.ndim == 1:
        return y if form == "sparse" else one_hot(y, NUM_CLASSES, dtype)
    return y.argmax(axis=1) if form == "sparse" else y.astype(dtype, copy=False)
