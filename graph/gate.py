"""The user's say before generated code runs: decisions typed in ``hypoforge chat`` (approve,
veto, revise) and, in approval mode, a wait for one.

``gate`` stands between validation and the probe, the first sandbox launch of a hypothesis's code:
in approval mode the graph interrupts there until the user has decided on every validated
hypothesis of the round. A decision holds for the code it was made on; a revision is new code and
needs a new one. Screening checks again without waiting, so a veto typed while the probe runs
still prevents it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from langgraph.types import interrupt

from core.records import HypothesisRow, Stage
from graph.state import CampaignState
from store import lifecycle

if TYPE_CHECKING:
    from graph.deps import Deps


def gate(state: CampaignState, deps: Deps) -> dict:
    """Apply the user's decisions on the round's validated hypotheses before the probe runs
    them; in approval mode, interrupt until each has one."""
    for row in deps.rows(state["batch"]):
        if row.stage == Stage.CODED:
            cleared(deps, row, wait=deps.settings.approve)
    return {}


def cleared(deps: Deps, row: HypothesisRow, wait: bool = False) -> bool:
    """Whether ``row`` may be launched: True unless the user's latest decision on its current
    code is a veto (stage ``vetoed``) or a revision (back to the coder with the user's words).
    With ``wait``, the graph interrupts until there is a decision or the campaign is stopped."""
    said = deps.steering.decision(row.id, since_code=row.code_sha)
    if said is None and wait:
        # A resumed node's first interrupt returns the answer to the question it asked before,
        # whichever row asks now (an earlier row may have been decided meanwhile): ask again
        # until this row has a decision of its own.
        while said is None and deps.steering.stopped_by() is None:
            interrupt({"kind": "approve", "hypothesis": row.id, "idea": row.idea})
            said = deps.steering.decision(row.id, since_code=row.code_sha)
        who = deps.steering.stopped_by()
        if said is None and who is not None:  # stopped while it waited: it is not launched
            said = ("veto", "the campaign was stopped", who)
    if said is None or said[0] == "approve":
        return True
    decision, note, who = said
    if decision == "veto":
        deps.ledger.apply(lifecycle.vetoed(row, who))
    else:
        deps.ledger.apply(lifecycle.needs_repair(row, f"{who} asked for a revision: {note}"))
    return False
