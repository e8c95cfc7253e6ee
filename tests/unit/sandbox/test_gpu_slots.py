"""GPUs per worker slot on one machine, without a GPU: the host's GPUs as ``nvidia-smi -L`` lists
them, each slot's own ids (disjoint, held while a job runs), the cap on workers, and the one-line
error when jobs ask for GPUs there are not; checked on the ``DeviceRequest`` each container
(cold or warm) is created with."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.errors import SandboxUnavailable
from core.records import Outcome
from core.settings import DockerExecutor, DockerSandboxSettings, Limits, RayExecutor, Settings
from sandbox import capacity
from sandbox.base import Job
from sandbox.docker_sandbox import GPU_LABEL, DockerSandbox
from sandbox.warm import Slot, WarmSpec

SMI = """GPU 0: NVIDIA H200 (UUID: GPU-aaaa)
GPU 1: NVIDIA H200 (UUID: GPU-bbbb)
  MIG 1g.18gb     Device  0: (UUID: MIG-cccc)
GPU 2: NVIDIA H200 (UUID: GPU-dddd)
"""


@pytest.fixture(autouse=True)
def _fresh_discovery():
    capacity.host_gpus.cache_clear()
    yield
    capacity.host_gpus.cache_clear()


def _no_gpu(monkeypatch) -> None:
    monkeypatch.setattr(capacity.shutil, "which", lambda name: None)


class _Containers:
    """The part of a docker-py client that creates containers: it records what it was asked."""

    def __init__(self) -> None:
        self.created: list[dict] = []

    def create(self, **kwargs):
        self.created.append(kwargs)
        return SimpleNamespace(name=kwargs["name"])


def _client() -> SimpleNamespace:
    image = SimpleNamespace(id="sha256:" + "0" * 64)
    return SimpleNamespace(
        ping=lambda: True,
        images=SimpleNamespace(get=lambda tag: image),
        info=lambda: {},
        containers=_Containers(),
    )


def _sandbox(gpus: int, devices: tuple[str, ...], workers: int, warm: bool = False):
    settings = DockerSandboxSettings(
        limits=Limits(gpus=gpus), gpu_devices=devices, warm=warm, disk_floor_mb=0
    )
    return DockerSandbox(settings, client=_client(), workers=workers)


def _job(tmp_path: Path, gpus: int, key: str = "g") -> Job:
    return Job(
        key=key,
        command=["python3", "-c", "pass"],
        out_dir=tmp_path / key,
        limits=Limits(gpus=gpus),
        labels={"hypoforge.task": "t", GPU_LABEL: "7"},  # a job's own GPU label never counts
    )


def _device_ids(kwargs: dict) -> list[str]:
    (request,) = kwargs["device_requests"]
    assert request["Capabilities"] == [["gpu"]]
    return request["DeviceIDs"]


def test_the_hosts_gpus_are_what_nvidia_smi_lists(monkeypatch):
    monkeypatch.setattr(capacity.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    calls = []

    def smi(args, **kw):
        calls.append(args)
        return subprocess.CompletedProcess(args, 0, stdout=SMI, stderr="")

    monkeypatch.setattr(capacity.subprocess, "run", smi)
    assert capacity.host_gpus() == ("0", "1", "2")  # MIG lines are not GPUs of their own
    assert capacity.host_gpus() == ("0", "1", "2") and len(calls) == 1  # asked once

    capacity.host_gpus.cache_clear()

    def broken(args, **kw):
        raise subprocess.CalledProcessError(9, args)  # a driver that does not answer

    monkeypatch.setattr(capacity.subprocess, "run", broken)
    assert capacity.host_gpus() == ()
    capacity.host_gpus.cache_clear()
    _no_gpu(monkeypatch)
    assert capacity.host_gpus() == ()
    # gpu_devices, when set, are the sandbox's GPUs whatever the host has.
    assert capacity.gpu_ids(DockerSandboxSettings(gpu_devices=("4", "5"))) == ("4", "5")


def test_each_slot_gets_its_own_gpus_and_too_few_is_one_line():
    ids = ("0", "1", "2", "3", "4")
    assert capacity.gpu_groups(ids, 2, 2) == [("0", "1"), ("2", "3")]
    assert capacity.gpu_groups(ids, 1, 5) == [(i,) for i in ids]
    assert capacity.gpu_groups(ids, 0, 4) == []  # jobs take no GPU: no slots
    with pytest.raises(SandboxUnavailable, match=r"3 workers .* need 6 GPUs .* has 5 .*workers 2"):
        capacity.gpu_groups(ids, 2, 3)
    with pytest.raises(SandboxUnavailable, match="no GPU was found") as no_gpu:
        capacity.gpu_groups((), 1, 1)
    with pytest.raises(SandboxUnavailable, match=r"ask for 8 GPUs .* but this sandbox has 5"):
        capacity.gpu_groups(ids, 8, 1)
    assert "\n" not in str(no_gpu.value)


def test_concurrent_jobs_get_disjoint_gpus_and_a_third_waits(tmp_path):
    sb = _sandbox(2, ("0", "1", "2", "3"), workers=2)
    sb.preflight()
    jobs = [_job(tmp_path, 2, f"j{i}") for i in range(3)]
    with sb._gpu_lease(jobs[0]) as a, sb._gpu_lease(jobs[1]) as b:
        sb._create(a)
        sb._create(b)
        first, second = (_device_ids(k) for k in sb.client.containers.created)
        assert (first, second) == (["0", "1"], ["2", "3"])  # slot i: ids [2i, 2i+2)
        assert [k["labels"][GPU_LABEL] for k in sb.client.containers.created] == ["0,1", "2,3"]
        got: list[Job] = []
        entered = threading.Event()

        def third() -> None:
            with sb._gpu_lease(jobs[2]) as c:
                got.append(c)
                entered.set()

        waiting = threading.Thread(target=third)
        waiting.start()
        slots = sb._gpu_slots()
        deadline = time.monotonic() + 30
        while slots is not None and slots.waiting == 0:  # until the third job is queued
            assert time.monotonic() < deadline, "the third job never asked for a slot"
            time.sleep(0.005)
        assert slots is not None and not entered.is_set()  # both slots busy: it waits, never shares
    assert entered.wait(5)
    waiting.join(5)
    assert got[0].labels[GPU_LABEL] == "0,1"  # the lowest free slot
    # A job taking fewer GPUs than a slot holds gets the first of its slot's.
    with sb._gpu_lease(_job(tmp_path, 1, "one")) as one:
        sb._create(one)
    assert _device_ids(sb.client.containers.created[-1]) == ["0"]


def test_warm_containers_are_started_with_each_slots_gpus(tmp_path):
    sb = _sandbox(1, ("5", "6", "7"), workers=3, warm=True)
    wanted: list[WarmSpec] = []
    sb._pool.want = wanted.append
    sb._pool.wait_ready = lambda timeout, spec=None: True
    assert sb.prewarm(_job(tmp_path, 1))
    assert [dict(s.labels)[GPU_LABEL] for s in wanted] == ["5", "6", "7"]
    assert len(set(wanted)) == 3  # three specs: a GPU job runs warm only with its slot's GPUs
    for spec in wanted:  # what _spawn creates for each
        slot = Slot(spec, "n", tmp_path / "slot")
        command, labels, _ = slot.plan("owner", 60.0, ())
        kwargs = sb._container_kwargs(command, "n", spec.limits, dict(spec.env), labels, [])
        assert _device_ids(kwargs) == [dict(spec.labels)[GPU_LABEL]]
    # The job that leases slot 0 looks for the spec of slot 0's container.
    with sb._gpu_lease(_job(tmp_path, 1)) as leased:
        assert sb._spec(leased) == wanted[0]


def test_preflight_refuses_gpus_that_are_not_there(monkeypatch, tmp_path):
    _no_gpu(monkeypatch)
    sb = _sandbox(1, (), workers=1)
    with pytest.raises(SandboxUnavailable, match="no GPU was found") as exc:
        sb.preflight()
    assert "\n" not in str(exc.value)
    # run() says so as infra_error, at once (no container, no wait).
    result = sb.run(_job(tmp_path, 1))
    assert result.outcome is Outcome.INFRA_ERROR and "no GPU was found" in result.reason
    assert sb.client.containers.created == []
    with pytest.raises(SandboxUnavailable, match="2 workers with 1 GPU"):
        _sandbox(1, ("0",), workers=2).preflight()
    # A sandbox without workers (one built by code for itself) keeps Docker's first GPUs.
    bare = _sandbox(1, (), workers=0)
    bare.preflight()
    with bare._gpu_lease(_job(tmp_path, 1)) as job:
        bare._create(job)
    (request,) = bare.client.containers.created[0]["device_requests"]
    assert (request["Count"], request["DeviceIDs"]) == (1, [])
    assert GPU_LABEL not in bare.client.containers.created[0]["labels"]
    # Jobs without GPUs need none, whatever the machine has.
    _sandbox(0, (), workers=4).preflight()


def test_a_job_asking_more_than_a_slot_holds_is_infra_error(tmp_path):
    sb = _sandbox(1, ("0", "1"), workers=2)
    result = sb.run(_job(tmp_path, 2))
    assert result.outcome is Outcome.INFRA_ERROR
    assert "asks for 2 GPUs but each worker slot holds 1" in result.reason
    assert sb.client.containers.created == []


def test_workers_are_capped_by_the_gpus(monkeypatch, tmp_path):
    from sandbox.factory import workers

    def settings(gpus: int, devices: tuple[str, ...], n: int | None, executor: str = "docker"):
        box = DockerSandboxSettings(limits=Limits(gpus=gpus), gpu_devices=devices, workers=n)
        kind = RayExecutor() if executor == "ray" else DockerExecutor()
        return Settings(home=tmp_path, sandbox=box, executor=kind)

    monkeypatch.setattr(capacity, "cores", lambda: 64)
    monkeypatch.setattr(capacity, "available_mb", lambda: 10**6)
    assert workers(settings(1, ("0", "1", "2"), 8)) == 3  # --workers 8 on 3 GPUs
    assert workers(settings(2, ("0", "1", "2"), None)) == 1  # by the GPUs, not the cores
    assert workers(settings(1, ("0", "1"), 1)) == 1
    assert workers(settings(0, (), None)) == 64 // 1  # no GPU asked: the cores decide
    _no_gpu(monkeypatch)
    assert workers(settings(1, (), None)) == 1  # none found: one, and preflight says why
    assert workers(settings(1, (), 4, "ray")) == 4  # on Ray the cluster's GPUs decide
    assert capacity.default_workers(Limits(gpus=1), cpus=8, memory_mb=10**6, gpus=4) == 4
    assert capacity.default_workers(Limits(gpus=1), cpus=2, memory_mb=10**6, gpus=4) == 2
    assert "2 GPUs" in capacity.describe(Limits(gpus=1), 2, gpus=2)
    assert "GPU" not in capacity.describe(Limits(), 2)
