r"""Show the traced train step's operations, grouped the way the first tutorial explains a graph.

The tutorial's picture: **inputs** (the batch placeholders), **variables** (W and b), the **model**
(matmul, add, activation), the **cost** (softmax cross-entropy) and the **optimizer** (the gradients
that ``tf.GradientTape`` adds, then the update). The train step names its scopes after these groups.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from common.config import RunConfig

from . import models
from .backend import tf
from .optimizers import make_optimizer
from .train import train_step

__all__ = ["describe_train_step", "group_ops"]

GROUPS = ("inputs", "variables", "model", "cost", "gradients", "optimizer", "other")


def _group(op: tf.Operation) -> str:
    name = op.name
    if op.type == "Placeholder":
        return "variables" if op.outputs[0].dtype == tf.resource else "inputs"
    if op.type == "ReadVariableOp" and not name.startswith(("optimizer", "gradient")):
        return "variables"
    for prefix, group in (
        ("gradient_tape", "gradients"),
        ("optimizer", "optimizer"),
        ("model", "model"),
        ("cost", "cost"),
    ):
        if name.startswith(prefix):
            return group
    return "other"


def group_ops(graph: tf.Graph) -> dict[str, Counter]:
    """Op types of ``graph`` counted per tutorial group."""
    out = {g: Counter() for g in GROUPS}
    for op in graph.get_operations():
        out[_group(op)][op.type] += 1
    return out


def describe_train_step(config: RunConfig | None = None) -> str:
    """Trace one train step for ``config`` (default: the first tutorial) and list its ops by group."""
    config = config or RunConfig()
    dtype = tf.as_dtype(config.dtype)
    params = models.init_params(config.model, hidden=config.hidden, dtype=np.dtype(config.dtype))
    opt = make_optimizer(config.optimizer, config.learning_rate, momentum=config.momentum)
    opt.build(list(params.values()))
    sparse = config.loss.startswith("sparse")
    spec_y = tf.TensorSpec([config.batch_size], tf.int64) if sparse else tf.TensorSpec([config.batch_size, 10], dtype)
    step = tf.function(
        lambda x, y: train_step(params, opt, x, y, loss=config.loss, l2=config.l2, activation=config.activation)
    )
    graph = step.get_concrete_function(tf.TensorSpec([config.batch_size, 784], dtype, name="x"), spec_y).graph
    groups = group_ops(graph)
    lines = [
        f"train step: {config.model}, {config.loss}, {config.optimizer} "
        f"({sum(map(sum, (c.values() for c in groups.values())))} operations)"
    ]
    for group, counts in groups.items():
        if counts:
            ops = ", ".join(f"{k} x{v}" if v > 1 else k for k, v in sorted(counts.items()))
            lines.append(f"  {group:<10} {ops}")
    return "\n".join(lines)
