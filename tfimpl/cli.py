r"""``python -m tfimpl``: the same ``train`` as ``python -m scratch``, on TensorFlow graphs, plus ``graph`` and ``tf1``.

python -m tfimpl train                          # the first tutorial, as a tf.function
python -m tfimpl train --device gpu --xla --steps-per-call 50
python -m tfimpl graph --model mlp              # the train step's operations, grouped as in the tutorial
python -m tfimpl tf1                            # the original TF 1 listing through tf.compat.v1
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the output

from scratch.cli import train_command
from scratch.config import add_run_arguments, config_from_args
from scratch.data import MNISTError

__all__ = ["main"]


def _train(args):
    from .train import train

    return train_command("tfimpl", train, args)


def _graph(args):
    from .graph import describe_train_step

    print(describe_train_step(config_from_args(args)))
    return 0


def _tf1(args):
    from .tf1_tutorial import run

    print(
        f"TF 1 tutorial via tf.compat.v1 (placeholders, Session, GradientDescentOptimizer): "
        f"test accuracy {run(steps=args.steps):.2%}"
    )
    return 0


def _plots(args):
    from scratch.data import load_mnist
    from scratch.figures import NUMPY, Implementation, make_figures

    from . import experiments, models

    tensorflow = Implementation(
        name="tfimpl (tf.GradientTape)",
        predict=lambda p, x, act: models.predict(models.to_variables(p), x, activation=act).numpy(),
        optimal_inputs=lambda p, act: experiments.optimal_inputs(p, activation=act)[0],
        learn_inverse=lambda A: experiments.learn_inverse(A),
    )
    for path in make_figures(args.run_dir, load_mnist(args.data_dir), (tensorflow, NUMPY)):
        print(path)
    return 0


def _experiment(args):
    from scratch.cli import print_experiment
    from scratch.data import load_mnist

    from .experiments import run_experiment

    return print_experiment(args.names, run_experiment, load_mnist(args.data_dir))


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m tfimpl", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train with TensorFlow and write summary.json, history.jsonl, params.npz")
    add_run_arguments(p, tensorflow=True)
    p.set_defaults(func=_train)
    p = sub.add_parser("graph", help="print the traced train step's operations by group")
    add_run_arguments(p, tensorflow=True)
    p.set_defaults(func=_graph)
    p = sub.add_parser("tf1", help="the first tutorial in TF 1 style via tf.compat.v1")
    p.add_argument("--steps", type=int, default=1000)
    p.set_defaults(func=_tf1)
    from scratch.cli import add_figure_commands

    add_figure_commands(sub, _plots, _experiment)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (MNISTError, ValueError, TypeError, RuntimeError) as exc:
        parser.exit(2, f"error: {exc}\n")
