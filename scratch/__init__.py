r"""mnist-by-hand, the NumPy half: MNIST classifiers with every derivative written out by hand.

Modules, in reading order: :mod:`~scratch.losses` (softmax and the cross-entropies),
:mod:`~scratch.layers`, :mod:`~scratch.initializers`, :mod:`~scratch.models`, :mod:`~scratch.optimizers`,
:mod:`~scratch.train`, :mod:`~scratch.experiments`, :mod:`~scratch.gradcheck`. This package never
imports TensorFlow, nor :mod:`tfimpl`, which mirrors it module for module; both stand on :mod:`common`
(data, configuration, the training loop's bookkeeping, plots, command-line plumbing).
"""

__version__ = "0.1.0"
