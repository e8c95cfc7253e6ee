"""Warm start's pure parts, without an engine: the pool's key, the command forms it runs, the
staging of a job's files and the move of its output, the bootstrap's exit file and end lines,
the pool's decisions (with a fake engine), and the bootstrap itself run by the host's Python."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from core.settings import Limits
from sandbox import reaper, warm, warm_files
from sandbox.base import Job, Mount
from sandbox.warm import Order, Slot, WarmPool, WarmSpec, order_for

BOOT = Path(warm.__file__).with_name("warm_boot.py")


def _job(tmp_path: Path, **kw) -> Job:
    return Job(**{"key": "k", "command": ["python3", "-c", "pass"], "out_dir": tmp_path, **kw})


def _spec(job: Job, image: str = "img", user: str = "1:1") -> WarmSpec:
    return WarmSpec.of(job, image, user, {"HOME": "/tmp", **job.env})


# -- the key -------------------------------------------------------------------------------------
def test_jobs_differing_only_in_what_the_host_enforces_share_a_container_spec(tmp_path):
    base = _job(tmp_path)
    host_side = Limits(wall_seconds=9, grace_seconds=0, output_files=7, log_tail_bytes=999)
    same = _job(
        tmp_path / "other",
        key="other",
        command=["python3", "-B", "/hf/code/x.py"],
        mounts=[Mount(source=tmp_path, target="/hf/in")],
        limits=host_side,
    )
    assert _spec(same) == _spec(base)
    assert hash(_spec(same)) == hash(_spec(base))


@pytest.mark.parametrize(
    "change",
    [
        {"limits": Limits(memory_mb=512)},
        {"limits": Limits(cpus=2)},
        {"limits": Limits(pids=64)},
        {"limits": Limits(tmpfs_mb=16)},
        {"limits": Limits(shm_mb=16)},
        {"limits": Limits(output_mb=16)},
        {"limits": Limits(nofile=256)},
        {"env": {"PYTHONHASHSEED": "0"}},
        {"labels": {"hypoforge.task": "x"}},
    ],
    ids=lambda c: next(iter(c.values())).__repr__()[:40],
)
def test_what_a_container_fixes_at_create_time_is_part_of_its_spec(tmp_path, change):
    assert _spec(_job(tmp_path, **change)) != _spec(_job(tmp_path))


def test_image_and_user_are_part_of_the_spec(tmp_path):
    job = _job(tmp_path)
    assert _spec(job, image="other") != _spec(job)
    assert _spec(job, user="2:2") != _spec(job)


# -- the command forms -----------------------------------------------------------------------------
def test_python_scripts_and_code_run_in_process_as_python_would_start_them():
    assert order_for(["python3", "-B", "/hf/code/runner.py", "/hf/in", "/hf/out"]) == Order(
        "path", "/hf/code/runner.py", ("/hf/code/runner.py", "/hf/in", "/hf/out")
    )
    assert order_for(["python3", "/hf/x.py"]) == Order("path", "/hf/x.py", ("/hf/x.py",))
    assert order_for(["python3", "-c", "print(1)", "a", "b"]) == Order(
        "code", "print(1)", ("-c", "a", "b")
    )


@pytest.mark.parametrize(
    "command",
    [
        ["sleep", "1"],
        ["python3"],
        ["python3", "-c"],
        ["python3", "-u", "/hf/x.py"],
        ["python3", "relative.py"],
        ["/usr/bin/python3", "/hf/x.py"],
        ["python3", "-m", "json.tool"],
        [],
    ],
)
def test_any_other_command_runs_cold(command):
    assert order_for(command) is None


def test_the_go_file_carries_the_command_and_the_end_line():
    payload = json.loads(Order("code", "pass", ("-c",)).payload("END"))
    assert payload == {"mode": "code", "target": "pass", "argv": ["-c"], "end": "END"}


# -- staging and output --------------------------------------------------------------------------
def test_a_jobs_mounts_appear_under_the_stage_at_their_targets(tmp_path):
    src = tmp_path / "src"
    (src / "in" / "candidates").mkdir(parents=True)
    (src / "in" / "job.json").write_text("{}")
    (src / "in" / "candidates" / "c.py").write_text("x = 1")
    os.symlink("/etc/passwd", src / "in" / "link")
    (src / "runner.py").write_text("print()")
    stage = tmp_path / "stage"
    stage.mkdir()
    mounts = [
        Mount(source=src / "runner.py", target="/hf/code/runner.py"),
        Mount(source=src / "in", target="/hf/in"),
    ]
    warm_files.stage_mounts(mounts, stage)
    assert sorted(p.name for p in stage.iterdir()) == ["code", "in"]
    assert (stage / "code").stat().st_mode & 0o777 == 0o755
    # Hard links on one filesystem: nothing copied, the job reads the very files.
    assert (stage / "code" / "runner.py").stat().st_ino == (src / "runner.py").stat().st_ino
    assert (stage / "in" / "candidates" / "c.py").read_text() == "x = 1"
    # A link inside a mounted folder stays a link, as a bind mount shows it; never followed.
    assert os.readlink(stage / "in" / "link") == "/etc/passwd"


def test_staging_copies_where_it_cannot_link(tmp_path, monkeypatch):
    def no_link(*_a, **_k):
        raise OSError(errno.EXDEV, "cross-device link")

    monkeypatch.setattr(os, "link", no_link)
    (tmp_path / "data.npz").write_bytes(b"abc")
    stage = tmp_path / "stage"
    stage.mkdir()
    warm_files.stage_mounts([Mount(source=tmp_path / "data.npz", target="/hf/data.npz")], stage)
    staged = stage / "data.npz"
    assert staged.read_bytes() == b"abc"
    assert staged.stat().st_ino != (tmp_path / "data.npz").stat().st_ino


def test_staged_paths_stay_under_the_stage(tmp_path):
    assert warm_files.staged_path(tmp_path, "/hf/a/b") == tmp_path / "a" / "b"
    for bad in ("/hf", "/etc/x", "/hf/../etc"):
        with pytest.raises(ValueError):
            warm_files.staged_path(tmp_path, bad)


def test_output_is_renamed_into_the_attempt_folder(tmp_path):
    src, dst = tmp_path / "slot-out", tmp_path / "attempt" / "out"
    src.mkdir()
    dst.mkdir(parents=True)
    (src / "a.npy").write_bytes(b"x")
    inode = src.stat().st_ino
    warm_files.move_output(src, dst)
    assert dst.stat().st_ino == inode
    assert (dst / "a.npy").read_bytes() == b"x"
    assert not src.exists()


def test_output_copied_across_filesystems_follows_no_link(tmp_path, monkeypatch):
    def no_rename(*_a, **_k):
        raise OSError(errno.EXDEV, "cross-device link")

    monkeypatch.setattr(os, "rename", no_rename)
    src, dst = tmp_path / "slot-out", tmp_path / "out"
    (src / "sub").mkdir(parents=True)
    dst.mkdir()
    (src / "a.npy").write_bytes(b"x" * 10)
    (src / "sub" / "b").write_bytes(b"y")
    os.symlink("/etc/passwd", src / "link")
    os.mkfifo(src / "fifo")
    warm_files.move_output(src, dst)
    assert (dst / "a.npy").read_bytes() == b"x" * 10
    assert (dst / "sub" / "b").read_bytes() == b"y"
    assert os.readlink(dst / "link") == "/etc/passwd"  # a link, which the readers refuse
    assert not (dst / "fifo").exists()  # neither file, folder nor link: left out


def test_warm_folders_of_dead_owners_are_reaped(tmp_path):
    proc = subprocess.Popen(["true"])
    proc.wait()
    dead, live = tmp_path / "hf-warm-dead", tmp_path / "hf-warm-live"
    for root, owner in ((dead, f"{reaper.owner_id().split('/')[0]}/{proc.pid}/1"), (live, None)):
        (root / "s1").mkdir(parents=True)
        (root / "owner").write_text(owner or reaper.owner_id())
    assert warm_files.reap_roots(tmp_path) == ["hf-warm-dead"]
    assert live.exists() and not dead.exists()


# -- the bootstrap's marks, read on the host -----------------------------------------------------
def _slot(tmp_path: Path) -> Slot:
    slot = Slot(_spec(_job(tmp_path)), "hf-warm-test", tmp_path / "slot")
    slot.out.mkdir(parents=True)
    return slot


def test_the_exit_file_is_read_as_untrusted(tmp_path):
    slot = _slot(tmp_path)
    marker = slot.out / warm.EXIT_NAME
    assert slot.announced() is None
    marker.write_text("3")
    assert slot.announced() == 3
    for bad in ("", "x", "-1", "1" * 40):
        marker.write_text(bad)
        assert slot.announced() is None
    marker.unlink()
    os.symlink(tmp_path / "elsewhere", marker)
    (tmp_path / "elsewhere").write_text("0")
    assert slot.announced() is None
    slot.clear_marks()
    assert not os.path.lexists(marker)


def test_the_end_lines_are_cut_from_the_log_and_say_it_is_complete(tmp_path):
    slot = _slot(tmp_path)
    end = f"{slot.end_mark}\n".encode()
    log, complete = slot.log_tail(b"a\nb\n" + end + b"partial" + end, 200)
    assert (log, complete) == (b"a\nb\npartial", True)
    assert slot.log_tail(b"a\n" + end, 200) == (b"a\n", False)  # stderr's line not there yet
    assert slot.log_tail(b"1\n2\n3\n" + end + end, 2) == (b"2\n3\n", True)
    assert Slot(slot.spec, "other", tmp_path).end_mark != slot.end_mark


def test_refill_during_a_job_only_where_cores_are_to_spare():
    assert not warm.refill_during(cores=2, workers=1, cpus=1)
    assert not warm.refill_during(cores=16, workers=16, cpus=1)
    assert warm.refill_during(cores=16, workers=4, cpus=1)
    assert warm.refill_during(cores=5, workers=1, cpus=2)
    assert not warm.refill_during(cores=4, workers=1, cpus=2)


# -- the pool's decisions, on a fake engine -------------------------------------------------------
class FakeContainer:
    def __init__(self, name: str) -> None:
        self.name, self.id = name, name


class FakeEngine:
    def __init__(self, fail: bool = False) -> None:
        self.started: list[str] = []
        self.retired: list[str] = []
        self.fail = fail
        self.lock = threading.Lock()

    def spawn(self, slot: Slot) -> None:
        if self.fail:
            raise ConnectionError("engine gone")
        slot.container = FakeContainer(slot.name)
        with self.lock:
            self.started.append(slot.name)

    def retire(self, slot: Slot) -> None:
        with self.lock:
            self.retired.append(slot.name)


def _pool(tmp_path: Path, engine: FakeEngine, workers: int = 1) -> WarmPool:
    return WarmPool(engine.spawn, engine.retire, workers, tmp_path, reaper.owner_id())


def test_the_pool_keeps_one_container_per_worker_for_the_spec_asked_for(tmp_path):
    engine = FakeEngine()
    pool = _pool(tmp_path, engine, workers=2)
    a, b = _spec(_job(tmp_path)), _spec(_job(tmp_path, limits=Limits(memory_mb=512)))
    for _ in range(3):
        pool.want(a)
    assert pool.take(b, 1) is None
    first = pool.take(a, 1)
    assert first is not None and first.usable() and first.spec == a
    assert (pool.hits, pool.misses) == (1, 1)
    pool.want(b)  # room is made: the idle container of the other spec goes
    pool.close()
    assert len(engine.started) == 3
    assert first.name not in engine.retired  # taken: the sandbox removes it after its job
    assert sorted(engine.retired) == sorted(set(engine.started) - {first.name})
    assert len(set(engine.started)) == 3  # never a name twice
    assert all(f"hf-warm-{os.getpid()}-" in n for n in engine.started)
    assert not any(tmp_path.glob("hf-warm-*"))  # its folder went with it


def test_a_container_that_died_idle_is_discarded_and_a_failing_spec_left_cold(tmp_path):
    engine = FakeEngine()
    pool = _pool(tmp_path, engine)
    spec = _spec(_job(tmp_path))
    pool.want(spec)
    pool.wait_ready(0.05)
    with pool._lock:
        slot = pool._idle[0]
    slot.out.mkdir(parents=True)
    (slot.out / warm.READY_NAME).touch()  # its preload was done: it died later, idle
    slot.exit.done.set()
    assert pool.take(spec, 1) is None
    for _ in range(2):
        pool.want(spec)
        pool.wait_ready(0.05)
        with pool._lock:
            pool._idle[0].exit.done.set()  # died in its preload
        assert pool.take(spec, 1) is None
    pool.want(spec)  # twice dead before any job: not tried again
    assert pool.take(spec, 1) is None
    pool.close()
    assert len(engine.started) == len(engine.retired) == 3


def test_a_container_that_never_started_is_no_error_for_the_job(tmp_path):
    engine = FakeEngine(fail=True)
    pool = _pool(tmp_path, engine)
    spec = _spec(_job(tmp_path))
    pool.want(spec)
    assert pool.take(spec, 5) is None  # the job then runs cold
    pool.close()


def test_no_workers_means_no_container_ahead(tmp_path):
    engine = FakeEngine()
    pool = _pool(tmp_path, engine, workers=0)
    pool.want(_spec(_job(tmp_path)))
    pool.set_workers(1)
    pool.want(_spec(_job(tmp_path)))
    pool.set_workers(0)  # the idle one goes at once
    pool.close()
    assert engine.started == engine.retired and len(engine.started) == 1


# -- the bootstrap, run by the host's Python with its paths in a temporary folder ----------------
def _boot(
    tmp_path: Path, order: dict | None, idle: float = 30.0, ack: bool = True
) -> subprocess.CompletedProcess:
    """The bootstrap with ``order`` delivered and (``ack``) the host's acknowledgement there."""
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    names: dict[str, object] = {
        k: str(out / v) for k, v in (("GO", ".hf-go"), ("READY", ".hf-ready"), ("ACK", ".hf-ack"))
    }
    names["EXIT"] = str(out / ".hf-exit")
    names["ACK_SECONDS"] = 0.3
    if order is not None:
        (out / ".hf-go").write_text(json.dumps({"end": "END-MARK", **order}))
        if ack:
            (out / ".hf-ack").write_text("")
    driver = (
        f"import sys; sys.path.insert(0, {str(BOOT.parent)!r}); import warm_boot as b\n"
        + "".join(f"b.{k} = {v!r}\n" for k, v in names.items())
        + f"sys.argv = ['boot', '{idle}']\nb.main()\n"
    )
    env = {"PATH": os.environ["PATH"], "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-c", driver], capture_output=True, text=True, timeout=60, env=env
    )


def _script(tmp_path: Path, code: str) -> dict:
    path = tmp_path / "job.py"
    path.write_text(code)
    return {"mode": "path", "target": str(path), "argv": [str(path), "a1"]}


def test_the_bootstrap_runs_a_script_as_python_would(tmp_path):
    code = (
        "import atexit, os, sys, threading, time\n"
        "print(__name__, os.path.basename(__file__), sys.argv[1:], sys.path[0] == "
        "os.path.dirname(__file__))\n"
        "out = os.path.dirname(__file__) + '/out'\n"
        "print(sorted(os.listdir(out)))\n"  # the go file and the ready mark are gone
        "atexit.register(lambda: print('ATEXIT'))\n"
        "left_open = open(out + '/left-open', 'w'); left_open.write('flushed')\n"
        "def later():\n    time.sleep(0.2); print('THREAD')\n"
        "threading.Thread(target=later).start()\n"
    )
    proc = _boot(tmp_path, _script(tmp_path, code))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "__main__ job.py ['a1'] True",
        "[]",
        "THREAD",
        "ATEXIT",
        "END-MARK",
    ]
    assert proc.stderr == "END-MARK\n"
    assert (tmp_path / "out" / "left-open").read_text() == "flushed"
    assert (tmp_path / "out" / ".hf-exit").read_text() == "0"


@pytest.mark.parametrize(
    ("code", "status", "stderr"),
    [
        ("import sys; sys.exit(3)", 3, ""),
        ("import sys; sys.exit('bye')", 1, "bye\n"),
        ("import sys; sys.exit(256 + 7)", 7, ""),
        ("raise KeyboardInterrupt", 130, "KeyboardInterrupt"),
        ("def f():\n    raise ValueError('boom')\nf()", 1, "ValueError: boom"),
    ],
)
def test_the_bootstrap_exits_as_python_would(tmp_path, code, status, stderr):
    proc = _boot(tmp_path, _script(tmp_path, code))
    assert proc.returncode == status
    assert stderr in proc.stderr
    assert "warm_boot" not in proc.stderr  # its own frames are cut from a traceback
    if "Traceback" in proc.stderr:
        assert proc.stderr.splitlines()[1].startswith(f'  File "{tmp_path / "job.py"}"')
    assert (tmp_path / "out" / ".hf-exit").read_text() == str(status)


def test_the_bootstrap_runs_code_as_python_c_would(tmp_path):
    code = "import sys; print(sys.argv, repr(sys.path[0]), __name__)"
    proc = _boot(tmp_path, {"mode": "code", "target": code, "argv": ["-c", "x"]})
    assert proc.stdout.splitlines()[0] == "['-c', 'x'] '' __main__"


def test_an_idle_bootstrap_leaves_after_its_idle_time(tmp_path):
    proc = _boot(tmp_path, None, idle=0.05)
    assert proc.returncode == 0
    assert proc.stdout == ""
    assert (tmp_path / "out" / ".hf-ready").exists()
    assert not (tmp_path / "out" / ".hf-exit").exists()


def test_only_the_jobs_own_process_announces_the_end(tmp_path):
    code = (
        "import os, sys\n"
        "child = os.fork()\n"
        "if child == 0:\n    sys.exit(9)  # back up through the bootstrap, as a forked child\n"
        "os.waitpid(child, 0)\nprint('PARENT')\n"
    )
    proc = _boot(tmp_path, _script(tmp_path, code))
    assert proc.returncode == 0
    assert proc.stdout.splitlines() == ["PARENT", "END-MARK"]
    assert (tmp_path / "out" / ".hf-exit").read_text() == "0"


def test_no_job_code_runs_before_the_host_has_seen_the_job_taken(tmp_path):
    """Red team: the bootstrap removes the go file, then waits for the host's acknowledgement;
    without one (the host never saw the job taken) it exits and the job never runs."""
    order = _script(tmp_path, "open(__file__ + '.ran', 'w').close()\n")
    done = _boot(tmp_path, order, ack=False)
    assert done.returncode == 0
    assert not (tmp_path / "job.py.ran").exists()
    assert not (tmp_path / "out" / ".hf-go").exists()  # taken, but not run
    ran = _boot(tmp_path, order)
    assert ran.returncode == 0 and (tmp_path / "job.py.ran").exists()
    assert not (tmp_path / "out" / ".hf-ack").exists()  # the bootstrap removes it
