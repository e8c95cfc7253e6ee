"""The candidate loop every sandboxed task's runner shares. Runs INSIDE the container, mounted
beside the task's runner as ``/hf/code/runner_loop.py``; no hypoforge here.

For each candidate named in ``IN_DIR/job.json`` the task's ``one`` function loads it, checks it
and trains on the splits, writing its files to the output folder; the loop records in
``status.json`` (advisory: messages for humans, never scores) how far each got, and returns the
container's exit code: 0 all done, 4 a rule of the task broken, 3 an error.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np


class CheckFailed(Exception):
    """A hypothesis broke a rule of the task; ``stage`` names the check (for the host)."""

    def __init__(self, message: str, stage: str = "check") -> None:
        super().__init__(message)
        self.stage = stage


class Stage:
    """How far a candidate got ("load", then what the task sets), for its status."""

    def __init__(self) -> None:
        self.name = "load"


# one(name, source path, job, data, out folder, stage): the task's work for one candidate.
One = Callable[[str, Path, dict, dict, Path, Stage], None]


def load(path: Path, function: str) -> dict:
    """Run a candidate's source; its namespace, which must define a callable ``function``."""
    namespace: dict = {"__name__": "hypothesis"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    if not callable(namespace.get(function)):
        raise TypeError(f"the hypothesis defines no callable '{function}'")
    return namespace


def run_candidates(in_dir: Path, data_path: Path, out: Path, one: One) -> int:
    import torch

    torch.set_num_threads(1)
    job = json.loads((in_dir / "job.json").read_text())
    data = dict(np.load(data_path, allow_pickle=False))
    status: dict[str, dict] = {}
    code = 0
    for name in job["candidates"]:
        stage = Stage()
        try:
            one(name, in_dir / "candidates" / f"{name}.py", job, data, out, stage)
            status[name] = {"stage": "done"}
        except CheckFailed as exc:
            status[name] = {"stage": exc.stage, "error": str(exc)}
            code = max(code, 4)
        except Exception as exc:
            tail = traceback.format_exc(limit=-3)[-1500:]
            error = f"{type(exc).__name__}: {exc}"
            status[name] = {"stage": stage.name, "error": error, "trace": tail}
            code = max(code, 3)
    (out / "status.json").write_text(json.dumps(status))
    return code
