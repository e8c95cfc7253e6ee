"""The real sandbox: one hardened Docker container per job, supervised from the host.

Hardening follows the checklist in the project's sandbox research notes: no network, read-only root,
non-root user, no capabilities, no-new-privileges, memory == memory+swap, CPU quota, pids limit,
sized tmpfs, ulimits (fsize, nofile, core), rotated logs, an init process, an environment allowlist,
deterministic names and labels, no Docker socket. The disk floor is checked here, the wall clock
and the output watchdog run in ``sandbox/watchdog.py``: in the host process, where nothing a job
does can change them.

With ``warm`` on and ``workers`` > 0, a Python job runs in a container started ahead for it
(``sandbox/warm.py``: the same hardened container, one job each); any other job, or one that finds
no container of its spec, runs cold as before.

GPUs: with ``workers`` > 0 and ``limits.gpus = g`` > 0 each worker slot owns ``g`` GPUs of its own
(``sandbox.capacity.GpuSlots``: slot ``i`` gets ``[i*g, (i+1)*g)`` of ``gpu_devices``, else of
the host's), and a job holds its slot's GPUs while it runs. The ids travel as the container's
``hypoforge.gpus`` label, which is part of a warm container's spec: a GPU job runs warm only in
a container started with the GPUs it leased.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import ImageMissing, InfraError, LowDisk, SandboxUnavailable
from core.records import Outcome
from core.settings import DockerSandboxSettings, Limits
from sandbox import capacity, neutral, reaper, removal, warm, warm_files
from sandbox.base import OUT_DIR, Job, RunResult, Sandbox
from sandbox.build import default_tag
from sandbox.warm import Slot, WarmPool, WarmSpec
from sandbox.watchdog import Exit, MiB, Watchdog, classify, output_usage

__all__ = ["GPU_LABEL", "DockerSandbox", "container_name", "output_usage"]

GPU_LABEL = "hypoforge.gpus"  # the GPU ids a container was given (its worker slot's), comma-joined


def _docker() -> Any:
    import docker  # imported lazily: light CLI commands stay fast

    return docker


def container_name(job: Job) -> str:
    """``hf-<job key>-<hash of its output folder>``: deterministic for one attempt (a stale
    container of a crashed run of the same attempt is replaced), distinct across attempt folders,
    so two processes (two homes, two campaigns) never replace each other's live container."""
    where = hashlib.sha256(str(job.out_dir.resolve()).encode()).hexdigest()[:8]
    return f"hf-{job.key}-{where}"


def _infra_exceptions() -> tuple[type[BaseException], ...]:
    import requests

    d = _docker()
    return (d.errors.DockerException, requests.exceptions.RequestException, ConnectionError)


def _unreachable(exc: BaseException) -> SandboxUnavailable:
    return SandboxUnavailable(f"Docker engine not reachable: {exc}")


class DockerSandbox(Sandbox):
    """Runs each job in a fresh hardened container and removes it afterwards.

    ``workers``: how many jobs may run at once (``run`` is thread-safe); with ``settings.warm``
    the sandbox keeps that many containers started ahead, one for each worker's next job. 0 (the
    default for code that builds its own sandbox) keeps none: every job starts cold, and a GPU
    job gets the first ``limits.gpus`` of ``gpu_devices`` (else Docker's first ones). With
    ``workers`` > 0 and ``settings.limits.gpus`` > 0 each worker slot has GPUs of its own, and
    ``preflight`` refuses more workers than the GPUs hold.
    """

    def __init__(
        self, settings: DockerSandboxSettings, client: Any = None, workers: int = 0
    ) -> None:
        self.settings = settings
        self.image = settings.image or default_tag()
        self._client = client
        self._image_id: str | None = None
        self._owner = reaper.owner_id()
        self._in_flight_mb = 0  # output budgets of the jobs running now
        self._lock = threading.Lock()
        self._workers = workers
        self._gpus: capacity.GpuSlots | None = None  # the slots' GPUs, found on first use
        size = workers if settings.warm else 0
        self._pool = WarmPool(self._spawn, self._retire, size, settings.warm_dir, self._owner)
        self._watchdog = Watchdog(settings.poll_seconds, settings.api_timeout_seconds)

    # -- engine ----------------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                # One connection per container being waited on, beside the calls in flight.
                pool = 10 + 4 * max(1, self._pool.workers)
                self._client = _docker().from_env(
                    timeout=int(self.settings.api_timeout_seconds), max_pool_size=pool
                )
            except _infra_exceptions() as exc:
                raise _unreachable(exc) from None
        return self._client

    def preflight(self) -> None:
        """Check the engine answers, the image exists and the Docker root has disk to spare."""
        d = _docker()
        try:
            self.client.ping()
            image = self.client.images.get(self.image)
            root = self.client.info().get("DockerRootDir", "")
        except d.errors.ImageNotFound:
            raise ImageMissing(
                f"sandbox image {self.image} is not built: run `make setup` "
                "(or `hypoforge sandbox build`)"
            ) from None
        except _infra_exceptions() as exc:
            raise _unreachable(exc) from None
        self._image_id = image.id
        if root and Path(root).exists():
            self._check_disk(Path(root))
        self._gpu_slots()

    # -- GPUs ------------------------------------------------------------------------------------
    def _gpu_slots(self) -> capacity.GpuSlots | None:
        """The worker slots' GPUs (None when jobs take none, or for a sandbox without workers);
        ``SandboxUnavailable`` when the GPUs do not hold ``workers`` slots."""
        per_job = self.settings.limits.gpus
        with self._lock:  # one set of slots, whichever worker asks first
            if self._gpus is None and per_job and self._workers > 0:
                ids = capacity.gpu_ids(self.settings)
                self._gpus = capacity.GpuSlots(capacity.gpu_groups(ids, per_job, self._workers))
            return self._gpus

    def _check_gpus(self, job: Job) -> None:
        """A job may take no more GPUs than a worker slot holds."""
        per_slot = self.settings.limits.gpus
        if job.limits.gpus > per_slot and self._gpu_slots() is not None:
            raise SandboxUnavailable(
                f"the job asks for {job.limits.gpus} GPUs but each worker slot holds "
                f"{per_slot} (sandbox.limits.gpus)"
            )

    @contextlib.contextmanager
    def _gpu_lease(self, job: Job) -> Iterator[Job]:
        """``job`` labelled with the GPUs its container gets, held for the block: the first
        ``job.limits.gpus`` of a free worker slot's own, else of ``gpu_devices`` (none there:
        no label, Docker's first ones)."""
        slots = self._gpu_slots() if job.limits.gpus else None
        if slots is None:
            yield _labelled(job, self.settings.gpu_devices[: job.limits.gpus])
            return
        with slots.lease() as group:
            yield _labelled(job, group[: job.limits.gpus])

    def reap_orphans(self) -> list[str]:
        """Orphaned containers (cold and warm), and the warm folders of dead processes."""
        try:
            removed = reaper.reap(self.client)
        except _infra_exceptions() as exc:
            raise _unreachable(exc) from None
        base = self.settings.warm_dir or Path(tempfile.gettempdir())
        return removed + warm_files.reap_roots(base)

    def image_ref(self) -> str:
        if self._image_id is None:
            self.preflight()
        return f"{self.image}@{self._image_id}"

    def close(self) -> None:
        """Remove the warm containers, wait for removals in the background, reap our own."""
        self._pool.close()
        if self._client is not None:
            with contextlib.suppress(*_infra_exceptions()):
                reaper.reap(self._client, mine=True)

    # -- warm containers -------------------------------------------------------------------------
    def set_workers(self, workers: int) -> None:
        """Jobs at once from now on: the number of containers kept started ahead (and of GPU
        slots; call it between jobs)."""
        with self._lock:
            if workers != self._workers:
                self._workers, self._gpus = workers, None
        self._pool.set_workers(workers if self.settings.warm else 0)

    def prewarm(self, job: Job, timeout: float = 120.0) -> bool:
        """Start containers for jobs like ``job`` (up to ``workers``) and wait until each has its
        modules imported; False if that took longer than ``timeout`` or warm start is off."""
        if warm.order_for(job.command) is None or self._pool.workers <= 0:
            return False
        per = job.limits.gpus
        slots = self._gpu_slots() if per else None
        if slots is None:
            first = _labelled(job, self.settings.gpu_devices[:per])
            specs = [self._spec(first)] * self._pool.workers
        else:  # one for each worker slot, with its GPUs
            specs = [self._spec(_labelled(job, group[:per])) for group in slots.groups]
        for spec in specs:
            self._pool.want(spec)
        deadline = time.monotonic() + timeout
        return all(
            self._pool.wait_ready(max(0.0, deadline - time.monotonic()), spec)
            for spec in dict.fromkeys(specs)
        )

    def wait_warm(self, timeout: float = 120.0) -> bool:
        """Wait until every idle warm container has its modules imported (benchmarks, tests);
        False if none is idle."""
        return self._pool.wait_ready(timeout)

    @property
    def warm_names(self) -> list[str]:
        """The idle warm containers' names."""
        return self._pool.idle_names()

    @property
    def warm_counts(self) -> tuple[int, int]:
        """(jobs that found a warm container, Python jobs that did not) so far."""
        return self._pool.hits, self._pool.misses

    def _spec(self, job: Job) -> WarmSpec:
        uid, gid = self._user_ids()
        return WarmSpec.of(job, self.image, f"{uid}:{gid}", self._env(job))

    def _spawn(self, slot: Slot) -> None:
        """Create and start a slot's container (in the pool's background thread)."""
        d = _docker()
        slot.make_folders(*self._user_ids())
        command, labels, binds = slot.plan(
            self._owner, self.settings.warm_idle_seconds, self.settings.warm_preload
        )
        mounts = [d.types.Mount(t, s, type="bind", read_only=ro) for t, s, ro in binds]
        spec = slot.spec
        kwargs = self._container_kwargs(
            command, slot.name, spec.limits, dict(spec.env), labels, mounts
        )
        slot.container = self._create_named(kwargs)
        slot.container.start()
        slot.exit.watch(slot.container, _infra_exceptions(), self.settings.poll_seconds)

    def _retire(self, slot: Slot) -> None:
        if slot.container is not None:
            with contextlib.suppress(*_infra_exceptions()):
                slot.container.remove(force=True)
        removal.remove_tree(slot.folder)  # never raises: what stays is logged

    def _run_warm(self, slot: Slot, job: Job, order: warm.Order) -> RunResult | None:
        """Run ``job`` in a warm container; None if it never started there (then it runs cold)."""
        try:
            # The output grows in the slot's folder: its filesystem (warm_dir) needs the same
            # room as the attempt folder's, which run() checked.
            self._check_disk(slot.out)
            warm_files.stage_mounts(job.mounts, slot.stage)
        except (OSError, ValueError, LowDisk):
            self._pool.discard(slot)
            return None  # the cold path reports what is wrong with the mounts
        try:
            result = self._watchdog.supervise(
                slot.container, slot.exit, slot.out, job, lambda: slot.deliver(order), slot
            )
            if not slot.delivered():
                self._pool.failed(slot)  # it died before taking the job
                return None
            self._pool.succeeded(slot.spec)
            if result.outcome is not Outcome.DISK_QUOTA:  # over its budget: nothing is read
                result = self._move_output(slot.out, job.out_dir, result)
        except BaseException:
            self._pool.discard(slot)
            raise
        self._pool.discard(slot)
        return result

    @staticmethod
    def _move_output(out: Path, dst: Path, result: RunResult) -> RunResult:
        """The slot's output into the attempt folder. The job owned that folder: what it did
        to it (its mode changed, a tree too deep to copy) is its own failure, never the
        machinery's, so the campaign is not paused by it."""
        try:
            os.chmod(out, 0o700)  # a job may have made its folder unwritable: a move needs it
            warm_files.move_output(out, dst)
        except (OSError, RecursionError) as exc:
            reason = f"its output folder could not be moved: {type(exc).__name__}"
            return result.model_copy(update={"outcome": Outcome.HYP_ERROR, "reason": reason})
        return result

    def _check_disk(self, path: Path, job_mb: int = 0) -> None:
        """Free disk must cover the floor plus the worst case of every job in flight (each may
        fill its output budget before the watchdog sees it) and of the one about to start."""
        free_mb = shutil.disk_usage(path).free // MiB
        need = self.settings.disk_floor_mb + self._in_flight_mb + job_mb
        if free_mb < need:
            raise LowDisk(
                f"only {free_mb} MiB free under {path}; the floor is "
                f"{self.settings.disk_floor_mb} MiB plus {self._in_flight_mb + job_mb} MiB "
                "for the output budgets of the jobs in flight"
            )

    # -- one job ---------------------------------------------------------------------------------
    def run(self, job: Job) -> RunResult:
        try:
            self._prepare_out_dir(job.out_dir)
            image_ref = self.image_ref()
            self._check_gpus(job)
            with self._lock:
                self._check_disk(job.out_dir, job.limits.output_mb)
                self._in_flight_mb += job.limits.output_mb
        except InfraError as exc:
            return RunResult(outcome=Outcome.INFRA_ERROR, reason=str(exc), out_dir=job.out_dir)
        try:
            with self._gpu_lease(job) as labelled:  # waits for a free slot's GPUs, if it takes any
                result = self._run_any(labelled)
        except (*_infra_exceptions(), InfraError) as exc:  # type: ignore[misc]
            return RunResult(
                outcome=Outcome.INFRA_ERROR,
                reason=f"Docker API error: {exc}",
                out_dir=job.out_dir,
                image=image_ref,
            )
        finally:
            with self._lock:
                self._in_flight_mb -= job.limits.output_mb
        return result.model_copy(update={"image": image_ref})

    def _run_any(self, job: Job) -> RunResult:
        """Warm if a container of the job's spec is up, else cold; for a Python job another
        container of its spec is then started for the next one, during the job or after it
        (``warm_refill``; "auto": ``warm.refill_during``)."""
        order = warm.order_for(job.command) if self._pool.workers > 0 else None
        if order is None:
            return self._run_cold(job)
        spec = self._spec(job)
        slot = self._pool.take(spec, self.settings.api_timeout_seconds)
        during = self.settings.warm_refill == "during" or (
            self.settings.warm_refill == "auto"
            and warm.refill_during(warm.cores(), self._pool.workers, job.limits.cpus)
        )
        if during:
            self._pool.want(spec)
        try:
            result = self._run_warm(slot, job, order) if slot is not None else None
            return result if result is not None else self._run_cold(job)
        finally:
            if not during:
                self._pool.want(spec)

    def _run_cold(self, job: Job) -> RunResult:
        """A fresh container; its binds come from a folder that names nothing of the host
        (``sandbox/neutral.py``), its output is moved into the attempt folder at the end."""
        base = self.settings.warm_dir or Path(tempfile.gettempdir())
        folder = neutral.make(base, self._owner, *self._user_ids())
        try:
            try:
                self._check_disk(folder.out)  # the output grows there, as a warm job's does
                warm_files.stage_mounts(job.mounts, folder.stage)
            except (OSError, ValueError) as exc:
                raise InfraError(f"cannot stage the job's files: {exc}") from exc
            result = self._run_staged(job, folder)
            if result.outcome is Outcome.DISK_QUOTA:  # over its budget: nothing is read
                return result
            return self._move_output(folder.out, job.out_dir, result)
        finally:  # never raises: what cannot be removed is logged and left for the reaper
            removal.remove_tree(folder.root, last=warm_files.OWNER_NAME)

    def _run_staged(self, job: Job, folder: neutral.Neutral) -> RunResult:
        container = self._create(job, folder)
        exit = Exit()

        def start() -> None:
            container.start()
            exit.watch(container, _infra_exceptions(), self.settings.poll_seconds)

        try:
            return self._watchdog.supervise(container, exit, folder.out, job, start)
        finally:
            if self._pool.workers > 0:  # a pool runs in the background anyway; close() waits
                self._pool.background(self._remove, container)
            else:
                self._remove(container)

    @staticmethod
    def _remove(container: Any) -> None:
        with contextlib.suppress(*_infra_exceptions()):
            container.remove(force=True)

    def _prepare_out_dir(self, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        if any(out_dir.iterdir()):
            raise InfraError(f"output folder is not empty: {out_dir}")
        uid, gid = self._user_ids()
        if os.getuid() == 0:
            os.chown(out_dir, uid, gid)

    @staticmethod
    def _user_ids() -> tuple[int, int]:
        """Root on the host runs jobs as nobody; anyone else runs them as themselves (not root)."""
        if os.getuid() == 0:
            return 65534, 65534
        return os.getuid(), os.getgid()

    def _env(self, job: Job) -> dict[str, str]:
        env = {"HOME": "/tmp", "TMPDIR": "/tmp", "PYTHONDONTWRITEBYTECODE": "1", **job.env}
        threads = str(max(1, int(job.limits.cpus)))
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env.setdefault(var, threads)
        return env

    def _create(self, job: Job, folder: neutral.Neutral | None = None) -> Any:
        """The job's container, created; its binds from ``folder`` (None: none, for a container
        that is only inspected)."""
        d = _docker()
        mounts = []
        if folder is not None:
            mounts = [
                d.types.Mount("/hf", str(folder.stage), type="bind", read_only=True),
                d.types.Mount(OUT_DIR, str(folder.out), type="bind"),
            ]
        labels = {
            **job.labels,
            reaper.MANAGED_LABEL: "1",
            reaper.OWNER_LABEL: self._owner,
            "hypoforge.job": job.key,
        }
        kwargs = self._container_kwargs(
            job.command, container_name(job), job.limits, self._env(job), labels, mounts
        )
        return self._create_named(kwargs)

    def _container_kwargs(
        self,
        command: list[str],
        name: str,
        lim: Limits,
        env: dict[str, str],
        labels: dict[str, str],
        mounts: list[Any],
    ) -> dict[str, Any]:
        """The hardened container, the same for a cold job and a warm container."""
        d = _docker()
        uid, gid = self._user_ids()
        gpus = (
            # Only the GPUs asked for: the ids of its label (its worker slot's), else the first.
            [self._gpu_request(lim.gpus, labels.get(GPU_LABEL, ""))] if lim.gpus else None
        )
        return dict(
            image=self.image,
            command=command,
            name=name,
            labels=labels,
            user=f"{uid}:{gid}",
            working_dir="/tmp",
            environment=env,
            network_mode="none",
            read_only=True,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges:true"],
            mem_limit=f"{lim.memory_mb}m",
            memswap_limit=f"{lim.memory_mb}m",
            nano_cpus=int(lim.cpus * 1e9),
            pids_limit=lim.pids,
            shm_size=f"{lim.shm_mb}m",
            tmpfs={"/tmp": f"rw,noexec,nosuid,nodev,size={lim.tmpfs_mb}m"},
            ulimits=[
                d.types.Ulimit(name="fsize", soft=lim.output_mb * MiB, hard=lim.output_mb * MiB),
                d.types.Ulimit(name="nofile", soft=lim.nofile, hard=lim.nofile),
                d.types.Ulimit(name="core", soft=0, hard=0),
            ],
            log_config=d.types.LogConfig(
                type="json-file", config={"max-size": "1m", "max-file": "1"}
            ),
            init=True,
            mounts=mounts,
            stdin_open=False,
            detach=True,
            auto_remove=False,
            use_config_proxy=False,
            device_requests=gpus,
        )

    def _gpu_request(self, count: int, ids: str = "") -> Any:
        """``count`` GPUs: ``ids`` (comma-joined, a worker slot's), else the first of the ids
        this sandbox was given (a Ray actor's own), else Docker's first ``count``; with the
        ``gpu`` capability (compute and utility: what torch needs)."""
        d = _docker()
        chosen = ids.split(",") if ids else list(self.settings.gpu_devices[:count])
        if chosen:
            return d.types.DeviceRequest(device_ids=chosen, capabilities=[["gpu"]])
        return d.types.DeviceRequest(count=count, capabilities=[["gpu"]])

    def _create_named(self, kwargs: dict[str, Any]) -> Any:
        d = _docker()
        try:
            return self.client.containers.create(**kwargs)
        except d.errors.APIError as exc:
            if exc.status_code != 409:
                raise
            # A container of this name exists: a retry after an API timeout, or an orphan of a
            # crashed run. Never adopt its output: remove it and start clean.
            self.client.containers.get(kwargs["name"]).remove(force=True)
            return self.client.containers.create(**kwargs)

    _classify = staticmethod(classify)  # kept here for callers of the old name


def _labelled(job: Job, gpus: tuple[str, ...]) -> Job:
    """``job`` with the GPU ids its container gets as its ``GPU_LABEL`` (none: no label); a
    label of that name the job came with never counts."""
    labels = {k: v for k, v in job.labels.items() if k != GPU_LABEL}
    if gpus:
        labels[GPU_LABEL] = ",".join(gpus)
    return job.model_copy(update={"labels": labels})
