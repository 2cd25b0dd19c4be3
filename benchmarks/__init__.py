"""Benchmarks: NumPy by hand against TensorFlow and Keras, timed side by side (``python -m benchmarks report``)."""

try:  # TensorFlow without its start-up lines, when it is installed
    from tfimpl import backend  # noqa: F401
except ImportError:  # the NumPy half still benchmarks
    pass
