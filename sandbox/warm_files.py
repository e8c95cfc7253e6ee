"""The host's file work for warm containers: a job's mounts put in a slot's stage folder, its
output moved into the attempt folder, slot folders removed (see ``sandbox/warm.py``).

Nothing here follows a link it did not make: mount sources are resolved as Docker resolves them
(the mount itself, not links inside it), and output is renamed or copied as what it is.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import socket
import stat
from pathlib import Path

from sandbox import reaper, removal
from sandbox.base import Mount

OWNER_NAME = "owner"  # a warm root's marker: its owner's id, removed last


def staged_path(stage: Path, target: str) -> Path:
    """Where a mount's ``target`` (``/hf/...``) lies in a slot's stage folder."""
    rel = Path(target).relative_to("/hf")
    if not rel.parts or ".." in rel.parts:
        raise ValueError(f"not a path under /hf: {target}")
    return stage / rel


def stage_mounts(mounts: list[Mount], stage: Path) -> None:
    """Put each mount's source under ``stage`` at its target, as Docker would show it: hard links
    where the filesystem allows, copies elsewhere; links inside a folder stay links. Deeper
    targets last, over what a shallower one put there (as a nested mount hides it)."""
    for m in sorted(mounts, key=lambda m: m.target.count("/")):
        dest = staged_path(stage, m.target)
        src = m.source.resolve()
        _make_folders(stage, dest.parent)
        if dest.is_dir() and not dest.is_symlink():
            if not removal.remove_tree(dest):
                raise OSError(f"could not clear {dest} for its mount")
        elif dest.exists() or dest.is_symlink():
            dest.unlink()
        if src.is_dir():
            _link_tree(src, dest)
        else:
            _link_file(src, dest)


def _make_folders(stage: Path, folder: Path) -> None:
    """The folders between ``stage`` and ``folder``, mode 755 (as Docker makes mount points)."""
    for part in reversed([folder, *folder.parents]):
        if part == stage or stage not in part.parents:
            continue
        if not part.exists():
            part.mkdir()
            part.chmod(0o755)


def _link_file(src: Path | str, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest, follow_symlinks=False)


def _link_tree(src: Path, dest: Path) -> None:
    dest.mkdir()
    for entry in os.scandir(src):
        target = dest / entry.name
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), target)
        elif entry.is_dir(follow_symlinks=False):
            _link_tree(Path(entry.path), target)
        else:
            _link_file(entry.path, target)
    dest.chmod(stat.S_IMODE(src.stat().st_mode))


def move_output(src: Path, dst: Path) -> None:
    """Put a slot's output folder at ``dst`` (an empty folder): a rename on one filesystem, else a
    copy that follows no link: links are copied as links (which the artifact readers refuse),
    regular files are opened with O_NOFOLLOW, anything else (a FIFO, a socket) is left out."""
    try:
        os.rename(src, dst)
        return
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOTEMPTY, errno.EEXIST):
            raise
    _copy_tree(src, dst)


def _copy_tree(src: Path, dst: Path) -> None:
    dst.mkdir(exist_ok=True)
    for entry in os.scandir(src):
        st = entry.stat(follow_symlinks=False)
        target = dst / entry.name
        if stat.S_ISDIR(st.st_mode):
            _copy_tree(Path(entry.path), target)
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(entry.path), target)
        elif stat.S_ISREG(st.st_mode):
            _copy_file(entry.path, target, stat.S_IMODE(st.st_mode))


def _copy_file(src: str, dst: Path, mode: int) -> None:
    fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return
        out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        with os.fdopen(out, "wb") as g:
            shutil.copyfileobj(f, g, 1 << 20)


def root_name(owner: str) -> str:
    """The prefix of a warm root's folder name: its owner (``host/pid/start``) with the host
    hashed (``root_stale``)."""
    host, _, rest = owner.partition("/")
    pid, _, start = rest.partition("/")
    return f"hf-warm-{_host_tag(host)}-{pid}-{start}-"


def _host_tag(host: str) -> str:
    return hashlib.sha256(host.encode()).hexdigest()[:8]


_ROOT_NAME = re.compile(r"hf-warm-([0-9a-f]{8})-(\d+)-(\w+)-")


def root_stale(root: Path) -> bool:
    """Whether a warm root's owner process is gone. Its name says who made it (``mkdtemp`` gives
    it whole, so no reaper sees a root without its owner); a root of an older name is judged by
    its ``owner`` file, and kept when that is missing or incomplete."""
    found = _ROOT_NAME.match(root.name)
    if found is not None:
        tag, pid, start = found.groups()
        host = socket.gethostname()
        return tag == _host_tag(host) and not reaper.owner_alive(f"{host}/{pid}/{start}")
    try:
        owner = (root / OWNER_NAME).read_text()
    except OSError:
        return False
    return owner.count("/") == 2 and not reaper.owner_alive(owner)


def reap_roots(base: Path) -> list[str]:
    """Remove the warm folders under ``base`` whose owner process is gone, including those whose
    removal stopped midway; one that still cannot be removed stays (logged) for the next reap."""
    removed = []
    for root in base.glob("hf-warm-*"):
        if root_stale(root) and removal.remove_tree(root, last=OWNER_NAME):
            removed.append(root.name)
    return removed
