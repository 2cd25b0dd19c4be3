r"""``python -m tfimpl``: the same ``train`` as ``python -m scratch``, on TensorFlow graphs, plus ``graph`` and ``tf1``.

Commands::

    python -m tfimpl train                          # the first tutorial, as a tf.function
    python -m tfimpl train --device gpu --xla       # a whole epoch per call, compiled by XLA
    python -m tfimpl graph --model mlp              # the train step's operations, grouped as in the tutorial
    python -m tfimpl tf1                            # the first tutorial the TF 1 way, through tf.compat.v1
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common.cli import add_figure_commands, add_train_command, description, one_line_errors, print_experiment
from common.config import add_run_arguments, config_from_args, positive_int
from common.data import load_mnist
from common.figures import Implementation, make_figures, read_run
from common.files import load_params

__all__ = ["main"]


def _train(config):
    from .train import train

    return train(config)


def _sharpness(config):
    from .curvature import sharpness_at_start

    return sharpness_at_start(config)


def _graph(args):
    from .graph import describe_train_step

    print(describe_train_step(config_from_args(args)))
    return 0


def _tf1(args):
    from .tf1_tutorial import run

    accuracy = run(load_mnist(args.data_dir), steps=args.steps)
    print(
        f"TF 1 tutorial via tf.compat.v1 (placeholders, a graph, a Session fed by feed_dict): test accuracy {accuracy:.2%}"
    )
    return 0


def implementation() -> Implementation:
    """What the figures need, computed by TensorFlow (NumPy in, NumPy out)."""
    from . import experiments, models
    from .bridge import to_variables

    return Implementation(
        name="tfimpl (tf.GradientTape)",
        predict=lambda p, x, act: models.predict(to_variables(p), x, activation=act).numpy(),
        hidden=lambda p, x, act: _hidden(to_variables(p), x, act),
        optimal_inputs=lambda p, act: experiments.optimal_inputs(p, activation=act)[0],
        learn_inverse=experiments.learn_inverse,
        weight_snapshots=experiments.weight_snapshots,
    )


def _hidden(params, x, activation):
    from . import layers

    h, _ = layers.dense_forward(x, params["W1"], params["b1"])
    return layers.activation_forward(activation, h)[0].numpy()


def _plots(args):
    # TensorFlow's figures alone; `python -m compare plots` draws both twins side by side. The run folder
    # is read first, so a broken one is reported before TensorFlow is imported.
    read_run(args.run_dir)
    load_params(Path(args.run_dir) / "params.npz")
    for path in make_figures(args.run_dir, load_mnist(args.data_dir), (implementation(),)):
        print(path)
    return 0


def _experiment(args):
    from .train import train

    return print_experiment(args.names, train, load_mnist(args.data_dir))


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m tfimpl", description=description(__doc__))
    sub = parser.add_subparsers(dest="command", required=True)
    add_train_command(sub, "tfimpl", _train, tensorflow=True, sharpness=_sharpness)
    p = sub.add_parser("graph", help="print the traced train step's operations by group")
    add_run_arguments(p, tensorflow=True)
    p.set_defaults(func=_graph)
    p = sub.add_parser("tf1", help="the first tutorial in TF 1 style via tf.compat.v1")
    p.add_argument("--steps", type=positive_int, default=1000)
    p.add_argument("--data-dir", default=None)
    p.set_defaults(func=_tf1)
    add_figure_commands(sub, _plots, _experiment)
    return parser


def main(argv=None):
    """Run a subcommand. The user's mistakes end in one ``error:`` line; a bug keeps its traceback."""
    args = build_parser().parse_args(argv)
    with one_line_errors() as outcome:
        outcome.status = args.func(args)
    return outcome.status
