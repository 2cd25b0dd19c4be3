r"""What the two twins agree on: model, loss, activation, initialiser and optimizer names, and the shapes.

:mod:`common.config` validates a run against these names, so configuration sits below the models.
Each twin's own tables (``scratch.losses.LOSSES``, ``tfimpl.losses.LOSSES``, ...) must have exactly
these keys; ``tests/test_structure.py`` checks it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from .errors import UserError
from .rules import check_choice, check_hidden

__all__ = [
    "ACTIVATIONS",
    "CLIP_MAX",
    "CLIP_MIN",
    "CNN",
    "DEVICES",
    "DTYPES",
    "EVAL_BATCH",
    "INITIALIZERS",
    "INIT_STD",
    "LOSS_FORMS",
    "MODELS",
    "NUM_CLASSES",
    "NUM_INPUTS",
    "OPTIMIZERS",
    "layer_sizes",
    "param_shapes",
]

NUM_INPUTS = 784  # 28 x 28 pixels
NUM_CLASSES = 10

#: The three architectures and their default hidden widths (``--hidden`` overrides the MLP's; the CNN's
#: layers are :data:`CNN`).
MODELS = {"linear": (), "mlp": (300,), "cnn": ()}

#: The convolutional network of the tutorials' series (Hvass-Labs' tutorial 02, a slimmer TensorFlow "Deep MNIST"):
#: 5x5 convolutions with 16 then 36 filters ('same' padding, stride 1), each followed by ReLU and a 2x2 max-pool (28 -> 14 -> 7),
#: then dense 7 * 7 * 36 = 1764 -> 128 -> ReLU -> (dropout) -> 10.
CNN = {"kernel": 5, "filters": (16, 36), "dense": 128, "image": (28, 28, 1)}
#: Images per forward pass when the CNN predicts or evaluates a whole split: its im2col matrices grow with
#: the batch (the second layer's holds 400 values per pixel, 157 MB for 250 images in float64), so both twins
#: evaluate in batches of this size and memory stays bounded whatever the split's size.
EVAL_BATCH = 250

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


def param_shapes(model: str = "linear", hidden: Sequence[int] | None = None) -> dict[str, tuple[int, ...]]:
    """Every parameter's shape, in order: ``W1, b1, W2, b2, ...``; the CNN's ``W1``, ``W2`` are ``(kh, kw, c_in, c_out)``."""
    if model != "cnn":
        sizes = layer_sizes(model, hidden)
        pairs = [((d_in, d_out), (d_out,)) for d_in, d_out in itertools.pairwise(sizes)]
    else:
        if hidden:
            raise UserError("the cnn's layers are fixed (conv 16, conv 36, dense 128); drop --hidden")
        k, (f1, f2), dense = CNN["kernel"], CNN["filters"], CNN["dense"]
        side = CNN["image"][0] // 4  # two 2x2 pools
        pairs = [((k, k, CNN["image"][2], f1), (f1,)), ((k, k, f1, f2), (f2,))]
        pairs += [((side * side * f2, dense), (dense,)), ((dense, NUM_CLASSES), (NUM_CLASSES,))]
    shapes = {}
    for l, (w, b) in enumerate(pairs, start=1):
        shapes[f"W{l}"], shapes[f"b{l}"] = w, b
    return shapes


def layer_sizes(model: str = "linear", hidden: Sequence[int] | None = None) -> list[int]:
    """``[784, *hidden, 10]``; ``linear`` has no hidden layer, ``mlp`` defaults to 300 units."""
    check_choice("model", model, MODELS)
    if model == "cnn":
        raise UserError("the cnn has no list of layer widths; see common.spec.CNN")
    if model == "linear":
        if hidden:
            raise UserError("the linear model has no hidden layer; drop --hidden or use --model mlp")
        return [NUM_INPUTS, NUM_CLASSES]
    hidden = MODELS[model] if hidden is None else tuple(hidden)
    check_hidden(hidden)
    return [NUM_INPUTS, *map(int, hidden), NUM_CLASSES]
