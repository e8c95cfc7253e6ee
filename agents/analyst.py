"""The analyst: its prompts (the round's findings, the campaign's tables, a user's question)
and the check of its replies.

Keep and confirmation are computed, not generated (``store.lifecycle``); the model only writes
commentary on tables rendered by code, and any number (``core.grounding.numbers_in``) or
hypothesis id in its text that is not in the table is flagged.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from agents.llm import Answer, ask
from agents.prompting import render
from core.grounding import numbers_in
from core.records import Confirmation

# A hypothesis id (r<round>-<index>), with its campaign in front when it is an archive id.
HYPOTHESIS_ID = re.compile(r"(?<![\w/-])(?:[\w-]+/)?r\d+-\d+(?![\w-])")


class Finding(BaseModel):
    """One line of the round's measured table (``store.lifecycle.finding`` decides it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    hypothesis: str
    idea: str
    win_rate: float
    ci: tuple[float, float]
    keep: bool
    budget: str = ""
    bound: float | None = None  # the corrected lower bound the keep decision used
    tried: int = 1  # hypotheses measured when it was decided (the correction's m)
    confirm_win_rate: float | None = None
    confirmation: Confirmation | None = None  # None: not run


def table(findings: list[Finding]) -> str:
    """The measured table: selection figures, the corrected keep, the confirmation beside."""
    lines = [
        "| hypothesis | idea | budget | win rate | 95% CI | corrected bound (m) | keep "
        "| held-out win rate | confirmation |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for f in findings:
        bound = "-" if f.bound is None else f"{f.bound:.2f} (m={f.tried})"
        held = "-" if f.confirm_win_rate is None else f"{f.confirm_win_rate:.2f}"
        lines.append(
            f"| {f.hypothesis} | {f.idea} | {f.budget or '-'} | {f.win_rate:.2f} | "
            f"{f.ci[0]:.2f}-{f.ci[1]:.2f} | {bound} | {'yes' if f.keep else 'no'} | {held} "
            f"| {f.confirmation or '-'} |"
        )
    return "\n".join(lines)


def unsupported_numbers(text: str, source: str) -> list[str]:
    """Numbers in ``text`` that appear nowhere in ``source`` (likely invented)."""
    allowed = set(numbers_in(source))
    return sorted({n for n in numbers_in(text) if n not in allowed and len(n) > 1})


def unsupported(text: str, source: str) -> list[str]:
    """Numbers and hypothesis ids in ``text`` that appear nowhere in ``source``."""
    allowed = set(HYPOTHESIS_ID.findall(source))
    ids = sorted({i for i in HYPOTHESIS_ID.findall(text) if i not in allowed})
    return unsupported_numbers(text, source) + ids


def summarise(
    model: Any, findings: list[Finding], task_description: str, task_dir: Path | None = None
) -> Answer[str]:
    system = render("system", task_dir, role="analyst", task_description=task_description)
    prompt = render("analyst", task_dir, table=table(findings))
    return ask(model, system, prompt, lambda text: text.strip(), retries=0)


def ledger_table(rows: list[Any], limit: int = 30) -> str:
    """The campaign's hypotheses as a table rendered by code: the ground truth for answers
    (best first by measured win rate, then the rest, newest first)."""
    scored = sorted(
        (r for r in rows if r.screen_win_rate is not None),
        key=lambda r: r.selection_win_rate or 0.0,
        reverse=True,
    )
    rest = [r for r in reversed(rows) if r.screen_win_rate is None]
    lines = [
        "| id | idea | stage | outcome | screen win rate | full win rate | held-out win rate "
        "| confirmation | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in (scored + rest)[:limit]:
        cells = [
            r.id,
            r.idea,
            r.stage,
            r.outcome or "-",
            "-" if r.screen_win_rate is None else f"{r.screen_win_rate:.2f}",
            "-" if r.full_win_rate is None else f"{r.full_win_rate:.2f}",
            "-" if r.confirm_win_rate is None else f"{r.confirm_win_rate:.2f}",
            r.confirmation or "-",
            (r.reason or "; ".join(f"FLAGGED: {f}" for f in r.flags))[:80],
        ]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def archive_table(entries: list[Any], limit: int = 15) -> str:
    """Hypotheses of other campaigns (``evaluators.novelty.Archived``), rendered by code as the
    second ground truth for answers; empty when there are none."""
    if not entries:
        return ""
    lines = [
        "Other campaigns of this task (the cross-campaign archive):",
        "",
        "| archive id | idea | outcome | win rate |",
        "|---|---|---|---|",
    ]
    for e in entries[:limit]:
        rate = "-" if e.win_rate is None else f"{e.win_rate:.2f}"
        cells = [e.id, e.idea, e.outcome, rate]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def answer(
    model: Any, question: str, table_text: str, task_description: str, task_dir: Path | None = None
) -> Answer[str]:
    """The analyst's answer to a user's question, from the tables only."""
    system = render("system", task_dir, role="analyst", task_description=task_description)
    prompt = render("analyst_question", task_dir, table=table_text, question=question)
    return ask(model, system, prompt, lambda text: text.strip(), retries=0)
