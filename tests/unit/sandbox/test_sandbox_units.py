"""Sandbox pieces that need no engine: artifact reading, the reaper's liveness test, job records,
and how a finished container is classified."""

import os
import subprocess

import numpy as np
import pytest
from docker.errors import APIError, NotFound
from pydantic import ValidationError

from core.records import Outcome
from core.settings import Limits
from sandbox import reaper
from sandbox.artifacts import ArtifactError, read_bytes, read_npy
from sandbox.base import Job, Mount
from sandbox.docker_sandbox import DockerSandbox, output_usage


def test_artifact_reads_refuse_links_fifos_and_escapes(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(3.0))
    assert read_npy(tmp_path, "a.npy", 1000).tolist() == [0.0, 1.0, 2.0]
    os.symlink("/etc/hostname", tmp_path / "link")
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(ArtifactError, match="cannot open"):
        read_bytes(tmp_path, "link", 1000)
    with pytest.raises(ArtifactError, match="not a regular file"):
        read_bytes(tmp_path, "fifo", 1000)
    with pytest.raises(ArtifactError, match="bad artifact name"):
        read_bytes(tmp_path, "../etc/passwd", 1000)
    with pytest.raises(ArtifactError, match="over the 10-byte cap"):
        read_bytes(tmp_path, "a.npy", 10)


def test_owner_liveness():
    assert reaper.owner_alive(reaper.owner_id())
    proc = subprocess.Popen(["true"])
    proc.wait()
    host = reaper.owner_id().split("/")[0]
    assert not reaper.owner_alive(f"{host}/{proc.pid}/1")
    assert not reaper.owner_alive("garbage")
    assert reaper.owner_alive("some-other-host/1/1")


class _Engine:
    """The part of a docker-py client the reaper uses: a sparse list, and a removal that may
    find the container gone (404) or already being removed (409), as with a second reaper."""

    def __init__(self, containers: list[dict], errors: dict[str, int]):
        self.containers, self.errors, self.removed, self.sparse = containers, errors, [], []

    def list(self, all=False, sparse=False, filters=None):
        self.sparse.append(sparse)
        return [type("C", (), {"id": c["Id"], "attrs": c})() for c in self.containers]

    def remove_container(self, cid, force=False):
        import requests

        code = self.errors.get(cid)
        if code is not None:
            response = requests.Response()
            response.status_code = code
            raise (NotFound if code == 404 else APIError)("gone", response=response)
        self.removed.append(cid)


def test_the_reaper_lists_sparsely_and_tolerates_a_second_reaper():
    host = reaper.owner_id().split("/")[0]
    proc = subprocess.Popen(["true"])
    proc.wait()
    dead, me = f"{host}/{proc.pid}/1", reaper.owner_id()

    def box(cid, owner, name=True):
        labels = {reaper.MANAGED_LABEL: "1", reaper.OWNER_LABEL: owner}
        return {
            "Id": cid,
            "State": "exited",
            "Labels": labels,
            **({"Names": [f"/n-{cid}"]} if name else {}),
        }

    found = [box("a", dead), box("b", dead), box("c", dead), box("d", me), box("e", dead, False)]
    engine = _Engine(found, {"b": 404, "c": 409})
    client = type("Client", (), {"containers": engine, "api": engine})()
    assert reaper.reap(client) == ["n-a", "e"]  # b and c: another reaper was first
    assert engine.sparse == [True]  # no inspect per container
    assert reaper.reap(client, mine=True) == ["n-a", "n-d", "e"]
    engine.errors["a"] = 500
    with pytest.raises(APIError, match="500"):  # an engine error that is not a race is raised
        reaper.reap(client)
    assert [c.name for c in reaper.listed(client)] == ["n-a", "n-b", "n-c", "n-d", "e"]


def test_job_rejects_unlisted_env_and_bad_mounts(tmp_path):
    with pytest.raises(ValidationError, match="not in the allowlist"):
        Job(key="k", command=["true"], out_dir=tmp_path, env={"OPENAI_API_KEY": "x"})
    with pytest.raises(ValidationError, match="must lie under /hf/"):
        Mount(source=tmp_path, target="/etc")
    with pytest.raises(ValidationError, match="outside /hf/out"):
        Mount(source=tmp_path, target="/hf/out/x")
    with pytest.raises(ValidationError, match="lower-case"):
        Job(key="Bad Key", command=["true"], out_dir=tmp_path)


def test_output_usage_counts_without_following_links(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * 100)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "b").write_bytes(b"x" * 50)
    os.symlink("/usr", tmp_path / "l")
    used, count = output_usage(tmp_path, 100)
    assert count == 4
    blocks = sum(
        max(st.st_size, st.st_blocks * 512)
        for st in (os.lstat(p) for p in (tmp_path / "a", tmp_path / "d", tmp_path / "d" / "b"))
    )
    assert blocks <= used <= blocks + os.lstat(tmp_path / "l").st_size  # /usr itself not counted


def test_output_usage_counts_space_reserved_without_size(tmp_path):
    """fallocate(FALLOC_FL_KEEP_SIZE) takes disk and leaves st_size 0: blocks are counted."""
    import ctypes

    fd = os.open(tmp_path / "hole", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        rc = libc.fallocate(fd, 1, ctypes.c_long(0), ctypes.c_long(8 * 2**20))
    finally:
        os.close(fd)
    if rc != 0:
        pytest.skip(f"this file system cannot reserve space (errno {ctypes.get_errno()})")
    assert os.stat(tmp_path / "hole").st_size == 0
    used, _ = output_usage(tmp_path, 10)
    assert used >= 8 * 2**20


@pytest.mark.parametrize(
    ("kw", "outcome"),
    [
        (dict(exit_code=0, oom_killed=False, timed_out=False, quota=None), Outcome.OK),
        (dict(exit_code=1, oom_killed=False, timed_out=False, quota=None), Outcome.HYP_ERROR),
        (dict(exit_code=137, oom_killed=True, timed_out=False, quota=None), Outcome.OOM),
        (dict(exit_code=137, oom_killed=False, timed_out=False, quota=None), Outcome.OOM),
        (dict(exit_code=137, oom_killed=False, timed_out=True, quota=None), Outcome.TIMEOUT),
        (
            dict(exit_code=137, oom_killed=False, timed_out=True, quota="output exceeded 64 MiB"),
            Outcome.DISK_QUOTA,
        ),
        (
            dict(exit_code=1, oom_killed=False, timed_out=False, quota="output exceeded 64 MiB"),
            Outcome.DISK_QUOTA,
        ),
    ],
)
def test_classification(tmp_path, kw, outcome):
    r = DockerSandbox._classify(lim=Limits(), common={"out_dir": tmp_path}, **kw)
    assert r.outcome is outcome


def test_container_names_are_per_attempt_folder(tmp_path):
    """Two homes (or campaigns) running the same job key at once get different containers, so
    the stale-name replacement can only ever remove a leftover of the same attempt."""
    from sandbox.base import Job
    from sandbox.docker_sandbox import container_name

    one = Job(key="a1b2-one-pass-0", command=["true"], out_dir=tmp_path / "home1" / "out")
    two = Job(key="a1b2-one-pass-0", command=["true"], out_dir=tmp_path / "home2" / "out")
    again = Job(key="a1b2-one-pass-0", command=["true"], out_dir=tmp_path / "home1" / "out")
    assert container_name(one) != container_name(two)
    assert container_name(one) == container_name(again)
    assert container_name(one).startswith("hf-a1b2-one-pass-0-")


def test_gpus_are_asked_of_docker_only_when_a_job_wants_them():
    from core.settings import DockerSandboxSettings

    sb = DockerSandbox(DockerSandboxSettings(), client=object())
    (request,) = sb._container_kwargs(["true"], "n", Limits(gpus=2), {}, {}, [])["device_requests"]
    assert (request["Count"], request["Capabilities"]) == (2, [["gpu"]])
    assert sb._container_kwargs(["true"], "n", Limits(), {}, {}, [])["device_requests"] is None
    # A Ray actor's sandbox uses the GPUs Ray assigned to it, not Docker's first ones.
    mine = DockerSandbox(DockerSandboxSettings(gpu_devices=("3", "5")), client=object())
    (request,) = mine._container_kwargs(["true"], "n", Limits(gpus=1), {}, {}, [])[
        "device_requests"
    ]
    assert (request["DeviceIDs"], request["Count"]) == (["3"], 0)


def test_ray_slots_follow_the_clusters_cpus_and_gpus():
    from sandbox.ray_sandbox import default_workers

    assert default_workers(Limits(cpus=1), {"CPU": 6.0}) == 6
    assert default_workers(Limits(cpus=2), {"CPU": 5.0}) == 2
    assert default_workers(Limits(cpus=1, gpus=1), {"CPU": 8.0, "GPU": 2.0}) == 2
    assert default_workers(Limits(cpus=1, gpus=1), {"CPU": 8.0}) == 1  # never below one


def test_default_workers_follow_cores_and_memory():
    from sandbox.capacity import HOST_MB, WARM_MB, default_workers

    per = 2048 + WARM_MB
    assert default_workers(Limits(cpus=1), cpus=32, memory_mb=HOST_MB + 4 * per) == 4
    assert default_workers(Limits(cpus=2), cpus=8, memory_mb=10**6) == 4
    assert default_workers(Limits(cpus=1), cpus=2, memory_mb=100) == 1


class _FakeRay:
    """``ray.init`` failing as Ray Client does when the head's session server dies at its start
    (``failures`` times), or with another error."""

    def __init__(self, failures: int, message: str):
        self.failures, self.message, self.inits, self.shutdowns = failures, message, 0, 0

    def is_initialized(self) -> bool:
        return False

    def init(self, **kwargs):
        self.inits += 1
        if self.inits <= self.failures:
            raise ConnectionAbortedError(self.message)

    def shutdown(self) -> None:
        self.shutdowns += 1


@pytest.mark.parametrize(
    ("failures", "message", "inits", "ok"),
    [
        (2, "Initialization failure from server: Starting Ray client server failed", 3, True),
        (5, "Initialization failure from server: Starting Ray client server failed", 5, False),
        (1, "connection refused", 1, False),  # the head unreachable: at once
    ],
)
def test_a_ray_client_session_whose_server_died_is_tried_again(
    monkeypatch, failures, message, inits, ok
):
    from core.errors import SandboxUnavailable
    from core.settings import DockerSandboxSettings
    from sandbox import ray_sandbox

    fake = _FakeRay(failures, message)
    monkeypatch.setattr(ray_sandbox, "_ray", lambda: fake)
    sandbox = ray_sandbox.RaySandbox(DockerSandboxSettings(), "ray://127.0.0.1:1", workers=1)
    if ok:
        assert sandbox._connect() is fake
    else:
        with pytest.raises(SandboxUnavailable, match="not reachable: .*" + message):
            sandbox._connect()
    assert fake.inits == inits
