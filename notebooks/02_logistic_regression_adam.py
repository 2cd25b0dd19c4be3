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
# below) and the 10,000 test images at the end. TensorFlow runs a whole epoch per graph call.

# %%
config = RunConfig(optimizer="adam", learning_rate=0.001, init="truncated_normal", epochs=10, steps=None)
run_np = np_train(config, data, progress=False)
run_tf = tf_train(config, data, progress=False)
print("epoch   scratch val.   tfimpl val.")
val_np = [r for r in run_np.history if "val_accuracy" in r]
val_tf = [r for r in run_tf.history if "val_accuracy" in r]
for a, b in zip(val_np, val_tf, strict=True):
    print(f"{a['epoch']:>5}   {a['val_accuracy']:11.2%}   {b['val_accuracy']:11.2%}")
acc_np, acc_tf = run_np.summary["test_accuracy"], run_tf.summary["test_accuracy"]
print(f"test accuracy: scratch {acc_np:.2%}, tfimpl {acc_tf:.2%} (they start from different draws)")
display(Image(plots.plot_learning_curves(run_np.history, "curves.png", title="scratch, Adam 0.001, 10 epochs")))

# %% [markdown]
# ## Correct and misclassified examples

# %%
import scratch.models as np_models  # noqa: E402

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
# $\alpha_t$ undoes the bias of starting both at zero. Below: the same three steps on one weight vector,
# by hand in this cell, by `scratch.optimizers.Adam`, and by Keras' Adam.

# %%
from scratch.optimizers import Adam as NumpyAdam  # noqa: E402
from tfimpl.optimizers import Adam as KerasAdam  # noqa: E402

grads = [np.array([0.5, -1.0, 1e-4]), np.array([0.4, -0.8, -1e-4]), np.array([-0.2, -1.2, 1e-4])]
lr, b1, b2, eps = 0.001, 0.9, 0.999, 1e-7
lr32, b1_32, b2_32 = (float(np.float32(value)) for value in (lr, b1, b2))  # Keras keeps these as float32
w_hand, m, v = np.zeros(3), np.zeros(3), np.zeros(3)
ours, theirs = {"W": np.zeros(3)}, tf.Variable(np.zeros(3))
opt_np, opt_tf = NumpyAdam(lr), KerasAdam(learning_rate=lr)
for t, g in enumerate(grads, start=1):
    m = m + (g - m) * (1 - b1)
    v = v + (g * g - v) * (1 - b2)
    alpha = lr32 * np.sqrt(1 - b2_32**t) / (1 - b1_32**t)
    w_hand = w_hand - alpha * m / (np.sqrt(v) + eps)
    opt_np.apply({"W": g}, ours)
    opt_tf.apply([tf.constant(g)], [theirs])
    print(f"t={t}: m={np.round(m, 4)}, v={np.round(v, 6)}, alpha={alpha:.6f}")
    print(f"      w by hand {w_hand}\n      scratch   {ours['W']}\n      Keras     {theirs.numpy()}")
adam_gap = max(float(np.abs(w_hand - ours["W"]).max()), float(np.abs(ours["W"] - theirs.numpy()).max()))

# %% [markdown]
# Every weight moved by about the rate, 0.001, at every step, whatever the size of its gradient: the
# third weight's gradient is 10,000 times smaller than the others', yet it moves almost as far. That is
# Adam's point. The three agree to the last bit, once the cell does what Keras does: keep the rate and
# the betas of the bias correction in float32 (0.999 becomes 0.99900001287). With the plain 0.999,
# $1 - \beta_2^t$ at $t = 1$ is off by 1.3e-5 relative, and the weights by about 2e-8
# (`scratch.optimizers` writes the rule out).
#
# ## What this notebook asserts

# %%
assert acc_np >= 0.92 and acc_tf >= 0.92, (acc_np, acc_tf)  # the tutorial's "about 92%"
assert len(val_np) == len(val_tf) == 10
assert np.abs(w_np).max() < 0.02 and np.abs(w_tf).max() < 0.02
assert adam_gap < 1e-15, adam_gap  # the same float64 operations in the same order
print(f"headline: Adam 10 epochs scratch {acc_np:.2%}, tfimpl {acc_tf:.2%}; Adam by hand vs Keras {adam_gap:.1e}")
