"""The paper's bibliography: only records code holds, never a model's memory.

Two sources: the task's literature catalogue (``evaluators/<task>/catalogue.toml``: the
components the campaign's hypotheses matched, and the task's baselines when the catalogue has
them), and the papers the campaign's literature searches returned and cited (the ledger's
``literature`` events; authors from the search cache in ``HOME/literature`` when it holds the
paper). Each becomes one BibTeX entry whose every field is escaped (a search result's title is
text from the internet). The keys are the only ones a writer may cite.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from hypoforge.paper.latex import ascii_text, escape


class Source(BaseModel):
    """One bibliography entry and where it came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    key: str
    title: str
    authors: tuple[str, ...] = ()
    year: int | None = None
    venue: str = ""
    arxiv: str = ""
    doi: str = ""
    origin: str  # "catalogue: <component>" or "search: <paper id>"

    def bibtex(self) -> str:
        fields = {"title": "{" + escape(self.title) + "}"}
        if self.authors:
            fields["author"] = " and ".join(escape(a) for a in self.authors[:12])
        if self.year:
            fields["year"] = str(self.year)
        if self.arxiv:
            fields["journal"] = f"arXiv preprint arXiv:{escape(self.arxiv)}"
        elif self.venue:
            fields["journal"] = escape(self.venue)
        if self.doi:
            fields["note"] = f"doi:{escape(self.doi)}"
        body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields.items())
        return f"@article{{{self.key},\n{body}\n}}\n"


def _key(
    authors: tuple[str, ...] | list[str], year: int | None, title: str, taken: set[str]
) -> str:
    first = ascii_text(authors[0]).split()[-1] if authors and ascii_text(authors[0]).split() else ""
    surname = re.sub(r"[^a-z]", "", first.lower()) or "anon"
    words = [w for w in re.findall(r"[a-z]+", ascii_text(title).lower()) if len(w) > 3]
    base = f"{surname[:20]}{year or ''}{words[0][:12] if words else ''}"
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}{chr(ord('a') + n - 2)}" if n <= 27 else f"{base}-{n}"
    taken.add(key)
    return key


def from_catalogue(components: list[Any], taken: set[str]) -> list[Source]:
    """One entry per catalogue component (``evaluators.catalogue.Component``)."""
    found = []
    for c in components:
        r = c.reference
        found.append(
            Source(
                key=_key(r.authors, r.year, r.title, taken),
                title=r.title,
                authors=tuple(r.authors),
                year=r.year,
                venue=r.venue,
                arxiv=r.arxiv or "",
                doi=r.doi or "",
                origin=f"catalogue: {c.name}",
            )
        )
    return found


def cached_papers(cache: Path) -> dict[str, dict[str, Any]]:
    """Every paper the search cache holds, by id (unreadable files skipped)."""
    papers: dict[str, dict[str, Any]] = {}
    if not cache.is_dir():
        return papers
    for path in sorted(cache.glob("*.json"))[:5000]:
        try:
            data = json.loads(path.read_text(errors="replace")[:5_000_000])
            listed = data.get("papers") if isinstance(data, dict) else None
        except (OSError, ValueError):
            continue
        for p in listed if isinstance(listed, list) else []:
            if isinstance(p, dict) and isinstance(p.get("id"), str):
                papers.setdefault(p["id"], p)
    return papers


def from_searches(hits: list[dict[str, Any]], cache: Path | None, taken: set[str]) -> list[Source]:
    """One entry per cited search hit (the ledger's decision events), deduplicated by id."""
    cached = cached_papers(cache) if cache is not None else {}
    found, seen = [], set()
    for hit in hits:
        if not isinstance(hit, dict) or not isinstance(hit.get("id"), str) or hit["id"] in seen:
            continue
        seen.add(hit["id"])
        full = {**hit, **cached.get(hit["id"], {})}
        title = str(full.get("title") or "").strip()
        if not title:
            continue
        listed = full.get("authors")
        authors: list[Any] = listed if isinstance(listed, list) else []
        year = full.get("year") if isinstance(full.get("year"), int) else None
        names = tuple(str(a) for a in authors[:12])
        found.append(
            Source(
                key=_key(names, year, title, taken),
                title=title[:300],
                authors=names,
                year=year if year is None or 1900 <= year <= 2100 else None,
                venue=str(full.get("venue") or "")[:200],
                arxiv=str(full.get("arxiv") or "")[:40],
                doi=str(full.get("doi") or "")[:200],
                origin=f"search: {hit['id']}",
            )
        )
    return found
