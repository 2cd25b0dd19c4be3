r"""Writing run outputs atomically, and the parameter file format shared by both packages.

Every write goes to a temporary file in the target's folder and is renamed over the target only once it
is complete, so an interrupted run never leaves a half-written file behind.

``params.npz`` holds one array per parameter, ``W1, b1, ..., WL, bL``, weights ``(in, out)``, all of one
float dtype. It is read with ``allow_pickle=False``: a file that needs pickle is refused, never executed.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

__all__ = ["ParamsError", "atomic_write_bytes", "load_params", "save_params", "write_json", "write_jsonl"]


class ParamsError(ValueError):
    """A parameter file is unreadable or does not describe a model of this project."""


def atomic_write_bytes(target: str | os.PathLike, content: bytes) -> None:
    """Write ``content`` to ``target`` via a temporary file in the same folder, fsync, then rename."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(target: str | os.PathLike, obj) -> None:
    """Pretty JSON, written atomically."""
    atomic_write_bytes(target, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def write_jsonl(target: str | os.PathLike, rows: Iterable[dict]) -> None:
    """One JSON object per line, written atomically."""
    atomic_write_bytes(target, "".join(json.dumps(r) + "\n" for r in rows).encode())


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


def save_params(target: str | os.PathLike, params: dict[str, np.ndarray]) -> None:
    """Save a parameter dict as ``.npz`` (uncompressed), atomically, after checking its layout."""
    params = {k: np.asarray(v) for k, v in params.items()}
    _check_layout(params, str(target))
    buffer = io.BytesIO()
    np.savez(buffer, **params)
    atomic_write_bytes(target, buffer.getvalue())


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
        with np.load(source, allow_pickle=False) as npz:
            params = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ParamsError(f"{source}: not a readable parameter file ({exc})") from exc
    _check_layout(params, str(source))
    order = sorted(params, key=lambda k: (int(k[1:]), k[0] != "W"))
    params = {k: params[k] for k in order}
    if like is not None:
        for k, ref in like.items():
            got = params.get(k)
            if got is None or got.shape != ref.shape or got.dtype != ref.dtype:
                desc = "missing" if got is None else f"{got.shape} {got.dtype}"
                raise ParamsError(f"{source}: {k} is {desc}, expected {ref.shape} {ref.dtype}")
    return params
