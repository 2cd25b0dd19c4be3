r"""What the two twins agree on: model, loss, activation, initialiser and optimizer names, and the shapes.

:mod:`common.config` validates a run against these names, so configuration sits below the models.
Each twin's own tables (``scratch.losses.LOSSES``, ``tfimpl.losses.LOSSES``, ...) must have exactly
these keys; ``tests/test_structure.py`` checks it.
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import UserError
from .rules import check_choice, check_hidden

__all__ = [
    "ACTIVATIONS",
    "CLIP_MAX",
    "CLIP_MIN",
    "DEVICES",
    "DTYPES",
    "INITIALIZERS",
    "INIT_STD",
    "LOSS_FORMS",
    "MODELS",
    "NUM_CLASSES",
    "NUM_INPUTS",
    "OPTIMIZERS",
    "layer_sizes",
]

NUM_INPUTS = 784  # 28 x 28 pixels
NUM_CLASSES = 10

#: The two architectures and their default hidden widths (``--hidden`` overrides the MLP's).
MODELS = {"linear": (), "mlp": (300,)}

#: Loss name -> the label form it takes: ``"dense"`` one-hot rows ``(N, 10)``, ``"sparse"`` class ids ``(N,)``.
LOSS_FORMS = {
    "softmax_cross_entropy": "dense",
    "sparse_softmax_cross_entropy": "sparse",
    "naive_cross_entropy": "dense",
    "clipped_binary_cross_entropy": "dense",
}
ACTIVATIONS = ("relu", "sigmoid", "tanh")
INITIALIZERS = ("zeros", "normal", "truncated_normal", "glorot_uniform")
#: The standard deviations of the tutorials' normal initialisers, when ``--init-std`` is not given: the
#: MLP tutorial's ``random_normal(stddev=0.03)`` and the Adam tutorial's ``truncated_normal(stddev=0.01)``.
INIT_STD = {"normal": 0.03, "truncated_normal": 0.01}
OPTIMIZERS = ("sgd", "momentum", "adagrad", "adam")
DTYPES = ("float32", "float64")
DEVICES = ("auto", "cpu", "gpu")

#: The MLP tutorial clips its probabilities to [1e-10, 0.9999999] before taking logs.
CLIP_MIN = 1e-10
CLIP_MAX = 0.9999999


def layer_sizes(model: str = "linear", hidden: Sequence[int] | None = None) -> list[int]:
    """``[784, *hidden, 10]``; ``linear`` has no hidden layer, ``mlp`` defaults to 300 units."""
    check_choice("model", model, MODELS)
    if model == "linear":
        if hidden:
            raise UserError("the linear model has no hidden layer; drop --hidden or use --model mlp")
        return [NUM_INPUTS, NUM_CLASSES]
    hidden = MODELS[model] if hidden is None else tuple(hidden)
    check_hidden(hidden)
    return [NUM_INPUTS, *map(int, hidden), NUM_CLASSES]
