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
# # 1. The simple linear model, by hand and in TensorFlow
#
# The first of the five tutorials: classify MNIST digits with **softmax regression**, ten weighted sums of
# the 784 pixels, one per digit. We build it twice, side by side: `scratch` writes every derivative by
# hand in NumPy, `tfimpl` lets TensorFlow's tape find them. At each stage we print what both gave and
# how far apart they are. The math is written out at length in
# [docs/math.md](../docs/math.md); each formula below links to its section.

# %%
import numpy as np
from IPython.display import Image, display

from common import plots
from common.config import RunConfig
from common.data import load_mnist
from common.labels import one_hot
from tfimpl import backend  # noqa: F401  (TensorFlow, without its start-up lines)

data = load_mnist()  # $MNIST_DIR, else the user cache, else a download
print(f"training {len(data.train):,}, validation {len(data.validation):,}, test {len(data.test):,} images")
print("images", data.train.images.shape, data.train.images.dtype, "labels", data.train.labels.shape)

# %% [markdown]
# ## The data
#
# Each image is 28 x 28 grey levels in $[0, 1]$, flattened to a row of 784. The labels are class ids
# 0-9; the losses that want **one-hot** rows get them from `common.labels.one_hot`:

# %%
print("the first five test labels:", data.test.labels[:5])
print(one_hot(data.test.labels[:5]))
display(
    Image(
        plots.plot_examples(
            data.test.images, data.test.labels, data.test.labels, "examples.png", title="The first nine test images"
        )
    )
)

# %% [markdown]
# ## The model and its cost
#
# One matrix product and a bias give ten scores, the **logits**, for each image of a batch $x$ of shape
# $(N, 784)$:
#
# $$z = xW + b, \qquad W: (784, 10),\ b: (10,)$$
#
# [softmax](../docs/math.md#softmax) turns them into probabilities, and the cost is the
# [cross-entropy](../docs/math.md#cross-entropy) averaged over the batch:
#
# $$p = \operatorname{softmax}(z), \qquad L = -\frac{1}{N}\sum_n \sum_k y_{nk} \log p_{nk}$$
#
# Its [gradient](../docs/math.md#the-gradient-of-cross-entropy) with respect to the logits is simply
# $(p - y)/N$. Here is that line in each twin, for one batch, and their difference:

# %%
import scratch.losses as np_losses  # noqa: E402
import scratch.models as np_models  # noqa: E402
import tfimpl.losses as tf_losses  # noqa: E402

x, y = data.train.images[:100], one_hot(data.train.labels[:100])
params = np_models.init_params("linear", init="normal", std=0.1, seed=0)
logits, _ = np_models.forward(params, x)
ours = np_losses.softmax_cross_entropy_grad(logits, y)  # (softmax(z) - y) / N, by hand
theirs = tf_losses.softmax_cross_entropy_grad(logits, y).numpy()  # from tf.GradientTape
grad_gap = float(np.abs(ours - theirs).max())
print(f"dlogits: largest entry {np.abs(ours).max():.4f}; scratch vs TensorFlow differ by at most {grad_gap:.1e}")

# %% [markdown]
# ## Training, and the weights as pictures
#
# The tutorial starts from **zeros**: every logit is 0, every class ties, `argmax` picks 0, and the
# accuracy is exactly the share of zeros in the test set, 9.8%. Then plain SGD with rate 0.5 on batches
# of 100. Each column of $W$ is one digit's template over the 784 pixels; red pixels speak for the digit,
# blue against. Both twins train on the same batches in the same order:

# %%
import scratch.experiments as np_exp  # noqa: E402
import tfimpl.experiments as tf_exp  # noqa: E402

snaps_np = np_exp.weight_snapshots(data)  # steps 0, 1, 10, 1000
snaps_tf = tf_exp.weight_snapshots(data)
print("step   scratch   tfimpl   max |W difference|")
for (step, w_np, a_np), (_, w_tf, a_tf) in zip(snaps_np, snaps_tf, strict=True):
    print(f"{step:>4}   {a_np:7.2%}  {a_tf:7.2%}   {np.abs(w_np - w_tf).max():.1e}")
display(Image(plots.plot_weights(snaps_np, "weights.png")))

# %% [markdown]
# After one step the templates are faint copies of the first batch's digits; after 1000 they look like
# blurred prototypes: a 0 is a red ring around a blue centre, a 1 a red stroke flanked by blue.
#
# ## The errors
#
# The same run through the `train` command's own loop (1000 steps), then what it gets wrong:

# %%
from scratch.train import train as np_train  # noqa: E402
from tfimpl.train import train as tf_train  # noqa: E402

run_np = np_train(RunConfig(), data, progress=False)  # zeros, SGD 0.5, batch 100, 1000 steps
run_tf = tf_train(RunConfig(), data, progress=False)
acc_np, acc_tf = run_np.summary["test_accuracy"], run_tf.summary["test_accuracy"]
print(f"test accuracy: scratch {acc_np:.2%}, tfimpl {acc_tf:.2%}")

pred = np_models.predict(run_np.params, data.test.images)
wrong = np.flatnonzero(pred != data.test.labels)
title = f"Misclassified ({len(wrong)} of {len(pred)})"
display(
    Image(plots.plot_examples(data.test.images[wrong], data.test.labels[wrong], pred[wrong], "errors.png", title=title))
)

# %% [markdown]
# ## The confusion matrix
#
# Rows are the true digit, columns the prediction; the colour is on a log scale so that the errors off
# the diagonal show. Fives are the hardest: they are taken for threes and eights.

# %%
cm = plots.confusion_matrix(data.test.labels, pred)
print(plots.format_confusion(cm))
display(Image(plots.plot_confusion(cm, "confusion.png")))

# %% [markdown]
# ## What this notebook asserts
#
# The tutorial's numbers, and that the twins agree: 9.8% from zeros, at least 91.5% after 1000 steps in
# both, the same accuracy in both (on a GPU two images may flip; see
# [docs/math.md](../docs/math.md#floating-point-on-cpus-and-gpus)), and the same gradient to float32
# rounding.

# %%
from tfimpl.device import resolve_device  # noqa: E402

flips = 2 / 10000 if resolve_device("auto") == "/GPU:0" else 0
assert snaps_np[0][2] == snaps_tf[0][2] == 0.098
assert acc_np >= 0.915 and acc_tf >= 0.915, (acc_np, acc_tf)
assert abs(acc_np - acc_tf) <= flips, (acc_np, acc_tf)
assert grad_gap < 1e-6, grad_gap  # float32 dlogits of size ~0.01: rounding is ~1e-9
print(f"headline: zeros 9.80%; 1000 steps scratch {acc_np:.2%}, tfimpl {acc_tf:.2%}; dlogits gap {grad_gap:.1e}")
