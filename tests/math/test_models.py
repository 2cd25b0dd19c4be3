"""Both models: shapes, input validation, and hand-written backprop against finite differences on real MNIST."""

from __future__ import annotations

import numpy as np
import pytest

from common.errors import InputTypeError, UserError
from scratch import bugs, gradcheck, layers, losses, models

TOL = gradcheck.TOLERANCE  # 1e-7: central differences measure 1e-10..2e-9 on these batches (scratch/gradcheck.py)


def _params(model, seed=0):
    hidden = (24,) if model == "mlp" else None
    std = 0.1 if model == "linear" else 0.05
    return models.init_params(model, hidden=hidden, init="normal", std=std, seed=seed, dtype=np.float64)


@pytest.fixture(scope="module")
def batch(mnist64):
    return mnist64.train.images[:12].copy(), mnist64.train.labels[:12].copy()


def _away_from_kinks(params, x, h=1e-5):
    """True when no ReLU pre-activation lies within reach of a perturbation.

    Moving one weight or bias by h moves a pre-activation by at most h * max(x, 1) = h (pixels <= 1),
    so a margin of 10 h means no difference quotient straddles a kink.
    """
    z = x @ params["W1"] + params["b1"]
    return len(params) == 2 or np.min(np.abs(z)) > 10 * h


@pytest.mark.parametrize("model", ["linear", "mlp"])
@pytest.mark.parametrize("loss", sorted(losses.LOSSES))
def test_loss_and_grads_against_finite_differences(batch, model, loss):
    x, labels = batch
    params = _params(model)
    assert _away_from_kinks(params, x), "pick another seed: a ReLU input sits on its kink"
    _, grads = models.loss_and_grads(params, x, labels, loss=loss, l2=1e-3)
    rows = gradcheck.check_gradients(
        lambda: models.loss_and_grads(params, x, labels, loss=loss, l2=1e-3)[0],
        params,
        grads,
        tolerance=TOL,
        samples=40,
    )
    bad = [f"{r.check}: {r.max_rel_error:.2e}" for r in rows if not r.passed]
    assert not bad, f"{model}/{loss} gradients off: {bad}"


@pytest.mark.parametrize("model", ["linear", "mlp"])
def test_batch_of_one_against_finite_differences(batch, model):
    """One example takes dense_backward's np.dot branch (the outer product): same check, same bound."""
    x, labels = batch[0][:1], batch[1][:1]
    params = _params(model)
    assert _away_from_kinks(params, x)
    _, grads = models.loss_and_grads(params, x, labels)
    rows = gradcheck.check_gradients(
        lambda: models.loss_and_grads(params, x, labels)[0], params, grads, tolerance=TOL, samples=40
    )
    assert all(r.passed for r in rows), [(r.check, r.max_rel_error) for r in rows]
    np.testing.assert_allclose(
        grads["W1"], models.loss_and_grads(params, x.repeat(2, axis=0), labels.repeat(2))[1]["W1"]
    )


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_other_activations_backprop(batch, activation):
    x, labels = batch
    params = _params("mlp")
    _, grads = models.loss_and_grads(params, x, labels, activation=activation)
    rows = gradcheck.check_gradients(
        lambda: models.loss_and_grads(params, x, labels, activation=activation)[0],
        params,
        grads,
        tolerance=TOL,
        samples=40,
    )
    assert all(r.passed for r in rows), [(r.check, r.max_rel_error) for r in rows]


def test_negative_control_wrong_relu_backward_fails(batch, monkeypatch):
    """A ReLU backward that passes the gradient everywhere (forgets the mask) must be caught."""
    x, labels = batch
    params = _params("mlp")
    monkeypatch.setitem(layers.ACTIVATIONS, "relu", (layers.relu_forward, bugs.relu_backward_without_mask))
    _, wrong = models.loss_and_grads(params, x, labels)
    monkeypatch.undo()
    rows = gradcheck.check_gradients(
        lambda: models.loss_and_grads(params, x, labels)[0], params, wrong, tolerance=TOL, samples=40
    )
    failed = {r.check for r in rows if not r.passed}
    assert {"W1", "b1"} <= failed  # the layer below the ReLU sees the wrong gradient
    assert "W2" not in failed  # the layer above does not


def test_negative_control_bias_gradient_with_the_wrong_sign_fails(batch):
    x, labels = batch
    params = _params("linear")
    _, grads = models.loss_and_grads(params, x, labels)
    grads = dict(grads, b1=-grads["b1"])
    rows = gradcheck.check_gradients(lambda: models.loss_and_grads(params, x, labels)[0], params, grads, tolerance=TOL)
    assert [r.passed for r in rows] == [True, False]


def test_input_grad_against_finite_differences(batch):
    x, _ = batch
    params = _params("mlp")
    x10 = x[:10].copy()
    _, dx = models.input_grad(params, x10)
    for k in (0, 3, 9):
        row = x10[k : k + 1].copy()
        numeric = gradcheck.numerical_gradient(lambda r=row, k=k: float(models.forward(params, r)[0][0, k]), row)
        assert gradcheck.relative_error(dx[k : k + 1], numeric) < TOL


def test_shapes_names_and_dtypes():
    p = models.init_params("mlp", hidden=(300, 100), init="glorot_uniform", dtype=np.float64)
    assert list(p) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert [a.shape for a in p.values()] == [(784, 300), (300,), (300, 100), (100,), (100, 10), (10,)]
    assert all(a.dtype == np.float64 for a in p.values())
    x = np.zeros((5, 784))
    _, grads = models.loss_and_grads(p, x, np.arange(5))
    assert list(grads) == list(p) and all(grads[k].shape == p[k].shape for k in p)
    assert models.forward(p, x)[0].shape == (5, 10)


def test_zero_model_predicts_class_zero(mnist):
    params = models.init_params("linear", init="zeros")
    assert np.all(models.predict(params, mnist.test.images) == 0)
    # README fact: 980 of the 10000 test digits are zeros, so exactly 9.8%.
    assert models.accuracy(params, mnist.test.images, mnist.test.labels) == 0.098


def test_same_seed_same_params_different_seed_different():
    a = models.init_params("mlp", init="normal", seed=3)
    b = models.init_params("mlp", init="normal", seed=3)
    c = models.init_params("mlp", init="normal", seed=4)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["W1"], c["W1"])


def test_truncated_normal_stays_within_two_std():
    w = models.init_params("mlp", init="truncated_normal", std=0.01, seed=0)["W1"]
    assert np.max(np.abs(w)) < 0.02
    # std of N(0,1) truncated at +-2 is 0.8796; 235200 draws pin it to about +-0.002.
    assert w.std() == pytest.approx(0.01 * 0.8796, rel=0.01)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda p: models.predict(p, np.zeros((4, 28, 28), np.float32)), UserError, r"shape \(N, 784\)"),
        (
            lambda p: models.predict(p, np.zeros((4, 784), np.float64)),
            InputTypeError,
            "float64 but the parameters are float32",
        ),
        (
            lambda p: models.evaluate(p, np.zeros((4, 784), np.float32), np.zeros(3, int)),
            UserError,
            "one row per example",
        ),
        (
            lambda p: models.evaluate(p, np.zeros((4, 784), np.float32), np.zeros(4)),
            InputTypeError,
            "integer class ids",
        ),
        (lambda p: models.init_params("rnn"), UserError, "unknown model"),
        (lambda p: models.init_params("linear", hidden=(10,)), UserError, "no hidden layer"),
        (lambda p: models.init_params("mlp", init="ones"), UserError, "unknown init"),
    ],
)
def test_bad_input_is_named_where_it_comes_in(call, error, match):
    """predict, evaluate and init_params check what a user hands them, with the project's error types."""
    with pytest.raises(error, match=match):
        call(models.init_params("linear"))


def test_the_kernels_trust_their_inputs():
    """forward and loss_and_grads run inside every training step and check nothing: a wrong shape is
    NumPy's own error, with its traceback, not one of the project's (which would read as the user's fault)."""
    params = models.init_params("linear")
    with pytest.raises(ValueError, match="matmul") as info:
        models.forward(params, np.zeros((4, 28, 28), np.float32))
    assert not isinstance(info.value, UserError)
