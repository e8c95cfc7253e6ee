"""The catalogue of published components of a task: what a proposal may be under another name.

Each task folder may hold ``catalogue.toml``: entries with a name, a description in words, the
reference (authors, year, title, venue, arXiv id or DOI, as the paper gives them) and, where it
fits the task's slot, the code. The file is curated data in the repository; this module loads and
validates it, renders citations, and matches behaviour: a fingerprint (``evaluators.fingerprint``)
equal to an entry's within the duplicate tolerance is that component ("same as"), one within
``CLOSE_TOLERANCE`` is "close to" it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.errors import ConfigError
from evaluators.fingerprint import DUPLICATE_TOLERANCE, equivalents, gap, reading

CLOSE_TOLERANCE = 0.02  # largest fingerprint difference still called "close to" a component


class Reference(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    authors: list[str] = Field(min_length=1)
    year: int = Field(ge=1940, le=2100)
    title: str = Field(min_length=3)
    venue: str = Field(min_length=2)
    arxiv: str | None = Field(None, pattern=r"^\d{4}\.\d{4,5}$")
    doi: str | None = Field(None, pattern=r"^10\.\d{4,9}/\S+$")

    def cite(self) -> str:
        """``Authors (year). Title. Venue. arXiv:id / doi:...`` on one line."""
        names = self.authors if len(self.authors) <= 3 else [self.authors[0], "et al."]
        who = ", ".join(names)
        where = f" arXiv:{self.arxiv}." if self.arxiv else (f" doi:{self.doi}." if self.doi else "")
        return f"{who} ({self.year}). {self.title}. {self.venue}.{where}"


class Component(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1)
    description: str = Field(min_length=3)
    reference: Reference
    code: str | None = None  # the component in the task's slot, where it fits

    @model_validator(mode="after")
    def _code_is_text(self) -> Component:
        if self.code is not None and not self.code.strip():
            raise ValueError("code: empty")
        return self


class Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    component: list[Component] = Field(min_length=1)


def load(folder: Path) -> list[Component]:
    """The catalogue of the task in ``folder`` (empty when it has none); ``ConfigError`` with the
    entry and field for a malformed one."""
    path = folder / "catalogue.toml"
    if not path.exists():
        return []
    try:
        entries = Catalogue.model_validate(tomllib.loads(path.read_text())).component
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from None
    names = [c.name for c in entries]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: a component name appears twice")
    return entries


Kind = Literal["same", "close"]


def match(
    fp: list[float] | np.ndarray,
    known: list[tuple[Component, list[float]]],
    reach: list[float] | None = None,
) -> tuple[Component, Kind, float] | None:
    """The component ``fp`` behaves like, nearest first: ("same", within the duplicate
    tolerance) or ("close", within ``CLOSE_TOLERANCE``), with the largest difference; else None.

    Both sides are fingerprints from points drawn per job (``evaluators.fingerprint``), compared
    on the canonical grid with ``equivalents``: a sign or mirror flip of a published function is
    still that function, and so is one marked only where no drawn point falls (a fixed probe
    point, any float it names). A fingerprint of an earlier version matches nothing.

    ``reach``: where the proposal's training sent its pre-activations (a result's ``reach``,
    ``evaluators.fingerprint.reading``); both are compared there alone, each difference weighed
    by how much training reads it, since a function equal to a published one wherever its
    network goes trains exactly like it. None (a probe before any training, an older result):
    the whole window, every point in full."""
    mask, weights = reading(reach) or (None, None)
    mine = equivalents(fp, mask)[:1]
    best: tuple[Component, float] | None = None
    for component, theirs in known:
        for other in equivalents(theirs, mask) if mine else []:
            diff = gap(mine[0], other, weights)
            if np.isfinite(diff) and (best is None or diff < best[1]):
                best = (component, diff)
    if best is None or best[1] > CLOSE_TOLERANCE:
        return None
    return best[0], ("same" if best[1] <= DUPLICATE_TOLERANCE else "close"), best[1]
