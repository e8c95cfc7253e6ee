"""A campaign folder and its run: ledger, checkpoints, code and findings in one place.

Layout of a campaign folder:
    campaign.json        id, task and the budgets fixed at the start (resume reuses them)
    ledger.sqlite        results, hypotheses, usage, events (store.ledger)
    checkpoints.sqlite   LangGraph's SqliteSaver (small state only)
    hypotheses/<id>.py   every hypothesis's code
    findings/round-N.md  the analyst's per-round findings
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from core.errors import ConfigError
from core.settings import CampaignSettings
from store.ledger import Ledger
from store.lifecycle import discovery

ROLES = ("proposer", "critic", "coder", "analyst")


class CampaignInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    task: str
    budgets: CampaignSettings


def create(folder: Path, task: str, budgets: CampaignSettings) -> CampaignInfo:
    """Start a new campaign folder; refuse one that already holds a campaign."""
    meta = folder / "campaign.json"
    if meta.exists():
        raise ConfigError(f"{folder} already holds a campaign: use `hypoforge resume {folder}`")
    folder.mkdir(parents=True, exist_ok=True)
    info = CampaignInfo(id=uuid.uuid4().hex[:12], task=task, budgets=budgets)
    meta.write_text(info.model_dump_json(indent=1))
    return info


def load(folder: Path) -> CampaignInfo:
    meta = folder / "campaign.json"
    try:
        return CampaignInfo.model_validate_json(meta.read_text())
    except FileNotFoundError:
        raise ConfigError(f"no campaign in {folder} (no campaign.json)") from None
    except ValueError as exc:
        raise ConfigError(f"{meta} is damaged: {exc}") from None


def run(
    folder: Path,
    evaluator: Any,
    models: dict[str, Any],
    retries: int,
    notify: Callable[[str, str], None] = lambda agent, message: None,
    archive: Any = None,
    generator: str = "llm",
    poll_seconds: float = 1.0,
    workers: int = 1,
    llm_concurrency: int = 1,
    home: Path | None = None,
    scholar: Any = None,
    literature_rounds: int = 3,
) -> dict:
    """Run (or resume) the campaign in ``folder`` until a budget is spent; return the state.
    ``workers`` sandbox jobs and ``llm_concurrency`` LLM calls run at once (``graph.pool``).

    Checkpoints are written before each next step (durability "sync"), so a killed process
    resumes where it stopped; the ledger keeps finished experiments from running twice.
    """
    os.environ.setdefault("LANGGRAPH_STRICT_MSGPACK", "true")
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.types import Command

    from graph.build import RECURSION_LIMIT, build
    from graph.deps import Deps

    info = load(folder)
    from evaluators import registry

    plugin = registry.get(info.task)
    ledger = Ledger(folder / "ledger.sqlite")
    conn = sqlite3.connect(folder / "checkpoints.sqlite", check_same_thread=False)
    try:
        saver = SqliteSaver(conn)
        deps = Deps(
            campaign=info.id,
            folder=folder,
            ledger=ledger,
            evaluator=evaluator,
            models=models,
            settings=info.budgets,
            retries=retries,
            notify=notify,
            archive=archive,
            generator=generator,
            plugin=plugin,
            workers=workers,
            llm_concurrency=llm_concurrency,
            home=home,
            scholar=scholar,
            literature_rounds=literature_rounds,
        )
        app = build(deps, checkpointer=saver)
        config: Any = {"configurable": {"thread_id": info.id}, "recursion_limit": RECURSION_LIMIT}
        fresh = saver.get_tuple(config) is None
        if ledger.started(info.id) is None:
            from hypoforge import machine

            ledger.log(
                info.id, "orchestrator", "start", {"task": info.task, "machine": machine.describe()}
            )
        else:
            ledger.log(info.id, "orchestrator", "resume", {})
        start = {"round": 0, "batch": [], "stop": ""} if fresh else None
        state = app.invoke(start, config, durability="sync")
        while state.get("__interrupt__"):  # paused, or a launch awaits a human yes or no
            asked = state["__interrupt__"][0].value
            _wait_for_user(deps, asked, poll_seconds)
            state = app.invoke(Command(resume=True), config, durability="sync")
        return state
    finally:
        conn.close()
        ledger.close()


def _wait_for_user(deps: Any, asked: dict, poll_seconds: float) -> None:
    """Block until the user answers what the graph asked (through ``hypoforge chat``): a resume
    after a pause, a decision on a hypothesis awaiting approval, or a stop."""
    steering = deps.steering
    deps.ledger.log(deps.campaign, "orchestrator", "wait", asked)
    if asked.get("kind") == "approve":
        hid = asked["hypothesis"]
        deps.notify("orchestrator", f"{hid} awaits approval: approve or veto it in hypoforge chat")

        def answered() -> bool:
            row = deps.ledger.hypothesis(deps.campaign, hid)
            sha = row.code_sha if row is not None else None
            return steering.decision(hid, sha) is not None
    else:
        deps.notify("orchestrator", "paused: resume it in hypoforge chat")

        def answered() -> bool:
            return not steering.paused()

    while not answered() and steering.stopped_by() is None:
        time.sleep(poll_seconds)


def status(folder: Path) -> dict:
    """A summary of a campaign folder for ``hypoforge status`` (no LLM, no Docker)."""
    info = load(folder)
    ledger = Ledger(folder / "ledger.sqlite")
    try:
        rows = ledger.hypotheses(info.id)
        tokens, launches = ledger.usage(info.id)
        stops = ledger.events(info.id, "stop")
        stages: dict[str, int] = {}
        for r in rows:
            stages[r.stage] = stages.get(r.stage, 0) + 1
        best = sorted(
            (r for r in rows if r.screen_win_rate is not None),
            key=lambda r: r.selection_win_rate or 0,
            reverse=True,
        )
        return {
            "id": info.id,
            "task": info.task,
            "proposals": len(rows),
            "budget_proposals": info.budgets.proposals,
            "tokens": tokens,
            "budget_tokens": info.budgets.tokens,
            "launches": launches,
            "stages": stages,
            "stopped": stops[-1][2] if stops else "",
            "best": [json.loads(r.model_dump_json()) for r in best[:5]],
            "confirmation": confirmation_summary(rows),
            "known": [
                {"id": r.id, "idea": r.idea, "known": r.known, "citation": r.citation}
                for r in rows
                if r.known
            ],
        }
    finally:
        ledger.close()


def confirmation_summary(rows: list[Any]) -> dict:
    """Kept, confirmed and the regression from selection to held-out figures for the campaign
    (``evaluators.stats.regression`` over the hypotheses that were run on held-out splits)."""
    from evaluators.stats import regression

    held = [r for r in rows if r.confirm_win_rate is not None and r.selection_win_rate is not None]
    return {
        "kept": sum(bool(r.kept) for r in rows),
        "confirmed": [r.id for r in rows if discovery(r)],
        "regression": regression(
            [r.selection_win_rate for r in held], [r.confirm_win_rate for r in held]
        ),
    }


def regression_line(summary: dict) -> str:
    """One line for the status, the live view and the report."""
    reg = summary["regression"]
    head = f"kept {summary['kept']}, confirmed {len(summary['confirmed'])}"
    if not reg.get("n"):
        return f"{head}; no held-out runs yet"
    slope = f", slope {reg['slope']:.2f}" if "slope" in reg else ""
    return (
        f"{head}; selection {reg['selection_mean']:.3f} -> held-out "
        f"{reg['confirmation_mean']:.3f} (drop {reg['drop']:+.3f}, n={reg['n']}{slope})"
    )
