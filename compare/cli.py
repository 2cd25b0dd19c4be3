r"""``python -m compare``: check, row by row, that the hand-written NumPy matches TensorFlow.

python -m compare                    # everything: both models, both dtypes, then the negative controls
python -m compare gradients layers   # some families: forward, gradients, layers, optimizers, train,
                                     # crossload, precision, controls
python -m compare --json rows.json   # also write the rows (with their full names) as JSON objects
python -m compare plots RUN_DIR      # the tutorials' figures, NumPy and TensorFlow side by side

Every family except ``precision`` runs with TF32 off and TensorFlow's op determinism on
(:func:`tfimpl.device.exact_float32`); the caller's settings are restored afterwards. The header says
which device ran and with which settings.
"""

from __future__ import annotations

import argparse
import sys
import time

from common.cli import EXPECTED_ERRORS, fail
from common.data import load_mnist
from common.files import write_json
from tfimpl import backend  # noqa: F401  (imports TensorFlow without its start-up lines)

__all__ = ["FAMILIES", "main", "run_families", "settings"]

FAMILIES = ("forward", "gradients", "layers", "optimizers", "train", "crossload", "precision", "controls")
WIDTH = 120  # the table's width; longer check names are cut here and given whole in --json


def _family(name: str, data, runs: dict) -> list:
    from . import checks, controls, layers, precision

    if name == "crossload" and not runs:
        checks.train_rows(data, runs=runs)
    table = {
        "forward": lambda: checks.forward_rows(data),
        "gradients": lambda: checks.gradient_rows(data),
        "layers": lambda: layers.layer_rows(),
        "optimizers": lambda: checks.optimizer_rows(),
        "train": lambda: checks.train_rows(data, runs=runs),
        "crossload": lambda: checks.crossload_rows(data, runs),
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


def run_families(families, data_dir=None, *, progress=True):
    """``(rows, settings)`` for the chosen families, in order; ``controls`` rows are expected to fail.

    Every family but ``precision`` runs under :func:`tfimpl.device.exact_float32`; the caller's TF32
    and determinism settings are back in force when this returns.
    """
    from tfimpl.device import exact_float32

    data = load_mnist(data_dir)
    rows, runs = [], {}
    with exact_float32():
        used = settings()
    for family in families:
        t0 = time.perf_counter()
        if family == "precision":
            new = _family(family, data, runs)
        else:
            with exact_float32():
                new = _family(family, data, runs)
        if progress:
            print(f"[{family}: {len(new)} checks in {time.perf_counter() - t0:.1f} s]", file=sys.stderr, flush=True)
        rows += new
    used["precision_family"] = (
        "TF32 rows measured on the GPU" if used["device"].startswith("GPU") else "TF32 rows emulated in NumPy"
    )
    return rows, used


def verdict(row) -> tuple[str, bool]:
    """Text for the result column, and whether the row is as it should be."""
    if row.check.startswith("CONTROL"):
        return ("FAIL (expected)", True) if not row.passed else ("PASS (control should fail!)", False)
    return ("PASS", True) if row.passed else ("FAIL", False)


def format_table(rows, width: int = WIDTH) -> str:
    """One line per row, at most ``width`` columns: long check names are cut with an ellipsis."""
    tail = 7 + 2 + 11 + 2 + 11 + 2 + 9 + 2 + 27  # dtype, errors, tolerance, result
    name_width = min(max(len(r.check) for r in rows), width - tail - 2)
    lines = [
        f"{'check':<{name_width}}  {'dtype':<7}  {'max abs err':>11}  {'max rel err':>11}  {'tolerance':>9}  result"
    ]
    for r in rows:
        name = r.check if len(r.check) <= name_width else r.check[: name_width - 3] + "..."
        lines.append(
            f"{name:<{name_width}}  {r.dtype:<7}  {r.max_abs_error:>11.2e}  {r.max_rel_error:>11.2e}  "
            f"{r.tolerance:>9.1e}  {verdict(r)[0]}"
        )
    return "\n".join(lines)


def _header(used: dict) -> str:
    return (
        f"device {used['device']}, TensorFlow {used['tensorflow']}; equality checks with TF32 "
        f"{'on' if used['tf32'] else 'off'} and op determinism {'on' if used['op_determinism'] else 'off'}\n"
        f"precision family: {used['precision_family']}"
    )


def _plots(args) -> int:
    from common.figures import make_figures
    from scratch.cli import IMPLEMENTATION as NUMPY
    from tfimpl.cli import implementation

    for path in make_figures(args.run_dir, load_mnist(args.data_dir), (implementation(), NUMPY)):
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m compare",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("families", nargs="*", metavar="FAMILY", help=f"any of {', '.join(FAMILIES)} (default: all)")
    parser.add_argument("--json", metavar="FILE", help="also write the settings and the rows as JSON")
    parser.add_argument("--data-dir", default=None)
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["plots"]:
        p = argparse.ArgumentParser(prog="python -m compare plots", description="the figures, both twins side by side")
        p.add_argument("run_dir")
        p.add_argument("--data-dir", default=None)
        args = p.parse_args(argv[1:])
        try:
            return _plots(args)
        except EXPECTED_ERRORS as exc:
            return fail(exc, 2)
    parser = build_parser()
    args = parser.parse_args(argv)
    unknown = [f for f in args.families if f not in FAMILIES]
    if unknown:
        parser.error(f"unknown family {', '.join(unknown)}; choose from {', '.join(FAMILIES)} (or plots RUN_DIR)")
    families = [f for f in FAMILIES if f in args.families] or list(FAMILIES)
    try:
        rows, used = run_families(families, args.data_dir)
    except EXPECTED_ERRORS as exc:
        return fail(exc, 2)
    except KeyboardInterrupt:
        return fail("interrupted; nothing written", 130)
    print(_header(used))
    print(format_table(rows))
    bad = [r for r in rows if not verdict(r)[1]]
    print(f"\n{len(rows) - len(bad)} of {len(rows)} checks as expected" + (f"; {len(bad)} NOT:" if bad else ""))
    for r in bad:
        print(f"  NOT: {r.check} ({r.dtype})")
    if args.json:
        write_json(
            args.json,
            {
                "settings": used,
                "rows": [{**r.to_dict(), "expected_to_fail": r.check.startswith("CONTROL")} for r in rows],
            },
        )
    return 1 if bad else 0
