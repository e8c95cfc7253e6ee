"""The real sandbox: one hardened Docker container per job, supervised from the host.

Hardening follows the checklist in the project's sandbox research notes: no network, read-only root,
non-root user, no capabilities, no-new-privileges, memory == memory+swap, CPU quota, pids limit,
sized tmpfs, ulimits (fsize, nofile, core), rotated logs, an init process, an environment allowlist,
deterministic names and labels, no Docker socket. The wall clock, the output watchdog and the
disk floor live here, in the host process, where nothing a job does can change them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from hypoforge.errors import ImageMissing, InfraError, LowDisk, SandboxUnavailable
from hypoforge.records import Outcome
from hypoforge.settings import DockerSandboxSettings, Limits
from sandbox import reaper
from sandbox.base import OUT_DIR, Job, RunResult, Sandbox
from sandbox.build import default_tag

MiB = 1024 * 1024


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


def output_usage(out_dir: Path, max_files: int) -> tuple[int, int]:
    """(bytes, entries) under ``out_dir``, not following links; stops counting past max_files.
    A file counts by the larger of its size and its allocated blocks: space reserved with
    ``fallocate(FALLOC_FL_KEEP_SIZE)`` takes disk with ``st_size`` 0, a sparse file the reverse."""
    total, count = 0, 0
    stack = [out_dir]
    while stack and count <= max_files:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for e in entries:
            count += 1
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            total += max(st.st_size, st.st_blocks * 512)
            if e.is_dir(follow_symlinks=False):
                stack.append(Path(e.path))
    return total, count


def _pids_current(container_id: str) -> int | None:
    """The container's current task count from its cgroup (v1 or v2), if readable."""
    for path in (
        f"/sys/fs/cgroup/pids/docker/{container_id}/pids.current",
        f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/pids.current",
        f"/sys/fs/cgroup/docker/{container_id}/pids.current",
    ):
        with contextlib.suppress(OSError, ValueError):
            return int(Path(path).read_text())
    return None


def _unreachable(exc: BaseException) -> SandboxUnavailable:
    return SandboxUnavailable(f"Docker engine not reachable: {exc}")


class DockerSandbox(Sandbox):
    """Runs each job in a fresh hardened container and removes it afterwards."""

    def __init__(self, settings: DockerSandboxSettings, client: Any = None) -> None:
        self.settings = settings
        self.image = settings.image or default_tag()
        self._client = client
        self._image_id: str | None = None
        self._owner = reaper.owner_id()
        self._in_flight_mb = 0  # output budgets of the jobs running now
        self._lock = threading.Lock()

    # -- engine ----------------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                self._client = _docker().from_env(timeout=int(self.settings.api_timeout_seconds))
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

    def reap_orphans(self) -> list[str]:
        try:
            return reaper.reap(self.client)
        except _infra_exceptions() as exc:
            raise _unreachable(exc) from None

    def image_ref(self) -> str:
        if self._image_id is None:
            self.preflight()
        return f"{self.image}@{self._image_id}"

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(*_infra_exceptions()):
                reaper.reap(self._client, mine=True)

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
            with self._lock:
                self._check_disk(job.out_dir, job.limits.output_mb)
                self._in_flight_mb += job.limits.output_mb
        except InfraError as exc:
            return RunResult(outcome=Outcome.INFRA_ERROR, reason=str(exc), out_dir=job.out_dir)
        container = None
        try:
            container = self._create(job)
            result = self._supervise(container, job)
        except _infra_exceptions() as exc:
            return RunResult(
                outcome=Outcome.INFRA_ERROR,
                reason=f"Docker API error: {exc}",
                out_dir=job.out_dir,
                image=image_ref,
            )
        finally:
            with self._lock:
                self._in_flight_mb -= job.limits.output_mb
            if container is not None:
                with contextlib.suppress(*_infra_exceptions()):
                    container.remove(force=True)
        return result.model_copy(update={"image": image_ref})

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

    def _create(self, job: Job) -> Any:
        d = _docker()
        lim: Limits = job.limits
        uid, gid = self._user_ids()
        mounts = [
            d.types.Mount(m.target, str(m.source.resolve()), type="bind", read_only=True)
            for m in job.mounts
        ]
        mounts.append(d.types.Mount(OUT_DIR, str(job.out_dir.resolve()), type="bind"))
        env = {"HOME": "/tmp", "TMPDIR": "/tmp", "PYTHONDONTWRITEBYTECODE": "1", **job.env}
        threads = str(max(1, int(lim.cpus)))
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env.setdefault(var, threads)
        labels = {
            **job.labels,
            reaper.MANAGED_LABEL: "1",
            reaper.OWNER_LABEL: self._owner,
            "hypoforge.job": job.key,
        }
        kwargs: dict[str, Any] = dict(
            image=self.image,
            command=job.command,
            name=container_name(job),
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
        )
        try:
            return self.client.containers.create(**kwargs)
        except d.errors.APIError as exc:
            if exc.status_code != 409:
                raise
            # A container of this name exists: a retry after an API timeout, or an orphan of a
            # crashed run. Never adopt its output: remove it and start clean.
            self.client.containers.get(kwargs["name"]).remove(force=True)
            return self.client.containers.create(**kwargs)

    def _supervise(self, container: Any, job: Job) -> RunResult:
        lim = job.limits
        budget_bytes = lim.output_mb * MiB
        timed_out = quota = False
        pids_peak: int | None = None
        container.start()
        start = time.monotonic()
        deadline = start + lim.wall_seconds
        while True:
            container.reload()
            if container.status in ("exited", "dead"):
                break
            pids = _pids_current(container.id)
            if pids is not None:
                pids_peak = max(pids_peak or 0, pids)
            used, files = output_usage(job.out_dir, lim.output_files)
            if used >= budget_bytes or files > lim.output_files:
                quota = True
                container.kill()
                break
            if time.monotonic() >= deadline:
                timed_out = True
                self._stop(container, lim.grace_seconds)
                break
            time.sleep(self.settings.poll_seconds)
        container.wait(timeout=self.settings.api_timeout_seconds)
        wall = time.monotonic() - start
        container.reload()
        state = container.attrs["State"]
        raw = container.logs(stdout=True, stderr=True, tail=200)[-lim.log_tail_bytes :]
        used, files = output_usage(job.out_dir, lim.output_files)
        quota = quota or used >= budget_bytes or files > lim.output_files
        return self._classify(
            exit_code=int(state.get("ExitCode", -1)),
            oom_killed=bool(state.get("OOMKilled")),
            timed_out=timed_out,
            quota=quota,
            lim=lim,
            common=dict(
                wall_seconds=round(wall, 3),
                pids_peak=pids_peak,
                log_tail=raw.decode("utf-8", errors="replace"),
                out_dir=job.out_dir,
            ),
        )

    @staticmethod
    def _stop(container: Any, grace: float) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds (at once when grace is 0)."""
        if grace > 0:
            container.stop(timeout=max(1, round(grace)))
        else:
            container.kill()

    @staticmethod
    def _classify(
        *,
        exit_code: int,
        oom_killed: bool,
        timed_out: bool,
        quota: bool,
        lim: Limits,
        common: dict[str, Any],
    ) -> RunResult:
        flags = dict(exit_code=exit_code, timed_out=timed_out, oom_killed=oom_killed)
        if quota:
            reason = f"output exceeded {lim.output_mb} MiB or {lim.output_files} files"
            return RunResult(
                outcome=Outcome.DISK_QUOTA, reason=reason, quota_exceeded=True, **flags, **common
            )
        if timed_out:
            reason = f"killed after the {lim.wall_seconds:g} s wall-clock limit"
            return RunResult(outcome=Outcome.TIMEOUT, reason=reason, **flags, **common)
        # Exit 137 that we did not cause is the kernel's OOM kill (OOMKilled is unreliable on
        # some kernels, so both are read).
        if oom_killed or exit_code == 137:
            reason = f"killed by the {lim.memory_mb} MiB memory limit"
            return RunResult(outcome=Outcome.OOM, reason=reason, **flags, **common)
        if exit_code == 0:
            return RunResult(outcome=Outcome.OK, **flags, **common)
        return RunResult(
            outcome=Outcome.HYP_ERROR, reason=f"exited with code {exit_code}", **flags, **common
        )
