r"""MNIST as the classic train / validation / test split, loaded from the four IDX files.

Where the files are found and how missing ones are fetched is :mod:`common.download`; reading one file is
:mod:`common.idx`. This module puts them together like TensorFlow 1's ``read_data_sets``, and cuts the
shuffled batches both twins train on (:func:`batch_indices`).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .download import FILES, SHA256, ensure_mnist, find_file, resolve_dir, sha256
from .errors import UserError
from .idx import MNISTError, parse_idx, read_bytes

__all__ = ["VALIDATION_SIZE", "DataSet", "Datasets", "MNISTError", "batch_indices", "load_mnist"]

VALIDATION_SIZE = 5000


@dataclass(frozen=True)
class DataSet:
    """One split. ``images: (N, 784)`` in [0, 1]; ``labels: (N,)`` int64 class ids 0-9."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class Datasets:
    """The classic ``read_data_sets`` split: validation = the first 5000 training images."""

    train: DataSet
    validation: DataSet
    test: DataSet


def batch_indices(n: int, batch_size: int, seed: int, epoch: int) -> np.ndarray:
    r"""The example indices of one epoch, shuffled and cut into full batches.

    Both packages draw their batches from here, so a NumPy run and a TensorFlow run with the same seed
    see the same examples in the same order (the lockstep check in :mod:`compare` relies on it).
    The permutation depends only on ``(seed, epoch)``; the last partial batch is dropped so every
    batch has the same shape (a ``tf.function`` then traces once).

    Returns
    -------
    numpy.ndarray
        ``(n // batch_size, batch_size)`` int64 indices into the training set.
    """
    if batch_size <= 0 or batch_size > n:
        raise UserError(f"batch_size must be in [1, {n}], got {batch_size}")
    perm = np.random.default_rng([seed, epoch]).permutation(n)
    steps = n // batch_size
    return perm[: steps * batch_size].reshape(steps, batch_size)


def _load_file(folder: Path, name: str, verify: bool) -> np.ndarray:
    """One file's array, read-only: decompressed, parsed and checked once per process while the file is unchanged.

    A process that loads MNIST again (``compare plots`` draws each twin's figures, a test session runs many
    commands) gets the same array back without the half second of gunzip and sha256; the key is the file's
    identity and its stamp (inode, size, modification time in nanoseconds), so a file replaced or
    rewritten is read anew. :func:`_load_split` copies it into the pixels it returns.
    """
    path = find_file(folder, name)
    if path is None:
        raise MNISTError(f"{folder / name}: missing (neither {name} nor {name}.gz is there).")
    st = path.stat()
    return _read_checked(str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns, name, verify)


@functools.lru_cache(maxsize=8)  # the four files; an exception (a bad file) is never cached
def _read_checked(path: str, ino: int, size: int, mtime_ns: int, name: str, verify: bool) -> np.ndarray:
    path = Path(path)
    content = read_bytes(path)
    array = parse_idx(content, path)
    if verify and sha256(content) != SHA256[name]:
        raise MNISTError(
            f"{path}: the content's sha256 is not MNIST's ({SHA256[name][:16]}...). The file is damaged or "
            "is another data set; delete it to re-download, or pass verify=False for IDX data of your own."
        )
    array.flags.writeable = False  # shared by every later load of this file
    return array


def _load_split(folder: Path, images: str, labels: str, dtype, verify: bool) -> DataSet:
    x = _load_file(folder, images, verify)
    y = _load_file(folder, labels, verify)
    if x.ndim != 3 or y.ndim != 1:
        raise MNISTError(f"{folder}: {images} must be 3-D images and {labels} 1-D labels, got {x.shape}, {y.shape}.")
    if len(x) != len(y):
        raise MNISTError(f"{folder}: {images} holds {len(x)} images but {labels} holds {len(y)} labels.")
    if y.size and y.max() > 9:
        bad = int(np.argmax(y > 9))
        raise MNISTError(f"{folder / labels}: label {int(y[bad])} at index {bad} is outside 0-9.")
    # Scale in the target dtype: x * (1/255) in float32 is what TF's read_data_sets did.
    pixels = x.reshape(len(x), -1).astype(dtype)
    pixels *= dtype.type(1.0 / 255.0)
    return DataSet(images=pixels, labels=y.astype(np.int64))


def load_mnist(
    folder: str | os.PathLike | None = None,
    *,
    dtype=np.float32,
    validation_size: int = VALIDATION_SIZE,
    download: bool = True,
    verify: bool = True,
) -> Datasets:
    r"""Train / validation / test like TensorFlow 1's ``read_data_sets``.

    Parameters
    ----------
    folder : path-like, optional
        Where the files are; see :func:`common.download.resolve_dir` for the fallbacks.
    dtype : {numpy.float32, numpy.float64}
        Pixel dtype; pixels are scaled to [0, 1].
    validation_size : int
        The FIRST ``validation_size`` training images become the validation set (5000, as in TF 1).
    download : bool
        Fetch missing files (:func:`common.download.ensure_mnist`); if False a missing file is an error.
    verify : bool
        Check each file's decompressed sha256. Turn off only for IDX data that is not MNIST.

    Returns
    -------
    Datasets
        ``train`` (55000), ``validation`` (5000), ``test`` (10000); images ``(N, 784)``, labels ``(N,)`` int64.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise UserError(f"dtype must be float32 or float64, got {dtype}")
    path = ensure_mnist(folder) if download else resolve_dir(folder)
    train = _load_split(path, FILES["train_images"], FILES["train_labels"], dtype, verify)
    test = _load_split(path, FILES["test_images"], FILES["test_labels"], dtype, verify)
    if not 0 <= validation_size < len(train):
        raise UserError(f"validation_size must be in [0, {len(train)}), got {validation_size}")
    v = validation_size
    return Datasets(
        train=DataSet(train.images[v:], train.labels[v:]),
        validation=DataSet(train.images[:v], train.labels[:v]),
        test=test,
    )
