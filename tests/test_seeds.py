"""``python -m compare seeds``: McNemar's exact test, the spread over seeds, and the generated tables."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from compare import seeds
from compare.seeds import mcnemar


def test_mcnemar_counts_only_the_disagreements_and_gives_the_exact_p():
    a = np.array([1, 1, 1, 0, 0, 1], bool)
    b = np.array([1, 0, 0, 0, 1, 1], bool)
    got = mcnemar(a, b)
    assert (got["b"], got["c"]) == (2, 1)
    # n = 3, min = 1: 2 * (C(3,0) + C(3,1)) / 8 = 1.0
    assert got["p"] == 1.0
    # ten disagreements all one way: 2 / 2**10
    assert mcnemar(np.ones(10, bool), np.zeros(10, bool))["p"] == pytest.approx(2 / 1024)
    # 20 against 5: the binomial tail summed by hand
    tail = sum(math.comb(25, k) for k in range(6)) / 2**25
    right = np.r_[np.ones(20, bool), np.zeros(5, bool)]
    assert mcnemar(right, ~right)["p"] == pytest.approx(2 * tail)
    assert mcnemar(right, right) == {"b": 0, "c": 0, "p": 1.0}  # identical predictions: nothing to tell


def test_mcnemar_refuses_arrays_that_do_not_pair():
    with pytest.raises(ValueError, match="equal-length"):
        mcnemar(np.ones(3, bool), np.ones(4, bool))


@pytest.fixture(scope="module")
def short_seeds(mnist):
    """The command's whole path with short recipes: 2 seeds, 60 steps of the linear model and the MLP."""
    pytest.importorskip("tensorflow")
    saved = dict(seeds.RECIPES)
    for name in ("linear", "mlp"):
        r = seeds.RECIPES[name]
        seeds.RECIPES[name] = replace(r, config=replace(r.config, steps=60, epochs=None))
    try:
        yield seeds.run_seeds(("linear", "mlp"), 2, data=mnist, progress=False)
    finally:
        seeds.RECIPES.update(saved)


def test_seeds_report_each_twins_spread_and_the_control_is_significant(short_seeds):
    rows = {r["recipe"]: r for r in short_seeds["rows"]}
    for r in rows.values():
        for twin in ("scratch", "tfimpl"):
            acc = np.array(r["accuracies"][twin])
            assert len(acc) == 2 and r[f"{twin}_min"] <= r[f"{twin}_mean"] <= r[f"{twin}_max"]
            assert r[f"{twin}_std"] == pytest.approx(np.std(acc, ddof=1))
        assert len(r["mcnemar"]) == 2
    # the linear model starts from zeros and sees the same batches in both twins: the same predictions
    assert all(m["b"] == m["c"] == 0 for m in rows["linear"]["mcnemar"])
    # linear against MLP really differ: the positive control must come out significant
    assert short_seeds["control"]["p"] < seeds.SIGNIFICANCE


def test_the_tables_are_generated_into_the_readme_block(short_seeds):
    block = seeds.readme_block(short_seeds)
    text = seeds.replace_block("intro\n<!-- seeds -->\nold\n<!-- end seeds -->\nrest\n", block)
    assert text == f"intro\n<!-- seeds -->\n{block}\n<!-- end seeds -->\nrest\n"
    assert "Positive control" in block and "significant" in block
    # where and how long it ran: 2 recipes x 2 seeds x 2 twins
    assert f"Measured on {short_seeds['machine']}: 8 trainings in " in block and "usable cores" in block
    assert block in seeds.markdown(short_seeds, "test")
    with pytest.raises(ValueError, match="exactly one"):
        seeds.replace_block("no markers here", block)


def test_the_readme_table_is_the_one_docs_seeds_md_holds():
    """Neither is typed in: `python -m compare seeds --write` writes both, and they must still agree."""
    readme = (seeds.ROOT / "README.md").read_text()
    start, end = seeds.MARKERS
    block = readme.split(start)[1].split(end)[0].strip()
    assert block.startswith("| recipe |") and block in (seeds.ROOT / "docs" / "seeds.md").read_text()


def test_the_seeds_command_refuses_nonsense(capsys):
    with pytest.raises(SystemExit):
        seeds.main(["--seeds", "1"])
    assert "at least 2" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        seeds.main(["--recipes", "cnn2"])
    assert "unknown recipe cnn2" in capsys.readouterr().err
