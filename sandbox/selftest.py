"""Runs the adversarial probes against a sandbox and says which ones it contained."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from core.settings import Limits
from sandbox.base import Job, RunResult, Sandbox
from sandbox.probes import PROBES, Attack


@dataclass(frozen=True)
class ProbeReport:
    probe: Attack
    result: RunResult
    problem: str | None  # None: contained as expected

    @property
    def passed(self) -> bool:
        return self.problem is None


def run_probe(
    sandbox: Sandbox, probe: Attack, work: Path, base: Limits | None = None
) -> ProbeReport:
    """Run one probe in a fresh container and judge it."""
    slug = re.sub(r"[^a-z0-9]+", "-", probe.name.lower()).strip("-")
    key = f"probe-{probe.case}-{slug}"
    out_dir = Path(tempfile.mkdtemp(prefix=f"{key}-", dir=work)) / "out"
    job = Job(
        key=f"{key}-{out_dir.parent.name.rsplit('-', 1)[-1].lower()}",
        command=["python3", "-c", probe.code],
        out_dir=out_dir,
        limits=probe.limits_for(base or Limits()),
        labels={"hypoforge.probe": str(probe.case)},
    )
    result = sandbox.run(job)
    return ProbeReport(probe, result, _judge(probe, result))


def _judge(probe: Attack, result: RunResult) -> str | None:
    if result.outcome is not probe.expect:
        return f"outcome {result.outcome}, expected {probe.expect} ({result.reason})"
    if probe.marker and probe.marker not in result.log_tail:
        tail = result.log_tail.strip().splitlines()[-1:] or ["<no output>"]
        return f"marker {probe.marker!r} missing; last line: {tail[0][:200]}"
    if probe.host_check is not None:
        return probe.host_check(result)
    return None


def run_all(sandbox: Sandbox, work: Path, *, quick: bool) -> list[ProbeReport]:
    probes = [p for p in PROBES if p.quick or not quick]
    return [run_probe(sandbox, p, work) for p in probes]
