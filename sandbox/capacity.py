"""How many sandbox containers this machine runs at once for given job limits, and which GPUs
each worker slot owns.

Each worker's container takes ``limits.cpus`` cores and up to ``limits.memory_mb`` of memory,
and a warm container waiting for the worker's next job holds an interpreter with torch
imported (``WARM_MB``). ``HOST_MB`` stays free for the campaign itself and the embedded LLM.
With ``limits.gpus = g``, worker slot ``i`` owns GPUs ``[i*g, (i+1)*g)`` of the machine's
(``gpu_ids``): no two jobs running at once share a GPU, and the GPUs cap the workers.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator, Sequence

from core.errors import SandboxUnavailable
from core.settings import DockerSandboxSettings, Limits

HOST_MB = 2048  # the campaign process, the embedded LLM server, the page cache's share
WARM_MB = 512  # an idle warm container: python, numpy and torch imported


def cores() -> int:
    """CPUs this process may use (its affinity mask, which a cgroup cpuset narrows)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def available_mb() -> int | None:
    """``MemAvailable`` from /proc/meminfo, in MiB (None where unreadable)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


@functools.cache
def host_gpus() -> tuple[str, ...]:
    """The indices of this machine's GPUs as ``nvidia-smi -L`` lists them (Docker's device ids);
    none where there is no ``nvidia-smi`` or it fails. Asked once per process."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return ()
    try:
        listed = subprocess.run(
            [smi, "-L"], capture_output=True, text=True, timeout=20, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(m.group(1) for m in re.finditer(r"^GPU (\d+):", listed, re.MULTILINE))


def gpu_ids(settings: DockerSandboxSettings) -> tuple[str, ...]:
    """The GPUs this machine's sandbox may hand out: ``gpu_devices`` if set, else the host's."""
    return tuple(settings.gpu_devices) or host_gpus()


def gpu_cap(limits: Limits, gpus: int) -> int | None:
    """Workers ``gpus`` GPUs hold when each job takes ``limits.gpus`` (None: jobs take none)."""
    return gpus // limits.gpus if limits.gpus else None


def default_workers(
    limits: Limits,
    cpus: int | None = None,
    memory_mb: int | None = None,
    gpus: int | None = None,
) -> int:
    """Containers at once: no more than the cores divide into the jobs' CPU quota, nor the
    available memory (less ``HOST_MB``) into each worker's share, nor (when jobs take GPUs) the
    GPUs into ``limits.gpus`` (``gpus``: how many; None: this machine's); at least one."""
    cpus = cores() if cpus is None else cpus
    memory_mb = available_mb() if memory_mb is None else memory_mb
    by_cpu = math.floor(cpus / limits.cpus)
    by_memory = (
        by_cpu if memory_mb is None else (memory_mb - HOST_MB) // (limits.memory_mb + WARM_MB)
    )
    by_gpu = gpu_cap(limits, len(host_gpus()) if gpus is None else gpus)
    return max(1, min(by_cpu, by_memory, by_cpu if by_gpu is None else by_gpu))


def describe(limits: Limits, workers: int, gpus: int | None = None) -> str:
    """One line for ``hypoforge doctor`` and the campaign's start (``gpus``: the GPUs the
    sandbox may use; None: this machine's)."""
    memory = available_mb()
    have = f"{cores()} cores, {memory} MiB available" if memory is not None else f"{cores()} cores"
    per = f"{limits.cpus:g} CPU, {limits.memory_mb} MiB + {WARM_MB} MiB warm"
    if limits.gpus:
        have += f", {len(host_gpus()) if gpus is None else gpus} GPUs"
        per += f", {limits.gpus} GPU"
    return f"{workers} (machine: {have}; per job {per})"


def gpu_groups(ids: Sequence[str], per_job: int, workers: int) -> list[tuple[str, ...]]:
    """Each worker slot's own GPUs: slot ``i`` gets ``ids[i*per_job:(i+1)*per_job]``. A one-line
    ``SandboxUnavailable`` when there are too few for ``workers`` slots (or none at all)."""
    if per_job <= 0 or workers <= 0:
        return []
    if not ids:
        raise SandboxUnavailable(
            f"jobs ask for {per_job} GPU(s) each (sandbox.limits.gpus) but no GPU was found on "
            "this machine (`nvidia-smi -L` lists none): set sandbox.gpu_devices, or gpus = 0"
        )
    if len(ids) < per_job:
        raise SandboxUnavailable(
            f"jobs ask for {per_job} GPUs each (sandbox.limits.gpus) but this sandbox has "
            f"{len(ids)} ({','.join(ids)})"
        )
    if len(ids) < per_job * workers:
        raise SandboxUnavailable(
            f"{workers} workers with {per_job} GPU(s) each need {per_job * workers} GPUs but this "
            f"sandbox has {len(ids)} ({','.join(ids)}): use --workers {len(ids) // per_job}"
        )
    return [tuple(ids[i * per_job : (i + 1) * per_job]) for i in range(workers)]


class GpuSlots:
    """The worker slots' GPU groups, leased one job at a time: a job holds its slot's GPUs from
    its container's create to its end, so two jobs running at once never share one. A job
    waits for a free slot when more run than there are slots (never shares one)."""

    def __init__(self, groups: list[tuple[str, ...]]) -> None:
        self.groups = groups
        self._free = list(range(len(groups)))
        self._cond = threading.Condition()
        self.waiting = 0  # jobs queued for a slot now: lets a caller see a job wait, not guess

    @contextlib.contextmanager
    def lease(self) -> Iterator[tuple[str, ...]]:
        """The GPUs of the lowest free slot, for the block's duration."""
        with self._cond:
            self.waiting += 1
            self._cond.wait_for(lambda: bool(self._free))
            self.waiting -= 1
            slot = min(self._free)
            self._free.remove(slot)
        try:
            yield self.groups[slot]
        finally:
            with self._cond:
                self._free.append(slot)
                self._cond.notify()
