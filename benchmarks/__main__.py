"""``python -m benchmarks report [--quick]`` (:mod:`benchmarks.report`) and ``python -m benchmarks loop`` (:mod:`benchmarks.loop`)."""

from __future__ import annotations

import argparse
import os
import sys

# TensorFlow's C++ start-up chatter (oneDNN, CPU features) would bury the progress bar; errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from . import loop, report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description="NumPy by hand against TensorFlow and Keras, timed side by side."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("report", help="run a timed sweep and write results.json, report.md and PNG plots")
    report.add_arguments(p)
    p = sub.add_parser("loop", help="the train loop against its own step, alone (the report's loop table)")
    loop.add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    return (report if args.command == "report" else loop).main(args, argv)


if __name__ == "__main__":
    sys.exit(main())
