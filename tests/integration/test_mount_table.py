"""What a job sees of the host in its mount table (``/proc/self/mountinfo``), cold and warm: its
binds come only from a folder with a random name under the warm folders' base
(``sandbox/neutral.py``, ``sandbox/warm.py``), never from the checkout, the home or the attempt
folder; the rest is Docker's own (its init, ``/etc/hosts`` and kin, cgroups) and the kernel's."""

from __future__ import annotations

import re
from pathlib import Path

from core.records import Outcome
from sandbox.base import Job, Mount
from sandbox.docker_sandbox import DockerSandbox

ROOT = Path(__file__).resolve().parents[2]
READ = "import shutil; shutil.copy('/proc/self/mountinfo', '/hf/out/mountinfo.txt')"
# The documented bind sources: a neutral root (warm_files.root_name plus mkdtemp's random part),
# a cold job's stage and out or a warm slot's, and the bootstrap's copy in the slot.
NEUTRAL = re.compile(r"^(/.+)?/hf-warm-[0-9a-f]{8}-\d+-\d+-\w+/(s\d+/)?(stage|out|boot\.py)$")
OURS = {"/hf", "/hf/out", "/hfwarm/boot.py"}
DOCKERS = {"/etc/hostname", "/etc/hosts", "/etc/resolv.conf"}
DOCKER_FILE = re.compile(r"^(/.+)?/containers/[0-9a-f]{64}/(hostname|hosts|resolv\.conf)$")


def _job(tmp_path: Path, key: str) -> Job:
    """A job shaped like an evaluator's, from folders whose names a mount table must not show."""
    home = tmp_path / "home-of-alice"
    (home / "in").mkdir(parents=True, exist_ok=True)
    (home / "in" / "job.json").write_text("{}")
    (home / "data.npz").write_bytes(b"npz")
    return Job(
        key=key,
        command=["python3", "-c", READ],
        mounts=[
            Mount(source=home / "data.npz", target="/hf/data.npz"),
            Mount(source=home / "in", target="/hf/in"),
            Mount(source=ROOT / "evaluators" / "runner_loop.py", target="/hf/code/runner_loop.py"),
        ],
        out_dir=home / "attempts" / key / "out",
    )


def _undocumented(table: str) -> list[str]:
    """The lines whose bind source (mountinfo's fourth field) is a host path not documented."""
    bad = []
    for line in table.splitlines():
        fields = line.split()
        root, point = fields[3], fields[4]
        if root == "/" or point.startswith(("/proc/", "/sys/", "/dev/")):
            continue  # a filesystem's own root, or a kernel filesystem's (and cgroup) paths
        if point in OURS and NEUTRAL.match(root):
            continue
        if point in DOCKERS and DOCKER_FILE.match(root):
            continue
        if point == "/usr/sbin/docker-init":
            continue  # Docker's init (``init=True``), bound from the engine's own binary
        bad.append(line)
    return bad


def _check(result, tmp_path: Path, home: Path) -> None:
    assert result.outcome is Outcome.OK, result.reason
    table = (result.out_dir / "mountinfo.txt").read_text()
    assert {"/hf", "/hf/out"} <= {line.split()[4] for line in table.splitlines()}
    assert _undocumented(table) == []
    for host_path in (str(tmp_path), str(ROOT), str(home), "home-of-alice"):
        assert host_path not in table


def test_a_cold_job_sees_no_host_path_beyond_the_documented_ones(settings, tmp_path):
    sb = DockerSandbox(settings.sandbox, workers=0)
    sb.preflight()
    try:
        _check(sb.run(_job(tmp_path, "cold")), tmp_path, settings.home)
    finally:
        sb.close()


def test_a_warm_job_sees_no_host_path_beyond_the_documented_ones(settings, tmp_path):
    sb = DockerSandbox(settings.sandbox, workers=1)
    sb.preflight()
    try:
        job = _job(tmp_path, "warm")
        assert sb.prewarm(job.model_copy(update={"out_dir": tmp_path / "unused"}))
        hits = sb.warm_counts[0]
        result = sb.run(job)
        assert sb.warm_counts[0] == hits + 1, "the job did not run in a warm container"
        _check(result, tmp_path, settings.home)
    finally:
        sb.close()
