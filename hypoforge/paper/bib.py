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


class BibEntry(BaseModel):
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
        fields = {"title": "{" + _field(self.title) + "}"}
        if self.authors:
            names = [n for n in (_name(a) for a in self.authors[:12]) if n]
            if names:
                fields["author"] = " and ".join("{" + n + "}" for n in names)
        if self.year:
            fields["year"] = str(self.year)
        if self.arxiv:
            fields["journal"] = f"arXiv preprint arXiv:{_field(self.arxiv)}"
        elif self.venue:
            fields["journal"] = _field(self.venue)
        if self.doi:
            fields["note"] = f"doi:{_field(self.doi)}"
        body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields.items())
        return f"@article{{{self.key},\n{body}\n}}\n"


def _name(author: str) -> str:
    """An author as one braced BibTeX name: letters, spaces, dots, hyphens and apostrophes, at
    most 80 characters. BibTeX parses names itself: a comma ("Smith, John, Jr, III" is too many
    for it and stops bibtex) or a word "and" would split or break it, and a long name is cut
    inside an escape when it fills a label."""
    kept = re.sub(r"[^A-Za-z .'-]", " ", ascii_text(author))
    words = [w for w in kept.split() if w.lower() != "and"]
    return " ".join(words)[:80].strip()


def _field(text: str) -> str:
    """``escape(text)`` with its braces balanced for BibTeX, which counts ``\\{`` as a brace: a
    title's lone ``}`` would close the entry and make ``references.bib`` unreadable."""
    return escape(text).replace("\\{", "\\textbraceleft{}").replace("\\}", "\\textbraceright{}")


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


def from_catalogue(components: list[Any], taken: set[str]) -> list[BibEntry]:
    """One entry per catalogue component (``evaluators.catalogue.Component``)."""
    found = []
    for c in components:
        r = c.reference
        found.append(
            BibEntry(
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
        except (OSError, ValueError, RecursionError):
            continue
        for p in listed if isinstance(listed, list) else []:
            if isinstance(p, dict) and isinstance(p.get("id"), str):
                papers.setdefault(p["id"], p)
    return papers


def from_searches(
    hits: list[dict[str, Any]], cache: Path | None, taken: set[str]
) -> list[BibEntry]:
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
        year = full.get("year")
        # bool is an int; a year out of range would make the key uncitable (``smith10000...``)
        if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2100:
            year = None
        names = tuple(str(a) for a in authors[:12])
        found.append(
            BibEntry(
                key=_key(names, year, title, taken),
                title=title[:300],
                authors=names,
                year=year,
                venue=str(full.get("venue") or "")[:200],
                arxiv=str(full.get("arxiv") or "")[:40],
                doi=str(full.get("doi") or "")[:200],
                origin=f"search: {hit['id']}",
            )
        )
    return found
