r"""mnist-by-hand, the NumPy half: MNIST classifiers with every derivative written out by hand.

Modules, in reading order: :mod:`~scratch.losses` (softmax and the cross-entropies),
:mod:`~scratch.layers`, :mod:`~scratch.initializers`, :mod:`~scratch.models`, :mod:`~scratch.optimizers`,
:mod:`~scratch.train`, :mod:`~scratch.experiments`, :mod:`~scratch.gradcheck`, then the second half of
gradient checking: :mod:`~scratch.sweep` (a difference's error against its step), :mod:`~scratch.bugs` (the
zoo of wrong pieces), :mod:`~scratch.curvature` (Hessian-vector products by hand) and
:mod:`~scratch.sharpness` (curvature against divergence); and convolution: :mod:`~scratch.conv` (im2col,
max-pooling, dropout, each forward and backward), :mod:`~scratch.cnn` (the convolutional network) and
:mod:`~scratch.convcheck` (their gradient checks). This package never
imports TensorFlow, nor :mod:`tfimpl`, which mirrors it module for module; both stand on :mod:`common`
(data, configuration, the training loop's bookkeeping, plots, command-line plumbing).
"""

__version__ = "0.1.0"
