# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 2. Logistic regression with Adam
#
# *Reading order: 3, 1, 4, **2**, 5, 6, 7. Before this: [4. TensorFlow basics](04_tensorflow_basics.py). Next:
# [5. Understanding TensorFlow with MNIST](05_understanding_tensorflow_mnist.py).*
#
# The same linear model as notebook 1, trained the way the second tutorial does it: weights drawn from a
# **truncated normal**, the **Adam** optimizer at rate 0.001, ten epochs of batches of 100, the
# validation set scored after every epoch and the test set at the end. Then a close look at what Adam's
# two moments do, step by step, by hand and in Keras. See [docs/math.md](../docs/math.md#optimizers).

# %%
import numpy as np
from IPython.display import Image, display

from common import plots
from common.config import RunConfig
from common.data import load_mnist
from scratch.train import train as np_train
from tfimpl.backend import tf  # TensorFlow, without its start-up lines
from tfimpl.train import train as tf_train

data = load_mnist()

# %% [markdown]
# ## The start: a truncated normal
#
# Every weight is drawn from $\mathcal N(0, 0.01^2)$, and any draw beyond two standard deviations is drawn
# again, so no weight starts far from zero. Both twins draw it, each with its own seeded generator:

# %%
import scratch.initializers as np_init  # noqa: E402
import tfimpl.initializers as tf_init  # noqa: E402

w_np = np_init.truncated_normal((784, 10), "float64", np.random.default_rng(0), std=0.01)
w_tf = tf_init.truncated_normal((784, 10), "float64", tf.random.Generator.from_seed(0), std=0.01).numpy()
for name, w in (("scratch", w_np), ("tfimpl", w_tf)):
    print(f"{name:8} largest |w| {np.abs(w).max():.4f} (< 2 std = 0.02), std {w.std():.5f} (0.88 x 0.01)")

# %% [markdown]
# ## Training: ten epochs, validation after each
#
# `train` scores the 5,000 validation images at the end of every epoch (the rows with `val_accuracy`
# below) and the 10,000 test images at the end. TensorFlow runs a whole epoch per graph call. The
# tutorial scores only the first 1,000 validation and the first 1,000 test images; its figures are printed
# beside ours, and ours on its 1,000 test images too.

# %%
import scratch.models as np_models  # noqa: E402

config = RunConfig(optimizer="adam", learning_rate=0.001, init="truncated_normal", epochs=10, steps=None)
run_np = np_train(config, data, progress=False)
run_tf = tf_train(config, data, progress=False)
tutorial_val = [0.887, 0.901, 0.905, 0.907, 0.913, 0.909, 0.915, 0.918, 0.913, 0.914]  # on 1,000 images
print("epoch   scratch val.   tfimpl val.   the tutorial")
val_np = [r for r in run_np.history if "val_accuracy" in r]
val_tf = [r for r in run_tf.history if "val_accuracy" in r]
for a, b, t in zip(val_np, val_tf, tutorial_val, strict=True):
    print(f"{a['epoch']:>5}   {a['val_accuracy']:11.2%}   {b['val_accuracy']:11.2%}   {t:11.1%}")
acc_np, acc_tf = run_np.summary["test_accuracy"], run_tf.summary["test_accuracy"]
first_1000 = np_models.accuracy(run_np.params, data.test.images[:1000], data.test.labels[:1000])
print(f"test accuracy: scratch {acc_np:.2%}, tfimpl {acc_tf:.2%} (they start from different draws)")
print(f"on the first 1,000 test images: scratch {first_1000:.1%}; the tutorial 91.7%")
display(Image(plots.plot_learning_curves(run_np.history, "curves.png", title="scratch, Adam 0.001, 10 epochs")))

# %% [markdown]
# ## Correct and misclassified examples

# %%
pred = np_models.predict(run_np.params, data.test.images)
right, wrong = np.flatnonzero(pred == data.test.labels), np.flatnonzero(pred != data.test.labels)
x, t = data.test.images, data.test.labels
display(Image(plots.plot_examples(x[right], t[right], pred[right], "right.png", title="Classified correctly")))
display(Image(plots.plot_examples(x[wrong], t[wrong], pred[wrong], "wrong.png", title=f"Misclassified ({len(wrong)})")))

# %% [markdown]
# ## Adam, step by step
#
# With $g$ the gradient and $t$ the step number, Keras' Adam keeps two running averages and moves each
# weight by their ratio:
#
# $$m \leftarrow m + (g - m)(1 - \beta_1), \qquad v \leftarrow v + (g^2 - v)(1 - \beta_2)$$
#
# $$\alpha_t = \mathrm{lr}\,\frac{\sqrt{1 - \beta_2^t}}{1 - \beta_1^t}, \qquad
#   w \leftarrow w - \frac{\alpha_t\, m}{\sqrt v + \hat\epsilon}$$
#
# $m$ is a smoothed gradient (its direction), $v$ a smoothed squared gradient (its scale), and
# $\alpha_t$ undoes the bias of starting both at zero. Below: the same three steps on three weights, by
# hand in this cell, by `scratch.optimizers.Adam`, and by Keras' Adam. The gradients are chosen to show
# three behaviours: the first weight's gradient changes sign at the third step (0.5, 0.4, then -0.2), the
# second's keeps its sign (-1, -0.8, -1.2), and the third's is 10,000 times smaller and flips sign at every
# step ($10^{-4}$, $-10^{-4}$, $10^{-4}$).

# %%
from scratch.optimizers import Adam as NumpyAdam  # noqa: E402
from tfimpl.optimizers import Adam as KerasAdam  # noqa: E402

grads = [np.array([0.5, -1.0, 1e-4]), np.array([0.4, -0.8, -1e-4]), np.array([-0.2, -1.2, 1e-4])]
lr, b1, b2, eps = 0.001, 0.9, 0.999, 1e-7
lr32, b1_32, b2_32 = (float(np.float32(value)) for value in (lr, b1, b2))  # Keras keeps these as float32
w_hand, m, v = np.zeros(3), np.zeros(3), np.zeros(3)
moves = []
with tf.device("/CPU:0"):  # "to the last bit" is a claim about the CPU (a GPU kernel may fuse a multiply-add)
    ours, theirs = {"W": np.zeros(3)}, tf.Variable(np.zeros(3))
    opt_np, opt_tf = NumpyAdam(lr), KerasAdam(learning_rate=lr)
    for t, g in enumerate(grads, start=1):
        before = w_hand.copy()
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        alpha = lr32 * np.sqrt(1 - b2_32**t) / (1 - b1_32**t)
        w_hand = w_hand - alpha * m / (np.sqrt(v) + eps)
        opt_np.apply({"W": g}, ours)
        opt_tf.apply([tf.constant(g)], [theirs])
        moves.append((w_hand - before) / lr)  # this step's move, in units of the rate
        print(f"t={t}: m={m}, sqrt(v)={np.sqrt(v)}, alpha/lr={alpha / lr:.4f}")
        print(f"      w by hand {w_hand}\n      scratch   {ours['W']}\n      Keras     {theirs.numpy()}")
        print(f"      each weight moved by {np.round(moves[-1], 3)} x lr")
same_bits = np.array_equal(w_hand, ours["W"]) and np.array_equal(ours["W"], theirs.numpy())
moves = np.array(moves)  # (3 steps, 3 weights)

# %% [markdown]
# **While a gradient keeps its sign, Adam moves the weight by about the rate** whatever the gradient's size:
# the second weight moves 1.00, 0.99 and 0.99 times the rate. It divides the smoothed gradient $m$ by its
# own scale $\sqrt v$, so the size cancels. That is Adam's point, and the third weight shows it at $t = 1$:
# a gradient 10,000 times smaller moves it 0.97 times the rate (3% short of 1 because
# $\hat\epsilon = 10^{-7}$ is not negligible against its $\sqrt v = 3.2\times10^{-6}$).
#
# **A sign flip shrinks the step**, because the two moments react differently: $m$ averages the signed
# gradients, $v$ their squares. At $t = 2$ the third weight's $+10^{-4}$ and $-10^{-4}$ nearly cancel in $m$
# ($-10^{-6}$) but not in $v$, and the step falls to 0.05 times the rate; at $t = 3$ it is back to 0.33. The
# first weight's gradient turns negative at $t = 3$ (it now says "go up"), yet $m$ is still positive
# (momentum), so the weight keeps going down, by 0.54 times the rate. Adam's steps are near the rate only
# for gradients that keep their sign.
#
# The three columns agree to the last bit on the CPU, once the cell does what Keras does: keep the rate and the
# betas of the bias correction in float32 (0.999 becomes 0.99900001287). With the plain 0.999,
# $1 - \beta_2^t$ at $t = 1$ is off by 1.3e-5 relative, and the weights by about 2e-8
# (`scratch.optimizers` writes the rule out).
#
# ## Exercises
#
# Solutions: `notebooks/solutions.py`; `tests/test_solutions.py` checks each stated outcome.
#
# 1. **Momentum with the wrong sign.** Train the linear model 50 steps with SGD and momentum 0.9 at rate
#    0.05, once with `scratch.optimizers.SGD(0.05, momentum=0.9)` and once with
#    `scratch.bugs.WrongSignMomentum(0.05)`, which adds the gradient to the velocity instead of
#    subtracting it. *Expected:* the right one's loss falls below 0.6; the wrong one's climbs above its
#    start (2.30) and keeps climbing: it ascends the loss. (`wrong_sign_momentum`)
# 2. **The paper's epsilon.** Feed `scratch.optimizers.Adam` and `scratch.bugs.PaperEpsilonAdam` the same
#    100 tiny gradients ($10^{-7}$, the size of the third weight's above, a thousand times smaller).
#    *Expected:* the weights differ by more than half of their size: where $\sqrt v$ is comparable to
#    $\epsilon$, where epsilon goes matters. (`paper_epsilon`)
# 3. **Constant gradients of any size.** Give Adam 10 steps of a constant gradient, $10^{-3}$ for one
#    weight and $10^{3}$ for another. *Expected:* both move $10\,\mathrm{lr}$ to within 1%.
#    (`adam_ignores_scale`)
#
# ## What this notebook asserts

# %%
assert acc_np >= 0.92 and acc_tf >= 0.92, (acc_np, acc_tf)  # on 10,000 test images; 91.7% on its 1,000
assert len(val_np) == len(val_tf) == 10
assert np.abs(w_np).max() < 0.02 and np.abs(w_tf).max() < 0.02
assert same_bits  # the same float64 operations in the same order: every bit equal
assert np.all(np.abs(moves[:, 1] - 1) < 0.02), moves  # a gradient of constant sign: about lr per step
assert abs(moves[0, 2]) > 0.95 and abs(moves[1, 2]) < 0.1, moves  # tiny gradient: lr; then a flip: almost 0
assert grads[2][0] < 0 and -0.6 < moves[2, 0] < 0, moves  # m outlasts the flip: still down, but less
print(
    f"headline: Adam 10 epochs scratch {acc_np:.2%}, tfimpl {acc_tf:.2%}; Adam by hand and Keras bit-equal;"
    f" steps of the constant-sign weight {np.round(np.abs(moves[:, 1]), 2).tolist()} x lr"
)
