r"""The first tutorial in its original TensorFlow 1 form, run through ``tf.compat.v1``.

Placeholders, ``Variable``, ``Session``, ``feed_dict`` and ``GradientDescentOptimizer(0.5)``, 1000 steps
of 100 examples: about 92%. The bridge for readers of the old tutorials; the rest of :mod:`tfimpl`
shows the same model the TF 2 way. Run it with ``python -m tfimpl tf1``.

Only two things differ from the 2015 listing: the graph is built inside ``tf.Graph().as_default()``
(TF 2 is eager by default; a private graph keeps the rest of the process eager), and the batches come
from :func:`common.data.batch_indices` instead of ``mnist.train.next_batch``. The loss is the stable
``softmax_cross_entropy_with_logits``, as in the tutorial's later revisions.
"""

from __future__ import annotations

from common.data import Datasets, batch_indices, load_mnist
from common.labels import one_hot
from common.rules import check_positive_int

from .backend import tf

__all__ = ["run"]

v1 = tf.compat.v1


def run(
    data: Datasets | None = None, *, steps: int = 1000, batch_size: int = 100, learning_rate: float = 0.5, seed: int = 0
) -> float:
    """Train softmax regression the TF 1 way and return its test accuracy."""
    check_positive_int("steps", steps)
    data = load_mnist() if data is None else data
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [None, 784])
        W = tf.Variable(tf.zeros([784, 10]))
        b = tf.Variable(tf.zeros([10]))
        y = tf.matmul(x, W) + b
        y_ = v1.placeholder(tf.float32, [None, 10])
        cross_entropy = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=y))
        train_op = v1.train.GradientDescentOptimizer(learning_rate).minimize(cross_entropy)
        correct = tf.equal(tf.argmax(y, 1), tf.argmax(y_, 1))
        accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
        init = v1.global_variables_initializer()
    images, labels = data.train.images, one_hot(data.train.labels)
    per_epoch = len(images) // batch_size
    with v1.Session(graph=graph) as sess:
        sess.run(init)
        for step in range(steps):
            epoch, i = divmod(step, per_epoch)
            idx = batch_indices(len(images), batch_size, seed, epoch)[i]
            sess.run(train_op, feed_dict={x: images[idx], y_: labels[idx]})
        return float(sess.run(accuracy, feed_dict={x: data.test.images, y_: one_hot(data.test.labels)}))


if __name__ == "__main__":  # pragma: no cover
    print(f"TF 1 tutorial via tf.compat.v1: test accuracy {run():.2%}")
