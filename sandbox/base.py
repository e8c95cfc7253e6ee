"""The sandbox interface and its request/response records.

A ``Job`` says what to run and with which files; the sandbox runs it in isolation and returns one
``RunResult``. The sandbox knows nothing of tasks or scores: it reports how the process ended and
where its output folder is. Evaluators turn that into a scored outcome.
"""

from __future__ import annotations

import abc
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.records import Outcome
from core.settings import Limits
from core.text import clean

# The only variables a container ever sees. Host variables (API keys, tokens) are never passed.
ENV_ALLOWLIST = frozenset(
    {
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "PYTHONHASHSEED",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONUNBUFFERED",
        "HOME",
        "TMPDIR",
        "TZ",
        "MPLCONFIGDIR",
        "TORCH_HOME",
    }
)

# Outcomes a sandbox can decide itself; finer ones (invalid, nonfinite, ...) are the evaluator's.
SANDBOX_OUTCOMES = frozenset(
    {
        Outcome.OK,
        Outcome.HYP_ERROR,
        Outcome.TIMEOUT,
        Outcome.OOM,
        Outcome.DISK_QUOTA,
        Outcome.INFRA_ERROR,
    }
)

OUT_DIR = "/hf/out"  # where a job writes; the only writable mount


class Mount(BaseModel):
    """A host path made visible in the container. Read-only unless said otherwise."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    source: Path
    target: str

    @field_validator("target")
    @classmethod
    def _under_hf(cls, v: str) -> str:
        if not v.startswith("/hf/") or v.startswith(OUT_DIR) or ".." in v:
            raise ValueError(f"mount target must lie under /hf/ and outside {OUT_DIR}: {v}")
        return v


class Job(BaseModel):
    """One run of untrusted code. ``key`` is deterministic: the same job gets the same name."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    key: str
    command: list[str]
    mounts: list[Mount] = Field(default_factory=list)
    out_dir: Path  # host folder, mounted read-write at /hf/out; must be empty
    limits: Limits = Limits()
    env: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("key")
    @classmethod
    def _key_shape(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,100}", v):
            raise ValueError(f"job key must be lower-case [a-z0-9_.-], got {v!r}")
        return v

    @field_validator("env")
    @classmethod
    def _env_allowed(cls, v: dict[str, str]) -> dict[str, str]:
        bad = sorted(set(v) - ENV_ALLOWLIST)
        if bad:
            raise ValueError(f"environment variables not in the allowlist: {bad}")
        return v


class RunResult(BaseModel):
    """How one job ended, as observed from the host."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    outcome: Outcome
    reason: str = ""
    exit_code: int | None = None
    wall_seconds: float = 0.0
    timed_out: bool = False
    oom_killed: bool = False
    quota_exceeded: bool = False
    pids_peak: int | None = None
    log_tail: str = ""
    out_dir: Path
    image: str | None = None  # tag@id of the image that ran the job

    @field_validator("reason", "log_tail")
    @classmethod
    def _clean(cls, v: str) -> str:
        """A container's output reaches terminals: no escape sequences or controls kept."""
        return clean(v)

    @field_validator("outcome")
    @classmethod
    def _sandbox_outcome(cls, v: Outcome) -> Outcome:
        if v not in SANDBOX_OUTCOMES:
            raise ValueError(f"a sandbox cannot decide outcome {v}")
        return v


class Sandbox(abc.ABC):
    """Runs jobs in isolation. Implementations enforce ``Job.limits`` from outside the job."""

    @abc.abstractmethod
    def preflight(self) -> None:
        """Raise an ``InfraError`` if jobs cannot be launched now (engine, image, disk)."""

    @abc.abstractmethod
    def run(self, job: Job) -> RunResult:
        """Run one job to its end. Infra trouble is reported as ``infra_error``, not raised."""

    @abc.abstractmethod
    def image_ref(self) -> str:
        """The ``tag@id`` of the environment jobs run in; recorded with every result."""

    @abc.abstractmethod
    def reap_orphans(self) -> list[str]:
        """Remove what runs whose owner process died left behind; return what was removed."""

    def capacity(self) -> int | None:
        """Jobs it can run at once when it knows better than this machine's cores (a cluster's
        worker slots); None: ask the machine (``sandbox.capacity``)."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources and remove anything this sandbox left behind."""
