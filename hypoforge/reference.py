"""A reference point in a campaign: a published component of the task's catalogue, screened
beside the proposals (``hypoforge run --reference NAME``).

A campaign whose proposals all fail (a small model's degenerate functions, say) ends with an
empty leaderboard and nothing to plot or write up. A reference row gives it a measured point of
comparison that is honest about what it is: its idea names it and says it is a published
component, not a proposal; it carries the component's name and citation (``known``); and the
campaign's rules for published components apply to it (screened once, never promoted or
confirmed, never a discovery). The probe checks the label by behaviour, as for any proposal. It
is always measured in this campaign (``graph.selection.REFERENCE``): an archived twin from an
earlier campaign does not stand in for it, so the report has its own figures and curves.

The row takes the first place of round 0, as the built-in search generator's proposals do: it is
trusted code, so no critic judges it, and the round runs it like a proposal written before a
crash. It takes one place of the proposal budget.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from core.errors import ConfigError
from core.records import HypothesisRow
from core.settings import CampaignSettings
from evaluators import catalogue
from graph import selection
from hypoforge import campaign
from store.ledger import Ledger

# The first place of round 0: the graph names a round's places r<round>-<i> and takes a row
# already in the ledger as proposed.
PLACE = "r0-0"


def find(task_dir: Path, name: str, budgets: CampaignSettings) -> catalogue.Component:
    """The entry ``name`` of the task's catalogue that has code (any case), checked before a
    campaign is created: ``ConfigError`` naming the usable entries for an unknown name, or when
    the proposal budget leaves no place for a proposal beside the reference."""
    if budgets.proposals < 2:
        raise ConfigError(
            "a reference takes one place of the proposal budget: give --proposals 2 or more"
        )
    usable = [c for c in catalogue.load(task_dir) if c.code]
    for component in usable:
        if component.name.casefold() == name.strip().casefold():
            return component
    names = ", ".join(c.name for c in usable) or "none (the task has no catalogue with code)"
    raise ConfigError(f"no published component {name!r} with code in the catalogue: {names}")


def seed(folder: Path, component: catalogue.Component) -> HypothesisRow:
    """Put ``component`` in the first place of the new campaign in ``folder`` as a reference
    point (``find`` chose it): its code in ``hypotheses/``, its row in the ledger.
    ``ConfigError`` when the campaign has started already."""
    info = campaign.load(folder)
    code = component.code or ""
    ledger = Ledger(folder / "ledger.sqlite")
    try:
        if ledger.started(info.id) is not None or ledger.hypotheses(info.id):
            raise ConfigError(f"{folder}: a reference is added before the campaign starts")
        path = folder / "hypotheses" / f"{PLACE}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code)
        row = HypothesisRow(
            campaign=info.id,
            id=PLACE,
            round=0,
            mode="incremental",
            # The name first: plots and tables cut ideas short.
            idea=f"{component.name} (a reference point from the task's catalogue, not a "
            f"proposal): {component.description}",
            code_sha=hashlib.sha256(code.encode()).hexdigest(),
            verdict="run",
            known=f"same as {component.name}",
            citation=component.reference.cite(),
        )
        ledger.save(row)
        detail = {"id": PLACE, "component": component.name}
        ledger.log(info.id, "orchestrator", selection.REFERENCE, detail)
        return row
    finally:
        ledger.close()
