"""The gradient checker itself: it must pass right answers and fail wrong ones."""

from __future__ import annotations

import numpy as np
import pytest

from scratch import gradcheck
from scratch.cli import main


def test_numerical_gradient_of_a_known_function():
    x = np.array([0.3, -1.2, 2.0])
    numeric = gradcheck.numerical_gradient(lambda: float(np.sum(np.sin(x) * x**2)), x)
    exact = np.cos(x) * x**2 + 2 * x * np.sin(x)
    # central differences, h = 1e-5: truncation h^2 f'''/6 ~ 1e-10
    np.testing.assert_allclose(numeric, exact, rtol=0, atol=1e-9)
    assert x.tolist() == [0.3, -1.2, 2.0]  # restored after perturbing


def test_float32_is_refused():
    with pytest.raises(TypeError, match="float64"):
        gradcheck.numerical_gradient(lambda: 0.0, np.zeros(2, np.float32))


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
    assert "negative control: a deliberately wrong gradient" in out and "FAIL (expected)" in out
    mlp = out[out.index("mlp model (32 hidden units)") :]
    assert "clipped_binary_cross_entropy W1 " in mlp
    assert " FAIL\n" not in out and "checks as expected" in out
