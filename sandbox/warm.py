"""Warm start for the Docker sandbox: a container for the next job is started ahead, and given
exactly one job after it is up.

A cold job pays, on its own clock, for the container's create and start, the interpreter's start
and ``import torch`` (and torch's compiler stack, which ``torch.optim`` imports on first use), then
for Python's teardown of those modules and Docker's bookkeeping of the exit. A warm container
does the start and the imports ahead (``warm_boot.py``), waits for its job, and leaves without
the teardown. Every container still holds one hypothesis, runs one job and is removed after it;
it is the hardened container of a cold job (``DockerSandbox._container_kwargs``) with another
command and mounts.

The design, and why:

- A container fixes at create time its image, user, container-level limits, environment and
  labels (``WarmSpec``, the pool's key). A job runs warm only in a container of its own spec;
  any other job runs cold (today's path), and a container of a spec no longer asked for is
  removed, never adapted.
- Its ``/hf`` is a fresh, empty host folder (the slot's ``stage``), mounted read-only, with the
  slot's fresh ``out`` folder read-write at ``/hf/out``. At delivery the host hard-links (or
  copies) each of the job's mount sources into ``stage`` at its target path, so the job finds
  the very paths of a cold start (``/hf/code/runner.py``, ``/hf/in``, ...): no path is
  rewritten, the task runners need no change, and ``/hf`` lists the same names. Nothing of
  another job is ever in a slot: both folders are made for one container and deleted with it.
- The host then writes the job's command to ``/hf/out/.hf-go`` by an atomic rename; the
  bootstrap polls for it every 2 ms, removes it (and its ready mark) before any job code runs, and
  runs the command in-process. A go file still there after the container ended means the job
  never started (the container died idle): the job then runs cold, never as infra_error; a
  spec whose containers die twice before a job is not warmed again.
- The end: the bootstrap writes an end line (a per-container token) to stdout and stderr and its
  exit code to ``/hf/out/.hf-exit``. The host takes that as the end once the log holds both end
  lines (so it is complete) and the container's cgroup holds no task (so nothing can write any
  more); it reads the kernel's OOM count for the OOM verdict. A job can forge these marks, and so
  choose its exit code, as any job can with ``os._exit``; it cannot end its run early, since
  the watchdog runs on until the kernel says no task is left. Anything unreadable: Docker's end.
- The next container starts when a job is taken where the cores leave room for it beside the
  workers' jobs, else when the job has ended (``refill_during``): a container start costs about a
  second of the engine's CPU, and on two cores it made the job beside it a quarter slower.
- The bootstrap is mounted read-only at ``/hfwarm/boot.py``, outside ``/hf``; the image is
  unchanged. The output is renamed from ``out`` to ``job.out_dir`` (one filesystem: put
  ``warm_dir`` on HYPOFORGE_HOME's) or copied without following a link.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import secrets
import stat
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from core.settings import Limits
from sandbox import reaper, removal, warm_files
from sandbox.base import OUT_DIR, Job
from sandbox.watchdog import Exit

BOOT_SOURCE = Path(__file__).with_name("warm_boot.py")
BOOT_TARGET = "/hfwarm/boot.py"
GO_NAME = ".hf-go"
READY_NAME = ".hf-ready"
EXIT_NAME = ".hf-exit"
ACK_NAME = ".hf-ack"  # the host's word that it saw the job taken; the bootstrap waits for it
_NAMES = itertools.count(1)
# Limits the host enforces itself; every other field is fixed when the container is created.
HOST_LIMITS = ("wall_seconds", "grace_seconds", "output_files", "output_depth", "log_tail_bytes")


@dataclass(frozen=True)
class WarmSpec:
    """What a container fixes at create time: a job runs only in a container of its spec."""

    image: str
    user: str
    limits: Limits  # the container-level fields; the host-side ones at their defaults
    env: tuple[tuple[str, str], ...]
    labels: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, job: Job, image: str, user: str, env: dict[str, str]) -> WarmSpec:
        """The spec of ``job``'s container; ``env`` is the full environment it gets."""
        defaults = Limits()
        limits = job.limits.model_copy(update={k: getattr(defaults, k) for k in HOST_LIMITS})
        labels = tuple(sorted(job.labels.items()))
        return cls(image, user, limits, tuple(sorted(env.items())), labels)


@dataclass(frozen=True)
class Order:
    """A job's command in the form the bootstrap runs in-process."""

    mode: Literal["path", "code"]
    target: str  # the script's path, or the code of ``-c``
    argv: tuple[str, ...]  # sys.argv as Python would set it

    def payload(self, end: str) -> bytes:
        """The go file: the command, and the line that marks the end of the job's output."""
        order = {"mode": self.mode, "target": self.target, "argv": self.argv, "end": end}
        return json.dumps(order).encode()


def order_for(command: list[str]) -> Order | None:
    """``python3 [-B] SCRIPT ARGS`` or ``python3 [-B] -c CODE ARGS`` as an ``Order``; None for
    any other command, which runs cold. (``-B`` or not: PYTHONDONTWRITEBYTECODE is set anyway.)"""
    if not command or command[0] != "python3":
        return None
    rest = command[1:]
    while rest and rest[0] == "-B":
        rest = rest[1:]
    if len(rest) >= 2 and rest[0] == "-c":
        return Order("code", rest[1], ("-c", *rest[2:]))
    if rest and rest[0].startswith("/") and not rest[0].endswith("/"):
        return Order("path", rest[0], tuple(rest))
    return None


def cores() -> int:
    """CPUs this process may use (its affinity mask)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def refill_during(cores: int, workers: int, cpus: float) -> bool:
    """Whether the next container should start while a job runs. Starting one takes about a
    second of the engine's CPU and the preload a few more of the container's: where the
    workers' jobs leave less than a job's share and a core for the host, that slows the jobs
    running (by a quarter on two cores), so the next container starts when the job has ended."""
    return cores - workers * cpus >= cpus + 1


# -- containers ----------------------------------------------------------------------------------
@dataclass(eq=False)
class Slot:
    """One warm container and its two host folders, for exactly one job."""

    spec: WarmSpec
    name: str
    folder: Path
    end_mark: str = field(default_factory=lambda: f"hf-warm-end-{secrets.token_hex(8)}")
    container: Any = None
    error: BaseException | None = None
    started: threading.Event = field(default_factory=threading.Event)  # start returned or failed
    exit: Exit = field(default_factory=Exit)
    # Latched the first time the host sees the go file gone (the bootstrap took the job): a job
    # that writes a go file of its own later cannot pass for one that never started.
    taken: bool = False

    @property
    def stage(self) -> Path:
        return self.folder / "stage"  # -> /hf, read-only

    @property
    def out(self) -> Path:
        return self.folder / "out"  # -> /hf/out

    def make_folders(self, uid: int, gid: int) -> None:
        """The slot's folders: ``stage`` (755, with the mount point of ``/hf/out``) and ``out``,
        owned by the job's user when the host runs as root."""
        self.folder.mkdir(parents=True)
        self.stage.mkdir()
        self.stage.chmod(0o755)
        (self.stage / "out").mkdir()  # a mount point must exist in the read-only /hf
        self.out.mkdir()
        # The bootstrap is bound from a copy here, not from the checkout: a container's mount
        # table shows every bind's host path, and the checkout's would name its owner's folders.
        self.boot.write_bytes(BOOT_SOURCE.read_bytes())
        self.boot.chmod(0o644)
        if os.getuid() == 0:
            os.chown(self.out, uid, gid)

    @property
    def boot(self) -> Path:
        return self.folder / "boot.py"  # -> BOOT_TARGET, read-only

    def plan(
        self, owner: str, idle_seconds: float, preload: tuple[str, ...]
    ) -> tuple[list[str], dict[str, str], list[tuple[str, str, bool]]]:
        """The container's command, labels and binds (target, host source, read-only)."""
        command = ["python3", "-B", BOOT_TARGET, str(idle_seconds), *preload]
        labels = {
            **dict(self.spec.labels),
            reaper.MANAGED_LABEL: "1",
            reaper.OWNER_LABEL: owner,  # the reaper removes it if this process dies
            "hypoforge.warm": "1",
        }
        binds = [
            ("/hf", str(self.stage), True),
            (OUT_DIR, str(self.out), False),
            (BOOT_TARGET, str(self.boot), True),
        ]
        return command, labels, binds

    def usable(self) -> bool:
        return self.started.is_set() and self.error is None and not self.exit.done.is_set()

    def ready(self) -> bool:
        """Started, and the bootstrap has imported its modules."""
        return self.usable() and (self.out / READY_NAME).exists()

    def deliver(self, order: Order) -> None:
        tmp = self.folder / "go.tmp"
        tmp.write_bytes(order.payload(self.end_mark))
        tmp.chmod(0o644)
        os.replace(tmp, self.out / GO_NAME)

    def delivered(self) -> bool:
        """Whether the bootstrap took the job (it removes the go file, then waits for the host's
        acknowledgement before any job code runs). The host's watch loop asks on every tick;
        the first time it sees the go file gone it latches "taken" and acknowledges, so what
        the job does to the go file afterwards changes nothing."""
        if not self.taken and not os.path.lexists(self.out / GO_NAME):
            self.taken = True
            tmp = self.folder / "ack.tmp"
            tmp.write_bytes(b"")
            tmp.chmod(0o644)
            os.replace(tmp, self.out / ACK_NAME)
        return self.taken

    def announced(self) -> int | None:
        """The exit code in the bootstrap's exit file, if it is there (one ``stat`` while the
        job runs). Read as untrusted: a link, a large or malformed file count as none."""
        marker = self.out / EXIT_NAME
        if not os.path.lexists(marker):
            return None
        try:
            fd = os.open(marker, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            with os.fdopen(fd, "rb") as f:
                text = f.read(8) if stat.S_ISREG(os.fstat(f.fileno()).st_mode) else b""
        except OSError:
            return None
        ok = text.isdigit() and int(text) <= 255  # what an exit status can be
        return int(text) if ok else None

    def clear_marks(self) -> None:
        """Remove the bootstrap's exit file: the job's output holds only what it wrote."""
        for name in (EXIT_NAME, EXIT_NAME + ".tmp", ACK_NAME):
            # A job may have put a folder (or anything) there: it stays, and no reader asks.
            with contextlib.suppress(OSError):
                (self.out / name).unlink()

    def log_tail(self, raw: bytes, lines: int) -> tuple[bytes, bool]:
        """The log without the bootstrap's two end lines, its last ``lines`` lines, and whether
        both end lines were in it (the log is complete)."""
        line = f"{self.end_mark}\n".encode()
        complete = raw.count(line) >= 2
        kept = raw.replace(line, b"").splitlines(keepends=True)[-lines:]
        return b"".join(kept), complete


class WarmPool:
    """Up to ``workers`` idle warm containers, each for the next job of its spec.

    ``spawn(slot)`` creates and starts a slot's container (in a background thread);
    ``retire(slot)`` removes it and its folders. Both are the sandbox's; the pool only decides.
    """

    def __init__(
        self,
        spawn: Callable[[Slot], None],
        retire: Callable[[Slot], None],
        workers: int,
        base: Path | None,
        owner: str,
    ) -> None:
        self._spawn, self._retire = spawn, retire
        self.workers = workers
        self._base, self._owner = base, owner
        self._root: Path | None = None
        self._idle: list[Slot] = []
        self._failures: dict[WarmSpec, int] = {}
        self._seq = 0
        self._closed = False
        self._lock = threading.Lock()
        self._background = ThreadPoolExecutor(max_workers=4, thread_name_prefix="hf-warm")
        self.hits = self.misses = 0

    def take(self, spec: WarmSpec, timeout: float) -> Slot | None:
        """The oldest live container of ``spec`` (waiting for one being started), or None."""
        while True:
            with self._lock:
                slot = next((s for s in self._idle if s.spec == spec), None)
                if slot is None:
                    self.misses += 1
                    return None
                self._idle.remove(slot)
            slot.started.wait(timeout)
            if slot.usable():
                with self._lock:
                    self.hits += 1
                return slot
            self.failed(slot)

    def want(self, spec: WarmSpec) -> None:
        """Start one more container of ``spec`` if the pool has room, making room by removing
        the oldest idle one of another spec. A spec whose containers died twice before their
        job is not warmed again."""
        with self._lock:
            if self._closed or self.workers <= 0 or self._failures.get(spec, 0) >= 2:
                return
            if sum(s.spec == spec for s in self._idle) >= self.workers:
                return
            if len(self._idle) >= self.workers:
                other = next(s for s in self._idle if s.spec != spec)
                self._idle.remove(other)
                self._background.submit(self._retire, other)
            slot = Slot(spec, self._name(), self._slot_root() / f"s{self._seq}")
            self._idle.append(slot)
            self._background.submit(self._start, slot)

    def _name(self) -> str:
        """Unique across processes (the owner's pid and a hash of its full id: host, start time)
        and within one (a count shared by every pool of the process)."""
        tag = hashlib.sha256(self._owner.encode()).hexdigest()[:8]
        self._seq = next(_NAMES)
        return f"hf-warm-{os.getpid()}-{tag}-{self._seq}"

    def idle_names(self) -> list[str]:
        with self._lock:
            return [s.name for s in self._idle]

    def _slot_root(self) -> Path:
        if self._root is None:
            base = self._base or Path(tempfile.gettempdir())
            base.mkdir(parents=True, exist_ok=True)
            # The owner in the name (the reaper's answer even before the owner file exists) and
            # in the owner file, which removal takes last.
            prefix = warm_files.root_name(self._owner)
            self._root = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
            (self._root / warm_files.OWNER_NAME).write_text(self._owner)
        return self._root

    def _start(self, slot: Slot) -> None:
        try:
            self._spawn(slot)
        except BaseException as exc:  # recorded: take() then discards the slot
            slot.error = exc
        finally:
            slot.started.set()

    def failed(self, slot: Slot) -> None:
        """A container that died (or never started) before its job: removed, and counted
        against its spec if its bootstrap never got through the preload (an idle one that
        timed out or was killed later is no fault of the spec)."""
        if not (slot.out / READY_NAME).exists():
            with self._lock:
                self._failures[slot.spec] = self._failures.get(slot.spec, 0) + 1
        self.discard(slot)

    def succeeded(self, spec: WarmSpec) -> None:
        with self._lock:
            self._failures.pop(spec, None)

    def discard(self, slot: Slot) -> None:
        """Remove a slot in the background (at once after close)."""
        self.background(self._retire, slot)

    def background(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            self._background.submit(fn, *args)
        except RuntimeError:  # the pool is shut down
            fn(*args)

    def set_workers(self, workers: int) -> None:
        with self._lock:
            self.workers = workers
            extra = self._idle[: max(0, len(self._idle) - workers)]
            del self._idle[: len(extra)]
        for slot in extra:
            self.discard(slot)

    def wait_ready(self, timeout: float, spec: WarmSpec | None = None) -> bool:
        """Wait until the idle containers (of ``spec``, if given) have their modules imported;
        False at the timeout, or when none is left (each died before it was ready)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                idle = [s for s in self._idle if spec is None or s.spec == spec]
            dead = [s for s in idle if s.started.is_set() and not s.usable()]
            if not dead and idle and all(s.ready() for s in idle):
                return True
            for s in dead:
                with self._lock:
                    if s not in self._idle:
                        continue
                    self._idle.remove(s)
                self.failed(s)
            if not idle:
                return False
            time.sleep(0.01)
        return False

    def close(self) -> None:
        """Remove the idle containers and wait for all background work; then the pool's folder,
        its owner file last (what cannot be removed is logged and left for the reaper)."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        # Starts in flight were queued before these removals, so they run first: no deadlock.
        for slot in idle:
            self.background(self._retire_started, slot)
        self._background.shutdown(wait=True)
        if self._root is not None:
            removal.remove_tree(self._root, last=warm_files.OWNER_NAME)

    def _retire_started(self, slot: Slot) -> None:
        slot.started.wait()  # a start in flight: remove the container once it exists
        self._retire(slot)
