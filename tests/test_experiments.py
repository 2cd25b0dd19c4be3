"""The tutorials' experiments and figures: by hand, with TensorFlow, and the two compared."""

from __future__ import annotations

import re

import numpy as np
import pytest

from common.config import RunConfig
from common.data import batch_indices
from common.experiments import random_integer_matrix, snapshots_at
from scratch import experiments, models
from scratch.cli import main as np_main
from scratch.train import train


@pytest.fixture(scope="module")
def mlp_run(mnist, tmp_path_factory):
    """A small trained MLP run folder (1 epoch, 64 hidden units)."""
    out = tmp_path_factory.mktemp("run")
    assert (
        np_main(
            [
                "train",
                "--model",
                "mlp",
                "--hidden",
                "64",
                "--init",
                "normal",
                "--lr",
                "0.1",
                "--epochs",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return out


def test_weight_snapshots_follow_the_tutorial(mnist):
    snaps = experiments.weight_snapshots(mnist)
    assert [s for s, _, _ in snaps] == [0, 1, 10, 1000]
    accs = [a for _, _, a in snaps]
    assert accs[0] == 0.098 and np.all(snaps[0][1] == 0)  # zeros: class 0 everywhere
    assert accs[0] < accs[1] < accs[2] < accs[3] and accs[3] >= 0.915


def test_snapshots_come_between_blocks_of_the_loops_batches():
    """Blocks end at each snapshot and at each epoch's end (10 batches of 100 here); laid end to end they
    are the training loop's batches, epoch after epoch."""
    blocks = []
    out = snapshots_at(
        (0, 1, 12, 15), 1000, 0, train_batches=blocks.append, snapshot=lambda: (len(blocks),), batch_size=100
    )
    assert [s for s, _ in out] == [0, 1, 12, 15] and [n for _, n in out] == [0, 1, 3, 4]
    assert [len(b) for b in blocks] == [1, 9, 2, 3]
    taken = np.concatenate(blocks)
    loop = np.concatenate([batch_indices(1000, 100, 0, 0), batch_indices(1000, 100, 0, 1)])
    np.testing.assert_array_equal(taken, loop[:15])


def test_learned_inverse_is_close_to_numpy_inv():
    A = random_integer_matrix()
    assert np.all(A == np.round(A)) and np.linalg.cond(A) < 100
    X, losses = experiments.learn_inverse(A, steps=5000)
    # Adagrad on an L1 loss settles to within about lr / sqrt(t) per entry; measured 1.1e-3 at 5000 steps.
    assert np.abs(X - np.linalg.inv(A)).max() < 3e-3
    assert losses[-1] < 0.05 * losses[0]


def test_optimal_inputs_are_scored_highest_by_their_own_class(mnist):
    params = train(
        RunConfig(model="mlp", hidden=(64,), init="normal", learning_rate=0.1, epochs=1, steps=None),
        mnist,
        progress=False,
    ).params
    x, logits = experiments.optimal_inputs(params)
    assert x.shape == (10, 784)
    assert np.all(logits.argmax(axis=1) == np.arange(10))
    with pytest.raises(ValueError, match="l2 must be a finite number >= 0"):
        experiments.optimal_inputs(params, l2=-1)


def test_plots_command_writes_every_figure(mlp_run, capsys):
    """The run's own figures in the run folder; the side experiments, not about this model, apart."""
    assert np_main(["plots", str(mlp_run)]) == 0
    own = {
        "examples",
        "misclassified",
        "confusion",
        "errors_per_digit",
        "learning_curves",
        "fingerprints",
        "optimal_inputs",
    }
    side = {"linear_weights", "matrix_inverse"}
    assert {p.stem for p in mlp_run.glob("*.png")} == own
    assert {p.stem for p in (mlp_run / "side-experiments").glob("*.png")} == side
    for path in [*mlp_run.glob("*.png"), *(mlp_run / "side-experiments").glob("*.png")]:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert "true\\pred" in out
    assert (
        "side experiment (a matrix inverse learned by Adagrad, scratch (NumPy by hand)): max |X - numpy.linalg.inv(A)|"
        in out
    )
    assert (
        "side experiment (the first tutorial's linear model, trained by scratch (NumPy by hand)): 9.8% at step 0" in out
    )


def test_confusion_matrix_counts():
    from common.plots import confusion_matrix

    cm = confusion_matrix(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2]))
    assert cm[0, 0] == 1 and cm[0, 1] == 1 and cm[1, 1] == 1 and cm.sum() == 4


def test_experiment_command_prints_accuracies(capsys):
    assert np_main(["experiment", "loss"]) == 0
    out = capsys.readouterr().out
    dense = float(out.split("dense (one-hot)")[1].split("test accuracy")[1].split("%")[0])
    sparse = float(out.split("sparse (class ids)")[1].split("test accuracy")[1].split("%")[0])
    assert dense == sparse and dense > 91  # the same loss from two label forms: the same run


def test_seed_experiment_repeats_only_with_a_fixed_seed(mnist):
    results = experiments.run_experiment("seed", mnist, base=RunConfig(steps=200))
    (_, a, la), (_, b, lb), (free1, _, lc), (free2, _, ld) = results
    assert (a, la) == (b, lb)
    assert "drew" in free1 and free1 != free2  # two fresh seeds, printed
    assert len({la, lc, ld}) == 3  # and three different trajectories


class TestAgainstTensorFlow:
    tf = pytest.importorskip("tensorflow")

    def test_optimal_inputs_agree(self, mnist):
        from tfimpl import experiments as tf_experiments

        params = models.init_params("mlp", hidden=(32,), init="normal", std=0.1, seed=1, dtype=np.float64)
        ours, _ = experiments.optimal_inputs(params, steps=100)
        theirs, _ = tf_experiments.optimal_inputs(params, steps=100)
        # float64, 100 steps of the same update: rounding-level agreement.
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)

    def test_learned_inverses_agree(self):
        from tfimpl import experiments as tf_experiments

        A = random_integer_matrix(seed=3)
        ours, l_ours = experiments.learn_inverse(A, steps=500)
        theirs, l_theirs = tf_experiments.learn_inverse(A, steps=500)
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
        np.testing.assert_allclose(l_ours, l_theirs, rtol=1e-12)

    def test_tf_weight_snapshots_match_scratch(self, mnist):
        from device_bounds import FLOAT32_FLIPS

        from tfimpl import experiments as tf_experiments

        ours = experiments.weight_snapshots(mnist, steps=(0, 10))
        theirs = tf_experiments.weight_snapshots(mnist, steps=(0, 10))
        gaps = [abs(a - b) for (_, _, a), (_, _, b) in zip(ours, theirs, strict=True)]
        assert max(gaps) <= FLOAT32_FLIPS / 10000 + 1e-12, gaps  # exact on a CPU
        np.testing.assert_allclose(ours[-1][1], theirs[-1][1], rtol=0, atol=1e-5)  # float32, 10 steps

    def test_tfimpl_plots_command(self, mlp_run, capsys):
        from tfimpl.cli import main as tf_main

        for png in mlp_run.rglob("*.png"):
            png.unlink()
        assert tf_main(["plots", str(mlp_run)]) == 0
        assert (mlp_run / "optimal_inputs.png").is_file() and (
            mlp_run / "side-experiments/matrix_inverse.png"
        ).is_file()
        assert " vs " not in capsys.readouterr().out  # TensorFlow's figures alone: no comparison printed

    def test_compare_plots_command_draws_both_twins_side_by_side(self, mlp_run, capsys):
        """Into twins/, never over the twins' own figures; each figure shows both; the differences are printed."""
        from device_bounds import FLOAT32_FLIPS

        from compare.cli import main as compare_main

        before = {p: p.read_bytes() for p in mlp_run.glob("*.png")}
        assert compare_main(["plots", str(mlp_run)]) == 0
        assert before and all(p.read_bytes() == b for p, b in before.items())
        twins = mlp_run / "twins"
        assert {p.stem for p in twins.glob("*.png")} == {"predictions", "fingerprints", "optimal_inputs"}
        assert {p.stem for p in (twins / "side-experiments").glob("*.png")} == {"linear_weights", "matrix_inverse"}
        out = capsys.readouterr().out
        pattern = r"test predictions of the same parameters: scratch .* and tfimpl .* differ on (\d+) of 10000"
        differ = re.search(pattern, out)
        assert differ and int(differ.group(1)) <= FLOAT32_FLIPS  # near-ties may go either way in float32
        for what in (
            "hidden activations",
            "optimal input images",
            "learned inverses",
            "linear weights after 1000 steps",
        ):
            assert f"{what}: scratch (NumPy by hand) vs tfimpl (tf.GradientTape)" in out
        assert "a run has one history" in out
