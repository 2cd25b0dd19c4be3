r"""The project's own error types: the user's mistakes, told apart from bugs.

A command turns these, and only these, into one ``error:`` line (:func:`common.cli.one_line_errors`):

* :class:`UserError`: bad input, reported with what to do, exit status 2. A flag out of range, a data
  file that is damaged or foreign, an output folder that cannot be written, an array of the wrong shape
  handed to a public function. It subclasses ``ValueError`` (and :class:`InputTypeError` also
  ``TypeError``), so code that catches those keeps working.
* ``TrainingDiverged`` (:mod:`common.runs`): the loss became NaN or ran away; exit status 3.
* ``Interrupted`` (:mod:`common.runs`) and Ctrl-C: exit status 130.

Anything else, a plain ``ValueError`` from a broadcast gone wrong in a kernel say, is a bug in the code
and keeps its traceback, as NumPy and pytest do.
"""

from __future__ import annotations

__all__ = ["InputTypeError", "UserError"]


class UserError(ValueError):
    """Bad input from the user; the message names the problem and what to do."""


class InputTypeError(UserError, TypeError):
    """Bad input of the wrong type or dtype (float64 data for float32 parameters, say)."""
