"""Building a sandbox job's inputs on the host: a fresh attempt folder per job, the data file of
exactly the splits a job runs (no test labels), and the host's own record of the checks it drew.

Campaigns run several jobs at once from worker threads (``graph.experiments``): attempt folders
are claimed and data files written under one lock, so two threads never take one folder or write
one file twice."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import numpy as np

from evaluators.kit.splits import Split

FOLDERS = threading.Lock()


def claim_attempt(root: Path, tag: str, budget: str) -> tuple[str, Path]:
    """A fresh attempt folder under ``root`` for a job tagged ``tag`` at ``budget``: its key
    (``<tag>-<budget>-<n>``) and its ``in`` folder, created with ``in/candidates``."""
    with FOLDERS:
        root.mkdir(parents=True, exist_ok=True)
        attempt = 0
        while (root / f"{tag}-{budget}-{attempt}").exists():
            attempt += 1
        key = f"{tag}-{budget}-{attempt}"
        in_dir = root / key / "in"
        (in_dir / "candidates").mkdir(parents=True)
    return key, in_dir


def data_file(path: Path, splits: list[Split], names: list[str]) -> Path:
    """``path``, holding the public arrays (``Split.public``) of the splits ``names``; written
    once, atomically (a crash never leaves half a file)."""
    with FOLDERS:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            arrays: dict[str, np.ndarray] = {}
            for s in splits:
                if s.name in names:
                    arrays.update(s.public())
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, **arrays)  # type: ignore[arg-type]
            tmp.replace(path)
    return path


def job_checks(out_dir: Path) -> dict:
    """The checks the host drew for the job whose output folder is ``out_dir`` (read back from
    the host's own ``job.json``, which the container saw read-only)."""
    try:
        spec = json.loads((out_dir.parent / "in" / "job.json").read_text())
    except (OSError, ValueError):
        return {}  # removed by the retention setting, or not a job of ours
    checks = spec.get("checks") if isinstance(spec, dict) else None
    return checks if isinstance(checks, dict) else {}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def arrays_sha(arrays: dict[str, np.ndarray]) -> str:
    """One digest of named arrays: names, dtypes, shapes and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()
