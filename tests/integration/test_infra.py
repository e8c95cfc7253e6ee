"""Infrastructure faults: dead daemon, missing image, low disk, name conflicts, orphans."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from core.errors import ImageMissing, SandboxUnavailable
from core.records import Outcome
from sandbox import reaper
from sandbox.base import Job
from sandbox.docker_sandbox import DockerSandbox, container_name


def test_dead_daemon_is_infra_error(settings, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    sb = DockerSandbox(settings.sandbox)
    with pytest.raises(SandboxUnavailable, match="Docker engine not reachable"):
        sb.preflight()
    result = sb.run(Job(key="dead", command=["true"], out_dir=tmp_path / "out"))
    assert result.outcome is Outcome.INFRA_ERROR
    assert "Docker engine not reachable" in result.reason


def test_missing_image_says_how_to_build_it(settings):
    cfg = settings.sandbox.model_copy(update={"image": "hypoforge-sandbox:not-built"})
    with pytest.raises(ImageMissing, match="make setup"):
        DockerSandbox(cfg).preflight()


def test_disk_floor_blocks_the_launch(settings, docker_sandbox, tmp_path):
    cfg = settings.sandbox.model_copy(update={"disk_floor_mb": 10**9})
    sb = DockerSandbox(cfg, client=docker_sandbox.client)
    result = sb.run(Job(key="floor", command=["true"], out_dir=tmp_path / "out"))
    assert result.outcome is Outcome.INFRA_ERROR
    assert "the floor is 1000000000 MiB" in result.reason


def test_name_conflict_replaces_the_stale_container(docker_sandbox, tmp_path):
    client = docker_sandbox.client
    job = Job(key="conflict", command=["python3", "-c", "print('fresh')"], out_dir=tmp_path / "o")
    name = container_name(job)
    stale = client.containers.create(docker_sandbox.image, ["sleep", "60"], name=name)
    result = docker_sandbox.run(job)
    assert result.outcome is Outcome.OK
    assert result.log_tail.strip() == "fresh"
    assert not client.containers.list(all=True, filters={"id": stale.id})


def test_reaper_removes_orphans_but_not_live_owners(docker_sandbox):
    client = docker_sandbox.client
    proc = subprocess.Popen(["true"])
    proc.wait()
    dead_owner = f"{reaper.owner_id().split('/')[0]}/{proc.pid}/1"
    labels = {reaper.MANAGED_LABEL: "1"}
    orphan = client.containers.create(
        docker_sandbox.image,
        ["sleep", "60"],
        name="hf-orphan-test",
        labels={**labels, reaper.OWNER_LABEL: dead_owner},
    )
    live = client.containers.create(
        docker_sandbox.image,
        ["sleep", "60"],
        name="hf-live-test",
        labels={**labels, reaper.OWNER_LABEL: reaper.owner_id()},
    )
    try:
        removed = docker_sandbox.reap_orphans()
        assert "hf-orphan-test" in removed
        assert "hf-live-test" not in removed
        assert not client.containers.list(all=True, filters={"id": orphan.id})
    finally:
        live.remove(force=True)


ORCHESTRATOR = textwrap.dedent("""
    import sys
    from pathlib import Path
    from core.settings import load_settings
    from sandbox.base import Job
    from sandbox.docker_sandbox import DockerSandbox
    sb = DockerSandbox(load_settings().sandbox)
    sb.run(Job(key="killed-orchestrator", command=["sleep", "120"], out_dir=Path(sys.argv[1])))
""")


def test_orphan_of_a_killed_orchestrator_is_reaped(docker_sandbox, tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", ORCHESTRATOR, str(tmp_path / "out")])
    client = docker_sandbox.client
    flt = {"label": "hypoforge.job=killed-orchestrator", "status": "running"}
    deadline = time.monotonic() + 60
    while not client.containers.list(filters=flt):
        assert time.monotonic() < deadline, "the orchestrator never started its container"
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert client.containers.list(filters=flt), "the container should outlive its orchestrator"
    start = time.monotonic()
    removed = docker_sandbox.reap_orphans()
    job = Job(key="killed-orchestrator", command=["sleep"], out_dir=tmp_path / "out")
    assert removed[0] == container_name(job)
    # and the folder its cold job was bound from (sandbox/neutral.py), named after its process
    assert any(r.startswith("hf-warm-") and f"-{proc.pid}-" in r for r in removed[1:])
    assert time.monotonic() - start < 10
    assert not client.containers.list(
        all=True, filters={"label": "hypoforge.job=killed-orchestrator"}
    )
