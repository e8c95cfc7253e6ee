"""The one place a concrete sandbox is built from the settings, and how many jobs it runs at once.

``[executor]`` (``core.settings.ExecutorSettings``) says where jobs run: this machine's Docker
engine (``DockerSandbox``) or the nodes of a Ray cluster (``RaySandbox``, each node's Docker
engine behind it). The settings stay free of sandbox code (``core`` is the lowest layer), so the
choice is turned into a sandbox here.
"""

from __future__ import annotations

from typing import assert_never

from core.settings import DockerExecutor, RayExecutor, Settings
from sandbox.base import Sandbox


def build(settings: Settings) -> Sandbox:
    """The sandbox ``settings.executor`` names, with ``settings.sandbox``'s limits and image."""
    executor = settings.executor
    if isinstance(executor, RayExecutor):
        from sandbox.ray_sandbox import RaySandbox

        return RaySandbox(settings.sandbox, executor.ray_address, workers=settings.sandbox.workers)
    if isinstance(executor, DockerExecutor):
        from sandbox.docker_sandbox import DockerSandbox

        box = settings.sandbox
        if box.warm_dir is None:  # on HYPOFORGE_HOME's filesystem: outputs renamed, not copied
            box = box.model_copy(update={"warm_dir": settings.home / "warm"})
        return DockerSandbox(box, workers=workers(settings))
    assert_never(executor)


def workers(settings: Settings, sandbox: Sandbox | None = None) -> int:
    """Containers at once: ``[sandbox] workers`` (``--workers``), else what the sandbox knows
    it holds (a cluster's slots), else what this machine's cores and memory allow. On this
    machine, when jobs take GPUs, each worker has its own, so never more workers than the
    GPUs hold (with none found, one: the sandbox's preflight then says why it cannot run)."""
    from sandbox.capacity import default_workers, gpu_cap, gpu_ids

    box = settings.sandbox
    ray = isinstance(settings.executor, RayExecutor)  # the cluster's GPUs are Ray's to place
    gpus = len(gpu_ids(box)) if box.limits.gpus and not ray else 0
    cap = None if ray else gpu_cap(box.limits, gpus)
    if box.workers:
        return box.workers if cap is None else max(1, min(box.workers, cap))
    known = sandbox.capacity() if sandbox is not None else None
    limits = box.limits.model_copy(update={"gpus": 0}) if ray else box.limits
    return known or default_workers(limits, gpus=gpus)
