"""The writer: a model's prose for each section, kept only where it is grounded.

For each section the model is shown the facts code gathered (``brief``) and the citation keys of
the bibliography, and writes a few sentences. Its text is then checked by code: every number must
be one code printed (``Facts.figures``, at its precision; no integer is exempt), every hypothesis
id one of the campaign's, every ``\\cite`` key one of the bibliography's. A text that fails is
asked for once more with the problems named (``rewrites``); what still fails is removed sentence
by sentence, and every removal is logged. A section left with too little, or a model that gives
nothing (or none at all: ``model=None``), gets the sentences code writes
(``render.default_prose``). The prose then goes through ``latex.prose``: it can print, nothing
else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from agents.analyst import HYPOTHESIS_ID
from agents.llm import ParseError, ask
from agents.prompting import render as render_prompt
from hypoforge.paper import render
from hypoforge.paper.facts import Facts, number
from hypoforge.paper.latex import _PIECE, ascii_text, plain

PURPOSE = {
    "abstract": (
        "abstract",
        4,
        "Say what was searched for, how it was measured and what was found.",
    ),
    "introduction": (
        "introduction",
        5,
        "Say what the task is and why it matters; say how the "
        "search was run (proposer, critic, sandbox, trusted scoring).",
    ),
    "related": (
        "background and related work",
        4,
        "Relate the task's baselines and the published components the campaign met, citing them.",
    ),
    "method": (
        "method",
        5,
        "Describe the search: proposals, the critic, the behavioural probe, "
        "the reward model, the budget ladder, the keep rule and held-out confirmation.",
    ),
    "results": (
        "results discussion",
        5,
        "Discuss the leading hypotheses' win rates and "
        "intervals, and whether any was confirmed on held-out splits.",
    ),
    "limitations": (
        "limitations",
        4,
        "Say what the evidence cannot show: few seeds and "
        "datasets, small models, selection bias, screening fidelity.",
    ),
    "conclusion": ("conclusion", 3, "Sum up what was measured and what to try next."),
}
MIN_CHARS = 60  # a section with less than this left after the checks gets code's sentences
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\\(])")


@dataclass
class Written:
    section: str
    text: str  # the prose as kept (plain text with \cite{} and \emph{}), before LaTeX
    source: str  # "model", "model, trimmed" or "code"
    removed: list[tuple[str, str]] = field(default_factory=list)  # (sentence, why)
    rounds: int = 0
    tokens: int = 0
    errors: list[str] = field(default_factory=list)


def brief(facts: Facts) -> str:
    """The facts a writer may use, one per line, each figure printed as the paper prints it."""
    lines = [f"- task: {facts.task}: {facts.summary}" if facts.summary else f"- task: {facts.task}"]
    lines.append(
        f"- proposals: {len(facts.rows)}; scored: {len(facts.scored)}; sandbox runs: "
        f"{facts.launches}"
    )
    lines.append(
        f"- baselines: {', '.join(facts.baselines) or 'none'}; datasets: "
        f"{len(facts.datasets)} ({', '.join(facts.datasets)})"
    )
    for r in facts.leaders:
        rep = facts.reports[r.id]
        lo, hi = rep.win_rate_ci or (None, None)
        ci = f", 95% CI {number(lo)} to {number(hi)}" if lo is not None else ""
        held = (
            f", held-out win rate {number(r.confirm_win_rate)} ({r.confirmation})"
            if r.confirm_win_rate is not None
            else ""
        )
        known = f", {r.known} (published)" if r.known else ""
        lines.append(
            f"- hypothesis {r.id} ({' '.join(r.idea.split())[:100]}): win rate "
            f"{number(rep.win_rate)} at the {rep.budget} budget{ci}{held}{known}"
        )
    found = facts.discoveries
    lines.append(
        "- confirmed discoveries: " + (", ".join(r.id for r in found) if found else "none")
    )
    return "\n".join(ascii_text(line) for line in lines)


def keys_text(facts: Facts) -> str:
    if not facts.sources:
        return "none (cite nothing)"
    return "\n".join(
        f"- {s.key}: {ascii_text(s.title)[:90]} ({s.year or 'n.d.'})" for s in facts.sources
    )


def problems(text: str, facts: Facts) -> list[tuple[str, str]]:
    """Each sentence of ``text`` that says something code did not provide, with why."""
    ids = {r.id for r in facts.rows}
    keys = {s.key for s in facts.sources}
    found = []
    for para in re.split(r"\n\s*\n", text):
        for sentence in SENTENCE.split(" ".join(para.split())):
            why = []
            bad = facts.figures.untraced(plain(sentence), structural=0)
            if bad:
                why.append("numbers not in the facts: " + ", ".join(bad[:5]))
            names = [i for i in HYPOTHESIS_ID.findall(sentence) if i not in ids]
            if names:
                why.append("hypothesis ids not in the campaign: " + ", ".join(names[:5]))
            asked = [
                k.strip()
                for m in _PIECE.finditer(sentence)
                if m.group("keys") is not None
                for k in m.group("keys").split(",")
            ]
            unknown = [k for k in asked if k and k not in keys]
            if unknown:
                why.append("citation keys not in the bibliography: " + ", ".join(unknown[:5]))
            if why:
                found.append((sentence, "; ".join(why)))
    return found


def _trim(text: str, bad: list[tuple[str, str]]) -> str:
    drop = {s for s, _ in bad}
    kept = []
    for para in re.split(r"\n\s*\n", text):
        sentences = [s for s in SENTENCE.split(" ".join(para.split())) if s not in drop]
        if sentences:
            kept.append(" ".join(sentences))
    return "\n\n".join(kept)


def _reply(text: str) -> str:
    """A reply's prose: fences, headings and list marks dropped; empty is a parse error."""
    lines = []
    for line in text.replace("```", "\n").splitlines():
        if re.match(r"^\s*#+\s", line):
            continue
        lines.append(re.sub(r"^\s*(?:[-*]|\d+[.)])\s+", "", line))
    prose = "\n".join(lines).strip()
    if len(prose) < 20:
        raise ParseError("the reply holds no prose")
    return prose[:4000]


def write_section(
    model: Any | None,
    section: str,
    facts: Facts,
    system: str,
    rewrites: int = 1,
    problem: str = "",
) -> Written:
    """``section``'s prose: the model's, grounded, else code's (see the module docstring)."""
    if model is None:
        return Written(section, render.default_prose(section, facts), "code")
    name, sentences, purpose = PURPOSE[section]
    done = Written(section, "", "model")
    text = ""
    bad: list[tuple[str, str]] = []
    for attempt in range(rewrites + 1):
        prompt = render_prompt(
            "paper_section",
            None,
            section_name=name,
            sentences=sentences,
            purpose=purpose,
            brief=brief(facts),
            keys=keys_text(facts),
            problem=problem,
        )
        answer = ask(model, system, prompt, _reply, retries=0)
        done.rounds, done.tokens = attempt + 1, done.tokens + answer.tokens
        done.errors += answer.errors
        if answer.value is None:
            break
        text = answer.value
        bad = problems(text, facts)
        if not bad:
            break
        problem = "; ".join(sorted({why for _, why in bad}))[:600]
    if bad:
        done.removed = bad
        text = _trim(text, bad)
        done.source = "model, trimmed"
    if len(plain(text).strip()) < MIN_CHARS:
        if text.strip():
            done.removed.append((text, "too little left after the checks"))
        return Written(
            section,
            render.default_prose(section, facts),
            "code",
            done.removed,
            done.rounds,
            done.tokens,
            done.errors,
        )
    done.text = text
    return done
