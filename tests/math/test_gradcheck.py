"""The gradient checker itself: it must pass right answers and fail wrong ones."""

from __future__ import annotations

import numpy as np
import pytest

from scratch import convcheck, gradcheck, losses, models
from scratch.cli import main


def test_numerical_gradient_of_a_known_function():
    x = np.array([0.3, -1.2, 2.0])
    numeric = gradcheck.numerical_gradient(lambda: float(np.sum(np.sin(x) * x**2)), x)
    exact = np.cos(x) * x**2 + 2 * x * np.sin(x)
    # central differences, h = 1e-5: truncation h^2 f'''/6 ~ 1e-10
    np.testing.assert_allclose(numeric, exact, rtol=0, atol=1e-9)
    assert x.tolist() == [0.3, -1.2, 2.0]  # restored after perturbing


def test_other_dtypes_are_refused_and_float32_gets_its_own_step():
    """float16 and integers cannot be differenced; float32 steps by its own h* (1e-2), not float64's 1e-5."""
    for dtype in (np.float16, np.int64):
        with pytest.raises(TypeError, match="float64"):
            gradcheck.numerical_gradient(lambda: 0.0, np.zeros(2, dtype))
    x = np.array([0.5, -1.0], np.float32)
    numeric = gradcheck.numerical_gradient(lambda: float(np.sum(x.astype(np.float64) ** 3)), x)
    # a cubic's central difference is 3x^2 + h^2 (truncation h^2 f'''/6, f''' = 6), so h = 1e-2 shows as
    # +1e-4; float32 rounds x +- h to within u|x| = 6e-8, which moves the quotient by up to 3 * 6e-8 / 0.02
    np.testing.assert_allclose(numeric, 3 * x.astype(np.float64) ** 2 + 1e-4, rtol=0, atol=1e-5)


def test_relative_error_scale_and_floor():
    assert gradcheck.relative_error(np.array([1.0, 0.0]), np.array([1.0, 1e-9])) == pytest.approx(1e-9 / 2)
    assert gradcheck.relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert gradcheck.relative_error(np.array([1e-12]), np.array([0.0])) == pytest.approx(1e-4)  # floor 1e-8


def test_negative_control_a_too_coarse_step_fails():
    """Like tinygrad's gradcheck test: with h = 1 the difference quotient is wrong, and the check says so."""
    x = np.array([0.3, -1.2, 2.0])
    f = lambda: float(np.sum(np.exp(x)))  # noqa: E731
    [good] = gradcheck.check_gradients(f, {"x": x}, {"x": np.exp(x)})
    [coarse] = gradcheck.check_gradients(f, {"x": x}, {"x": np.exp(x)}, h=1.0)
    assert good.passed and not coarse.passed


def test_gradcheck_command_passes_and_reports_the_control(capsys):
    assert main(["gradcheck", "--samples", "10"]) == 0
    out = capsys.readouterr().out
    assert "negative control: deliberately wrong gradients" in out and out.count("FAIL (expected)") == 4
    for name in ("conv2d stride 2, valid: dx", "max_pool 2x2: dx", "kernel not flipped", "col2im overwriting"):
        assert name in out, name
    mlp = out[out.index("mlp model (32 hidden units)") :]
    assert "clipped_binary_cross_entropy W1 " in mlp
    assert " FAIL\n" not in out and "checks as expected" in out
    assert "kinks: no step crossed one" in out  # these weights keep every ReLU input away from 0


def test_a_step_across_a_relu_kink_is_flagged_not_failed():
    """A pre-activation h/2 above 0: the b1 step of +-h carries it across ReLU's kink (docs/math.md#kinks).

    The analytic gradient is right (the unit is on); the difference quotient averages "on" and "off" and is
    wrong by far more than the 1e-7 threshold. Without the probe the row fails; with it the crossing
    coordinates are counted apart, named by their kink, and the rest pass.
    """
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (4, 784))
    labels = np.array([3, 1, 4, 1])
    params = models.init_params("mlp", hidden=(8,), init="normal", std=0.05, seed=0, dtype=np.float64)
    h = gradcheck.STEPS["float64"]
    a = x @ params["W1"] + params["b1"]  # (4, 8) pre-activations
    params["b1"][2] -= a[0, 2] - h / 2  # example 0's unit 2 now sits h/2 above its kink
    assert 0 < (x @ params["W1"] + params["b1"])[0, 2] < h
    _, grads = models.loss_and_grads(params, x, labels)
    f = lambda: models.loss_and_grads(params, x, labels)[0]  # noqa: E731
    blind = {r.check: r for r in gradcheck.check_gradients(f, params, grads)}
    probed = {r.check: r for r in gradcheck.check_gradients(f, params, grads, kinks=gradcheck.model_kinks(params, x))}
    assert not blind["b1"].passed and blind["b1"].max_rel_error > 1e-3  # the kink alone breaks the check
    assert all(r.passed for r in probed.values()), [(r.check, r.max_rel_error) for r in probed.values()]
    assert probed["b1"].note == "1 coordinates crossed a kink, left out (ReLU of layer 1: 1)"
    assert probed["b1"].coords == 7  # the other 7 biases were compared
    _, crossed = gradcheck.differences(f, params["b1"], kinks=gradcheck.model_kinks(params, x))
    np.testing.assert_array_equal(crossed["ReLU of layer 1"], np.arange(8) == 2)  # exactly that coordinate
    assert probed["W2"].note == "" and probed["W2"].coords == params["W2"].size  # W2 moves no ReLU input


def test_the_clip_bounds_are_kinks_too():
    """A probability h-close to the clip's lower bound: the logit's step crosses it, and is reported so."""
    from common.spec import CLIP_MIN

    z = np.zeros((1, 10))
    # p_0 = 1e-10 (1 + 3e-6): a step of h = 1e-5 in z_0 moves log p_0 by h, across the bound; a step in
    # another logit moves it by h p_j = h / 9 = 1.1e-6, which stays above it
    z[0, 0] = np.log(9 * CLIP_MIN / (1 - CLIP_MIN)) + 3e-6
    y = np.eye(10)[[1]]
    p = losses.softmax(z)[0, 0]
    assert CLIP_MIN * (1 + 2e-6) < p < CLIP_MIN * (1 + 4e-6)
    probe = lambda: {"clip at 1e-10": losses.softmax(z) >= CLIP_MIN}  # noqa: E731
    loss = lambda: losses.clipped_binary_cross_entropy(z, y)  # noqa: E731
    _, crossed = gradcheck.differences(loss, z, kinks=probe)
    assert crossed["clip at 1e-10"].tolist() == [True] + [False] * 9


def test_the_command_lists_the_coordinates_a_kink_took_out(monkeypatch, capsys):
    """Each row whose steps crossed a kink is named under the table, with its count per kink."""
    from common.rows import Row

    note = "2 coordinates crossed a kink, left out (ReLU of layer 1: 2)"
    row = Row("softmax_cross_entropy b1", "float64", 1e-11, 1e-10, 1e-7, True, note, "mlp model", coords=8)
    monkeypatch.setattr(gradcheck, "gradcheck_table", lambda data_dir, samples: [row])
    monkeypatch.setattr(convcheck, "conv_gradcheck_table", lambda x, labels, samples: [])
    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    assert f"kinks: coordinates left out, not failed:\n  mlp model: softmax_cross_entropy b1: {note}" in out
