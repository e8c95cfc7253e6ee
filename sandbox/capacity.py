"""How many sandbox containers this machine runs at once for given job limits.

Each worker's container takes ``limits.cpus`` cores and up to ``limits.memory_mb`` of memory,
and a warm container waiting for the worker's next job holds an interpreter with torch
imported (``WARM_MB``). ``HOST_MB`` stays free for the campaign itself and the embedded LLM.
"""

from __future__ import annotations

import math
import os

from hypoforge.settings import Limits

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


def default_workers(limits: Limits, cpus: int | None = None, memory_mb: int | None = None) -> int:
    """Containers at once: no more than the cores divide into the jobs' CPU quota, nor the
    available memory (less ``HOST_MB``) into each worker's share; at least one."""
    cpus = cores() if cpus is None else cpus
    memory_mb = available_mb() if memory_mb is None else memory_mb
    by_cpu = math.floor(cpus / limits.cpus)
    by_memory = (
        by_cpu if memory_mb is None else (memory_mb - HOST_MB) // (limits.memory_mb + WARM_MB)
    )
    return max(1, min(by_cpu, by_memory))


def describe(limits: Limits, workers: int) -> str:
    """One line for ``hypoforge doctor`` and the campaign's start."""
    memory = available_mb()
    have = f"{cores()} cores, {memory} MiB available" if memory is not None else f"{cores()} cores"
    return (
        f"{workers} (machine: {have}; per job {limits.cpus:g} CPU, {limits.memory_mb} MiB "
        f"+ {WARM_MB} MiB warm)"
    )
