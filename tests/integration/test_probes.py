"""Every CPU case of the adversarial catalogue, on the real engine."""

import shutil

import pytest

from sandbox.base import Job
from sandbox.probes import PROBES, SECRET_NAME, SECRET_VALUE
from sandbox.selftest import run_probe
from tests.integration.conftest import own_containers


@pytest.mark.parametrize("probe", PROBES, ids=[f"{p.case}-{p.name}" for p in PROBES])
def test_probe_is_contained(docker_sandbox, probe, tmp_path, monkeypatch):
    monkeypatch.setenv(SECRET_NAME, SECRET_VALUE)  # must never reach the container
    free_before = shutil.disk_usage(tmp_path).free
    report = run_probe(docker_sandbox, probe, tmp_path)
    assert report.problem is None, report.problem
    assert report.result.outcome is probe.expect
    # The orchestrator is unaffected: no container of ours is left, the disk is intact.
    assert own_containers(docker_sandbox) == []
    assert shutil.disk_usage(tmp_path).free > free_before - 256 * 2**20


def test_next_job_runs_normally_after_the_catalogue(docker_sandbox, tmp_path):
    job = Job(
        key="after-catalogue", command=["python3", "-c", "print(6 * 7)"], out_dir=tmp_path / "out"
    )
    result = docker_sandbox.run(job)
    assert result.outcome == "ok"
    assert result.log_tail.strip() == "42"
    assert result.image == docker_sandbox.image_ref()
