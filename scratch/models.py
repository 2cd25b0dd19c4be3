r"""Softmax regression, the multi-layer perceptron and the CNN, forward and backward by hand.

A model is nothing but its parameter dict: ``W1, b1, W2, b2, ...`` with ``W_l: (D_{l-1}, D_l)`` and
``b_l: (D_l,)``. Softmax regression 784->10 is the one-layer case (``W1: (784, 10)``); the tutorial MLP
784-300-10 has two layers. Hidden layers apply an activation (ReLU by default); the last layer gives
the logits, and the loss applies the softmax. The convolutional network ``cnn`` (:mod:`scratch.cnn`) has
the same keys, its first two weights 4-D convolution kernels; every function here hands it on there.

The seam shared with :mod:`tfimpl.models` is :func:`loss_and_grads` ``(params, x, y) -> (loss, grads)``:
here the gradients are worked out by hand, layer by layer, in reverse; there ``tf.GradientTape`` does it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from common import rules
from common.errors import InputTypeError, UserError
from common.labels import as_form, targets
from common.spec import CNN, EVAL_BATCH, LOSS_FORMS, NUM_CLASSES, param_shapes
from common.spec import INITIALIZERS as INITIALIZER_NAMES

from . import cnn, layers, losses
from .initializers import INITIALIZERS

__all__ = [
    "init_params",
    "forward",
    "backward",
    "loss_and_grads",
    "input_grad",
    "predict",
    "accuracy",
    "evaluate",
]


def init_params(
    model: str = "linear",
    *,
    hidden: Sequence[int] | None = None,
    init: str = "zeros",
    std: float | None = None,
    seed: int = 0,
    dtype="float32",
) -> dict[str, np.ndarray]:
    r"""Fresh parameters: weights from the named initialiser, biases zero.

    Parameters
    ----------
    model : {"linear", "mlp", "cnn"}, see :data:`common.spec.MODELS`
    hidden : sequence of int, optional
        Hidden layer widths for ``mlp`` (default ``(300,)``).
    init : {"zeros", "normal", "truncated_normal", "glorot_uniform"}
    std : float, optional
        Standard deviation for the normal initialisers (their defaults: 0.03 and 0.01).
    seed : int
        Seeds a :class:`numpy.random.Generator`; the same seed gives the same arrays.
    dtype : float32 or float64

    Returns
    -------
    dict
        ``{"W1": (784, H), "b1": (H,), ..., "WL": (H, 10), "bL": (10,)}`` in layer order; for the CNN the
        shapes of :func:`common.spec.param_shapes` (``W1: (5, 5, 1, 16)``, ...).
    """
    rules.check_choice("init", init, INITIALIZER_NAMES)
    if std is not None:
        rules.check_rate("std", std)
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    kwargs = {} if std is None else {"std": std}
    params = {}
    for key, shape in param_shapes(model, hidden).items():  # W1, b1, W2, b2, ...: weights drawn, biases zero
        params[key] = INITIALIZERS[init](shape, dtype, rng, **kwargs) if key[0] == "W" else np.zeros(shape, dtype)
    return params


def _is_cnn(params: dict[str, np.ndarray]) -> bool:
    return params["W1"].ndim == 4


def _num_layers(params: dict[str, np.ndarray]) -> int:
    return len(params) // 2


def _check_inputs(params: dict[str, np.ndarray], x: np.ndarray) -> None:
    W1 = params["W1"]
    if _is_cnn(params):
        if x.ndim < 2 or x.shape[1:] not in ((784,), CNN["image"][:2], CNN["image"]):
            raise UserError(f"the cnn takes 28x28 images: x must have shape (N, 784) or (N, 28, 28, 1), got {x.shape}")
    elif x.ndim != 2 or x.shape[1] != W1.shape[0]:
        raise UserError(f"x must have shape (N, {W1.shape[0]}), got {x.shape}; flatten images to 784 pixels")
    if x.dtype != W1.dtype:
        raise InputTypeError(
            f"x is {x.dtype} but the parameters are {W1.dtype}; load the data with dtype={W1.dtype} "
            "(mixing them would silently compute in the wider type)"
        )


def forward(params: dict[str, np.ndarray], x: np.ndarray, *, activation: str = "relu", mask=None):
    r"""Logits of a batch, and the caches backward needs.

    .. math::

        h_0 = x, \qquad a_l = h_{l-1} W_l + b_l, \qquad h_l = f(a_l)\ (l < L), \qquad z = a_L

    with :math:`a_l` the pre-activation of layer :math:`l` (``(N, D_l)``) and :math:`f` the activation.

    Parameters
    ----------
    params : dict
    x : (N, 784) array
    activation : {"relu", "sigmoid", "tanh"}
    mask : (N, 128) array, optional
        The CNN's dropout mask (:func:`scratch.cnn.forward`); the linear model and the MLP take none.

    Returns
    -------
    logits : (N, 10) array
    caches : list
        One ``(dense_cache, activation_cache)`` per layer; the last layer's activation cache is None. The
        CNN's are :func:`scratch.cnn.forward`'s dict.
    """
    if _is_cnn(params):
        return cnn.forward(params, x, activation=activation, mask=mask)
    h, caches = x, []
    n_layers = _num_layers(params)
    for l in range(1, n_layers + 1):
        h, dense_cache = layers.dense_forward(h, params[f"W{l}"], params[f"b{l}"])
        act_cache = None
        if l < n_layers:
            h, act_cache = layers.activation_forward(activation, h)
        caches.append((dense_cache, act_cache))
    return h, caches


def backward(
    dlogits: np.ndarray, caches: list, *, activation: str = "relu", need_dx: bool = False
) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    r"""Backpropagation: walk the layers in reverse, each handing ``dx`` to the one before.

    .. math::

        \delta_L = \frac{\partial L}{\partial z}, \quad
        dW_l = h_{l-1}^\top \delta_l, \quad db_l = \textstyle\sum_n \delta_{l,n}, \quad
        \delta_{l-1} = \bigl(\delta_l W_l^\top\bigr) \odot f'(a_{l-1})

    where :math:`\delta_l = \partial L / \partial a_l` is the gradient at layer :math:`l`'s pre-activation
    :math:`a_l` (see :func:`forward`), and :math:`f'(a_{l-1})` the activation's derivative there, applied
    elementwise by the activation's backward (for ReLU the mask :math:`[a_{l-1} > 0]`).

    Returns
    -------
    grads : dict
        ``dW1, db1, ...`` under the parameter names ``W1, b1, ...``.
    dx : (N, 784) array or None
        The gradient with respect to the input, only when ``need_dx`` (the optimal-input experiment).

    See ``docs/math.md#backpropagation``. The CNN's caches (a dict) go to :func:`scratch.cnn.backward`.
    """
    if isinstance(caches, dict):
        return cnn.backward(dlogits, caches, activation=activation, need_dx=need_dx)
    grads: dict[str, np.ndarray] = {}
    dh = dlogits
    for l in range(len(caches), 0, -1):
        dense_cache, act_cache = caches[l - 1]
        if act_cache is not None:
            dh = layers.activation_backward(activation, dh, act_cache)
        dh, dW, db = layers.dense_backward(dh, dense_cache, need_dx=l > 1 or need_dx)
        grads[f"b{l}"], grads[f"W{l}"] = db, dW
    return dict(reversed(grads.items())), dh  # W1, b1, W2, b2, ... like params


def loss_and_grads(
    params: dict[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    *,
    loss: str = "softmax_cross_entropy",
    l2: float = 0.0,
    activation: str = "relu",
    mask=None,
) -> tuple[float, dict[str, np.ndarray]]:
    r"""The seam: the mean loss over the batch and its gradient for every parameter, by hand.

    .. math::

        J(\theta) = \frac{1}{N}\sum_n \ell(z_n, y_n) + \lambda \sum_l \tfrac12 \lVert W_l \rVert^2

    with :math:`\ell` the per-example loss and :math:`l` the layer.

    Forward pass, ``dlogits`` from the loss (:mod:`scratch.losses`), backward pass, plus
    :math:`\lambda W` for the L2 penalty.

    Parameters
    ----------
    params : dict
        ``W1, b1, ...``, see :func:`init_params`.
    x : (N, 784) array, same dtype as the parameters.
    y : (N,) int class ids or (N, 10) one-hot rows; converted to what ``loss`` needs.
    loss : str
        A key of :data:`scratch.losses.LOSSES`: its loss and its gradient are called, nothing else.
    l2 : float
        :math:`\lambda`; 0 turns the penalty off.
    activation : {"relu", "sigmoid", "tanh"}
    mask : (N, 128) array, optional
        The CNN's dropout mask for this step (training only); see :func:`forward`.

    Returns
    -------
    loss : float
    grads : dict
        Same keys, shapes and dtypes as ``params``.

    See ``docs/math.md#backpropagation``.
    """
    loss_fn, grad_fn = losses.LOSSES[loss]
    logits, caches = forward(params, x, activation=activation, mask=mask)  # (N, 10)
    t = as_form(y, LOSS_FORMS[loss], x.dtype)  # (N,) ids or (N, 10) rows, as the loss wants
    value = loss_fn(logits, t)
    dlogits = grad_fn(logits, t)  # (N, 10)
    grads, _ = backward(dlogits, caches, activation=activation)
    if l2:
        value += losses.l2_penalty(params, l2)
        for k, g in losses.l2_penalty_grad(params, l2).items():
            grads[k] += g
    return value, grads


def input_grad(
    params: dict[str, np.ndarray], x: np.ndarray, *, activation: str = "relu"
) -> tuple[np.ndarray, np.ndarray]:
    r"""Logits, and the gradient of each example's target-class logit with respect to its input.

    Used by the optimal-input experiment: with ``x: (10, 784)``, row ``k`` is an image meant for class
    ``k``, and the returned ``dx[k]`` is :math:`\partial z_{k,k} / \partial x_k`.

    Returns
    -------
    logits : (N, 10) array
    dx : (N, 784) array
    """
    logits, caches = forward(params, x, activation=activation)
    dlogits = np.zeros_like(logits)
    dlogits[np.arange(len(x)), np.arange(len(x)) % NUM_CLASSES] = 1
    _, dx = backward(dlogits, caches, activation=activation, need_dx=True)
    return logits, dx


def predict(params: dict[str, np.ndarray], x: np.ndarray, *, activation: str = "relu") -> np.ndarray:
    """Class ids ``(N,)``: the argmax of the logits (ties go to the lowest class, as in TF).

    Checks ``x`` against the parameters first (:func:`predict` and :func:`evaluate` are where a user's
    arrays come in; the kernels they call trust their inputs).
    """
    _check_inputs(params, x)
    return _logits(params, x, activation).argmax(axis=1)


def _logits(params, x, activation):
    """Logits with no caches kept: the CNN's in batches of :data:`common.spec.EVAL_BATCH`, the others' at once."""
    if not _is_cnn(params):
        return forward(params, x, activation=activation)[0]
    starts = range(0, len(x), EVAL_BATCH)  # one batch of EVAL_BATCH images at a time
    chunks = [forward(params, x[s : s + EVAL_BATCH], activation=activation)[0] for s in starts]
    return np.concatenate(chunks) if chunks else np.zeros((0, NUM_CLASSES), x.dtype)


def accuracy(params: dict[str, np.ndarray], x: np.ndarray, labels: np.ndarray, *, activation: str = "relu") -> float:
    """Share of ``x`` whose predicted class equals ``labels``."""
    return float(np.mean(predict(params, x, activation=activation) == labels))


def evaluate(
    params: dict[str, np.ndarray],
    x: np.ndarray,
    labels: np.ndarray,
    *,
    loss: str = "softmax_cross_entropy",
    activation: str = "relu",
) -> tuple[float, float]:
    """``(loss, accuracy)`` on a whole split, with no L2 term; ``x`` and ``labels`` are checked first."""
    _check_inputs(params, x)
    loss_fn, _ = losses.LOSSES[loss]
    logits = _logits(params, x, activation)  # (N, 10), in batches for the CNN
    value = loss_fn(logits, targets(labels, LOSS_FORMS[loss], len(x), x.dtype))
    return value, float(np.mean(logits.argmax(axis=1) == labels))
