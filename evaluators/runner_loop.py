"""The candidate loop every sandboxed task's runner shares. Runs INSIDE the container, mounted
beside the task's runner as ``/hf/code/runner_loop.py``; no hypoforge here.

For each candidate named in ``IN_DIR/job.json`` the task's ``one`` function loads it, checks it
and trains on the splits, writing its files to the output folder; the loop records in
``status.json`` (advisory: messages for humans, never scores) how far each got, and returns the
container's exit code: 0 all done, 4 a rule of the task broken, 3 an error.

A campaign's job holds one hypothesis (several only for the baselines, which are ours). Its code
runs with a curated builtins mapping (``SAFE_BUILTINS``, the same set the static checks allow)
and an import function that hands out only the task's modules: a second line of defence behind
the static check, not a boundary (the container is).
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

# Builtins hypothesis code may call; evaluators/static_check.py allows no others.
SAFE_BUILTINS = (
    "abs all any bool dict divmod enumerate float int isinstance len list max min pow range "
    "reversed round slice sorted sum tuple zip"
).split()
MODULES = ("math", "numpy", "torch", "torch.nn", "torch.nn.functional")


def curated_builtins(modules: tuple[str, ...], extra: tuple[str, ...] = ()) -> dict:
    """The ``__builtins__`` of hypothesis code: the safe names, ``extra`` (what a task's fixed
    code needs beside them), and an ``__import__`` that gives out ``modules`` only."""
    import builtins
    import importlib

    tops = {m.split(".")[0] for m in modules}

    def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
        # C code called from a hypothesis's frame imports through its builtins too (numpy's
        # ndarray.mean imports numpy._core._methods): parts of an allowed package are handed
        # out as well, except its bridges to C.
        part = name.split(".")[0] in tops and "ctypes" not in name
        if level != 0 or not (name in modules or part):
            raise ImportError(f"import of {name} is not allowed here")
        top = importlib.import_module(name)
        return top if fromlist else importlib.import_module(name.split(".")[0])

    names = {n: getattr(builtins, n) for n in (*SAFE_BUILTINS, *extra)}
    return {**names, "__import__": guarded_import}


def load(
    path: Path, function: str, modules: tuple[str, ...] = MODULES, extra: tuple[str, ...] = ()
) -> dict:
    """Run a candidate's source with curated builtins; its namespace, which must define a
    callable ``function``."""
    namespace: dict = {"__name__": "hypothesis", "__builtins__": curated_builtins(modules, extra)}
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
        except BaseException as exc:
            tail = traceback.format_exc(limit=-3)[-1500:]
            error = f"{type(exc).__name__}: {str(exc)[:500]}"
            status[name] = {"stage": stage.name, "error": error, "trace": tail}
            code = max(code, 3)
    (out / "status.json").write_text(json.dumps(status))
    return code
