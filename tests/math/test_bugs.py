"""The zoo's assembly is faithful: the right pieces give scratch.models' numbers bit for bit, so a mistake
injected through them is the only difference a check can see (docs/math.md#the-bug-zoo)."""

from __future__ import annotations

import numpy as np
import pytest

from scratch import bugs, layers, losses, models


@pytest.fixture(scope="module")
def batch(mnist):
    return mnist.train.images[:16].astype(np.float64), mnist.train.labels[:16].copy()


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("loss", sorted(losses.LOSSES))
def test_the_right_pieces_are_models_loss_and_grads_bit_for_bit(batch, loss, activation):
    x, labels = batch
    params = models.init_params("mlp", hidden=(16,), init="normal", std=0.1, seed=0, dtype=np.float64)
    want = models.loss_and_grads(params, x, labels, loss=loss, l2=1e-3, activation=activation)
    got = bugs.Pieces(loss=loss, activation=activation).loss_and_grads(params, x, labels, l2=1e-3)
    assert got[0] == want[0] and list(got[1]) == list(want[1])
    assert all(np.array_equal(got[1][k], want[1][k]) for k in params)
    assert bugs.Pieces(loss=loss, activation=activation).loss_value(params, x, labels, l2=1e-3) == want[0]


@pytest.mark.parametrize("name", list(bugs.ZOO))
def test_every_mistake_keeps_the_interfaces(batch, name):
    """Each mistake runs where the right piece runs, with the right shapes and dtypes: nothing crashes to say so."""
    x, labels = batch
    pieces = bugs.ZOO[name].make()
    params = models.init_params("mlp", hidden=(16,), init="normal", std=0.1, seed=0, dtype=np.float64)
    y = np.eye(10)[labels]
    value, grads = pieces.loss_and_grads(params, x, y, l2=1e-3)
    assert np.isfinite(value) and all(
        grads[k].shape == p.shape and grads[k].dtype == p.dtype for k, p in params.items()
    )
    pieces.make_optimizer(0.01).apply(grads, params)


def test_the_accumulating_backward_is_right_once_and_wrong_after():
    """micrograd issue 102: the first call agrees with dense_backward, the second returns the two added up."""
    rng = np.random.default_rng(0)
    x, W, dout = rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=(4, 2))
    wrong = bugs.AccumulatingDenseBackward()
    right = layers.dense_backward(dout, (x, W))
    first, second = wrong(dout, (x, W)), wrong(dout, (x, W))
    assert np.array_equal(first[1], right[1]) and np.array_equal(second[1], 2 * right[1])
    assert np.array_equal(wrong(dout, (x, W.copy()))[1], right[1])  # another layer's weights: a slot of its own
