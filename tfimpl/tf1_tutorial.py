r"""The first tutorial's model the TensorFlow 1 way: describe a graph, then run it in a ``Session``.

TensorFlow 1 had no eager mode. A program first *described* its computation: ``placeholder`` nodes stand
for the data it will be given, variables hold what training changes, operations connect them. Nothing is
computed until a ``Session`` is asked for some nodes and handed a ``feed_dict``, one value for each
placeholder those nodes depend on. TensorFlow 2 keeps that machinery under ``tf.compat.v1``; this module
uses it for softmax regression as the first tutorial trains it (zeros, gradient descent at rate 0.5, 1000
batches of 100: 91.57%, the batches and the accuracy of ``python -m tfimpl train``), so that a reader of
the old tutorials sees their pieces run. The rest of :mod:`tfimpl` does the same with eager tensors and
``tf.function``. Run it with ``python -m tfimpl tf1``.

:func:`build_graph` makes each piece explicit where the old listings hid it in one call:

* the graph is a ``tf.Graph`` of its own, so the rest of the process stays eager;
* the gradient is ``tf.compat.v1.gradients``: symbolic differentiation, which adds the backward
  operations to the same graph (where ``tf.GradientTape`` records and replays them instead);
* the update is two ``assign_sub`` nodes grouped into one, the arithmetic of plain gradient descent,
  :math:`\theta \leftarrow \theta - \eta\, \partial J / \partial \theta`, with no optimizer object;
* the labels are fed as class ids to the sparse cross-entropy, and the accuracy is counted in NumPy from
  the logits the session hands back.

The math is in :mod:`scratch.losses` and :mod:`scratch.models`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from common.data import Datasets, batch_indices, load_mnist
from common.rules import check_positive_int

from .backend import tf

__all__ = ["TF1Graph", "build_graph", "run"]

v1 = tf.compat.v1


class TF1Graph(NamedTuple):
    """The nodes a session is asked for or fed, and the graph that holds them."""

    graph: tf.Graph
    pixels: tf.Tensor  # placeholder (None, 784): the images of one run call
    digits: tf.Tensor  # placeholder (None,): their class ids
    logits: tf.Tensor  # (None, 10)
    cost: tf.Tensor  # scalar: the batch's mean cross-entropy
    update: tf.Operation  # one gradient-descent step on kernel and bias
    initialise: tf.Operation  # sets kernel and bias to zeros


def build_graph(learning_rate: float = 0.5) -> TF1Graph:
    """Describe softmax regression and one training step as a graph; nothing is computed here."""
    graph = tf.Graph()
    with graph.as_default():
        pixels = v1.placeholder(name="pixels", dtype=tf.float32, shape=(None, 784))
        digits = v1.placeholder(name="digits", dtype=tf.int32, shape=(None,))
        kernel = v1.get_variable("kernel", shape=(784, 10), initializer=v1.zeros_initializer())
        bias = v1.get_variable("bias", shape=(10,), initializer=v1.zeros_initializer())
        logits = tf.nn.bias_add(tf.linalg.matmul(pixels, kernel), bias, name="logits")  # (None, 10)
        per_image = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=digits, logits=logits)  # (None,)
        cost = tf.math.reduce_mean(per_image, name="cost")
        d_kernel, d_bias = v1.gradients(cost, [kernel, bias])  # backward nodes, added to this graph
        rate = tf.constant(learning_rate, tf.float32, name="rate")
        update = tf.group(v1.assign_sub(kernel, rate * d_kernel), v1.assign_sub(bias, rate * d_bias), name="update")
        initialise = v1.variables_initializer([kernel, bias], name="initialise")
    return TF1Graph(graph, pixels, digits, logits, cost, update, initialise)


def run(
    data: Datasets | None = None, *, steps: int = 1000, batch_size: int = 100, learning_rate: float = 0.5, seed: int = 0
) -> float:
    """Build the graph, train it ``steps`` batches in a session, and return the test accuracy."""
    check_positive_int("steps", steps)
    data = load_mnist() if data is None else data
    nodes = build_graph(learning_rate)
    images, labels = data.train.images, data.train.labels  # (55000, 784), (55000,)
    per_epoch = len(images) // batch_size
    with v1.Session(graph=nodes.graph) as session:
        session.run(nodes.initialise)
        for step in range(steps):
            epoch, i = divmod(step, per_epoch)
            if i == 0:  # the same shuffled batches as every other training loop of the project
                order = batch_indices(len(images), batch_size, seed, epoch)
            feed = {nodes.pixels: images[order[i]], nodes.digits: labels[order[i]]}
            session.run(nodes.update, feed_dict=feed)
        test_logits = session.run(nodes.logits, feed_dict={nodes.pixels: data.test.images})  # (10000, 10)
    return float(np.mean(test_logits.argmax(axis=1) == data.test.labels))


if __name__ == "__main__":  # pragma: no cover
    print(f"TF 1 tutorial via tf.compat.v1: test accuracy {run():.2%}")
