r"""``python -m compare``: check, row by row, that the hand-written NumPy matches TensorFlow.

python -m compare                    # everything: both models, both dtypes, then the negative controls
python -m compare gradients          # one family: forward, gradients, optimizers, train, crossload, controls
python -m compare --json rows.json   # also write the rows as JSON objects
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from scratch.data import MNISTError, load_mnist
from scratch.files import write_json

__all__ = ["FAMILIES", "main", "run_families"]

FAMILIES = ("forward", "gradients", "optimizers", "train", "crossload", "controls")


def run_families(families, data_dir=None, *, progress=True):
    """Rows for the chosen families, in order; ``controls`` rows are expected to fail."""
    from . import checks, controls

    data = load_mnist(data_dir)
    rows, runs = [], {}
    for family in families:
        t0 = time.perf_counter()
        if family == "forward":
            new = checks.forward_rows(data)
        elif family == "gradients":
            new = checks.gradient_rows(data)
        elif family == "optimizers":
            new = checks.optimizer_rows()
        elif family == "train":
            new = checks.train_rows(data, runs=runs)
        elif family == "crossload":
            if not runs:
                checks.train_rows(data, runs=runs)
            new = checks.crossload_rows(data, runs)
        else:
            new = controls.control_rows(data)
        if progress:
            print(f"[{family}: {len(new)} checks in {time.perf_counter() - t0:.1f} s]", file=sys.stderr, flush=True)
        rows += new
    return rows


def verdict(row) -> tuple[str, bool]:
    """Text for the result column, and whether the row is as it should be."""
    if row.check.startswith("CONTROL"):
        return ("FAIL (expected)", True) if not row.passed else ("PASS (control should fail!)", False)
    return ("PASS", True) if row.passed else ("FAIL", False)


def format_table(rows) -> str:
    width = max(len(r.check) for r in rows)
    lines = [f"{'check':<{width}}  {'dtype':<7}  {'max abs err':>11}  {'max rel err':>11}  {'tolerance':>9}  result"]
    for r in rows:
        text, _ = verdict(r)
        lines.append(
            f"{r.check:<{width}}  {r.dtype:<7}  {r.max_abs_error:>11.2e}  {r.max_rel_error:>11.2e}  "
            f"{r.tolerance:>9.0e}  {text}" + (f"  ({r.note})" if r.note else "")
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compare", description=__doc__.split("\n")[0])
    parser.add_argument(
        "families",
        nargs="*",
        choices=[[], *FAMILIES],
        default=[],
        metavar="FAMILY",
        help=f"any of {', '.join(FAMILIES)} (default: all)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the rows as a JSON list")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    families = [f for f in FAMILIES if f in args.families] or list(FAMILIES)
    try:
        rows = run_families(families, args.data_dir)
    except MNISTError as exc:
        parser.exit(2, f"error: {exc}\n")
    print(format_table(rows))
    bad = [r for r in rows if not verdict(r)[1]]
    print(
        f"\n{len(rows) - len(bad)} of {len(rows)} checks as expected"
        + (f"; {len(bad)} NOT: " + ", ".join(r.check for r in bad) if bad else "")
    )
    if args.json:
        write_json(args.json, [{**r.to_dict(), "expected_to_fail": r.check.startswith("CONTROL")} for r in rows])
    return 1 if bad else 0
