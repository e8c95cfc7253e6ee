"""The sandbox on a Ray cluster: each job runs in the same hardened ``DockerSandbox``, on the
node where Ray places it.

Design:
- A job is a task of a ``NodeWorker`` actor, an actor per worker slot, with the job's resources
  (``limits.cpus`` CPUs, ``limits.memory_mb`` memory, ``limits.gpus`` GPUs; spread over the
  nodes by Ray's SPREAD strategy). Each actor holds a ``DockerSandbox`` on its node, so the
  node's next container is warm like on one machine. Ray places, restarts and retries them
  (``max_restarts``, ``max_task_retries``): a worker killed mid-task is restarted and its job
  run again, and the new actor reaps the dead one's container on that node. There is no
  scheduler here, only a queue of idle actors for the campaign's worker threads.
- Files travel with the task (``sandbox.transfer``): the job's inputs as bytes, the output back
  as the regular files the host reads anyway, unpacked into the job's output folder on the
  driver. The driver alone writes the ledger, so exactly-once holds as on one machine.
- The image: every node must hold the sandbox image by its content tag. ``preflight`` checks
  each node; a node without it loads it from a ``docker save`` archive of the driver's image,
  passed through Ray's object store (or build it there offline: ``hypoforge sandbox build``).
  Every node must end with the same image id: that id is part of the baselines' cache key.
- A cluster that goes away (the head unreachable for ``GONE_SECONDS``) or a job Ray gives up
  on is ``infra_error``: the campaign pauses and ``hypoforge resume`` continues it. At start,
  ``reap_orphans`` runs the reaper on every node, so containers of a killed driver's actors are
  removed wherever they ran.
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from core.errors import SandboxUnavailable
from core.records import Outcome
from core.settings import DockerSandboxSettings, Limits
from sandbox import removal, transfer, warm_files
from sandbox.base import Job, RunResult, Sandbox
from sandbox.build import default_tag

MiB = 1024 * 1024
GONE_SECONDS = 15.0  # the head unreachable this long: the cluster went away
POLL_SECONDS = 1.0
INLINE_BYTES = 64 * MiB  # what a job's inputs may take inline with its task (see _connect)
RETRIES = 3  # restarts of a dead actor and retries of its task
CLIENT_STARTS = 5  # tries of a Ray Client connection whose server died at its start
LOAD_SECONDS = 600  # a node's engine loading the image archive (about 1 GB) answers within this


def _ray() -> Any:
    import ray  # imported lazily: light commands and local campaigns never load it

    return ray


class NodeWorker:
    """One worker slot on some node (a Ray actor): a ``DockerSandbox`` there, one job at once."""

    def __init__(self, settings_json: str) -> None:
        from sandbox.docker_sandbox import DockerSandbox

        settings = DockerSandboxSettings.model_validate_json(settings_json)
        # The GPUs Ray assigned to this actor, and only those, go to its containers: its one
        # worker slot holds them all (and none of the node's others, which are Ray's to give).
        gpus = tuple(str(i) for i in _ray().get_gpu_ids())
        limits = settings.limits.model_copy(update={"gpus": len(gpus)})
        settings = settings.model_copy(update={"gpu_devices": gpus, "limits": limits})
        self.sandbox = DockerSandbox(settings, workers=1)  # this slot's next container warm
        self.sandbox.preflight()
        self.sandbox.reap_orphans()  # a dead predecessor's container on this node, say

    def node(self) -> str:
        return str(_ray().get_runtime_context().get_node_id())

    def owner(self) -> str:
        """The owner label of this actor's containers (its process)."""
        from sandbox import reaper

        return reaper.owner_id()

    def run(self, job_json: str, inputs: transfer.Inputs) -> tuple[str, dict[str, bytes], str]:
        job = Job.model_validate_json(job_json)
        # Named and marked as a warm root is, where this node's reaper looks: a folder whose
        # removal fails (logged, never raised) is removed once this actor's process is gone.
        owner = self.owner()
        base = self.sandbox.settings.warm_dir or Path(tempfile.gettempdir())
        base.mkdir(parents=True, exist_ok=True)
        root = Path(tempfile.mkdtemp(prefix=warm_files.root_name(owner), dir=base))
        try:
            (root / warm_files.OWNER_NAME).write_text(owner)
            local = transfer.place_inputs(job, inputs, root)
            result = self.sandbox.run(local)
            files = transfer.pack_output(
                local.out_dir, job.limits.output_mb * MiB, job.limits.output_files
            )
        finally:
            removal.remove_tree(root, last=warm_files.OWNER_NAME)
        return result.model_dump_json(), files, self.node()

    def close(self) -> None:
        self.sandbox.close()


def _check_node(settings_json: str, archive: bytes | None) -> tuple[str, str | None]:
    """On one node: (node id, image id), loading the image from ``archive`` when missing. (An
    object-store reference passed as ``archive`` reaches the task as its bytes.)"""
    node = str(_ray().get_runtime_context().get_node_id())
    return node, node_image(DockerSandboxSettings.model_validate_json(settings_json), archive)


def node_image(settings: DockerSandboxSettings, archive: bytes | None) -> str | None:
    """This machine's sandbox image id (Docker answering, disk to spare), loaded from
    ``archive`` when the engine lacks it; None when it lacks it and there is no archive."""
    import docker

    from core.errors import ImageMissing
    from sandbox.docker_sandbox import DockerSandbox

    sandbox = DockerSandbox(settings)
    try:
        sandbox.preflight()
    except ImageMissing:
        if archive is None:
            return None
        load_image(docker.from_env(timeout=LOAD_SECONDS), sandbox.image, archive)
        sandbox = DockerSandbox(settings)
        sandbox.preflight()
    return sandbox.image_ref().rsplit("@", 1)[1]


def save_image(client: Any, tag: str) -> bytes:
    """``docker save`` of image ``tag``, named by that tag (an archive saved by id loads
    untagged, and the node would still lack the tag)."""
    return b"".join(client.images.get(tag).save(named=tag))


def load_image(client: Any, tag: str, archive: bytes) -> str:
    """``docker load`` of ``archive`` (``save_image``'s) into ``client``'s engine: the id of
    ``tag`` there after it. ``SandboxUnavailable``, one line, when the archive does not load
    (corrupt, cut short) or holds no ``tag``."""
    import docker

    try:
        client.images.load(archive)
    except docker.errors.DockerException as exc:  # ImageLoadError, APIError
        raise SandboxUnavailable(
            f"the sandbox image {tag} from the driver's archive did not load: {_line(exc)}"
        ) from None
    try:
        return str(client.images.get(tag).id)
    except docker.errors.ImageNotFound:
        raise SandboxUnavailable(
            f"the driver's image archive loaded but holds no image tagged {tag}"
        ) from None


def _reap_node(settings_json: str) -> list[str]:
    from sandbox.docker_sandbox import DockerSandbox

    return DockerSandbox(DockerSandboxSettings.model_validate_json(settings_json)).reap_orphans()


def default_workers(limits: Limits, resources: dict[str, float]) -> int:
    """Worker slots the cluster holds for ``limits``: its CPUs (and GPUs, when jobs ask)."""
    slots = int(resources.get("CPU", 0) // limits.cpus)
    if limits.gpus:
        slots = min(slots, int(resources.get("GPU", 0) // limits.gpus))
    return max(1, slots)


class RaySandbox(Sandbox):
    """Runs each job on a Ray cluster's node, in that node's hardened Docker sandbox."""

    def __init__(
        self, settings: DockerSandboxSettings, address: str = "auto", workers: int | None = None
    ) -> None:
        self.settings = settings
        self.address = address
        self.image = settings.image or default_tag()
        self._workers = workers
        self._image_id: str | None = None
        self._idle: queue.Queue[Any] = queue.Queue()
        self._actors: list[Any] = []
        self._lock = threading.Lock()
        self.placements: list[tuple[str, str]] = []  # (job key, node id), for tests and views

    # -- the cluster -----------------------------------------------------------------------------
    def _connect(self) -> Any:
        ray = _ray()
        if not ray.is_initialized():
            # Our own check decides when the cluster is gone (``_wait``): the driver must not
            # exit by itself first when the head stops answering.
            os.environ.setdefault("RAY_gcs_rpc_server_reconnect_timeout_s", "3600")
            # A job's inputs go inline with its task, never into the object store: a driver
            # whose argument sat there exited (code 1, inside Ray's object recovery) when the
            # cluster went away, before our check could pause the campaign. Inputs are bounded
            # by the job's files (a few MB at most).
            os.environ.setdefault("RAY_max_direct_call_object_size", str(INLINE_BYTES))
            try:
                for attempt in range(CLIENT_STARTS):
                    try:
                        ray.init(
                            address=self.address,
                            logging_level="ERROR",
                            log_to_driver=False,
                            include_dashboard=False,
                        )
                        break
                    except ConnectionError as exc:
                        # Ray Client: the head's per-session server sometimes dies as it is
                        # forked (ray-project/ray#63202; often here, under load); a new
                        # session gets a new one. An unreachable head is not tried again.
                        started = "Initialization failure from server" in str(exc)
                        if not started or attempt + 1 == CLIENT_STARTS:
                            raise
                        ray.shutdown()
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise SandboxUnavailable(
                    f"Ray cluster at {self.address} not reachable: {_line(exc)}"
                ) from None
        return ray

    def capacity(self) -> int:
        return self.workers

    @property
    def workers(self) -> int:
        """Worker slots: as given, else what the cluster's resources hold for the limits."""
        if self._workers is None:
            resources = self._connect().cluster_resources()
            self._workers = default_workers(self.settings.limits, resources)
        return self._workers

    def _nodes(self) -> list[dict]:
        return [n for n in self._connect().nodes() if n.get("Alive")]

    def _on_each_node(self, fn: Any, *args: Any) -> list[Any]:
        """``fn(*args)`` once on every alive node (node affinity, not soft)."""
        ray = self._connect()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        remote = ray.remote(fn)
        refs = [
            remote.options(
                num_cpus=0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False),
            ).remote(*args)
            for n in self._nodes()
        ]
        return list(ray.get(refs, timeout=600))

    def preflight(self) -> None:
        """Every node answers, has Docker and the image (loaded from the driver's when missing),
        and all hold the same image id."""
        settings_json = self.settings.model_dump_json()
        try:
            found = self._on_each_node(_check_node, settings_json, None)
            if any(image is None for _, image in found):
                found = self._on_each_node(_check_node, settings_json, self._archive())
        except Exception as exc:  # Ray's and Docker's errors on a node, as one line
            cause = _cause(exc)
            if isinstance(cause, SandboxUnavailable) and cause is exc:
                raise  # the driver's own (the cluster not reachable, no image to send)
            raise SandboxUnavailable(f"Ray node check failed: {_line(cause)}") from None
        ids = {image for _, image in found}
        if None in ids or len(ids) != 1:
            detail = ", ".join(f"{node[:8]}: {image}" for node, image in found)
            raise SandboxUnavailable(f"Ray nodes do not all hold one sandbox image ({detail})")
        self._image_id = ids.pop()

    def _archive(self) -> Any:
        """The driver's image as a ``docker save`` archive, in Ray's object store."""
        import docker

        try:
            archive = save_image(docker.from_env(timeout=LOAD_SECONDS), self.image)
        except Exception as exc:  # no engine or no image on the driver
            raise SandboxUnavailable(
                f"a Ray node lacks image {self.image} and the driver has none to send "
                f"({_line(exc)}): build it there with `hypoforge sandbox build`"
            ) from None
        return self._connect().put(archive)

    def image_ref(self) -> str:
        if self._image_id is None:
            self.preflight()
        return f"{self.image}@{self._image_id}"

    def reap_orphans(self) -> list[str]:
        try:
            found = self._on_each_node(_reap_node, self.settings.model_dump_json())
        except Exception as exc:
            raise SandboxUnavailable(f"Ray: reaping orphans failed: {_line(exc)}") from None
        return [name for names in found for name in names]

    # -- jobs --------------------------------------------------------------------------------------
    def _actor(self, limits: Limits) -> Any:
        """An idle worker slot: a new actor while fewer than ``workers`` exist, else the next
        one to come free."""
        with self._lock:
            if self._idle.empty() and len(self._actors) < self.workers:
                ray = self._connect()
                actor = (
                    ray.remote(NodeWorker)
                    .options(
                        num_cpus=limits.cpus,
                        memory=limits.memory_mb * MiB,
                        num_gpus=limits.gpus,
                        max_restarts=RETRIES,
                        max_task_retries=RETRIES,
                        scheduling_strategy="SPREAD",
                    )
                    .remote(self.settings.model_dump_json())
                )
                self._actors.append(actor)
                return actor
        return self._idle.get()

    def run(self, job: Job) -> RunResult:
        try:
            job.out_dir.mkdir(parents=True, exist_ok=True)
            if any(job.out_dir.iterdir()):
                raise SandboxUnavailable(f"output folder is not empty: {job.out_dir}")
            inputs = transfer.pack_inputs(job)
            actor = self._actor(job.limits)
        except Exception as exc:
            return _infra(job, f"Ray: {_line(exc)}")
        try:
            ref = actor.run.remote(job.model_dump_json(), inputs)
            raw, files, node = self._wait(ref)
        except Exception as exc:  # the cluster went away, or Ray gave up on the job
            return _infra(job, f"Ray: {_line(exc)}")
        finally:
            self._idle.put(actor)
        with self._lock:
            self.placements.append((job.key, node))
        result = RunResult.model_validate_json(raw)
        transfer.unpack_output(files, job.out_dir)
        return result.model_copy(update={"out_dir": job.out_dir})

    def _wait(self, ref: Any) -> Any:
        """``ray.get(ref)``, watching the head: unreachable for ``GONE_SECONDS`` is an error."""
        ray = self._connect()
        gone_since: float | None = None
        while True:
            try:
                return ray.get(ref, timeout=POLL_SECONDS)
            except ray.exceptions.GetTimeoutError:
                pass
            if self._head_answers():
                gone_since = None
            elif gone_since is None:
                gone_since = time.monotonic()
            elif time.monotonic() - gone_since > GONE_SECONDS:
                raise SandboxUnavailable(
                    f"the Ray cluster at {self.address} went away (no answer for "
                    f"{GONE_SECONDS:g} s)"
                )

    def _head_answers(self) -> bool:
        try:
            address = str(_ray().get_runtime_context().gcs_address)
        except Exception:  # a Ray Client connection knows no GCS address: Ray's errors decide
            return True
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=2):
                return True
        except OSError:
            return False

    def close(self) -> None:
        """Each actor removes its containers (warm ones too); then the actors go. Best effort
        on a cluster that went away: its nodes' reapers remove what is left at the next start
        (the owners, the actors' processes, are gone by then)."""
        ray = _ray()
        if not ray.is_initialized():
            return
        if self._actors and self._head_answers():
            with contextlib.suppress(Exception):  # Ray's errors from a node that went away
                ray.get([a.close.remote() for a in self._actors], timeout=60)
        for actor in self._actors:
            with contextlib.suppress(Exception):  # already dead
                ray.kill(actor)
        self._actors.clear()
        ray.shutdown()


def _infra(job: Job, reason: str) -> RunResult:
    return RunResult(outcome=Outcome.INFRA_ERROR, reason=reason, out_dir=job.out_dir)


def _cause(exc: BaseException) -> BaseException:
    """The error a Ray task raised on its node, without Ray's wrapping (its traceback)."""
    ray = _ray()
    if isinstance(exc, ray.exceptions.RayTaskError) and exc.cause is not None:
        return exc.cause
    return exc


def _line(exc: BaseException) -> str:
    """The error on one bounded line (Ray's messages carry colour codes and tracebacks)."""
    from core.text import clean

    text = " ".join(clean(str(exc)).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text[:300]}"
