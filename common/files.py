r"""Writing outputs atomically, run folders whole or not at all, and the parameter file format.

Every write goes to a temporary file in the target's folder and is renamed over the target only once it
is complete, so an interrupted run never leaves a half-written file behind. A run folder is built as a
hidden sibling and renamed into place in one step (:func:`write_folder`). Files get the usual
permissions, ``0666`` less the umask (``0644`` under the common umask 022), not ``mkstemp``'s ``0600``.

``params.npz`` holds one array per parameter, ``W1, b1, ..., WL, bL``, weights ``(in, out)``, all of one
float dtype. It is read with ``allow_pickle=False``: a file that needs pickle is refused, never executed.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .errors import UserError
from .spec import param_shapes

__all__ = [
    "OutputError",
    "ParamsError",
    "atomic_write_bytes",
    "check_out_dir",
    "load_params",
    "params_bytes",
    "save_params",
    "write_folder",
    "write_json",
    "write_jsonl",
]


class ParamsError(UserError):
    """A parameter file is unreadable or does not describe a model of this project."""


class OutputError(UserError):
    """An output folder cannot be written; the message names it and says what to do."""


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _usual_mode(directory: bool = False) -> int:
    """``0666`` (files) or ``0777`` (folders) less the process umask, as ``open()`` and ``mkdir`` give."""
    return (0o777 if directory else 0o666) & ~_umask()


def atomic_write_bytes(target: str | os.PathLike, content: bytes) -> None:
    """Write ``content`` to ``target`` via a temporary file in the same folder, fsync, then rename."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        os.fchmod(fd, _usual_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def json_bytes(obj) -> bytes:
    """Pretty JSON, as bytes."""
    return (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode()


def jsonl_bytes(rows: Iterable[dict]) -> bytes:
    """One JSON object per line, as bytes."""
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def write_json(target: str | os.PathLike, obj) -> None:
    """Pretty JSON, written atomically."""
    atomic_write_bytes(target, json_bytes(obj))


def write_jsonl(target: str | os.PathLike, rows: Iterable[dict]) -> None:
    """One JSON object per line, written atomically."""
    atomic_write_bytes(target, jsonl_bytes(rows))


def _existing_ancestor(path: Path) -> Path:
    for parent in [path, *path.parents]:
        if parent.exists() or parent.is_symlink():
            return parent
    return Path(".")


def check_out_dir(out: str | os.PathLike, *, flag: str = "--out", run_folder: bool = True) -> Path:
    """Refuse, before any work, an output folder that could not be written as a run folder.

    Accepted: a folder that does not exist yet (below a writable folder), an empty folder, or an earlier
    run folder (it will be replaced whole); with ``run_folder=False`` (a report's folder, whose files are
    each replaced), any folder. The check really creates and removes a probe folder in the nearest
    existing folder, so read-only file systems and permissions are judged by the system itself.

    Raises
    ------
    OutputError
        With one line naming the folder and the problem.
    """
    if str(out).strip() == "":
        raise OutputError(f"{flag} is empty; give a folder name, or leave {flag} out for the default")
    out = Path(out)
    base = _existing_ancestor(out)
    if base == out:
        if not out.is_dir():
            raise OutputError(f"{flag} {out} is an existing file, not a folder; choose another path")
        names = {p.name for p in out.iterdir()}
        if run_folder and names and not (out / "summary.json").is_file():
            bad = "holds a folder named summary.json" if (out / "summary.json").exists() else "is not a run folder"
            raise OutputError(f"{flag} {out} {bad} and is not empty; choose a new folder")
        base = out if not run_folder else out.parent
    elif not base.is_dir():
        raise OutputError(f"{flag} {out} sits below {base}, which is a file, not a folder; choose another path")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".probe-", dir=base))
    except OSError as exc:
        raise OutputError(f"{flag} {out}: cannot write in {base} ({exc.strerror}); choose a writable folder") from None
    return out


def write_folder(target: str | os.PathLike, files: dict[str, bytes]) -> Path:
    """Write ``files`` (name -> bytes) as the folder ``target``, whole or not at all.

    The files go into a hidden sibling folder first; only when all are written is it renamed to
    ``target``. An earlier folder at ``target`` (see :func:`check_out_dir`) is moved aside in the same
    step and then removed. If anything fails, ``target`` is as it was and the sibling is gone.
    """
    target = check_out_dir(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    old = None
    try:
        os.chmod(staging, _usual_mode(directory=True))
        for name, content in files.items():
            atomic_write_bytes(staging / name, content)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
            os.replace(target, old / "run")
        os.replace(staging, target)
    except BaseException:
        if old is not None and not target.exists():
            os.replace(old / "run", target)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return target


def _check_layout(params: dict[str, np.ndarray], source: str) -> None:
    """Names ``W1, b1, ..., WL, bL``; shapes that chain 784 -> ... -> 10; one float dtype."""
    n_layers = len(params) // 2
    expected = [f"{p}{l}" for l in range(1, n_layers + 1) for p in ("W", "b")]
    if n_layers == 0 or sorted(params) != sorted(expected):
        raise ParamsError(f"{source}: expected arrays {expected or ['W1', 'b1']}, found {sorted(params)}")
    dtypes = {a.dtype for a in params.values()}
    if len(dtypes) != 1 or dtypes.pop() not in (np.float32, np.float64):
        raise ParamsError(
            f"{source}: all arrays must share one dtype, float32 or float64; found {sorted(map(str, {a.dtype for a in params.values()}))}"
        )
    if params["W1"].ndim == 4:  # the CNN: exactly the shapes of common.spec.param_shapes
        want = param_shapes("cnn")
        if {k: a.shape for k, a in params.items()} != want:
            found = {k: params[k].shape for k in want if k in params}
            raise ParamsError(f"{source}: a cnn's arrays must have the shapes {want}; found {found}")
        return
    d_in = 784
    for l in range(1, n_layers + 1):
        W, b = params[f"W{l}"], params[f"b{l}"]
        if W.ndim != 2 or W.shape[0] != d_in or b.shape != (W.shape[1],):
            raise ParamsError(
                f"{source}: layer {l} has W{l} {W.shape} and b{l} {b.shape}; expected W{l} ({d_in}, D) and b{l} (D,)"
            )
        d_in = W.shape[1]
    if d_in != 10:
        raise ParamsError(f"{source}: the last layer has {d_in} outputs, expected 10 classes")


def params_bytes(params: dict[str, np.ndarray], source: str = "params") -> bytes:
    """A parameter dict as the bytes of an uncompressed ``.npz``, after checking its layout."""
    params = {k: np.asarray(v) for k, v in params.items()}
    _check_layout(params, source)
    buffer = io.BytesIO()
    np.savez(buffer, **params)
    return buffer.getvalue()


def save_params(target: str | os.PathLike, params: dict[str, np.ndarray]) -> None:
    """Save a parameter dict as ``.npz`` (uncompressed), atomically, after checking its layout."""
    atomic_write_bytes(target, params_bytes(params, str(target)))


def load_params(source: str | os.PathLike, *, like: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Load a parameter dict saved by :func:`save_params`, checking names, shapes and dtypes.

    Parameters
    ----------
    source : path-like
    like : dict, optional
        If given, every array must also have exactly this dict's names, shapes and dtypes.

    Raises
    ------
    ParamsError
        Not an npz file, an array that would need pickle, or a layout that is not a model of ours.
    """
    try:
        with open(source, "rb") as f:
            magic = f.read(4)
        if magic != b"PK\x03\x04":  # every .npz is a zip archive
            raise ParamsError(
                f"{source}: not an .npz archive (it starts with {magic!r}); expected the params.npz that train writes"
            )
        with np.load(source, allow_pickle=False) as npz:
            params = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        if isinstance(exc, ParamsError):
            raise
        raise ParamsError(f"{source}: not a readable parameter file ({exc})") from exc
    _check_layout(params, str(source))
    bad = [k for k, v in params.items() if not np.all(np.isfinite(v))]
    if bad:
        raise ParamsError(f"{source}: {', '.join(bad)} hold NaN or infinite values; this model cannot be used")
    order = sorted(params, key=lambda k: (int(k[1:]), k[0] != "W"))
    params = {k: params[k] for k in order}
    if like is not None:
        for k, ref in like.items():
            got = params.get(k)
            if got is None or got.shape != ref.shape or got.dtype != ref.dtype:
                desc = "missing" if got is None else f"{got.shape} {got.dtype}"
                raise ParamsError(f"{source}: {k} is {desc}, expected {ref.shape} {ref.dtype}")
    return params
