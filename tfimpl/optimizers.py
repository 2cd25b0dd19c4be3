r"""Keras 3's own optimizers, under the names :mod:`scratch.optimizers` uses.

The equations, and how Keras differs from the papers and from TF 1, are in :mod:`scratch.optimizers`,
which reproduces these classes step for step (the learning rate in a float32 variable, Adam's
"epsilon hat", Adagrad's 0.1 start). A Keras optimizer takes lists: ``opt.apply(grads, variables)``.
"""

from __future__ import annotations

import keras

from scratch.optimizers import _check_fraction, _check_rate

__all__ = ["OPTIMIZERS", "SGD", "Adagrad", "Adam", "make_optimizer"]

SGD = keras.optimizers.SGD
Adagrad = keras.optimizers.Adagrad
Adam = keras.optimizers.Adam

OPTIMIZERS = {
    "sgd": (SGD, {}),
    "momentum": (SGD, {"momentum": 0.9}),
    "adagrad": (Adagrad, {}),
    "adam": (Adam, {}),
}


def make_optimizer(name, learning_rate, *, momentum=0.9):
    """The Keras optimizer behind an ``--optimizer`` name, with the same validation as scratch's."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {sorted(OPTIMIZERS)}")
    _check_rate("learning_rate", learning_rate)
    cls, kwargs = OPTIMIZERS[name]
    if name == "momentum":
        _check_fraction("momentum", momentum)
        kwargs = {"momentum": momentum}
    return cls(learning_rate=float(learning_rate), **kwargs)
