"""Convolution, pooling and dropout by hand (scratch/conv.py): the loops equal the matrix product, the backward
passes equal central differences in float64, and each of the three wrong backwards of scratch/bugs.py fails."""

from __future__ import annotations

import numpy as np
import pytest

from common.errors import UserError
from scratch import bugs, conv, gradcheck

# float64 against central differences with h = 1e-5: the quotient is exact for these bilinear (conv) and
# piecewise-linear (pool away from ties) functions up to rounding, about u |f| / h = 1e-16 * 10 / 1e-5 = 1e-10
# relative; gradcheck.TOLERANCE (1e-7) is the project's one bound and leaves 1000x margin.
TOL = gradcheck.TOLERANCE
# im2col against the loops: the same products summed in another order, 75 terms here: ~75 u = 1e-14.
EXACT = 1e-12

#: (H, W, C, kernel, c_out, stride, padding): odd and even sizes, stride 1, 2 and 3, both paddings.
CASES = [
    (7, 7, 2, 3, 3, 1, "same"),
    (6, 5, 2, 3, 2, 2, "same"),
    (8, 8, 1, 5, 2, 2, "valid"),
    (5, 5, 3, 4, 2, 3, "same"),
    (9, 7, 2, 3, 2, 1, "valid"),
]


def _draw(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


def _case(h, w, c, k, c_out, batch=2):
    return _draw((batch, h, w, c), 1), _draw((k, k, c, c_out), 2), _draw((c_out,), 3)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("batch", [1, 3])
def test_the_loops_equal_the_matrix_product(case, batch):
    h, w, c, k, c_out, stride, padding = case
    x, W, b = _case(h, w, c, k, c_out, batch)
    ours, _ = conv.conv2d_forward(x, W, b, stride, padding)
    loops = conv.conv2d_naive(x, W, b, stride, padding)
    assert ours.shape == loops.shape
    assert np.max(np.abs(ours - loops)) < EXACT * np.max(np.abs(loops))


@pytest.mark.parametrize(
    ("size", "k", "stride", "padding", "out"),
    [
        (28, 5, 1, "same", 28),
        (28, 5, 2, "same", 14),
        (7, 5, 2, "same", 4),
        (28, 5, 1, "valid", 24),
        (8, 5, 2, "valid", 2),
    ],
)
def test_output_sizes_are_tensorflows(size, k, stride, padding, out):
    x, W, b = _draw((1, size, size, 1), 0), _draw((k, k, 1, 2), 1), np.zeros(2)
    assert conv.conv2d_forward(x, W, b, stride, padding)[0].shape == (1, out, out, 2)


@pytest.mark.parametrize("k", [1, 5])
def test_im2col_is_a_new_writable_array(k):
    """Built from a read-only view of the windows, it must still come back as its own array: for a 1x1 kernel
    the transposed view is already contiguous, where a copy "only if needed" would hand back the view."""
    x = _draw((2, 6, 6, 3), 6)
    cols = conv.im2col(x, k, k)
    assert cols.flags.writeable and not np.shares_memory(cols, x)


@pytest.mark.parametrize("case", CASES)
def test_col2im_is_the_adjoint_of_im2col(case):
    """<im2col(x), C> = <x, col2im(C)> for every x and C: col2im is im2col's transpose, which is what the backward
    needs. The overwriting col2im is not (where windows overlap)."""
    h, w, c, k, _, stride, padding = case
    x = _draw((2, h, w, c), 4)
    cols = conv.im2col(x, k, k, stride, padding)
    C = _draw(cols.shape, 5)
    left = np.vdot(cols, C)
    assert abs(left - np.vdot(x, conv.col2im(C, x.shape, k, k, stride, padding))) < 1e-10 * abs(left)
    wrong = np.vdot(x, bugs.col2im_overwriting(C, x.shape, k, k, stride, padding))
    assert abs(left - wrong) > 1e-3 * abs(left)


def _conv_rows(case, backward, batch=2):
    h, w, c, k, c_out, stride, padding = case
    x, W, b = _case(h, w, c, k, c_out, batch)
    out, cache = conv.conv2d_forward(x, W, b, stride, padding)
    G = _draw(out.shape, 6)  # the loss sum(out * G) has dout = G
    dx, dW, db = backward(G, cache)
    params = {"x": x, "W": W, "b": b}
    return gradcheck.check_gradients(
        lambda: float(np.vdot(conv.conv2d_forward(x, W, b, stride, padding)[0], G)),
        params,
        {"x": dx, "W": dW, "b": db},
        tolerance=TOL,
    )


@pytest.mark.parametrize("case", CASES)
def test_conv2d_backward_against_central_differences(case):
    rows = _conv_rows(case, conv.conv2d_backward)
    assert all(r.passed for r in rows), [(r.check, r.max_rel_error) for r in rows]


def test_conv2d_backward_at_batch_one():
    rows = _conv_rows(CASES[0], conv.conv2d_backward, batch=1)
    assert all(r.passed for r in rows), [(r.check, r.max_rel_error) for r in rows]


@pytest.mark.parametrize("wrong", [bugs.conv2d_backward_unflipped, bugs.conv2d_backward_overwriting])
def test_the_wrong_conv_backwards_fail_the_same_check(wrong):
    """Negative controls: only dx is wrong in each, and only dx's row fails."""
    rows = {r.check: r for r in _conv_rows(CASES[0], wrong)}
    assert not rows["x"].passed and rows["x"].max_rel_error > 1e-2
    assert rows["W"].passed and rows["b"].passed


def test_dx_is_a_convolution_with_the_flipped_kernel():
    """The docstring's claim, at stride 1 with 'same' padding and an odd kernel: dx is dout convolved (forward
    pass) with W turned 180 degrees and its channel axes swapped."""
    x, W, b = _case(7, 7, 2, 3, 3)
    out, cache = conv.conv2d_forward(x, W, b)
    dout = _draw(out.shape, 7)
    dx, _, _ = conv.conv2d_backward(dout, cache)
    flipped = W[::-1, ::-1].transpose(0, 1, 3, 2)  # (kh, kw, c_out, c_in)
    assert np.allclose(dx, conv.conv2d_naive(dout, flipped, np.zeros(2)), rtol=0, atol=1e-12)
    unflipped = conv.conv2d_naive(dout, W.transpose(0, 1, 3, 2), np.zeros(2))
    assert not np.allclose(dx, unflipped, atol=1e-3)


def test_need_dx_false_skips_only_dx():
    x, W, b = _case(7, 7, 2, 3, 3)
    out, cache = conv.conv2d_forward(x, W, b)
    full, short = conv.conv2d_backward(out, cache), conv.conv2d_backward(out, cache, need_dx=False)
    assert short[0] is None and np.array_equal(full[1], short[1]) and np.array_equal(full[2], short[2])


# --- max-pooling -----------------------------------------------------------------------------------------


def test_max_pool_forward_takes_each_windows_max_and_drops_an_odd_edge():
    x = _draw((2, 5, 4, 3), 8)
    out, _ = conv.max_pool_forward(x)
    assert out.shape == (2, 2, 2, 3)
    assert out[1, 1, 0, 2] == x[1, 2:4, 0:2, 2].max()


def _pool_rows(backward):
    x = _draw((2, 6, 4, 3), 9)  # continuous draws: no ties, and a step of 1e-5 changes no argmax
    out, cache = conv.max_pool_forward(x)
    G = _draw(out.shape, 10)
    return gradcheck.check_gradients(
        lambda: float(np.vdot(conv.max_pool_forward(x)[0], G)), {"x": x}, {"x": backward(G, cache)}, tolerance=TOL
    )


def test_max_pool_backward_against_central_differences():
    (r,) = _pool_rows(conv.max_pool_backward)
    assert r.passed, r.max_rel_error


def test_max_pool_backward_to_every_position_fails():
    """Negative control: the gradient sent to all four pixels of each window."""
    (r,) = _pool_rows(bugs.max_pool_backward_to_every_position)
    assert not r.passed and r.max_rel_error > 0.1


def test_max_pool_ties_go_to_the_first_maximum_in_row_major_order():
    """TensorFlow's choice (checked against tf.nn.max_pool2d's gradient in tests/test_cnn_twins.py)."""
    x = np.zeros((1, 4, 4, 1))
    x[0, 0:2, 2:4, 0] = [[0, 2], [2, 2]]  # top-right window: three tied maxima, the first at (0, 3)
    out, cache = conv.max_pool_forward(x)
    dx = conv.max_pool_backward(np.ones_like(out), cache)[0, :, :, 0]
    want = np.zeros((4, 4))
    want[0, 0] = want[0, 3] = want[2, 0] = want[2, 2] = 1  # all-zero windows tie too: their top-left pixel
    assert np.array_equal(dx, want), dx


# --- dropout ---------------------------------------------------------------------------------------------


def test_dropout_mask_is_inverted_and_reproducible():
    rng = np.random.default_rng(0)
    m = conv.dropout_mask(rng, (200, 128), 0.5, "float64")
    assert set(np.unique(m)) == {0.0, 2.0}
    # 25,600 draws of mean 1 and variance 1: the mean's standard error is 1/160, so 0.03 is ~5 sigma
    assert abs(m.mean() - 1) < 0.03
    assert np.array_equal(m, conv.dropout_mask(np.random.default_rng(0), (200, 128), 0.5, "float64"))


def test_dropout_backward_against_central_differences():
    x = _draw((4, 6), 11)
    mask = conv.dropout_mask(np.random.default_rng(1), x.shape, 0.3, "float64")
    G = _draw(x.shape, 12)
    out, cache = conv.dropout_forward(x, mask)
    assert np.array_equal(out == 0, mask == 0)
    (r,) = gradcheck.check_gradients(
        lambda: float(np.vdot(conv.dropout_forward(x, mask)[0], G)),
        {"x": x},
        {"x": conv.dropout_backward(G, cache)},
        tolerance=TOL,
    )
    assert r.passed


# --- bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "stride", "padding", "says"),
    [
        ((1, 4, 4, 1), (5, 5, 1, 2), 1, "valid", "does not fit"),
        ((1, 8, 8, 1), (3, 3, 1, 2), 0, "same", "stride"),
        ((1, 8, 8, 2), (3, 3, 1, 2), 1, "same", "channels"),
        ((1, 8, 8, 1), (3, 3, 1, 2), 1, "full", "padding"),
        ((8, 8), (3, 3, 1, 2), 1, "same", "(N, H, W, C)"),
    ],
)
def test_a_convolution_that_does_not_fit_is_one_line(x_shape, w_shape, stride, padding, says):
    with pytest.raises(UserError) as info:
        conv.conv2d_forward(np.zeros(x_shape), np.zeros(w_shape), np.zeros(2), stride, padding)
    assert says in str(info.value) and "\n" not in str(info.value)
