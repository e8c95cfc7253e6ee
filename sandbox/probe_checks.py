"""The parts of the adversarial catalogue (``sandbox.probes``): what an attack is, and the checks
run on the host after a probe's container has ended, to see that the host was left unaffected.
"""

from __future__ import annotations

import os
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.records import Outcome
from core.settings import Limits
from sandbox.base import RunResult

SECRET_NAME = "HYPOFORGE_PROBE_SECRET"
SECRET_VALUE = "probe-secret-7f3a9c"
RELAUNCH_MARK = "hf-relaunch-probe"
PROBE_WALL_SECONDS = 4.0  # wall-clock limit of a probe unless it sets its own

HostCheck = Callable[[RunResult], str | None]


@dataclass(frozen=True)
class Attack:
    """One hostile probe of the sandbox: its program and the outcome a safe sandbox must give
    (a hypothesis's property probe is ``evaluators.activation.harness.Probe``)."""

    case: int
    name: str
    code: str
    expect: Outcome
    marker: str | None = None
    limits: dict = field(default_factory=dict)
    host_check: HostCheck | None = None
    quick: bool = False  # part of the default `hypoforge sandbox check`

    def limits_for(self, base: Limits) -> Limits:
        return base.model_copy(update={"wall_seconds": PROBE_WALL_SECONDS, **self.limits})


def program(s: str) -> str:
    """A probe's Python source, from an indented triple-quoted string."""
    return textwrap.dedent(s).strip() + "\n"


def no_relaunched_processes(_: RunResult) -> str | None:
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if RELAUNCH_MARK.encode() in cmdline and int(proc.name) != os.getpid():
            return f"process {proc.name} from the probe still runs on the host"
    return None


def beacon_stopped(result: RunResult) -> str | None:
    beacon = result.out_dir / "beacon"
    if not beacon.exists():
        return "the daemonized child never wrote its beacon"
    before = beacon.stat().st_size
    time.sleep(1.0)
    if beacon.stat().st_size != before:
        return "the daemonized child keeps writing after the container ended"
    return None


def within(extra: float) -> HostCheck:
    def check(result: RunResult) -> str | None:
        limit = PROBE_WALL_SECONDS + extra
        if result.wall_seconds > limit:
            return f"ran {result.wall_seconds:.1f} s, more than {limit:.1f} s"
        return None

    return check


def pids_bounded(limit: int) -> HostCheck:
    def check(result: RunResult) -> str | None:
        if result.pids_peak is not None and result.pids_peak > limit:
            return f"{result.pids_peak} tasks, over the {limit} pids limit"
        return within(3.0)(result)

    return check


def log_capped(result: RunResult) -> str | None:
    if len(result.log_tail.encode()) > 3 * Limits().log_tail_bytes:
        return f"kept {len(result.log_tail)} characters of log"
    return None
