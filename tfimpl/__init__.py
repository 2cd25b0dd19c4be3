r"""mnist-by-hand, the TensorFlow half: the same models as :mod:`scratch`, with TensorFlow doing the calculus.

Same module names, same public names, same signatures and parameter keys as :mod:`scratch`; read them
side by side. The derivations live in the :mod:`scratch` docstrings; here each function says which
TensorFlow op or Keras class does the work and where TensorFlow behaves differently.
"""

__version__ = "0.1.0"
