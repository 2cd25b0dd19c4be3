r"""One entry point for every benchmark case: :func:`build` picks the NumPy or the TensorFlow builder.

It sits above :mod:`benchmarks.workloads` (the grid, the checks, NumPy) and :mod:`benchmarks.tf_workloads`
(TensorFlow and Keras, imported only when a case needs them), so neither of those imports the other's
user and there is no import cycle.
"""

from __future__ import annotations

from common.data import Datasets
from common.errors import UserError

from .workloads import Case, Context, Workload, build_scratch, round_steps

__all__ = ["build"]


def build(case: Case, data: Datasets, *, steps: int | None = None) -> Workload:
    """The workload for ``case`` on ``data``; ``steps`` caps a ``train_step`` round or an ``epoch`` (a smoke test)."""
    if case.batch_size > len(data.test) and case.operation in ("forward", "loss_and_grads"):
        raise UserError(f"batch {case.batch_size} is larger than the test set ({len(data.test)})")
    k = round_steps(case.operation, case.batch_size, len(data.train), case.model)
    if steps is not None and case.operation in ("train_step", "epoch"):
        k = min(steps, k)
    ctx = Context(case, data, k)
    if case.implementation == "scratch":
        return build_scratch(ctx)
    from . import tf_workloads  # TensorFlow only for the cases that need it

    return tf_workloads.build_keras(ctx) if case.implementation == "keras" else tf_workloads.build_tfimpl(ctx)
