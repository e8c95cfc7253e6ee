"""The literature reviewer: the AI Scientist's search rounds for a capable chat model.

Each round the model asks for a search (``literature.scholar``) or decides; the top hits
(title, year, venue, an abstract snippet, the id) are shown to it, and it ends with novel / not
novel and the ids of the papers it relies on. Its reply is read by ``parse_reply``, which never
raises (anything unreadable is ``undecided`` with the reason), and an id it cites that it was not
shown is dropped: no invented citations reach the ledger. Every search and the decision are
``events`` for the ledger. With the embedded model the critic uses the catalogue match only, not
this.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.llm import ask
from agents.prompting import render
from literature.papers import CAPS, Paper, clip, one_line
from literature.scholar import SKIPPED, Check, LiteratureSearch

MAX_REPLY = 20_000  # characters of a reply that are read
DECISION_LINE = re.compile(r"decision made:\s*(not novel|novel)", re.IGNORECASE)


class Reply(BaseModel):
    """The model's move in one round, as read by ``parse_reply`` (which never raises)."""

    model_config = ConfigDict(frozen=True)
    action: Literal["search", "decide", "undecided"]
    query: str = ""
    decision: Literal["novel", "not novel"] | None = None
    papers: list[str] = Field(default_factory=list)
    reasons: str = ""


class Novelty(BaseModel):
    """The outcome of ``literature_rounds``; ``events`` are for the ledger, in order."""

    model_config = ConfigDict(frozen=True)
    decision: Literal["novel", "not novel", "undecided", "skipped"]
    reason: str = ""
    papers: list[str] = Field(default_factory=list)  # ids it rests on, all among the hits shown
    hits: list[Paper] = Field(default_factory=list)  # those papers
    seen: list[Paper] = Field(default_factory=list)  # every hit shown to the model
    queries: list[str] = Field(default_factory=list)
    events: list[dict[str, Any]] = Field(default_factory=list)
    tokens: int = 0


def parse_reply(text: str) -> Reply:
    """A search or a decision from a reply (a JSON object in it, read tolerantly); anything else
    is ``undecided`` with the reason. Never raises."""
    text = str(text)[:MAX_REPLY]
    data = _json_in(text)
    if data is None:
        found = DECISION_LINE.search(text)
        if found:
            return Reply(action="decide", decision=_decision(found.group(1)))
        return Reply(
            action="undecided", reasons=f"no JSON object in the reply: {one_line(text, 80)!r}"
        )
    action = clip(data.get("action"), 20).lower()
    query = clip(data.get("query"), CAPS["query"])
    decision = _decision(data.get("decision"))
    papers = data.get("papers", data.get("paper_ids"))
    ids = [clip(p, CAPS["id"]) for p in ([papers] if isinstance(papers, str) else _list(papers))]
    if action == "search" or (not action and query and decision is None):
        if not query:
            return Reply(action="undecided", reasons="asked to search without a query")
        return Reply(action="search", query=query)
    if decision is None:
        return Reply(
            action="undecided", reasons=f"no query and no decision: {one_line(text, 80)!r}"
        )
    reasons = clip(data.get("reasons") or data.get("reason"), 300)
    return Reply(
        action="decide", decision=decision, papers=[i for i in ids if i][:20], reasons=reasons
    )


def _json_in(text: str) -> dict | None:
    """The first JSON object in ``text`` (prose and fences around it ignored), else None. Each
    ``{`` is tried with the C decoder, so a long garbled reply costs milliseconds, not minutes."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value = decoder.raw_decode(text, start)[0]
        except (ValueError, RecursionError):
            value = None
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    return None


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def _decision(value: object) -> Literal["novel", "not novel"] | None:
    word = re.sub(r"[\s_\-.!]+", " ", value.lower()).strip() if isinstance(value, str) else ""
    if word in ("novel", "new", "is novel"):
        return "novel"
    if word in ("not novel", "known", "not new", "published"):
        return "not novel"
    return None


@dataclass
class _Trail:
    """What the rounds have done so far: the searches shown, the hits by id, the events."""

    searches: list[dict[str, Any]] = field(default_factory=list)
    shown: dict[str, Paper] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    tokens: int = 0

    def end(self, decision: Any, reason: str, papers: Sequence[str] = ()) -> Novelty:
        hits = [self.shown[i] for i in papers]
        self.events.append(
            {
                "kind": "decision",
                "decision": decision,
                "reason": reason,
                "papers": list(papers),
                "hits": [
                    p.model_dump(include={"id", "title", "year", "venue", "doi", "arxiv"})
                    for p in hits
                ],
                "queries": [s["query"] for s in self.searches],
            }
        )
        return Novelty(
            decision=decision,
            reason=reason,
            papers=list(papers),
            hits=hits,
            seen=list(self.shown.values()),
            queries=[s["query"] for s in self.searches],
            events=self.events,
            tokens=self.tokens,
        )


def literature_rounds(
    model: Any,
    idea: str,
    scholar: LiteratureSearch,
    rounds: int = 3,
    *,
    show: int = 5,
    task_description: str = "",
    task_dir: Path | None = None,
) -> Novelty:
    """Up to ``rounds`` searches chosen by ``model``, its top ``show`` hits shown each time, then
    its decision novel / not novel with the ids of the shown papers it relies on (ids it invents
    are dropped; "not novel" with none left is ``undecided``). The searches share one time cap
    (the scholar's); a skipped search ends the rounds as ``skipped`` with the reason. Endpoint
    errors of the model itself raise as in ``agents.llm``."""
    system = render(
        "system", task_dir, role="literature reviewer", task_description=task_description
    )
    trail, budget = _Trail(), scholar.config.cap_seconds
    for _ in range(rounds + 1):
        left = rounds - len(trail.searches)
        prompt = render(
            "literature", task_dir, idea=idea, rounds_left=left, searches=trail.searches
        )
        answer = ask(model, system, prompt, parse_reply, retries=0)
        trail.tokens += answer.tokens
        reply = answer.value or Reply(action="undecided", reasons="; ".join(answer.errors))
        if reply.action != "search":
            return _decide(trail, reply)
        if left <= 0:
            return trail.end("undecided", "asked for another search with none left")
        if budget <= 0:
            return trail.end(
                "skipped", f"{SKIPPED}timed out after {scholar.config.cap_seconds:g} s"
            )
        check = scholar.search(reply.query, cap_seconds=budget)
        budget -= check.seconds
        hits = check.papers[:show]
        trail.events.append(_search_event(len(trail.searches) + 1, check, hits))
        if check.skipped:
            return trail.end("skipped", check.skipped)
        trail.shown.update({p.id: p for p in hits})
        trail.searches.append({"query": check.queries[0], "hits": [_shown(p) for p in hits]})
    raise AssertionError("unreachable")  # the last round has no search left


def _decide(trail: _Trail, reply: Reply) -> Novelty:
    if reply.action == "undecided" or reply.decision is None:
        return trail.end("undecided", reply.reasons or "no decision")
    kept = [i for i in dict.fromkeys(reply.papers) if i in trail.shown]
    dropped = [i for i in dict.fromkeys(reply.papers) if i not in trail.shown]
    if dropped:
        trail.events.append(
            {"kind": "dropped", "papers": dropped, "reason": "not among the hits shown"}
        )
    if not trail.searches:
        return trail.end("undecided", "decided without a search")
    if reply.decision == "not novel" and not kept:
        return trail.end("undecided", "not novel, but it cited no paper among the hits shown")
    return trail.end(reply.decision, reply.reasons, kept)


def _search_event(round_: int, check: Check, hits: list[Paper]) -> dict[str, Any]:
    return {
        "kind": "search",
        "round": round_,
        "query": check.queries[0] if check.queries else "",
        "sources": check.sources,
        "cached": check.cached,
        "hits": [p.id for p in hits],
        "skipped": check.skipped,
        "notes": check.notes,
        "seconds": check.seconds,
    }


def _shown(paper: Paper) -> dict[str, Any]:
    """A hit as the prompt shows it: an abstract snippet, not the whole abstract."""
    snippet = paper.abstract if len(paper.abstract) <= 300 else paper.abstract[:297] + "..."
    return {
        "id": paper.id,
        "title": paper.title,
        "year": paper.year,
        "venue": paper.venue,
        "abstract": snippet,
    }
