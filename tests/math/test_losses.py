"""Softmax and the losses: stability, agreement between forms, and hand gradients against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from common.labels import one_hot
from common.spec import LOSS_FORMS
from scratch import bugs, gradcheck, losses

TOL = gradcheck.TOLERANCE  # 1e-7 in float64, derived in scratch/gradcheck.py


@pytest.fixture
def batch():
    rng = np.random.default_rng(42)
    logits = rng.normal(0, 2, (32, 10))
    labels = rng.integers(0, 10, 32)
    return logits, labels, one_hot(labels, dtype=np.float64)


def test_softmax_rows_sum_to_one_and_match_definition(batch):
    logits, _, _ = batch
    p = losses.softmax(logits)
    reference = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)  # fine for |z| < 700
    np.testing.assert_allclose(p, reference, rtol=1e-13, atol=0)
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-15, atol=2e-16)
    np.testing.assert_allclose(losses.log_softmax(logits), np.log(reference), rtol=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_for_logits_of_1e4(dtype):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4 + 1], [5e3, 1e4, -1e4]], dtype=dtype)
    p = losses.softmax(logits)
    assert np.all(np.isfinite(p)) and np.allclose(p.sum(axis=1), 1)
    assert p[0, 0] == 1 and p[2, 1] == 1
    logp = losses.log_softmax(logits)
    assert np.all(np.isfinite(logp))
    assert logp[0, 1] == pytest.approx(-2e4, rel=1e-6)


def test_naive_cross_entropy_fails_where_the_stable_one_does_not():
    logits = np.array([[1e4, -1e4] + [0.0] * 8, [0.0] * 10])
    y = one_hot(np.array([1, 3]), dtype=np.float64)  # the first example's true class has p = 0
    stable = losses.softmax_cross_entropy(logits, y)
    assert np.isfinite(stable) and stable == pytest.approx((2e4 + np.log(10)) / 2)
    assert not np.isfinite(losses.naive_cross_entropy(logits, y))  # log(0) = -inf -> inf loss
    assert not np.all(np.isfinite(losses.naive_cross_entropy_grad(logits, y)))
    assert np.all(np.isfinite(losses.softmax_cross_entropy_grad(logits, y)))
    # a zero label times log(0) gives NaN, not 0
    y2 = one_hot(np.array([0, 3]), dtype=np.float64)
    assert np.isnan(losses.naive_cross_entropy(logits, y2))


def test_forms_agree_where_all_are_finite(batch):
    logits, labels, y = batch
    dense = losses.softmax_cross_entropy(logits, y)
    # float64, same formula, different summation order: 1e-14 relative.
    assert losses.sparse_softmax_cross_entropy(logits, labels) == pytest.approx(dense, rel=1e-14)
    assert losses.naive_cross_entropy(logits, y) == pytest.approx(dense, rel=1e-12)
    np.testing.assert_allclose(
        losses.sparse_softmax_cross_entropy_grad(logits, labels),
        losses.softmax_cross_entropy_grad(logits, y),
        rtol=0,
        atol=1e-17,
    )
    np.testing.assert_allclose(
        losses.naive_cross_entropy_grad(logits, y), losses.softmax_cross_entropy_grad(logits, y), rtol=0, atol=1e-15
    )


def test_clipped_binary_cross_entropy_matches_its_formula(batch):
    logits, _, y = batch
    p = np.clip(losses.softmax(logits), 1e-10, 0.9999999)
    expected = -np.mean(np.sum(y * np.log(p) + (1 - y) * np.log(1 - p), axis=1))
    assert losses.clipped_binary_cross_entropy(logits, y) == pytest.approx(expected, rel=1e-14)
    # saturated logits: the clip keeps the loss finite
    big = np.array([[1e4] + [0.0] * 9])
    assert np.isfinite(losses.clipped_binary_cross_entropy(big, one_hot(np.array([3]), dtype=np.float64)))


def test_clip_blocks_the_gradient_outside_its_bounds():
    logits = np.array([[100.0] + [0.0] * 9])  # p0 ~ 1 > CLIP_MAX, the rest ~ e^-100 < CLIP_MIN
    y = one_hot(np.array([0]), dtype=np.float64)
    np.testing.assert_array_equal(losses.clipped_binary_cross_entropy_grad(logits, y), 0.0)


def test_loss_is_a_batch_mean(batch):
    logits, _, y = batch
    doubled = losses.softmax_cross_entropy(np.vstack([logits, logits]), np.vstack([y, y]))
    assert doubled == pytest.approx(losses.softmax_cross_entropy(logits, y), rel=1e-14)


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_gradient_against_finite_differences(batch, name):
    logits, labels, y = batch
    loss_fn, grad_fn = losses.LOSSES[name]
    target = labels if LOSS_FORMS[name] == "sparse" else y
    [row] = gradcheck.check_gradients(
        lambda: loss_fn(logits, target), {"z": logits}, {"z": grad_fn(logits, target)}, tolerance=TOL
    )
    assert row.passed, f"{name}: relative error {row.max_rel_error:.2e} > {TOL}"


@pytest.mark.parametrize(
    "wrong",
    [
        pytest.param(bugs.without_mean(losses.softmax_cross_entropy_grad), id="missing 1/N"),
        pytest.param(lambda z, y: (y - losses.softmax(z)) / len(z), id="wrong sign"),
        pytest.param(lambda z, y: losses.softmax_backward(y, losses.softmax(z)) / len(z), id="wrong chain"),
    ],
)
def test_negative_control_wrong_gradients_fail(batch, wrong):
    logits, _, y = batch
    [row] = gradcheck.check_gradients(
        lambda: losses.softmax_cross_entropy(logits, y), {"z": logits}, {"z": wrong(logits, y)}, tolerance=TOL
    )
    assert not row.passed and row.max_rel_error > 1e-3


def test_softmax_backward_is_the_jacobian_product():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(1, 5))
    g = rng.normal(size=(1, 5))
    p = losses.softmax(z)[0]
    jacobian = np.diag(p) - np.outer(p, p)  # dp_i/dz_j
    np.testing.assert_allclose(losses.softmax_backward(g, p[None])[0], g[0] @ jacobian, rtol=1e-13, atol=1e-16)


def test_l2_penalty_and_gradient():
    params = {"W1": np.full((2, 3), 2.0), "b1": np.ones(3)}
    assert losses.l2_penalty(params, 0.1) == pytest.approx(0.1 * 0.5 * 24)
    grads = losses.l2_penalty_grad(params, 0.1)
    assert set(grads) == {"W1"}
    np.testing.assert_allclose(grads["W1"], 0.2)
