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

__all__ = [
    "BOUND_KIND",
    "attach_bounds",
    "bound_rows",
    "crossing",
    "crossovers",
    "lookup",
    "median_interval",
    "targets",
    "verdict",
]

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
    """Per operation, model, TF device and TensorFlow implementation: where the lead changes hands.

    With ``r(B)`` = that implementation's examples/s over scratch's at each measured batch size, a
    change is where ``log r`` changes sign, interpolated linearly in ``log B`` between the two sizes
    around it (:func:`crossing`); a path can lead, fall behind and lead again. ``"best tfimpl"`` takes
    the fastest tfimpl variant at each size, and names which one at both ends of each change.
    ``batch_size`` is the size from which TensorFlow leads up to the largest measured, or None.
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
            batch_size, text, changes = crossing(ratios, name_paths=impl == "best tfimpl")
            out.append(
                {
                    "operation": op,
                    "model": model,
                    "device": device,
                    "implementation": impl,
                    "batch_size": batch_size,
                    "explanation": text,
                    "changes": changes,
                    "ratios": [[b, r, i] for b, r, i in ratios],
                }
            )
    return out


def _interpolate(b0: int, r0: float, b1: int, r1: float) -> float:
    """Where ``log r`` crosses 0 on the straight line between ``(log b0, log r0)`` and ``(log b1, log r1)``."""
    frac = -math.log(r0) / (math.log(r1) - math.log(r0))
    return math.exp(math.log(b0) + frac * (math.log(b1) - math.log(b0)))


def crossing(ratios: list[tuple[int, float, str]], *, name_paths: bool = True) -> tuple[float | None, str, list[dict]]:
    """Every change of leader along the batch axis.

    ``ratios``: ``(batch, TF's rate / NumPy's, the TF path)`` by increasing batch. Returns the batch from
    which TensorFlow leads to the largest size measured (None if it does not lead there, or leads
    everywhere), a sentence naming every change, and the changes: ``{"batch_size", "leader", "between",
    "paths"}``, each interpolated in log batch between the two sizes around it. ``name_paths``: say which
    TF path led on each side (for the "best tfimpl" series, whose path can change along the axis).
    """
    changes = []
    for (b0, r0, i0), (b1, r1, i1) in itertools.pairwise(ratios):
        if (r0 >= 1) != (r1 >= 1):
            changes.append(
                {
                    "batch_size": _interpolate(b0, r0, b1, r1),
                    "leader": "TensorFlow" if r1 >= 1 else "NumPy",
                    "between": [b0, b1],
                    "paths": [i0, i1],
                }
            )
    first = "ahead of" if ratios[0][1] >= 1 else "behind"
    if not changes:
        everywhere = f"{first} NumPy at every batch size measured ({ratios[0][0]:,} to {ratios[-1][0]:,})"
        return None, everywhere, changes
    parts = [f"{first} NumPy at batch {ratios[0][0]:,}"]
    for c in changes:
        b0, b1 = c["between"]
        paths = (
            c["paths"][0] if c["paths"][0] == c["paths"][1] else f"{c['paths'][0]} at {b0:,}, {c['paths'][1]} at {b1:,}"
        )
        verb = "overtakes NumPy" if c["leader"] == "TensorFlow" else "falls behind NumPy"
        parts.append(f"{verb} at about {c['batch_size']:,.0f} (between {b0:,} and {b1:,}; {paths})")
    last = changes[-1]
    return (last["batch_size"] if last["leader"] == "TensorFlow" else None), "; ".join(parts), changes


def verdict(measurements: list[dict], device: str = "cpu", batch_size: int = 100) -> list[dict]:
    """Per model, the answer a benchmarker came for: scratch, the best TensorFlow path and Keras ``fit`` at
    ``batch_size`` (``train_step`` steps/s), their ratios, the best path's compile cost, and after how many
    steps that cost is paid back, ``n = C / (1/r_numpy - 1/r_tf)`` (where TensorFlow is faster).
    """
    out = []
    for model in workloads.MODELS:

        def get(impl, model=model):
            return lookup(
                measurements,
                operation="train_step",
                implementation=impl,
                model=model,
                batch_size=batch_size,
                device="cpu" if impl == "scratch" else device,
            )

        s, k = get("scratch"), get("keras")
        tf_rows = [r for i in workloads.TF_IMPLEMENTATIONS if i != "keras" and (r := get(i))]
        if not s or not tf_rows:
            continue
        best = max(tf_rows, key=lambda r: r["steps_per_second"])
        r_np, r_tf = s["steps_per_second"], best["steps_per_second"]
        compile_s = best.get("compile_seconds", 0.0)
        payback = compile_s / (1 / r_np - 1 / r_tf) if r_tf > r_np else None
        row = {
            "model": model,
            "device": device,
            "batch_size": batch_size,
            "scratch": r_np,
            "best_tf": best["implementation"],
            "best_tf_steps_per_second": r_tf,
            "best_tf_over_scratch": r_tf / r_np,
            "keras": k["steps_per_second"] if k else None,
            "scratch_over_keras": r_np / k["steps_per_second"] if k else None,
            "compile_seconds": compile_s,
            "payback_steps": payback,
        }
        if payback is None:
            row["advice"] = f"NumPy by hand is the fastest here ({r_np / r_tf:.2f}x the best TensorFlow path): use it."
        else:
            epochs = payback * batch_size / 55000
            row["advice"] = (
                f"{best['implementation']} runs {r_tf / r_np:.2f}x NumPy once compiled; its {compile_s:.1f} s of "
                f"compiling is paid back after {payback:,.0f} steps ({epochs:.1f} epochs): use it for longer runs, "
                "NumPy for shorter ones."
            )
        out.append(row)
    return out


#: What each internal target means, printed beside it.
MEANINGS = {
    "keras": "NumPy by hand against fit's per-step machinery (callbacks, data pipeline)",
    "own": "the share of scratch's MLP step spent in its matrix products (NumPy's BLAS); the rest is "
    "elementwise work and Python",
    "fastest": "the same, against the faster library's products: what a step could be with TensorFlow's kernels",
    "tfimpl": "the project's own TensorFlow loop against fit, same model and batch",
}


def targets(measurements: list[dict]) -> list[dict]:
    """The project's internal targets at batch 100 on the CPU, from the ``train_step`` rows, each with what
    it means; the report prints them last (the verdict, :func:`verdict`, comes first)."""

    def get(impl, model):
        return lookup(
            measurements, operation="train_step", implementation=impl, model=model, batch_size=100, device="cpu"
        )

    def target(name, measured, required, meaning):
        met = bool(measured is not None and measured >= required)
        return {"target": name, "measured": measured, "required": required, "meaning": MEANINGS[meaning], "met": met}

    rows = []
    for model, need in (("linear", 10.0), ("mlp", 3.0)):
        s, k = get("scratch", model), get("keras", model)
        if s and k:
            rows.append(
                target(f"scratch {model} / Keras fit", s["steps_per_second"] / k["steps_per_second"], need, "keras")
            )
    s = get("scratch", "mlp")
    if s:
        rows.append(target("scratch mlp: products alone (NumPy) / step", s["products_alone_own_ratio"], 0.6, "own"))
        rows.append(
            target("scratch mlp: products alone (fastest library) / step", s["products_alone_ratio"], 0.6, "fastest")
        )
    for model in ("linear", "mlp"):
        k = get("keras", model)
        tf_rows = [r for i in workloads.TF_IMPLEMENTATIONS if i != "keras" and (r := get(i, model))]
        if k and tf_rows:
            best = max(tf_rows, key=lambda r: r["steps_per_second"])
            ratio = best["steps_per_second"] / k["steps_per_second"]
            rows.append(target(f"best tfimpl {model} ({best['implementation']}) / Keras fit", ratio, 1.5, "tfimpl"))
    return rows


def median_interval(values, level: float = 0.95) -> tuple[float, float, float] | None:
    r"""A distribution-free interval for the median of ``values``: ``(low, high, coverage)``, or None.

    Each value falls below the true median with probability 1/2, so the number below it is
    :math:`B \sim \text{Binomial}(n, 1/2)`, and the sorted values :math:`x_{(k)} \le x_{(n+1-k)}`
    enclose the median unless :math:`B < k` or :math:`B > n - k`:

    .. math::

        P\bigl(x_{(k)} \le m \le x_{(n+1-k)}\bigr) = 1 - 2 \sum_{j<k} \binom{n}{j} 2^{-n}

    with :math:`k` the largest whose coverage is still at least ``level``. Nine values give
    :math:`x_{(2)}..x_{(8)}` (96.1%), 27 give :math:`x_{(8)}..x_{(20)}` (98.1%); under six there is
    none at 95% (even the min and max of five miss the median 1 time in 16), hence None.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")
    x, n = sorted(values), len(values)
    tail, k = 0, 0  # tail = sum of C(n, j) for j < k: exact integers, divided by 2^n only to compare
    while k <= n // 2 and (tail + math.comb(n, k)) / 2**n <= (1 - level) / 2:
        tail += math.comb(n, k)
        k += 1
    return None if k == 0 else (float(x[k - 1]), float(x[n - k]), 1 - 2 * tail / 2**n)
