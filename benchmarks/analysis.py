r"""What the report computes from its measurements: the bounds attached to each row, the crossovers, the targets.

Two references per measurement, both timed in the same run (:mod:`benchmarks.report`):

* ``efficiency``: the roofline time over the measured time (:mod:`benchmarks.roofline`); at most 1,
  since nothing beats the machine's peaks (a test asserts it on a report run);
* ``products_alone_ratio``: the same step's matrix products alone, through a library, over the measured
  time (:mod:`benchmarks.bounds`); a library-level reference, not a bound. It can exceed 1 where one
  compiled graph (XLA) does the products faster than separate library calls, as at batch 1.
"""

from __future__ import annotations

import itertools
import math

from . import bounds, workloads
from .roofline import roofline_seconds, step_bytes

__all__ = ["BOUND_KIND", "attach_bounds", "bound_rows", "crossing", "crossovers", "lookup", "targets"]

BOUND_KIND = {
    "forward": "forward",
    "evaluate": "forward",
    "loss_and_grads": "train",
    "train_step": "train",
    "epoch": "train",
}


def bound_rows(measurements: list[dict], seconds: float) -> list[dict]:
    """Products alone for every (model, batch, kind) measured: NumPy on the CPU, TF on each device."""
    keys = sorted(
        {(m["model"], m["batch_size"], BOUND_KIND[m["operation"]], m["device"]) for m in measurements},
        key=lambda k: (k[0], k[2], k[1], k[3]),
    )
    rows = []
    for model, batch, kind, device in keys:
        row = {"model": model, "batch_size": batch, "kind": kind, "device": device}
        row["flops"] = workloads.flops(model, batch, kind)
        if device == "cpu":
            row["numpy_seconds"] = bounds.numpy_products(model, batch, kind, min_seconds=seconds)
        if workloads.tensorflow_available():
            row["tensorflow_seconds"] = bounds.tensorflow_products(
                model, batch, kind, device=device, min_seconds=seconds
            )
        row["seconds"] = min(v for k, v in row.items() if k.endswith("_seconds"))
        row["gflops_per_second"] = row["flops"] / row["seconds"] / 1e9
        rows.append(row)
    return rows


def attach_bounds(measurements: list[dict], products: list[dict], peaks: dict) -> None:
    """Add to each measurement its FLOPs and bytes per step, the roofline and its efficiency, and the
    products-alone reference (fastest library, and the implementation's own)."""
    index = {(b["model"], b["batch_size"], b["kind"], b["device"]): b for b in products}
    for m in measurements:
        kind = BOUND_KIND[m["operation"]]
        b = index[(m["model"], m["batch_size"], kind, m["device"])]
        own = b.get("numpy_seconds" if m["implementation"] == "scratch" else "tensorflow_seconds")
        calls = m["steps_per_call"]
        m["flops_per_step"] = workloads.flops(m["model"], m["batch_size"], kind)
        m["bytes_per_step"] = step_bytes(m["model"], m["batch_size"], kind)
        m["roofline_seconds_per_call"] = roofline_seconds(peaks[m["device"]], m["model"], m["batch_size"], kind) * calls
        m["efficiency"] = m["roofline_seconds_per_call"] / m["seconds_per_call"]
        m["products_alone_seconds_per_call"] = b["seconds"] * calls
        m["products_alone_ratio"] = m["products_alone_seconds_per_call"] / m["seconds_per_call"]
        m["products_alone_own_ratio"] = own * calls / m["seconds_per_call"] if own else None


def lookup(measurements, **key) -> dict | None:
    for r in measurements:
        if all(r.get(k) == v for k, v in key.items()):
            return r
    return None


def crossovers(measurements: list[dict]) -> list[dict]:
    """Per operation, model, TF device and TensorFlow implementation: the batch size where it overtakes scratch.

    With ``r(B)`` = that implementation's examples/s over scratch's at each measured batch size, the
    crossover is where ``log r`` turns positive, interpolated linearly in ``log B`` between the two sizes
    around it. ``"best tfimpl"`` takes the fastest tfimpl variant at each size. ``batch_size`` is None,
    with the reason in ``explanation``, when TensorFlow is ahead everywhere or nowhere.
    """
    out = []
    tf_rows = [r for r in measurements if r["implementation"] != "scratch"]
    combos = sorted({(r["operation"], r["model"], r["device"]) for r in tf_rows})
    for op, model, device in combos:
        impls = ["best tfimpl"] + [
            i for i in workloads.TF_IMPLEMENTATIONS if any(r["implementation"] == i for r in tf_rows)
        ]
        for impl in impls:
            ratios = []
            for batch in sorted({r["batch_size"] for r in measurements if (r["operation"], r["model"]) == (op, model)}):
                np_row = lookup(measurements, operation=op, model=model, batch_size=batch, implementation="scratch")
                rows = [
                    r
                    for r in tf_rows
                    if (r["operation"], r["model"], r["batch_size"], r["device"]) == (op, model, batch, device)
                    and (
                        r["implementation"] == impl
                        or (impl == "best tfimpl" and r["implementation"].startswith("tfimpl"))
                    )
                ]
                if np_row and rows:
                    best = max(rows, key=lambda r: r["examples_per_second"])
                    ratios.append(
                        (batch, best["examples_per_second"] / np_row["examples_per_second"], best["implementation"])
                    )
            if len(ratios) < 2:
                continue
            batch_size, text = crossing(ratios)
            out.append(
                {
                    "operation": op,
                    "model": model,
                    "device": device,
                    "implementation": impl,
                    "batch_size": batch_size,
                    "explanation": text,
                    "ratios": [[b, r, i] for b, r, i in ratios],
                }
            )
    return out


def crossing(ratios: list[tuple[int, float, str]]) -> tuple[float | None, str]:
    if all(r >= 1 for _, r, _ in ratios):
        return None, f"ahead of NumPy at every batch size measured (from {ratios[0][0]:,})"
    if all(r < 1 for _, r, _ in ratios):
        return None, f"behind NumPy at every batch size measured (up to {ratios[-1][0]:,})"
    if ratios[-1][1] < 1:
        return None, f"behind NumPy again at the largest batch size measured ({ratios[-1][0]:,})"
    crossing, text = None, ""
    for (b0, r0, _), (b1, r1, impl) in itertools.pairwise(ratios):  # the last change from behind to ahead
        if r0 < 1 <= r1:
            frac = -math.log(r0) / (math.log(r1) - math.log(r0))
            crossing = math.exp(math.log(b0) + frac * (math.log(b1) - math.log(b0)))
            text = f"overtakes NumPy between batch {b0:,} and {b1:,} (about {crossing:,.0f}; {impl})"
    return crossing, text


def targets(measurements: list[dict]) -> list[dict]:
    """Issue 5's ratios at batch 100 on the CPU, from the ``train_step`` rows."""

    def get(impl, model):
        return lookup(
            measurements, operation="train_step", implementation=impl, model=model, batch_size=100, device="cpu"
        )

    rows = []
    for model, need in (("linear", 10.0), ("mlp", 3.0)):
        s, k = get("scratch", model), get("keras", model)
        if s and k:
            ratio = s["steps_per_second"] / k["steps_per_second"]
            rows.append({"target": f"scratch {model} / Keras fit", "measured": ratio, "required": need})
    s = get("scratch", "mlp")
    if s:
        rows.append(
            {
                "target": "scratch mlp: products alone (NumPy) / step",
                "measured": s["products_alone_own_ratio"],
                "required": 0.6,
            }
        )
        rows.append(
            {
                "target": "scratch mlp: products alone (fastest library) / step",
                "measured": s["products_alone_ratio"],
                "required": 0.6,
            }
        )
    for model in ("linear", "mlp"):
        k = get("keras", model)
        tf_rows = [r for i in workloads.TF_IMPLEMENTATIONS if i != "keras" and (r := get(i, model))]
        if k and tf_rows:
            best = max(tf_rows, key=lambda r: r["steps_per_second"])
            rows.append(
                {
                    "target": f"best tfimpl {model} ({best['implementation']}) / Keras fit",
                    "measured": best["steps_per_second"] / k["steps_per_second"],
                    "required": 1.5,
                }
            )
    for r in rows:
        r["met"] = bool(r["measured"] is not None and r["measured"] >= r["required"])
    return rows
