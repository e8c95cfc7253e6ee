"""A campaign folder and its run: ledger, checkpoints, code and findings in one place; and
``Services``, what a run needs besides its folder, built from the settings in one place.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from core.errors import ConfigError
from core.settings import CampaignSettings, Settings
from store.ledger import Ledger
from store.lifecycle import discovery

if TYPE_CHECKING:
    from agents.llm import ChatModel
    from evaluators.novelty import Archive
    from graph.deps import Deps, TaskEvaluator
    from literature.scholar import LiteratureSearch
    from sandbox.base import Sandbox

ROLES = ("proposer", "critic", "coder", "analyst")


@dataclass(frozen=True)
class Services:
    """What a campaign runs with besides its folder: the task's evaluator, a chat model per
    role, the cross-campaign archive and the literature search, and how much runs at once.
    The CLI builds it from the settings (``from_settings``); a test builds it from fakes."""

    evaluator: TaskEvaluator
    models: Mapping[str, ChatModel]  # role -> chat model; none with the search generator
    retries: int  # extra tries when a reply cannot be parsed
    archive: Archive | None = None  # None: the campaign neither reads nor feeds one
    scholar: LiteratureSearch | None = None  # None: the online literature check is off
    generator: str = "llm"  # provenance recorded in the archive
    workers: int = 1  # sandbox jobs at once
    llm_concurrency: int = 1  # LLM calls at once
    home: Path | None = None  # caches shared by campaigns (the catalogue's)
    literature_rounds: int = 3  # searches the critic may make per proposal, with a scholar

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        evaluator: TaskEvaluator,
        sandbox: Sandbox,
        base_url: str | None,
        note: Callable[[str], None] = lambda message: None,
    ) -> Services:
        """Everything from ``settings`` (its ``campaign`` the campaign's own budgets): chat
        models for the endpoint at ``base_url`` (None: no language model, the search
        generator), the archive in HOME/archive, the literature search when ``[literature]
        online`` is on and the endpoint is a URL (otherwise ``note`` says why not), and the
        sandbox's workers. ``close`` it when the campaign is done."""
        from agents.llm import make_chat_model
        from agents.prompting import grammar
        from evaluators.contract import Grammars
        from evaluators.novelty import NoveltyArchive
        from literature.scholar import Scholar
        from sandbox.factory import workers

        llm = settings.llm
        search = settings.campaign.generator == "search"
        grammars: dict[str, str] = {}
        if llm.use_grammar and not search:
            task = evaluator.grammars() if isinstance(evaluator, Grammars) else {}
            grammars = {**task, "critic": grammar("verdict")}
        models: dict[str, ChatModel] = {}
        if base_url is not None and not search:
            models = {r: make_chat_model(llm, base_url, r, grammars.get(r)) for r in ROLES}
        scholar = None
        if settings.literature.online and models:
            if llm.endpoint == "embedded":
                note(
                    "the online literature check needs a URL endpoint; the embedded model "
                    "has the catalogue match alone"
                )
            else:
                scholar = Scholar.from_settings(settings.literature, settings.home)
        return cls(
            evaluator=evaluator,
            models=models,
            retries=llm.retries,
            archive=NoveltyArchive(settings.home / "archive"),
            scholar=scholar,
            generator="search" if search else f"{llm.endpoint}:{llm.model}",
            workers=workers(settings, sandbox),
            llm_concurrency=llm.concurrency,
            home=settings.home,
            literature_rounds=settings.literature.rounds,
        )

    def close(self) -> None:
        """Close what holds connections (the literature search's)."""
        if self.scholar is not None:
            self.scholar.close()


class CampaignInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    task: str
    budgets: CampaignSettings
    # A task given by its folder (`hypoforge run --task ./dir`), absolute: ``load`` puts it on
    # HYPOFORGE_TASKS, so that every command on the campaign finds the task by its name.
    task_folder: str | None = None


def create(
    folder: Path, task: str, budgets: CampaignSettings, task_folder: Path | None = None
) -> CampaignInfo:
    """Start a new campaign folder; refuse one that already holds a campaign."""
    meta = folder / "campaign.json"
    if meta.exists():
        raise ConfigError(f"{folder} already holds a campaign: use `hypoforge resume {folder}`")
    folder.mkdir(parents=True, exist_ok=True)
    where = None if task_folder is None else str(Path(task_folder).resolve())
    info = CampaignInfo(id=uuid.uuid4().hex[:12], task=task, budgets=budgets, task_folder=where)
    meta.write_text(info.model_dump_json(indent=1))
    _find_task(info)
    return info


def load(folder: Path) -> CampaignInfo:
    meta = folder / "campaign.json"
    try:
        info = CampaignInfo.model_validate_json(meta.read_text())
    except FileNotFoundError:
        raise ConfigError(f"no campaign in {folder} (no campaign.json)") from None
    except ValueError as exc:
        raise ConfigError(f"{meta} is damaged: {exc}") from None
    _find_task(info)
    return info


def _find_task(info: CampaignInfo) -> None:
    """Put the campaign's task folder, if it has one, first on this process's HYPOFORGE_TASKS."""
    if info.task_folder is None:
        return
    known = [p for p in os.environ.get("HYPOFORGE_TASKS", "").split(os.pathsep) if p]
    if info.task_folder not in known:
        os.environ["HYPOFORGE_TASKS"] = os.pathsep.join([info.task_folder, *known])


def run(
    folder: Path,
    services: Services,
    notify: Callable[[str, str], None] = lambda agent, message: None,
    poll_seconds: float = 1.0,
) -> dict:
    """Run (or resume) the campaign in ``folder`` with ``services`` until a budget is spent;
    return the state. ``notify`` hears each agent's news (the live view); a paused campaign
    looks for the user's answer every ``poll_seconds``.

    Checkpoints are written before each next step (durability "sync"), so a killed process
    resumes where it stopped; the ledger keeps finished experiments from running twice.
    """
    os.environ.setdefault("LANGGRAPH_STRICT_MSGPACK", "true")
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.types import Command

    from evaluators import registry
    from graph.build import RECURSION_LIMIT, build
    from graph.deps import Deps

    info = load(folder)
    plugin = registry.get(info.task)
    ledger = Ledger(folder / "ledger.sqlite")
    conn = sqlite3.connect(folder / "checkpoints.sqlite", check_same_thread=False)
    try:
        saver = SqliteSaver(conn)
        deps = Deps(
            campaign=info.id,
            folder=folder,
            ledger=ledger,
            evaluator=services.evaluator,
            models=services.models,
            settings=info.budgets,
            retries=services.retries,
            plugin=plugin,
            notify=notify,
            archive=services.archive,
            generator=services.generator,
            workers=services.workers,
            home=services.home,
            scholar=services.scholar,
            literature_rounds=services.literature_rounds,
            llm_concurrency=services.llm_concurrency,
        )
        app = build(deps, checkpointer=saver)
        config: Any = {"configurable": {"thread_id": info.id}, "recursion_limit": RECURSION_LIMIT}
        fresh = saver.get_tuple(config) is None
        # Who proposes and judges, as run (the paper says so from these): each start and resume.
        agents = {"generator": services.generator, "models": model_names(services.models)}
        if ledger.started(info.id) is None:
            from hypoforge import machine

            detail = {"task": info.task, "machine": machine.describe(), **agents}
            ledger.log(info.id, "orchestrator", "start", detail)
        else:
            ledger.log(info.id, "orchestrator", "resume", agents)
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


def model_names(models: Mapping[str, Any]) -> dict[str, str]:
    """Role -> the name of its chat model (``ChatOpenAI``'s ``model_name``; "unnamed" for a
    model that has none, a test's fake)."""
    names = {}
    for role, model in models.items():
        name = getattr(model, "model_name", None)
        names[role] = name if isinstance(name, str) and name else "unnamed"
    return names


def _wait_for_user(deps: Deps, asked: dict, poll_seconds: float) -> None:
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
