r"""The IDX file format (LeCun et al.): reading and validating one file, gzip-compressed or raw.

An IDX file is a big-endian header followed by raw bytes::

    magic:  0x00 0x00 <type code> <number of dimensions>     (type 0x08 = unsigned byte)
    dims:   one uint32 per dimension                          (60000, 28, 28) for the train images
    data:   prod(dims) values                                 row-major, 1 byte each for MNIST

Every way a file can be broken (truncated, trailing bytes, a damaged gzip stream, a foreign magic number)
raises :class:`MNISTError` with a one-line message that names the file and what to do.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from .errors import UserError

__all__ = ["MNISTError", "parse_idx", "read_bytes", "read_idx"]

_IDX_TYPES = {0x08: np.dtype(np.uint8)}  # MNIST uses only unsigned bytes


class MNISTError(UserError):
    """A data file is missing, truncated, foreign or inconsistent; the message names the file."""


def read_bytes(path: Path) -> bytes:
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


def parse_idx(content: bytes, path: Path) -> np.ndarray:
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
    return parse_idx(read_bytes(path), path)
