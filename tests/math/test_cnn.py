"""The CNN by hand (scratch/cnn.py through scratch/models.py's seam): shapes, its gradient against central
differences on real digits, dropout in training only, evaluation in batches, and bad input in one line."""

from __future__ import annotations

import numpy as np
import pytest

from common.config import RunConfig
from common.errors import UserError
from common.labels import one_hot
from common.spec import EVAL_BATCH
from scratch import conv, gradcheck, losses, models

TOL = gradcheck.TOLERANCE  # 1e-7, the project's float64 bound; correct gradients measure 1e-10..2e-9 here


@pytest.fixture(scope="module")
def batch(mnist64):
    return mnist64.train.images[:3].copy(), mnist64.train.labels[:3].copy()


def _params(seed=0):
    """Glorot weights and small random biases: zero biases put every blank pixel's ReLU input exactly on 0."""
    params = models.init_params("cnn", init="glorot_uniform", seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed + 1)
    return {k: v if k[0] == "W" else rng.normal(0, 0.1, v.shape) for k, v in params.items()}


def test_shapes_follow_tensorflows_layouts(batch):
    params = _params()
    assert {k: v.shape for k, v in params.items()} == {
        "W1": (5, 5, 1, 16), "b1": (16,), "W2": (5, 5, 16, 36), "b2": (36,),
        "W3": (1764, 128), "b3": (128,), "W4": (128, 10), "b4": (10,),
    }  # fmt: skip
    logits, caches = models.forward(params, batch[0])
    assert logits.shape == (3, 10) and caches["conv2"][2][0].shape == (3, 7, 7, 36)
    grads, dx = models.backward(np.ones_like(logits), caches, need_dx=True)
    assert list(grads) == list(params) and all(grads[k].shape == params[k].shape for k in params)
    assert dx.shape == (3, 28, 28, 1)


@pytest.mark.parametrize(("dropout", "activation"), [(False, "tanh"), (True, "relu")])
def test_loss_and_grads_against_central_differences(batch, dropout, activation):
    """Sampled coordinates of every parameter. A step that moves a max-pool's winner or a ReLU's sign is a kink,
    counted and left out. With ReLU they are everywhere: thousands of conv-2 units, and a few within a step's
    reach of 0 for every first-layer coordinate. With tanh only pooling's ties are left, so that run compares
    nearly every coordinate and checks the convolutions' backward through the whole network. Dropout's mask
    acts after the dense layer, whatever the activation, so one of the two runs carries it (2 runs, not 4:
    2 s each here, in the fast tier)."""
    x, labels = batch
    params = _params()
    mask = conv.dropout_mask(np.random.default_rng(2), (3, 128), 0.5, "float64") if dropout else None
    kw = {"l2": 1e-3, "mask": mask, "activation": activation}
    _, grads = models.loss_and_grads(params, x, labels, **kw)
    rows = gradcheck.check_gradients(
        lambda: models.loss_and_grads(params, x, labels, **kw)[0],
        params,
        grads,
        tolerance=TOL,
        samples=8,
        kinks=gradcheck.model_kinks(params, x, activation=activation),
    )
    # with ReLU every step of the first layer's W1, b1 may cross some conv-2 unit's kink: nothing left to compare
    skipped = {"W1", "b1"} if activation == "relu" else set()
    assert all(r.passed or (r.check in skipped and r.coords == 0) for r in rows), [
        (r.check, r.max_rel_error, r.note) for r in rows
    ]
    assert sum(r.coords for r in rows) >= (60 if activation == "tanh" else 40)  # of 64 sampled


def test_dropout_acts_in_training_only(batch):
    """A mask changes the training loss; predict and evaluate take none, so they are deterministic."""
    x, labels = batch
    params = _params()
    mask = conv.dropout_mask(np.random.default_rng(3), (3, 128), 0.5, "float64")
    plain, _ = models.loss_and_grads(params, x, labels)
    dropped, _ = models.loss_and_grads(params, x, labels, mask=mask)
    assert abs(plain - dropped) > 1e-6
    assert plain == models.evaluate(params, x, labels)[0]
    assert np.array_equal(models.predict(params, x), models.forward(params, x)[0].argmax(axis=1))


def test_evaluation_runs_in_batches_with_the_same_numbers(mnist):
    """260 images, float32: two batches of EVAL_BATCH; the same numbers as one pass. Rows are independent,
    but a product of 260 rows and one of 250 may block their sums differently: float32 rounding, ~1e-7."""
    x, labels = mnist.test.images[:260], mnist.test.labels[:260]
    params = models.init_params("cnn", init="glorot_uniform", seed=0)
    assert EVAL_BATCH < len(x) < 2 * EVAL_BATCH
    logits, _ = models.forward(params, x)  # one pass
    loss, acc = models.evaluate(params, x, labels)  # two batches
    assert acc == np.mean(logits.argmax(axis=1) == labels)
    assert abs(loss - losses.softmax_cross_entropy(logits, one_hot(labels))) < 1e-5


def test_images_that_are_not_28x28_are_one_line():
    params = _params()
    with pytest.raises(UserError, match="28x28"):
        models.predict(params, np.zeros((2, 32, 32, 1)))
    assert models.predict(params, np.zeros((2, 28, 28, 1))).shape == (2,)


@pytest.mark.parametrize(
    ("kw", "says"),
    [
        ({"hidden": (64,)}, "drop --hidden"),
        ({"model": "mlp", "dropout": 0.5}, "cnn only"),
        ({"dropout": 1.0}, "dropout"),
    ],
)
def test_flags_that_do_not_apply_are_one_line(kw, says):
    with pytest.raises(UserError, match=says):
        RunConfig(**{"model": "cnn", **kw})
