r"""A run's configuration: one frozen dataclass, filled by ``argparse``. Shared by both packages.

The defaults reproduce the first TensorFlow tutorial: softmax regression from zeros, SGD with learning
rate 0.5, batches of 100, 1000 steps (about 92% test accuracy). Names are validated against
:mod:`common.spec`, and numbers by :mod:`common.rules`, so nothing here depends on either twin.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, fields

from . import rules, spec
from .errors import UserError

__all__ = [
    "CNN_RECIPE",
    "DEFAULT_INIT",
    "TRAIN_EXAMPLES",
    "HelpFormatter",
    "RunConfig",
    "add_run_arguments",
    "config_from_args",
    "positive_int",
]

#: The training split's size (60,000 less the 5,000 validation images): the largest batch there is.
TRAIN_EXAMPLES = 55000
#: The initialiser each model starts from when ``--init`` is not given: the tutorials' own.
DEFAULT_INIT = {"linear": "zeros", "mlp": "normal", "cnn": "glorot_uniform"}
#: The CNN's 99% recipe, as :class:`RunConfig` fields (``python -m scratch train --model cnn --optimizer adam
#: --lr 0.001 --batch-size 64 --epochs 3 --dropout 0.25``): timed by ``benchmarks.accuracy``, repeated over
#: seeds by ``compare.seeds``.
CNN_RECIPE = {
    "model": "cnn",
    "optimizer": "adam",
    "learning_rate": 0.001,
    "batch_size": 64,
    "steps": None,
    "epochs": 3,
    "dropout": 0.25,
}


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a training run. Same seed and config, same numbers."""

    model: str = "linear"
    hidden: tuple[int, ...] | None = None  # MLP widths; None becomes the model's default, (300,) for the MLP
    activation: str = "relu"
    loss: str = "softmax_cross_entropy"
    l2: float = 0.0
    dropout: float = 0.0  # the cnn only: the rate of inverted dropout before its last layer (0: none)
    optimizer: str = "sgd"
    learning_rate: float = 0.5
    momentum: float = 0.9  # used by optimizer="momentum" only
    batch_size: int = 100
    steps: int | None = 1000  # exactly one of steps / epochs is set
    epochs: int | None = None
    init: str | None = None  # None: the model's tutorial default, DEFAULT_INIT
    init_std: float | None = None  # None becomes the initialiser's default (common.spec.INIT_STD), if it has one
    seed: int = 0
    dtype: str = "float32"
    log_every: int = 100
    data_dir: str | None = None
    out: str | None = None
    # TensorFlow only (tfimpl); scratch runs on the CPU and ignores them.
    device: str = "auto"
    xla: bool = False
    steps_per_call: int | None = None  # None: a whole epoch per graph call
    tf32: bool | None = None  # TensorFlow only: None leaves TensorFlow's default (on for float32 on GPUs)

    def __post_init__(self):
        rules.check_choice("model", self.model, spec.MODELS)
        if self.init is None:
            object.__setattr__(self, "init", DEFAULT_INIT[self.model])
        for name, options in (
            ("activation", spec.ACTIVATIONS),
            ("loss", spec.LOSS_FORMS),
            ("optimizer", spec.OPTIMIZERS),
            ("init", spec.INITIALIZERS),
            ("dtype", spec.DTYPES),
            ("device", spec.DEVICES),
        ):
            rules.check_choice(name, getattr(self, name), options)
        rules.check_rate("learning_rate", self.learning_rate)
        rules.check_fraction("momentum", self.momentum)
        rules.check_nonnegative("l2", self.l2)
        rules.check_fraction("dropout", self.dropout)
        if self.init_std is not None:
            rules.check_rate("init_std", self.init_std)
        for name in ("batch_size", "log_every"):
            rules.check_positive_int(name, getattr(self, name))
        if self.steps_per_call is not None:
            rules.check_positive_int("steps_per_call", self.steps_per_call)
        if self.batch_size > TRAIN_EXAMPLES:
            raise UserError(f"batch_size {self.batch_size} is larger than the {TRAIN_EXAMPLES} training images")
        if (self.steps is None) == (self.epochs is None):
            raise UserError("set exactly one of steps and epochs")
        rules.check_positive_int("steps" if self.steps is not None else "epochs", self.steps or self.epochs)
        if self.seed < 0 or isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise UserError(f"seed must be a whole number >= 0, got {self.seed!r}")
        if self.model == "linear" and self.hidden:
            raise UserError("the linear model has no hidden layer; drop --hidden or use --model mlp")
        if self.model == "cnn" and self.hidden:
            raise UserError(
                "--hidden sets the MLP's widths; the cnn's layers are fixed (common.spec.CNN): drop --hidden"
            )
        if self.dropout and self.model != "cnn":
            raise UserError(
                f"--dropout applies to the cnn only, not the {self.model} model; drop it or use --model cnn"
            )
        if self.hidden is not None:
            rules.check_hidden(self.hidden)
        # Record what runs, not "the default": the model's hidden widths and the initialiser's std.
        if self.hidden is None and spec.MODELS[self.model]:
            object.__setattr__(self, "hidden", spec.MODELS[self.model])
        if self.init_std is None and self.init in spec.INIT_STD:
            object.__setattr__(self, "init_std", spec.INIT_STD[self.init])

    def to_dict(self) -> dict:
        """JSON-ready: tuples become lists."""
        d = asdict(self)
        d["hidden"] = list(self.hidden) if self.hidden is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise UserError(f"unknown configuration keys: {sorted(unknown)}")
        d = dict(d)
        if d.get("hidden") is not None:
            d["hidden"] = tuple(d["hidden"])
        return cls(**d)


def _parsed(rule, convert):
    """An argparse ``type`` from a rule of :mod:`common.rules` (argparse names the flag in its message)."""

    def parse(text: str):
        try:
            return rule("value", convert(text))
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix("value ")) from None

    return parse


positive_int = _parsed(rules.check_positive_int, int)
_positive_float = _parsed(rules.check_rate, float)
_nonnegative_float = _parsed(rules.check_nonnegative, float)
_fraction = _parsed(rules.check_fraction, float)


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {value}")
    return value


def _on_off(text: str) -> bool:
    if text not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"expected on or off, got {text!r}")
    return text == "on"


def _hidden(text: str) -> tuple[int, ...]:
    parts = [p for p in text.replace(",", " ").split() if p]
    if not parts:
        raise argparse.ArgumentTypeError("give one or more widths, e.g. 300 or 300,100")
    return tuple(positive_int(p) for p in parts)


def _out(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; give a folder name, or leave --out out for the default")
    return text


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each flag's default, except where there is none to show (the help then says what happens)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is argparse.SUPPRESS or action.default is False:
            return action.help
        return super()._get_help_string(action)


def add_run_arguments(parser: argparse.ArgumentParser, *, tensorflow: bool = False) -> None:
    """The flags of ``train``; ``tensorflow=True`` adds ``--device``, ``--xla``, ``--steps-per-call``, ``--tf32``.

    Give the parser ``formatter_class=HelpFormatter`` to show the defaults.
    """
    d = RunConfig()
    g = parser.add_argument_group("model")
    g.add_argument(
        "--model",
        choices=list(spec.MODELS),
        default=d.model,
        help="linear = softmax regression 784->10; cnn = conv 16, conv 36, dense 128",
    )
    g.add_argument("--hidden", type=_hidden, help="MLP hidden widths, e.g. 300 or 300,100 (default: 300)")
    g.add_argument("--activation", choices=spec.ACTIVATIONS, default=d.activation, help="the hidden layers' activation")
    g.add_argument("--loss", choices=list(spec.LOSS_FORMS), default=d.loss, help="the training loss")
    g.add_argument("--l2", type=_nonnegative_float, default=d.l2, help="L2 penalty scale on the weights")
    g.add_argument("--dropout", type=_fraction, default=d.dropout, help="cnn only: dropout rate before the last layer")
    g.add_argument(
        "--init",
        choices=spec.INITIALIZERS,
        help="the weights' start (default: zeros for linear, normal for mlp, glorot_uniform for cnn)",
    )
    g.add_argument("--init-std", type=_positive_float, help="std of normal / truncated_normal (default: 0.03 / 0.01)")
    g = parser.add_argument_group("optimisation")
    g.add_argument("--optimizer", choices=spec.OPTIMIZERS, default=d.optimizer, help="the update rule")
    g.add_argument(
        "--lr",
        "--learning-rate",
        dest="learning_rate",
        type=_positive_float,
        default=d.learning_rate,
        help="the learning rate",
    )
    g.add_argument("--momentum", type=_fraction, default=d.momentum, help="for --optimizer momentum")
    g.add_argument("--batch-size", type=positive_int, default=d.batch_size, help="examples per step")
    length = g.add_mutually_exclusive_group()
    length.add_argument("--steps", type=positive_int, help=f"training steps (default: {d.steps})")
    length.add_argument("--epochs", type=positive_int, help="passes over the 55000 training images")
    g = parser.add_argument_group("run")
    g.add_argument("--seed", type=_seed, default=d.seed, help="seeds the weights and the batch order")
    g.add_argument("--dtype", choices=spec.DTYPES, default=d.dtype, help="the precision of data and parameters")
    g.add_argument("--log-every", type=positive_int, default=d.log_every, help="steps between log lines")
    g.add_argument("--data-dir", help="MNIST folder (default: $MNIST_DIR, then the user cache)")
    g.add_argument(
        "--out", type=_out, help="output folder (default: runs/<implementation>-<model>-<optimizer>-seed<seed>)"
    )
    if tensorflow:
        _add_tensorflow_arguments(parser, d)


def _add_tensorflow_arguments(parser: argparse.ArgumentParser, d: RunConfig) -> None:
    g = parser.add_argument_group("TensorFlow")
    g.add_argument("--device", choices=spec.DEVICES, default=d.device, help="auto: the GPU when TensorFlow sees one")
    g.add_argument("--xla", action="store_true", help="compile the train step with XLA (jit_compile=True)")
    g.add_argument(
        "--steps-per-call",
        type=positive_int,
        help="train steps inside one graph call, like Keras' steps_per_execution (default: up to a whole epoch)",
    )
    g.add_argument(
        "--tf32",
        type=_on_off,
        metavar="on|off",
        help="TF32 for float32 matrix products on Ampere and newer GPUs (default: TensorFlow's, on)",
    )


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """Build the frozen config from parsed flags (``--steps`` defaults to 1000 unless ``--epochs`` is given)."""
    values = {f.name: getattr(args, f.name) for f in fields(RunConfig) if hasattr(args, f.name)}
    if values.get("steps") is None and values.get("epochs") is None:
        values["steps"] = RunConfig.steps
    return RunConfig(**values)
