"""Typed records shared by the sandbox, the evaluators and the CLI."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.text import clean


class Outcome(StrEnum):
    """The closed set of terminal outcomes of one evaluation attempt.

    ``infra_error`` is the machinery's fault and never counts against a hypothesis.
    """

    OK = "ok"
    INVALID = "invalid"  # rejected by the validator (static or property check)
    HYP_ERROR = "hyp_error"  # the hypothesis raised or exited non-zero
    TIMEOUT = "timeout"  # killed by the host's wall clock
    OOM = "oom"  # killed by the memory limit
    DISK_QUOTA = "disk_quota"  # exceeded the output size / file-count budget
    NONFINITE = "nonfinite"  # NaN or inf predictions
    INVALID_RESULT = "invalid_result"  # missing, malformed or oversized artifacts
    INFRA_ERROR = "infra_error"  # Docker, disk or image trouble

    @property
    def counts_against_hypothesis(self) -> bool:
        return self is not Outcome.INFRA_ERROR


class Stage(StrEnum):
    """How far a hypothesis got in a campaign (``HypothesisRow.stage``); the closed set.

    The round moves a hypothesis forward through the first group; each of the second is final.
    Which stage may follow which, and the transitions that move a row, are ``store.lifecycle``.
    """

    PROPOSED = "proposed"  # code written by the proposer (or the coder after a repair)
    NEEDS_REPAIR = "needs_repair"  # a check failed or the critic said revise: back to the coder
    CODED = "coded"  # passed the static check, waits for the gate (the user) and the probe
    PROBED = "probed"  # the probe passed: a fingerprint, waits for selection
    SELECTED = "selected"  # the reward model chose it for screening
    SCREENED = "screened"  # measured on the first rung of the ladder
    EVALUATED = "evaluated"  # measured on a later rung (short, full)
    REJECTED = "rejected"  # final: the critic said reject
    INVALID = "invalid"  # final: unparseable, or the static check failed with no repairs left
    DUPLICATE = "duplicate"  # final: same code or behaviour as an earlier one; result reused
    PRUNED = "pruned"  # final: the reward model ranked it out of the top k
    VETOED = "vetoed"  # final: the user vetoed it before its code ran
    FAILED = "failed"  # final: the probe or screening failed with no repairs (or no coder) left


class NeverRan(StrEnum):
    """Why a hypothesis never ran in the sandbox; with ``Outcome``, its ``Fate``."""

    REJECTED = "rejected"  # the critic said reject
    DUPLICATE = "duplicate"  # same code or same behaviour as an earlier one: its result is reused
    PRUNED = "pruned"  # the reward model ranked it out, or a published component not screened
    VETOED = "vetoed"  # the user vetoed it


# A hypothesis's outcome in the ledger (``HypothesisRow.outcome``): the sandbox outcome of its
# last run, or why it never ran. Two enums with no shared value, so each stored string parses to
# exactly one member and no value is converted between them.
Fate: TypeAlias = Outcome | NeverRan

# The proposer's mode: a variation of the best so far, or a new direction.
Mode = Literal["incremental", "novel"]
# The critic's decision on a proposal (``agents.critic.Verdict.decision``).
CriticDecision = Literal["run", "revise", "reject"]


class Confirmation(StrEnum):
    """The verdict of a kept hypothesis's run on held-out splits (``HypothesisRow.confirmation``):
    confirmed, not confirmed (also when the harness flagged the result), or failed with the run's
    outcome."""

    CONFIRMED = "confirmed"
    NOT_CONFIRMED = "not confirmed"
    FLAGGED = "not confirmed: flagged"
    FAILED_OK = "failed: ok"  # an OK run that produced no win rate
    FAILED_INVALID = "failed: invalid"
    FAILED_HYP_ERROR = "failed: hyp_error"
    FAILED_TIMEOUT = "failed: timeout"
    FAILED_OOM = "failed: oom"
    FAILED_DISK_QUOTA = "failed: disk_quota"
    FAILED_NONFINITE = "failed: nonfinite"
    FAILED_INVALID_RESULT = "failed: invalid_result"
    FAILED_INFRA_ERROR = "failed: infra_error"

    @classmethod
    def failed(cls, outcome: Outcome) -> Confirmation:
        """The confirmation of a run that ended with ``outcome`` and no win rate."""
        return cls(f"failed: {outcome.value}")


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetScore(_Record):
    """Per-dataset summary: mean test accuracy over seeds, for the candidate and each baseline."""

    candidate: float
    baselines: dict[str, float]
    win_rate: float


class EvalReport(_Record):
    """The one structured result of evaluating one hypothesis. Every number is host-computed."""

    task: str
    budget: str
    status: Outcome
    reason: str = ""
    win_rate: float | None = None
    win_rate_ci: tuple[float, float] | None = None
    comparisons: int = 0
    per_dataset: dict[str, DatasetScore] = Field(default_factory=dict)
    flags: tuple[str, ...] = ()  # caveats of an OK result, e.g. "over the parameter budget"
    image: str | None = None
    harness_version: str
    code_sha: str
    wall_seconds: float
    log_tail: str = ""
    artifacts: str | None = None  # the attempt's output folder (untrusted files: read with care)
    data_secret: str | None = None  # id(s) of the data secret the splits came from, never the key
    split_set: str | None = None  # the task's split set scored: selection, confirmation, hard
    splits_id: str | None = None  # hash of the scored splits' names and secret ids
    cells: dict[str, float] = Field(default_factory=dict)  # the metric per "<dataset>-s<seed>"
    cell_win_rates: dict[str, float] = Field(default_factory=dict)  # mean comparison per cell
    # sha256 of each split's arrays as the sandbox was fed them, by split name (reproduction)
    data_hashes: dict[str, str] = Field(default_factory=dict)
    # Where training sent the inputs of the hypothesis (activation: per cell of the fingerprint's
    # grid, the largest share of a split's pre-activations there); None when not recorded.
    reach: tuple[float, ...] | None = None

    @field_validator("reason", "log_tail")
    @classmethod
    def _clean(cls, v: str) -> str:
        """Reasons and logs quote hypotheses and containers: no escape sequences kept."""
        return clean(v)


class HypothesisRow(BaseModel):
    """One proposal's life: from idea to final outcome. ``stage`` says how far it got."""

    model_config = ConfigDict(extra="forbid")
    campaign: str
    id: str
    round: int
    mode: Mode
    idea: str
    code_sha: str | None = None
    stage: Stage = Stage.PROPOSED  # moved only by ``store.lifecycle``
    verdict: CriticDecision | None = None
    p_win: float | None = None  # the critic's predicted chance to beat the baselines
    outcome: Fate | None = None
    reason: str | None = None
    flags: list[str] = Field(default_factory=list)  # the harness's caveats on an OK result
    screen_win_rate: float | None = None
    full_win_rate: float | None = None
    repairs: int = 0
    predicted: float | None = None  # the reward model's predicted win rate when it ranked this
    duplicate_of: str | None = None  # archive id (campaign/hypothesis) of the original
    rungs: dict[str, float] = Field(default_factory=dict)  # budget -> win rate, on the ladder
    # The keep decision (multiple-comparison corrected; None: not judged yet) and the
    # confirmation on held-out splits (None: not run); ``store.lifecycle`` decides both.
    kept: bool | None = None
    confirm_win_rate: float | None = None
    confirmation: Confirmation | None = None
    # A published component it behaves like ("same as Mish", "close to SiLU"), with the citation
    # (graph/literature.py, the task's catalogue).
    known: str | None = None
    citation: str | None = None
    # Lineage: the hypothesis (an id of this campaign, e.g. "r0-1") whose code this one builds on;
    # None for a fresh idea. For an edit task its source holds the parent's edits, then its own.
    parent: str | None = None

    @property
    def selection_win_rate(self) -> float | None:
        """The win rate on the highest rung of the ladder it reached (selection splits)."""
        if self.full_win_rate is not None:
            return self.full_win_rate
        for budget in ("short", "one-pass"):
            if budget in self.rungs:
                return self.rungs[budget]
        return self.screen_win_rate

    @property
    def flagged(self) -> bool:
        """An OK result the harness flagged (a bigger model, say): not a win."""
        return self.outcome == Outcome.OK and bool(self.flags)
