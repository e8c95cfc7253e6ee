"""The ``[template]`` table of a template task's ``task.toml``, checked (``TemplateSpec``).

::

    [template]
    script = "train.py"            # the training script, with marked editable blocks
    data = "data.py"               # the host-side data module (never mounted into a container)
    metric = "accuracy"            # one of evaluators.template.metrics.METRICS
    required = { model = "Model", optimizer = "make_optimizer", loss = "loss_fn" }
    parameter_budget = 1.10        # times the unedited template's parameter count
    modules = []                   # modules the script may import beyond the runner's
    version = "..."                # optional declared harness version (built-in tasks)
    model_blocks = ["model"]       # blocks that may define classes and build nn layers
    optimizer_blocks = ["optimizer"]  # blocks that may build torch.optim optimizers

    [template.rungs.one-pass]      # one table per rung of the ladder: one-pass, short, full
    steps = 300                    # any keys: the script gets them as ``rung``
    wall_seconds = 90              # the host's wall clock for one candidate on all splits

A bad value is a ``ConfigError`` of one line naming the file and the key (``registry.read_spec``
formats pydantic's first error; the validators' messages say what would be right).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

RUNGS = ("one-pass", "short", "full")  # the ladder's rungs (evaluators.kit.budgets)
IDENTIFIER = re.compile(r"^[A-Za-z_]\w*$")
MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
# Modules no script is handed: the interpreter, files, processes, C bridges.
NEVER_MODULES = frozenset(
    "os sys builtins ctypes subprocess importlib io shutil socket pickle marshal gc inspect "
    "types pathlib tempfile signal threading multiprocessing runpy code codeop".split()
)
FileName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*\.py$")]


class Rung(BaseModel):
    """One rung: the host's wall clock, and the script's own units (any other keys)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    wall_seconds: Annotated[float, Field(gt=0, le=24 * 3600)]

    def table(self) -> dict[str, Any]:
        """What the script gets as ``rung``: every key but ``wall_seconds``."""
        return dict(self.model_extra or {})

    @model_validator(mode="after")
    def _keys(self) -> Rung:
        for key in self.model_extra or {}:
            if not IDENTIFIER.match(key):
                raise ValueError(f"rung key {key!r} is not a Python identifier")
        return self


class TemplateSpec(BaseModel):
    """A template task's ``[template]`` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    script: FileName = "train.py"
    data: FileName = "data.py"
    metric: str
    required: dict[str, str] = Field(default_factory=dict)
    parameter_budget: Annotated[float, Field(ge=1.0, le=100.0)] = 1.10
    modules: list[str] = Field(default_factory=list)
    version: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")] | None = None
    model_blocks: list[str] = Field(default_factory=lambda: ["model"])
    optimizer_blocks: list[str] = Field(default_factory=lambda: ["optimizer"])
    rungs: dict[str, Rung]

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        from evaluators.template.metrics import METRICS

        if value not in METRICS:
            raise ValueError(f"unknown metric {value!r}; choose one of: {', '.join(METRICS)}")
        return value

    @field_validator("required")
    @classmethod
    def _required(cls, value: dict[str, str]) -> dict[str, str]:
        for block, name in value.items():
            if not IDENTIFIER.match(block) or not IDENTIFIER.match(name):
                raise ValueError(f"{block} = {name!r}: block and name must be identifiers")
        return value

    @field_validator("modules")
    @classmethod
    def _modules(cls, value: list[str]) -> list[str]:
        for name in value:
            if not MODULE.match(name):
                raise ValueError(f"{name!r} is not a module name")
            if name.split(".")[0] in NEVER_MODULES:
                raise ValueError(f"{name!r} is not a module a training script may be handed")
        return value

    @field_validator("model_blocks", "optimizer_blocks")
    @classmethod
    def _blocks(cls, value: list[str]) -> list[str]:
        for name in value:
            if not IDENTIFIER.match(name):
                raise ValueError(f"{name!r} is not a block name")
        return value

    @field_validator("rungs")
    @classmethod
    def _rungs(cls, value: dict[str, Rung]) -> dict[str, Rung]:
        missing = [r for r in RUNGS if r not in value]
        unknown = sorted(set(value) - set(RUNGS))
        if missing or unknown:
            wrong = f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(unknown)}"
            raise ValueError(f"{wrong}: the rungs are exactly {', '.join(RUNGS)}")
        return value

    def rung(self, name: str) -> Rung:
        """The rung ``name`` (one of ``RUNGS``: the spec has them all)."""
        return self.rungs[name]
