"""What the template kind's tests share: the tiny fixture task, a sandbox that writes given
arrays (no container), and one that runs the kind's runner on the host in a subprocess (the
fixture's own edits only: trusted code)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.records import Outcome
from evaluators import registry
from evaluators.kit.secrets import PUBLIC
from evaluators.template.evaluator import TemplateEvaluator
from sandbox.base import Job, RunResult, Sandbox

TINY = Path(__file__).with_name("fixtures") / "tiny"
LR_EDIT = "<<<<<<< SEARCH\nLR = 1e-2\n=======\nLR = 3e-2\n>>>>>>> REPLACE\n"
WIDE_EDIT = "<<<<<<< SEARCH\nHIDDEN = 32\n=======\nHIDDEN = 64\n>>>>>>> REPLACE\n"


def tiny_class(folder: Path = TINY) -> type[TemplateEvaluator]:
    cls = registry.get(str(folder)).evaluator_class()
    assert issubclass(cls, TemplateEvaluator)
    return cls


def tiny(sandbox: Sandbox | None, home: Path, folder: Path = TINY) -> TemplateEvaluator:
    cls = tiny_class(folder)
    return cls(sandbox, home, splits=cls.splits_for("selection", PUBLIC))  # type: ignore[arg-type]


def job_spec(job: Job) -> dict:
    in_dir = next(m.source for m in job.mounts if m.target == "/hf/in")
    return json.loads((in_dir / "job.json").read_text())


Writer = Callable[[Path, str, dict], None]  # (out folder, candidate name, job.json)


class WritingSandbox(Sandbox):
    """Writes what ``write`` makes of each candidate; the template baseline gets ``template``."""

    def __init__(self, write: Writer, template: Writer) -> None:
        self.write, self.template = write, template
        self.jobs: list[Job] = []
        self.sources: list[dict[str, str]] = []  # each job's candidates, as the container saw them

    def preflight(self) -> None:
        return None

    def image_ref(self) -> str:
        return "fake:1@sha256:0123456789abcdef"

    def reap_orphans(self) -> list[str]:
        return []

    def close(self) -> None:
        return None

    def run(self, job: Job) -> RunResult:
        self.jobs.append(job)
        job.out_dir.mkdir(parents=True)
        spec = job_spec(job)
        in_dir = next(m.source for m in job.mounts if m.target == "/hf/in")
        self.sources.append(
            {n: (in_dir / "candidates" / f"{n}.py").read_text() for n in spec["candidates"]}
        )
        status = {}
        for name in spec["candidates"]:
            (self.template if name == "template" else self.write)(job.out_dir, name, spec)
            status[name] = {"stage": "done"}
        (job.out_dir / "status.json").write_text(json.dumps(status))
        return RunResult(outcome=Outcome.OK, out_dir=job.out_dir, image=self.image_ref())


def labels_writer(guess: Callable[[str], np.ndarray], count: int) -> Writer:
    """Writes ``guess(split)`` as each split's labels and ``count`` parameters per split."""

    def write(out: Path, name: str, spec: dict) -> None:
        for split in spec["splits"]:
            np.save(out / f"{name}.{split}.labels.npy", guess(split))
        np.save(out / f"{name}.params.npy", np.full(len(spec["splits"]), count, dtype=np.int64))

    return write


class HostSandbox(WritingSandbox):
    """Runs the job's runner on the host, in a subprocess, with the job's code mounts copied
    into a folder as the container would see them. For the fixture's own scripts only."""

    def __init__(self) -> None:
        super().__init__(lambda *a: None, lambda *a: None)

    def run(self, job: Job) -> RunResult:
        self.jobs.append(job)
        job.out_dir.mkdir(parents=True)
        mounts = {m.target: m.source for m in job.mounts}
        code = job.out_dir.parent / "code"
        code.mkdir()
        for target, source in mounts.items():
            if target.startswith("/hf/code/"):
                shutil.copy(source, code / target.removeprefix("/hf/code/"))
        args = [str(mounts["/hf/in"]), str(mounts["/hf/data.npz"]), str(job.out_dir)]
        done = subprocess.run(
            [sys.executable, "-B", str(code / "runner.py"), *args],
            capture_output=True,
            text=True,
            timeout=job.limits.wall_seconds,
            cwd=code,
        )
        outcome = {0: Outcome.OK, 4: Outcome.HYP_ERROR}.get(done.returncode, Outcome.HYP_ERROR)
        return RunResult(
            outcome=outcome,
            reason=f"exit {done.returncode}",
            exit_code=done.returncode,
            log_tail=done.stderr[-2000:],
            out_dir=job.out_dir,
            image=self.image_ref(),
        )
