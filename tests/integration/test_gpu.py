"""GPUs through the sandbox (run where a GPU is present, skipped elsewhere): a job given
``limits.gpus = 1`` sees the device in its container; a job given none does not; with one
worker per GPU, jobs running at once each see one GPU, none the same, and the GPUs cap the
workers."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from core.errors import SandboxUnavailable
from core.records import Outcome
from core.settings import Limits
from sandbox import capacity
from sandbox.base import Job
from sandbox.docker_sandbox import DockerSandbox

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


GPUS_SEEN = (
    "import os, re, time; time.sleep(3); names = sorted(n for n in os.listdir('/dev') "
    "if re.fullmatch(r'nvidia[0-9]+', n)); open('/hf/out/seen.txt', 'w').write(','.join(names))"
)


def test_each_worker_has_its_own_gpu_and_the_gpus_cap_the_workers(settings, tmp_path):
    ids = capacity.host_gpus()
    assert ids, "nvidia-smi -L lists no GPU"
    limits = Limits(wall_seconds=60, gpus=1)
    box = settings.sandbox.model_copy(update={"limits": limits, "warm": False})
    with pytest.raises(SandboxUnavailable, match=f"{len(ids) + 1} workers with 1 GPU"):
        DockerSandbox(box, workers=len(ids) + 1).preflight()
    sb = DockerSandbox(box, workers=len(ids))
    sb.preflight()
    jobs = [
        Job(
            key=f"slot-{i}",
            command=["python3", "-c", GPUS_SEEN],
            out_dir=tmp_path / f"o{i}",
            limits=limits,
        )
        for i in range(len(ids))
    ]
    try:
        with ThreadPoolExecutor(len(jobs)) as pool:  # all at once: each holds one slot
            results = list(pool.map(sb.run, jobs))
    finally:
        sb.close()
    assert all(r.outcome is Outcome.OK for r in results), [r.reason for r in results]
    seen = [(j.out_dir / "seen.txt").read_text() for j in jobs]
    assert all(s and "," not in s for s in seen), seen  # one GPU each
    assert len(set(seen)) == len(jobs), seen  # none the same
