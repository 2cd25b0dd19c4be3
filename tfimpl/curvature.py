r"""Hessian-vector products from TensorFlow: ``tf.autodiff.ForwardAccumulator`` over ``tf.GradientTape``.

Same names, order and signatures as :mod:`scratch.curvature`, where the R-operator is derived and every
R-kernel is written out by hand. Here each kernel is a directional derivative (a Jacobian-vector product,
forward mode) of the matching backward of :mod:`tfimpl.layers` or :mod:`tfimpl.losses`, which themselves
run a tape: forward-over-backward, the R-operator done by the framework. :func:`hvp` wraps the whole seam
:func:`tfimpl.models.loss_and_grads` in one ``ForwardAccumulator``: the directional derivative of the
gradient along ``v`` is :math:`Hv`. Caches are :mod:`tfimpl.layers`' (inputs, not outputs); ``rcache``
holds their directional derivatives.
"""

from __future__ import annotations

import numpy as np

from common import rules
from common.config import RunConfig
from common.data import Datasets, load_mnist
from common.errors import UserError

from . import layers, losses, models
from .backend import tf

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


def _jvp(fn, primals, tangents):
    """``fn(*primals)`` differentiated along ``tangents`` (None: 0), forward mode; a tuple when ``fn`` gives one."""
    primals = [tf.convert_to_tensor(p) for p in primals]
    tangents = [tf.zeros_like(p) if t is None else tf.cast(t, p.dtype) for p, t in zip(primals, tangents, strict=True)]
    with tf.autodiff.ForwardAccumulator(primals, tangents) as acc:
        out = fn(*primals)
    zero = tf.UnconnectedGradients.ZERO
    return tuple(acc.jvp(o, unconnected_gradients=zero) for o in out) if isinstance(out, tuple) else acc.jvp(out)


def dense_rforward(cache, rx, V, c):
    """``(rout, rcache)``: the JVP of ``x @ W + b`` along ``(rx, V, c)``. See :func:`scratch.curvature.dense_rforward`."""
    x, W, b = cache
    rout = _jvp(lambda x_, W_, b_: layers.dense_forward(x_, W_, b_)[0], [x, W, b], [rx, V, c])
    return rout, (rx, V, c)


def dense_rbackward(dout, rdout, cache, rcache, *, need_dx=True):
    """``(rdx, rdW, rdb)``: the JVP of :func:`tfimpl.layers.dense_backward` (a tape) along ``(rdout, rx, V, c)``."""
    x, W, b = cache
    rx, V, c = rcache

    def backward(d, x_, W_, b_):
        return tuple(layers.dense_backward(d, (x_, W_, b_)))

    rdx, rdW, rdb = _jvp(backward, [dout, x, W, b], [rdout, rx, V, c])
    return (rdx if need_dx else None), rdW, rdb


def _activation_rbackward(name):
    def rbackward(dout, rdout, cache, rcache):
        return _jvp(lambda d, a: layers.activation_backward(name, d, a), [dout, cache], [rdout, rcache])

    rbackward.__name__ = f"{name}_rbackward"
    return rbackward


def relu_rbackward(dout, rdout, cache, rcache):
    """The JVP of the tape's ReLU backward (``ReluGrad``) along ``(rdout, R{a})``. See :mod:`scratch.curvature`."""
    return _activation_rbackward("relu")(dout, rdout, cache, rcache)


def sigmoid_rbackward(dout, rdout, cache, rcache):
    """The JVP of the tape's sigmoid backward. See :func:`scratch.curvature.sigmoid_rbackward`."""
    return _activation_rbackward("sigmoid")(dout, rdout, cache, rcache)


def tanh_rbackward(dout, rdout, cache, rcache):
    """The JVP of the tape's tanh backward. See :func:`scratch.curvature.tanh_rbackward`."""
    return _activation_rbackward("tanh")(dout, rdout, cache, rcache)


R_ACTIVATIONS = {"relu": relu_rbackward, "sigmoid": sigmoid_rbackward, "tanh": tanh_rbackward}


def activation_rbackward(name, dout, rdout, cache, rcache):
    """Dispatch to the named activation's R-backward."""
    return R_ACTIVATIONS[name](dout, rdout, cache, rcache)


def _loss_rgrad(name):
    def rgrad(logits, y, rlogits):
        return _jvp(lambda z: losses.LOSSES[name][1](z, y), [logits], [rlogits])

    return rgrad


def softmax_cross_entropy_rgrad(logits, y, rlogits):
    """The JVP of the tape's gradient of ``tf.nn.softmax_cross_entropy_with_logits``. See :mod:`scratch.curvature`."""
    return _loss_rgrad("softmax_cross_entropy")(logits, y, rlogits)


def clipped_binary_cross_entropy_rgrad(logits, y, rlogits):
    """The JVP of the tape's gradient of the clipped loss. See :func:`scratch.curvature.clipped_binary_cross_entropy_rgrad`."""
    return _loss_rgrad("clipped_binary_cross_entropy")(logits, y, rlogits)


#: Each loss's own tape gradient, differentiated forward (the sparse and naive forms included).
R_LOSSES = {name: _loss_rgrad(name) for name in losses.LOSSES}


def _check_direction(params, v):
    for k, p in params.items():
        shape = tuple(np.shape(v[k])) if k in v else None
        if shape != tuple(p.shape):
            got = "is missing" if shape is None else f"has shape {shape}"
            raise UserError(
                f"the direction v[{k!r}] {got}, the parameter {tuple(p.shape)}; v needs params' keys and shapes"
            )
    if set(v) != set(params):
        raise UserError(f"the direction v has keys {sorted(set(v) - set(params))} that the parameters do not")


def hvp(params, x, y, v, *, loss="softmax_cross_entropy", l2=0.0, activation="relu"):
    """:math:`Hv`: ``ForwardAccumulator`` (along ``v``) over :func:`tfimpl.models.loss_and_grads` (a tape).

    See :func:`scratch.curvature.hvp` for the R-operator written out, and ``docs/math.md#hessian-vector-products``.
    """
    _check_direction(params, v)
    keys = list(params)
    tangents = [tf.cast(v[k], params[k].dtype) for k in keys]
    with tf.autodiff.ForwardAccumulator([params[k] for k in keys], tangents) as acc:
        _, grads = models.loss_and_grads(params, x, y, loss=loss, l2=l2, activation=activation)
    return {k: acc.jvp(grads[k]) for k in keys}


def _normalized(v):
    norm = tf.sqrt(tf.add_n([tf.reduce_sum(tf.cast(a, tf.float64) ** 2) for a in v.values()]))
    return {k: a / tf.cast(norm, a.dtype) for k, a in v.items()}


def top_eigenvalue(params, x, y, *, loss="softmax_cross_entropy", l2=0.0, activation="relu", iterations=20, seed=0):
    """``(lambda_max, v)`` by power iteration on :func:`hvp`. See :func:`scratch.curvature.top_eigenvalue`."""
    rules.check_positive_int("iterations", iterations)
    rng = tf.random.Generator.from_seed(seed)
    v = _normalized({k: rng.normal(p.shape, dtype=p.dtype) for k, p in params.items()})
    x, y = tf.constant(x), tf.constant(y)

    @tf.function  # traced once, then each iteration runs as one graph (eager forward-over-backward is slow)
    def h_times(v):
        return hvp(params, x, y, v, loss=loss, l2=l2, activation=activation)

    value = 0.0
    for step in range(iterations):  # v <- H v / |H v|, and the Rayleigh quotient v.Hv
        hv = h_times(v)
        value = float(tf.add_n([tf.reduce_sum(tf.cast(v[k] * hv[k], tf.float64)) for k in params]))
        if step < iterations - 1:
            v = _normalized(hv)
    return value, v


def sharpness_at_start(config: RunConfig, data: Datasets | None = None, *, examples=1000, iterations=20):
    """:math:`\\lambda_{max}` where a run with ``config`` starts (TF's initialiser). See :func:`scratch.curvature.sharpness_at_start`."""
    rules.check_positive_int("examples", examples)
    data = load_mnist(config.data_dir, dtype=config.dtype) if data is None else data
    params = models.init_params(
        config.model, hidden=config.hidden, init=config.init, std=config.init_std, seed=config.seed, dtype=config.dtype
    )
    x, labels = data.train.images[:examples], data.train.labels[:examples]
    kw = {"loss": config.loss, "l2": config.l2, "activation": config.activation}
    return top_eigenvalue(params, x, labels, iterations=iterations, **kw)[0]
