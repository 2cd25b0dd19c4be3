"""The Hessian-vector product by hand: against differences of the gradient, symmetric, and its power iteration
against an eigenvalue computed exactly (docs/math.md#hessian-vector-products)."""

from __future__ import annotations

import numpy as np
import pytest

from common.errors import UserError
from scratch import bugs, curvature, gradcheck, losses, models

TOL = gradcheck.TOLERANCE  # 1e-7: differences of the gradient along a unit direction measure 1e-11 to 5e-11
H = 1e-4  # along a unit direction, where those differences are best (compare/curvature.py)


def _case(model, seed=0, dtype=np.float64):
    params = models.init_params(
        model, hidden=(16,) if model == "mlp" else None, init="normal", std=0.1, seed=seed, dtype=dtype
    )
    rng = np.random.default_rng(seed + 1)
    params = {k: (p + rng.normal(0, 0.02, p.shape)).astype(dtype) for k, p in params.items()}  # biases not 0
    v = {k: rng.standard_normal(p.shape) for k, p in params.items()}
    norm = np.sqrt(sum(float(np.vdot(a, a)) for a in v.values()))
    return params, {k: (a / norm).astype(dtype) for k, a in v.items()}


@pytest.fixture(scope="module")
def batch(mnist):
    """12 real images in float64 (from the session's float32 copy: loading a float64 one costs seconds)."""
    return mnist.train.images[:12].astype(np.float64), mnist.train.labels[:12].copy()


def _differences(params, x, labels, v, kw):
    sides = []
    for sign in (1, -1):
        moved = {k: p + sign * H * v[k] for k, p in params.items()}
        grads = models.loss_and_grads(moved, x, labels, **kw)[1]
        sides.append(np.concatenate([g.ravel() for g in grads.values()]))
    return (sides[0] - sides[1]) / (2 * H)


CASES = [("linear", "relu", loss) for loss in sorted(losses.LOSSES)] + [
    ("mlp", act, loss) for act in ("relu", "sigmoid", "tanh") for loss in sorted(losses.LOSSES)
]


@pytest.mark.parametrize(("model", "activation", "loss"), CASES)
def test_hvp_against_differences_of_the_gradient(batch, model, activation, loss):
    x, labels = batch
    params, v = _case(model)
    kw = {"loss": loss, "l2": 1e-3, "activation": activation}
    hv = curvature.hvp(params, x, labels, v, **kw)
    assert list(hv) == list(params) and all(hv[k].shape == params[k].shape for k in params)
    err = gradcheck.relative_error(
        np.concatenate([a.ravel() for a in hv.values()]), _differences(params, x, labels, v, kw)
    )
    assert err < TOL, f"{model}/{activation}/{loss}: {err:.2e}"


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_the_hessian_is_symmetric(batch, activation):
    """u . (H v) = v . (H u): the R-operator computes a symmetric matrix's products, or it is wrong."""
    x, labels = batch
    params, u = _case("mlp", seed=3)
    _, v = _case("mlp", seed=4)
    kw = {"loss": "clipped_binary_cross_entropy", "l2": 1e-3, "activation": activation}
    hu, hv = curvature.hvp(params, x, labels, u, **kw), curvature.hvp(params, x, labels, v, **kw)
    left, right = sum(np.vdot(u[k], hv[k]) for k in params), sum(np.vdot(v[k], hu[k]) for k in params)
    assert abs(left - right) <= 1e-12 * (abs(left) + abs(right))  # float64 rounding of sums of ~10^4 terms


def test_the_clipped_losses_r_gradient_where_the_clip_is_active():
    """Rows with a probability clipped at both ends: the R-gradient against differences of the gradient."""
    rng = np.random.default_rng(5)
    z, rz = rng.normal(0, 2, (8, 10)), rng.standard_normal((8, 10))
    z[np.arange(4), np.arange(4)] += 30  # p = 1 - 1e-13 and p ~ 1e-14: outside [1e-10, 0.9999999], far from it
    y = np.eye(10)[np.arange(8) % 10]
    grad = losses.clipped_binary_cross_entropy_grad
    fd = (grad(z + H * rz, y) - grad(z - H * rz, y)) / (2 * H)
    ours = curvature.clipped_binary_cross_entropy_rgrad(z, y, rz)
    assert gradcheck.relative_error(ours, fd) < TOL
    assert np.allclose(ours[:4], 0, atol=1e-12)  # clipped rows: the loss is flat there, so is its gradient


def _exact_top_eigenvalue(params, x, labels):
    r"""The linear model's Hessian is :math:`\frac1N\sum_n \tilde x_n \tilde x_n^\top \otimes S_n` with
    :math:`\tilde x = (x, 1)` and :math:`S = \operatorname{diag}(p) - pp^\top`: :math:`BB^\top` for
    :math:`B = [\tilde x_n \otimes S_n^{1/2}]/\sqrt N`, whose nonzero eigenvalues are those of the small
    :math:`B^\top B`, blocks :math:`(\tilde x_n \cdot \tilde x_m) S_n^{1/2} S_m^{1/2} / N`."""
    n = len(x)
    xt = np.hstack([x, np.ones((n, 1))])
    p = losses.softmax(models.forward(params, x)[0])
    roots = []
    for row in p:
        w, q = np.linalg.eigh(np.diag(row) - np.outer(row, row))
        roots.append(q @ np.diag(np.sqrt(np.clip(w, 0, None))) @ q.T)
    gram = np.block([[(xt[i] @ xt[j]) * roots[i] @ roots[j] for j in range(n)] for i in range(n)]) / n
    return float(np.linalg.eigvalsh(gram)[-1])


def test_power_iteration_finds_the_exact_top_eigenvalue(batch):
    x, labels = batch[0][:5], batch[1][:5]
    params, _ = _case("linear", seed=7)
    exact = _exact_top_eigenvalue(params, x, labels)
    value, v = curvature.top_eigenvalue(params, x, labels, iterations=60)
    assert value == pytest.approx(exact, rel=1e-8)
    hv = curvature.hvp(params, x, labels, v)
    residual = np.sqrt(sum(float(np.sum((hv[k] - value * v[k]) ** 2)) for k in params))
    assert residual < 1e-3 * value  # an eigenvector: H v = lambda v (it converges half as fast as lambda)
    assert sum(float(np.vdot(a, a)) for a in v.values()) == pytest.approx(1.0)


def test_a_wrong_r_kernel_breaks_the_hvp(batch):
    """The negative control at the model's level: the dense R-backward without its dout V^T term."""
    x, labels = batch
    params, v = _case("mlp")
    hv = curvature.hvp(params, x, labels, v)
    fd = _differences(params, x, labels, v, {})
    ours = np.concatenate([a.ravel() for a in hv.values()])
    assert gradcheck.relative_error(ours, fd) < TOL
    dense = models.forward(params, x)[1][1][0]  # the second layer's dense cache
    dout, rdout = np.ones((len(x), 10)), np.ones((len(x), 10))
    right = curvature.dense_rbackward(dout, rdout, dense, (None, v["W2"]))[0]
    wrong = bugs.dense_rbackward_without_weight_term(dout, rdout, dense, (None, v["W2"]))[0]
    assert gradcheck.relative_error(right, wrong) > 1e-2


@pytest.mark.parametrize(
    ("v", "match"),
    [
        (lambda p: {**p, "W1": p["W1"][:-1]}, r"v\['W1'\] has shape \(783, 10\), the parameter \(784, 10\)"),
        (lambda p: {"W1": p["W1"]}, r"v\['b1'\] is missing"),
        (lambda p: {**p, "W9": p["W1"]}, r"keys \['W9'\]"),
    ],
    ids=["wrong shape", "missing key", "extra key"],
)
def test_a_direction_of_the_wrong_shape_is_one_line(batch, v, match):
    params, _ = _case("linear")
    with pytest.raises(UserError, match=match) as exc:
        curvature.hvp(params, *batch, v(params))
    assert "\n" not in str(exc.value)


def test_zero_power_iterations_is_one_line(batch):
    params, _ = _case("linear")
    with pytest.raises(UserError, match="iterations must be a whole number > 0, got 0"):
        curvature.top_eigenvalue(params, *batch, iterations=0)
