r"""The CNN's rows in the existing families: its kernels and its whole network, by hand against TensorFlow.

* ``forward``: the CNN's logits.
* ``gradients``: ``loss_and_grads`` by hand against the tape (both dtypes), and both against central
  differences (float64, sampled; the network with tanh, which has no kinks but pooling's ties, see below).
* ``layers``: :func:`scratch.conv.conv2d_backward` against the tape's vector-Jacobian product through
  ``tf.nn.conv2d`` at stride 1 and 2, 'same' and 'valid', batch 4 and 1; col2im against the tape through
  ``tf.image.extract_patches``; max-pooling's backward on random and on tied windows; dropout's; the whole
  :func:`scratch.cnn.backward`.
* ``train`` and ``crossload``: :func:`cnn_lockstep` trains both twins step by step from the same start on the
  same batches with the same dropout masks, drawn once in NumPy and fed to both.

Tolerances are :mod:`compare.checks`'s. The sums here are longer than a dense layer's 784 terms (the
second convolution's ``dW`` sums ``N x 196`` products, 784 at batch 4), and the float32 bound still
holds them with room: measured at most 3.4e-7 relative (``python -m compare gradients layers``).

Central differences of a ReLU network are poor here: a step of :math:`10^{-5}` in a first-layer weight
moves thousands of conv-2 inputs, and some lie within reach of 0, so nearly every such step crosses a
kink; and MNIST's blank background ties max-pool windows exactly. The difference rows therefore use the
same network with tanh, and leave out (and count, in the note) the coordinates whose step moved a
max-pool's winner (:func:`scratch.gradcheck.model_kinks`).
"""

from __future__ import annotations

import numpy as np

import scratch.cnn as np_cnn
import scratch.conv as np_conv
import scratch.models as np_models
import scratch.optimizers as np_optimizers
import tfimpl.cnn as tf_cnn
import tfimpl.conv as tf_conv
import tfimpl.models as tf_models
import tfimpl.optimizers as tf_optimizers
from common.data import Datasets, batch_indices
from common.labels import one_hot
from common.rows import Row
from common.spec import CNN
from scratch.gradcheck import differences, model_kinks
from tfimpl.backend import tf
from tfimpl.bridge import to_numpy, to_variables

from .checks import DTYPES, TOLERANCES, concat, count_row, row

__all__ = [
    "CONV_CASES",
    "cnn_forward_rows",
    "cnn_gradient_rows",
    "cnn_layer_rows",
    "cnn_lockstep",
    "cnn_train_rows",
    "conv_rows",
    "pool_row",
    "start_params",
]

#: (name, images (N, H, W, C), kernel (kh, kw, C, c_out), stride, padding): what the layers family covers.
CONV_CASES = [
    ("stride 1, same, batch 4", (4, 9, 9, 3), (5, 5, 3, 4), 1, "same"),
    ("stride 2, same, batch 4", (4, 9, 8, 3), (3, 3, 3, 4), 2, "same"),
    ("stride 1, valid, batch 4", (4, 9, 9, 3), (5, 5, 3, 4), 1, "valid"),
    ("stride 2, valid, batch 1", (1, 10, 10, 2), (4, 4, 2, 3), 2, "valid"),
]
#: Test images the CNN's lockstep and cross-loading rows predict (NumPy float64 takes 0.7 s per 1,000 here).
TEST_IMAGES = 500
LOCKSTEP = {"steps": 20, "batch_size": 16, "learning_rate": 0.001, "dropout": 0.5}


def _draw(shape, dtype, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def start_params(dtype: str, seed: int = 0) -> dict:
    """Glorot kernels and weights, small random biases: with zero biases every blank pixel's ReLU input is 0."""
    params = np_models.init_params("cnn", init="glorot_uniform", seed=seed, dtype=dtype)
    rng = np.random.default_rng(seed + 1)
    return {k: v if k[0] == "W" else rng.normal(0, 0.1, v.shape).astype(dtype) for k, v in params.items()}


def cnn_forward_rows(data: Datasets, dtypes=DTYPES) -> list[Row]:
    """The CNN's logits on 32 training images, by hand against ``tf.nn.conv2d``."""
    rows = []
    for dtype in dtypes:
        x, params = data.train.images[:32].astype(dtype), start_params(dtype)
        ours, theirs = np_models.forward(params, x)[0], tf_models.forward(to_variables(params), x)[0]
        rows.append(row("logits of the cnn model", dtype, ours, theirs, TOLERANCES[("value", dtype)], family="forward"))
    return rows


def cnn_gradient_rows(data: Datasets, dtypes=DTYPES, *, samples: int = 5) -> list[Row]:
    """``loss_and_grads`` with L2 and a dropout mask, by hand vs tape; in float64 also vs central differences."""
    rows = []
    for dtype in dtypes:
        x, labels = data.train.images[:8].astype(dtype), data.train.labels[:8]
        params = start_params(dtype)
        mask = np_conv.dropout_mask(np.random.default_rng(7), (8, CNN["dense"]), 0.5, dtype)
        kw = {"l2": 1e-3, "mask": mask}
        _, ours = np_models.loss_and_grads(params, x, labels, **kw)
        _, theirs = tf_models.loss_and_grads(to_variables(params), x, labels, **kw)
        tol = TOLERANCES[("value", dtype)]
        rows.append(
            row(
                "cnn, dropout: loss_and_grads by hand vs tape",
                dtype,
                concat(ours),
                concat(theirs),
                tol,
                family="gradients",
            )
        )
        if dtype == "float64":
            rows += _difference_rows(params, x[:2], labels[:2], kw | {"mask": mask[:2], "activation": "tanh"}, samples)
    return rows


def _difference_rows(params, x, labels, kw, samples) -> list[Row]:
    """Sampled central differences of the scratch loss against both analytic gradients (tanh; pool ties left out)."""
    rng = np.random.default_rng(3)
    _, ours = np_models.loss_and_grads(params, x, labels, **kw)
    _, theirs = tf_models.loss_and_grads(to_variables(params), x, labels, **kw)
    kinks = model_kinks(params, x, activation=kw["activation"])
    numeric, a_np, a_tf, left_out = [], [], [], 0
    for k, p in params.items():
        idx = rng.choice(p.size, size=min(samples, p.size), replace=False)
        num, crossed = differences(
            lambda: np_models.loss_and_grads(params, x, labels, **kw)[0], p, indices=idx, kinks=kinks
        )
        smooth = ~np.any(list(crossed.values()), axis=0) if crossed else np.ones(idx.size, bool)
        left_out += int((~smooth).sum())
        numeric.append(num[smooth])
        a_np.append(np.asarray(ours[k]).ravel()[idx][smooth])
        a_tf.append(np.asarray(theirs[k]).ravel()[idx][smooth])
    numeric = np.concatenate(numeric)
    tol, note = (
        TOLERANCES[("finite differences", "float64")],
        f"{numeric.size} coordinates, {left_out} left out (a max-pool tie broken)",
    )
    return [
        row(
            f"cnn (tanh), dropout: {who} vs central differences",
            "float64",
            np.concatenate(a),
            numeric,
            tol,
            note,
            family="gradients",
        )
        for who, a in (("by hand", a_np), ("tape", a_tf))
    ]


def conv_rows(dtype: str, *, scratch_backward=None, cases=CONV_CASES) -> list[Row]:
    """``conv2d_backward`` (or ``scratch_backward``) against the tape through ``tf.nn.conv2d``: dx, dW, db per case."""
    rows = []
    for i, (name, x_shape, w_shape, stride, padding) in enumerate(cases):
        x, W, b = _draw(x_shape, dtype, 10 + i), _draw(w_shape, dtype, 20 + i), _draw(w_shape[3:], dtype, 30 + i)
        out, cache_np = np_conv.conv2d_forward(x, W, b, stride, padding)
        _, cache_tf = tf_conv.conv2d_forward(x, W, b, stride, padding)
        dout = _draw(out.shape, dtype, 40 + i)
        ours = (scratch_backward or np_conv.conv2d_backward)(dout, cache_np)
        theirs = tf_conv.conv2d_backward(dout, cache_tf)
        for what, a, t in zip(("dx", "dW", "db"), ours, theirs, strict=True):
            rows.append(
                row(f"conv2d_backward {what}, {name}", dtype, a, t, TOLERANCES[("value", dtype)], family="layers")
            )
    return rows


def pool_row(dtype: str, *, ties: bool = False, scratch_backward=None) -> Row:
    """``max_pool_backward`` (or ``scratch_backward``) against the tape through ``tf.nn.max_pool2d``; ``ties``
    rounds the inputs to a few values, so that many windows hold their maximum twice or more."""
    x = _draw((3, 9, 8, 4), dtype, 50)
    if ties:
        x = np.round(np.clip(x, -1, 1)).astype(dtype)  # -1, 0, 1 only
    out, cache_np = np_conv.max_pool_forward(x)
    _, cache_tf = tf_conv.max_pool_forward(x)
    dout = _draw(out.shape, dtype, 51)
    ours = (scratch_backward or np_conv.max_pool_backward)(dout, cache_np)
    what = "tied windows (first maximum wins)" if ties else "random windows, odd edge dropped"
    tied = int(
        np.sum(
            np.sum(
                x[:, :8, :8].reshape(3, 4, 2, 4, 2, 4).max(axis=(2, 4), keepdims=True)
                == x[:, :8, :8].reshape(3, 4, 2, 4, 2, 4),
                axis=(2, 4),
            )
            > 1
        )
    )
    note = f"{tied} of {out.size} windows tied" if ties else ""
    return row(
        f"max_pool_backward, {what}",
        dtype,
        ours,
        tf_conv.max_pool_backward(dout, cache_tf),
        TOLERANCES[("value", dtype)],
        note,
        family="layers",
    )


def cnn_layer_rows(dtypes=DTYPES) -> list[Row]:
    """Every new backward against the tape: convolution (4 cases), col2im, pooling, dropout, the whole network."""
    rows = []
    for dtype in dtypes:
        tol = TOLERANCES[("value", dtype)]
        rows += conv_rows(dtype)
        x = _draw((2, 9, 9, 3), dtype, 60)
        cols = _draw(np_conv.im2col(x, 5, 5, 2, "same").shape, dtype, 61)
        ours, theirs = np_conv.col2im(cols, x.shape, 5, 5, 2, "same"), tf_conv.col2im(cols, x.shape, 5, 5, 2, "same")
        rows.append(row("col2im vs the tape through extract_patches", dtype, ours, theirs, tol, family="layers"))
        rows += [pool_row(dtype), pool_row(dtype, ties=True)]
        h, mask = _draw((6, 128), dtype, 62), np_conv.dropout_mask(np.random.default_rng(63), (6, 128), 0.5, dtype)
        dout = _draw((6, 128), dtype, 64)
        ours = np_conv.dropout_backward(dout, np_conv.dropout_forward(h, mask)[1])
        theirs = tf_conv.dropout_backward(dout, tf_conv.dropout_forward(h, mask)[1])
        rows.append(row("dropout_backward", dtype, ours, theirs, tol, family="layers"))
        params, x = start_params(dtype), _draw((3, 784), dtype, 65) ** 2 / 4  # pixel-like: >= 0
        dlogits = _draw((3, 10), dtype, 66)
        g_np, dx_np = np_cnn.backward(dlogits, np_cnn.forward(params, x)[1], need_dx=True)
        g_tf, dx_tf = tf_cnn.backward(dlogits, tf_cnn.forward(to_variables(params), x)[1], need_dx=True)
        rows.append(
            row(
                "cnn.backward grads and dx",
                dtype,
                np.r_[concat(g_np), dx_np.ravel()],
                np.r_[concat(g_tf), np.ravel(dx_tf)],
                tol,
                family="layers",
            )
        )
    return rows


def cnn_lockstep(data: Datasets, dtype: str, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict, dict]:
    """Adam steps of both twins' ``train_step`` from the same start, on the same batches, with the same masks.

    Returns ``(losses_np, losses_tf, params_np, params_tf)``.
    """
    import scratch.train as np_train
    import tfimpl.train as tf_train

    steps, batch_size, lr, rate = (LOCKSTEP[k] for k in ("steps", "batch_size", "learning_rate", "dropout"))
    params0 = start_params(dtype, seed)
    mine, variables = {k: v.copy() for k, v in params0.items()}, to_variables(params0)
    opt_np, opt_tf = np_optimizers.make_optimizer("adam", lr), tf_optimizers.make_optimizer("adam", lr)
    opt_tf.build(list(variables.values()))
    X, Y = data.train.images, one_hot(data.train.labels, dtype=dtype)
    drops = np.random.default_rng([seed, 1])
    spec = [tf.TensorSpec([batch_size, n], dtype) for n in (784, 10, CNN["dense"])]

    @tf.function(input_signature=spec)  # traced once, as in the MLP's lockstep (compare.lockstep)
    def tf_step(x, y, mask):
        return tf_train.train_step(variables, opt_tf, x, y, mask=mask)

    losses_np, losses_tf = [], []
    for idx in batch_indices(len(X), batch_size, seed, 0)[:steps]:
        mask = np_conv.dropout_mask(drops, (batch_size, CNN["dense"]), rate, dtype)  # drawn once, fed to both
        x = X[idx].astype(dtype, copy=False)  # the batch cast, not the whole training set (20 batches of 16)
        losses_np.append(np_train.train_step(mine, opt_np, x, Y[idx], mask=mask))
        losses_tf.append(float(tf_step(x, Y[idx], mask)))
    return np.array(losses_np), np.array(losses_tf), mine, to_numpy(variables)


def cnn_train_rows(data: Datasets, dtypes=DTYPES) -> tuple[list[Row], list[Row]]:
    """``(train rows, crossload rows)``: lockstep losses and parameters, then test predictions in both twins."""
    train, crossload = [], []
    x_all, labels = data.test.images[:TEST_IMAGES], data.test.labels[:TEST_IMAGES]
    for dtype in dtypes:
        losses_np, losses_tf, p_np, p_tf = cnn_lockstep(data, dtype)
        tol, steps = TOLERANCES[("lockstep", dtype)], len(losses_np)
        train.append(
            row(
                f"cnn, Adam, dropout: the loss at each of {steps} steps",
                dtype,
                losses_np,
                losses_tf,
                tol,
                family="train",
            )
        )
        train.append(row("cnn: final parameters", dtype, concat(p_np), concat(p_tf), tol, family="train"))
        x = x_all.astype(dtype, copy=False)
        preds = {}
        for trained_by, params in (("scratch", p_np), ("tfimpl", p_tf)):
            pred_np, pred_tf = np_models.predict(params, x), tf_models.predict(to_variables(params), x).numpy()
            preds[trained_by] = pred_np
            differing = int(np.sum(pred_np != pred_tf))
            note = f"accuracy {np.mean(pred_np == labels):.2%} (scratch), {np.mean(pred_tf == labels):.2%} (tfimpl)"
            tol = TOLERANCES[("predictions differing", dtype)]
            check = f"cnn trained by {trained_by}: test predictions that differ"
            crossload.append(count_row(check, dtype, differing, len(x), tol, note, family="crossload"))
        train.append(_prediction_row(preds, labels, dtype))
    return train, crossload


def _prediction_row(preds: dict, labels: np.ndarray, dtype: str) -> Row:
    """float64: the two twins' trained networks predict identically; float32: accuracies within 0.1 point."""
    acc = {k: float(np.mean(p == labels)) for k, p in preds.items()}
    differing = int(np.sum(preds["scratch"] != preds["tfimpl"]))
    note = (
        f"test accuracy scratch {acc['scratch']:.2%}, tfimpl {acc['tfimpl']:.2%}; {differing} of {len(labels)} differ"
    )
    if dtype == "float64":
        tol = TOLERANCES[("predictions differing", dtype)]
        return count_row("cnn: test predictions that differ", dtype, differing, len(labels), tol, note, family="train")
    gap, tol = abs(acc["scratch"] - acc["tfimpl"]), TOLERANCES[("accuracy gap", dtype)]
    return Row("cnn: test accuracy gap", dtype, gap, gap, tol, gap <= tol + 1e-12, note, family="train")
