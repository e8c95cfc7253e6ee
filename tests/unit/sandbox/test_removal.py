"""Removal that cannot fail (sandbox/removal.py): trees deeper than the recursion limit and than
PATH_MAX, wide trees, unreadable entries, links out and link loops; the marker goes last."""

from __future__ import annotations

import logging
import os
import resource
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox.removal import remove_tree

ROOT = os.geteuid() == 0
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def scratch():
    """A folder for the big trees, on tmpfs where there is one (they cost seconds a level on a
    slow disk), never under pytest's own temporary folders: pytest removes those with a
    recursive ``shutil.rmtree`` that a deep tree left by a failing test would crash."""
    shm = Path("/dev/shm")
    where = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    folder = Path(tempfile.mkdtemp(dir=where, prefix="hf-test-removal-"))
    yield folder
    remove_tree(folder)


def _deep(top: Path, depth: int, name: str = "d") -> None:
    """``depth`` nested folders under ``top``, made relative to an open folder: the full path
    is far past PATH_MAX, as a job that chdir()s down can make it."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir(name, dir_fd=fd)
            child = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        with open(os.open("bottom", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd), "w") as f:
            f.write("x")
    finally:
        os.close(fd)


def test_a_tree_deeper_than_the_recursion_limit_and_path_max(scratch):
    depth = max(5000, sys.getrecursionlimit() + 1000)
    top = scratch / "out"
    top.mkdir()
    _deep(top, depth, name="folder")  # 7 bytes a level: about 35,000 bytes of path
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    in_use = len(os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (in_use + 4, hard))  # a few descriptors at most
    try:
        assert remove_tree(top)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert not top.exists()


def test_a_wide_tree(scratch):
    top = scratch / "out"
    top.mkdir()
    for i in range(100):
        sub = top / f"d{i}"
        sub.mkdir()
        for j in range(250):
            (sub / f"f{j}").touch()  # 25,000 files and 100 folders
    assert remove_tree(top)
    assert not top.exists()


def locked_tree(top: Path) -> None:
    """Folders and files of modes 000, 300 (no listing), 600 (no search), 500 (no writing)."""
    for sub in ("locked", "noread", "nosearch", "ro"):
        (top / sub / "inner").mkdir(parents=True)
        (top / sub / "inner" / "f").write_text("x")
        (top / sub / "g").write_text("y")
    (top / "secret").write_text("z")
    (top / "secret").chmod(0o000)
    (top / "locked" / "inner").chmod(0o000)
    (top / "locked").chmod(0o000)
    (top / "noread").chmod(0o300)
    (top / "nosearch").chmod(0o600)
    (top / "ro").chmod(0o500)
    top.chmod(0o000)


def as_job_user(check: Callable[[Path], bool], tmp_path: Path) -> None:
    """Run ``check`` on a fresh folder as the job's user would: this process where the host is
    not root, else a child as user 65534 (root reads and writes anything: no mode would bite)."""
    if not ROOT:
        assert check(tmp_path)
        return
    base = Path(tempfile.mkdtemp(prefix="hf-test-removal-"))
    os.chown(base, 65534, 65534)
    pid = os.fork()
    if pid == 0:  # the child: as user 65534; the answer in its exit code
        code = 1
        try:
            os.setgid(65534)
            os.setuid(65534)
            code = 0 if check(base) else 2
        finally:
            os._exit(code)
    try:
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        assert remove_tree(base)


def _locked_removed(base: Path) -> bool:
    locked_tree(base / "out")
    return remove_tree(base / "out") and not (base / "out").exists()


def test_unreadable_and_unwritable_entries(tmp_path):
    """As the job's own user (the host's, when the host is not root): every mode is undone."""
    as_job_user(_locked_removed, tmp_path)


def test_links_are_removed_not_followed(tmp_path):
    outside = tmp_path / "outside"
    (outside / "keep").mkdir(parents=True)
    (outside / "keep" / "data").write_text("precious")
    (outside / "file").write_text("precious")
    top = tmp_path / "out"
    (top / "a" / "b").mkdir(parents=True)
    os.symlink(outside, top / "dir-link")
    os.symlink(outside / "file", top / "a" / "file-link")
    os.symlink("..", top / "a" / "b" / "loop")  # a loop back to a
    os.symlink("self", top / "self")  # a link to itself
    os.symlink("/", top / "a" / "root")
    assert remove_tree(top)
    assert not top.exists()
    assert (outside / "keep" / "data").read_text() == "precious"
    assert (outside / "file").read_text() == "precious"


def test_a_link_given_as_the_folder_is_removed_alone(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    (target / "data").write_text("precious")
    link = tmp_path / "link"
    os.symlink(target, link)
    assert remove_tree(link)
    assert not os.path.lexists(link)
    assert (target / "data").read_text() == "precious"


def test_missing_folder_and_plain_file(tmp_path):
    assert remove_tree(tmp_path / "never")
    (tmp_path / "f").write_text("x")
    assert remove_tree(tmp_path / "f")
    assert not (tmp_path / "f").exists()


def test_the_marker_goes_last_and_stays_when_removal_fails(tmp_path, monkeypatch, caplog):
    top = tmp_path / "root"
    (top / "s1" / "out").mkdir(parents=True)
    (top / "s1" / "out" / "f").write_text("x")
    (top / "owner").write_text("host/1/2")
    real_unlink = os.unlink

    def failing(path, *, dir_fd=None):
        if path == "f":
            raise OSError(5, "Input/output error")
        return real_unlink(path, dir_fd=dir_fd)

    monkeypatch.setattr(os, "unlink", failing)
    with caplog.at_level(logging.WARNING, logger="sandbox.removal"):
        assert not remove_tree(top, last="owner")
    assert (top / "owner").read_text() == "host/1/2"
    assert "could not remove" in caplog.text and "Input/output error" in caplog.text
    monkeypatch.setattr(os, "unlink", real_unlink)
    assert remove_tree(top, last="owner")
    assert not top.exists()


def test_a_bug_inside_is_logged_not_raised(tmp_path, monkeypatch, caplog):
    top = tmp_path / "out"
    (top / "d").mkdir(parents=True)

    def broken(*_a, **_k):
        raise RecursionError("boom")

    monkeypatch.setattr(os, "scandir", broken)
    with caplog.at_level(logging.WARNING, logger="sandbox.removal"):
        assert not remove_tree(top)
    assert "RecursionError" in caplog.text
    assert top.exists()


# -- the watchdog's walk: depth and entries capped, no link followed ---------------------------
def test_the_output_walk_caps_depth_and_entries(scratch):
    from core.settings import Limits
    from sandbox.watchdog import TOO_DEEP, output_excess, output_walk

    out = scratch / "out"
    out.mkdir()
    lim = Limits(output_depth=8, output_files=100)
    (out / "a").write_text("x")
    assert output_excess(out, lim) is None
    _deep(out, 8, name="d")  # 8 folders and a file at level 9
    assert output_walk(out, 100, 8).depth == 9
    assert output_excess(out, lim) == "output exceeded 8 levels of nested folders"
    assert remove_tree(out)
    out.mkdir()
    _deep(out, 5000, name="n" * 200)  # its paths are too long to name: the walk says so
    assert output_walk(out, 10**6, TOO_DEEP).depth == TOO_DEEP
    assert output_excess(out, lim) == "output exceeded 8 levels of nested folders"
    assert remove_tree(out)
    out.mkdir()
    for i in range(101):
        (out / f"d{i}").mkdir()  # empty folders count
    assert output_excess(out, lim) == "output exceeded 100 files (folders count as files)"


def test_the_output_walk_follows_no_link(tmp_path):
    from core.settings import Limits
    from sandbox.watchdog import output_walk

    out = tmp_path / "out"
    (out / "a").mkdir(parents=True)
    os.symlink("..", out / "a" / "loop")
    os.symlink("/usr", out / "usr")
    usage = output_walk(out, 1000, 10)
    assert (usage.entries, usage.depth) == (3, 2)
    assert output_walk(out, 1000, 10) == usage
    assert Limits().output_depth >= 8


def _unlistable_refused(base: Path) -> bool:
    from core.settings import Limits
    from sandbox.watchdog import output_excess

    (base / "out" / "hidden").mkdir(parents=True)
    (base / "out" / "hidden" / "f").write_text("x" * 4096)
    (base / "out" / "hidden").chmod(0)
    reason = output_excess(base / "out", Limits())
    return reason == "output exceeded what the host may read: a folder it cannot list"


def test_an_unlistable_folder_is_over_budget(tmp_path):
    """What a folder of mode 000 holds cannot be counted: the output is over its budget."""
    as_job_user(_unlistable_refused, tmp_path)


# -- the reaper: roots whose owner is gone, even half removed ----------------------------------
def _dead_owner() -> str:
    from sandbox import reaper

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        return reaper.owner_id(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def _root(base: Path, owner: str, *, marker: bool) -> Path:
    from sandbox import warm_files

    root = Path(tempfile.mkdtemp(prefix=warm_files.root_name(owner), dir=base))
    (root / "s1" / "out" / "d" / "e").mkdir(parents=True)
    if marker:
        (root / warm_files.OWNER_NAME).write_text(owner)
    return root


def test_the_reaper_removes_a_dead_owners_root_with_or_without_its_owner_file(tmp_path):
    from sandbox import reaper, warm_files

    dead = _dead_owner()
    half = _root(tmp_path, dead, marker=True)  # a removal that stopped midway
    bare = _root(tmp_path, dead, marker=False)  # the owner file never written, or lost
    live = _root(tmp_path, reaper.owner_id(), marker=False)
    other = _root(tmp_path, "another-host/1/2", marker=True)
    legacy = tmp_path / "hf-warm-k3j9x2ab"  # an older name: judged by its owner file
    legacy.mkdir()
    assert warm_files.root_stale(half) and warm_files.root_stale(bare)
    assert sorted(warm_files.reap_roots(tmp_path)) == sorted([half.name, bare.name])
    assert not half.exists() and not bare.exists()
    assert live.exists() and other.exists() and legacy.exists()
    (legacy / warm_files.OWNER_NAME).write_text(dead)
    assert warm_files.reap_roots(tmp_path) == [legacy.name]


def test_a_root_that_cannot_be_removed_stays_with_its_owner_file(tmp_path, monkeypatch):
    from sandbox import warm_files

    dead = _dead_owner()
    root = _root(tmp_path, dead, marker=True)
    real_rmdir = os.rmdir

    def failing(path, *, dir_fd=None):
        if path == "e":
            raise OSError(16, "Device or resource busy")
        return real_rmdir(path, dir_fd=dir_fd)

    monkeypatch.setattr(os, "rmdir", failing)
    assert warm_files.reap_roots(tmp_path) == []
    assert (root / warm_files.OWNER_NAME).read_text() == dead
    monkeypatch.setattr(os, "rmdir", real_rmdir)
    assert warm_files.reap_roots(tmp_path) == [root.name]


# -- a Ray node's job folder: removed without raising, else left marked for the reaper ---------
class _DeepBox:
    """A sandbox whose one job nests 3,000 folders in its output (what escaped code can do)."""

    def __init__(self, warm_dir: Path) -> None:
        from core.settings import DockerSandboxSettings

        self.settings = DockerSandboxSettings(warm_dir=warm_dir)

    def run(self, job):
        from sandbox.base import RunResult

        job.out_dir.mkdir()
        _deep(job.out_dir, 3000)
        return RunResult(outcome="disk_quota", out_dir=job.out_dir)


def _node_worker(base: Path, monkeypatch):
    from sandbox import ray_sandbox

    worker = ray_sandbox.NodeWorker.__new__(ray_sandbox.NodeWorker)  # no Ray, no Docker
    worker.sandbox = _DeepBox(base)  # type: ignore[assignment]
    monkeypatch.setattr(worker, "node", lambda: "node-1")
    return worker


def test_a_ray_jobs_folder_is_removed_and_marked_until_then(scratch, tmp_path, monkeypatch):
    from sandbox import reaper, removal, warm_files
    from sandbox.base import Job

    base = scratch / "warm"
    job = Job(key="deep", command=["python3", "-c", "pass"], out_dir=tmp_path / "attempt" / "out")
    worker = _node_worker(base, monkeypatch)
    result, files, node = worker.run(job.model_dump_json(), {})
    assert (node, files) == ("node-1", {}) and '"disk_quota"' in result
    assert list(base.iterdir()) == []
    monkeypatch.setattr(
        removal, "_rmdir_at", lambda fd, name, errors: errors.add(name, OSError(16, "busy"))
    )
    worker.run(job.model_dump_json(), {})  # the removal fails midway: no raise
    (left,) = base.iterdir()
    assert left.name.startswith(warm_files.root_name(reaper.owner_id()))
    assert (left / warm_files.OWNER_NAME).read_text() == reaper.owner_id()


# -- the warm pool: close() never raises; what stays keeps its owner file -----------------------
def _deep_pool(base: Path):
    """A pool (no engine) whose one idle slot holds an output tree 3,000 folders deep."""
    from sandbox import reaper
    from sandbox.base import Job
    from sandbox.warm import WarmPool, WarmSpec

    def spawn(slot) -> None:
        slot.make_folders(os.getuid(), os.getgid())
        _deep(slot.out, 3000)

    def retire(slot) -> None:
        remove_tree(slot.folder)

    job = Job(key="k", command=["python3", "-c", "pass"], out_dir=base / "unused")
    pool = WarmPool(spawn, retire, 1, base, reaper.owner_id())
    pool.want(WarmSpec.of(job, "img", "1:1", {}))
    return pool


def test_a_warm_pool_with_a_deep_tree_closes(scratch):
    pool = _deep_pool(scratch)
    pool.close()
    assert list(scratch.iterdir()) == []


def test_a_warm_pool_whose_removal_fails_closes_and_leaves_its_owner_file(scratch, monkeypatch):
    from sandbox import reaper, removal, warm_files

    def refused(fd, name, errors):
        errors.add(name, OSError(16, "Device or resource busy"))
        return False

    monkeypatch.setattr(removal, "_rmdir_at", refused)
    pool = _deep_pool(scratch)
    pool.close()  # logged, not raised
    (root,) = scratch.iterdir()
    assert any(root.glob("s*/out/d"))  # the slot's tree, half removed
    assert (root / warm_files.OWNER_NAME).read_text() == reaper.owner_id()
    assert not warm_files.root_stale(root)  # its owner (this process) runs
    monkeypatch.undo()
    assert warm_files.reap_roots(scratch) == []  # nor does the reaper touch it
