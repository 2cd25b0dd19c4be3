r"""Cross-checks that the hand-written NumPy (:mod:`scratch`) and TensorFlow (:mod:`tfimpl`) agree.

:mod:`compare.checks` holds the checks and their stated tolerances, :mod:`compare.controls` the negative
controls that must fail, :mod:`compare.cli` the ``python -m compare`` command.
"""
