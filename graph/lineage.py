"""Experiment iteration (lineage): the AI Scientist's loop of runs that each build on an earlier
one. A proposal may have a parent (``HypothesisRow.parent``, an id of this campaign): the proposer
is shown the parent's code with its per-dataset results and what its other children did, and the
child is written against it.

Which way a proposal picks its parent is dealt out over the campaign's proposals by the shares of
``[campaign] lineage`` (``dealt``): ``best`` takes the best scored hypothesis, ``diverse`` a
hypothesis that leads on some dataset and that few children build on yet, ``new`` none. Only an
OK, unflagged, scored hypothesis can be a parent; with none (the first round), or when the reward
model collapsed (the round explores), or with the search generator, a proposal is a new idea.

How a child's source is made (``compose``):
- a task whose hypothesis is a function: the child is a whole new function (it reads the parent's
  code in its prompt); its source is its own code;
- an edit task (``slot`` edits): the child's edits are written against the parent's edited
  script, and its source is the parent's source, a comment line, then its own edits, applied in
  order to the template, so the evaluator runs the parent's edits and then the child's. A parent's
  edits must leave room (``ROOM``) under the edits' limits (``evaluators.edits``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from agents.parsing import EDITS_SLOT
from agents.proposer import DatasetResult, Parent
from core.errors import HypoforgeError
from core.records import HypothesisRow, Outcome, Stage
from core.settings import LineageKind
from evaluators.edits import MAX_EDITS, MAX_EDITS_BYTES, apply_edits, blocks, parse_edits
from evaluators.static_check import StaticCheckError
from graph.ladder import selection_report

if TYPE_CHECKING:
    from graph.deps import Deps

KINDS: tuple[LineageKind, ...] = ("best", "diverse", "new")
ROOM = (3, 3000)  # edits and bytes a parent's edits must leave free under the edits' limits
CHILDREN_SHOWN = 6  # the latest children of a parent the proposer is told about


@runtime_checkable
class Scripted(Protocol):
    """An evaluator that makes the script a container runs from a hypothesis's source (the kit's
    ``SandboxedEvaluator.runnable``: for an edit task, the template with the edits applied)."""

    def runnable(self, source: str) -> str: ...


def dealt(shares: Mapping[LineageKind, float], index: int) -> LineageKind:
    """The way proposal ``index`` (from 0, over the campaign) picks its parent: the shares dealt
    out in a fixed order (smooth weighted round robin), so any stretch of proposals holds each
    way close to its share; ties go in the order of ``KINDS``."""
    total = sum(shares.values())
    counts = dict.fromkeys(KINDS, 0)
    pick: LineageKind = "new"
    for n in range(index + 1):
        pick = max(
            KINDS, key=lambda k: (shares.get(k, 0.0) / total * (n + 1) - counts[k], -KINDS.index(k))
        )
        counts[pick] += 1
    return pick


def edit_task(deps: Deps) -> bool:
    return deps.function == EDITS_SLOT


def has_room(source: str) -> bool:
    """Whether an edit task's source leaves room under the edits' limits for a child's edits."""
    try:
        count = len(parse_edits(source))
    except (HypoforgeError, StaticCheckError):
        return False
    small = len(source.encode(errors="replace")) <= MAX_EDITS_BYTES - ROOM[1]
    return count <= MAX_EDITS - ROOM[0] and small


def candidates(deps: Deps) -> list[HypothesisRow]:
    """The campaign's hypotheses a child may build on: scored with an OK, unflagged result (not a
    duplicate) whose code is on disk, and for an edit task with room for more edits."""
    out = []
    for row in deps.ledger.hypotheses(deps.campaign):
        path = deps.code_path(row.id)
        scored = row.outcome == Outcome.OK and row.selection_win_rate is not None
        if not scored or row.flagged or row.stage == Stage.DUPLICATE or not path.exists():
            continue
        if edit_task(deps) and not has_room(path.read_text()):
            continue
        out.append(row)
    return out


def pick(deps: Deps, kind: LineageKind, taken: Mapping[str, int] | None = None) -> str | None:
    """The parent (an id) a proposal picking ``kind`` builds on, or None. ``taken`` counts
    children given out earlier in this batch (not in the ledger yet) by parent id."""
    if kind == "new":
        return None
    found = candidates(deps)
    if not found:
        return None
    rows = deps.ledger.hypotheses(deps.campaign)
    children = {r.id: sum(c.parent == r.id for c in rows) for r in found}
    for hid, n in (taken or {}).items():
        if hid in children:
            children[hid] += n

    def win(r: HypothesisRow) -> float:
        return r.selection_win_rate or 0.0

    if kind == "best":
        return min(found, key=lambda r: (-win(r), children[r.id], r.round, r.id)).id
    leaders = _leaders(deps, found)
    if len(leaders) < 2:  # one leads everywhere (or nothing per dataset): spread over them all
        leaders = found
    return min(leaders, key=lambda r: (children[r.id], -win(r), r.round, r.id)).id


def _leaders(deps: Deps, rows: list[HypothesisRow]) -> list[HypothesisRow]:
    """The rows that lead on at least one dataset (by their win rate there), in ``rows``' order."""
    best: dict[str, tuple[float, str]] = {}
    for row in rows:
        report = selection_report(deps, row)
        for dataset, score in (report.per_dataset if report is not None else {}).items():
            if dataset not in best or score.win_rate > best[dataset][0]:
                best[dataset] = (score.win_rate, row.id)
    ids = {hid for _, hid in best.values()}
    return [r for r in rows if r.id in ids]


def view(deps: Deps, parent: str) -> Parent | None:
    """What the proposer and the coder are shown of ``parent``: its code (an edit task: the
    blocks its edits changed), its per-dataset results and what its children did."""
    row = deps.ledger.hypothesis(deps.campaign, parent)
    path = deps.code_path(parent)
    if row is None or not path.exists():
        return None
    report = selection_report(deps, row)
    datasets = tuple(
        DatasetResult(dataset=name, score=s.candidate, win_rate=s.win_rate)
        for name, s in sorted((report.per_dataset if report is not None else {}).items())
    )
    kids = [r for r in deps.ledger.hypotheses(deps.campaign) if r.parent == parent]
    return Parent(
        id=row.id,
        idea=row.idea,
        code=shown_code(deps, path.read_text()),
        edits=edit_task(deps),
        win_rate=row.selection_win_rate or 0.0,
        datasets=datasets,
        children=tuple(did(r) for r in kids[-CHILDREN_SHOWN:]),
    )


def did(row: HypothesisRow) -> str:
    """One line on what a child did: its idea and its result or fate."""
    if row.outcome == Outcome.OK and row.selection_win_rate is not None:
        fate = f"win rate {row.selection_win_rate:.2f}"
        if row.flags:
            fate += f", flagged: {row.flags[0][:100]}"
    elif row.outcome is not None:
        fate = f"{row.outcome}" + (f" ({row.reason[:100]})" if row.reason else "")
    else:
        fate = f"not measured yet ({row.stage})"
    return f"{row.id}: {row.idea[:200]}: {fate}"


def shown_code(deps: Deps, source: str) -> str:
    """The parent's code as a child's author sees it: for an edit task the blocks of its edited
    script that differ from the template (all of its blocks where the template is unknown; its
    edits where the evaluator makes no script); otherwise its source."""
    if not edit_task(deps) or not isinstance(deps.evaluator, Scripted):
        return source.strip("\n")
    try:
        script = deps.evaluator.runnable(source)
        edited = blocks(script)
    except (HypoforgeError, StaticCheckError):
        return source.strip("\n")
    try:
        unchanged = {b.name: b.body for b in blocks(deps.evaluator.runnable(""))}
    except (HypoforgeError, StaticCheckError):
        unchanged = {}
    shown = [b for b in edited if unchanged.get(b.name) != b.body] or edited
    return "\n".join(f"# >>> EDIT {b.name}\n{b.body}# <<< EDIT {b.name}" for b in shown)


def separator(row: HypothesisRow) -> str:
    """The comment line between a child's parent's edits and its own (edits ignore prose)."""
    return f"# {row.id} builds on {row.parent}: its own edits follow\n"


def compose(deps: Deps, row: HypothesisRow, own: str) -> str:
    """The source of ``row`` from its own code: for a child in an edit task, its parent's source,
    the separator, then its own edits; otherwise ``own`` itself."""
    if row.parent is None or not edit_task(deps):
        return own
    parent = deps.code_path(row.parent).read_text()
    return f"{parent.rstrip()}\n{separator(row)}{own}"


def own(deps: Deps, row: HypothesisRow, source: str) -> str:
    """A child's own code, from its source (``compose`` undone); the source itself otherwise."""
    if row.parent is None or not edit_task(deps):
        return source
    return source.rpartition(separator(row))[2]


def write(deps: Deps, row: HypothesisRow, code: str) -> HypothesisRow:
    """Write ``row``'s own ``code`` as its source (``compose``), with the new code hash."""
    return deps.write_code(row, compose(deps, row, code))


def problem(deps: Deps, row: HypothesisRow, found: str | None) -> str | None:
    """The static check's problem with a child's source, said of its own edits where they are
    what fails against its parent's script (numbered from its first edit, as its author wrote
    them); the check's own words otherwise."""
    if found is None or row.parent is None or not edit_task(deps):
        return found
    if not isinstance(deps.evaluator, Scripted):
        return found
    try:
        script = deps.evaluator.runnable(deps.code_path(row.parent).read_text())
        apply_edits(script, own(deps, row, deps.code_path(row.id).read_text()))
    except (HypoforgeError, StaticCheckError) as exc:
        return f"{exc} (your edits apply to the script of {row.parent}, after its own edits)"
    return found
