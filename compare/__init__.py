r"""Cross-checks that the hand-written NumPy (:mod:`scratch`) and TensorFlow (:mod:`tfimpl`) agree.

:mod:`compare.checks` holds the checks and their stated tolerances, :mod:`compare.layers` each layer's
backward against the tape, :mod:`compare.precision` what TF32 does, :mod:`compare.curvature` the Hessian-vector products,
:mod:`compare.controls` the negative controls that must fail, :mod:`compare.zoo` which check catches which
classic mistake, :mod:`compare.seeds` the accuracy over seeds and McNemar's test, :mod:`compare.cli` the
``python -m compare`` command. This package sits above
both twins and talks only to their public functions.
"""
