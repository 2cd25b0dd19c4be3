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
# # 6. Backpropagation, walked through
#
# *Reading order: 3, 1, 4, 2, 5, **6**, 7. Before this: [5. Understanding TensorFlow with MNIST](05_understanding_tensorflow_mnist.py),
# which trains the network taken apart here. A learner who wants the derivatives before the tutorials can
# read it right after [1](01_simple_linear_model.py). Next: [7. Convolution by hand](07_convolution_by_hand.py).*
#
# The other notebooks stop at `dlogits` and let `scratch.models.backward` or `tf.GradientTape` do the rest.
# Here the gradient flows past the last layer, one array per cell, through the 784-300-10 network of
# notebook 5. For four real images each backward quantity is computed by hand, then checked twice:
# against TensorFlow's tape (`tfimpl`) and against central differences (`scratch.gradcheck`), which
# know nothing about the formulas. The derivations the [docs](../docs/math.md#backpropagation) state
# briefly are worked out in full. At the end, the one-step weights of notebook 1 in closed form, and what
# the tape records and replays.

# %%
import numpy as np
from IPython.display import Image, display

import scratch.losses as np_losses
import scratch.models as np_models
from common import plots
from common.data import load_mnist
from common.labels import one_hot
from scratch.gradcheck import TOLERANCE, errors, numerical_gradient
from tfimpl.backend import tf  # TensorFlow, without its start-up lines

data64 = load_mnist(dtype=np.float64)  # float64: the differences need it, and the twins agree to ~1e-16
x, labels = data64.train.images[:4], data64.train.labels[:4]  # (4, 784), the first four training images
y = one_hot(labels, dtype=np.float64)  # (4, 10)
params = np_models.init_params("mlp", init="normal", seed=0, dtype=np.float64)  # notebook 5's start
W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
N = len(x)
print("labels", labels.tolist(), "| x", x.shape, "W1", W1.shape, "b1", b1.shape, "W2", W2.shape, "b2", b2.shape)

# %% [markdown]
# ## The graph
#
# Every array of the forward pass, with its shape, and the gradient that flows back into it. The drawing
# code comes first; the figure is what matters.

# %%
import matplotlib.pyplot as plt  # noqa: E402

RED, FILL, PARAM = "#c0392b", "#e8eef7", "#f6eed8"
fig, ax = plt.subplots(figsize=(13, 5.4))
ax.set_xlim(-0.8, 11.2), ax.set_ylim(-2.3, 2.5), ax.axis("off")
xs = [0.0, 2.6, 5.2, 7.8, 10.4]  # x, a, h, z, L
for xpos, text in zip(
    xs, [f"x\n({N}, 784)", f"a\n({N}, 300)", f"h\n({N}, 300)", f"z\n({N}, 10)", "L\n()"], strict=True
):
    ax.text(
        xpos,
        0,
        text,
        ha="center",
        va="center",
        fontsize=11,
        bbox={"boxstyle": "round,pad=0.5", "fc": FILL, "ec": "0.3"},
    )


def arrow(x0, y0, x1, y1, colour="black", label="", dy=0.0):
    ax.annotate(
        "", (x1, y1), (x0, y0), arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 1.6, "shrinkA": 0, "shrinkB": 0}
    )
    ax.text((x0 + x1) / 2, (y0 + y1) / 2 + dy, label, ha="center", va="center", fontsize=10.5, color=colour)


for i, label in enumerate(["a = x W1 + b1", "h = relu(a)", "z = h W2 + b2", "L = cross-entropy\n(softmax(z), y)"]):
    arrow(xs[i] + 0.62, 0.12, xs[i + 1] - 0.62, 0.12, label=label, dy=0.32)
for i, label in enumerate(["da = dh ⊙ [a > 0]", "dh = dz W2ᵀ", "dz = (softmax(z) - y) / N"], start=1):
    arrow(xs[i + 1] - 0.62, -0.12, xs[i] + 0.62, -0.12, RED, label, dy=-0.32)
for xpos, text, grad in [
    (1.3, "W1 (784, 300)\nb1 (300,)", "dW1 = xᵀ da\ndb1 = Σₙ da"),
    (6.5, "W2 (300, 10)\nb2 (10,)", "dW2 = hᵀ dz\ndb2 = Σₙ dz"),
    (9.1, f"y ({N}, 10)", ""),
]:
    ax.text(
        xpos,
        1.75,
        text,
        ha="center",
        va="center",
        fontsize=11,
        bbox={"boxstyle": "round,pad=0.5", "fc": PARAM, "ec": "0.3"},
    )
    arrow(xpos, 1.3, xpos, 0.9, "0.45")
    if grad:
        ax.text(
            xpos,
            -1.45,
            grad,
            ha="center",
            va="center",
            fontsize=10.5,
            color=RED,
            bbox={"boxstyle": "round,pad=0.4", "fc": "white", "ec": RED},
        )
        arrow(xpos + 1.3, -0.45, xpos + 0.45, -1.12, RED)
ax.text(5.2, 2.4, "forward, in black: each array from the one before it", ha="center", fontsize=11)
ax.text(
    5.2,
    -2.25,
    "backward, in red: each gradient from the one after it; the parameters' gradients from those",
    ha="center",
    fontsize=11,
    color=RED,
)
display(Image(plots.save(fig, "backprop_graph.png")))

# %% [markdown]
# ## Forward, by hand
#
# $a = xW_1 + b_1$ (the pre-activation), $h = \operatorname{relu}(a)$, $z = hW_2 + b_2$ (the logits),
# $L = -\frac1N\sum_n\sum_k y_{nk}\log\operatorname{softmax}(z_n)_k$. The same four lines are what
# `scratch.models.forward` runs, so its logits are equal to the last bit.

# %%
a = x @ W1 + b1  # (4, 300)
h = np.maximum(a, 0)  # (4, 300)
z = h @ W2 + b2  # (4, 10)
p = np_losses.softmax(z)  # (4, 10)
L = -np.sum(y * np.log(p)) / N
z_model, _ = np_models.forward(params, x)
print(
    f"L = {L:.6f}; the model's loss {np_losses.softmax_cross_entropy(z_model, y):.6f}; logits equal: {np.array_equal(z, z_model)}"
)
print(f"the pre-activation closest to ReLU's kink at 0: {np.abs(a).min():.1e}")

# %% [markdown]
# Central differences step each number by $h = 10^{-5}$ both ways, which moves a pre-activation by at most
# $h$ (pixels lie in $[0, 1]$). A pre-activation closer to 0 than that would sit on both sides of ReLU's
# kink and its difference would mean nothing. The closest is 4.8 times $h$ away: far enough (the last cell
# checks it is beyond $h$).
#
# **The two checks.** TensorFlow's tape records the same forward pass with `tfimpl`'s layers, and one
# `tape.gradient` call gives the gradient of $L$ with respect to every array at once (a *persistent* tape
# could be asked again; this one is asked once, for all). The differences need only a function that
# recomputes $L$ from the array in question:

# %%
import tfimpl.layers as tf_layers  # noqa: E402
import tfimpl.losses as tf_losses  # noqa: E402

arrays = {name: tf.Variable(value) for name, value in params.items()}
with tf.GradientTape() as tape:
    a_t, _ = tf_layers.dense_forward(x, arrays["W1"], arrays["b1"])
    h_t, _ = tf_layers.relu_forward(a_t)
    z_t, _ = tf_layers.dense_forward(h_t, arrays["W2"], arrays["b2"])
    L_t = tf_losses.softmax_cross_entropy(z_t, y)
watched = {
    "dz": z_t,
    "dW2": arrays["W2"],
    "db2": arrays["b2"],
    "dh": h_t,
    "da": a_t,
    "dW1": arrays["W1"],
    "db1": arrays["b1"],
}
tape_grads = {k: g.numpy() for k, g in zip(watched, tape.gradient(L_t, list(watched.values())), strict=True)}


def loss_from(z_):  # L as a function of the logits
    return np_losses.softmax_cross_entropy(z_, y)


checks, rng = {}, np.random.default_rng(0)


def check(name, ours, numeric, idx=None):
    """Print and keep the gaps: the whole array against the tape, and against central differences
    (on the sampled flat indices ``idx`` where given). Max absolute, and relative in the max-norm."""
    tape_abs, tape_rel = errors(ours, tape_grads[name])
    diff_abs, diff_rel = errors(ours if idx is None else ours.reshape(-1)[idx], numeric)
    checks[name] = (tape_rel, diff_rel, diff_abs)
    sampled = "" if idx is None else f" ({len(idx)} sampled entries)"
    print(
        f"{name} {ours.shape}: vs tape {tape_abs:.1e} abs, {tape_rel:.1e} rel;"
        f" vs differences{sampled} {diff_abs:.1e} abs, {diff_rel:.1e} rel"
    )


# %% [markdown]
# ## Step 1: $dz$, through the softmax
#
# **The softmax's derivative, by the quotient rule.** With $S = \sum_j e^{z_j}$ and $p_i = e^{z_i}/S$, the
# numerator's derivative is $\partial e^{z_i}/\partial z_j = \delta_{ij} e^{z_i}$ and the denominator's is
# $\partial S/\partial z_j = e^{z_j}$, so
#
# $$\frac{\partial p_i}{\partial z_j} = \frac{\delta_{ij} e^{z_i} S - e^{z_i} e^{z_j}}{S^2}
#   = \delta_{ij}\frac{e^{z_i}}{S} - \frac{e^{z_i}}{S}\frac{e^{z_j}}{S} = p_i(\delta_{ij} - p_j).$$
#
# **The chain.** One example's loss is $\ell = -\sum_i y_i \log p_i$, so $\partial\ell/\partial p_i = -y_i/p_i$, and
#
# $$\frac{\partial \ell}{\partial z_j} = \sum_i -\frac{y_i}{p_i}\,p_i(\delta_{ij} - p_j) = -y_j + p_j\sum_i y_i = p_j - y_j,$$
#
# since a one-hot row sums to 1. $L$ is the mean of $N$ such losses, so $dz = (p - y)/N$
# ([docs/math.md](../docs/math.md#the-gradient-of-cross-entropy)). First the Jacobian of one row, the
# formula against differences; then $dz$:

# %%
jacobian = np.diag(p[0]) - np.outer(p[0], p[0])  # (10, 10): p_i (delta_ij - p_j)
z_row = z[:1].copy()
jacobian_numeric = np.stack(
    [numerical_gradient(lambda k=k: np_losses.softmax(z_row)[0, k], z_row)[0] for k in range(10)]
)  # row i: the gradient of p_i
jacobian_gap = errors(jacobian, jacobian_numeric)[1]
print(f"softmax Jacobian of one row, formula vs differences: {jacobian_gap:.1e} rel")

dz = (p - y) / N  # (4, 10)
z_num = z.copy()
check("dz", dz, numerical_gradient(lambda: loss_from(z_num), z_num))

# %% [markdown]
# ## Step 2: $dW_2$, $db_2$ and $dh$, from indices to matrices
#
# Write the layer entry by entry: $z_{nj} = \sum_i h_{ni} W_{2,ij} + b_{2,j}$. A weight $W_{2,ij}$ appears in
# $z_{nj}$ for every example $n$, each time multiplied by $h_{ni}$, so the chain rule adds over the batch:
#
# $$\frac{\partial L}{\partial W_{2,ij}} = \sum_n \frac{\partial L}{\partial z_{nj}}\frac{\partial z_{nj}}{\partial W_{2,ij}}
#   = \sum_n h_{ni}\, dz_{nj} = (h^\top dz)_{ij}.$$
#
# A sum over $n$ of $h_{ni}$ times $dz_{nj}$ *is* the matrix product of $h^\top$ and $dz$: that step is the
# whole of "$dW = x^\top d\text{out}$". The index form, `einsum("ni,nj->ij")`, and the matrix form agree:

# %%
dW2 = h.T @ dz  # (300, 10)
index_form_gap = errors(np.einsum("ni,nj->ij", h, dz), dW2)[1]  # the sum over n, written as indices
print(f"dW2 as a sum over the batch (einsum) vs h.T @ dz: {index_form_gap:.1e} rel")
W2_num = W2.copy()
idx2 = rng.choice(W2.size, 200, replace=False)
check("dW2", dW2, numerical_gradient(lambda: loss_from(h @ W2_num + b2), W2_num, indices=idx2), idx2)

# %% [markdown]
# $b_{2,j}$ appears in every $z_{nj}$ with factor 1, so its gradient adds $dz$ over the batch:
# $db_2 = \sum_n dz_n$.

# %%
db2 = dz.sum(axis=0)  # (10,)
b2_num = b2.copy()
check("db2", db2, numerical_gradient(lambda: loss_from(h @ W2 + b2_num), b2_num))

# %% [markdown]
# $h_{ni}$ appears in $z_{nj}$ for every class $j$, multiplied by $W_{2,ij}$:
# $\partial L/\partial h_{ni} = \sum_j dz_{nj} W_{2,ij} = (dz\,W_2^\top)_{ni}$. This is the gradient handed to the
# layer below.

# %%
dh = dz @ W2.T  # (4, 300)
h_num = h.copy()
check("dh", dh, numerical_gradient(lambda: loss_from(h_num @ W2 + b2), h_num))

# %% [markdown]
# ## Step 3: $da$, through the ReLU
#
# $h = \max(a, 0)$ entry by entry: its derivative is 1 where $a > 0$ and 0 where $a < 0$ (at exactly 0 it
# is taken as 0, as TensorFlow does). So the gradient passes where the unit was on and stops where it was
# off: $da = dh \odot [a > 0]$.

# %%
da = dh * (a > 0)  # (4, 300)
a_num = a.copy()
check("da", da, numerical_gradient(lambda: loss_from(np.maximum(a_num, 0) @ W2 + b2), a_num))
print(f"units on: {int((a > 0).sum())} of {a.size}; the gradient stops at the other {int((a <= 0).sum())}")

# %% [markdown]
# ## Step 4: $dW_1$ and $db_1$
#
# The first layer is the second one again with $x$ in place of $h$: $dW_1 = x^\top da$, $db_1 = \sum_n da_n$.
# The gradient for the pixels, $da\,W_1^\top$, is not needed to train, and training skips it: half of this
# layer's backward work. Weights fed by a pixel that is blank in all four images get a gradient of exactly
# 0, so the differences are sampled among the others:

# %%
dW1 = x.T @ da  # (784, 300)
W1_num = W1.copy()
inked = np.flatnonzero(np.repeat(x.any(axis=0), W1.shape[1]))  # flat indices of weights fed by ink
idx1 = rng.choice(inked, 300, replace=False)
check(
    "dW1",
    dW1,
    numerical_gradient(lambda: loss_from(np.maximum(x @ W1_num + b1, 0) @ W2 + b2), W1_num, indices=idx1),
    idx1,
)
print(
    f"weights fed by a blank pixel: {W1.size - inked.size:,} of {W1.size:,}, all with gradient 0: {bool((np.delete(dW1.reshape(-1), inked) == 0).all())}"
)

# %% [markdown]
# And the bias of the hidden layer, $db_1 = \sum_n da_n$:

# %%
db1 = da.sum(axis=0)  # (300,)
b1_num = b1.copy()
check("db1", db1, numerical_gradient(lambda: loss_from(np.maximum(x @ W1 + b1_num, 0) @ W2 + b2), b1_num))

# %% [markdown]
# **The code training runs** is these four steps: `scratch.models.backward`, handed $dz$ and the forward
# caches, calls `relu_backward` and `dense_backward` in the same order with the same products, and gets
# the same numbers to the last bit:

# %%
_, caches = np_models.forward(params, x)
model_grads, _ = np_models.backward(dz, caches)
ours = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
bit_equal = all(np.array_equal(model_grads[k], ours[k]) for k in ours)
print("scratch.models.backward gives the cells' arrays bit for bit:", bit_equal)

# %% [markdown]
# ## Notebook 1's first step, in closed form
#
# The first tutorial starts from $W = 0$, $b = 0$. Then every logit is 0, every probability is exactly
# $1/10$, and step 1 above gives $dz = (0.1 - Y)/N$ for the first batch $X$ (100 images) with one-hot rows
# $Y$. The linear model has only step 4: $dW = X^\top dz$. One step of SGD at rate $\mathrm{lr}$ moves
# $W = 0 - \mathrm{lr}\,dW$, that is
#
# $$W = \frac{\mathrm{lr}}{N}\,X^\top (Y - 0.1), \qquad
#   W_{:,k} = \frac{\mathrm{lr}}{N}\Bigl(\sum_{n:\,t_n = k} x_n \;-\; 0.1 \sum_n x_n\Bigr).$$
#
# Column $k$ is the batch's images of digit $k$ added up, less a tenth of all its images: a template of the
# digit on a negative of the average digit. That is exactly what notebook 1's weight images after one step
# show. Which of the two wins depends on how much ink the digit's images bring: below, the 0s (15 of
# them, round and inky) outweigh the tenth of all, while the 1s (5 thin strokes) do not, and their column is
# mostly blue with the stroke left red down the middle. Against a real first step of notebook 1's run
# (float32):

# %%
from common.data import batch_indices  # noqa: E402
from scratch.experiments import weight_snapshots  # noqa: E402

data = load_mnist()  # float32, as notebook 1 trains
first = batch_indices(len(data.train.images), 100, 0, 0)[0]  # notebook 1's first batch
X1, Y1 = data.train.images[first], one_hot(data.train.labels[first])
closed_form = np.float32(0.5 / 100) * (X1.T @ (Y1 - np.float32(0.1)))  # (784, 10)
[(_, W_step1, acc_step1)] = weight_snapshots(data, steps=(1,))
closed_gap = errors(closed_form, W_step1)[1]
print(f"closed form vs the trained step: {closed_gap:.1e} rel (float32); test accuracy after the step {acc_step1:.1%}")
print("images of each digit in the first batch:", np.bincount(data.train.labels[first], minlength=10).tolist())

fig, grid = plt.subplots(nrows=3, ncols=3, figsize=(6.6, 6.8))
for row, k in enumerate((0, 1, 7)):
    mine_k = X1[data.train.labels[first] == k].sum(axis=0)
    panels = [
        (mine_k, f"its {k}s, added up"),
        (0.1 * X1.sum(axis=0), "a tenth of all 100"),
        (closed_form[:, k], f"W[:, {k}] after step 1"),
    ]
    for ax, (img, title) in zip(grid[row], panels, strict=True):
        vmax = np.abs(img).max()
        ax.imshow(img.reshape(28, 28), cmap=plots.DIVERGING, vmin=-vmax, vmax=vmax)
        ax.set_title(title, fontsize=9), ax.set_xticks([]), ax.set_yticks([])
fig.suptitle("One SGD step from zeros: W = (lr / N) X^T (Y - 0.1)\n(each panel on its own colour scale)")
display(Image(plots.save(fig, "first_step.png")))

# %% [markdown]
# ## What `tf.GradientTape` records and replays
#
# The notebooks call the tape long before they say what it does. Inside `with tf.GradientTape() as tape:`
# TensorFlow writes down every operation it runs on a *watched* tensor (trainable variables are watched
# by themselves; `tape.watch` adds others), with its inputs and outputs. `tape.gradient(L, sources)` then
# walks that record backwards from `L`, calling for each operation the gradient function TensorFlow has
# registered for its type, with the gradient that has arrived from above: the same vector-Jacobian
# products as the cells above. It differentiates what ran, not the Python source: an operation outside the
# block, or a branch not taken, is not on the record. A plain tape is replayed once and then freed;
# `persistent=True` keeps it for more calls. Traced into a graph, the replay shows its pieces: the forward
# `MatMul` and `Relu`, then `ReluGrad` (the mask $[a > 0]$) and a `MatMul` with its first input transposed,
# $x^\top\,d\text{out}$:

# %%


@tf.function
def dense_relu_gradient(inputs, kernel):
    with tf.GradientTape() as tape:
        tape.watch(kernel)
        out = tf.reduce_sum(tf.nn.relu(inputs @ kernel))
    return tape.gradient(out, kernel)


spec = (tf.TensorSpec([4, 784], tf.float64), tf.TensorSpec([784, 300], tf.float64))
replayed = []
for op in dense_relu_gradient.get_concrete_function(*spec).graph.get_operations():
    if op.type == "MatMul":
        replayed.append(f"MatMul(transpose_a={op.get_attr('transpose_a')}, transpose_b={op.get_attr('transpose_b')})")
    elif op.type in ("Relu", "ReluGrad"):
        replayed.append(op.type)
print("in the traced graph, in order:", replayed)

w = tf.Variable(2.0)
with tf.GradientTape(persistent=True) as tape:
    inside = w * 3.0
outside = w * 5.0  # computed after the block: not on the record
print("d(inside)/dw =", float(tape.gradient(inside, w)), "; d(outside)/dw =", tape.gradient(outside, w))
with tf.GradientTape() as once:
    square = w * w
print("d(w*w)/dw =", float(once.gradient(square, w)), "(this tape is now spent)")
try:
    once.gradient(square, w)
    replayed_twice = True
except RuntimeError as error:  # a plain tape frees its record after one replay
    replayed_twice = False
    print("asked again:", str(error).split(".")[0])

# %% [markdown]
# ## Exercises
#
# Solutions: `notebooks/solutions.py`; `tests/test_solutions.py` checks each stated outcome.
#
# 1. **A ReLU that forgets its mask.** Redo steps 3 and 4 with `scratch.bugs.relu_backward_without_mask`
#    in place of the mask, and check $dW_1$ against central differences. *Expected:* the check fails, with a
#    relative error about 0.24 (a passing one is below $10^{-7}$): the gradient flows through units that were
#    off. (`mlp_gradcheck(..., backward=bugs.relu_backward_without_mask)`)
# 2. **Sigmoid units.** Replace the ReLU by the sigmoid, whose derivative $\sigma(a)(1 - \sigma(a))$ is
#    computed from the cached output (`scratch.layers.sigmoid_forward`, `sigmoid_backward`). *Expected:*
#    the check passes, relative error about $10^{-9}$. (`mlp_gradcheck(..., "sigmoid")`)
# 3. **ReLU flips.** Train the twins side by side in float32 for one epoch from the same start on the same
#    batches, once with ReLU and once with tanh units, and count the hidden pre-activations that are
#    positive in one twin and not in the other. *Expected:* with ReLU some units flip and the parameters end
#    more than $10^{-5}$ apart; with tanh nothing flips and they end below $10^{-6}$ apart, over a hundred
#    times closer. A flip changes an example's gradient by the unit's whole contribution, which is why
#    compare's float32 training tolerance is as loose as it is
#    ([docs/math.md](../docs/math.md#floating-point-on-cpus-and-gpus)). (`lockstep_gap`)

# %% [markdown]
# ## What this notebook asserts

# %%
assert np.abs(a).min() > 1e-5  # no pre-activation within h of the kink: each difference sees one side
assert jacobian_gap < TOLERANCE and index_form_gap < 1e-12, (jacobian_gap, index_form_gap)
for name, (tape_rel, diff_rel, _) in checks.items():
    assert tape_rel < 1e-10, (name, tape_rel)  # float64, the same formulas: compare's float64 tolerance
    assert diff_rel < TOLERANCE, (name, diff_rel)  # the gradient-check bound, 1e-7
assert bit_equal  # the code training runs computes exactly the cells' arrays
assert closed_gap < 1e-6, closed_gap  # float32 rounding of two orders of the same sums
assert closed_form[:, 1].sum() < 0 < closed_form[:, 0].sum()  # the 1s lose to the average digit, the 0s win
assert replayed == [
    "MatMul(transpose_a=False, transpose_b=False)",
    "Relu",
    "ReluGrad",
    "MatMul(transpose_a=True, transpose_b=False)",
], replayed
assert not replayed_twice
worst_tape = max(t for t, _, _ in checks.values())
worst_diff = max(d for _, d, _ in checks.values())
print(
    f"headline: 7 backward arrays by hand; vs tape at most {worst_tape:.1e} rel, vs differences at most"
    f" {worst_diff:.1e} rel; notebook 1's first step in closed form to {closed_gap:.1e}"
)
