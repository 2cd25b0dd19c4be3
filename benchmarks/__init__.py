"""Benchmarks: NumPy by hand against TensorFlow and Keras, timed side by side (``python -m benchmarks report``)."""

try:  # TensorFlow without its start-up lines, when it is installed
    import tfimpl  # noqa: F401
except ImportError:  # the NumPy half still benchmarks
    pass
