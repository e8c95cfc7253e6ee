"""GPUs through the sandbox (run where a GPU is present, skipped elsewhere): a job given
``limits.gpus = 1`` sees the device in its container; a job given none does not."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hypoforge.records import Outcome
from hypoforge.settings import Limits
from sandbox.base import Job

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        shutil.which("nvidia-smi") is None and not Path("/dev/nvidiactl").exists(),
        reason="no GPU on this machine",
    ),
]

SEES = "import os; open('/hf/out/seen.txt', 'w').write(str(os.path.exists('/dev/nvidiactl')))"


@pytest.mark.parametrize(("gpus", "seen"), [(1, "True"), (0, "False")])
def test_a_job_sees_a_gpu_only_when_given_one(docker_sandbox, tmp_path, gpus, seen):
    job = Job(
        key=f"gpu-{gpus}",
        command=["python3", "-c", SEES],
        out_dir=tmp_path / "out",
        limits=Limits(wall_seconds=60, gpus=gpus),
    )
    result = docker_sandbox.run(job)
    assert result.outcome is Outcome.OK, result.reason + result.log_tail
    assert (tmp_path / "out" / "seen.txt").read_text() == seen
