r"""A run's configuration: one frozen dataclass, filled by ``argparse``. Shared by both packages.

The defaults reproduce the first TensorFlow tutorial: softmax regression from zeros, SGD with learning
rate 0.5, batches of 100, 1000 steps (about 92% test accuracy).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import asdict, dataclass, fields

from .initializers import INITIALIZERS
from .layers import ACTIVATIONS
from .losses import LOSSES
from .models import MODELS
from .optimizers import OPTIMIZERS

__all__ = ["RunConfig", "add_run_arguments", "config_from_args"]

DEVICES = ("auto", "cpu", "gpu")
DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a training run. Same seed and config, same numbers."""

    model: str = "linear"
    hidden: tuple[int, ...] | None = None  # MLP widths; None means the model's default (300,)
    activation: str = "relu"
    loss: str = "softmax_cross_entropy"
    l2: float = 0.0
    optimizer: str = "sgd"
    learning_rate: float = 0.5
    momentum: float = 0.9  # used by optimizer="momentum" only
    batch_size: int = 100
    steps: int | None = 1000  # exactly one of steps / epochs is set
    epochs: int | None = None
    init: str = "zeros"
    init_std: float | None = None  # None: the initialiser's own default (0.03 normal, 0.01 truncated)
    seed: int = 0
    dtype: str = "float32"
    log_every: int = 100
    data_dir: str | None = None
    out: str | None = None
    # TensorFlow only (tfimpl); scratch runs on the CPU and ignores them.
    device: str = "auto"
    xla: bool = False
    steps_per_call: int = 1

    def __post_init__(self):
        _choice("model", self.model, MODELS)
        _choice("activation", self.activation, ACTIVATIONS)
        _choice("loss", self.loss, LOSSES)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("init", self.init, INITIALIZERS)
        _choice("dtype", self.dtype, DTYPES)
        _choice("device", self.device, DEVICES)
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be a finite number > 0, got {self.learning_rate}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must lie in [0, 1), got {self.momentum}")
        if not (math.isfinite(self.l2) and self.l2 >= 0):
            raise ValueError(f"l2 must be >= 0, got {self.l2}")
        if self.init_std is not None and not (math.isfinite(self.init_std) and self.init_std > 0):
            raise ValueError(f"init_std must be > 0, got {self.init_std}")
        for name in ("batch_size", "log_every", "steps_per_call"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if (self.steps is None) == (self.epochs is None):
            raise ValueError("set exactly one of steps and epochs")
        if (self.steps or 1) <= 0 or (self.epochs or 1) <= 0:
            raise ValueError(f"steps and epochs must be positive, got steps={self.steps} epochs={self.epochs}")
        if self.model == "linear" and self.hidden:
            raise ValueError("the linear model has no hidden layer; drop --hidden or use --model mlp")
        if self.hidden is not None and any(h <= 0 for h in self.hidden):
            raise ValueError(f"hidden sizes must be positive, got {self.hidden}")

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
            raise ValueError(f"unknown configuration keys: {sorted(unknown)}")
        d = dict(d)
        if d.get("hidden") is not None:
            d["hidden"] = tuple(d["hidden"])
        return cls(**d)


def _choice(name: str, value: str, options) -> None:
    if value not in options:
        raise ValueError(f"unknown {name} {value!r}; choose one of {sorted(options)}")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _nonnegative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1), got {text}")
    return value


def _hidden(text: str) -> tuple[int, ...]:
    parts = [p for p in text.replace(",", " ").split() if p]
    if not parts:
        raise argparse.ArgumentTypeError("give one or more widths, e.g. 300 or 300,100")
    return tuple(_positive_int(p) for p in parts)


def add_run_arguments(parser: argparse.ArgumentParser, *, tensorflow: bool = False) -> None:
    """The flags of ``train``; ``tensorflow=True`` adds ``--device``, ``--xla`` and ``--steps-per-call``."""
    d = RunConfig()
    g = parser.add_argument_group("model")
    g.add_argument("--model", choices=sorted(MODELS), default=d.model, help="linear = softmax regression 784->10")
    g.add_argument("--hidden", type=_hidden, default=None, help="MLP hidden widths, e.g. 300 or 300,100 (default 300)")
    g.add_argument("--activation", choices=sorted(ACTIVATIONS), default=d.activation)
    g.add_argument("--loss", choices=sorted(LOSSES), default=d.loss)
    g.add_argument("--l2", type=_nonnegative_float, default=d.l2, help="L2 penalty scale on the weights")
    g.add_argument("--init", choices=sorted(INITIALIZERS), default=d.init)
    g.add_argument("--init-std", type=_positive_float, default=None, help="std of normal / truncated_normal")
    g = parser.add_argument_group("optimisation")
    g.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default=d.optimizer)
    g.add_argument("--lr", "--learning-rate", dest="learning_rate", type=_positive_float, default=d.learning_rate)
    g.add_argument("--momentum", type=_fraction, default=d.momentum, help="for --optimizer momentum")
    g.add_argument("--batch-size", type=_positive_int, default=d.batch_size)
    length = g.add_mutually_exclusive_group()
    length.add_argument("--steps", type=_positive_int, default=None, help=f"training steps (default {d.steps})")
    length.add_argument("--epochs", type=_positive_int, default=None, help="passes over the 55000 training images")
    g = parser.add_argument_group("run")
    g.add_argument("--seed", type=int, default=d.seed)
    g.add_argument("--dtype", choices=DTYPES, default=d.dtype)
    g.add_argument("--log-every", type=_positive_int, default=d.log_every, help="steps between log lines")
    g.add_argument("--data-dir", default=None, help="MNIST folder (default: $MNIST_DIR, then the user cache)")
    g.add_argument("--out", default=None, help="output folder (default runs/<implementation>-<model>-<optimizer>)")
    if tensorflow:
        g = parser.add_argument_group("TensorFlow")
        g.add_argument("--device", choices=DEVICES, default=d.device, help="auto: the GPU when TensorFlow sees one")
        g.add_argument("--xla", action="store_true", help="compile the train step with XLA (jit_compile=True)")
        g.add_argument(
            "--steps-per-call",
            type=_positive_int,
            default=d.steps_per_call,
            help="train steps run inside one graph call (like Keras' steps_per_execution)",
        )


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """Build the frozen config from parsed flags (``--steps`` defaults to 1000 unless ``--epochs`` is given)."""
    values = {f.name: getattr(args, f.name) for f in fields(RunConfig) if hasattr(args, f.name)}
    if values.get("steps") is None and values.get("epochs") is None:
        values["steps"] = RunConfig.steps
    return RunConfig(**values)
