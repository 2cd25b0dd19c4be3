r"""Second derivatives by hand: Hessian-vector products by Pearlmutter's R-operator, and the top eigenvalue.

For a direction :math:`v` shaped like the parameters (``V1, c1, V2, c2, ...`` for ``W1, b1, W2, b2``), write

.. math::

    \mathcal R\{q\} = \frac{d}{d\varepsilon}\, q(\theta + \varepsilon v)\Big|_{\varepsilon = 0}

for any quantity :math:`q` the network computes. :math:`\mathcal R` is linear and obeys the product and
chain rules, so it can be pushed through the forward pass line by line (the **R-forward**: directional
derivatives of the activations) and then through the backward pass line by line (the **R-backward**:
directional derivatives of the gradients). The backward pass ends in :math:`\nabla J(\theta)`, so the
R-backward ends in :math:`\mathcal R\{\nabla J\} = H v` (Pearlmutter, 1994), exactly, for the price of
about two gradients and without ever forming the :math:`P \times P` Hessian.

Each kernel here is the R of one kernel of :mod:`scratch.layers` or :mod:`scratch.losses`, named after it
(``dense_backward`` -> :func:`dense_rbackward`) and taking the same caches plus their R (``rcache``).
Two pieces need no kernel of their own: an elementwise activation's R-forward
:math:`\mathcal R\{f(a)\} = f'(a) \odot \mathcal R\{a\}` *is* its backward applied to :math:`\mathcal R\{a\}`
(a diagonal Jacobian is its own transpose), and likewise the softmax's, whose Jacobian is symmetric.
:mod:`tfimpl.curvature` gets every kernel from TensorFlow instead: ``tf.autodiff.ForwardAccumulator`` (a
directional derivative) over ``tf.GradientTape`` (a gradient), forward-over-backward; ``python -m compare
curvature`` checks each against the other.

:func:`top_eigenvalue` runs power iteration on :func:`hvp`. For gradient descent on a quadratic, a step
:math:`\theta \leftarrow \theta - \eta\nabla J` multiplies the error along the top eigenvector by
:math:`1 - \eta\lambda_{max}`, which grows in size once :math:`\eta > 2/\lambda_{max}`.
See ``docs/math.md#hessian-vector-products`` and ``docs/math.md#curvature-and-divergence``.
"""

from __future__ import annotations

import numpy as np

from common import rules
from common.config import RunConfig
from common.data import Datasets, load_mnist
from common.errors import UserError
from common.labels import as_form
from common.spec import CLIP_MAX, CLIP_MIN, LOSS_FORMS

from . import layers, losses, models

__all__ = [
    "dense_rforward",
    "dense_rbackward",
    "relu_rbackward",
    "sigmoid_rbackward",
    "tanh_rbackward",
    "R_ACTIVATIONS",
    "activation_rbackward",
    "softmax_cross_entropy_rgrad",
    "clipped_binary_cross_entropy_rgrad",
    "R_LOSSES",
    "hvp",
    "top_eigenvalue",
    "sharpness_at_start",
]


def dense_rforward(cache: tuple, rx: np.ndarray | None, V: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, tuple]:
    r"""The R-forward of :func:`scratch.layers.dense_forward`, :math:`\text{out} = xW + b`, by the product rule:

    .. math::

        \mathcal R\{\text{out}\} = \mathcal R\{x\}\, W + x V + c

    Parameters
    ----------
    cache : ``(x, W)`` from :func:`scratch.layers.dense_forward`
    rx : (N, D_in) array or None
        :math:`\mathcal R\{x\}`; None for the pixels, which do not move with the parameters.
    V, c : (D_in, D_out) and (D_out,) arrays, the direction's parts for ``W`` and ``b``

    Returns
    -------
    rout : (N, D_out) array
    rcache : ``(rx, V)``, the R of the cache, what :func:`dense_rbackward` needs.
    """
    x, W = cache
    rout = x @ V + c  # (N, D_out)
    if rx is not None:
        rout += rx @ W
    return rout, (rx, V)


def dense_rbackward(dout: np.ndarray, rdout: np.ndarray, cache: tuple, rcache: tuple, *, need_dx: bool = True):
    r"""The R-backward of :func:`scratch.layers.dense_backward`: the product rule on each of its three lines.

    .. math::

        \mathcal R\{dx\} = \mathcal R\{d\text{out}\}\, W^\top + d\text{out}\, V^\top, \quad
        \mathcal R\{dW\} = \mathcal R\{x\}^\top d\text{out} + x^\top \mathcal R\{d\text{out}\}, \quad
        \mathcal R\{db\} = \textstyle\sum_n \mathcal R\{d\text{out}\}_n

    Forgetting one of the two terms of a product is the classic slip (:mod:`scratch.bugs` has one).

    Parameters
    ----------
    dout, rdout : (N, D_out) arrays, the upstream gradient and its R
    cache, rcache : ``(x, W)`` and ``(rx, V)`` from :func:`dense_rforward`
    need_dx : bool
        :math:`\mathcal R\{dx\}` of the first layer is not needed (the pixels are fixed); then None.

    Returns
    -------
    rdx : (N, D_in) array or None
    rdW : (D_in, D_out) array
    rdb : (D_out,) array
    """
    x, W = cache
    rx, V = rcache
    rdx = rdout @ W.T + dout @ V.T if need_dx else None  # (N, D_in)
    rdW = x.T @ rdout  # (D_in, D_out)
    if rx is not None:
        rdW += rx.T @ dout
    return rdx, rdW, rdout.sum(axis=0)


def relu_rbackward(dout: np.ndarray, rdout: np.ndarray, cache: np.ndarray, rcache: np.ndarray) -> np.ndarray:
    r"""The R of :func:`scratch.layers.relu_backward`, :math:`dx = d\text{out} \odot f'(a)` with :math:`f'(a) = [a > 0]`.

    .. math::

        \mathcal R\{dx\} = \mathcal R\{d\text{out}\} \odot f'(a) + d\text{out} \odot f''(a) \odot \mathcal R\{a\}
                        = \mathcal R\{d\text{out}\} \odot [a > 0]

    since :math:`f'' = 0` wherever it exists: ReLU is piecewise linear, so it adds no curvature of its own.
    ``cache`` is the ReLU's output, ``rcache`` is :math:`\mathcal R\{a\}` (unused here).
    """
    return rdout * (cache > 0)


def sigmoid_rbackward(dout: np.ndarray, rdout: np.ndarray, cache: np.ndarray, rcache: np.ndarray) -> np.ndarray:
    r"""The R of :func:`scratch.layers.sigmoid_backward`, from the cached output :math:`s = \sigma(a)`:

    .. math::

        \mathcal R\{dx\} = \mathcal R\{d\text{out}\} \odot s(1-s) + d\text{out} \odot s(1-s)(1-2s) \odot \mathcal R\{a\}

    using :math:`\sigma'' = \sigma(1-\sigma)(1-2\sigma)`.
    """
    s = cache
    slope = s * (1 - s)  # sigma'(a)
    return rdout * slope + dout * slope * (1 - 2 * s) * rcache


def tanh_rbackward(dout: np.ndarray, rdout: np.ndarray, cache: np.ndarray, rcache: np.ndarray) -> np.ndarray:
    r"""The R of :func:`scratch.layers.tanh_backward`, from the cached output :math:`t = \tanh(a)`:

    .. math::

        \mathcal R\{dx\} = \mathcal R\{d\text{out}\} \odot (1 - t^2) - 2\, d\text{out} \odot t(1 - t^2) \odot \mathcal R\{a\}
    """
    t = cache
    slope = 1 - t * t  # tanh'(a)
    return rdout * slope - 2 * dout * t * slope * rcache


#: Activation name -> its R-backward (the R-forward is the activation's own backward, see the module).
R_ACTIVATIONS = {"relu": relu_rbackward, "sigmoid": sigmoid_rbackward, "tanh": tanh_rbackward}


def activation_rbackward(name: str, dout, rdout, cache, rcache):
    """Dispatch to the named activation's R-backward."""
    return R_ACTIVATIONS[name](dout, rdout, cache, rcache)


def softmax_cross_entropy_rgrad(logits: np.ndarray, y: np.ndarray, rlogits: np.ndarray) -> np.ndarray:
    r"""The R of :func:`scratch.losses.softmax_cross_entropy_grad`, :math:`(p - y)/N`: the loss's Hessian in the logits
    applied to :math:`\mathcal R\{z\}`.

    .. math::

        \mathcal R\Bigl\{\frac{p - y}{N}\Bigr\} = \frac{\mathcal R\{p\}}{N}
        = \frac{p \odot (\mathcal R\{z\} - \langle p, \mathcal R\{z\}\rangle)}{N}

    The softmax's Jacobian :math:`\operatorname{diag}(p) - pp^\top` is symmetric, so its Jacobian-vector
    product is :func:`scratch.losses.softmax_backward`. The labels drop out: the Hessian does not depend on
    them. The same kernel serves the sparse and the naive cross-entropy, which are this loss written
    otherwise (where the naive one is finite).
    """
    return losses.softmax_backward(rlogits, losses.softmax(logits)) / logits.shape[0]


def clipped_binary_cross_entropy_rgrad(logits: np.ndarray, y: np.ndarray, rlogits: np.ndarray) -> np.ndarray:
    r"""The R of :func:`scratch.losses.clipped_binary_cross_entropy_grad`, link by link.

    That gradient is :math:`\delta = p \odot (g - \langle g, p\rangle)` with :math:`g = \partial L/\partial p
    = -\frac1N(\frac{y}{\hat p} - \frac{1-y}{1-\hat p}) \odot m`, :math:`\hat p` the clipped probabilities and
    :math:`m` the clip's mask. Then :math:`\mathcal R\{p\} = p \odot (\mathcal R\{z\} - \langle p, \mathcal
    R\{z\}\rangle)`, :math:`\mathcal R\{\hat p\} = m \odot \mathcal R\{p\}` and

    .. math::

        \mathcal R\{g\} = \frac1N\Bigl(\frac{y}{\hat p^2} + \frac{1-y}{(1-\hat p)^2}\Bigr) \odot m \odot \mathcal R\{p\},
        \qquad
        \mathcal R\{\delta\} = p \odot (\mathcal R\{g\} - \langle \mathcal R\{g\}, p\rangle)
            + \mathcal R\{p\} \odot (g - \langle g, p\rangle) - p\,\langle g, \mathcal R\{p\}\rangle

    The first term is :func:`scratch.losses.softmax_backward` of :math:`\mathcal R\{g\}`; the other two are
    the R of the :math:`p` that softmax_backward multiplies by. Where the clip is active the loss is flat
    in :math:`p` and all of it is 0.
    """
    n = logits.shape[0]
    p = losses.softmax(logits)  # (N, C)
    clipped = np.clip(p, CLIP_MIN, CLIP_MAX)
    inside = (p >= CLIP_MIN) & (p <= CLIP_MAX)  # (N, C), the clip's mask m
    g = -(y / clipped - (1 - y) / (1 - clipped)) / n * inside  # dL/dp, (N, C)
    rp = losses.softmax_backward(rlogits, p)  # R{p}, (N, C)
    rg = (y / clipped**2 + (1 - y) / (1 - clipped) ** 2) / n * inside * rp  # R{g}, (N, C)
    centred = g - (g * p).sum(axis=1, keepdims=True)  # g - <g, p>
    return losses.softmax_backward(rg, p) + rp * centred - p * (g * rp).sum(axis=1, keepdims=True)


#: Loss name -> its R-gradient ``(logits, y, rlogits) -> R{dlogits}``; labels in the loss's form.
R_LOSSES = {
    "softmax_cross_entropy": softmax_cross_entropy_rgrad,
    "sparse_softmax_cross_entropy": softmax_cross_entropy_rgrad,
    "naive_cross_entropy": softmax_cross_entropy_rgrad,
    "clipped_binary_cross_entropy": clipped_binary_cross_entropy_rgrad,
}


def _check_direction(params: dict, v: dict) -> None:
    """``v`` must have the parameters' keys and shapes (one line naming the first that does not)."""
    for k, p in params.items():
        shape = np.shape(v[k]) if k in v else None
        if shape != tuple(p.shape):
            got = "is missing" if shape is None else f"has shape {shape}"
            raise UserError(
                f"the direction v[{k!r}] {got}, the parameter {tuple(p.shape)}; v needs params' keys and shapes"
            )
    if set(v) != set(params):
        raise UserError(f"the direction v has keys {sorted(set(v) - set(params))} that the parameters do not")


def _rforward(params, v, caches, activation):
    r"""R-forward: :math:`\mathcal R\{z\}` and each layer's ``(rcache, R{a})``."""
    rh, rcaches = None, []
    for l, (dense_cache, act_cache) in enumerate(caches, start=1):
        ra, rdense = dense_rforward(dense_cache, rh, v[f"W{l}"], v[f"b{l}"])  # (N, D_l)
        # R{f(a)} = f'(a) R{a}: the activation's own backward, applied to R{a}
        rh = ra if act_cache is None else layers.activation_backward(activation, ra, act_cache)
        rcaches.append((rdense, ra))
    return rh, rcaches


def hvp(
    params: dict[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    v: dict[str, np.ndarray],
    *,
    loss: str = "softmax_cross_entropy",
    l2: float = 0.0,
    activation: str = "relu",
) -> dict[str, np.ndarray]:
    r"""The Hessian of :func:`scratch.models.loss_and_grads`'s loss times ``v``, by the R-operator: :math:`Hv`.

    Forward pass, R-forward, the loss's gradient and its R, then backward and R-backward side by side,
    layer by layer in reverse; the R of each ``dW``, ``db`` is that parameter's part of :math:`Hv`. The L2
    penalty :math:`\tfrac\lambda2\lVert W\rVert^2` adds :math:`\lambda V`. Same arguments as
    :func:`scratch.models.loss_and_grads`, plus ``v``: a dict with the parameters' keys and shapes.

    Returns
    -------
    dict
        Same keys, shapes and dtypes as ``params``.

    See ``docs/math.md#hessian-vector-products``.
    """
    _check_direction(params, v)
    v = {k: np.asarray(v[k], dtype=p.dtype) for k, p in params.items()}
    logits, caches = models.forward(params, x, activation=activation)  # (N, 10)
    rlogits, rcaches = _rforward(params, v, caches, activation)  # (N, 10)
    t = as_form(y, LOSS_FORMS[loss], x.dtype)
    dh = losses.LOSSES[loss][1](logits, t)  # (N, 10)
    rdh = R_LOSSES[loss](logits, t, rlogits)  # (N, 10)
    out: dict[str, np.ndarray] = {}
    for l in range(len(caches), 0, -1):
        (dense_cache, act_cache), (rdense, ra) = caches[l - 1], rcaches[l - 1]
        if act_cache is not None:  # R first: it needs the upstream gradient before the activation's backward
            rdh = activation_rbackward(activation, dh, rdh, act_cache, ra)
            dh = layers.activation_backward(activation, dh, act_cache)
        rdx, out[f"W{l}"], out[f"b{l}"] = dense_rbackward(dh, rdh, dense_cache, rdense, need_dx=l > 1)
        if l > 1:
            dh, rdh = layers.dense_backward(dh, dense_cache)[0], rdx
    if l2:
        for k in params:
            if k.startswith("W"):
                out[k] += params[k].dtype.type(l2) * v[k]
    return {k: out[k] for k in params}


def _normalized(v: dict) -> dict:
    norm = np.sqrt(sum(float(np.vdot(a, a)) for a in v.values()))
    return {k: a / a.dtype.type(norm) for k, a in v.items()}


def top_eigenvalue(
    params: dict[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    *,
    loss: str = "softmax_cross_entropy",
    l2: float = 0.0,
    activation: str = "relu",
    iterations: int = 20,
    seed: int = 0,
) -> tuple[float, dict[str, np.ndarray]]:
    r"""The Hessian's eigenvalue of largest size, :math:`\lambda_{max}`, and its unit eigenvector, by power iteration.

    From a random unit :math:`v`, repeat :math:`v \leftarrow Hv / \lVert Hv\rVert`; the part of :math:`v`
    along the top eigenvector grows by :math:`|\lambda_1/\lambda_2|` each time relative to the rest, and
    the Rayleigh quotient :math:`v^\top H v` converges twice as fast. ``iterations`` Hessian-vector products
    (:func:`hvp`), the same arguments otherwise. At the points this project meets it is positive (the
    loss curves up most steeply in some direction); a negative result would mean the largest curvature in
    size is a downward one.

    Returns
    -------
    lambda_max : float
        :math:`v^\top H v` for the returned :math:`v`.
    v : dict
        Unit norm over all parameters together.

    See ``docs/math.md#curvature-and-divergence``.
    """
    rules.check_positive_int("iterations", iterations)
    rng = np.random.default_rng(seed)
    v = _normalized({k: rng.standard_normal(p.shape).astype(p.dtype) for k, p in params.items()})
    value = 0.0
    for step in range(iterations):  # v <- H v / |H v|, and the Rayleigh quotient v.Hv
        hv = hvp(params, x, y, v, loss=loss, l2=l2, activation=activation)
        value = sum(float(np.vdot(v[k], hv[k])) for k in params)
        if step < iterations - 1:
            v = _normalized(hv)
    return value, v


def sharpness_at_start(
    config: RunConfig, data: Datasets | None = None, *, examples: int = 1000, iterations: int = 20
) -> float:
    r""":math:`\lambda_{max}` of the training loss where a run with ``config`` starts, on its first ``examples``
    training images: the curvature that says which learning rates gradient descent survives
    (:math:`\eta < 2/\lambda_{max}`). ``python -m scratch train`` prints it when a run diverges."""
    rules.check_positive_int("examples", examples)
    data = load_mnist(config.data_dir, dtype=config.dtype) if data is None else data
    params = models.init_params(
        config.model, hidden=config.hidden, init=config.init, std=config.init_std, seed=config.seed, dtype=config.dtype
    )
    x, labels = data.train.images[:examples], data.train.labels[:examples]
    kw = {"loss": config.loss, "l2": config.l2, "activation": config.activation}
    return top_eigenvalue(params, x, labels, iterations=iterations, **kw)[0]
