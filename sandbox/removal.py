"""Removal of folders a container wrote into: it cannot fail, only leave the folder behind.

A job's output folder holds whatever its code made: a tree deeper than the recursion limit (which
``shutil.rmtree`` recurses into, raising ``RecursionError`` even with ``ignore_errors``) or than
``PATH_MAX`` (4096 bytes, so no path names its bottom), tens of thousands of entries, folders and
files of mode 000, links to anything. ``remove_tree`` walks such a tree without recursion and
without paths: it holds one folder open at a time (two while going up), opens each child by name
relative to it with ``O_NOFOLLOW`` and goes back up through ``..``, so it follows no link and
needs neither a deep stack nor many descriptors. What it cannot remove it leaves, logs, and
reports with ``False``; it never raises. An ownership marker named by ``last`` is removed after
everything else, so a folder whose removal stopped midway still names its owner and the reaper
(``warm_files.reap_roots``) removes it later.

It runs after the container is gone (nothing races it); a folder's mode is changed only to
remove what is in it (a container's user is the host's user, or the host is root).
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_DENIED = (errno.EACCES, errno.EPERM)


@dataclass
class _Errors:
    """The entries that could not be removed: the first error and how many there were."""

    first: str | None = None
    count: int = 0

    def add(self, where: str, exc: OSError) -> None:
        self.count += 1
        if self.first is None:
            self.first = f"{where}: {exc.strerror or exc}"


@dataclass
class _Level:
    """One open folder of the walk: its name in its parent and the subfolders still to visit."""

    name: str
    fd: int
    pending: list[str] = field(default_factory=list)


def remove_tree(path: Path | str, *, last: str | None = None) -> bool:
    """Remove ``path`` and everything under it, never following a link; ``last`` (a name in
    ``path``) goes after everything else. True when nothing is left; otherwise the error is
    logged, what could not be removed stays (``last`` with it) and the answer is False."""
    path = Path(path)
    errors = _Errors()
    try:
        gone = _remove(path, last, errors)
    except Exception as exc:  # a bug here must not turn a cleanup into a crash
        log.warning("removing %s failed: %s: %s", path, type(exc).__name__, exc)
        return False
    if not gone:
        log.warning(
            "could not remove %s (%d entries left, first %s); the reaper will retry",
            path,
            errors.count,
            errors.first,
        )
    return gone


def _remove(path: Path, last: str | None, errors: _Errors) -> bool:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return True
    if not stat.S_ISDIR(st.st_mode):  # a file or a link: removed as what it is
        return _retry(errors, str(path), lambda: os.unlink(path), lambda: _open_parent(path))
    fd = _open_root(path, errors)
    if fd is None:
        return False
    top = _Level("", fd)
    try:
        _walk(top, errors, skip=last)
        if last is not None and errors.count == 0:
            _unlink_at(top.fd, last, errors, str(path / last))
    finally:
        if top.fd >= 0:
            os.close(top.fd)
    if errors.count:
        return False
    return _retry(errors, str(path), lambda: os.rmdir(path), lambda: _open_parent(path))


def _open_root(path: Path, errors: _Errors) -> int | None:
    """``path`` opened as a folder (made readable first if it is not)."""
    try:
        return os.open(path, _DIR)
    except OSError as exc:
        if exc.errno not in _DENIED:
            errors.add(str(path), exc)
            return None
    try:
        os.chmod(path, 0o700)  # lstat said a folder: no link to follow
        return os.open(path, _DIR)
    except OSError as exc:
        errors.add(str(path), exc)
        return None


def _walk(top: _Level, errors: _Errors, skip: str | None) -> None:
    """Empty the folder open as ``top``, depth first. Only the deepest level is open (its
    ancestors' descriptors are closed on the way down and reopened through ``..`` on the way
    up), so a tree of any depth needs two descriptors; ``top.fd`` is open again at the end
    (-1 if going up failed)."""
    stack = [top]
    _clear(top, errors, skip)
    try:
        while True:
            level = stack[-1]
            if level.pending:
                child = _open_child(level, level.pending.pop(), errors)
                if child is not None:
                    os.close(level.fd)
                    level.fd = -1
                    stack.append(child)
                    _clear(child, errors, None)
                continue
            if level is top:
                return
            parent = stack[-2]
            parent.fd = os.open("..", _DIR, dir_fd=level.fd)  # the folder it is in: no link
            stack.pop()
            os.close(level.fd)
            level.fd = -1
            _rmdir_at(parent.fd, level.name, errors)
    finally:
        for level in stack[1:]:  # only after an unexpected error: the one still open
            if level.fd >= 0:
                os.close(level.fd)


def _clear(level: _Level, errors: _Errors, skip: str | None) -> None:
    """Unlink every entry of ``level`` that is not a folder; note the folders in ``pending``."""
    try:
        names = _entries(level.fd)
    except OSError as exc:
        errors.add(level.name or ".", exc)
        return
    for name, is_dir in names:
        if name == skip:
            continue
        if is_dir:
            level.pending.append(name)
        else:
            _unlink_at(level.fd, name, errors, name)


def _entries(fd: int) -> list[tuple[str, bool]]:
    """(name, is a folder) of each entry of the folder open as ``fd``; a link is no folder."""
    try:
        with os.scandir(fd) as it:
            return [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
    except PermissionError:
        os.fchmod(fd, 0o700)  # opened but not listable (mode 0o300, say)
        with os.scandir(fd) as it:
            return [(e.name, e.is_dir(follow_symlinks=False)) for e in it]


def _open_child(level: _Level, name: str, errors: _Errors) -> _Level | None:
    """The subfolder ``name`` of ``level``, opened without following a link (made readable and
    searchable first if it is not)."""
    try:
        return _Level(name, os.open(name, _DIR, dir_fd=level.fd))
    except OSError as exc:
        if exc.errno not in _DENIED:
            errors.add(name, exc)
            return None
    try:
        if not stat.S_ISDIR(os.stat(name, dir_fd=level.fd, follow_symlinks=False).st_mode):
            raise OSError(errno.ENOTDIR, "no longer a folder")
        os.chmod(name, 0o700, dir_fd=level.fd)
        return _Level(name, os.open(name, _DIR, dir_fd=level.fd))
    except OSError as exc:
        errors.add(name, exc)
        return None


def _unlink_at(fd: int, name: str, errors: _Errors, where: str) -> bool:
    return _retry(errors, where, lambda: os.unlink(name, dir_fd=fd), lambda: _writable(fd))


def _rmdir_at(fd: int, name: str, errors: _Errors) -> bool:
    return _retry(errors, name, lambda: os.rmdir(name, dir_fd=fd), lambda: _writable(fd))


def _retry(
    errors: _Errors, where: str, act: Callable[[], object], fix: Callable[[], object]
) -> bool:
    """Run ``act``; refused, run ``fix`` (make the parent writable) and try once more."""
    try:
        act()
        return True
    except FileNotFoundError:
        return True
    except OSError as exc:
        if exc.errno not in _DENIED:
            errors.add(where, exc)
            return False
    try:
        fix()
        act()
        return True
    except FileNotFoundError:
        return True
    except OSError as exc:
        errors.add(where, exc)
        return False


def _writable(fd: int) -> None:
    os.fchmod(fd, 0o700)


def _open_parent(path: Path) -> None:
    os.chmod(path.parent, stat.S_IMODE(os.stat(path.parent).st_mode) | stat.S_IRWXU)
