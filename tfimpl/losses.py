r"""The losses of :mod:`scratch.losses` on TensorFlow ops; every ``*_grad`` asks ``tf.GradientTape``.

Same names, same order, same signatures as :mod:`scratch.losses`, where each derivation is written out.
Here ``softmax_cross_entropy`` is ``tf.nn.softmax_cross_entropy_with_logits`` (a fused kernel that
computes the loss and :math:`\operatorname{softmax}(z) - y` together), averaged with ``tf.reduce_mean``.
"""

from __future__ import annotations

from common.spec import CLIP_MAX, CLIP_MIN

from .backend import tf

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


def _tape_grad(loss_fn, logits, y):
    """``dlogits`` of ``loss_fn(logits, y)``, from ``tf.GradientTape``."""
    logits = tf.convert_to_tensor(logits)
    with tf.GradientTape() as tape:
        tape.watch(logits)
        value = loss_fn(logits, y)
    return tape.gradient(value, logits)


def softmax(logits):
    """``tf.nn.softmax`` (TF subtracts the row maximum internally). See :func:`scratch.losses.softmax`."""
    return tf.nn.softmax(logits)


def log_softmax(logits):
    """``tf.nn.log_softmax``: the log-sum-exp form, finite for logits of +-1e4. See :func:`scratch.losses.log_softmax`."""
    return tf.nn.log_softmax(logits)


def softmax_backward(dprobs, probs):
    r"""The softmax vector-Jacobian product, :math:`p \odot (g - \langle g, p\rangle)`: the formula of TF's own
    registered gradient for ``Softmax`` (``_SoftmaxGrad`` in ``nn_grad.py``). See
    :func:`scratch.losses.softmax_backward`; ``compare`` checks it against the tape."""
    return probs * (dprobs - tf.reduce_sum(dprobs * probs, axis=1, keepdims=True))


def softmax_cross_entropy(logits, y):
    """Mean over the batch of ``tf.nn.softmax_cross_entropy_with_logits``. See :func:`scratch.losses.softmax_cross_entropy`."""
    per_example = tf.nn.softmax_cross_entropy_with_logits(y, logits)  # (labels, logits) -> (N,)
    return tf.math.reduce_mean(per_example)


def softmax_cross_entropy_grad(logits, y):
    """``dlogits`` of :func:`softmax_cross_entropy` from the tape; by hand in :func:`scratch.losses.softmax_cross_entropy_grad`."""
    return _tape_grad(softmax_cross_entropy, logits, y)


def sparse_softmax_cross_entropy(logits, labels):
    """Mean of ``tf.nn.sparse_softmax_cross_entropy_with_logits`` (class ids). See :func:`scratch.losses.sparse_softmax_cross_entropy`."""
    per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)  # (labels, logits) -> (N,)
    return tf.math.reduce_mean(per_example)


def sparse_softmax_cross_entropy_grad(logits, labels):
    """``dlogits`` of :func:`sparse_softmax_cross_entropy` from the tape. See :func:`scratch.losses.sparse_softmax_cross_entropy_grad`."""
    return _tape_grad(sparse_softmax_cross_entropy, logits, labels)


def naive_cross_entropy(logits, y):
    """The early tutorials' ``-reduce_sum(y * log(softmax(z)))``, batch mean; fails for large logits. See :func:`scratch.losses.naive_cross_entropy`."""
    log_probs = tf.math.log(tf.nn.softmax(logits))  # (N, C); -inf where a probability underflowed to 0
    return -tf.reduce_sum(y * log_probs) / tf.cast(tf.shape(logits)[0], logits.dtype)


def naive_cross_entropy_grad(logits, y):
    """``dlogits`` of :func:`naive_cross_entropy` from the tape (inf/NaN where it underflows). See :func:`scratch.losses.naive_cross_entropy_grad`."""
    return _tape_grad(naive_cross_entropy, logits, y)


def clipped_binary_cross_entropy(logits, y):
    """The MLP tutorial's loss: ``tf.clip_by_value(softmax, 1e-10, 0.9999999)``, per-class binary cross-entropy.

    See :func:`scratch.losses.clipped_binary_cross_entropy`.
    """
    clipped = tf.clip_by_value(tf.nn.softmax(logits), CLIP_MIN, CLIP_MAX)  # (N, C)
    per_class = y * tf.math.log(clipped) + (1 - y) * tf.math.log(1 - clipped)  # (N, C)
    return -tf.reduce_sum(per_class) / tf.cast(tf.shape(logits)[0], logits.dtype)


def clipped_binary_cross_entropy_grad(logits, y):
    """``dlogits`` of :func:`clipped_binary_cross_entropy` from the tape. See :func:`scratch.losses.clipped_binary_cross_entropy_grad`."""
    return _tape_grad(clipped_binary_cross_entropy, logits, y)


def l2_penalty(params, scale):
    r""":math:`\lambda \sum_\ell` ``tf.nn.l2_loss(W_l)`` (which is :math:`\tfrac12\lVert W\rVert^2`), weights only.

    See :func:`scratch.losses.l2_penalty`.
    """
    return scale * tf.add_n([tf.nn.l2_loss(w) for k, w in params.items() if k.startswith("W")])


def l2_penalty_grad(params, scale):
    """Gradient of :func:`l2_penalty` for each weight matrix, from the tape. See :func:`scratch.losses.l2_penalty_grad`."""
    weights = {k: w for k, w in params.items() if k.startswith("W")}
    with tf.GradientTape() as tape:
        tape.watch(list(weights.values()))
        value = l2_penalty(weights, scale)
    return dict(zip(weights, tape.gradient(value, list(weights.values())), strict=True))


#: Same table as :data:`scratch.losses.LOSSES`: name -> (loss, gradient).
LOSSES = {
    "softmax_cross_entropy": (softmax_cross_entropy, softmax_cross_entropy_grad),
    "sparse_softmax_cross_entropy": (sparse_softmax_cross_entropy, sparse_softmax_cross_entropy_grad),
    "naive_cross_entropy": (naive_cross_entropy, naive_cross_entropy_grad),
    "clipped_binary_cross_entropy": (clipped_binary_cross_entropy, clipped_binary_cross_entropy_grad),
}
