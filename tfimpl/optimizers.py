r"""Keras 3's own optimizers, under the names :mod:`scratch.optimizers` uses.

The equations, and how Keras differs from the papers and from TF 1, are in :mod:`scratch.optimizers`,
which reproduces these classes step for step (the learning rate in a float32 variable, Adam's
"epsilon hat", Adagrad's 0.1 start). A Keras optimizer takes lists: ``opt.apply(grads, variables)``.
"""

from __future__ import annotations

from common import rules

from .backend import keras

__all__ = ["SGD", "Adagrad", "Adam", "OPTIMIZERS", "make_optimizer"]

SGD = keras.optimizers.SGD
Adagrad = keras.optimizers.Adagrad
Adam = keras.optimizers.Adam

#: ``--optimizer`` name -> class; ``"momentum"`` is SGD with a momentum (see :func:`make_optimizer`).
OPTIMIZERS = {"sgd": SGD, "momentum": SGD, "adagrad": Adagrad, "adam": Adam}


def make_optimizer(name, learning_rate, *, momentum=0.9):
    """The Keras optimizer behind an ``--optimizer`` name, validated by the same rules as scratch's."""
    rules.check_choice("optimizer", name, OPTIMIZERS)
    kwargs = {"momentum": rules.check_fraction("momentum", momentum)} if name == "momentum" else {}
    return OPTIMIZERS[name](learning_rate=rules.check_rate("learning_rate", learning_rate), **kwargs)
