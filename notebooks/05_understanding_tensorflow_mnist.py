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
# # 5. Understanding TensorFlow with MNIST
#
# The fifth tutorial uses TensorFlow as a general optimiser before it trains a network: first it learns
# the inverse of a matrix by gradient descent, then a 784-300-10 network with its own clipped loss to
# about 98%, and then it looks inside: which hidden units fire for which digit, and which input image each
# digit's output likes best. Both twins do every part.

# %%
import numpy as np
from IPython.display import Image, display

from common import plots
from common.data import load_mnist
from common.experiments import random_integer_matrix
from common.figures import inverse_error
from tfimpl import backend  # noqa: F401  (TensorFlow, without its start-up lines)

data = load_mnist()

# %% [markdown]
# ## A matrix inverse, learned
#
# For a square matrix $A$, the $X$ that makes $AX = I$ minimises $\sum_{ij} |(AX - I)_{ij}|$. Its
# (sub)gradient is $A^\top \operatorname{sign}(AX - I)$, which never shrinks near the answer, so plain
# gradient descent would bounce; Adagrad's rates shrink like $1/\sqrt t$ and let it settle
# ([docs/math.md](../docs/math.md#optimizers)). 5000 steps at rate 0.01, from zeros, in both twins:

# %%
import scratch.experiments as np_exp  # noqa: E402
import tfimpl.experiments as tf_exp  # noqa: E402

A = random_integer_matrix()  # 10 x 10, entries -9..9, condition number < 100
X_np, losses_np = np_exp.learn_inverse(A)
X_tf, losses_tf = tf_exp.learn_inverse(A)
err_np, err_tf, gap = inverse_error(X_np, A), inverse_error(X_tf, A), float(np.abs(X_np - X_tf).max())
print(f"max |X - inv(A)|: scratch {err_np:.1e}, tfimpl {err_tf:.1e}; the twins differ by {gap:.1e}")
display(Image(plots.plot_inverse({"scratch": (X_np, losses_np), "tfimpl": (X_tf, losses_tf)}, A, "inverse.png")))

# %% [markdown]
# ## A 784-300-10 network and its clipped loss
#
# One hidden layer of 300 ReLU units, weights from $\mathcal N(0, 0.03^2)$, SGD at 0.5 on batches of 100.
# The tutorial's loss scores each class as its own yes/no question on clipped probabilities,
#
# $$\hat p = \operatorname{clip}(\operatorname{softmax}(z), 10^{-10}, 0.9999999), \quad
#   L = -\frac1N \sum_n \sum_k \bigl[y_{nk}\log \hat p_{nk} + (1 - y_{nk})\log(1 - \hat p_{nk})\bigr],$$
#
# whose gradient goes through the [softmax Jacobian](../docs/math.md#softmax-jacobian). Ten epochs:

# %%
from common.config import RunConfig  # noqa: E402
from scratch.train import train as np_train  # noqa: E402
from tfimpl.train import train as tf_train  # noqa: E402

mlp = RunConfig(model="mlp", learning_rate=0.5, loss="clipped_binary_cross_entropy", epochs=10, steps=None)
run_np = np_train(mlp, data, progress=False)
run_tf = tf_train(RunConfig(**{**mlp.to_dict(), "xla": True}), data, progress=False)
acc_np, acc_tf = run_np.summary["test_accuracy"], run_tf.summary["test_accuracy"]
print(f"test accuracy after 10 epochs: scratch {acc_np:.2%}, tfimpl {acc_tf:.2%} (each from its own random start)")
print(
    f"steady state: scratch {run_np.summary['steps_per_second']:,.0f} steps/s; tfimpl with XLA {run_tf.summary['steps_per_second']:,.0f} steps/s after {run_tf.summary['compile_seconds']:.1f} s of compiling"
)

# %% [markdown]
# ## Hidden-layer fingerprints
#
# The 300 hidden activations of 20 test images of each digit, the units sorted by the digit that
# excites them most on average. Each digit leaves its own pattern: a fingerprint.

# %%
import scratch.models as np_models  # noqa: E402

x, labels = data.test.images, data.test.labels
_, caches = np_models.forward(run_np.params, x)
hidden = caches[0][1]  # (10000, 300), the ReLU outputs
display(Image(plots.plot_fingerprints(hidden, labels, "fingerprints.png")))
favourite = np.stack([hidden[labels == k].mean(axis=0) for k in range(10)]).argmax(axis=0)
print("hidden units per favourite digit:", np.bincount(favourite, minlength=10).tolist())

# %% [markdown]
# ## Optimal inputs
#
# Which image does the network score highest as a 3? Gradient descent on the *input* finds out: start
# from a blank image and follow $\partial z_k / \partial x$, with an L2 penalty of 0.25 on the pixels to
# keep the image from running to extremes. Both twins, from the same trained weights, in float64 so that
# the comparison is not blurred by float32 rounding (over 300 steps, a ReLU that flips on a last-bit
# difference sends the two float32 trajectories a few 1e-3 apart):

# %%
params64 = {k: v.astype(np.float64) for k, v in run_np.params.items()}
opt_np, _ = np_exp.optimal_inputs(params64)
opt_tf, logits_tf = tf_exp.optimal_inputs(params64)
means = np.stack([x[labels == k].mean(axis=0) for k in range(10)])
display(Image(plots.plot_optimal_inputs({"scratch": opt_np, "tfimpl": opt_tf}, means, "optimal_inputs.png")))
input_gap = float(np.abs(opt_np - opt_tf).max())
print(f"the twins' optimal images differ by at most {input_gap:.1e} (pixels up to {np.abs(opt_np).max():.2f})")

# %% [markdown]
# ## What this notebook asserts

# %%
assert err_np < 3e-3 and err_tf < 3e-3 and gap < 1e-10, (err_np, err_tf, gap)  # float64, same steps
assert acc_np >= 0.978 and acc_tf >= 0.978, (acc_np, acc_tf)  # the tutorial's "about 98%"
assert np.all(logits_tf.argmax(axis=1) == np.arange(10))  # each image is scored highest by its own digit
assert input_gap < 1e-9, input_gap  # float64, 300 steps of the same update
print(
    f"headline: inverse error {err_np:.1e}; MLP scratch {acc_np:.2%}, tfimpl {acc_tf:.2%}; optimal inputs gap {input_gap:.1e}"
)
