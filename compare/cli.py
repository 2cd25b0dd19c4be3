r"""``python -m compare``: check, row by row, that the hand-written NumPy matches TensorFlow.

Commands::

    python -m compare                    # everything: both models, both dtypes, then the negative controls
    python -m compare gradients layers   # some families: forward, gradients, layers, curvature, optimizers,
                                         # train, crossload, precision, controls
    python -m compare --json rows.json   # also write the rows (with their full names) as JSON objects
    python -m compare --steps 110        # the train family's lockstep runs cut to 110 steps (default: an epoch)
    python -m compare plots RUN_DIR      # the tutorials' figures, NumPy and TensorFlow side by side
    python -m compare zoo                # classic backprop mistakes against every check: which catches which
    python -m compare seeds              # each tutorial recipe over 5 seeds in both twins, McNemar's test

Every family except ``precision`` runs with TF32 off and TensorFlow's op determinism on
(:func:`tfimpl.device.exact_float32`); the caller's settings are restored afterwards. The header says
which device ran and with which settings.
"""

from __future__ import annotations

import argparse
import sys
import time

from common.cli import description, one_line_errors
from common.config import positive_int
from common.data import load_mnist
from common.files import write_json
from common.rows import format_table
from tfimpl import backend  # noqa: F401  (imports TensorFlow without its start-up lines)

__all__ = ["FAMILIES", "HEADERS", "main", "run_families", "settings"]

FAMILIES = ("forward", "gradients", "layers", "curvature", "optimizers", "train", "crossload", "precision", "controls")

#: What each family's rows compare, printed above them by ``python -m compare``.
HEADERS = {
    "forward": "forward: values computed by hand in NumPy (scratch) vs TensorFlow (tfimpl)",
    "gradients": "gradients: by hand vs tf.GradientTape, and both vs central differences (float64)",
    "layers": "layers: each hand-written backward vs the tape's vector-Jacobian product",
    "curvature": (
        "curvature: Hessian-vector products by hand (the R-operator) vs TensorFlow (forward-over-backward) "
        "and vs differences of the gradient"
    ),
    "optimizers": "optimizers: 100 steps of scratch's update vs Keras', same start, same gradients",
    "train": (
        "train: lockstep training (an epoch, or --steps): both twins step by step from the same start on the same "
        "batches"
    ),
    "crossload": "crossload: parameters trained by one twin, predicted by both (counts of test predictions that differ)",
    "precision": (
        "precision: float32, and TF32 (NVIDIA GPUs' float32 products with 10-bit inputs), vs NumPy float64; "
        "tolerance sqrt(784) x unit roundoff"
    ),
    "controls": "controls: deliberately wrong pieces, each run through its family's check; each must FAIL",
}


def _family(name: str, data, runs: dict, cnn: dict, steps: int | None) -> list:
    """One family's rows; ``runs`` and ``cnn`` keep the lockstep runs that ``train`` made for ``crossload``;
    ``steps`` cuts the linear and MLP lockstep runs short of their epoch."""
    from . import checks, controls, conv, curvature, layers, lockstep, precision

    if name == "crossload" and not runs:  # crossload without train: its lockstep runs, as --steps cuts them
        lockstep.train_rows(data, runs=runs, steps=steps)
    if name in ("train", "crossload") and not cnn:
        cnn["train"], cnn["crossload"] = conv.cnn_train_rows(data)
    table = {
        "forward": lambda: checks.forward_rows(data) + conv.cnn_forward_rows(data),
        "gradients": lambda: checks.gradient_rows(data) + conv.cnn_gradient_rows(data),
        "layers": lambda: layers.layer_rows() + conv.cnn_layer_rows(),
        "curvature": lambda: curvature.curvature_rows(data),
        "optimizers": lambda: checks.optimizer_rows(),
        "train": lambda: lockstep.train_rows(data, runs=runs, steps=steps) + cnn["train"],
        "crossload": lambda: lockstep.crossload_rows(data, runs) + cnn["crossload"],
        "precision": lambda: precision.precision_rows(data),
        "controls": lambda: controls.control_rows(data),
    }
    return table[name]()


def settings() -> dict:
    """The device TensorFlow computes on and the precision settings in force now."""
    import tensorflow as tf

    from tfimpl.device import describe, op_determinism_enabled, resolve_device

    return {
        "device": describe(resolve_device("auto")),
        "tf32": bool(tf.config.experimental.tensor_float_32_execution_enabled()),
        "op_determinism": op_determinism_enabled(),
        "tensorflow": tf.__version__,
    }


def run_families(families, data_dir=None, *, progress=True, steps=None):
    """``(rows, settings)`` for the chosen families, in order; ``controls`` rows are expected to fail.

    ``steps`` cuts the ``train`` family's lockstep runs (linear and MLP) to that many steps; by default
    they run one epoch, 550 steps, the length the float32 tolerance is derived for (:mod:`compare.checks`).

    Every family but ``precision`` runs under :func:`tfimpl.device.exact_float32`; the caller's TF32
    and determinism settings are back in force when this returns.
    """
    from tfimpl.device import exact_float32

    data = load_mnist(data_dir)
    rows, runs, cnn = [], {}, {}
    with exact_float32():
        used = settings()
    used["lockstep_steps"] = steps or "one epoch"
    for family in families:
        t0 = time.perf_counter()
        if family == "precision":
            new = _family(family, data, runs, cnn, steps)
        else:
            with exact_float32():
                new = _family(family, data, runs, cnn, steps)
        if progress:
            print(f"[{family}: {len(new)} checks in {time.perf_counter() - t0:.1f} s]", file=sys.stderr, flush=True)
        rows += new
    used["precision_family"] = (
        "TF32 rows measured on the GPU"
        if used["device"].startswith("GPU")
        else "no GPU here, so its TF32 rows are emulated in NumPy (inputs rounded to 10 bits)"
    )
    return rows, used


def _header(used: dict) -> str:
    on = {True: "on", False: "off"}
    return (
        f"device {used['device']}, TensorFlow {used['tensorflow']}; every family but precision runs with\n"
        f"  TF32 {on[used['tf32']]} (TF32: a GPU's float32 matrix products with inputs rounded to 10 bits)\n"
        f"  op determinism {on[used['op_determinism']]} (the same sums in the same order on every run)\n"
        f"precision family: {used['precision_family']}"
    )


def _plots(args) -> int:
    from common.figures import make_figures
    from scratch.cli import IMPLEMENTATION as NUMPY
    from tfimpl.cli import implementation

    for path in make_figures(args.run_dir, load_mnist(args.data_dir), (NUMPY, implementation())):
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m compare",
        description=description(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="families:\n" + "\n".join(f"  {text}" for text in HEADERS.values()),
    )
    parser.add_argument("families", nargs="*", metavar="FAMILY", help=f"any of {', '.join(FAMILIES)} (default: all)")
    parser.add_argument("--json", metavar="FILE", help="also write the settings and the rows as JSON")
    parser.add_argument(
        "--steps",
        type=positive_int,
        help="the train family's linear and MLP lockstep runs cut to this many steps (default: one epoch, 550)",
    )
    parser.add_argument("--data-dir", default=None)
    return parser


def _report(args, families) -> int:
    rows, used = run_families(families, args.data_dir, steps=args.steps)
    print(_header(used))
    print(format_table(rows, headers=HEADERS))
    bad = [r for r in rows if not r.as_expected]
    print(f"\n{len(rows) - len(bad)} of {len(rows)} checks as expected" + (f"; {len(bad)} NOT:" if bad else ""))
    for r in bad:
        print(f"  NOT: {r.family}: {r.check} ({r.dtype})")
    if args.json:
        write_json(args.json, {"settings": used, "rows": [r.to_dict() for r in rows]})
    return 1 if bad else 0


def main(argv=None) -> int:
    """Run the chosen families (or ``plots``). The user's mistakes end in one line; a bug keeps its traceback."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["zoo"]:  # the bug zoo's detection matrix (compare/zoo.py)
        from .zoo import main as zoo_main

        return zoo_main(argv[1:])
    if argv[:1] == ["seeds"]:  # accuracy over seeds and McNemar's test (compare/seeds.py)
        from .seeds import main as seeds_main

        return seeds_main(argv[1:])
    if argv[:1] == ["plots"]:
        p = argparse.ArgumentParser(prog="python -m compare plots", description="the figures, both twins side by side")
        p.add_argument("run_dir")
        p.add_argument("--data-dir", default=None)
        args = p.parse_args(argv[1:])
        with one_line_errors() as outcome:
            outcome.status = _plots(args)
        return outcome.status
    parser = build_parser()
    args = parser.parse_args(argv)
    unknown = [f for f in args.families if f not in FAMILIES]
    if unknown:
        parser.error(
            f"unknown family {', '.join(unknown)}; choose from {', '.join(FAMILIES)} (or plots RUN_DIR, zoo, seeds)"
        )
    families = [f for f in FAMILIES if f in args.families] or list(FAMILIES)
    with one_line_errors() as outcome:
        outcome.status = _report(args, families)
    return outcome.status
