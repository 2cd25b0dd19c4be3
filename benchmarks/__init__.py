"""Benchmarks: NumPy by hand against TensorFlow and Keras, timed side by side (``python -m benchmarks report``).

Importing the package does not import TensorFlow: its modules take it from :mod:`tfimpl.backend` where
they need it (without its start-up lines), so the NumPy half and the one-thread process start at once.
"""
