r"""TensorFlow and Keras, imported without their start-up lines: ``from tfimpl.backend import tf``.

Every module of :mod:`tfimpl` takes TensorFlow from here, so the first one imported sends absl's "All log
messages before absl::InitializeLog()" and oneDNN's notice away from the terminal; anything else
TensorFlow prints at import still shows. ``TF_CPP_MIN_LOG_LEVEL`` alone does not silence those lines on
TF 2.21: absl prints them to the process's stderr before it reads its settings. Importing :mod:`tfimpl`
itself does not import TensorFlow, so ``python -m tfimpl`` answers bad flags at once.
"""

from __future__ import annotations

import os
import sys
import tempfile

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

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

__all__ = ["keras", "tf"]
