"""Reading what a container wrote, without trusting it.

Output files are untrusted: they may be links to host files, devices, huge, or malformed. Every read
goes through here: regular files only (no links followed), inside the output folder, under a size
cap, and arrays without pickle.
"""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np


class ArtifactError(ValueError):
    """An output file is missing, not a regular file, too large or malformed."""


def read_bytes(out_dir: Path, name: str, max_bytes: int) -> bytes:
    """The bytes of ``out_dir/name``; raises ``ArtifactError`` unless it is a small regular file."""
    if "/" in name or name in ("", ".", ".."):
        raise ArtifactError(f"bad artifact name {name!r}")
    try:
        fd = os.open(out_dir / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ArtifactError(f"{name}: missing") from None
    except OSError as exc:
        raise ArtifactError(f"{name}: cannot open ({exc.strerror})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):  # a folder opens too, and os.fdopen would raise on it
        os.close(fd)
        raise ArtifactError(f"{name}: not a regular file")
    with os.fdopen(fd, "rb") as f:
        if st.st_size > max_bytes:
            raise ArtifactError(f"{name}: {st.st_size} bytes, over the {max_bytes}-byte cap")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ArtifactError(f"{name}: over the {max_bytes}-byte cap")
    return data


MAX_NDIM = 8


def read_npy(out_dir: Path, name: str, max_bytes: int) -> np.ndarray:
    """A ``.npy`` array (never unpickled). The header is checked against the bytes that follow
    before anything is allocated: a header may claim any shape."""
    raw = read_bytes(out_dir, name, max_bytes)
    try:
        return _parse_npy(raw)
    except ArtifactError as exc:
        raise ArtifactError(f"{name}: not a valid .npy array ({exc})") from None
    except Exception as exc:
        # numpy's header parser is not ours and raises what its own helpers raise on hostile
        # bytes (SyntaxError, tokenize.TokenError, MemoryError, ...): every one is a bad file.
        raise ArtifactError(
            f"{name}: not a valid .npy array ({str(exc)[:200] or type(exc).__name__})"
        ) from None


def _parse_npy(raw: bytes) -> np.ndarray:
    from numpy.lib import format as npy

    f = io.BytesIO(raw)
    version = npy.read_magic(f)
    if version not in ((1, 0), (2, 0), (3, 0)):
        raise ArtifactError(f"unknown format version {version}")
    read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
    shape, fortran, dtype = read_header(f, max_header_size=1024)
    if dtype.hasobject or dtype.kind not in "biuf" or dtype.fields is not None:
        raise ArtifactError(f"dtype {dtype} is not a plain number type")
    if len(shape) > MAX_NDIM or any(not isinstance(n, int) or n < 0 for n in shape):
        raise ArtifactError(f"shape {shape} is not allowed")
    count = 1
    for n in shape:
        count *= n
    body = raw[f.tell() :]
    if count * dtype.itemsize != len(body):
        raise ArtifactError(f"header says {shape} {dtype}, file holds {len(body)} bytes")
    flat = np.frombuffer(body, dtype=dtype, count=count)
    return flat.reshape(shape, order="F" if fortran else "C").copy()


def read_json(out_dir: Path, name: str, max_bytes: int) -> Any:
    """A JSON document; any malformed, too deep or odd content is an ``ArtifactError``."""
    raw = read_bytes(out_dir, name, max_bytes)
    try:
        return json.loads(raw.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ArtifactError(
            f"{name}: not valid JSON ({str(exc)[:200] or type(exc).__name__})"
        ) from None
