"""The paper reviewer: the AI Scientist's NeurIPS-style review form, an ensemble of reviews with
self-reflection, and a meta-review whose scores and decision are computed by code.

The model fills in the form (``Review``, in ``agents.review_form`` with its schema and parser,
re-exported here); its reply is constrained by a JSON schema on servers
that take one (``REVIEW_SCHEMA``: llama.cpp turns ``response_format={"type": "json_object",
"schema": ...}`` into a grammar) and read tolerantly by ``parse_review`` either way. Each of the
``reviews`` reviews is its own call, followed by up to ``reflections`` rounds in which the model
sees its review and answers with a better one or ``{"done": true}``. The meta-review's scores are
the rounded means of the parsed reviews (half up), its decision "accept" when the mean overall,
so rounded, is at least ``ACCEPT_AT`` and no blocking code check failed; only its summary is the
model's. The checks (``hypoforge.review``) are shown to every reviewer, so the reviews can use
what code established about the paper's numbers and claims.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from agents.llm import ask
from agents.prompting import render
from agents.review_form import (
    ACCEPT_AT,
    DONE_SCHEMA,
    META_SCHEMA,
    REFLECT_SCHEMA,
    REVIEW_SCHEMA,
    SCORES,
    Review,
    parse_meta,
    parse_reflection,
    parse_review,
    with_schema,
)

__all__ = [
    "ACCEPT_AT",
    "DONE_SCHEMA",
    "META_SCHEMA",
    "REFLECT_SCHEMA",
    "REVIEW_SCHEMA",
    "SCORES",
    "CheckLike",
    "MetaReview",
    "Review",
    "Reviewed",
    "decide",
    "excerpt",
    "mean_scores",
    "parse_meta",
    "parse_reflection",
    "parse_review",
    "review_paper",
    "with_schema",
]

PAPER_CHARS = 6_000  # of the paper's text in a review prompt (n_ctx 4096 holds it and the reply)
REFLECT_CHARS = 3_000  # in a reflection prompt, which also holds the review so far


class CheckLike(Protocol):
    """A code check as the reviewer shows it (``hypoforge.review.CodeCheck``)."""

    @property
    def name(self) -> str: ...
    @property
    def ok(self) -> bool: ...
    @property
    def blocking(self) -> bool: ...
    @property
    def detail(self) -> str: ...
    @property
    def items(self) -> list[str]: ...


class MetaReview(BaseModel):
    """The area chair's view: code's means and decision, the model's (or code's) summary."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    scores: dict[str, int]  # rounded means (half up) of the parsed reviews; empty without one
    decision: Literal["accept", "reject"]
    reason: str  # why, in one line: the mean overall, or the blocking checks that failed
    summary: str
    summary_by: Literal["model", "code"]


class Reviewed(BaseModel):
    """What ``review_paper`` returns. ``failed`` are the 1-based numbers of the reviews that
    could not be parsed (left out of the means); ``errors`` say why, and for reflections and
    the meta summary too."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    reviews: list[Review]
    meta: MetaReview
    failed: list[int] = Field(default_factory=list)
    reflections: list[int] = Field(default_factory=list)  # rounds each parsed review went through
    errors: list[str] = Field(default_factory=list)
    tokens: int = 0
    truncated: bool = False  # the paper's text was cut to fit the prompt


# -- the ensemble -----------------------------------------------------------------------------
def review_paper(
    model: Any,
    paper_text: str,
    checks: Sequence[CheckLike],
    reviews: int = 3,
    reflections: int = 1,
    *,
    retries: int = 1,
    constrain: bool = False,
    paper_chars: int = PAPER_CHARS,
    task_dir: Path | None = None,
    task_description: str = "",
) -> Reviewed:
    """``reviews`` independent reviews of ``paper_text``, each refined by up to ``reflections``
    rounds, and the meta-review (see the module docstring). ``constrain`` sends the reply's
    schema with every call (``with_schema``: llama.cpp). A reply that cannot be parsed after
    ``retries`` more tries is recorded in ``errors``, never raised; endpoint errors raise as in
    ``agents.llm``. ``task_dir`` (the campaign's task folder) may override the prompts, and
    ``task_description`` tells the reviewer what the campaign studied."""
    system = render("system", task_dir, role="reviewer", task_description=task_description)
    paper, truncated = excerpt(paper_text, paper_chars)
    short, _ = excerpt(paper_text, min(paper_chars, REFLECT_CHARS))
    shown = [_shown(c) for c in checks]
    ask_review = with_schema(model, REVIEW_SCHEMA) if constrain else model
    ask_reflect = with_schema(model, REFLECT_SCHEMA) if constrain else model
    done: list[Review] = []
    rounds: list[int] = []
    failed: list[int] = []
    errors: list[str] = []
    tokens = 0
    prompt = render("review", task_dir, paper=paper, truncated=truncated, checks=shown)
    for k in range(1, reviews + 1):
        answer = ask(ask_review, system, prompt, parse_review, retries)
        tokens += answer.tokens
        errors += [f"review {k}: {e}" for e in answer.errors]
        if answer.value is None:
            failed.append(k)
            continue
        review, used = answer.value, 0
        for r in range(1, reflections + 1):
            text = render(
                "review_reflect",
                task_dir,
                paper=short,
                truncated=truncated or short != paper,
                checks=shown,
                review=review.model_dump_json(indent=1),
                round=r,
                rounds=reflections,
            )
            again = ask(ask_reflect, system, text, parse_reflection, retries)
            tokens += again.tokens
            errors += [f"review {k}, reflection {r}: {e}" for e in again.errors]
            if again.value is None:  # unreadable: the review so far stands
                break
            better, finished = again.value
            if better is not None:
                review, used = better, r
            if finished:
                break
        done.append(review)
        rounds.append(used)
    meta, meta_tokens, meta_errors = _meta(
        model, system, done, checks, constrain, retries, task_dir
    )
    return Reviewed(
        reviews=done,
        meta=meta,
        failed=failed,
        reflections=rounds,
        errors=errors + meta_errors,
        tokens=tokens + meta_tokens,
        truncated=truncated,
    )


def mean_scores(reviews: Sequence[Review]) -> dict[str, int]:
    """Each score's mean over ``reviews``, rounded half up (the AI Scientist's ensemble)."""
    if not reviews:
        return {}
    return {
        name: math.floor(sum(getattr(r, name) for r in reviews) / len(reviews) + 0.5)
        for name in SCORES
    }


def decide(
    reviews: Sequence[Review], checks: Sequence[CheckLike]
) -> tuple[dict[str, int], Literal["accept", "reject"], str]:
    """The meta-review's scores, decision and reason: code's, never the model's."""
    scores = mean_scores(reviews)
    blocking = [c.name for c in checks if c.blocking and not c.ok]
    if not scores:
        return scores, "reject", "no review could be parsed"
    overall = scores["overall"]
    if blocking:
        return scores, "reject", f"blocking code checks failed: {', '.join(blocking)}"
    if overall >= ACCEPT_AT:
        return scores, "accept", f"mean overall {overall} >= {ACCEPT_AT}"
    return scores, "reject", f"mean overall {overall} < {ACCEPT_AT}"


def _meta(
    model: Any,
    system: str,
    reviews: list[Review],
    checks: Sequence[CheckLike],
    constrain: bool,
    retries: int,
    task_dir: Path | None,
) -> tuple[MetaReview, int, list[str]]:
    scores, decision, reason = decide(reviews, checks)
    code = _code_summary(reviews, decision, reason)
    if not reviews:
        return MetaReview(**_meta_fields(scores, decision, reason, code, "code")), 0, []
    shown = [
        r.model_dump(include={"summary", "strengths", "weaknesses", "overall"}) for r in reviews
    ]
    prompt = render(
        "review_meta",
        task_dir,
        reviews=shown,
        scores=scores,
        decision=decision,
        reason=reason,
        checks=[_shown(c) for c in checks],
    )
    chair = with_schema(model, META_SCHEMA) if constrain else model
    answer = ask(chair, system, prompt, parse_meta, retries)
    errors = [f"meta-review: {e}" for e in answer.errors]
    if answer.value is None:
        fields = _meta_fields(scores, decision, reason, code, "code")
    else:
        fields = _meta_fields(scores, decision, reason, answer.value, "model")
    return MetaReview(**fields), answer.tokens, errors


def _meta_fields(scores: dict, decision: str, reason: str, summary: str, by: str) -> dict:
    return {
        "scores": scores,
        "decision": decision,
        "reason": reason,
        "summary": summary,
        "summary_by": by,
    }


def _code_summary(reviews: list[Review], decision: str, reason: str) -> str:
    """The meta summary when the model gives none: counts and the first points raised."""
    if not reviews:
        return f"No review could be parsed; {decision} ({reason})."
    first = [r.weaknesses[0] for r in reviews if r.weaknesses][:2]
    raised = f" Weaknesses raised: {'; '.join(first)}." if first else ""
    return f"{len(reviews)} review(s); {decision} ({reason}).{raised}"


def _shown(check: CheckLike) -> dict[str, Any]:
    return {
        "name": check.name,
        "ok": check.ok,
        "blocking": check.blocking,
        "detail": check.detail,
        "listed": list(check.items)[:8],
    }


# -- the paper, bounded -------------------------------------------------------------------------
# A heading as pdftotext prints one: numbered ("4 Results", "4.2 Ablations"), or a section name.
NUMBERED = re.compile(r"^[ \t]*\d+(?:\.\d+)*\.?[ \t]+([A-Z][A-Za-z ,&:\-]{2,60})[ \t]*$")
NAMED = re.compile(
    r"^[ \t]*(Abstract|Introduction|Related Work|Background|Methods?|(?:Experimental )?Setup|"
    r"Experiments|Results|Discussion|Limitations|Conclusions?|References|Appendix)[ \t]*$",
    re.IGNORECASE,
)
KEEP = ("abstract", "result", "experiment", "evaluation", "limitation", "discussion", "conclusion")


def excerpt(text: str, limit: int) -> tuple[str, bool]:
    """``text`` within ``limit`` characters, and whether it was cut. The abstract, results,
    limitations and conclusions keep most of the room; the other sections (and the opening,
    the title) share what is left; each cut is marked ``[... N characters left out ...]``."""
    text = str(text)
    if len(text) <= limit:
        return text, False
    sections = _sections(text)
    first = [i for i, (title, _) in enumerate(sections) if any(k in title.lower() for k in KEEP)]
    rest = [i for i in range(len(sections)) if i not in first]
    room = {i: 0 for i in range(len(sections))}
    left = limit - min(limit // 4, 50 * len(sections))  # room for the cuts' markers
    for group, share in ((first, 0.8), (rest, 1.0)):
        pool = int(max(0, left) * share) if group is first and rest else max(0, left)
        for n, i in enumerate(sorted(group, key=lambda i: len(sections[i][1]))):
            give = min(len(sections[i][1]), pool // (len(group) - n))
            room[i], pool, left = give, pool - give, left - give
    parts = []
    for i, (_, body) in enumerate(sections):
        cut = len(body) - room[i]
        parts.append(
            body if cut <= 0 else f"{body[: room[i]]}\n[... {cut} characters left out ...]\n"
        )
    return "".join(parts), True


def _sections(text: str) -> list[tuple[str, str]]:
    """``(heading, text)`` pieces that join back into ``text``; the opening's heading is ""."""
    out: list[tuple[str, str]] = [("", "")]
    for line in text.splitlines(keepends=True):
        found = NUMBERED.match(line) or NAMED.match(line)
        if found and len(line.split()) <= 8:
            out.append((found.group(1), line))
        else:
            out[-1] = (out[-1][0], out[-1][1] + line)
    return [s for s in out if s[1]] or [("", text)]
