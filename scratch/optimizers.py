r"""SGD, SGD with momentum, Adagrad and Adam, written to match Keras 3 step for step.

Each optimizer updates a parameter dict **in place** from a gradient dict with the same keys:
``optimizer.apply(grads, params)``, the shape of Keras 3's ``optimizer.apply(grads, variables)``.
State that is real (moments, accumulators, the step count) lives on the object.

Matching Keras exactly (the comparisons in :mod:`compare` hold these to 1e-9 over 100 steps):

* Keras keeps the learning rate in a **float32** variable and casts it to each parameter's dtype. So in
  float64 the rate actually used is ``float64(float32(lr))`` (0.001 becomes 0.0010000000474974513).
* Keras also passes ``momentum``, ``beta_1``, ``beta_2`` and Adagrad's initial accumulator value through
  ``ops.cast(python_float, dtype)``, i.e. ``tf.cast``, which first makes a *float32* tensor of the Python
  number: in float64 the momentum used is 0.8999999761581421, not 0.9. Terms Keras writes as plain
  Python arithmetic (``1 - beta_1``, ``+ epsilon``) are converted straight to the parameter's dtype.
  ``_keras_cast`` reproduces both rules; without them float64 runs drift apart at 1e-7 in 100 steps.
* Every formula below is written in the order Keras evaluates it, because floating point is not
  associative.

See ``docs/math.md#optimizers`` for how these differ from the papers and from TensorFlow 1.
"""

from __future__ import annotations

import numpy as np

from common import rules

__all__ = ["SGD", "Adagrad", "Adam", "OPTIMIZERS", "make_optimizer"]


def _keras_cast(value: float, dtype) -> np.floating:
    """``keras.ops.cast(value, dtype)`` for a Python float: rounded to float32 first, then to ``dtype``."""
    return np.dtype(dtype).type(np.float32(value))


class _Optimizer:
    """Shared bookkeeping: the rate, the step count, per-parameter state created on first use."""

    def __init__(self, learning_rate: float):
        self.learning_rate = rules.check_rate("learning_rate", learning_rate)
        self.iterations = 0  # steps taken, as Keras' ``optimizer.iterations``

    def _lr(self, dtype) -> np.floating:
        """The rate as Keras uses it: stored in float32, cast to the parameter's dtype."""
        return _keras_cast(self.learning_rate, dtype)

    def apply(self, grads: dict[str, np.ndarray], params: dict[str, np.ndarray]) -> None:
        """One step: update every ``params[k]`` in place from ``grads[k]``, then count the step."""
        for k, p in params.items():
            g = grads[k]
            if g.shape != p.shape or g.dtype != p.dtype:
                raise ValueError(f"gradient {k} is {g.shape} {g.dtype}, parameter is {p.shape} {p.dtype}")
            self._update(k, g, p)
        self.iterations += 1

    def _update(self, key: str, g: np.ndarray, p: np.ndarray) -> None:
        raise NotImplementedError


class SGD(_Optimizer):
    r"""Stochastic gradient descent, with optional (heavy-ball) momentum, as ``keras.optimizers.SGD``.

    Equations
    ---------
    Without momentum (``momentum == 0``)::

        w = w - g * lr

    With momentum :math:`\mu` (velocity ``m`` starts at 0)::

        m = m * mu - g * lr
        w = w + m

    Keras folds the learning rate into the velocity. The textbook form, ``v = mu v + g; w -= lr v``,
    and TF 1's ``MomentumOptimizer`` (``accum = accum * mu + g; w -= lr * accum``) give the same
    trajectory for a constant rate; they differ once the rate changes during training.

    Parameters
    ----------
    learning_rate : float > 0
    momentum : float in [0, 1)

    See ``docs/math.md#optimizers``.
    """

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0):
        super().__init__(learning_rate)
        self.momentum = rules.check_fraction("momentum", momentum)
        self.momentums: dict[str, np.ndarray] = {}

    def _update(self, key, g, p):
        lr = self._lr(p.dtype)
        if self.momentum == 0:
            p -= g * lr
            return
        if key not in self.momentums:
            self.momentums[key] = np.zeros_like(p)
        m = self.momentums[key]
        m[...] = m * _keras_cast(self.momentum, p.dtype) - g * lr
        p += m


class Adagrad(_Optimizer):
    r"""Adagrad as ``keras.optimizers.Adagrad``: per-weight rates that shrink with the squared gradients seen.

    Equations
    ---------
    The accumulator starts at ``initial_accumulator_value`` (0.1), not 0::

        acc = acc + g * g
        w   = w - (lr * g) / sqrt(acc + eps)

    Differences from the paper (Duchi et al., 2011), which starts at 0 and divides by
    :math:`\epsilon + \sqrt{\text{acc}}`: Keras puts epsilon (1e-7) *inside* the root, and the 0.1 start
    makes the first steps smaller (the first step is :math:`lr\,g/\sqrt{0.1 + g^2}` rather than
    :math:`lr\,\operatorname{sign}(g)`). TF 1's ``AdagradOptimizer`` also started at 0.1, with no epsilon.

    See ``docs/math.md#optimizers``.
    """

    def __init__(self, learning_rate: float = 0.001, initial_accumulator_value: float = 0.1, epsilon: float = 1e-7):
        super().__init__(learning_rate)
        self.initial_accumulator_value = rules.check_nonnegative("initial_accumulator_value", initial_accumulator_value)
        self.epsilon = rules.check_nonnegative("epsilon", epsilon)
        self.accumulators: dict[str, np.ndarray] = {}

    def _update(self, key, g, p):
        if key not in self.accumulators:
            self.accumulators[key] = np.full_like(p, _keras_cast(self.initial_accumulator_value, p.dtype))
        acc = self.accumulators[key]
        acc += np.square(g)
        p -= (self._lr(p.dtype) * g) / np.sqrt(acc + p.dtype.type(self.epsilon))


class Adam(_Optimizer):
    r"""Adam as ``keras.optimizers.Adam``, with epsilon in the "epsilon hat" position.

    Equations
    ---------
    With ``t`` the 1-based step number and ``m = v = 0`` at the start::

        alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
        m = m + (g - m) * (1 - beta_1)
        v = v + (g * g - v) * (1 - beta_2)
        w = w - (m * alpha) / (sqrt(v) + eps)

    The paper (Kingma & Ba, 2015, Algorithm 1) bias-corrects the moments and adds epsilon after:

    .. math::

        w \leftarrow w - lr \, \frac{\hat m}{\sqrt{\hat v} + \epsilon}, \qquad
        \hat m = \frac{m}{1-\beta_1^t},\ \hat v = \frac{v}{1-\beta_2^t}

    Folding the corrections into ``alpha`` (the paper's own "more efficient" variant, Section 2) moves
    epsilon: Keras' :math:`\hat\epsilon` equals :math:`\epsilon\sqrt{1-\beta_2^t}` in the paper's form.
    The difference is tiny once :math:`\sqrt{v} \gg \epsilon` but visible early and for small gradients.
    Keras' default epsilon is 1e-7 (TF 1's was 1e-8). ``m + (g - m)(1 - beta_1)`` is
    :math:`\beta_1 m + (1-\beta_1) g` rearranged; we keep Keras' form so the rounding matches.

    See ``docs/math.md#optimizers``.
    """

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7):
        super().__init__(learning_rate)
        self.beta_1 = rules.check_fraction("beta_1", beta_1)
        self.beta_2 = rules.check_fraction("beta_2", beta_2)
        self.epsilon = rules.check_nonnegative("epsilon", epsilon)
        self.momentums: dict[str, np.ndarray] = {}
        self.velocities: dict[str, np.ndarray] = {}

    def _moments(self, key, g, p):
        """Update and return ``(m, v, beta_1**t, beta_2**t)`` for this step."""
        if key not in self.momentums:
            self.momentums[key], self.velocities[key] = np.zeros_like(p), np.zeros_like(p)
        m, v = self.momentums[key], self.velocities[key]
        f = p.dtype.type
        t = f(self.iterations + 1)
        beta_1_power = _keras_cast(self.beta_1, p.dtype) ** t
        beta_2_power = _keras_cast(self.beta_2, p.dtype) ** t
        m += (g - m) * f(1 - self.beta_1)
        v += (np.square(g) - v) * f(1 - self.beta_2)
        return m, v, beta_1_power, beta_2_power

    def _update(self, key, g, p):
        f = p.dtype.type
        m, v, beta_1_power, beta_2_power = self._moments(key, g, p)
        alpha = self._lr(p.dtype) * np.sqrt(f(1) - beta_2_power) / (f(1) - beta_1_power)
        p -= (m * alpha) / (np.sqrt(v) + f(self.epsilon))


#: ``--optimizer`` name -> class; ``"momentum"`` is SGD with a momentum (see :func:`make_optimizer`).
OPTIMIZERS = {"sgd": SGD, "momentum": SGD, "adagrad": Adagrad, "adam": Adam}


def make_optimizer(name: str, learning_rate: float, *, momentum: float = 0.9):
    """The optimizer behind an ``--optimizer`` name; ``momentum`` applies to ``"momentum"`` only."""
    rules.check_choice("optimizer", name, OPTIMIZERS)
    kwargs = {"momentum": momentum} if name == "momentum" else {}
    return OPTIMIZERS[name](learning_rate, **kwargs)
