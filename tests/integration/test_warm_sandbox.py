"""Warm start on the real engine: a job delivered to a container started ahead gives what a cold
start gives (outcomes, exit codes, log, limits, results), the adversarial catalogue stays
contained, a job finds nothing of another job or of the pool, no container ever runs a second
job, and nothing is left behind (close, a dead idle container, a killed orchestrator)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from core.records import Outcome
from core.settings import Limits
from evaluators import redteam
from sandbox import reaper
from sandbox.base import Job, Mount, RunResult
from sandbox.docker_sandbox import DockerSandbox
from sandbox.probes import PROBES, SECRET_NAME, SECRET_VALUE
from sandbox.selftest import run_probe

pytestmark = pytest.mark.serial  # short walls and timing bounds: run alone (Makefile)

ROOT = Path(__file__).resolve().parents[2]


def _warm_containers(client) -> list:
    label = f"{reaper.OWNER_LABEL}={reaper.owner_id()}"
    flt = {"label": [label, "hypoforge.warm=1"]}
    # sparse: no inspect of each, which a removal in the background would make fail
    found = client.containers.list(all=True, filters=flt, sparse=True)
    return [c.attrs["Names"][0].lstrip("/") for c in found]


@pytest.fixture(scope="module")
def warm_sandbox(settings, docker_sandbox):
    sb = DockerSandbox(settings.sandbox, client=docker_sandbox.client, workers=1)
    sb.preflight()
    yield sb
    sb.close()
    assert _warm_containers(docker_sandbox.client) == []


def _job(tmp_path: Path, code: str, name: str = "job", **kw) -> Job:
    return Job(key=name, command=["python3", "-c", code], out_dir=tmp_path / name / "out", **kw)


def _run_warm(sb: DockerSandbox, job: Job):
    """Run ``job`` in a container started ahead for it (and check that it was)."""
    assert sb.prewarm(job.model_copy(update={"out_dir": job.out_dir.parent / "unused"}))
    hits = sb.warm_counts[0]
    result = sb.run(job)
    assert sb.warm_counts[0] == hits + 1, "the job did not run in a warm container"
    return result


_WAIT = "__import__('time').sleep(60)\n"
_TRY = "try:\n    {}\nexcept OSError:\n    pass\n"

CASES = {
    "ok": ("print('hello'); print('to stderr', file=__import__('sys').stderr)", {}),
    "error": ("def f():\n    raise ValueError('boom')\nf()\n", {}),
    "exit-code": ("import sys; sys.exit(5)", {}),
    "timeout": ("import time; print('sleeping', flush=True); time.sleep(60)", {"wall_seconds": 2}),
    "oom": ("b = []\nwhile True:\n    b.append(bytearray(64 * 2**20))\n", {"memory_mb": 1024}),
    # The two over-quota jobs then wait, whether their writes succeeded or not: a job that ended
    # before the watchdog's next look (on its own, or by a failed write) would exit 0 or 1 one
    # time and be killed (137) the next, so the comparison would be of timing.
    "quota": (
        _TRY.format("open('/hf/out/big', 'wb').write(b'x' * 2**25)") + _WAIT,
        {"output_mb": 8},
    ),
    "files": (_TRY.format("[open(f'/hf/out/f{i}', 'w').close() for i in range(5000)]") + _WAIT, {}),
}


@pytest.mark.parametrize("case", CASES)
def test_a_warm_job_ends_as_the_same_job_cold(case, warm_sandbox, docker_sandbox, tmp_path):
    code, limits = CASES[case]
    lim = Limits(**{"wall_seconds": 30, "output_files": 100, **limits})
    cold = docker_sandbox.run(_job(tmp_path, code, "cold", limits=lim))
    hot = _run_warm(warm_sandbox, _job(tmp_path, code, "warm", limits=lim))
    same = ("outcome", "exit_code", "timed_out", "oom_killed", "quota_exceeded", "reason")
    assert {k: getattr(hot, k) for k in same} == {k: getattr(cold, k) for k in same}
    assert hot.out_dir == tmp_path / "warm" / "out"
    assert hot.image == cold.image == docker_sandbox.image_ref()
    if case in ("error", "exit-code"):
        assert hot.log_tail == cold.log_tail  # the same traceback, no frame of the bootstrap
    if case == "ok":  # Docker orders lines of two streams by when it read them, not written
        assert sorted(hot.log_tail.splitlines()) == ["hello", "to stderr"]
        assert sorted(cold.log_tail.splitlines()) == ["hello", "to stderr"]
    if case == "timeout":
        assert 2 <= hot.wall_seconds < 4.5
        assert hot.log_tail == "sleeping\n"
    assert not list(hot.out_dir.glob(".hf-*"))  # no mark of the pool in the output
    if case not in ("quota", "files"):  # how far a job got before its kill is timing
        names = sorted(p.name for p in hot.out_dir.iterdir())
        assert names == sorted(p.name for p in cold.out_dir.iterdir())


@pytest.mark.parametrize("probe", PROBES, ids=[f"{p.case}-{p.name}" for p in PROBES])
def test_each_probe_is_contained_in_a_warm_container(warm_sandbox, probe, tmp_path, monkeypatch):
    monkeypatch.setenv(SECRET_NAME, SECRET_VALUE)  # must never reach the container
    like = Job(
        key="like",
        command=["python3", "-c", probe.code],
        out_dir=tmp_path / "unused",
        limits=probe.limits_for(Limits()),
        labels={"hypoforge.probe": str(probe.case)},
    )
    assert warm_sandbox.prewarm(like)
    hits = warm_sandbox.warm_counts[0]
    report = run_probe(warm_sandbox, probe, tmp_path)
    assert report.problem is None, report.problem
    assert report.result.outcome is probe.expect
    assert warm_sandbox.warm_counts[0] == hits + 1  # it ran in the container started ahead


ENVIRONMENT = textwrap.dedent("""
    import json, os, resource, sys
    def read(path):
        try:
            return open(path).read().strip()
        except OSError as e:
            return f"error {e.errno}"
    status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines())
    try:
        open("/usr/x", "w")
        root = "writable"
    except OSError as e:
        root = f"error {e.errno}"
    print(json.dumps({
        "user": [os.getuid(), os.getgid()],
        "caps": status["CapEff"].strip(), "nnp": status["NoNewPrivs"].strip(),
        "rlimits": [resource.getrlimit(getattr(resource, f"RLIMIT_{n}"))
                    for n in ("NOFILE", "FSIZE", "CORE")],
        "memory": read("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
        "memsw": read("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"),
        "pids": read("/sys/fs/cgroup/pids/pids.max"),
        "cpu": [read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
                read("/sys/fs/cgroup/cpu/cpu.cfs_period_us")],
        "tmp": os.statvfs("/tmp").f_blocks * os.statvfs("/tmp").f_frsize,
        "shm": os.statvfs("/dev/shm").f_blocks * os.statvfs("/dev/shm").f_frsize,
        "env": sorted(i for i in os.environ.items() if i[0] != "HOSTNAME"),
        "net": sorted(os.listdir("/sys/class/net")),
        "root": root, "cwd": os.getcwd(), "argv": sys.argv,
        "docker": os.path.exists("/var/run/docker.sock"),
        "hf": sorted(os.listdir("/hf")), "in": sorted(os.listdir("/hf/in")),
        "warm": "torch" in sys.modules,
    }))
""")


def test_a_warm_job_runs_with_its_own_limits_like_a_cold_one(
    warm_sandbox, docker_sandbox, tmp_path
):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "job.json").write_text("{}")
    lim = Limits(
        memory_mb=1024, cpus=0.5, pids=128, tmpfs_mb=32, shm_mb=16, output_mb=8, nofile=256
    )
    kw = dict(
        limits=lim,
        env={"PYTHONHASHSEED": "0"},
        mounts=[Mount(source=tmp_path / "in", target="/hf/in")],
    )
    cold = docker_sandbox.run(_job(tmp_path, ENVIRONMENT, "cold", **kw))
    hot = _run_warm(warm_sandbox, _job(tmp_path, ENVIRONMENT, "warm", **kw))
    seen_cold, seen = json.loads(cold.log_tail), json.loads(hot.log_tail)
    assert seen.pop("warm") and not seen_cold.pop("warm")
    assert seen == seen_cold
    assert seen["memory"] == seen["memsw"] == str(1024 * 2**20)
    assert seen["pids"] == "128"
    assert seen["cpu"] == ["50000", "100000"]
    assert seen["rlimits"] == [[256, 256], [8 * 2**20, 8 * 2**20], [0, 0]]
    assert seen["tmp"] == 32 * 2**20 and seen["shm"] == 16 * 2**20
    assert seen["caps"] == "0000000000000000" and seen["nnp"] == "1"
    assert seen["net"] == ["lo"] and seen["root"] == "error 30" and not seen["docker"]
    assert seen["hf"] == ["in", "out"] and seen["in"] == ["job.json"]


def test_warm_containers_carry_the_cold_hardening(warm_sandbox, tmp_path):
    job = _job(tmp_path, "pass", limits=Limits(memory_mb=1024, pids=100))
    assert warm_sandbox.prewarm(job)
    client = warm_sandbox.client
    (name,) = warm_sandbox.warm_names
    warm_cfg = client.containers.get(name).attrs
    job.out_dir.mkdir(parents=True)
    cold = warm_sandbox._create(job)  # created, never started
    try:
        cold_cfg = client.containers.get(cold.id).attrs
    finally:
        cold.remove(force=True)
    keys = (
        "NetworkMode ReadonlyRootfs CapDrop CapAdd SecurityOpt Memory MemorySwap NanoCpus "
        "PidsLimit ShmSize Tmpfs Ulimits Init Privileged LogConfig"
    ).split()
    assert {k: warm_cfg["HostConfig"][k] for k in keys} == {
        k: cold_cfg["HostConfig"][k] for k in keys
    }
    for k in ("User", "WorkingDir"):
        assert warm_cfg["Config"][k] == cold_cfg["Config"][k]
    assert sorted(warm_cfg["Config"]["Env"]) == sorted(cold_cfg["Config"]["Env"])
    labels = warm_cfg["Config"]["Labels"]
    assert labels[reaper.MANAGED_LABEL] == "1"
    assert labels[reaper.OWNER_LABEL] == reaper.owner_id()
    mounts = {m["Destination"]: m["RW"] for m in warm_cfg["Mounts"]}
    assert mounts == {"/hf": False, "/hf/out": True, "/hfwarm/boot.py": False}
    assert f"{os.getpid()}" in name


def test_an_evaluation_gives_the_same_result_warm_and_cold(warm_sandbox, docker_sandbox, settings):
    home = settings.home / "warm-tests"
    honest = "import torch\n\ndef activation(x):\n    return x * torch.sigmoid(x)\n"
    cold_ev = redteam.small_evaluator("activation", docker_sandbox, home, settings.sandbox.limits)
    warm_ev = redteam.small_evaluator("activation", warm_sandbox, home, settings.sandbox.limits)
    cold = cold_ev.evaluate(honest)
    warm_ev.evaluate(honest + "# fills the pool\n")
    assert warm_sandbox.wait_warm()
    hits = warm_sandbox.warm_counts[0]
    hot = warm_ev.evaluate(honest)
    assert warm_sandbox.warm_counts[0] == hits + 1
    assert hot.status is cold.status is Outcome.OK, hot.reason
    assert hot.cells == cold.cells  # the same logits, scored by the host
    assert hot.win_rate == cold.win_rate
    out = Path(hot.artifacts)
    assert out.parent.parent == home / "attempts" / "activation"
    assert (out / "status.json").exists() and not list(out.glob(".hf-*"))


def test_two_threads_run_at_once_each_in_its_own_container(settings, docker_sandbox, tmp_path):
    sb = DockerSandbox(settings.sandbox, client=docker_sandbox.client, workers=2)
    code = "import socket, time; time.sleep(1.5); print(socket.gethostname())"
    try:
        assert sb.prewarm(_job(tmp_path, code, "like"))
        results: dict[int, RunResult] = {}

        def one(i: int) -> None:
            results[i] = sb.run(_job(tmp_path, code, f"t{i}"))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
        began = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.monotonic() - began
        assert [r.outcome for r in results.values()] == [Outcome.OK, Outcome.OK]
        hosts = {r.log_tail.strip() for r in results.values()}
        assert len(hosts) == 2  # two containers
        assert took < 2 * 1.5  # side by side
        assert sb.warm_counts == (2, 0)
    finally:
        sb.close()
    assert _warm_containers(docker_sandbox.client) == []


ISOLATION = textwrap.dedent("""
    import json, os, socket
    tree = []
    for top, dirs, files in os.walk("/hf"):
        tree += [os.path.join(top, n) for n in dirs + files]
    left = [p for p in ("/tmp/left", "/dev/shm/left", "/hf/out/left") if os.path.exists(p)]
    for p in ("/tmp/left", "/dev/shm/left", "/hf/out/left"):
        open(p, "w").write("from an earlier job")
    print(json.dumps({"tree": sorted(tree), "boot": sorted(os.listdir("/hfwarm")),
                      "host": socket.gethostname(), "left": left,
                      "pid1": open("/proc/1/cmdline").read().split("\\0")[:1]}))
""")


def test_a_hypothesis_finds_nothing_of_another_job_or_of_the_pool(
    settings, docker_sandbox, tmp_path
):
    """Red team: each job lists /hf to the bottom and looks for what an earlier job left; no
    container ever runs a second job."""
    sb = DockerSandbox(settings.sandbox, client=docker_sandbox.client, workers=1)
    client = docker_sandbox.client
    seen = []
    try:
        for i in range(4):
            (tmp_path / f"in{i}").mkdir()
            (tmp_path / f"in{i}" / f"only-job-{i}").write_text(str(i))
            job = _job(
                tmp_path,
                ISOLATION,
                f"iso{i}",
                mounts=[Mount(source=tmp_path / f"in{i}", target="/hf/in")],
            )
            result = _run_warm(sb, job)
            assert result.outcome is Outcome.OK, result.log_tail
            seen.append(json.loads(result.log_tail))
            assert (job.out_dir / "left").read_text() == "from an earlier job"
            assert sorted(p.name for p in job.out_dir.iterdir()) == ["left"]
    finally:
        sb.close()
    for i, s in enumerate(seen):
        assert s["tree"] == ["/hf/in", f"/hf/in/only-job-{i}", "/hf/out"]
        assert s["boot"] == ["boot.py"] and s["left"] == [] and s["pid1"] == ["/sbin/docker-init"]
    hosts = [s["host"] for s in seen]
    assert len(set(hosts)) == 4  # four jobs, four containers
    for host in hosts:  # each removed after its job
        assert not client.containers.list(all=True, filters={"id": host})


FORGER = textwrap.dedent("""
    import os, sys, time
    frame = sys._getframe()
    while frame is not None and "order" not in frame.f_locals:
        frame = frame.f_back
    mark = frame.f_locals["order"]["end"]
    for fd in (1, 2):
        os.write(fd, (mark + "\\n").encode())
    open("/hf/out/.hf-exit", "w").write("0")
    time.sleep(1.5)
    open("/hf/out/late", "w").write("written after the forged end")
""")


def test_a_forged_end_does_not_end_a_job_early(warm_sandbox, tmp_path):
    """The bootstrap's end marks are in the job's reach; the host still waits until the
    kernel says no task is left, and the watchdog keeps watching until then."""
    result = _run_warm(warm_sandbox, _job(tmp_path, FORGER, limits=Limits(wall_seconds=20)))
    assert result.outcome is Outcome.OK
    assert result.wall_seconds >= 1.5
    assert (result.out_dir / "late").read_text() == "written after the forged end"
    assert not (result.out_dir / ".hf-exit").exists()
    hog = FORGER.replace("time.sleep(1.5)", "time.sleep(60)")
    result = _run_warm(warm_sandbox, _job(tmp_path, hog, "hog", limits=Limits(wall_seconds=2)))
    assert result.outcome is Outcome.TIMEOUT


def test_a_dead_idle_container_is_replaced(settings, docker_sandbox, tmp_path):
    sb = DockerSandbox(settings.sandbox, client=docker_sandbox.client, workers=1)
    code = "import sys; print('torch' in sys.modules)"
    try:
        assert sb.prewarm(_job(tmp_path, code, "like"))
        (name,) = sb.warm_names
        sb.client.containers.get(name).kill()
        first = sb.run(_job(tmp_path, code, "after-kill"))
        assert (first.outcome, first.log_tail) == (Outcome.OK, "False\n")  # ran cold
        assert sb.wait_warm()
        second = sb.run(_job(tmp_path, code, "next"))
        assert (second.outcome, second.log_tail) == (Outcome.OK, "True\n")  # a fresh warm one
        assert name not in _warm_containers(sb.client) + sb.warm_names
    finally:
        sb.close()


def test_a_container_whose_bootstrap_fails_leaves_the_job_to_the_cold_path(
    warm_sandbox, docker_sandbox, tmp_path
):
    """128 MiB cannot hold torch: the warm container dies in its preload, never the job."""
    job = _job(tmp_path, "print('small')", limits=Limits(memory_mb=128))
    assert not warm_sandbox.prewarm(job)
    result = warm_sandbox.run(job)
    assert (result.outcome, result.log_tail) == (Outcome.OK, "small\n")


def test_a_job_that_is_not_python_runs_cold_beside_the_pool(warm_sandbox, tmp_path):
    before = warm_sandbox.warm_counts
    job = Job(key="sh", command=["sh", "-c", "echo shell"], out_dir=tmp_path / "out")
    result = warm_sandbox.run(job)
    assert (result.outcome, result.log_tail) == (Outcome.OK, "shell\n")
    assert warm_sandbox.warm_counts == before


ORCHESTRATOR = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from core.settings import load_settings
    from sandbox.base import Job
    from sandbox.docker_sandbox import DockerSandbox
    sb = DockerSandbox(load_settings().sandbox, workers=1)
    job = Job(key="orphan", command=["python3", "-c", "pass"], out_dir=Path(sys.argv[1]))
    assert sb.prewarm(job)
    print("WARM", flush=True)
    time.sleep(600)
""")


def test_the_warm_containers_of_a_killed_orchestrator_are_reaped(docker_sandbox, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", ORCHESTRATOR, str(tmp_path / "out")],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "WARM"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    owner = reaper.owner_id(proc.pid).rsplit("/", 1)[0]
    client = docker_sandbox.client
    flt = {"label": "hypoforge.warm=1"}
    orphans = [
        c.name
        for c in reaper.listed(client, **flt)
        if c.labels[reaper.OWNER_LABEL].startswith(owner + "/")
    ]
    assert len(orphans) == 1 and orphans[0].startswith(f"hf-warm-{proc.pid}-")
    (root,) = [
        p
        for p in Path(tempfile.gettempdir()).glob("hf-warm-*")
        if (p / "owner").read_text().startswith(owner + "/")
    ]
    removed = docker_sandbox.reap_orphans()
    assert orphans[0] in removed and root.name in removed
    assert not client.containers.list(all=True, filters={"name": orphans[0]})
    assert not root.exists()


def test_a_folder_where_the_exit_file_goes_is_the_jobs_business(warm_sandbox, tmp_path):
    """Red team: a job that makes ``.hf-exit`` a folder ends as itself; the host does not
    crash on removing it (a crash would repeat on every resume)."""
    code = "import os; os.mkdir('/hf/out/.hf-exit'); open('/hf/out/kept.txt', 'w').write('x')"
    result = _run_warm(warm_sandbox, _job(tmp_path, code))
    assert result.outcome is Outcome.OK, result.reason
    assert (result.out_dir / "kept.txt").read_text() == "x"


def test_a_job_cannot_pass_for_one_that_never_started(warm_sandbox, tmp_path):
    """Red team: a job that writes a go file of its own and fails is that failure, in its warm
    container; it does not get a second, cold run."""
    code = (
        "import os, sys\n"
        "warm = os.path.exists('/hfwarm')\n"
        "open('/hf/out/ran.txt', 'w').write(str(warm))\n"
        "open('/hf/out/.hf-go', 'w').write('{}')\n"
        "sys.exit(3)\n"
    )
    result = _run_warm(warm_sandbox, _job(tmp_path, code))
    assert (result.outcome, result.exit_code) == (Outcome.HYP_ERROR, 3)
    assert (result.out_dir / "ran.txt").read_text() == "True"  # the warm run's output
