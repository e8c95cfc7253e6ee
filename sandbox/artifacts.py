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
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise ArtifactError(f"{name}: not a regular file")
        if st.st_size > max_bytes:
            raise ArtifactError(f"{name}: {st.st_size} bytes, over the {max_bytes}-byte cap")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ArtifactError(f"{name}: over the {max_bytes}-byte cap")
    return data


def read_npy(out_dir: Path, name: str, max_bytes: int) -> np.ndarray:
    """A ``.npy`` array (never unpickled)."""
    raw = read_bytes(out_dir, name, max_bytes)
    try:
        return np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ArtifactError(f"{name}: not a valid .npy array ({exc})") from None


def read_json(out_dir: Path, name: str, max_bytes: int) -> Any:
    raw = read_bytes(out_dir, name, max_bytes)
    try:
        return json.loads(raw.decode("utf-8", errors="replace"))
    except ValueError as exc:
        raise ArtifactError(f"{name}: not valid JSON ({exc})") from None
