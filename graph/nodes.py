"""One small function per node. Each is idempotent: it reads the ledger, does only the work its
hypotheses still need, and writes the outcome there, so a resumed graph may re-run any node.
"""

from __future__ import annotations

import hashlib
import time
from itertools import pairwise
from typing import Any

from langgraph.types import interrupt

from agents import analyst, coder, critic, proposer
from graph import gate, knowledge, routing
from graph.deps import Deps, TaskEvaluator
from graph.state import CampaignState
from hypoforge.errors import InfraError
from hypoforge.ledger import HypothesisRow
from hypoforge.records import EvalReport, Fate, Outcome, Stage
from hypoforge.settings import CampaignSettings


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


def _mode(settings: CampaignSettings, index: int, explore: bool = False) -> str:
    if explore:
        return "novel"  # the reward model collapsed last round
    if settings.mode != "mixed":
        return settings.mode
    return "incremental" if index % 2 == 0 else "novel"


def propose(state: CampaignState, deps: Deps) -> dict:
    """Ask the proposer for this round's batch (no more than the proposal budget allows)."""
    rnd = state["round"]
    made = len(deps.ledger.hypotheses(deps.campaign))
    batch = list(state["batch"])
    room = deps.settings.proposals - made + len(batch)
    for i in range(min(deps.settings.batch, room)):
        hid = f"r{rnd}-{i}"
        if hid not in batch:
            batch.append(hid)
        if deps.ledger.hypothesis(deps.campaign, hid) is not None:
            continue  # proposed before a crash
        mode = _mode(deps.settings, rnd * deps.settings.batch + i, state.get("explore", False))
        deps.notify("proposer", f"proposing {hid} ({mode})")
        if deps.settings.generator == "search":
            deps.ledger.save(_searched(deps, hid, rnd, mode))
            continue
        answer = proposer.propose(
            deps.models["proposer"],
            mode=mode,
            task_description=deps.described("proposer"),
            retries=deps.retries,
            task_dir=deps.task_dir,
            function=deps.function,
            **knowledge.for_proposer(deps),
        )
        deps.spend(answer.tokens)
        if answer.value is None:
            row = HypothesisRow(
                campaign=deps.campaign,
                id=hid,
                round=rnd,
                mode=mode,
                idea="(unparseable reply)",
                stage=Stage.INVALID,
                outcome=Fate.INVALID,
                reason="; ".join(answer.errors)[-300:],
            )
            deps.ledger.log(deps.campaign, "proposer", "malformed", answer.text[-500:])
        else:
            row = HypothesisRow(
                campaign=deps.campaign, id=hid, round=rnd, mode=mode, idea=answer.value.idea
            )
            row = deps.write_code(row, answer.value.code)
        deps.ledger.save(row)
    return {"batch": batch}


def _searched(deps: Deps, hid: str, rnd: int, mode: str) -> HypothesisRow:
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
    """The critic's verdict on every new proposal; exact duplicates are rejected without a call."""
    earlier = {
        r.code_sha: r.id
        for r in deps.ledger.hypotheses(deps.campaign)
        if r.id not in state["batch"] and r.code_sha
    }
    for row in deps.rows(state["batch"]):
        if row.stage != Stage.PROPOSED:
            continue
        if row.code_sha in earlier:
            original = earlier[row.code_sha]
            deps.ledger.save(
                row.model_copy(
                    update={
                        "verdict": "reject",
                        "stage": Stage.DUPLICATE,
                        "outcome": Fate.DUPLICATE,
                        "duplicate_of": f"{deps.campaign}/{original}",
                        "reason": f"same code as {original}",
                    }
                )
            )
            continue
        if row.verdict is not None:
            continue  # judged before (a repair) or needs no judge (the search generator)
        deps.notify("critic", f"reviewing {row.id}")
        answer = critic.critique(
            deps.models["critic"],
            idea=row.idea,
            code=deps.code_path(row.id).read_text(),
            neighbours=knowledge.neighbours(deps, row, deps.code_path(row.id).read_text()),
            task_description=deps.described("critic"),
            retries=deps.retries,
            task_dir=deps.task_dir,
        )
        deps.spend(answer.tokens)
        verdict = answer.value or critic.Verdict(decision="run", reasons="critic reply unusable")
        update: dict[str, Any] = {"verdict": verdict.decision, "p_win": verdict.p_win}
        if verdict.decision == "reject":
            update.update(stage=Stage.REJECTED, outcome=Fate.REJECTED, reason=verdict.reasons[:300])
        elif verdict.decision == "revise":
            update.update(stage=Stage.NEEDS_REPAIR, reason=verdict.reasons[:300])
        deps.ledger.log(deps.campaign, "critic", "verdict", {"id": row.id, **verdict.model_dump()})
        deps.ledger.save(row.model_copy(update=update))
    return {}


def code(state: CampaignState, deps: Deps) -> dict:
    """The coder repairs every hypothesis waiting for it (critic's revise or a failed check)."""
    for row in deps.rows(state["batch"]):
        if row.stage != Stage.NEEDS_REPAIR:
            continue
        if "coder" not in deps.models:  # no LLM in this campaign (the search generator)
            deps.ledger.save(
                row.model_copy(update={"stage": Stage.FAILED, "outcome": row.outcome or "invalid"})
            )
            continue
        deps.notify("coder", f"repairing {row.id}: {row.reason}")
        path = deps.code_path(row.id)
        answer = coder.write_code(
            deps.models["coder"],
            idea=row.idea,
            code=path.read_text() if path.exists() else None,
            error=row.reason,
            task_description=deps.described("coder"),
            retries=deps.retries,
            task_dir=deps.task_dir,
            function=deps.function,
        )
        deps.spend(answer.tokens)
        row = row.model_copy(update={"repairs": row.repairs + 1, "stage": Stage.PROPOSED})
        if answer.value is not None:
            row = deps.write_code(row, answer.value)
        deps.ledger.save(row)
    return {}


def validate(state: CampaignState, deps: Deps) -> dict:
    """Static check; a failure goes back to the coder while repairs remain, else is final."""
    for row in deps.rows(state["batch"]):
        if row.stage != Stage.PROPOSED or row.verdict not in ("run", "revise"):
            continue
        problem = deps.evaluator.static_problem(deps.code_path(row.id).read_text())
        passed = {"stage": Stage.CODED, "reason": None}
        update = routing.after_check(
            problem, row.repairs, deps.settings.repairs, passed, failed="invalid"
        )
        deps.ledger.save(row.model_copy(update=update))
    return {}


def _experiment(
    deps: Deps, row: HypothesisRow, budget: str, evaluator: TaskEvaluator | None = None
) -> EvalReport:
    """Run one experiment exactly once: a result already in the ledger is reused."""
    evaluator = evaluator or deps.evaluator
    source = deps.code_path(row.id).read_text()
    key = evaluator.experiment_key(source, budget)
    report = deps.ledger.result(key)
    if report is not None:
        return report
    where = "" if evaluator is deps.evaluator else " on the held-out splits"
    deps.notify("sandbox", f"{budget} evaluation of {row.id}{where}")
    deps.ledger.add_usage(deps.campaign, launches=1)
    report = evaluator.evaluate(source, budget)
    if report.status is Outcome.INFRA_ERROR:
        # Never counted against the hypothesis: the campaign stops here and can be resumed.
        raise InfraError(f"{row.id}: {report.reason}")
    deps.ledger.put_result(key, deps.campaign, row.id, report)
    return report


# Sandbox outcomes the coder can fix from the error message (not timeouts, memory or disk).
REPAIRABLE = (Outcome.INVALID, Outcome.HYP_ERROR, Outcome.NONFINITE)


def screen(state: CampaignState, deps: Deps) -> dict:
    """One-pass screening of every selected hypothesis; code faults go back to the coder."""
    for row in deps.rows(state["batch"]):
        if row.stage != Stage.SELECTED:
            continue
        if not gate.cleared(deps, row):  # vetoed or sent back since it was probed
            continue
        budget = deps.settings.ladder[0]
        report = _experiment(deps, row, budget)
        if report.status is Outcome.OK:
            stage = Stage.SCREENED
        elif report.status in REPAIRABLE and row.repairs < deps.settings.repairs:
            stage = Stage.NEEDS_REPAIR
        else:
            stage = Stage.FAILED
        deps.ledger.save(
            row.model_copy(
                update={
                    "stage": stage,
                    "outcome": report.status.value,
                    "reason": report.reason or None,
                    "flags": list(report.flags),
                    "screen_win_rate": report.win_rate,
                    "rungs": {budget: report.win_rate} if report.win_rate is not None else {},
                }
            )
        )
    return {}


def evaluate(state: CampaignState, deps: Deps) -> dict:
    """The promotion ladder: each rung after screening runs the best of the rung before (by its
    win rate there), as many as the rung's survivor count; the last rung is the full budget."""
    ladder = deps.settings.ladder
    for (before, rung), survivors in zip(pairwise(ladder), deps.settings.survivors(), strict=True):
        rows = [r for r in deps.rows(state["batch"]) if before in r.rungs]
        rows.sort(key=lambda r: r.rungs[before], reverse=True)
        for row in rows[:survivors]:
            if rung in row.rungs:
                continue  # run before a crash (a failed run is found in the ledger instead)
            report = _experiment(deps, row, rung)
            rungs = dict(row.rungs)
            if report.win_rate is not None:
                rungs[rung] = report.win_rate
            update: dict[str, Any] = {
                "stage": Stage.EVALUATED,
                "outcome": report.status.value,
                "reason": report.reason or None,
                "flags": list(report.flags),
                "rungs": rungs,
            }
            if rung == ladder[-1]:
                update["full_win_rate"] = report.win_rate
            deps.ledger.save(row.model_copy(update=update))
    return {}


def _selection_report(deps: Deps, row: HypothesisRow) -> EvalReport | None:
    """The row's result on the highest rung of the ladder it reached, from the ledger."""
    source = deps.code_path(row.id)
    if not source.exists():
        return None
    for budget in reversed(deps.settings.ladder):
        report = deps.ledger.result(deps.evaluator.experiment_key(source.read_text(), budget))
        if report is not None:
            return report
    return None


def tried(deps: Deps) -> int:
    """Hypotheses of the campaign measured at selection: the m of the keep rule's correction
    (a duplicate reuses its original's result and is not counted again)."""
    rows = deps.ledger.hypotheses(deps.campaign)
    return sum(r.screen_win_rate is not None and r.stage != Stage.DUPLICATE for r in rows)


def confirm(state: CampaignState, deps: Deps) -> dict:
    """Decide keep for the round's measured hypotheses (corrected for how many were tried) and
    run each kept one at the last rung's budget on the task's held-out splits."""
    confirmer = deps.confirmer
    m = tried(deps)  # every row of the round is measured by now: one count serves them all
    for row in deps.rows(state["batch"]):
        if row.stage not in (Stage.SCREENED, Stage.EVALUATED) or row.confirmation is not None:
            continue
        report = _selection_report(deps, row)
        if report is None:
            continue
        if row.kept is None:
            keep, _ = analyst.keeps(report, m)
            row = row.model_copy(update={"kept": keep})
            deps.ledger.save(row)
        if not row.kept or confirmer is None or not deps.settings.confirm:
            continue
        held = _experiment(deps, row, deps.settings.ladder[-1], evaluator=confirmer)
        done = sum(r.confirmation is not None for r in deps.ledger.hypotheses(deps.campaign))
        verdict = analyst.confirms(held, done + 1)
        deps.ledger.save(
            row.model_copy(update={"confirm_win_rate": held.win_rate, "confirmation": verdict})
        )
        detail = {"id": row.id, "verdict": verdict, "win_rate": held.win_rate}
        deps.ledger.log(deps.campaign, "analyst", "confirmation", detail)
        deps.notify("analyst", f"{row.id} {verdict} on held-out splits")
    return {}


def analyze(state: CampaignState, deps: Deps) -> dict:
    """Keep/discard from measured numbers; the analyst comments on the rendered table."""
    out = deps.folder / "findings" / f"round-{state['round']}.md"
    if out.exists():
        return {}
    findings = []
    m = tried(deps)
    for row in deps.rows(state["batch"]):
        report = _selection_report(deps, row)
        finding = analyst.decide(row.id, row.idea, report, m, row) if report else None
        if finding is not None:
            findings.append(finding)
    text = [f"# Round {state['round']}", "", analyst.table(findings), "", analyst.KEEP_RULE, ""]
    if findings and "analyst" in deps.models:
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
