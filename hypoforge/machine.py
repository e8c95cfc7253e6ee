"""The machine a campaign runs on, recorded with its ``start`` event (the paper's setup facts).

Read from the host (trusted), never from a container: the CPU model and cores, memory, the GPUs
``nvidia-smi -L`` names (none when it is missing), the operating system, the Python and package
versions of the host process. What ran inside the sandbox (the image's Python and torch) is the
image's, read by a trusted job when the paper is written (``hypoforge.paper.facts``).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from importlib import metadata


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    return platform.processor() or "unknown"


def gpus() -> list[str]:
    """The GPUs' names (``nvidia-smi -L``), none when there is no driver or it does not answer."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        proc = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    names = []
    for line in proc.stdout.splitlines():
        if line.startswith("GPU "):
            names.append(line.split(":", 1)[1].split("(UUID")[0].strip())
    return names


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def memory_gib() -> float | None:
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return round(pages * size / 2**30, 1)


def describe() -> dict[str, object]:
    """This machine, as recorded with a campaign's start."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "gpus": gpus(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "hypoforge": _version("hypoforge"),
        "torch": _version("torch"),
    }
