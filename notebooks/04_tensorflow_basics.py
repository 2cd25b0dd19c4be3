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
# # 4. TensorFlow basics: graphs, sessions, functions, and a loss that breaks
#
# The fourth tutorial introduces TensorFlow 1: you first *describe* a computation as a graph of
# constants and operations, then *run* it in a session. TensorFlow 2 runs operations at once and builds
# the graph only when asked, with `tf.function`. We do both, look inside the graph of our train step,
# and then meet the tutorial's warning: the textbook cross-entropy $-\sum y \log \operatorname{softmax}(z)$
# is fine on paper and breaks in floating point. Both twins show where and why.

# %%
import numpy as np

from tfimpl.backend import tf  # TensorFlow, without its start-up lines

v1 = tf.compat.v1

# %% [markdown]
# ## Constants, a graph, a session (TensorFlow 1, through `tf.compat.v1`)
#
# Nothing is computed while the graph is built: `c` is a *description* of a product. The session runs it.

# %%
graph = tf.Graph()
with graph.as_default():
    a = tf.constant(3.0, name="a")
    b = tf.constant(4.0, name="b")
    c = tf.multiply(a, b, name="c")
    x = v1.placeholder(tf.float32, shape=[], name="x")  # an input fed at run time
    d = c + x
print("c before running:", c)
print("the graph's operations:", [op.name for op in graph.get_operations()])
with v1.Session(graph=graph) as session:
    c_value, d_value = session.run([c, d], feed_dict={x: 0.5})
print(f"session.run: c = {c_value}, d = c + 0.5 = {d_value}")

# %% [markdown]
# ## The same as a `tf.function`
#
# In TensorFlow 2 the product runs at once. Wrapping a Python function in `tf.function` traces it into a
# graph, once per input signature, and runs the graph after that:


# %%
@tf.function
def f(x):
    return tf.constant(3.0) * tf.constant(4.0) + x


print("eager:", (tf.constant(3.0) * tf.constant(4.0) + 0.5).numpy(), " tf.function:", f(tf.constant(0.5)).numpy())
concrete = f.get_concrete_function(tf.TensorSpec([], tf.float32))
print("its graph:", [op.type for op in concrete.graph.get_operations()])

# %% [markdown]
# Our train step, traced the same way, grouped as the tutorial explains a graph: inputs, variables, the
# model, the cost, the gradients the tape adds, and the optimizer's update.

# %%
from common.config import RunConfig  # noqa: E402
from tfimpl.graph import describe_train_step  # noqa: E402

description = describe_train_step(RunConfig())
print(description)

# %% [markdown]
# ## The naive loss and the stable one
#
# The tutorial first writes the cross-entropy as it is defined,
#
# $$L = -\frac1N \sum_n \sum_k y_{nk} \log p_{nk}, \qquad p = \operatorname{softmax}(z),$$
#
# then replaces it by `softmax_cross_entropy_with_logits`. Why: once one logit trails the largest by more
# than about 104 (float32) its probability **underflows** to exactly 0, $\log 0 = -\infty$, and
# $0 \cdot (-\infty)$ is NaN. The stable form never takes the log of a probability; it computes
# $\log p = z - \max z - \log\sum e^{z - \max z}$ ([docs/math.md](../docs/math.md#cross-entropy)).

# %%
import scratch.losses as np_losses  # noqa: E402
import tfimpl.losses as tf_losses  # noqa: E402

y = np.array([[0, 1, 0], [1, 0, 0]], np.float32)
for spread in (10.0, 100.0, 200.0):
    z = np.array([[spread, 0.0, -spread], [0.0, spread, 0.0]], np.float32)
    with np.errstate(all="ignore"):
        rows = (
            np_losses.naive_cross_entropy(z, y),
            float(tf_losses.naive_cross_entropy(z, y)),
            np_losses.softmax_cross_entropy(z, y),
            float(tf_losses.softmax_cross_entropy(z, y)),
        )
    print(
        f"logits spread {spread:5}: naive scratch {rows[0]:>8.3f}  tfimpl {rows[1]:>8.3f}   stable scratch {rows[2]:8.3f}  tfimpl {rows[3]:8.3f}"
    )

# %% [markdown]
# At a spread of 200 the naive loss is `inf` or NaN in both twins (a $0 \cdot \log 0$ makes NaN), and its
# gradient, taken through $1/p$, is NaN: one such batch and every weight is NaN. The stable loss is 200,
# the right answer.

# %%
z = np.array([[200.0, 0.0, -200.0], [0.0, 200.0, 0.0]], np.float32)
with np.errstate(all="ignore"):
    naive_grad_np = np_losses.naive_cross_entropy_grad(z, y)
naive_grad_tf = tf_losses.naive_cross_entropy_grad(z, y).numpy()
stable_grad = np_losses.softmax_cross_entropy_grad(z, y)
print("naive gradient, scratch:\n", naive_grad_np, "\nnaive gradient, tfimpl:\n", naive_grad_tf)
print("stable gradient (p - y) / N:\n", stable_grad)

# %% [markdown]
# ## Training with each, as the tutorial
#
# The tutorial trains the naive loss at rate 0.05 (about 90.3%) and the stable one at 0.5 (about 91.9%).
# On MNIST the pixels are small and the logits stay moderate, so the naive loss survives here; at
# rate 0.5 it would too, but nothing guarantees it. A progress bar (tqdm) shows the steps as they go.

# %%
from IPython.display import Image, display  # noqa: E402

from common import plots  # noqa: E402
from common.data import load_mnist  # noqa: E402
from scratch.train import train as np_train  # noqa: E402
from tfimpl.train import train as tf_train  # noqa: E402

data = load_mnist()
naive = RunConfig(loss="naive_cross_entropy", learning_rate=0.05)
stable = RunConfig(loss="softmax_cross_entropy", learning_rate=0.5)
acc, runs = {}, {}
for name, config in (("naive, lr 0.05", naive), ("stable, lr 0.5", stable)):
    runs[name] = np_train(config, data)
    acc[name] = (runs[name].summary["test_accuracy"], tf_train(config, data, progress=False).summary["test_accuracy"])
    print(f"{name}: scratch {acc[name][0]:.2%}, tfimpl {acc[name][1]:.2%}")
display(
    Image(plots.plot_learning_curves(runs["stable, lr 0.5"].history, "stable.png", title="The stable loss at rate 0.5"))
)

# %% [markdown]
# ## What this notebook asserts

# %%
from tfimpl.device import resolve_device  # noqa: E402

flips = 2 / 10000 if resolve_device("auto") == "/GPU:0" else 0
assert c_value == 12.0 and d_value == 12.5 and f(tf.constant(0.5)).numpy() == 12.5
assert "SoftmaxCrossEntropyWithLogits" in description
assert not np.isfinite(rows[0]) and not np.isfinite(rows[1]) and rows[2] == rows[3] == 200.0
assert np.isnan(naive_grad_np).any() and np.isnan(naive_grad_tf).any() and np.isfinite(stable_grad).all()
assert acc["naive, lr 0.05"][0] >= 0.89 and acc["stable, lr 0.5"][0] >= 0.915
assert all(abs(a - b) <= flips for a, b in acc.values()), acc
print(
    f"headline: naive lr 0.05 {acc['naive, lr 0.05'][0]:.2%}, stable lr 0.5 {acc['stable, lr 0.5'][0]:.2%}; naive loss not finite at spread 200, stable 200"
)
