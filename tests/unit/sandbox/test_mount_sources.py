"""What a job's binds name of the host, without an engine: a cold container is bound only from a
folder with a random name under the warm folders' base (``sandbox/neutral.py``), a warm one only
from its slot's folder, never from the checkout, the home or the attempt folder."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

from core.settings import DockerSandboxSettings
from sandbox import neutral, warm_files
from sandbox.base import Job, Mount
from sandbox.docker_sandbox import DockerSandbox
from sandbox.warm import BOOT_SOURCE, BOOT_TARGET, Slot, WarmSpec

ROOT = Path(__file__).resolve().parents[3]


class _Containers:
    def __init__(self) -> None:
        self.created: list[dict] = []

    def create(self, **kwargs):
        self.created.append(kwargs)
        return SimpleNamespace(name=kwargs["name"])


def _sandbox() -> DockerSandbox:
    image = SimpleNamespace(id="sha256:" + "0" * 64)
    client = SimpleNamespace(
        ping=lambda: True,
        images=SimpleNamespace(get=lambda tag: image),
        info=lambda: {},
        containers=_Containers(),
    )
    return DockerSandbox(DockerSandboxSettings(disk_floor_mb=0), client=client, workers=0)


def _job(tmp_path: Path) -> Job:
    """A job shaped like an evaluator's: code from the checkout, data and inputs from a home
    whose path names its user."""
    home = tmp_path / "home-of-alice" / ".hypoforge"
    (home / "attempts" / "in").mkdir(parents=True)
    (home / "attempts" / "in" / "job.json").write_text("{}")
    (home / "data.npz").write_bytes(b"npz")
    return Job(
        key="k",
        command=["python3", "-B", "/hf/code/runner.py"],
        mounts=[
            Mount(
                source=ROOT / "evaluators" / "activation" / "runner.py", target="/hf/code/runner.py"
            ),
            Mount(source=home / "data.npz", target="/hf/data.npz"),
            Mount(source=home / "attempts" / "in", target="/hf/in"),
        ],
        out_dir=home / "attempts" / "out",
    )


def test_a_cold_container_is_bound_only_from_its_neutral_folder(tmp_path):
    sb, job = _sandbox(), _job(tmp_path)
    base = tmp_path / "base"
    folder = neutral.make(base, "h/1/2", os.getuid(), os.getgid())
    warm_files.stage_mounts(job.mounts, folder.stage)
    sb._create(job, folder)
    (kwargs,) = sb.client.containers.created
    binds = {m["Target"]: m["Source"] for m in kwargs["mounts"]}
    assert binds == {"/hf": str(folder.stage), "/hf/out": str(folder.out)}
    assert folder.root.parent == base and folder.root.name.startswith("hf-warm-")
    assert (folder.root / "owner").read_text() == "h/1/2"  # the reaper may remove it
    # The job still finds its files at their targets, with the same bytes.
    assert (folder.stage / "code" / "runner.py").read_bytes() == job.mounts[0].source.read_bytes()
    assert (folder.stage / "data.npz").read_bytes() == b"npz"
    assert (folder.stage / "in" / "job.json").read_text() == "{}"
    assert sorted(p.name for p in folder.stage.iterdir()) == ["code", "data.npz", "in", "out"]


def test_a_warm_container_is_bound_only_from_its_slot_folder(tmp_path):
    spec = WarmSpec("image", "1:1", DockerSandboxSettings().limits, (), ())
    slot = Slot(spec, "name", tmp_path / "hf-warm-x" / "s1")
    slot.make_folders(os.getuid(), os.getgid())
    _, _, binds = slot.plan("owner", 60.0, ())
    assert all(Path(source).is_relative_to(slot.folder) for _, source, _ in binds)
    boot = dict((target, source) for target, source, _ in binds)[BOOT_TARGET]
    assert Path(boot).read_bytes() == BOOT_SOURCE.read_bytes()  # a copy, not the checkout's
