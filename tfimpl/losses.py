r"""The losses of :mod:`scratch.losses` on TensorFlow ops; every ``*_grad`` asks ``tf.GradientTape``.

The derivations are in :mod:`scratch.losses`. Here ``softmax_cross_entropy`` is
``tf.nn.softmax_cross_entropy_with_logits`` (a fused kernel that computes the loss and
:math:`\operatorname{softmax}(z) - y` together), averaged over the batch with ``tf.reduce_mean``.
"""

from __future__ import annotations

import tensorflow as tf

from scratch.losses import CLIP_MAX, CLIP_MIN

__all__ = [
    "CLIP_MAX",
    "CLIP_MIN",
    "LOSSES",
    "clipped_binary_cross_entropy",
    "clipped_binary_cross_entropy_grad",
    "l2_penalty",
    "l2_penalty_grad",
    "log_softmax",
    "naive_cross_entropy",
    "naive_cross_entropy_grad",
    "softmax",
    "softmax_backward",
    "softmax_cross_entropy",
    "softmax_cross_entropy_grad",
    "sparse_softmax_cross_entropy",
    "sparse_softmax_cross_entropy_grad",
    "value_and_grad",
]


def softmax(logits):
    """``tf.nn.softmax`` (TF subtracts the row maximum internally, as :func:`scratch.losses.softmax` does)."""
    return tf.nn.softmax(logits)


def log_softmax(logits):
    """``tf.nn.log_softmax``: the log-sum-exp form, finite for logits of +-1e4."""
    return tf.nn.log_softmax(logits)


def softmax_backward(dprobs, probs):
    r"""The softmax vector-Jacobian product, :math:`p \odot (g - \langle g, p\rangle)`: the formula of TF's own
    registered gradient for ``Softmax`` (``_SoftmaxGrad`` in ``nn_grad.py``)."""
    return probs * (dprobs - tf.reduce_sum(dprobs * probs, axis=1, keepdims=True))


def softmax_cross_entropy(logits, y):
    """Mean over the batch of ``tf.nn.softmax_cross_entropy_with_logits``."""
    return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))


def sparse_softmax_cross_entropy(logits, labels):
    """Mean over the batch of ``tf.nn.sparse_softmax_cross_entropy_with_logits`` (integer class ids)."""
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))


def naive_cross_entropy(logits, y):
    """The early tutorials' ``tf.reduce_mean(-tf.reduce_sum(y * tf.log(tf.nn.softmax(z)), 1))``; fails for large logits."""
    return tf.reduce_mean(-tf.reduce_sum(y * tf.math.log(tf.nn.softmax(logits)), axis=1))


def clipped_binary_cross_entropy(logits, y):
    """The MLP tutorial's loss: ``tf.clip_by_value(softmax, 1e-10, 0.9999999)``, per-class binary cross-entropy."""
    p = tf.clip_by_value(tf.nn.softmax(logits), CLIP_MIN, CLIP_MAX)
    return -tf.reduce_mean(tf.reduce_sum(y * tf.math.log(p) + (1 - y) * tf.math.log(1 - p), axis=1))


def _tape_grad(loss_fn, logits, y):
    logits = tf.convert_to_tensor(logits)
    with tf.GradientTape() as tape:
        tape.watch(logits)
        value = loss_fn(logits, y)
    return value, tape.gradient(value, logits)


def softmax_cross_entropy_grad(logits, y):
    """``dlogits`` of :func:`softmax_cross_entropy`, from ``tf.GradientTape``."""
    return _tape_grad(softmax_cross_entropy, logits, y)[1]


def sparse_softmax_cross_entropy_grad(logits, labels):
    """``dlogits`` of :func:`sparse_softmax_cross_entropy`, from ``tf.GradientTape``."""
    return _tape_grad(sparse_softmax_cross_entropy, logits, labels)[1]


def naive_cross_entropy_grad(logits, y):
    """``dlogits`` of :func:`naive_cross_entropy`, from ``tf.GradientTape`` (inf/NaN where it underflows)."""
    return _tape_grad(naive_cross_entropy, logits, y)[1]


def clipped_binary_cross_entropy_grad(logits, y):
    """``dlogits`` of :func:`clipped_binary_cross_entropy`, from ``tf.GradientTape``."""
    return _tape_grad(clipped_binary_cross_entropy, logits, y)[1]


def l2_penalty(params, scale):
    r""":math:`\lambda \sum_\ell` ``tf.nn.l2_loss(W_l)`` (which is :math:`\tfrac12\lVert W\rVert^2`), weights only."""
    return scale * tf.add_n([tf.nn.l2_loss(w) for k, w in params.items() if k.startswith("W")])


def l2_penalty_grad(params, scale):
    """Gradient of :func:`l2_penalty` for each weight matrix, from ``tf.GradientTape``."""
    weights = {k: w for k, w in params.items() if k.startswith("W")}
    with tf.GradientTape() as tape:
        tape.watch(list(weights.values()))
        value = l2_penalty(weights, scale)
    return dict(zip(weights, tape.gradient(value, list(weights.values())), strict=True))


#: Same table as :data:`scratch.losses.LOSSES`.
LOSSES = {
    "softmax_cross_entropy": (softmax_cross_entropy, softmax_cross_entropy_grad, "dense"),
    "sparse_softmax_cross_entropy": (sparse_softmax_cross_entropy, sparse_softmax_cross_entropy_grad, "sparse"),
    "naive_cross_entropy": (naive_cross_entropy, naive_cross_entropy_grad, "dense"),
    "clipped_binary_cross_entropy": (clipped_binary_cross_entropy, clipped_binary_cross_entropy_grad, "dense"),
}


def value_and_grad(name, logits, y):
    """``(loss, dlogits)`` from one tape."""
    return _tape_grad(LOSSES[name][0], logits, y)
