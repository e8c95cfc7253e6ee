"""The settings' ``[executor]`` builds its sandbox (``sandbox.factory.build``): nothing connects
to Docker or Ray until the first job, so the choice is checked here without either."""

from __future__ import annotations

from core.settings import DockerExecutor, DockerSandboxSettings, RayExecutor, Settings
from sandbox.docker_sandbox import DockerSandbox
from sandbox.factory import build
from sandbox.ray_sandbox import RaySandbox


def test_this_machine_gets_a_docker_sandbox_warming_under_home(tmp_path):
    box = DockerSandboxSettings(workers=3, image="img:1")
    sandbox = build(Settings(home=tmp_path, sandbox=box, executor=DockerExecutor(type="local")))
    try:
        assert isinstance(sandbox, DockerSandbox)
        assert sandbox.image == "img:1"
        assert sandbox.capacity() is None  # this machine's cores decide, not the sandbox
        # Warm containers' folders on HYPOFORGE_HOME's filesystem: outputs are renamed there.
        assert sandbox.settings.warm_dir == tmp_path / "warm"
    finally:
        sandbox.close()
    chosen = DockerSandboxSettings(warm_dir=tmp_path / "elsewhere")
    sandbox = build(Settings(home=tmp_path, sandbox=chosen))
    assert isinstance(sandbox, DockerSandbox)
    assert sandbox.settings.warm_dir == tmp_path / "elsewhere"  # a folder the user named stays
    sandbox.close()


def test_a_ray_executor_gets_a_ray_sandbox_at_its_address(tmp_path):
    box = DockerSandboxSettings(workers=2)
    executor = RayExecutor(ray_address="ray://head:10001")
    sandbox = build(Settings(home=tmp_path, sandbox=box, executor=executor))
    assert isinstance(sandbox, RaySandbox)
    assert sandbox.address == "ray://head:10001"
    assert sandbox.settings == box  # every node's containers get the same limits and image
    assert sandbox.capacity() == 2  # the slots asked for, without asking the cluster
