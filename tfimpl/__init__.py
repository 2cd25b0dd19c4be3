r"""mnist-by-hand, the TensorFlow half: the same models as :mod:`scratch`, with TensorFlow doing the calculus.

The mirrored modules (``losses``, ``layers``, ``initializers``, ``models``, ``optimizers``, ``train``,
``experiments``) have the same public names, in the same order, with the same signatures as
:mod:`scratch`'s; read them side by side. The derivations live in the :mod:`scratch` docstrings; here each
function says which TensorFlow op or Keras class does the work and where TensorFlow behaves differently.
TensorFlow-only modules: :mod:`~tfimpl.bridge` (NumPy <-> ``tf.Variable``), :mod:`~tfimpl.compiled` (the
train step as one graph), :mod:`~tfimpl.device` (device and TF32), :mod:`~tfimpl.graph`,
:mod:`~tfimpl.tf1_tutorial`. Both twins stand on :mod:`common`; neither imports the other.

Importing this package imports TensorFlow with its start-up lines (absl's "All log messages before
absl::InitializeLog()", oneDNN's notice) kept off the terminal; anything else it prints still shows.
"""

from __future__ import annotations

import os
import sys
import tempfile

__version__ = "0.1.0"

_STARTUP_NOISE = (
    "All log messages before absl::InitializeLog()",
    "oneDNN custom operations are on",
    "This TensorFlow binary is optimized",
    "cpu_feature_guard",
    "Unable to register cu",  # cuDNN / cuFFT / cuBLAS factories registered twice (CUDA builds)
    "computation placer already registered",
)


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with file descriptor 2 sent to a temporary file, then replay all but the noise.

    ``TF_CPP_MIN_LOG_LEVEL`` alone does not silence these lines on TF 2.21: absl prints them to the
    process's stderr before it reads its settings.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return
    try:
        saved = os.dup(2)
    except OSError:  # no file descriptor 2 (an embedded interpreter): import as is
        import tensorflow

        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode(errors="replace").splitlines():
                if line.strip() and not any(noise in line for noise in _STARTUP_NOISE):
                    print(line, file=sys.stderr)


_import_tensorflow_quietly()
