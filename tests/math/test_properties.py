"""Properties that hold for every input, checked by hypothesis, each with a negative control that breaks it.

* softmax is invariant to a shift of each row's logits, and its rows sum to 1;
* log-softmax equals the log of softmax wherever that log is finite;
* every loss's hand-written gradient matches central differences, on random shapes and values;
* optimizers applied to zero gradients from a fresh start leave the parameters as they were.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from common.labels import one_hot
from common.spec import LOSS_FORMS
from scratch import bugs, gradcheck, losses
from scratch.optimizers import make_optimizer

SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def logits_and_shift(draw, low=-50.0, high=50.0):
    n, c = draw(st.integers(1, 8)), draw(st.integers(2, 12))
    values = st.floats(low, high, allow_nan=False, allow_infinity=False)
    z = draw(arrays(np.float64, (n, c), elements=values))
    shift = draw(arrays(np.float64, (n, 1), elements=st.floats(-1e3, 1e3)))
    return z, shift


# --- softmax --------------------------------------------------------------------------------------------


def assert_softmax_properties(softmax, z, shift):
    """Rows sum to 1; adding a constant to a row's logits changes nothing (float64: to 1e-12)."""
    p = softmax(z)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(softmax(z + shift), p, rtol=0, atol=1e-12)


@SETTINGS
@given(logits_and_shift())
def test_softmax_is_shift_invariant_and_sums_to_one(case):
    assert_softmax_properties(losses.softmax, *case)


def test_negative_control_softmax_over_the_whole_batch_fails():
    wrong = lambda z: np.exp(z - z.max()) / np.exp(z - z.max()).sum()  # noqa: E731  (normalises the batch, not rows)
    z, shift = np.array([[0.0, 1.0], [2.0, 3.0]]), np.array([[0.0], [5.0]])
    with pytest.raises(AssertionError):
        assert_softmax_properties(wrong, z, shift)


# --- log-softmax ------------------------------------------------------------------------------------------


def assert_log_softmax_is_log_of_softmax(log_softmax, z):
    """Wherever log(softmax(z)) is finite, log_softmax agrees with it: to 1e-12 relative, float64.

    "Finite" leaves out probabilities that underflowed to 0 (log is -inf) and the subnormal ones below
    2.2e-308, which keep fewer than 53 bits, so their log is itself inexact.
    """
    p = losses.softmax(z)
    with np.errstate(divide="ignore"):
        reference = np.log(p)
    finite = np.isfinite(reference) & (p >= np.finfo(np.float64).tiny)
    np.testing.assert_allclose(log_softmax(z)[finite], reference[finite], rtol=1e-12, atol=1e-12)


@SETTINGS
@given(logits_and_shift(low=-800.0, high=800.0))
def test_log_softmax_is_the_log_of_softmax_where_finite(case):
    assert_log_softmax_is_log_of_softmax(losses.log_softmax, case[0])


def test_negative_control_log_softmax_without_the_row_sum_fails():
    wrong = lambda z: z - z.max(axis=1, keepdims=True)  # noqa: E731  (forgets the log-sum-exp)
    with pytest.raises(AssertionError):
        assert_log_softmax_is_log_of_softmax(wrong, np.array([[0.0, 1.0, 2.0]]))


# --- every loss's gradient --------------------------------------------------------------------------------


@st.composite
def loss_case(draw):
    n = draw(st.integers(1, 6))
    z = draw(arrays(np.float64, (n, 10), elements=st.floats(-5, 5)))  # inside the clip of the MLP loss
    labels = np.array(draw(st.lists(st.integers(0, 9), min_size=n, max_size=n)))
    return z, labels


def _relative_error(name, grad_fn, z, labels):
    target = labels if LOSS_FORMS[name] == "sparse" else one_hot(labels, dtype=np.float64)
    loss_fn = losses.LOSSES[name][0]
    [row] = gradcheck.check_gradients(lambda: loss_fn(z, target), {"z": z}, {"z": grad_fn(z, target)})
    return row.max_rel_error


@SETTINGS
@pytest.mark.parametrize("name", list(losses.LOSSES))
@given(case=loss_case())
def test_every_loss_gradient_matches_finite_differences(name, case):
    # float64 central differences are good to ~1e-10 for these smooth losses; 1e-7 is scratch.gradcheck's bound
    assert _relative_error(name, losses.LOSSES[name][1], *case) <= gradcheck.TOLERANCE


@pytest.mark.parametrize("name", list(losses.LOSSES))
def test_negative_control_a_gradient_without_its_one_over_n_fails(name):
    z = np.random.default_rng(0).normal(0, 2, (4, 10))
    wrong = bugs.without_mean(losses.LOSSES[name][1])
    assert _relative_error(name, wrong, z, np.array([1, 2, 3, 4])) > 1e-2


# --- optimizers on zero gradients ------------------------------------------------------------------------


def assert_zero_gradients_change_nothing(optimizer, params):
    before = {k: v.copy() for k, v in params.items()}
    for _ in range(3):
        optimizer.apply({k: np.zeros_like(v) for k, v in params.items()}, params)
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])


@SETTINGS
@given(
    name=st.sampled_from(["sgd", "momentum", "adagrad", "adam"]),
    rate=st.floats(1e-4, 10),
    w=arrays(np.float64, (3, 4), elements=st.floats(-10, 10)),
)
def test_optimizers_on_zero_gradients_from_a_fresh_start_are_a_no_op(name, rate, w):
    assert_zero_gradients_change_nothing(make_optimizer(name, rate), {"W1": w})


class _WeightDecaySGD:
    """A deliberately wrong SGD that decays the weights even when the gradient is zero."""

    def apply(self, grads, params):
        for k, p in params.items():
            p -= 0.1 * (grads[k] + 0.01 * p)


def test_negative_control_zero_gradients_change_the_weights():
    with pytest.raises(AssertionError):
        assert_zero_gradients_change_nothing(_WeightDecaySGD(), {"W1": np.ones((2, 2))})


def test_momentum_keeps_moving_after_the_gradients_stop():
    """Where a no-op should not hold: momentum carries its velocity into steps with zero gradient."""
    params, opt = {"W1": np.ones((2, 2))}, make_optimizer("momentum", 0.1)
    opt.apply({"W1": np.ones((2, 2))}, params)
    with pytest.raises(AssertionError):
        assert_zero_gradients_change_nothing(opt, params)
