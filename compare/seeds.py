r"""``python -m compare seeds``: each tutorial recipe over several seeds in both twins, and McNemar's test.

One accuracy from one seed cannot say whether 98.21% against 98.17% is a difference. This command trains
each recipe of :data:`compare.seeds.RECIPES` (the tutorials' three and the CNN's 99% recipe) with seeds 0, 1,
... in both twins (float32, the CPU) and reports:

* each recipe's test accuracy per twin as mean ± standard deviation (the sample's, ``ddof=1``), with
  the min and max, beside the tutorial's single figure;
* **McNemar's test** on the two twins' test predictions for the same seed. Of the 10,000 test images,
  only those the twins disagree on carry information: ``b`` right in scratch only, ``c`` right in
  tfimpl only. If the twins were equally accurate, each disagreement would fall either way with
  probability 1/2, so ``min(b, c)`` follows a binomial law with ``n = b + c``; the exact two-sided
  p-value is

  .. math::

      p = \min\Bigl(1,\ 2 \sum_{k=0}^{\min(b,c)} \binom{n}{k} 2^{-n}\Bigr).

  A p-value above 0.05 says the difference is what chance gives; below, that it is real.
* a **positive control**: the same test between two recipes that really differ (the linear model
  against the MLP, seed 0, scratch). It must come out significant, or the test could not see anything.

The twins do not start from the same weights (tfimpl draws them with TensorFlow's generator, as a user's
TensorFlow run would) but do see the same batches, so the comparison is the one a user makes: the same
recipe, run in each.

``--write`` puts the tables into ``docs/seeds.md`` and the summary between the README's
``<!-- seeds -->`` markers, so neither is typed in.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.cli import one_line_errors
from common.config import CNN_RECIPE, RunConfig
from common.data import Datasets, load_mnist
from common.files import atomic_write_bytes
from common.host import cpu_model, usable_cores

__all__ = ["RECIPES", "Recipe", "main", "markdown", "mcnemar", "readme_block", "run_seeds"]

ROOT = Path(__file__).resolve().parents[1]
MARKERS = ("<!-- seeds -->", "<!-- end seeds -->")
SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class Recipe:
    """A tutorial's recipe, its figure, and where that figure comes from."""

    name: str
    config: RunConfig
    tutorial: str  # the tutorial's own figure, as it gives it
    tutorial_images: int | None = None  # the tutorial scored the first N test images only (None: all 10,000)


#: The tutorials' recipes, by name: each trained with every seed in both twins.
RECIPES = {
    "linear": Recipe(
        "softmax regression, zeros, SGD 0.5, 1000 steps",
        RunConfig(model="linear", init="zeros", learning_rate=0.5, steps=1000, device="cpu"),
        "91.8% (Hvass 01, test set)",
    ),
    "adam": Recipe(
        "logistic regression, truncated normal, Adam 0.001, 10 epochs",
        RunConfig(
            model="linear",
            init="truncated_normal",
            optimizer="adam",
            learning_rate=0.001,
            steps=None,
            epochs=10,
            device="cpu",
        ),
        "91.7% (easy-tensorflow, its first 1,000 test images)",
        tutorial_images=1000,
    ),
    "mlp": Recipe(
        "784-300-10 ReLU, normal(0.03), SGD 0.5, clipped per-class loss, 10 epochs",
        RunConfig(
            model="mlp",
            init="normal",
            learning_rate=0.5,
            loss="clipped_binary_cross_entropy",
            steps=None,
            epochs=10,
            device="cpu",  # the table says float32 on the CPU: no GPU's TF32 even where one is visible
        ),
        "98% (Understanding TensorFlow with MNIST)",
    ),
    "cnn": Recipe(
        "the CNN, Adam 0.001, batch 64, dropout 0.25, 3 epochs",
        RunConfig(**CNN_RECIPE, device="cpu"),
        "about 99.2% (TensorFlow's Deep MNIST for experts: a larger CNN, trained far longer)",
    ),
}


def mcnemar(a_right: np.ndarray, b_right: np.ndarray) -> dict:
    """McNemar's exact test on two classifiers' per-image correctness (boolean arrays of one length).

    Returns ``b`` (right in the first only), ``c`` (right in the second only) and the two-sided ``p``.
    """
    a_right, b_right = np.asarray(a_right, bool), np.asarray(b_right, bool)
    if a_right.shape != b_right.shape or a_right.ndim != 1:
        raise ValueError(f"two equal-length 1-D arrays needed, got {a_right.shape} and {b_right.shape}")
    b = int(np.sum(a_right & ~b_right))
    c = int(np.sum(~a_right & b_right))
    n = b + c
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1))  # exact integers, then one division
    return {"b": b, "c": c, "p": min(1.0, 2 * tail / 2**n)}


def _right(twin: str, config: RunConfig, data: Datasets) -> np.ndarray:
    """Train ``config`` in one twin; which of the test images its model gets right, ``(10000,)`` bool."""
    if twin == "scratch":
        from scratch.models import predict
        from scratch.train import train
    else:
        from tfimpl.models import predict
        from tfimpl.train import train
    result = train(config, data, progress=False)
    return np.asarray(predict(result.params, data.test.images)) == data.test.labels


def run_seeds(recipes=tuple(RECIPES), seeds: int = 5, *, data: Datasets | None = None, progress: bool = True) -> dict:
    """Every recipe, seed and twin; the accuracies, the twins' McNemar test per seed, and the control."""
    from dataclasses import replace

    from tqdm import tqdm

    data = load_mnist(dtype=np.float32) if data is None else data
    started = time.perf_counter()
    jobs = [(r, s, t) for r in recipes for s in range(seeds) for t in ("scratch", "tfimpl")]
    right = {}
    for recipe, seed, twin in tqdm(jobs, desc="seeds", unit="run", disable=not progress):
        right[recipe, seed, twin] = _right(twin, replace(RECIPES[recipe].config, seed=seed), data)
    rows = []
    for recipe in recipes:
        acc = {t: np.array([right[recipe, s, t].mean() for s in range(seeds)]) for t in ("scratch", "tfimpl")}
        tests = [mcnemar(right[recipe, s, "scratch"], right[recipe, s, "tfimpl"]) for s in range(seeds)]
        rows.append(
            {
                "recipe": recipe,
                "name": RECIPES[recipe].name,
                "tutorial": RECIPES[recipe].tutorial,
                "seeds": seeds,
                **{
                    f"{t}_{stat}": float(f(acc[t]))
                    for t in acc
                    for stat, f in (
                        ("mean", np.mean),
                        ("std", lambda a: np.std(a, ddof=1) if len(a) > 1 else 0.0),
                        ("min", np.min),
                        ("max", np.max),
                    )
                },
                "accuracies": {t: acc[t].tolist() for t in acc},
                "tutorial_images": RECIPES[recipe].tutorial_images,
                # on the tutorial's own images, where it scored fewer than all 10,000
                "scratch_on_tutorial_images": _on_first(right, recipe, seeds),
                "mcnemar": tests,
            }
        )
    control = None
    if {"linear", "mlp"} <= set(recipes):
        control = mcnemar(right["linear", 0, "scratch"], right["mlp", 0, "scratch"])
    machine = f"{cpu_model()}, {usable_cores()} usable cores"
    seconds = time.perf_counter() - started
    return {"rows": rows, "control": control, "machine": machine, "trainings": len(jobs), "seconds": seconds}


def _on_first(right: dict, recipe: str, seeds: int) -> list[float] | None:
    n = RECIPES[recipe].tutorial_images
    return None if n is None else [float(right[recipe, s, "scratch"][:n].mean()) for s in range(seeds)]


def _pct(v: float) -> str:
    return f"{100 * v:.2f}"


def readme_block(result: dict) -> str:
    """The summary table: each recipe's accuracy per twin over the seeds, the tutorial's figure beside it."""
    lines = [
        "| recipe | scratch: mean ± sd (min-max), % | tfimpl: mean ± sd (min-max), % | seeds | twins differ? (McNemar, per seed) | tutorial |",
        "|---|---|---|---:|---|---|",
    ]
    for r in result["rows"]:
        cells = [
            f"{_pct(r[f'{t}_mean'])} ± {_pct(r[f'{t}_std'])} ({_pct(r[f'{t}_min'])}-{_pct(r[f'{t}_max'])})"
            for t in ("scratch", "tfimpl")
        ]
        significant = sum(m["p"] < SIGNIFICANCE for m in r["mcnemar"])
        verdict = f"{significant} of {r['seeds']} seeds with p < {SIGNIFICANCE}; smallest p {min(m['p'] for m in r['mcnemar']):.2g}"
        tutorial = r["tutorial"]
        if r.get("scratch_on_tutorial_images"):
            on = np.array(r["scratch_on_tutorial_images"])
            tutorial += f"; scratch on those: {_pct(on.mean())} ± {_pct(np.std(on, ddof=1))}"
        lines.append(f"| {r['name']} | {cells[0]} | {cells[1]} | {r['seeds']} | {verdict} | {tutorial} |")
    c = result["control"]
    if c:
        lines += [
            "",
            f"Positive control, linear against MLP (seed 0, scratch): b = {c['b']}, c = {c['c']}, p = {c['p']:.2g}"
            f" ({'significant' if c['p'] < SIGNIFICANCE else '**not significant: the test sees nothing**'}).",
        ]
    lines += [
        "",
        f"Measured on {result['machine']}: {result['trainings']} trainings in {result['seconds'] / 60:.0f} minutes.",
    ]
    return "\n".join(lines)


def markdown(result: dict, command: str) -> str:
    """``docs/seeds.md``: the summary, then every seed's accuracies and McNemar counts."""
    lines = [
        "# Accuracy over seeds, and whether the twins differ",
        "",
        f"Written by `{command}` (float32, CPU). See {{mod}}`compare.seeds` for the method: McNemar's exact",
        "test counts the test images one twin gets right and the other wrong (`b`: scratch only, `c`: tfimpl only).",
        "",
        readme_block(result),
        "",
        "## Every seed",
        "",
        "| recipe | seed | scratch % | tfimpl % | b | c | p |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        for s, m in enumerate(r["mcnemar"]):
            a, t = r["accuracies"]["scratch"][s], r["accuracies"]["tfimpl"][s]
            lines.append(f"| {r['recipe']} | {s} | {_pct(a)} | {_pct(t)} | {m['b']} | {m['c']} | {m['p']:.3g} |")
    return "\n".join(lines) + "\n"


def replace_block(text: str, block: str) -> str:
    """``text`` with what lies between the seeds markers replaced by ``block``."""
    start, end = MARKERS
    if text.count(start) != 1 or text.count(end) != 1:
        raise ValueError(f"the README needs exactly one {start} and one {end}")
    head, rest = text.split(start)
    _, tail = rest.split(end)
    return f"{head}{start}\n{block}\n{end}{tail}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m compare seeds",
        description="each tutorial recipe over several seeds in both twins, and McNemar's test",
    )
    p.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5; at least 2 for a spread)")
    p.add_argument("--recipes", default=",".join(RECIPES), help=f"comma-separated, from {', '.join(RECIPES)}")
    p.add_argument("--write", action="store_true", help="write docs/seeds.md and the README's summary table")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    recipes = tuple(args.recipes.split(","))
    unknown = [r for r in recipes if r not in RECIPES]
    if unknown:
        p.error(f"unknown recipe {', '.join(unknown)}; choose from {', '.join(RECIPES)}")
    if args.seeds < 2:
        p.error("--seeds must be at least 2: one seed has no spread")
    command = "python -m compare seeds" + "".join(f" {a}" for a in (argv or []) if a != "--no-progress")
    with one_line_errors() as outcome:
        result = run_seeds(recipes, args.seeds, progress=not args.no_progress)
        print(readme_block(result))
        if args.write:
            atomic_write_bytes(ROOT / "docs" / "seeds.md", markdown(result, command).encode())
            readme = ROOT / "README.md"
            atomic_write_bytes(readme, replace_block(readme.read_text(), readme_block(result)).encode())
            print("wrote docs/seeds.md and the README's table")
        outcome.status = 0
    return outcome.status
