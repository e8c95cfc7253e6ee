"""A job's files to another machine and its output back (the Ray executor, sandbox/ray_sandbox.py).

Inputs are the host's own files (trusted): each mount's source, a file or a folder of regular
files, travels as bytes and is written on the node under a fresh folder. Output is the
container's (untrusted), so only what the host reads anyway travels back: regular files at the
top of the output folder (sandbox/artifacts.py never looks deeper), opened without following
links, with plain names, within the job's output budget in bytes and files. Unpacking creates
each as a new regular file (``O_EXCL | O_NOFOLLOW``): no name or link can reach outside the
folder. Every function here is total on hostile output: what does not qualify is left behind.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from sandbox.base import Job, Mount

MiB = 1024 * 1024
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")  # what an artifact name may be

Inputs = dict[str, dict[str, bytes]]  # mount target -> {relative path ("" for a file): bytes}


def pack_inputs(job: Job) -> Inputs:
    """The bytes of every mount of ``job`` (the host's files: the runner, data, the job folder)."""
    packed: Inputs = {}
    for mount in job.mounts:
        source = mount.source
        if source.is_dir():
            files = {
                str(p.relative_to(source)): p.read_bytes()
                for p in sorted(source.rglob("*"))
                if p.is_file() and not p.is_symlink()
            }
        else:
            files = {"": source.read_bytes()}
        packed[mount.target] = files
    return packed


def place_inputs(job: Job, packed: Inputs, root: Path) -> Job:
    """Write ``packed`` under ``root`` and return ``job`` with its mounts and output folder there
    (``root/out``, created empty by the sandbox)."""
    mounts = []
    for i, mount in enumerate(job.mounts):
        files = packed[mount.target]
        base = root / "in" / str(i)
        if set(files) == {""}:
            base.mkdir(parents=True)
            target = base / Path(mount.target).name
            target.write_bytes(files[""])
        else:
            target = base
            for rel, data in files.items():
                path = (base / rel).resolve()
                if not path.is_relative_to(base.resolve()):
                    raise ValueError(f"input path outside its folder: {rel!r}")
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
        mounts.append(Mount(source=target, target=mount.target))
    return job.model_copy(update={"mounts": mounts, "out_dir": root / "out"})


def pack_output(out_dir: Path, max_bytes: int, max_files: int) -> dict[str, bytes]:
    """The regular files at the top of ``out_dir`` with plain names, at most ``max_files`` of
    them and ``max_bytes`` in all (in name order); links, folders and devices stay behind."""
    files: dict[str, bytes] = {}
    total = 0
    try:
        names = sorted(os.listdir(out_dir))
    except OSError:
        return files
    for name in names:
        if len(files) >= max_files or not NAME.fullmatch(name):
            continue
        data = _read_regular(out_dir / name, max_bytes - total)
        if data is None:
            continue
        files[name] = data
        total += len(data)
    return files


def _read_regular(path: Path, room: int) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > room:
            return None
        chunks, left = [], st.st_size + 1  # one byte more: a file that grew is refused
        while left > 0 and (chunk := os.read(fd, min(left, MiB))):
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
    finally:
        os.close(fd)
    return data if len(data) <= room and len(data) == st.st_size else None


def unpack_output(files: dict[str, bytes], out_dir: Path) -> None:
    """Write the packed output into the (empty) ``out_dir``: new regular files only."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        if not NAME.fullmatch(name) or not isinstance(data, bytes):
            continue
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        fd = os.open(out_dir / name, flags, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
