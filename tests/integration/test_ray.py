"""A real Ray cluster on this machine (a head and a second node, ``ray.cluster_utils.Cluster``) with
the real Docker sandbox on its nodes: a campaign's jobs land on both nodes; a Ray worker killed
mid-job is restarted and its job run again, its container reaped; a killed driver resumes with
nothing lost and no container left on any node; a cluster that goes away pauses the campaign,
which resumes on a cluster that is back. A node without the image loads it from the driver's
archive (a tiny image here), and a corrupt archive is one line of error. A driver on a Ray Client
address (``ray://HOST:PORT``) runs its jobs as one on the cluster does."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from core.errors import SandboxUnavailable
from core.records import Outcome
from core.settings import CampaignSettings
from evaluators.activation.harness import ActivationEvaluator
from evaluators.kit import datasets
from hypoforge import campaign
from sandbox import reaper
from sandbox.base import Job
from store.ledger import Ledger

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

from sandbox.ray_sandbox import RaySandbox, load_image, node_image, save_image  # noqa: E402

CHILD = Path(__file__).with_name("campaign_child.py")
ROOT = Path(__file__).resolve().parents[2]
SPLITS = [datasets.split("iris", 0), datasets.split("moons", 0)]
NODE = {"num_cpus": 1, "object_store_memory": 128 * 2**20}


def start_cluster() -> Cluster:
    cluster = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
    cluster.add_node(**NODE)
    cluster.wait_for_nodes()
    return cluster


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    c = start_cluster()
    yield c
    if ray.is_initialized():
        ray.shutdown()
    c.shutdown()


def _managed(client) -> list[reaper.Listed]:
    return reaper.listed(client, label=f"{reaper.MANAGED_LABEL}=1")


def _orphans(client) -> list[str]:
    return [
        c.name
        for c in _managed(client)
        if not reaper.owner_alive(c.labels.get(reaper.OWNER_LABEL, ""))
    ]


def test_a_campaign_runs_its_jobs_on_both_nodes(cluster, docker_sandbox, settings, tmp_path):
    sandbox = RaySandbox(settings.sandbox, cluster.address, workers=2)
    sandbox.preflight()
    sandbox.reap_orphans()
    ev = ActivationEvaluator(
        sandbox, settings.home, settings.sandbox.limits, splits=SPLITS, wall_seconds=60
    )
    folder = tmp_path / "camp"
    info = campaign.create(
        folder, "activation", CampaignSettings(proposals=4, batch=4, full_top_k=0)
    )
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    replies = [
        f"IDEA: gate {k}\n```python\nimport torch\n\ndef activation(x):\n"
        f"    return x * torch.sigmoid({k}.5 * x)\n```"
        for k in range(4)
    ]
    run = '{"decision": "run", "reasons": "ok", "p_win": 0.5}'
    models = {
        "proposer": FakeListChatModel(responses=replies),
        "critic": FakeListChatModel(responses=[run]),
        "coder": FakeListChatModel(responses=replies[:1]),
        "analyst": FakeListChatModel(responses=["Summary."]),
    }
    try:
        campaign.run(folder, campaign.Services(ev, models, retries=0, workers=2))
        nodes = {node for _, node in sandbox.placements}
        assert len(nodes) == 2, sandbox.placements  # jobs seen on both nodes
        assert sandbox.image_ref() == docker_sandbox.image_ref()
    finally:
        sandbox.close()
    rows = Ledger(folder / "ledger.sqlite").hypotheses(info.id)
    assert [r.stage for r in rows] == ["screened"] * 4
    assert all(r.screen_win_rate is not None for r in rows)
    assert _orphans(docker_sandbox.client) == []


def _sleeper(tmp_path: Path, seconds: float) -> Job:
    """A job that runs ``seconds`` and writes one file (trusted test code, no hypothesis)."""
    code = f"import time; time.sleep({seconds}); open('/hf/out/done.txt', 'w').write('ok')"
    return Job(key="sleeper", command=["python3", "-c", code], out_dir=tmp_path / "out")


def test_a_killed_ray_worker_is_restarted_and_its_container_reaped(
    cluster, docker_sandbox, settings, tmp_path
):
    sandbox = RaySandbox(settings.sandbox, cluster.address, workers=1)
    sandbox.preflight()
    warm_up = sandbox.run(_sleeper(tmp_path / "first", 0))  # the actor exists from here on
    assert warm_up.outcome is Outcome.OK, warm_up.reason
    (actor,) = sandbox._actors
    owner = ray.get(actor.owner.remote())  # the label of the actor's containers
    got: list = []
    worker = threading.Thread(target=lambda: got.append(sandbox.run(_sleeper(tmp_path, 8))))
    worker.start()
    deadline = time.monotonic() + 120
    running: list[str] = []
    while not running and time.monotonic() < deadline:  # the actor's job container, running
        time.sleep(1.0)
        running = [
            c.name
            for c in _managed(docker_sandbox.client)
            if c.state == "running" and c.labels.get(reaper.OWNER_LABEL) == owner
        ]
    assert running, "the job never started"
    dead = [
        c.name for c in _managed(docker_sandbox.client) if c.labels.get(reaper.OWNER_LABEL) == owner
    ]
    os.kill(int(owner.split("/")[1]), signal.SIGKILL)  # the Ray worker process of the actor
    worker.join(timeout=300)
    try:
        (result,) = got
        assert result.outcome is Outcome.OK, result.reason  # restarted and run again
        assert (tmp_path / "out" / "done.txt").read_text() == "ok"
        names = {c.name for c in _managed(docker_sandbox.client)}
        assert dead and not names & set(dead)  # the restarted actor reaped them
    finally:
        sandbox.close()
    assert _orphans(docker_sandbox.client) == []


def _child(folder: Path, home: Path, address: str) -> list[str]:
    return [sys.executable, str(CHILD), str(folder), str(home), "2", address]


def test_a_killed_driver_resumes_with_nothing_lost(cluster, docker_sandbox, settings, tmp_path):
    folder = tmp_path / "crash"
    info = campaign.create(
        folder, "activation", CampaignSettings(proposals=6, batch=3, full_top_k=0)
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ledger = Ledger(folder / "ledger.sqlite")
    child = subprocess.Popen(_child(folder, settings.home, cluster.address), env=env)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and child.poll() is None and not ledger.results(info.id):
        time.sleep(0.1)
    assert child.poll() is None, "the campaign ended before it was killed"
    time.sleep(1.0)  # the next jobs are in flight on the nodes
    before = {k for k, _, _ in ledger.results(info.id)}
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert before <= {k for k, _, _ in ledger.results(info.id)}
    final = subprocess.run(_child(folder, settings.home, cluster.address), env=env, timeout=600)
    assert final.returncode == 0
    rows = ledger.hypotheses(info.id)
    assert len(rows) == 6 and all(r.stage == "screened" for r in rows), [r.stage for r in rows]
    assert before <= {k for k, _, _ in ledger.results(info.id)}
    assert _orphans(docker_sandbox.client) == []  # none left on any node (one engine here)


def test_a_cluster_that_goes_away_pauses_and_the_campaign_resumes(
    docker_sandbox, settings, tmp_path
):
    folder = tmp_path / "gone"
    info = campaign.create(
        folder, "activation", CampaignSettings(proposals=6, batch=3, full_top_k=0)
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ledger = Ledger(folder / "ledger.sqlite")
    first = start_cluster()
    try:
        child = subprocess.Popen(
            _child(folder, settings.home, first.address), env=env, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and child.poll() is None:
            if ledger.results(info.id):
                break
            time.sleep(0.1)
        assert child.poll() is None, "the campaign ended before the cluster went away"
    finally:
        first.shutdown()  # the whole cluster goes away mid-run
    _, err = child.communicate(timeout=300)
    assert child.returncode == 3, err.decode()[-2000:]
    assert "campaign paused" in err.decode() and "Ray" in err.decode()
    done = {k for k, _, _ in ledger.results(info.id)}
    assert done  # what finished before is kept
    second = start_cluster()  # the cluster is back
    try:
        final = subprocess.run(_child(folder, settings.home, second.address), env=env, timeout=600)
    finally:
        second.shutdown()
    assert final.returncode == 0
    rows = ledger.hypotheses(info.id)
    assert len(rows) == 6 and all(r.stage == "screened" for r in rows), [r.stage for r in rows]
    assert done <= {k for k, _, _ in ledger.results(info.id)}
    assert _orphans(docker_sandbox.client) == []


def test_doctor_checks_docker_and_the_image_on_every_node(cluster, docker_sandbox, tmp_path):
    from typer.testing import CliRunner

    from hypoforge import cli

    args = ["doctor", "--executor", "ray", "--ray-address", cluster.address]
    args += ["--llm", "http://127.0.0.1:9/v1"]  # no LLM here: that row fails, the rest counts
    result = CliRunner().invoke(cli.app, args, env={"COLUMNS": "300"})
    (row,) = [x for x in result.stdout.splitlines() if "on every node" in x]
    assert "ok" in row and docker_sandbox.image_ref() in row
    (slots,) = [x for x in result.stdout.splitlines() if "sandbox workers" in x]
    assert "2 (the Ray cluster's slots for 1 CPU, 0 GPU a job)" in slots
    assert result.exit_code == 3  # the dead LLM endpoint


@pytest.fixture
def tiny_image(docker_sandbox):
    """A one-file image under a content tag (the hash of its one layer, as the sandbox image's
    tag hashes its recipe): (tag, image id, its ``docker save`` archive). Removed at the end."""
    client = docker_sandbox.client
    data = b"hypoforge image-load test\n"
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    tag = f"hypoforge-loadtest:{hashlib.sha256(layer.getvalue()).hexdigest()[:16]}"
    ids: set[str] = set()
    try:
        repository, version = tag.split(":")
        client.api.import_image_from_data(layer.getvalue(), repository=repository, tag=version)
        image_id = client.images.get(tag).id
        ids.add(image_id)
        yield tag, image_id, save_image(client, tag)
    finally:
        for ref in [*ids, tag]:
            with contextlib.suppress(docker.errors.ImageNotFound):
                client.images.remove(ref, force=True)


def test_a_node_without_the_image_loads_it_from_the_archive(docker_sandbox, tiny_image):
    """The node's own step (``node_image``, what ``_check_node`` runs there) on an engine that
    lacks the image: missing without an archive, loaded from it with the driver's image id."""
    client = docker_sandbox.client
    tag, image_id, archive = tiny_image
    settings = docker_sandbox.settings.model_copy(update={"image": tag})
    assert node_image(settings, None) == image_id  # present: nothing to load
    client.images.remove(tag, force=True)
    assert node_image(settings, None) is None  # missing, and no archive to load
    assert node_image(settings, archive) == image_id  # loaded: the same image
    assert client.images.get(tag).id == image_id
    client.images.remove(tag, force=True)
    for bad in (b"not an image archive", archive[: len(archive) // 2]):  # corrupt, cut short
        with pytest.raises(SandboxUnavailable, match="did not load") as exc:
            load_image(client, tag, bad)
        assert "\n" not in str(exc.value)
    with pytest.raises(SandboxUnavailable, match="holds no image tagged hypoforge-loadtest:x"):
        load_image(client, "hypoforge-loadtest:x", archive)  # an archive of another image


def test_ray_nodes_get_the_image_through_the_object_store(cluster, docker_sandbox, tiny_image):
    """``preflight`` end to end: both nodes lack the image and load the driver's ``docker save``
    archive from Ray's object store. One engine serves the driver and both nodes here, so the
    image is there only while the driver saves it (``_archive``), and gone when nodes look."""
    client = docker_sandbox.client
    tag, image_id, archive = tiny_image
    settings = docker_sandbox.settings.model_copy(update={"image": tag})
    sandbox = RaySandbox(settings, cluster.address, workers=1)
    saved = sandbox._archive

    def driver_archive():
        client.images.load(archive)
        try:
            return saved()  # the driver's own save (named by the tag) and put
        finally:
            client.images.remove(tag, force=True)

    client.images.remove(tag, force=True)
    sandbox._archive = driver_archive
    try:
        sandbox.preflight()
        assert sandbox.image_ref() == f"{tag}@{image_id}"
        assert client.images.get(tag).id == image_id
        client.images.remove(tag, force=True)
        sandbox._archive = lambda: ray.put(b"not an image archive")
        with pytest.raises(SandboxUnavailable, match="did not load") as exc:
            sandbox.preflight()
        assert "\n" not in str(exc.value) and "Traceback" not in str(exc.value)
    finally:
        sandbox.close()


def test_a_driver_runs_its_jobs_through_ray_client(docker_sandbox, settings, tmp_path):
    """``--ray-address ray://HOST:PORT``: the head started with a Ray Client server, the driver
    connected through it (not to the GCS), one job run on the node's Docker sandbox."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    head = {**NODE, "include_dashboard": False, "ray_client_server_port": port}
    cluster = Cluster(initialize_head=True, head_node_args=head)
    try:
        cluster.wait_for_nodes()
        sandbox = RaySandbox(settings.sandbox, f"ray://127.0.0.1:{port}", workers=1)
        try:
            sandbox.preflight()
            assert ray.util.client.ray.is_connected()  # a client session, not a local driver
            result = sandbox.run(_sleeper(tmp_path, 2))  # waited on past the 1 s poll
            assert result.outcome is Outcome.OK, result.reason
            assert (tmp_path / "out" / "done.txt").read_text() == "ok"
            assert sandbox.image_ref() == docker_sandbox.image_ref()
        finally:
            sandbox.close()
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()
    assert _orphans(docker_sandbox.client) == []
