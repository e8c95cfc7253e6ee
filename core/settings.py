"""Settings: one validated object, resolved once at the edge (the CLI) and passed down."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from core.errors import ConfigError


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(_Config):
    """Per-container resource limits. Enforced by Docker and by the host's clock and watchdog."""

    wall_seconds: float = Field(300.0, gt=0)
    grace_seconds: float = Field(1.0, ge=0)  # SIGTERM -> SIGKILL escalation
    memory_mb: int = Field(2048, ge=64)  # memory == memory+swap: no swap
    cpus: float = Field(1.0, gt=0)
    gpus: int = Field(0, ge=0)  # passed through to the container (and asked of Ray) when > 0
    pids: int = Field(512, ge=16)  # counts threads too: torch needs a few dozen
    tmpfs_mb: int = Field(64, ge=1)  # /tmp, charged to the memory limit
    shm_mb: int = Field(64, ge=1)
    output_mb: int = Field(64, ge=1)  # per-attempt output budget; also the largest single file
    output_files: int = Field(256, ge=1)  # entries: files, folders, links
    output_depth: int = Field(32, ge=1)  # levels of nested folders (removal needs no limit)
    nofile: int = Field(1024, ge=64)
    log_tail_bytes: int = Field(8192, ge=256)  # how much of stdout/stderr is kept


class DockerSandboxSettings(_Config):
    type: Literal["docker"] = "docker"
    image: str | None = None  # None: the tag derived from the image recipe (sandbox.build)
    disk_floor_mb: int = Field(1024, ge=0)  # no launch below this much free disk
    api_timeout_seconds: float = Field(60.0, gt=0)
    poll_seconds: float = Field(0.1, gt=0)
    # Attempt folders kept after scoring: "ok" keeps those of scored results (fingerprints,
    # report plots), "all" keeps failures too (for debugging), "none" keeps nothing.
    keep_attempts: Literal["none", "ok", "all"] = "ok"
    limits: Limits = Limits()
    # Containers at once in a campaign (probe, screening, ladder, confirmation). None: what the
    # machine's cores and memory allow for ``limits`` (``sandbox.capacity.default_workers``).
    workers: int | None = Field(None, ge=1, le=256)
    # The GPUs (ids) this sandbox's containers may use when a job asks for some; empty: Docker's
    # first ones. A Ray actor sets the ids Ray assigned to it.
    gpu_devices: tuple[str, ...] = ()
    # Warm start (sandbox/warm.py): each worker's next container is started ahead, its modules
    # imported, and gets its one job after that. False: every job starts cold.
    warm: bool = True
    warm_preload: tuple[str, ...] = ("numpy", "torch", "torch._dynamo")
    warm_idle_seconds: float = Field(3600.0, gt=0)  # an unused warm container then exits
    # When a worker's next container starts: "during" its job, "after" it (a start takes CPU
    # the job then lacks), "auto": during where the cores allow one more job beside the workers'.
    warm_refill: Literal["auto", "during", "after"] = "auto"
    # Where warm containers' folders live (None: the system's temp folder). On the filesystem of
    # HYPOFORGE_HOME a job's output is renamed into its attempt folder instead of copied.
    warm_dir: Path | None = None


class LLMSettings(_Config):
    """Where the agents' chat model lives. ``embedded`` starts a local model (no key, offline)."""

    endpoint: str = "embedded"  # or an OpenAI-compatible base URL, e.g. http://host:8000/v1
    model: str = "smollm2"
    api_key_env: str = "OPENAI_API_KEY"  # read from the environment; never stored
    roles: dict[Literal["proposer", "critic", "coder", "analyst"], str] = Field(
        default_factory=dict
    )  # per-role model names
    temperature: float = Field(0.8, ge=0, le=2)
    max_tokens: int = Field(400, ge=16)
    timeout_seconds: float = Field(120.0, gt=0)
    retries: int = Field(2, ge=0, le=10)  # extra tries when a reply cannot be parsed
    # Constrain replies with the task's GBNF grammars (llama.cpp servers accept them; OpenAI does
    # not). "auto": on for the embedded model only.
    grammar: Literal["auto", "on", "off"] = "auto"
    # LLM calls in flight at once (the proposer's, critic's and coder's calls of a round fan
    # out up to this bound). None: 1 for the embedded server (one slot), 8 for a URL.
    max_concurrency: int | None = Field(None, ge=1, le=256)

    @property
    def use_grammar(self) -> bool:
        return self.grammar == "on" or (self.grammar == "auto" and self.endpoint == "embedded")

    @property
    def concurrency(self) -> int:
        if self.max_concurrency is not None:
            return self.max_concurrency
        return 1 if self.endpoint == "embedded" else 8


# How a proposal picks the hypothesis it builds on (``HypothesisRow.parent``): "best" the best
# scored so far, "diverse" a leader on some dataset that few children build on yet, "new" none (a
# fresh idea). ``graph.lineage`` deals them out.
LineageKind = Literal["best", "diverse", "new"]
LINEAGE: dict[LineageKind, float] = {"best": 0.5, "diverse": 0.25, "new": 0.25}  # the default

# The name of a rung of the promotion ladder (its numbers: ``evaluators.kit.budgets.Budget``).
BudgetName = Literal["one-pass", "short", "full"]


class CampaignSettings(_Config):
    """Hard budgets, enforced by the orchestrator; nothing an agent writes can change them."""

    proposals: int = Field(6, ge=1)  # hypotheses proposed in all
    batch: int = Field(2, ge=1)  # proposals per round
    hours: float = Field(1.0, gt=0)  # wall-clock budget
    tokens: int = Field(200_000, ge=1)  # LLM tokens (prompt + completion)
    repairs: int = Field(2, ge=0, le=10)  # coder attempts after a validation failure
    screen_top_k: int = Field(4, ge=1)  # probed hypotheses the reward model keeps per round
    # The promotion ladder (successive halving): the first budget screens every selected
    # hypothesis; each later rung runs the best of the rung before. ``promote`` holds the
    # survivor counts of the middle rungs, ``full_top_k`` that of the last (0: screening only).
    ladder: tuple[BudgetName, ...] = ("one-pass", "short", "full")
    promote: tuple[int, ...] = (2,)
    full_top_k: int = Field(1, ge=0)  # survivors of the last rung per round
    # A kept hypothesis is re-run at the last rung's budget on the task's confirmation splits
    # (held out from selection); only a confirmed one is called a discovery.
    confirm: bool = True
    splits: Literal["selection", "hard"] = "selection"  # the task's split set for selection
    # A hypothesis that behaves like a published component (the task's catalogue): "once"
    # screens it as a reference point, no further; "yes" runs it like any other; "never" does
    # not run it. It is never a discovery.
    allow_known: Literal["once", "yes", "never"] = "once"
    exploration: float = Field(1.0, ge=0)  # weight of the reward model's uncertainty bonus
    reward_model: Literal["gp", "ridge"] = "gp"
    generator: Literal["llm", "search"] = "llm"  # who proposes: the LLM or the built-in search
    mode: Literal["incremental", "novel", "mixed"] = "mixed"
    # Experiment iteration: the shares of the ways proposals pick a parent, dealt out over the
    # campaign's proposals in a fixed order (``[campaign] lineage = {best = 0.5, new = 0.5}``);
    # one name alone (``lineage = "new"``) gives every proposal that way. A proposal with no
    # parent to pick (the first round) is a new idea.
    lineage: dict[LineageKind, float] = Field(default_factory=lambda: dict(LINEAGE))
    approve: bool = False  # a human says yes or no (hypoforge chat) before each sandbox launch
    cost: float | None = Field(None, gt=0)  # spending cap, in the currency of the price below
    price_per_million_tokens: float | None = Field(None, ge=0)

    @field_validator("lineage", mode="before")
    @classmethod
    def _one_lineage(cls, value: object) -> object:
        return {value: 1.0} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _lineage_shares(self) -> CampaignSettings:
        if any(w < 0 for w in self.lineage.values()) or sum(self.lineage.values()) <= 0:
            raise ValueError("lineage: shares are zero or more, and not all zero")
        return self

    @model_validator(mode="after")
    def _cost_needs_price(self) -> CampaignSettings:
        if self.cost is not None and self.price_per_million_tokens is None:
            raise ValueError("a cost budget needs price_per_million_tokens")
        return self

    @model_validator(mode="after")
    def _ladder(self) -> CampaignSettings:
        if len(set(self.ladder)) != len(self.ladder) or not self.ladder:
            raise ValueError("ladder: one or more distinct budgets, cheapest first")
        if len(self.promote) != max(0, len(self.ladder) - 2):
            raise ValueError(
                f"promote: one survivor count per middle rung of the ladder "
                f"({max(0, len(self.ladder) - 2)} for {len(self.ladder)} rungs)"
            )
        if any(p < 1 for p in self.promote):
            raise ValueError("promote: survivor counts are at least 1")
        return self

    def survivors(self) -> list[int]:
        """How many of a round's hypotheses each rung after the first runs (non-increasing;
        all 0 when ``full_top_k`` is 0, the ladder then stops at screening)."""
        if self.full_top_k == 0:
            return [0] * (len(self.ladder) - 1)
        counts, prev = [], None
        for n in (*self.promote, self.full_top_k):
            prev = n if prev is None else min(prev, n)
            counts.append(prev)
        return counts

    def spent(self, tokens: int) -> float | None:
        """Money spent on ``tokens``, when a price is configured."""
        if self.price_per_million_tokens is None:
            return None
        return tokens * self.price_per_million_tokens / 1e6


class DockerExecutor(_Config):
    """Sandbox jobs run in this machine's Docker engine (``sandbox/docker_sandbox.py``)."""

    type: Literal["docker", "local"] = "docker"  # "local": the name older settings files use


class RayExecutor(_Config):
    """Sandbox jobs run on the nodes of a Ray cluster, each in its node's Docker engine: the
    same hardened sandbox (``sandbox/ray_sandbox.py``)."""

    type: Literal["ray"] = "ray"
    ray_address: str = "auto"  # "auto" (a cluster started with `ray start`), or ray://HOST:PORT


def _executor_kind(value: object) -> str | None:
    """Which executor a table or object names (a table without ``type``: this machine's);
    None for a name that is neither, which the union reports in one line."""
    if isinstance(value, Mapping):
        kind = value.get("type", "docker")
    else:
        kind = getattr(value, "type", None)
    if kind in ("docker", "local"):
        return "docker"
    return "ray" if kind == "ray" else None


# Where sandbox jobs run: ``[executor] type = "docker"`` (the default) or ``"ray"``; each kind
# refuses the keys of the other (a Ray address for local jobs is a mistake worth naming).
# ``sandbox.factory.build`` turns it into a sandbox.
ExecutorSettings = Annotated[
    Annotated[DockerExecutor, Tag("docker")] | Annotated[RayExecutor, Tag("ray")],
    Discriminator(
        _executor_kind,
        custom_error_type="executor_type",
        custom_error_message="type is 'docker' (this machine) or 'ray' (a Ray cluster)",
    ),
]


class LiteratureSettings(_Config):
    """The online literature check (``literature/scholar.py``, ``agents/literature.py``): off by
    default; used with a URL endpoint only (the embedded model has the catalogue match alone).
    Responses are cached in HOME/literature; keys come from the environment (S2_API_KEY,
    OPENALEX_EMAIL, OPENALEX_API_KEY)."""

    online: bool = False
    rounds: int = Field(3, ge=1, le=10)  # searches the critic may make per proposal
    sources: tuple[Literal["semantic_scholar", "openalex"], ...] = Field(
        ("semantic_scholar", "openalex"), min_length=1
    )
    cap_seconds: float = Field(60.0, gt=0, le=3600)  # the whole check, waits included
    cache_days: float = Field(30.0, gt=0)  # a cached answer older than this is asked again
    # After a source timed out or was unreachable, checks skip it this long (0: never).
    breaker_seconds: float = Field(300.0, ge=0)
    semantic_scholar_url: str = "https://api.semanticscholar.org/graph/v1"
    openalex_url: str = "https://api.openalex.org"


class Settings(_Config):
    home: Path  # caches, attempt folders, baseline results
    sandbox: DockerSandboxSettings = DockerSandboxSettings()
    executor: ExecutorSettings = DockerExecutor()
    llm: LLMSettings = LLMSettings()
    campaign: CampaignSettings = CampaignSettings()
    literature: LiteratureSettings = LiteratureSettings()


def default_home(env: Mapping[str, str]) -> Path:
    if "HYPOFORGE_HOME" in env:
        return Path(env["HYPOFORGE_HOME"]).expanduser()
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hypoforge"


def load_settings(config: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from an optional TOML file, then ``HYPOFORGE_*`` variables.

    Raises ``ConfigError`` with the offending key for anything malformed.
    """
    env = os.environ if env is None else env
    data: dict = {}
    if config is not None:
        try:
            data = tomllib.loads(config.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {config}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config}: not valid TOML: {exc}") from None
    data.setdefault("home", str(default_home(env)))
    if "HYPOFORGE_IMAGE" in env:
        data.setdefault("sandbox", {})["image"] = env["HYPOFORGE_IMAGE"]
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        source = config if config is not None else "settings"
        raise ConfigError(f"{source}: {where}: {first['msg']}") from None
