r"""Deliberately wrong pieces: classic backprop and optimizer mistakes, each a drop-in for a correct one.

A check that cannot fail proves nothing. Each piece here is a plausible mistake with the same interface
as the correct piece it replaces, so a check can be handed it in place of the real one and must then
FAIL. They are defined once, here, and used by the tests, by ``python -m scratch gradcheck`` (its
negative control) and by ``python -m compare``'s ``controls`` family. Nothing here is on a training path.
"""

from __future__ import annotations

import numpy as np

from .optimizers import SGD, Adam

__all__ = ["PaperEpsilonAdam", "WrongSignMomentum", "relu_backward_without_mask", "without_mean"]


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


def relu_backward_without_mask(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """ReLU's backward that forgets the mask :math:`[x > 0]` and passes every gradient through."""
    return dout


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
