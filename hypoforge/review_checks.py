"""The checks trusted code computes on a paper against its campaign's records.

- ``numbers``: every number the paper prints is one the campaign recorded, at its precision
  (``core.grounding``; ``campaign_figures`` gathers them); blocking.
- ``claims``: a hypothesis the paper says improves on the baselines (improves, outperforms,
  beats...; not when a negation comes first in its clause) has a recorded CI whose lower bound
  is above 0.5, was confirmed on held-out splits (``store.lifecycle.discovery``), and the text
  states an interval; blocking when the paper claims a discovery the ledger does not hold, or
  names a hypothesis the ledger lacks.
- ``flags``: a result the harness flagged (over the parameter budget, say) that the paper names
  without saying so; blocking when it is also claimed as an improvement.
- ``known``: a published component (``HypothesisRow.known``) called new, novel or a discovery;
  blocking.
- ``provenance``: what the paper says of how the campaign ran (a language model proposed, a
  critic reviewed, parents and children) that its records do not show
  (``hypoforge.paper.provenance``, ``hypoforge.claims.provenance_problems``); blocking for the
  proposer and the critic, not for lineage (an idea quoted in a table may speak of a parent).
- ``bundles``: every hypothesis the paper names has ``DIR/bundles/<id>/bundle.json`` (not
  blocking: ``hypoforge reproduce DIR ID`` writes one).

Words are matched in the clause (a sentence, or the part between semicolons) that names the
hypothesis: a heuristic that reads plain claims, not every way prose can make one.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from core.errors import ConfigError
from core.grounding import Figures, numbers_in
from core.records import EvalReport, HypothesisRow, Outcome
from hypoforge import campaign
from hypoforge.claims import CLAIM, NEW, asserts, provenance_problems
from store.ledger import Ledger
from store.lifecycle import discovery

MAX_TEXT = 1_000_000  # characters of a paper's text that are checked
MAX_ITEMS = 20  # of a check's list

STATED_CI = re.compile(
    r"\b(CI|confidence interval|interval)\b|\[\s*-?\d*\.?\d+\s*,\s*-?\d*\.?\d+\s*\]|±|\+/-", re.I
)
SAYS_FLAGGED = re.compile(
    r"\b(flag\w*|over (the )?(parameter )?budget|more parameters|larger model|bigger model)", re.I
)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CodeCheck(_Record):
    """One check computed by code. ``blocking``: this failure forces a reject (never set on a
    passed check); ``items``: what failed, one line each, at most ``MAX_ITEMS``."""

    name: str
    ok: bool
    blocking: bool = False
    detail: str
    items: list[str] = Field(default_factory=list, max_length=MAX_ITEMS)


# -- what the campaign's records hold ------------------------------------------------------------
class _Records:
    """A campaign's rows by id and each row's result on the highest rung it reached."""

    def __init__(self, folder: Path) -> None:
        from hypoforge.paper import provenance
        from hypoforge.report import task_plugin

        self.info = campaign.load(folder)
        ledger = Ledger(folder / "ledger.sqlite")
        try:
            rows = ledger.hypotheses(self.info.id)
            self.rows = {r.id: r for r in rows}
            results = ledger.results(self.info.id)
            self.results = [rep for _, _, rep in results]
            self.tokens, self.launches = ledger.usage(self.info.id)
            plugin = task_plugin(self.info.task)
            self.how = provenance.gather(ledger, self.info, rows, results, plugin)
        finally:
            ledger.close()

    def report(self, row: HypothesisRow) -> EvalReport | None:
        """The row's code's latest OK selection result on the highest rung (as its bundle)."""
        ladder = self.info.budgets.ladder
        scored = [
            r
            for r in self.results
            if r.code_sha == row.code_sha
            and r.status is Outcome.OK
            and r.split_set != "confirmation"
            and r.budget in ladder
        ]
        return max(reversed(scored), key=lambda r: ladder.index(r.budget)) if scored else None


def campaign_figures(folder: Path) -> Figures:
    """Every number the campaign in ``folder`` recorded: the ledger's rows and results, its
    counts and budgets, the bundles, the citations (the ledger's and the task catalogue's) and
    the paper writer's ``paper/facts.json``. What cannot be read adds nothing, which only makes
    the numbers check stricter."""
    from evaluators.stats import ALPHA

    records = _Records(folder)
    figures = Figures()
    rows = list(records.rows.values())
    for row in rows:
        figures.update(
            [row.p_win, row.predicted, row.confirm_win_rate, row.round, row.repairs, row.citation]
        )
        figures.update([row.screen_win_rate, row.full_win_rate, *row.rungs.values()])
    for rep in records.results:
        _walk(rep.model_dump(include=_REPORT_FIGURES), figures)
        figures.update([len(rep.per_dataset), len(rep.cells)])
        figures.update(name.rsplit("-s", 1)[-1] for name in rep.cells)  # the seeds
        figures.update(len(s.baselines) for s in rep.per_dataset.values())
    counts = [
        len(rows),
        sum(r.screen_win_rate is not None for r in rows),
        sum(bool(r.kept) for r in rows),
        sum(discovery(r) for r in rows),
        1 + max((r.round for r in rows), default=-1),
        len(records.results),
        records.tokens,
        records.launches,
    ]
    figures.update([*counts, ALPHA, 1 - ALPHA])
    _walk(records.info.budgets.model_dump(), figures)
    # Text others wrote (the proposer's ideas and code, the sandbox's reasons, search results'
    # titles and authors) is printed in the paper's tables, appendix and references: its
    # numbers are traced only as the exact strings it holds, never at a precision, so an idea
    # that says "0.991" vouches for no rounded figure.
    for row in rows:
        _quoted(figures, row.idea, row.reason or "")
    for path in sorted((folder / "bundles").glob("*/bundle.json")):
        found = _json(path)
        if isinstance(found, dict):
            _quoted(figures, found.pop("code", ""), found.pop("idea", ""))
        _walk(found, figures)
    facts = _json(folder / "paper" / "facts.json")
    if isinstance(facts, dict):
        refs = facts.pop("references", [])
        for ref in refs if isinstance(refs, list) else []:
            if isinstance(ref, dict):
                figures.update([ref.get("year"), ref.get("arxiv"), ref.get("doi")])
                _quoted(figures, ref.get("title"), ref.get("venue"), ref.get("authors"))
    _walk(facts, figures)
    figures.update(_catalogue_figures(records.info.task))
    return figures


def _quoted(figures: Figures, *texts: object) -> None:
    """The number tokens of ``texts`` as exact strings only (see ``campaign_figures``)."""
    for text in texts:
        figures.strings.update(numbers_in(str(text or "")[:100_000]))


_REPORT_FIGURES = {
    "win_rate", "win_rate_ci", "comparisons", "per_dataset", "wall_seconds", "cells",
    "cell_win_rates",
}  # fmt: skip


def _catalogue_figures(task: str) -> list[object]:
    """The years, arXiv ids and DOIs of the task's published components."""
    from evaluators import catalogue, registry

    try:
        entries = catalogue.load(registry.get(task).folder)
    except ConfigError:  # an unknown task or a broken catalogue: its citations trace nothing
        return []
    refs = [c.reference for c in entries]
    return [x for r in refs for x in (r.year, r.arxiv, r.doi) if x is not None]


def _json(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _walk(value: object, figures: Figures, depth: int = 0) -> None:
    """Add every number (and every string's numbers) nested in ``value``; keys are names."""
    if depth > 20:
        return
    if isinstance(value, dict):
        for v in value.values():
            _walk(v, figures, depth + 1)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _walk(v, figures, depth + 1)
    elif value is not None:
        figures.add(value)


# -- the checks ---------------------------------------------------------------------------------
def code_checks(text: str, folder: Path | None) -> list[CodeCheck]:
    """The checks code computes on the paper's ``text`` against the campaign in ``folder``
    (see the module docstring); without a campaign, one check saying numbers cannot be traced."""
    if folder is None:
        return [
            CodeCheck(
                name="numbers",
                ok=False,
                detail="no campaign folder: the paper's numbers cannot be traced to any records "
                "(give --campaign DIR)",
            )
        ]
    from agents.analyst import HYPOTHESIS_ID

    text = " ".join(str(text)[:MAX_TEXT].split())
    records = _Records(folder)
    ids = list(dict.fromkeys(m.split("/")[-1] for m in HYPOTHESIS_ID.findall(text)))
    places = _clauses(text, ids)
    # An id's digits are not figures; only the id itself is masked (its optional campaign
    # prefix is matched by a pattern that would also take the digits of "0.97/r0-0").
    masked = re.sub(r"(?<![\w-])r\d+-\d+(?![\w-])", " ", text)
    return [
        _numbers(masked, campaign_figures(folder)),
        _claims(places, records),
        _flags(places, records),
        _known(places, records),
        _provenance(text, records),
        _bundles([h for h in ids if h in records.rows and records.report(records.rows[h])], folder),
    ]


def _clauses(text: str, ids: list[str]) -> dict[str, list[tuple[str, str]]]:
    """For each id, the clauses (sentences, or parts of one between semicolons) about it, each
    with the clause after it (where a CI often follows): those naming it, and those after them
    that name no hypothesis ("We tested r0-0. It outperforms every baseline.")."""
    clauses = re.split(r"(?<=[.!?])\s+(?=[A-Z(\[])|(?<=;)\s+", text)
    pattern = {h: re.compile(rf"(?<![\w-]){re.escape(h)}(?![\w-])") for h in ids}
    places: dict[str, list[tuple[str, str]]] = {h: [] for h in ids}
    about: list[str] = []
    for i, clause in enumerate(clauses):
        named = [h for h in ids if pattern[h].search(clause)]
        about = named or about
        for h in about:
            places[h].append((clause, clauses[i + 1] if i + 1 < len(clauses) else ""))
    return places


def _check(name: str, items: list[str], blocking: bool, passed: str, failed: str) -> CodeCheck:
    return CodeCheck(
        name=name,
        ok=not items,
        blocking=bool(items) and blocking,
        detail=passed if not items else failed,
        items=items[:MAX_ITEMS],
    )


def _numbers(text: str, figures: Figures) -> CodeCheck:
    from core.grounding import numbers_in

    untraced = figures.untraced(text)
    total = len(set(numbers_in(text)))
    return _check(
        "numbers",
        untraced,
        True,
        f"every number in the paper ({total} distinct) is in the campaign's records",
        f"{len(untraced)} of {total} distinct numbers are in none of the campaign's records",
    )


def _claims(places: dict[str, list[tuple[str, str]]], records: _Records) -> CodeCheck:
    """Every claim (``hypoforge.claims``) about a hypothesis: a discovery with its CI stated,
    or blocking: a win, a confirmation or novelty claimed for one the ledger does not confirm,
    and any hypothesis the ledger does not hold."""
    items: list[str] = []
    blocking = False
    claimed = 0
    for hid, found in places.items():
        row = records.rows.get(hid)
        said = [(s, nxt) for s, nxt in found if asserts(CLAIM, s)]
        if row is None:
            items.append(
                f"{hid}: {'claimed' if said else 'named'}, but the ledger has no such hypothesis"
            )
            blocking = True
            continue
        if not said:
            continue
        claimed += 1
        problems = _claim_problems(row, records.report(row))
        if not any(STATED_CI.search(s + " " + nxt) for s, nxt in said):
            problems.append("the text states no confidence interval")
        if problems:
            items.append(f"{hid}: {'; '.join(problems)}")
        blocking |= not discovery(row)
    return _check(
        "claims",
        items,
        blocking,
        f"{claimed} claimed improvement(s), each with its CI above 0.5 and confirmed on "
        "held-out splits",
        "claimed improvements without a CI clear of 0.5 or a held-out confirmation"
        + (" (claimed for a hypothesis the ledger does not confirm)" if blocking else ""),
    )


def _claim_problems(row: HypothesisRow, report: EvalReport | None) -> list[str]:
    ci = report.win_rate_ci if report is not None else None
    out = []
    if ci is None:
        out.append("no confidence interval recorded")
    elif ci[0] <= 0.5:
        out.append(f"CI [{ci[0]:.3f}, {ci[1]:.3f}] does not clear 0.5")
    if not discovery(row):
        why = f"it is {row.known}" if row.known else (row.confirmation or "never run")
        out.append(f"not a discovery: held-out confirmation {why}")
    return out


def _flags(places: dict[str, list[tuple[str, str]]], records: _Records) -> CodeCheck:
    items: list[str] = []
    blocking = False
    for hid, found in places.items():
        row = records.rows.get(hid)
        if row is None:
            continue
        report = records.report(row)
        flags = list(dict.fromkeys([*row.flags, *(report.flags if report else ())]))
        if not flags or any(SAYS_FLAGGED.search(s + " " + nxt) for s, nxt in found):
            continue
        items.append(f"{hid}: flagged by the harness ({'; '.join(flags)}); the paper does not say")
        blocking |= any(asserts(CLAIM, s) for s, _ in found)
    return _check(
        "flags",
        items,
        blocking,
        "every flagged result the paper names (a bigger model, say) is said to be flagged",
        "results the harness flagged (a bigger model, say) are not said to be flagged",
    )


def _known(places: dict[str, list[tuple[str, str]]], records: _Records) -> CodeCheck:
    items = []
    for hid, found in places.items():
        row = records.rows.get(hid)
        if row is None or row.known is None or not any(asserts(NEW, s) for s, _ in found):
            continue
        items.append(f"{hid}: called new, but it is {row.known} ({row.citation or 'no citation'})")
    return _check(
        "known",
        items,
        True,
        "no published component is presented as new",
        "published components are presented as new",
    )


def _provenance(text: str, records: _Records) -> CodeCheck:
    how = records.how
    items, blocking = [], False
    for clause in re.split(r"(?<=[.!?])\s+(?=[A-Z(\[])", text):
        for why in provenance_problems(
            clause,
            llm_proposed=how.llm_proposed,
            critic_reviewed=how.critic_reviewed,
            lineage=how.lineage,
        ):
            items.append(f"{why}: {clause[:160]}")
            blocking = blocking or "lineage" not in why
    return _check(
        "provenance",
        items,
        blocking,
        "what the paper says of how the campaign ran (proposer, critic, lineage) is in its records",
        f"{len(items)} statements about how the campaign ran are not in its records",
    )


def _bundles(ids: list[str], folder: Path) -> CodeCheck:
    missing = [h for h in ids if not (folder / "bundles" / h / "bundle.json").is_file()]
    return _check(
        "bundles",
        missing,
        False,
        f"every scored hypothesis the paper names ({len(ids)}) has its reproduction bundle",
        f"{len(missing)} scored {'hypothesis' if len(missing) == 1 else 'hypotheses'} the paper "
        "names "
        "have no reproduction bundle: "
        f"`hypoforge reproduce {folder} ID` writes one",
    )
