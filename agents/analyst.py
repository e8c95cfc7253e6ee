"""The analyst: decides keep/discard from measured numbers and writes the round's findings.

Decisions are computed, not generated. Keep: the win rate's lower confidence bound lies above 1/2
(the noise floor) at the level ``ALPHA / m``, where m is the number of hypotheses the campaign
has measured so far (Bonferroni: the chance that any of them is kept by luck stays under
``ALPHA``), and the harness flagged nothing. A kept hypothesis is then run on held-out splits;
it is confirmed when its win rate there is above 1/2 at ``ALPHA / k``, k the number confirmed
or refuted so far. Only a confirmed result is a discovery. The model only writes commentary on
a table rendered by code, and any number in its text that is not in the table is flagged.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from agents.llm import Answer, ask
from agents.prompting import render
from core.records import EvalReport, Outcome
from evaluators.stats import ALPHA, corrected_alpha, lower_bound

NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")
# A hypothesis id (r<round>-<index>), with its campaign in front when it is an archive id.
HYPOTHESIS_ID = re.compile(r"(?<![\w/-])(?:[\w-]+/)?r\d+-\d+(?![\w-])")


class Finding(BaseModel):
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
    confirmation: str | None = None  # confirmed | not confirmed | failed: ... | None (not run)


def corrected_bound(report: EvalReport, tried: int) -> float | None:
    """The win rate's lower bound at ``ALPHA / tried`` over the report's (dataset, seed) cells;
    None for a task that reports no cells (its keep then rests on the 95% interval alone)."""
    cells = list(report.cell_win_rates.values())
    return lower_bound(cells, corrected_alpha(tried)) if cells else None


def keeps(report: EvalReport, tried: int) -> tuple[bool, float | None]:
    """(keep, corrected bound): an OK, unflagged result whose corrected bound is above 1/2."""
    if report.status is not Outcome.OK or report.win_rate is None or report.flags:
        return False, None
    bound = corrected_bound(report, tried)
    if bound is None:
        return report.win_rate_ci is not None and report.win_rate_ci[0] > 0.5, None
    return bound > 0.5, bound


def confirms(report: EvalReport, confirmations: int) -> str:
    """The verdict of a confirmation run: "confirmed" when its win rate on the held-out splits is
    above 1/2 at ``ALPHA / confirmations`` and nothing is flagged, else why not."""
    if report.status is not Outcome.OK or report.win_rate is None:
        return f"failed: {report.status.value}"
    if report.flags:
        return "not confirmed: flagged"
    cells = list(report.cell_win_rates.values())
    if cells:
        ok = lower_bound(cells, corrected_alpha(confirmations)) > 0.5
    else:
        ok = report.win_rate_ci is not None and report.win_rate_ci[0] > 0.5
    return "confirmed" if ok else "not confirmed"


def decide(
    hypothesis: str,
    idea: str,
    report: EvalReport,
    tried: int = 1,
    row: Any = None,
) -> Finding | None:
    """The finding of one result: keep by ``keeps`` (with the decision already in the ledger
    ``row`` if there is one), the confirmation from ``row``; None when there is no win rate."""
    if report.win_rate is None or report.win_rate_ci is None:
        return None
    keep, bound = keeps(report, tried)
    if row is not None and row.kept is not None:
        keep = bool(row.kept)
    return Finding(
        hypothesis=hypothesis,
        idea="; ".join([idea, *(f"FLAGGED: {f}" for f in report.flags)]),
        win_rate=report.win_rate,
        ci=report.win_rate_ci,
        keep=keep,
        budget=report.budget,
        bound=bound,
        tried=tried,
        confirm_win_rate=None if row is None else row.confirm_win_rate,
        confirmation=None if row is None else row.confirmation,
    )


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


KEEP_RULE = (
    f"keep: lower bound of the win rate above 0.5 at level {ALPHA}/m (Bonferroni over the m "
    f"hypotheses measured so far); a discovery: kept, then confirmed on held-out splits at "
    f"{ALPHA}/k (k confirmation runs so far)"
)


def unsupported_numbers(text: str, source: str) -> list[str]:
    """Numbers in ``text`` that appear nowhere in ``source`` (likely invented)."""
    allowed = set(NUMBER.findall(source))
    return sorted({n for n in NUMBER.findall(text) if n not in allowed and len(n) > 1})


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
