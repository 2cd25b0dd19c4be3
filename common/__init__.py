r"""mnist-by-hand, the ground floor: everything both twins stand on, and none of the math.

:mod:`scratch` (NumPy by hand) and :mod:`tfimpl` (TensorFlow) are siblings that never import each other;
both import from here. What lives here: :mod:`~common.spec` (the names and shapes the twins agree on),
:mod:`~common.rules` (every validation rule, once), :mod:`~common.labels`, the MNIST data layer
(:mod:`~common.idx`, :mod:`~common.download`, :mod:`~common.data`), :mod:`~common.files`,
:mod:`~common.config` (the run configuration), :mod:`~common.runs` (the training loop's bookkeeping),
:mod:`~common.plots`, :mod:`~common.figures` and :mod:`~common.checkplots`, :mod:`~common.experiments` (the registry) and
:mod:`~common.cli` (the command-line plumbing). This package never imports NumPy's twin or TensorFlow's.
"""
