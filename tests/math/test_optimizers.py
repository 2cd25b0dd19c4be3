"""Optimizers against their equations, written a second time here, over many steps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scratch import bugs
from scratch.optimizers import SGD, Adagrad, Adam, make_optimizer

STEPS = 200


def _sequence(seed=0, shape=(7, 3), scale=1.0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1, shape), [scale * rng.normal(0, 1, shape) for _ in range(STEPS)]


def _run(opt, w0, grads):
    params = {"W1": w0.copy()}
    for g in grads:
        opt.apply({"W1": g}, params)
    return params["W1"]


def _lr(x):
    """Keras keeps the rate in float32, and casts momentum, betas and Adagrad's start through float32 too."""
    return float(np.float32(x))


def test_sgd_is_w_minus_lr_times_the_sum_of_gradients():
    w0, grads = _sequence()
    got = _run(SGD(0.1), w0, grads)
    # float64: 200 subtractions of O(0.1) terms round to ~1e-15 each.
    np.testing.assert_allclose(got, w0 - _lr(0.1) * np.sum(grads, axis=0), rtol=0, atol=1e-12)


def _assert_momentum_matches_textbook(opt):
    """The momentum check: the optimizer's 200 steps against the textbook heavy ball, v = mu v + g; w -= lr v."""
    w0, grads = _sequence(1)
    got = _run(opt, w0, grads)
    w, v = w0.copy(), np.zeros_like(w0)
    for g in grads:
        v = _lr(0.9) * v + g
        w = w - _lr(0.05) * v
    # Same trajectory for a constant rate; float64 over 200 steps agrees to ~1e-14.
    np.testing.assert_allclose(got, w, rtol=0, atol=1e-11)


def test_momentum_matches_the_textbook_form():
    _assert_momentum_matches_textbook(SGD(0.05, momentum=0.9))


def test_negative_control_momentum_with_the_wrong_sign_fails_the_same_check():
    with pytest.raises(AssertionError):
        _assert_momentum_matches_textbook(bugs.WrongSignMomentum(0.05, 0.9))


def test_adagrad_elementwise_reference():
    w0, grads = _sequence(2, shape=(4,))
    got = _run(Adagrad(0.01), w0, grads)
    for i in range(w0.size):  # one scalar at a time, in plain Python floats
        w, acc = float(w0[i]), _lr(0.1)
        for g in grads:
            acc += g[i] * g[i]
            w -= _lr(0.01) * g[i] / math.sqrt(acc + 1e-7)
        assert got[i] == pytest.approx(w, rel=1e-13, abs=1e-15)


def _assert_adam_matches_the_paper_with_epsilon_hat(opt):
    """Keras' folded form = Kingma & Ba's algorithm with eps_hat = eps * sqrt(1 - beta2^t), over 200 steps."""
    w0, grads = _sequence(3, scale=1e-3)  # small gradients make epsilon matter
    got = _run(opt, w0, grads)
    w, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    # Keras uses beta as float32(beta) in the bias corrections (ops.cast) but as exact Python floats in
    # the moment updates ((1 - beta_1) is plain arithmetic), so the reference does the same.
    b1, b2, eps, lr = _lr(0.9), _lr(0.999), 1e-7, _lr(0.001)
    for t, g in enumerate(grads, start=1):
        m = 0.9 * m + (1 - 0.9) * g
        v = 0.999 * v + (1 - 0.999) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        eps_paper = eps / math.sqrt(1 - b2**t)  # Keras' eps is eps_hat = eps_paper * sqrt(1 - b2^t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps_paper)
    # After 200 steps in float64 the two orders of operations agree to ~1e-15 relative per step.
    np.testing.assert_allclose(got, w, rtol=1e-11, atol=0)


def test_adam_equals_the_paper_with_epsilon_hat():
    _assert_adam_matches_the_paper_with_epsilon_hat(Adam(0.001))


def test_negative_control_adam_with_paper_epsilon_fails_the_same_check():
    with pytest.raises(AssertionError):
        _assert_adam_matches_the_paper_with_epsilon_hat(bugs.PaperEpsilonAdam(0.001))


def test_learning_rate_is_rounded_to_float32_like_keras():
    p = {"W1": np.zeros(1)}
    SGD(0.1).apply({"W1": np.ones(1)}, p)
    assert p["W1"][0] == -float(np.float32(0.1)) != -0.1


def test_momentum_and_adagrad_start_are_rounded_to_float32_like_keras():
    p = {"W1": np.zeros(1)}
    opt = SGD(1.0, momentum=0.9)
    opt.apply({"W1": np.ones(1)}, p)  # m = -1
    opt.apply({"W1": np.zeros(1)}, p)  # m = -momentum
    assert p["W1"][0] == -1 - float(np.float32(0.9))
    ada = Adagrad(0.1)
    ada.apply({"W1": np.zeros(1)}, {"W1": np.zeros(1)})
    assert ada.accumulators["W1"][0] == float(np.float32(0.1)) != 0.1


def test_float32_parameters_stay_float32():
    p = {"W1": np.zeros(3, np.float32)}
    opt = Adam(0.01)
    for _ in range(5):
        opt.apply({"W1": np.ones(3, np.float32)}, p)
    assert p["W1"].dtype == np.float32 and opt.iterations == 5


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: SGD(0.0), "learning_rate"),
        (lambda: SGD(-1), "learning_rate"),
        (lambda: SGD(float("nan")), "learning_rate"),
        (lambda: SGD(0.1, momentum=1.0), "momentum"),
        (lambda: Adam(0.1, beta_1=1.5), "beta_1"),
        (lambda: Adagrad(0.1, initial_accumulator_value=-1), "initial_accumulator_value"),
        (lambda: make_optimizer("rmsprop", 0.1), "unknown optimizer"),
    ],
)
def test_nonsense_hyperparameters_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_gradient_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="gradient W1"):
        SGD(0.1).apply({"W1": np.ones(2)}, {"W1": np.zeros(3)})
