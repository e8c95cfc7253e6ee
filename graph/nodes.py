"""One small function per node. Each is idempotent: it reads the ledger, does only the work its
hypotheses still need, and writes the outcome there, so a resumed graph may re-run any node.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from langgraph.types import interrupt

from agents import analyst, coder, critic, proposer
from agents.literature import literature_rounds
from core.records import HypothesisRow, Mode, Stage
from core.settings import CampaignSettings
from graph import knowledge, lineage, literature, routing, selection
from graph.deps import Deps
from graph.ladder import selection_report, tried
from graph.pool import fan_out
from graph.state import CampaignState
from store import lifecycle


def context(state: CampaignState, deps: Deps) -> dict:
    """Before a new round: take the user's steering (a pause interrupts the graph here; a stop or
    lowered budgets apply now) and check the hard budgets; set ``stop`` when one is spent."""
    if deps.steering.paused():
        interrupt({"kind": "pause"})  # the runner resumes the graph once the user resumes
    budgets = deps.steering.budgets(deps.settings)
    tokens, _ = deps.ledger.usage(deps.campaign)
    started = deps.ledger.started(deps.campaign) or time.time()
    stop = routing.budget_stop(
        proposed=len(deps.ledger.hypotheses(deps.campaign)),
        max_proposals=budgets.proposals,
        tokens=tokens,
        max_tokens=budgets.tokens,
        elapsed_hours=(time.time() - started) / 3600,
        max_hours=budgets.hours,
        cost=budgets.spent(tokens),
        max_cost=budgets.cost,
    )
    who = deps.steering.stopped_by()
    if who is not None:
        stop = f"stopped by {who}"
    if stop:
        deps.ledger.log(deps.campaign, "orchestrator", "stop", stop)
    return {"stop": stop}


def _mode(settings: CampaignSettings, index: int, explore: bool = False) -> Mode:
    if explore:
        return "novel"  # the reward model collapsed last round
    if settings.mode != "mixed":
        return settings.mode
    return "incremental" if index % 2 == 0 else "novel"


def propose(state: CampaignState, deps: Deps) -> dict:
    """Ask the proposer for this round's batch (no more than the proposal budget allows), up to
    the endpoint's concurrency at once; while the token budget holds (else fewer this round)."""
    rnd = state["round"]
    made = len(deps.ledger.hypotheses(deps.campaign))
    batch = list(state["batch"])
    room = deps.settings.proposals - made + len(batch)
    todo: list[tuple[str, Mode, str | None]] = []
    taken: dict[str, int] = {}  # children given out in this batch, by parent
    for i in range(min(deps.settings.batch, room)):
        hid = f"r{rnd}-{i}"
        if hid not in batch:
            batch.append(hid)
        if deps.ledger.hypothesis(deps.campaign, hid) is not None:
            continue  # proposed before a crash
        index = rnd * deps.settings.batch + i
        explore = state.get("explore", False)
        mode = _mode(deps.settings, index, explore)
        if deps.settings.generator == "search":
            deps.notify("proposer", f"proposing {hid} ({mode})")
            deps.ledger.save(_searched(deps, hid, rnd, mode))
            continue
        kind = "new" if explore else lineage.dealt(deps.settings.lineage, index)
        parent = lineage.pick(deps, kind, taken)
        if parent is not None:
            taken[parent] = taken.get(parent, 0) + 1
            deps.ledger.log(
                deps.campaign, "proposer", "parent", {"id": hid, "parent": parent, "by": kind}
            )
        todo.append((hid, mode, parent))

    def start(item: tuple[str, Mode, str | None], slot: int) -> Callable[[], Any]:
        hid, mode, parent = item
        deps.notify("proposer", f"proposing {hid} ({mode}" + (f", on {parent})" if parent else ")"))
        asked: dict[str, Any] = dict(
            mode=mode,
            task_description=deps.described("proposer"),
            retries=deps.retries,
            task_dir=deps.task_dir,
            function=deps.function,
            parent=None if parent is None else lineage.view(deps, parent),
            **knowledge.for_proposer(deps),
        )
        return lambda: proposer.propose(deps.models["proposer"], **asked)

    def done(item: tuple[str, Mode, str | None], answer: Any) -> None:
        hid, mode, parent = item
        deps.spend(answer.tokens)
        if answer.value is None:
            row = HypothesisRow(
                campaign=deps.campaign,
                id=hid,
                round=rnd,
                mode=mode,
                idea="(unparseable reply)",
                parent=parent,
            )
            deps.ledger.log(deps.campaign, "proposer", "malformed", answer.text[-500:])
            deps.ledger.apply(lifecycle.invalid(row, "; ".join(answer.errors)[-300:]))
            return
        row = HypothesisRow(
            campaign=deps.campaign,
            id=hid,
            round=rnd,
            mode=mode,
            idea=answer.value.idea,
            parent=parent,
        )
        deps.ledger.save(lineage.write(deps, row, answer.value.code))

    left = fan_out(todo, start, done, deps.llm_concurrency, admit=deps.llm_open)
    if left:
        unmade = [hid for hid, _, _ in left]
        deps.ledger.log(deps.campaign, "proposer", "budget", {"not proposed": unmade})
        batch = [h for h in batch if h not in unmade]
    return {"batch": batch}


def _searched(deps: Deps, hid: str, rnd: int, mode: Mode) -> HypothesisRow:
    """A proposal of the built-in search generator: no LLM, no critic (it always runs)."""
    from evaluators import registry

    seed = int(hashlib.sha256(f"{deps.campaign}/{hid}".encode()).hexdigest()[:8], 16)
    context = knowledge.for_proposer(deps)
    known = [(k.idea, k.win_rate) for k in context["best"]]
    known += [(r.idea, r.screen_win_rate or 0.0) for r in deps.ledger.hypotheses(deps.campaign)]
    idea, code = registry.get(deps.task).make_generator(seed).propose(mode, known)
    row = HypothesisRow(
        campaign=deps.campaign, id=hid, round=rnd, mode=mode, idea=idea, verdict="run"
    )
    return deps.write_code(row, code)


def critique(state: CampaignState, deps: Deps) -> dict:
    """The critic's verdict on every new proposal (up to the endpoint's concurrency at once);
    exact duplicates are rejected without a call."""
    earlier = {
        r.code_sha: r.id
        for r in deps.ledger.hypotheses(deps.campaign)
        if r.id not in state["batch"] and r.code_sha
    }
    todo: list[HypothesisRow] = []
    for row in deps.rows(state["batch"]):
        if row.stage != Stage.PROPOSED:
            continue
        if row.code_sha in earlier:
            deps.ledger.apply(lifecycle.same_code(row, f"{deps.campaign}/{earlier[row.code_sha]}"))
            continue
        if row.verdict is None:  # not judged before (a repair) and needs a judge (not search)
            todo.append(row)
    todo = _known_before_review(deps, todo)

    def start(row: HypothesisRow, slot: int) -> Callable[[], Any]:
        deps.notify("critic", f"reviewing {row.id}")
        code = deps.code_path(row.id).read_text()
        asked: dict[str, Any] = dict(
            idea=row.idea,
            code=code,
            neighbours=knowledge.neighbours(deps, row, code),
            published=literature.for_critic(deps, row),
            task_description=deps.described("critic"),
            retries=deps.retries,
            task_dir=deps.task_dir,
        )
        scholar = deps.scholar

        def review() -> tuple[Any, Any]:
            found = None
            if scholar is not None:  # the AI Scientist's search rounds, then the verdict
                found = literature_rounds(
                    deps.models["critic"],
                    row.idea,
                    scholar,
                    deps.literature_rounds,
                    task_description=asked["task_description"],
                    task_dir=deps.task_dir,
                )
                asked["published"] = [*asked["published"], literature.searched(found)]
            return found, critic.critique(deps.models["critic"], **asked)

        return review

    def done(row: HypothesisRow, result: tuple[Any, Any]) -> None:
        found, answer = result
        if found is not None:
            deps.spend(found.tokens)
            literature.record_search(deps, row, found)
        deps.spend(answer.tokens)
        verdict = answer.value or critic.Verdict(decision="run", reasons="critic reply unusable")
        _judged(deps, row, verdict)

    for row in fan_out(todo, start, done, deps.llm_concurrency, admit=deps.llm_open):
        # The token budget is spent: no review; it runs, as with an unusable critic reply.
        _judged(deps, row, critic.Verdict(decision="run", reasons="token budget spent: no review"))
    return {}


def _known_before_review(deps: Deps, rows: list[HypothesisRow]) -> list[HypothesisRow]:
    """Probe the proposals the critic is about to review (the probe node reuses each probe of
    an unchanged version) and mark those that behave like a published component, so that the
    critic is told so: a published function under another name is seen for what it is. Not
    with ``approve``: there no generated code runs before the user's yes (the gate, after the
    critic), and the critic has the text matches alone."""
    if not rows or "critic" not in deps.models or deps.settings.approve:
        return rows
    # Code that fails the static check goes to the coder (validate) without a launch.
    with_code = [
        r
        for r in rows
        if r.code_sha and deps.evaluator.static_problem(deps.code_path(r.id).read_text()) is None
    ]
    prober = selection.probe_code(deps, with_code)
    known = literature.known_components(deps) if prober is not None else []
    out = []
    for row in rows:
        found = deps.ledger.probe(deps.campaign, row.id, row.code_sha or "") if known else None
        update = literature.mark(deps, row, found[1], known) if found else {}
        if update:
            row = row.model_copy(update=update)
            deps.ledger.save(row)
        out.append(row)
    return out


def _judged(deps: Deps, row: HypothesisRow, verdict: Any) -> None:
    if (
        verdict.decision == "reject"
        and literature.published(row)
        and deps.settings.allow_known != "never"
    ):  # the campaign screens published components as reference points, whatever the critic
        reasons = (
            f"{row.known}: screened as a reference point (allow_known = "
            f"{deps.settings.allow_known}); the critic would reject it: {verdict.reasons}"
        )
        verdict = critic.Verdict(decision="run", reasons=reasons[:300], p_win=verdict.p_win)
    deps.ledger.apply(lifecycle.judged(row, verdict.decision, verdict.reasons, verdict.p_win))


def code(state: CampaignState, deps: Deps) -> dict:
    """The coder repairs every hypothesis waiting for it (critic's revise or a failed check), up
    to the endpoint's concurrency at once."""
    todo: list[HypothesisRow] = []
    for row in deps.rows(state["batch"]):
        if row.stage != Stage.NEEDS_REPAIR:
            continue
        if "coder" not in deps.models:  # no LLM in this campaign (the search generator)
            deps.ledger.apply(lifecycle.failed(row))
            continue
        todo.append(row)

    def start(row: HypothesisRow, slot: int) -> Callable[[], Any]:
        deps.notify("coder", f"repairing {row.id}: {row.reason}")
        path = deps.code_path(row.id)
        asked: dict[str, Any] = dict(
            idea=row.idea,
            # A child's own code: for an edit task, its edits after its parent's.
            code=lineage.own(deps, row, path.read_text()) if path.exists() else None,
            error=row.reason,
            task_description=deps.described("coder"),
            retries=deps.retries,
            task_dir=deps.task_dir,
            function=deps.function,
            parent=None if row.parent is None else lineage.view(deps, row.parent),
        )
        return lambda: coder.write_code(deps.models["coder"], **asked)

    def done(row: HypothesisRow, answer: Any) -> None:
        deps.spend(answer.tokens)
        row = lifecycle.repaired(row).row
        if answer.value is not None:
            row = lineage.write(deps, row, answer.value)
        deps.ledger.save(row)

    for row in fan_out(todo, start, done, deps.llm_concurrency, admit=deps.llm_open):
        why = f"token budget spent before the repair of: {row.reason}"
        deps.ledger.apply(lifecycle.failed(row, why))
    return {}


def validate(state: CampaignState, deps: Deps) -> dict:
    """Static check; a failure goes back to the coder while repairs remain, else is final."""
    for row in deps.rows(state["batch"]):
        if row.stage != Stage.PROPOSED or row.verdict not in ("run", "revise"):
            continue
        problem = deps.evaluator.static_problem(deps.code_path(row.id).read_text())
        problem = lineage.problem(deps, row, problem)  # a child's: said of its own edits
        deps.ledger.apply(lifecycle.validated(row, problem, deps.settings.repairs))
    return {}


def analyze(state: CampaignState, deps: Deps) -> dict:
    """Keep/discard from measured numbers; the analyst comments on the rendered table."""
    out = deps.folder / "findings" / f"round-{state['round']}.md"
    if out.exists():
        return {}
    findings = []
    m = tried(deps)
    for row in deps.rows(state["batch"]):
        report = selection_report(deps, row)
        finding = lifecycle.finding(row.id, row.idea, report, m, row) if report else None
        if finding is not None:
            findings.append(finding)
    text = [f"# Round {state['round']}", "", analyst.table(findings), "", lifecycle.KEEP_RULE, ""]
    if findings and "analyst" in deps.models and deps.llm_open():
        deps.notify("analyst", f"summarising round {state['round']}")
        answer = analyst.summarise(
            deps.models["analyst"], findings, deps.described("analyst"), deps.task_dir
        )
        deps.spend(answer.tokens)
        if answer.value:
            flagged = analyst.unsupported(answer.value, analyst.table(findings))
            text += [
                "Analyst's commentary (model-written; the table above is measured):",
                "",
                answer.value,
                "",
            ]
            if flagged:
                text.append(f"Numbers or ids in the commentary but not in the table: {flagged}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(text) + "\n")
    return {}


def record(state: CampaignState, deps: Deps) -> dict:
    """Close the round: every hypothesis of the batch has a final stage in the ledger."""
    rows = deps.rows(state["batch"])
    for row in rows:
        original = (row.duplicate_of or "").removeprefix(f"{deps.campaign}/")
        source = deps.ledger.hypothesis(deps.campaign, original) if row.duplicate_of else None
        if source is not None and row.screen_win_rate is None and source.screen_win_rate:
            deps.ledger.save(row.model_copy(update={"screen_win_rate": source.screen_win_rate}))
    knowledge.remember(deps, deps.rows(state["batch"]))
    deps.ledger.log(
        deps.campaign,
        "orchestrator",
        "round",
        {"round": state["round"], "stages": {r.id: r.stage for r in rows}},
    )
    return {"round": state["round"] + 1, "batch": []}
