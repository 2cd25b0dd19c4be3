r"""mnist-by-hand, the TensorFlow half: the same models as :mod:`scratch`, with TensorFlow doing the calculus.

The mirrored modules (``losses``, ``layers``, ``initializers``, ``models``, ``optimizers``, ``train``,
``experiments``, ``curvature``) have the same public names, in the same order, with the same signatures as
:mod:`scratch`'s; read them side by side. The derivations live in the :mod:`scratch` docstrings; here each
function says which TensorFlow op or Keras class does the work and where TensorFlow behaves differently.
TensorFlow-only modules: :mod:`~tfimpl.backend` (TensorFlow imported quietly), :mod:`~tfimpl.bridge`
(NumPy <-> ``tf.Variable``), :mod:`~tfimpl.compiled` (the train step as one graph), :mod:`~tfimpl.device`
(device and TF32), :mod:`~tfimpl.graph`, :mod:`~tfimpl.tf1_tutorial`. Both twins stand on :mod:`common`;
neither imports the other.
"""

__version__ = "0.1.0"
