"""The host's side of one running container: its wall clock, its output budget, how it ended.

Nothing a job does can change what is here: the clock is the host's, the output is measured on
the host's folder, the end is Docker's (a thread blocked in ``container.wait()``, so no polling
delay) or, for a warm container, its bootstrap's announcement once the kernel agrees: the
container's cgroup holds no task, so nothing in it can write any more.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import InfraError
from core.records import Outcome
from core.settings import Limits
from sandbox.base import Job, RunResult

if TYPE_CHECKING:
    from sandbox.warm import Slot

MiB = 1024 * 1024
LOG_LINES = 200  # of a job's log, before the byte cap of its limits
WARM_TICK = 0.002  # how often a warm job's announced end is looked for, in seconds
LOG_INTERVAL = 0.02  # the least time between two log fetches of an announced warm job


@dataclass(frozen=True)
class Usage:
    """What a job's output folder holds, as far as the walk went."""

    bytes: int
    entries: int  # files, folders, links, anything
    depth: int  # the deepest entry's level: 1 for one at the top; UNREADABLE and TOO_DEEP mark
    # folders the host could not list (a job hiding its output) and paths too long to name


UNREADABLE = -1
TOO_DEEP = 1 << 30


def output_walk(out_dir: Path, max_entries: int, max_depth: int) -> Usage:
    """Walk ``out_dir`` without recursion and without following links, stopping once past
    ``max_entries`` entries or ``max_depth`` levels (a tree of any size costs the host little).
    A file counts by the larger of its size and its allocated blocks: space reserved with
    ``fallocate(FALLOC_FL_KEEP_SIZE)`` takes disk with ``st_size`` 0, a sparse file the reverse.
    A folder the host cannot list hides what is in it: the walk says so (``UNREADABLE``)."""
    total, count, deepest = 0, 0, 0
    stack = [(out_dir, 0)]
    while stack and count <= max_entries and deepest <= max_depth:
        folder, level = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            continue  # removed meanwhile
        except OSError as exc:
            return Usage(total, count, _hidden(exc))
        if entries:
            deepest = max(deepest, level + 1)
        for e in entries:
            count += 1
            try:
                st = e.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            except OSError as exc:
                return Usage(total, count, _hidden(exc))
            total += max(st.st_size, st.st_blocks * 512)
            if stat.S_ISDIR(st.st_mode):
                stack.append((Path(e.path), level + 1))
    return Usage(total, count, deepest)


def _hidden(exc: OSError) -> int:
    """The depth mark of an entry the host cannot see: its path too long, or its folder's mode."""
    return TOO_DEEP if exc.errno == errno.ENAMETOOLONG else UNREADABLE


def output_usage(out_dir: Path, max_files: int) -> tuple[int, int]:
    """(bytes, entries) under ``out_dir``, not following links; stops counting past max_files."""
    usage = output_walk(out_dir, max_files, TOO_DEEP)
    return usage.bytes, usage.entries


def over_budget(usage: Usage, lim: Limits) -> str | None:
    """Why ``usage`` is over the output budget of ``lim`` (one line), or None."""
    if usage.bytes >= lim.output_mb * MiB:
        return f"output exceeded {lim.output_mb} MiB"
    if usage.entries > lim.output_files:
        return f"output exceeded {lim.output_files} files (folders count as files)"
    if usage.depth == UNREADABLE:
        return "output exceeded what the host may read: a folder it cannot list"
    if usage.depth > lim.output_depth:
        return f"output exceeded {lim.output_depth} levels of nested folders"
    return None


def output_excess(out_dir: Path, lim: Limits) -> str | None:
    """Why the output in ``out_dir`` is over the budget of ``lim``, or None."""
    return over_budget(output_walk(out_dir, lim.output_files, lim.output_depth), lim)


# -- cgroups: what the kernel says about a container, read on the host -------------------------
_CGROUP_DIRS = (
    "/sys/fs/cgroup/{controller}/docker/{id}",  # v1, cgroupfs driver
    "/sys/fs/cgroup/system.slice/docker-{id}.scope",  # v2, systemd driver
    "/sys/fs/cgroup/docker/{id}",  # v2, cgroupfs driver
)


def _cgroup_read(container_id: str, controller: str, name: str) -> str | None:
    for folder in _CGROUP_DIRS:
        with contextlib.suppress(OSError):
            return Path(folder.format(controller=controller, id=container_id), name).read_text()
    return None


def cgroup_tasks(container_id: str) -> int | None:
    """Tasks (processes and threads) in the container's cgroup now, if readable."""
    text = _cgroup_read(container_id, "pids", "pids.current")
    with contextlib.suppress(ValueError, TypeError):
        return int(text)  # type: ignore[arg-type]
    return None


def cgroup_oom_kills(container_id: str) -> int | None:
    """How many processes the kernel's OOM killer took in the container, if readable."""
    for name in ("memory.oom_control", "memory.events"):  # v1, v2
        for line in (_cgroup_read(container_id, "memory", name) or "").splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
    return None


class Exit:
    """A container's end, seen by a thread blocked in ``container.wait()``: no polling delay."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.at: float | None = None  # time.monotonic() when the end was seen
        self.error: BaseException | None = None

    def watch(self, container: Any, errors: tuple[type[BaseException], ...], poll: float) -> None:
        def wait() -> None:
            try:
                container.wait()
            except errors:
                self._poll(container, errors, poll)  # the wait's connection broke: poll instead
            self.at = time.monotonic()
            self.done.set()

        threading.Thread(target=wait, name=f"hf-wait-{container.name}", daemon=True).start()

    def _poll(self, container: Any, errors: tuple[type[BaseException], ...], poll: float) -> None:
        try:
            while True:
                container.reload()
                if container.status in ("exited", "dead"):
                    return
                time.sleep(poll)
        except errors as exc:
            self.error = exc


@dataclass(frozen=True)
class Ended:
    """A warm job's end as its bootstrap announced it (exit code, complete log), confirmed by
    the kernel: no task is left in the container."""

    code: int
    log: bytes  # without the end lines
    at: float  # time.monotonic()


@dataclass
class Watched:
    """What the watchdog saw of one job."""

    timed_out: bool = False
    quota: str | None = None  # why the output was over its budget
    pids_peak: int | None = None
    log: bytes | None = None  # a warm job's complete log, once announced
    log_asked: float = float("-inf")  # when the engine was last asked for it
    ended: Ended | None = None  # a warm job's end, announced and confirmed


class Watchdog:
    """Supervises one container at a time per call; shared by a sandbox's threads."""

    def __init__(self, poll_seconds: float, api_timeout: float) -> None:
        self.poll, self.api_timeout = poll_seconds, api_timeout

    def supervise(
        self,
        container: Any,
        exit: Exit,
        watched: Path,
        job: Job,
        begin: Callable[[], None],
        slot: Slot | None = None,
    ) -> RunResult:
        """Start the job (``begin``), then enforce its clock and output budget on ``watched``
        until it ends; the result names ``job.out_dir``. A warm ``slot`` can announce the end
        before Docker has done its bookkeeping of the exit."""
        lim = job.limits
        begin()
        start = time.monotonic()
        w = self._watch(container, exit, watched, lim, start, slot)
        ended = None if w.timed_out or w.quota else w.ended
        exit_code: int | None = None
        oom_killed, raw = False, b""
        if ended is not None and (ooms := cgroup_oom_kills(container.id)) is not None:
            exit_code, oom_killed, raw = ended.code, ooms > 0, ended.log
        if exit_code is None:  # Docker's account: a cold job, a warm one killed or not announced
            if not exit.done.wait(self.api_timeout):
                raise InfraError(f"container {container.name} did not stop")
            if exit.error is not None:
                raise exit.error
            container.reload()
            state = container.attrs["State"]
            exit_code, oom_killed = int(state.get("ExitCode", -1)), bool(state.get("OOMKilled"))
            raw = self._logs(container, slot)
        wall = (ended.at if ended is not None else exit.at or time.monotonic()) - start
        if slot is not None:
            slot.clear_marks()
        quota = w.quota or output_excess(watched, lim)
        return classify(
            exit_code=exit_code,
            oom_killed=oom_killed,
            timed_out=w.timed_out,
            quota=quota,
            lim=lim,
            common=dict(
                wall_seconds=round(wall, 3),
                pids_peak=w.pids_peak,
                log_tail=raw[-lim.log_tail_bytes :].decode("utf-8", errors="replace"),
                out_dir=job.out_dir,
            ),
        )

    def _watch(
        self,
        container: Any,
        exit: Exit,
        watched: Path,
        lim: Limits,
        start: float,
        slot: Slot | None,
    ) -> Watched:
        """The host's clock and watchdog, every ``poll_seconds``, until the container ends or is
        killed; a warm job's announced end is looked for every few milliseconds."""
        w = Watched()
        deadline = start + lim.wall_seconds
        tick = WARM_TICK if slot is not None else self.poll
        next_watch = start
        while not exit.done.is_set():
            now = time.monotonic()
            if now >= next_watch:
                next_watch = now + self.poll
                pids = cgroup_tasks(container.id)
                if pids is not None:
                    w.pids_peak = max(w.pids_peak or 0, pids)
                w.quota = output_excess(watched, lim)
                if w.quota is not None:
                    self.kill(container)
                    return w
                if now >= deadline:
                    w.timed_out = True
                    self.stop(container, lim.grace_seconds)
                    return w
            if slot is not None:
                slot.delivered()  # latch the moment the bootstrap takes the job
                if self._announced(container, slot, w):
                    return w
            exit.done.wait(max(0.0, min(tick, next_watch - now, deadline - now)))
        return w

    @staticmethod
    def _announced(container: Any, slot: Slot, w: Watched) -> bool:
        """Whether a warm job has ended by its bootstrap's account, its log is complete (both
        end lines in it: fetched now, before Docker's bookkeeping of the exit holds the log
        back) and the kernel agrees (no task left)."""
        code = slot.announced()
        if code is None:
            return False
        now = time.monotonic()
        if w.log is None and now - w.log_asked >= LOG_INTERVAL:
            # At most every LOG_INTERVAL: a job that announces early and never prints the end
            # lines must not make the host call the engine on every tick.
            w.log_asked = now
            raw = container.logs(stdout=True, stderr=True, tail=LOG_LINES + 2)
            log, complete = slot.log_tail(raw, LOG_LINES)
            w.log = log if complete else None
        if w.log is None or cgroup_tasks(container.id) != 0:
            return False
        w.ended = Ended(code, w.log, time.monotonic())
        return True

    @staticmethod
    def _logs(container: Any, slot: Slot | None) -> bytes:
        if slot is None:
            return bytes(container.logs(stdout=True, stderr=True, tail=LOG_LINES))
        raw = container.logs(stdout=True, stderr=True, tail=LOG_LINES + 2)
        return slot.log_tail(raw, LOG_LINES)[0]

    def kill(self, container: Any) -> None:
        """SIGKILL; a container that ended meanwhile is no error."""
        try:
            container.kill()
        except Exception as exc:  # docker's APIError, without importing docker here
            if getattr(exc, "status_code", None) != 409:
                raise

    def stop(self, container: Any, grace: float) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds (at once when grace is 0)."""
        if grace > 0:
            container.stop(timeout=max(1, round(grace)))
        else:
            self.kill(container)


def classify(
    *,
    exit_code: int,
    oom_killed: bool,
    timed_out: bool,
    quota: str | None,
    lim: Limits,
    common: dict[str, Any],
) -> RunResult:
    """The outcome of a container's end: the host's kills first, then the kernel's, then the
    exit code. ``quota``: why the output was over its budget (``over_budget``), or None."""
    flags = dict(exit_code=exit_code, timed_out=timed_out, oom_killed=oom_killed)
    if quota is not None:
        return RunResult(
            outcome=Outcome.DISK_QUOTA, reason=quota, quota_exceeded=True, **flags, **common
        )
    if timed_out:
        reason = f"killed after the {lim.wall_seconds:g} s wall-clock limit"
        return RunResult(outcome=Outcome.TIMEOUT, reason=reason, **flags, **common)
    # Exit 137 that we did not cause is the kernel's OOM kill (OOMKilled is unreliable on
    # some kernels, so both are read).
    if oom_killed or exit_code == 137:
        reason = f"killed by the {lim.memory_mb} MiB memory limit"
        return RunResult(outcome=Outcome.OOM, reason=reason, **flags, **common)
    if exit_code == 0:
        return RunResult(outcome=Outcome.OK, **flags, **common)
    return RunResult(
        outcome=Outcome.HYP_ERROR, reason=f"exited with code {exit_code}", **flags, **common
    )
