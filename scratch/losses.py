r"""Softmax, cross-entropy and friends, each with its gradient written by hand.

Conventions used throughout (see ``docs/math.md`` for the derivations at length):

* ``logits: (N, C)`` are the unnormalised scores :math:`z`; ``N`` examples, ``C = 10`` classes.
* Dense labels ``y: (N, C)`` are one-hot (or any rows of probabilities); sparse labels ``(N,)`` are int ids.
* Every loss is the **mean over the batch** of a per-example loss, so every gradient carries a ``1 / N``.
* ``name(logits, y)`` returns the loss (a Python float); ``name_grad(logits, y)`` returns ``dlogits``,
  the gradient of that loss with respect to ``logits``, of shape ``(N, C)``. Training calls exactly
  these two (:func:`scratch.models.loss_and_grads`); there is no other path.

The TensorFlow twin, :mod:`tfimpl.losses`, has the same names in the same order; its ``*_grad``
functions ask ``tf.GradientTape`` instead of working the derivative out.
"""

from __future__ import annotations

import numpy as np

from common.spec import CLIP_MAX, CLIP_MIN

__all__ = [
    "softmax",
    "log_softmax",
    "softmax_backward",
    "softmax_cross_entropy",
    "softmax_cross_entropy_grad",
    "sparse_softmax_cross_entropy",
    "sparse_softmax_cross_entropy_grad",
    "naive_cross_entropy",
    "naive_cross_entropy_grad",
    "clipped_binary_cross_entropy",
    "clipped_binary_cross_entropy_grad",
    "l2_penalty",
    "l2_penalty_grad",
    "LOSSES",
]


def _row_max(logits: np.ndarray) -> np.ndarray:
    """``logits.max(axis=1, keepdims=True)``, computed through ``argmax``: a speed trick, kept because it pays.

    Same values. For rows of 10, NumPy's ``max`` reduction pays a fixed cost per row and ``argmax`` does
    not: 14 us against 4 us for a (100, 10) batch. A linear train step at batch 100 takes about 80 us and
    computes the row max twice (the loss and its gradient), so this saves about 20 us, 25% of the step.
    """
    return logits[np.arange(logits.shape[0]), logits.argmax(axis=1)][:, None]


def softmax(logits: np.ndarray) -> np.ndarray:
    r"""Row-wise softmax, stable for any finite logits.

    .. math::

        \operatorname{softmax}(z)_{k} = \frac{e^{z_k}}{\sum_j e^{z_j}}
                                    = \frac{e^{z_k - m}}{\sum_j e^{z_j - m}}, \qquad m = \max_j z_j

    Subtracting the row maximum changes nothing mathematically but keeps every exponent
    :math:`\le 0`, so nothing overflows: logits of :math:`\pm 10^4` give exact 0s and 1s, not NaN.

    Parameters
    ----------
    logits : (N, C) array

    Returns
    -------
    (N, C) array of probabilities; each row sums to 1.

    See ``docs/math.md#softmax``.
    """
    shifted = logits - _row_max(logits)  # (N, C), every entry <= 0
    e = np.exp(shifted)  # (N, C)
    e /= e.sum(axis=1, keepdims=True)
    return e


def log_softmax(logits: np.ndarray) -> np.ndarray:
    r"""Row-wise log-softmax via the log-sum-exp trick.

    .. math::

        \log \operatorname{softmax}(z)_k = z_k - m - \log \sum_j e^{z_j - m}, \qquad m = \max_j z_j

    Unlike ``np.log(softmax(z))`` this never takes the log of an underflowed 0: for logits of
    :math:`\pm 10^4` it returns large negative numbers, not ``-inf``.

    Returns
    -------
    (N, C) array

    See ``docs/math.md#softmax``.
    """
    shifted = logits - _row_max(logits)  # (N, C), a new array
    shifted -= np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # minus (N, 1), in place
    return shifted


def softmax_backward(dprobs: np.ndarray, probs: np.ndarray) -> np.ndarray:
    r"""Backpropagate through softmax: the vector-Jacobian product with the softmax Jacobian.

    With :math:`p = \operatorname{softmax}(z)` the Jacobian is
    :math:`\partial p_i / \partial z_j = p_i (\delta_{ij} - p_j)`, so for an upstream gradient
    :math:`g = \partial L / \partial p`

    .. math::

        \frac{\partial L}{\partial z_j} = \sum_i g_i\, p_i (\delta_{ij} - p_j)
                                        = p_j \Bigl(g_j - \sum_i g_i p_i\Bigr)

    Parameters
    ----------
    dprobs : (N, C) array
        :math:`\partial L / \partial p`.
    probs : (N, C) array
        :math:`p`, the softmax output of the forward pass.

    Returns
    -------
    dlogits : (N, C) array

    See ``docs/math.md#softmax-jacobian``.
    """
    return probs * (dprobs - (dprobs * probs).sum(axis=1, keepdims=True))


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    r"""Cross-entropy from logits and dense labels, the mean over the batch (``tf.nn.softmax_cross_entropy_with_logits``).

    .. math::

        L = -\frac{1}{N} \sum_{n} \sum_k y_{nk} \log \operatorname{softmax}(z_n)_k

    Computed with :func:`log_softmax`, so it is finite for any finite logits. The double sum over
    :math:`n` and :math:`k` is one dot product of the two arrays flattened, ``np.vdot``.

    Parameters
    ----------
    logits : (N, C) array
    y : (N, C) array
        One-hot rows (or probability rows summing to 1).

    See ``docs/math.md#cross-entropy``.
    """
    return float(-np.vdot(y, log_softmax(logits)) / logits.shape[0])


def softmax_cross_entropy_grad(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""Gradient of :func:`softmax_cross_entropy` with respect to the logits.

    Chain :math:`\partial L / \partial p_k = -y_k / (N p_k)` through :func:`softmax_backward` and use
    :math:`\sum_k y_k = 1`; the :math:`p_k` cancel and what remains is famously simple:

    .. math::

        \frac{\partial L}{\partial z} = \frac{\operatorname{softmax}(z) - y}{N}

    Returns
    -------
    dlogits : (N, C) array

    See ``docs/math.md#the-gradient-of-cross-entropy``.
    """
    dlogits = softmax(logits)  # (N, C), a new array: the two lines below may work in place
    dlogits -= y
    dlogits /= logits.shape[0]
    return dlogits


def sparse_softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    r"""Cross-entropy from logits and integer class ids (``tf.nn.sparse_softmax_cross_entropy_with_logits``).

    .. math::

        L = -\frac{1}{N} \sum_n \log \operatorname{softmax}(z_n)_{t_n}

    The same number as :func:`softmax_cross_entropy` with ``y = one_hot(labels)``, without building
    the one-hot matrix.

    Parameters
    ----------
    logits : (N, C) array
    labels : (N,) int array
    """
    n = logits.shape[0]
    return float(-log_softmax(logits)[np.arange(n), labels].sum() / n)


def sparse_softmax_cross_entropy_grad(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    r"""Gradient of :func:`sparse_softmax_cross_entropy`: :math:`(\operatorname{softmax}(z) - \operatorname{onehot}(t)) / N`.

    Subtracting the one-hot row is subtracting 1 at each example's true class.

    Returns
    -------
    dlogits : (N, C) array
    """
    n = logits.shape[0]
    dlogits = softmax(logits)  # (N, C)
    dlogits[np.arange(n), labels] -= 1
    dlogits /= n
    return dlogits


def naive_cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    r"""The textbook form ``-sum(y * log(softmax(z)))``, mean over the batch. Kept to show why it fails.

    .. math::

        L = -\frac{1}{N} \sum_n \sum_k y_{nk} \log p_{nk}, \qquad p = \operatorname{softmax}(z)

    Mathematically identical to :func:`softmax_cross_entropy`, numerically not: once a logit trails
    the largest by more than about 745 (float64) or 104 (float32), its probability underflows to 0,
    ``log(0) = -inf``, and ``0 * -inf = nan``. The logits form never forms :math:`\log p` from
    :math:`p`, so it stays finite. The early TensorFlow tutorials used this form; do not.

    See ``docs/math.md#cross-entropy``.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(-(y * np.log(softmax(logits))).sum() / logits.shape[0])


def naive_cross_entropy_grad(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""Gradient of :func:`naive_cross_entropy`, taken the naive way too: through :math:`1/p`.

    .. math::

        \frac{\partial L}{\partial p} = -\frac{y}{N p}, \qquad
        \frac{\partial L}{\partial z} = \text{softmax\_backward}\Bigl(-\frac{y}{N p},\, p\Bigr)

    Where no probability underflows this equals :math:`(p - y) / N`; where one does, the division
    by zero poisons the row with ``inf`` or ``nan``, exactly as autodiff through the naive graph does.
    """
    probs = softmax(logits)  # (N, C)
    with np.errstate(divide="ignore", invalid="ignore"):
        dprobs = -y / (logits.shape[0] * probs)  # (N, C)
        return softmax_backward(dprobs, probs)


def _clipped_probs(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probs = softmax(logits)  # (N, C)
    return probs, np.clip(probs, CLIP_MIN, CLIP_MAX)


def clipped_binary_cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    r"""The MLP tutorial's loss: softmax, clip, then a binary cross-entropy per class, summed, mean over the batch.

    .. math::

        \hat p = \operatorname{clip}(\operatorname{softmax}(z), 10^{-10}, 0.9999999), \qquad
        L = -\frac{1}{N} \sum_n \sum_k \bigl[y_{nk} \log \hat p_{nk} + (1 - y_{nk}) \log(1 - \hat p_{nk})\bigr]

    Each class is scored as its own yes/no question, so wrong classes are pushed down twice (through
    the softmax and through their own :math:`\log(1-\hat p)` term). The clip keeps both logs finite.

    Parameters
    ----------
    logits : (N, C) array
    y : (N, C) array
        One-hot rows.
    """
    _, clipped = _clipped_probs(logits)
    per_class = y * np.log(clipped) + (1 - y) * np.log(1 - clipped)  # (N, C)
    return float(-per_class.sum() / logits.shape[0])


def clipped_binary_cross_entropy_grad(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""Gradient of :func:`clipped_binary_cross_entropy` with respect to the logits.

    Three links of the chain, written in the order the code runs them:

    .. math::

        \frac{\partial L}{\partial \hat p} = -\frac{1}{N}\Bigl(\frac{y}{\hat p} - \frac{1-y}{1-\hat p}\Bigr),
        \qquad
        \frac{\partial L}{\partial p} = \frac{\partial L}{\partial \hat p}\,[10^{-10} \le p \le 0.9999999],
        \qquad
        \frac{\partial L}{\partial z} = \text{softmax\_backward}\Bigl(\frac{\partial L}{\partial p}, p\Bigr)

    The clip passes the gradient where the probability lies inside the bounds, ends included, and
    blocks it outside, like ``tf.clip_by_value``. Unlike cross-entropy, the softmax Jacobian does not
    cancel here, which is why :func:`softmax_backward` is needed.

    The clip's silent cost: a row whose every probability lies outside the clip gets a gradient of
    exactly 0, however large its loss. For :math:`z = (30, 0, -5, 1)` with true class 1, every
    :math:`p_k` is below :math:`10^{-10}` or above 0.9999999: the loss is 39.1 (float64) and the gradient 0.
    Saturated rows stop learning, right or wrong (notebook 5 counts them).

    See ``docs/math.md#softmax-jacobian``.
    """
    probs, clipped = _clipped_probs(logits)
    n = logits.shape[0]
    dclipped = -(y / clipped - (1 - y) / (1 - clipped)) / n  # (N, C)
    inside = (probs >= CLIP_MIN) & (probs <= CLIP_MAX)  # (N, C) where the clip is the identity
    return softmax_backward(dclipped * inside, probs)


def l2_penalty(params: dict[str, np.ndarray], scale: float) -> float:
    r"""Weight decay on the weight matrices (keys starting with ``W``), not the biases.

    .. math::

        R = \lambda \sum_{l} \tfrac{1}{2} \lVert W_l \rVert_2^2

    The :math:`\tfrac{1}{2}` matches ``tf.nn.l2_loss`` so that the gradient is simply :math:`\lambda W`.
    """
    return float(scale * sum(0.5 * np.vdot(w, w) for k, w in params.items() if k.startswith("W")))


def l2_penalty_grad(params: dict[str, np.ndarray], scale: float) -> dict[str, np.ndarray]:
    r"""Gradient of :func:`l2_penalty`: :math:`\lambda W` for each weight matrix, nothing for biases."""
    return {k: scale * w for k, w in params.items() if k.startswith("W")}


#: Loss name -> (loss, gradient). The label form each takes is :data:`common.spec.LOSS_FORMS`;
#: :func:`scratch.models.loss_and_grads` converts labels to it.
LOSSES = {
    "softmax_cross_entropy": (softmax_cross_entropy, softmax_cross_entropy_grad),
    "sparse_softmax_cross_entropy": (sparse_softmax_cross_entropy, sparse_softmax_cross_entropy_grad),
    "naive_cross_entropy": (naive_cross_entropy, naive_cross_entropy_grad),
    "clipped_binary_cross_entropy": (clipped_binary_cross_entropy, clipped_binary_cross_entropy_grad),
}
