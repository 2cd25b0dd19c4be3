r"""Deliberately wrong pieces: classic backprop and optimizer mistakes, each a drop-in for a correct one.

A check that cannot fail proves nothing. Each piece here is a plausible mistake with the same interface
as the correct piece it replaces, so a check can be handed it in place of the real one and must then
FAIL. They are defined once, here, and used by the tests, by ``python -m scratch gradcheck`` (its
negative control), by ``python -m compare``'s ``controls`` and ``curvature`` families, and by the bug zoo
(``python -m compare zoo``). Nothing here is on a training path.

The zoo (:data:`ZOO`) injects each mistake through public interfaces only: a :class:`Pieces` is a model's
gradient and training step assembled from the public kernels of :mod:`scratch.layers`,
:mod:`scratch.losses` and :mod:`scratch.optimizers`, in the order :func:`scratch.models.loss_and_grads`
calls them (a test shows the right pieces give its numbers bit for bit), with one piece swapped for a
wrong one. No file is edited. Which check catches which mistake is ``docs/math.md#the-bug-zoo``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from common.geometry import window
from common.labels import as_form
from common.spec import CLIP_MAX, CLIP_MIN, LOSS_FORMS

from . import conv, layers, losses, models
from .optimizers import SGD, Adam, make_optimizer

__all__ = [
    "ZOO",
    "AccumulatingDenseBackward",
    "Bug",
    "PaperEpsilonAdam",
    "Pieces",
    "WrongSignMomentum",
    "clip_mask_inverted_grad",
    "col2im_overwriting",
    "conv2d_backward_overwriting",
    "conv2d_backward_unflipped",
    "db_over_every_axis_dense_backward",
    "dense_rbackward_without_weight_term",
    "doubled",
    "l2_grad_without_half",
    "max_pool_backward_to_every_position",
    "relu_backward_without_mask",
    "relu_rbackward_with_curvature",
    "reshaped_dw_dense_backward",
    "softmax_over_batch_grad",
    "without_mean",
    "zero_dx_dense_backward",
]


# --- loss gradients: (logits, y) -> dlogits -------------------------------------------------------------


def without_mean(grad_fn):
    r"""A loss gradient that forgets the loss is a batch *mean*: ``grad_fn``'s result times :math:`N`.

    The classic slip: :math:`\operatorname{softmax}(z) - y` where :math:`(\operatorname{softmax}(z) - y)/N`
    is right. Training still runs (the rate is effectively :math:`N` times larger), which is why only a
    gradient check catches it.
    """

    def wrong(logits, y):
        return grad_fn(logits, y) * logits.shape[0]

    wrong.__name__ = f"{grad_fn.__name__}_without_mean"
    return wrong


def doubled(grad_fn):
    r"""A loss gradient off by a factor of 2, as when :math:`\partial p_i/\partial z_j` is counted for
    :math:`i = j` twice (fromscratchtoml issue 65, found by a gradient check)."""

    def wrong(logits, y):
        return 2 * grad_fn(logits, y)

    wrong.__name__ = f"{grad_fn.__name__}_doubled"
    return wrong


def softmax_over_batch_grad(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    r""":math:`(p - y)/N` with a softmax normalised over the batch axis (``axis=0``): a 1-D softmax, right for one
    vector, applied to a batch (deep-learning-from-scratch issue 85). Each *class* sums to 1, not each example."""
    e = np.exp(logits - logits.max(axis=0))  # (N, C)
    return (e / e.sum(axis=0) - y) / logits.shape[0]


def clip_mask_inverted_grad(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""The clipped loss's gradient with the clip's mask inverted: blocked inside the bounds, passed outside.

    :func:`scratch.losses.clipped_binary_cross_entropy_grad` with ``~inside``: where nothing is clipped (the
    usual case) every gradient is 0 and nothing learns.
    """
    probs = losses.softmax(logits)
    clipped = np.clip(probs, CLIP_MIN, CLIP_MAX)
    dclipped = -(y / clipped - (1 - y) / (1 - clipped)) / logits.shape[0]
    inside = (probs >= CLIP_MIN) & (probs <= CLIP_MAX)
    return losses.softmax_backward(dclipped * ~inside, probs)


# --- layer backwards: the interfaces of scratch.layers ---------------------------------------------------


def relu_backward_without_mask(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """ReLU's backward that forgets the mask :math:`[x > 0]` and passes every gradient through."""
    return dout


def reshaped_dw_dense_backward(dout: np.ndarray, cache: tuple, *, need_dx: bool = True):
    """``dense_backward`` with ``dW`` computed as ``dout.T @ x`` and *reshaped* to ``W``'s shape where a
    transpose was meant: the right numbers in the wrong places, and no shape error to say so."""
    x, W = cache
    dx, _, db = layers.dense_backward(dout, cache, need_dx=need_dx)
    return dx, (dout.T @ x).reshape(W.shape), db


def db_over_every_axis_dense_backward(dout: np.ndarray, cache: tuple, *, need_dx: bool = True):
    """``dense_backward`` with ``db = np.sum(dout)``, the ``axis=0`` forgotten: one number, which the update
    ``b -= lr * db`` broadcasts onto every bias without complaint (returned here broadcast, as it acts)."""
    dx, dW, db = layers.dense_backward(dout, cache, need_dx=need_dx)
    return dx, dW, np.full_like(db, dout.sum())


def zero_dx_dense_backward(dout: np.ndarray, cache: tuple, *, need_dx: bool = True):
    """``dense_backward`` whose input gradient is never computed: ``dx = 0`` (mlpack issue 1923, where a
    gradient check passed because it only looked at the last layer's weights)."""
    dx, dW, db = layers.dense_backward(dout, cache, need_dx=need_dx)
    return (None if dx is None else np.zeros_like(dx)), dW, db


class AccumulatingDenseBackward:
    """``dense_backward`` that adds each call's ``dW`` and ``db`` to running sums and returns the sums, like a
    ``.grad += ...`` never zeroed (micrograd issue 102): right on the first call, wrong on every later one."""

    def __init__(self):
        self.slots: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (W, dW sum, db sum) per layer

    def __call__(self, dout: np.ndarray, cache: tuple, *, need_dx: bool = True):
        dx, dW, db = layers.dense_backward(dout, cache, need_dx=need_dx)
        W = cache[1]  # the layer's weight array: its own "grad" slot
        for slot in self.slots:
            if slot[0] is W:
                slot[1][...] += dW
                slot[2][...] += db
                return dx, slot[1].copy(), slot[2].copy()
        self.slots.append((W, dW.copy(), db.copy()))
        return dx, dW, db


def l2_grad_without_half(params: dict[str, np.ndarray], scale: float) -> dict[str, np.ndarray]:
    r"""The L2 penalty's gradient as :math:`2\lambda W`: :math:`\lambda\lVert W\rVert^2`'s, where the loss is
    :math:`\tfrac\lambda2\lVert W\rVert^2` (``tf.nn.l2_loss`` halves). A small error, :math:`\lambda W` out of a
    gradient a thousand times larger, which a float32 gradient check cannot see."""
    return {k: 2 * scale * w for k, w in params.items() if k.startswith("W")}


# --- R-operator kernels: the interfaces of scratch.curvature --------------------------------------------


def relu_rbackward_with_curvature(dout, rdout, cache, rcache):
    r"""ReLU's R-backward with a second-derivative term where there is none: the generic rule
    :math:`f'(a)\,\mathcal R\{d\text{out}\} + f''(a)\, d\text{out}\, \mathcal R\{a\}` with :math:`f''` taken
    as :math:`f' = [a > 0]` instead of 0."""
    mask = cache > 0
    return rdout * mask + dout * mask * rcache


def dense_rbackward_without_weight_term(dout, rdout, cache, rcache, *, need_dx: bool = True):
    r"""The dense R-backward with :math:`\mathcal R\{dx\} = \mathcal R\{d\text{out}\}\, W^\top` only: the product
    rule's second term :math:`d\text{out}\, V^\top` (the weights move too) forgotten."""
    x, W = cache
    rx, _ = rcache
    rdW = x.T @ rdout if rx is None else x.T @ rdout + rx.T @ dout
    return (rdout @ W.T if need_dx else None), rdW, rdout.sum(axis=0)


# --- convolution and pooling: the interfaces of scratch.conv ---------------------------------------------


def conv2d_backward_unflipped(dout: np.ndarray, cache: tuple, *, need_dx: bool = True):
    r"""``conv2d_backward`` whose ``dx`` slides the kernel over ``dout`` *as it is*, not turned 180 degrees.

    The tempting shortcut: "the backward of a convolution is a convolution", done with the same kernel
    (channel axes swapped) and the forward's padding. Right for ``dW`` and ``db``; ``dx`` is a correlation
    where a convolution is needed, so it is right only for a kernel that is symmetric under the flip.
    Written for stride 1 and ``"same"`` padding, where the shortcut is most tempting.
    """
    _, dW, db = conv.conv2d_backward(dout, cache, need_dx=False)
    W = cache[2]
    zeros = np.zeros(W.shape[2], dtype=dout.dtype)
    dx = conv.conv2d_forward(dout, W.transpose(0, 1, 3, 2), zeros, 1, "same")[0] if need_dx else None
    return dx, dW, db


def col2im_overwriting(cols: np.ndarray, x_shape: tuple, kh: int, kw: int, stride: int = 1, padding: str = "same"):
    """:func:`scratch.conv.col2im` with ``=`` where ``+=`` belongs: a pixel seen by several windows keeps only
    the last window's gradient instead of their sum (right only where windows do not overlap)."""
    n, h, w, c = x_shape
    ho, top, bottom = window(h, kh, stride, padding)
    wo, left, right = window(w, kw, stride, padding)
    cols = cols.reshape(n, ho, wo, kh, kw, c)
    dxp = np.zeros((n, h + top + bottom, w + left + right, c), dtype=cols.dtype)
    for p in range(kh):
        for q in range(kw):
            dxp[:, p : p + stride * ho : stride, q : q + stride * wo : stride, :] = cols[:, :, :, p, q, :]  # the bug
    return dxp[:, top : top + h, left : left + w, :]


def conv2d_backward_overwriting(dout: np.ndarray, cache: tuple, *, need_dx: bool = True):
    """``conv2d_backward`` with :func:`col2im_overwriting` in place of col2im's scatter-add."""
    _, x_shape, W, stride, padding = cache
    _, dW, db = conv.conv2d_backward(dout, cache, need_dx=False)
    kh, kw, _, c_out = W.shape
    dcols = dout.reshape(-1, c_out) @ W.reshape(-1, c_out).T
    return (col2im_overwriting(dcols, x_shape, kh, kw, stride, padding) if need_dx else None), dW, db


def max_pool_backward_to_every_position(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Max-pooling's backward that sends each output's gradient to all four pixels of its window, as average
    pooling's would without the 1/4: the argmax in the cache ignored."""
    _, (n, h, w, c) = cache
    dx = np.zeros((n, h, w, c), dtype=dout.dtype)
    dx[:, : h // 2 * 2, : w // 2 * 2, :] = dout.repeat(2, axis=1).repeat(2, axis=2)
    return dx


# --- optimizers: the interface of scratch.optimizers ----------------------------------------------------


class PaperEpsilonAdam(Adam):
    r"""Adam with epsilon where Kingma & Ba's Algorithm 1 puts it, :math:`lr\,\hat m / (\sqrt{\hat v} + \epsilon)`.

    The moments are :class:`scratch.optimizers.Adam`'s own; only the last line differs from Keras, which
    adds its :math:`\hat\epsilon` after folding the bias corrections into the rate. Not a bug in the
    paper, a mismatch with the framework: the ``optimizers`` check must tell them apart.
    """

    def _update(self, key, g, p):
        f = p.dtype.type
        m, v, beta_1_power, beta_2_power = self._moments(key, g, p)
        m_hat, v_hat = m / (f(1) - beta_1_power), v / (f(1) - beta_2_power)
        p -= self._lr(p.dtype) * m_hat / (np.sqrt(v_hat) + f(self.epsilon))


class WrongSignMomentum(SGD):
    """Momentum that *adds* the gradient to the velocity, ``m = mu m + lr g``: it climbs instead of descends."""

    def __init__(self, learning_rate: float, momentum: float = 0.9):
        super().__init__(learning_rate, momentum)

    def _update(self, key, g, p):
        m = self.momentums.setdefault(key, np.zeros_like(p))
        m[...] = m * p.dtype.type(self.momentum) + g * self._lr(p.dtype)
        p += m


# --- the zoo ------------------------------------------------------------------------------------------


@dataclass
class Pieces:
    """A model's gradient and training step, assembled from public kernels; the defaults are the right ones.

    ``loss_grad``, ``activation_backward``, ``dense_backward``, ``l2_grad`` have the interfaces of the
    kernels they replace; ``optimizer`` is an optimizer name, or a class taking the learning rate.
    """

    loss: str = "softmax_cross_entropy"
    activation: str = "relu"
    loss_grad: Callable | None = None  # None: the loss's own gradient
    activation_backward: Callable | None = None  # None: the activation's own backward
    dense_backward: Callable = layers.dense_backward
    l2_grad: Callable = losses.l2_penalty_grad
    optimizer: str | Callable = "sgd"

    def __post_init__(self):
        self.loss_grad = self.loss_grad or losses.LOSSES[self.loss][1]
        self.activation_backward = self.activation_backward or layers.ACTIVATIONS[self.activation][1]

    def loss_value(self, params, x, y, *, l2: float = 0.0) -> float:
        """The loss alone (what a gradient check differences)."""
        logits, _ = models.forward(params, x, activation=self.activation)
        value = losses.LOSSES[self.loss][0](logits, as_form(y, LOSS_FORMS[self.loss], x.dtype))
        return value + losses.l2_penalty(params, l2) if l2 else value

    def loss_and_grads(self, params, x, y, *, l2: float = 0.0):
        """:func:`scratch.models.loss_and_grads` with these pieces: forward, the loss and its gradient, then
        each layer's activation backward and dense backward in reverse, then the L2 gradient."""
        logits, caches = models.forward(params, x, activation=self.activation)
        t = as_form(y, LOSS_FORMS[self.loss], x.dtype)
        value = losses.LOSSES[self.loss][0](logits, t)
        dh, grads = self.loss_grad(logits, t), {}
        for l in range(len(caches), 0, -1):
            dense_cache, act_cache = caches[l - 1]
            if act_cache is not None:
                dh = self.activation_backward(dh, act_cache)
            dh, grads[f"W{l}"], grads[f"b{l}"] = self.dense_backward(dh, dense_cache, need_dx=l > 1)
        grads = {k: grads[k] for k in params}
        if l2:
            value += losses.l2_penalty(params, l2)
            for k, g in self.l2_grad(params, l2).items():
                grads[k] += g
        return value, grads

    def make_optimizer(self, learning_rate: float):
        """A fresh optimizer: :func:`scratch.optimizers.make_optimizer`'s, or the wrong class."""
        if isinstance(self.optimizer, str):
            return make_optimizer(self.optimizer, learning_rate)
        return self.optimizer(learning_rate)


@dataclass(frozen=True)
class Bug:
    """One mistake of the zoo: what it is, which piece it replaces, and a fresh :class:`Pieces` per use."""

    title: str
    piece: str  # "loss_grad", "activation_backward", "dense_backward", "l2_grad" or "optimizer"
    make: Callable[[], Pieces] = field(repr=False)
    optimizer: str = "sgd"  # the optimizer the correct twin uses beside it


#: The zoo: each classic mistake, as the pieces that carry it. The first entry is no mistake at all.
ZOO = {
    "none": Bug("no mistake (the right pieces)", "all", Pieces),
    "missing 1/N": Bug("loss gradient without the 1/N of the mean", "loss_grad",
                       lambda: Pieces(loss_grad=without_mean(losses.softmax_cross_entropy_grad))),
    "softmax gradient x2": Bug("softmax gradient off by a factor of 2", "loss_grad",
                               lambda: Pieces(loss_grad=doubled(losses.softmax_cross_entropy_grad))),
    "softmax over the batch": Bug("softmax over the wrong axis on a batch", "loss_grad",
                                  lambda: Pieces(loss_grad=softmax_over_batch_grad)),
    "ReLU without its mask": Bug("ReLU's backward without its mask", "activation_backward",
                                 lambda: Pieces(activation_backward=relu_backward_without_mask)),
    "dW reshaped": Bug("dW transposed by a reshape", "dense_backward",
                       lambda: Pieces(dense_backward=reshaped_dw_dense_backward)),
    "db over every axis": Bug("db summed over the wrong axis (all of them)", "dense_backward",
                              lambda: Pieces(dense_backward=db_over_every_axis_dense_backward)),
    "dx = 0": Bug("the input gradient never propagated (dx = 0)", "dense_backward",
                  lambda: Pieces(dense_backward=zero_dx_dense_backward)),
    "accumulating backward": Bug("an accumulating, non-idempotent backward", "dense_backward",
                                 lambda: Pieces(dense_backward=AccumulatingDenseBackward())),
    "clip mask inverted": Bug("the clip's mask inverted", "loss_grad",
                              lambda: Pieces(loss="clipped_binary_cross_entropy", loss_grad=clip_mask_inverted_grad)),
    "L2 without the 1/2": Bug("the L2 gradient as 2 lambda W", "l2_grad",
                              lambda: Pieces(l2_grad=l2_grad_without_half)),
    "Adam's paper epsilon": Bug("Adam with the paper's epsilon", "optimizer",
                                lambda: Pieces(optimizer=PaperEpsilonAdam), "adam"),
    "momentum sign": Bug("momentum with the wrong sign", "optimizer",
                         lambda: Pieces(optimizer=WrongSignMomentum), "momentum"),
}  # fmt: skip
