"""Deep output trees on the real engine (issue 24): a job that nests folders thousands deep is
stopped by the watchdog with its own reason; its folders are removed without recursion, cold and
warm; a warm pool whose removal fails midway closes without raising and leaves its root, owner
file and all, for the reaper, which removes it once the pool's process is gone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from core.records import Outcome
from core.settings import Limits
from sandbox import reaper, warm_files
from sandbox.base import Job
from sandbox.docker_sandbox import DockerSandbox
from sandbox.watchdog import TOO_DEEP, output_walk
from tests.integration.conftest import own_containers

ROOT = Path(__file__).resolve().parents[2]


def deep_code(levels: int, then: str = "__import__('time').sleep(30)") -> str:
    """Nest ``levels`` folders under /hf/out, each made from the one above by name (no path
    names the bottom), then ``then``."""
    return textwrap.dedent(f"""
        import os
        fd = os.open('/hf/out', os.O_RDONLY)
        for _ in range({levels}):
            os.mkdir('d', dir_fd=fd)
            fd, up = os.open('d', os.O_RDONLY, dir_fd=fd), fd
            os.close(up)
        {then}
    """)


def _roots(owner: str) -> list[Path]:
    base = Path(tempfile.gettempdir())
    return list(base.glob(warm_files.root_name(owner) + "*"))


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_a_deep_tree_is_stopped_and_removed(settings, docker_sandbox, tmp_path, warm):
    sb = DockerSandbox(
        settings.sandbox.model_copy(update={"warm": warm}), client=docker_sandbox.client, workers=1
    )
    sb.preflight()
    before = set(_roots(reaper.owner_id()))  # the session sandbox's pool, if it has one
    job = Job(
        key="deep",
        command=["python3", "-c", deep_code(5000)],
        out_dir=tmp_path / "attempt" / "out",
        limits=Limits(wall_seconds=30),
    )
    try:
        if warm:
            assert sb.prewarm(job.model_copy(update={"out_dir": tmp_path / "unused"}))
        result = sb.run(job)
        assert sb.warm_counts[0] == int(warm)
    finally:
        sb.close()  # never raises from cleanup
    assert result.outcome is Outcome.DISK_QUOTA
    assert result.reason == "output exceeded 32 levels of nested folders"
    assert result.wall_seconds < 5  # stopped by the watchdog, not by the clock
    assert own_containers(docker_sandbox) == []
    assert set(_roots(reaper.owner_id())) <= before  # this pool's root, every job folder: gone
    assert not any(job.out_dir.iterdir())  # over its budget: nothing of it was moved here


# A pool in its own process: a warm job nests folders until their paths are too long to name
# (about 2,000 deep: past the recursion limit; this pool's caps let it), so the watchdog stops it
# and its tree stays in the slot; every removal then fails midway (rmdir refused, as a broken
# disk might), so the pool's root stays. close() must not raise.
POOL = textwrap.dedent("""
    import errno, os, sys
    from pathlib import Path
    from core.settings import Limits, load_settings
    from sandbox import removal
    from sandbox.base import Job
    from sandbox.docker_sandbox import DockerSandbox

    def refused(fd, name, errors):
        errors.add(name, OSError(errno.EBUSY, "Device or resource busy"))
        return False

    removal._rmdir_at = refused
    sb = DockerSandbox(load_settings().sandbox, workers=1)
    lim = Limits(wall_seconds=60, output_files=100000, output_depth=100000)
    job = Job(key="deep", command=["python3", "-c", sys.argv[2]], out_dir=Path(sys.argv[1]),
              limits=lim)
    assert sb.prewarm(job.model_copy(update={"out_dir": Path(sys.argv[1]).parent / "unused"}))
    result = sb.run(job)
    print(result.outcome.value, sb.warm_counts[0], flush=True)
    sb.close()
    print("CLOSED", flush=True)
""")


def test_a_warm_root_left_by_a_failed_removal_is_reaped(docker_sandbox, tmp_path):
    code = deep_code(3000, "os.pause()")
    done = subprocess.run(
        [sys.executable, "-c", POOL, str(tmp_path / "attempt" / "out"), code],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["disk_quota", "1", "CLOSED"]
    assert "could not remove" in done.stderr  # logged, not raised
    host = socket.gethostname()
    (root,) = [
        p
        for p in Path(tempfile.gettempdir()).glob("hf-warm-*")
        if (p / warm_files.OWNER_NAME).exists()
        and (p / warm_files.OWNER_NAME).read_text().startswith(f"{host}/")
        and not reaper.owner_alive((p / warm_files.OWNER_NAME).read_text())
        and any(p.glob("s*/out/d"))
    ]
    (tree,) = root.glob("s*/out/d")  # the job's tree, too deep for any path to name
    assert output_walk(tree.parent, 10**7, 10**7).depth == TOO_DEEP
    assert warm_files.root_stale(root)
    removed = docker_sandbox.reap_orphans()
    assert root.name in removed and not root.exists()
    leftover = [c for c in reaper.listed(docker_sandbox.client, label="hypoforge.warm=1")]
    assert not [c for c in leftover if not reaper.owner_alive(c.labels[reaper.OWNER_LABEL])]
