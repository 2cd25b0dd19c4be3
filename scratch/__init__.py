r"""mnist-by-hand, the NumPy half: MNIST classifiers with every derivative written out by hand.

Modules, in reading order: :mod:`~scratch.data` (the IDX files), :mod:`~scratch.losses` (softmax and the
cross-entropies), :mod:`~scratch.layers`, :mod:`~scratch.initializers`, :mod:`~scratch.models`,
:mod:`~scratch.optimizers`, :mod:`~scratch.train`, :mod:`~scratch.gradcheck`. This package never imports
TensorFlow; :mod:`tfimpl` mirrors it module for module.
"""

__version__ = "0.1.0"
