"""Search hits as records: ``Paper``, the readers of Semantic Scholar's and OpenAlex's answers,
and the merge of several sources' hits.

The readers never raise. The APIs change (a field renamed, a list turned into a string, a year
sent as text), so every field is read on its own: a missing, null or mistyped one is left empty,
and a hit without an id is skipped. A body that is not JSON or not of the expected shape, or a
non-empty list of hits none of which can be read (the id field renamed, say), is ([], the reason),
one line naming what was missing: an answer is "no results" only when its list of hits is empty.
Every text field is capped, so a hostile or broken answer cannot flood a prompt or the ledger.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence

from pydantic import BaseModel, ConfigDict, Field

CAPS = {"id": 200, "title": 400, "venue": 200, "author": 120, "abstract": 2000, "query": 300}
MAX_AUTHORS = 30
MAX_WORDS = 1500  # positions read from an OpenAlex abstract index
MAX_FIELDS = 12  # field names shown in the reason no hit could be read
ARXIV = re.compile(r"\d{4}\.\d{4,5}|[a-z][a-z.\-]*/\d{7}")


class Paper(BaseModel):
    """One search hit, from either source; every field but ``id`` may be empty."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str  # "s2:<paperId>" or "openalex:W<n>"
    title: str = ""
    authors: list[str] = Field(default_factory=list)
    year: int | None = None
    venue: str = ""
    abstract: str = ""
    doi: str = ""  # lower case, no resolver prefix
    arxiv: str = ""  # no version suffix
    citations: int | None = None
    source: str = ""


def parse_semantic_scholar(body: bytes | str) -> tuple[list[Paper], str | None]:
    """The hits of a Semantic Scholar ``/paper/search`` body, or ([], the reason it is unusable)."""
    data, reason = _json_object(body)
    if data is None:
        return [], reason
    hits = data.get("data")
    if hits is None and data.get("total") == 0:  # no results: the API leaves "data" out
        return [], None
    if not isinstance(hits, list):
        return [], "unreadable response: no 'data' list in the Semantic Scholar answer"
    return _read(hits, _s2_paper, "paperId", "Semantic Scholar")


def parse_openalex(body: bytes | str) -> tuple[list[Paper], str | None]:
    """The hits of an OpenAlex ``/works`` body, or ([], the reason it is unusable)."""
    data, reason = _json_object(body)
    if data is None:
        return [], reason
    hits = data.get("results")
    if not isinstance(hits, list):
        return [], "unreadable response: no 'results' list in the OpenAlex answer"
    return _read(hits, _openalex_paper, "id", "OpenAlex")


PARSERS: dict[str, Callable[[bytes | str], tuple[list[Paper], str | None]]] = {
    "semantic_scholar": parse_semantic_scholar,
    "openalex": parse_openalex,
}


def _read(
    hits: list, read: Callable[[object], Paper | None], key: str, api: str
) -> tuple[list[Paper], str | None]:
    """The readable ``hits``; ([], what was missing) when there are hits but none is readable (a
    renamed field must not read as "no results", nor be cached as one)."""
    papers = [p for p in map(read, hits) if p is not None]
    if papers or not hits:
        return papers, None
    objects = [h for h in hits if isinstance(h, dict)]
    which = f"no hit of the {len(hits)} in the {api} answer"
    if not objects:
        return [], f"unreadable response: {which} is an object"
    named = sorted({clip(str(k), 40) for h in objects for k in h} - {""})
    fields = ", ".join(named[:MAX_FIELDS]) + (", ..." if len(named) > MAX_FIELDS else "")
    usable = "a usable " if any(key in h for h in objects) else ""
    said = f"{which} has {usable}{key!r} (fields: {fields or 'none'})"
    return [], one_line(f"unreadable response: {said}", 300)


def _json_object(body: bytes | str) -> tuple[dict | None, str]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        start = body[:60].decode("utf-8", "replace") if isinstance(body, bytes) else body[:60]
        return None, f"unreadable response: not JSON ({one_line(start, 60)!r})"
    if not isinstance(data, dict):
        return None, f"unreadable response: a JSON {type(data).__name__}, not an object"
    return data, ""


def _s2_paper(hit: object) -> Paper | None:
    if not isinstance(hit, dict) or not clip(hit.get("paperId"), CAPS["id"]):
        return None
    ids = _dict(hit.get("externalIds"))
    return Paper(
        id="s2:" + clip(hit.get("paperId"), CAPS["id"]),
        title=clip(hit.get("title"), CAPS["title"]),
        authors=_names(hit.get("authors"), "name"),
        year=_int(hit.get("year"), 1000, 2100),
        venue=clip(hit.get("venue"), CAPS["venue"]),
        abstract=clip(hit.get("abstract"), CAPS["abstract"]),
        doi=_doi(ids.get("DOI")),
        arxiv=_arxiv(ids.get("ArXiv")) or _arxiv_doi(_doi(ids.get("DOI"))),
        citations=_int(hit.get("citationCount"), 0, 10**9),
        source="semantic_scholar",
    )


def _openalex_paper(hit: object) -> Paper | None:
    if not isinstance(hit, dict):
        return None
    work = clip(hit.get("id"), CAPS["id"]).rstrip("/").rsplit("/", 1)[-1]  # ".../W2963403868"
    if not work:
        return None
    location = _dict(hit.get("primary_location"))
    doi = _doi(hit.get("doi"))
    authorships = hit.get("authorships")
    authors = [_dict(a).get("author") for a in _list(authorships)]
    return Paper(
        id="openalex:" + work,
        title=clip(hit.get("title"), CAPS["title"]) or clip(hit.get("display_name"), CAPS["title"]),
        authors=_names(authors, "display_name"),
        year=_int(hit.get("publication_year"), 1000, 2100),
        venue=clip(_dict(location.get("source")).get("display_name"), CAPS["venue"]),
        abstract=_abstract(hit.get("abstract_inverted_index")),
        doi=doi,
        arxiv=_arxiv_doi(doi) or _arxiv_url(location),
        citations=_int(hit.get("cited_by_count"), 0, 10**9),
        source="openalex",
    )


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def clip(value: object, cap: int) -> str:
    """``value`` as one line of at most ``cap`` characters; "" for anything but a string."""
    return " ".join(value.split())[:cap] if isinstance(value, str) else ""


def one_line(text: str, cap: int) -> str:
    """``text`` on one line, at most ``cap`` characters (for reasons shown to the user)."""
    return " ".join(text.split())[:cap]


def _names(value: object, key: str) -> list[str]:
    items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    names = [clip(i.get(key) if isinstance(i, dict) else i, CAPS["author"]) for i in items]
    return [n for n in names if n][:MAX_AUTHORS]


def _int(value: object, low: int, high: int) -> int | None:
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]{1,10}\s*", value):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    return None


def _doi(value: object) -> str:
    doi = clip(value, CAPS["id"]).lower()
    for prefix in ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:"):
        doi = doi.removeprefix(prefix)
    return doi if doi.startswith("10.") else ""


def _arxiv(value: object) -> str:
    found = re.sub(r"v\d+$", "", clip(value, 40).lower().removeprefix("arxiv:"))
    return found if ARXIV.fullmatch(found) else ""


def _arxiv_doi(doi: str) -> str:
    """The arXiv id in an arXiv DOI (10.48550/arXiv.<id>), else ""."""
    return _arxiv(doi.removeprefix("10.48550/arxiv.")) if doi.startswith("10.48550/") else ""


def _arxiv_url(location: dict) -> str:
    url = clip(location.get("landing_page_url"), CAPS["id"]).lower()
    return _arxiv(url.split("arxiv.org/abs/", 1)[1]) if "arxiv.org/abs/" in url else ""


def _abstract(index: object) -> str:
    """OpenAlex's abstract, rebuilt from its inverted index (word -> positions)."""
    slots: dict[int, str] = {}
    for word, places in _dict(index).items():
        for at in places if isinstance(word, str) and isinstance(places, list) else []:
            if isinstance(at, int) and not isinstance(at, bool) and 0 <= at < MAX_WORDS:
                slots[at] = word
    return clip(" ".join(slots[k] for k in sorted(slots)), CAPS["abstract"])


def merge(*lists: Sequence[Paper]) -> list[Paper]:
    """The papers of several sources, interleaved by rank, one per DOI, arXiv id or title (a
    duplicate fills the fields the first one lacks)."""
    out: list[Paper] = []
    where: dict[str, int] = {}
    ranked = [p for rank in range(max(map(len, lists), default=0)) for p in _at(lists, rank)]
    for paper in ranked:
        index = next((where[k] for k in _keys(paper) if k in where), None)
        if index is None:
            index = len(out)
            out.append(paper)
        else:
            first = out[index]
            fill = {
                f: v for f, v in paper if v and not getattr(first, f) and f not in ("id", "source")
            }
            out[index] = first.model_copy(update=fill)
        where.update({k: index for k in _keys(out[index])})
    return out


def _at(lists: Sequence[Sequence[Paper]], rank: int) -> list[Paper]:
    return [papers[rank] for papers in lists if rank < len(papers)]


def _keys(paper: Paper) -> list[str]:
    title = re.sub(r"[^a-z0-9]+", "", paper.title.lower())
    keys = [f"doi:{paper.doi}" if paper.doi else "", f"arxiv:{paper.arxiv}" if paper.arxiv else ""]
    return [k for k in [*keys, f"title:{title}" if len(title) >= 12 else ""] if k]
