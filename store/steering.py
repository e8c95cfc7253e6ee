"""Steering a campaign while it runs: standing directives to agents, decisions on queued
hypotheses, and pause / resume / stop / budget requests.

Everything goes through the campaign's ledger (SQLite, WAL), so a chat in another process and the
campaign see the same store; the campaign picks requests up at the next round (directives,
budgets, stop, pause) or before the next sandbox launch (vetoes, approvals). Every request is
also logged as an event with who and when.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from core.errors import ConfigError
from core.records import Stage
from core.settings import CampaignSettings
from store.ledger import Ledger

AGENTS = ("proposer", "critic", "coder", "analyst")
COMMANDS = ("pause", "resume", "stop", "budget")
DECISIONS = ("approve", "veto", "revise")
# Stages of validated hypotheses waiting for a sandbox launch: the chat's queue.
QUEUED = (Stage.CODED, Stage.PROBED, Stage.SELECTED)
BUDGETS = {"proposals": int, "hours": float, "tokens": int}


@dataclass(frozen=True)
class Directive:
    id: int
    agent: str
    text: str
    who: str
    created: float


class Steering:
    """The steering store of one campaign, on its ledger."""

    def __init__(self, ledger: Ledger, campaign: str) -> None:
        self.ledger = ledger
        self.campaign = campaign
        self.db = ledger.db  # the tables are the ledger's (store.ledger.SCHEMA)

    # -- directives -------------------------------------------------------------------------------
    def direct(self, agent: str, text: str, who: str) -> int:
        """Store a standing directive for ``agent``; shown to it every round until withdrawn."""
        if agent not in AGENTS:
            raise ConfigError(f"unknown agent {agent!r}; agents: {', '.join(AGENTS)}")
        if not text.strip():
            raise ConfigError("a directive needs some text")
        cur = self.db.execute(
            "INSERT INTO directives (campaign, agent, text, who, created) VALUES (?, ?, ?, ?, ?)",
            (self.campaign, agent, text.strip(), who, time.time()),
        )
        did = int(cur.lastrowid or 0)
        self.ledger.log(self.campaign, who, "directive", {"id": did, "agent": agent, "text": text})
        return did

    def withdraw(self, did: int, who: str) -> bool:
        cur = self.db.execute(
            "UPDATE directives SET withdrawn = ? "
            "WHERE campaign = ? AND id = ? AND withdrawn IS NULL",
            (time.time(), self.campaign, did),
        )
        if cur.rowcount:
            self.ledger.log(self.campaign, who, "withdraw", {"id": did})
        return bool(cur.rowcount)

    def directives(self, agent: str | None = None) -> list[Directive]:
        """Standing (not withdrawn) directives, oldest first; for one agent or all."""
        sql = "SELECT id, agent, text, who, created FROM directives "
        sql += "WHERE campaign = ? AND withdrawn IS NULL"
        args: tuple = (self.campaign,)
        if agent is not None:
            sql += " AND agent = ?"
            args = (self.campaign, agent)
        return [Directive(*row) for row in self.db.execute(sql + " ORDER BY id", args)]

    # -- pause, resume, stop, budgets -------------------------------------------------------------
    def request(self, command: str, who: str, value: dict | None = None) -> None:
        if command not in COMMANDS:
            raise ConfigError(f"unknown command {command!r}; commands: {', '.join(COMMANDS)}")
        if command == "budget":
            value = _budget_value(value or {})
        text = json.dumps(value or {}, sort_keys=True)
        self.db.execute(
            "INSERT INTO controls (campaign, command, value, who, created) VALUES (?, ?, ?, ?, ?)",
            (self.campaign, command, text, who, time.time()),
        )
        self.ledger.log(self.campaign, who, command, value or {})

    def _controls(self, *commands: str) -> list[tuple[str, dict, str]]:
        marks = ", ".join("?" for _ in commands)
        rows = self.db.execute(
            f"SELECT command, value, who FROM controls WHERE campaign = ? AND command IN ({marks}) "
            "ORDER BY id",
            (self.campaign, *commands),
        )
        return [(c, json.loads(v), w) for c, v, w in rows]

    def stopped_by(self) -> str | None:
        """Who asked the campaign to stop, or None."""
        stops = self._controls("stop")
        return stops[-1][2] if stops else None

    def paused(self) -> bool:
        """Whether the latest pause or resume request is a pause."""
        seen = self._controls("pause", "resume")
        return bool(seen) and seen[-1][0] == "pause"

    def budgets(self, start: CampaignSettings) -> CampaignSettings:
        """The budgets in force: the latest requests, never above those set at the start."""
        return budgets_in_force(start, [value for _, value, _ in self._controls("budget")])

    # -- decisions on queued hypotheses -----------------------------------------------------------
    def decide(
        self, hypothesis: str, decision: str, who: str, note: str = "", code_sha: str | None = None
    ) -> None:
        """Record a decision on ``hypothesis`` as its code now stands (``code_sha``): a revision
        rewrites the code, and the decision does not carry over to the new code."""
        if decision not in DECISIONS:
            raise ConfigError(f"unknown decision {decision!r}; one of: {', '.join(DECISIONS)}")
        if decision == "revise" and not note.strip():
            raise ConfigError("say what to revise")
        self.db.execute(
            "INSERT INTO decisions (campaign, hypothesis, code_sha, decision, note, who, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self.campaign, hypothesis, code_sha, decision, note, who, time.time()),
        )
        self.ledger.log(self.campaign, who, decision, {"hypothesis": hypothesis, "note": note})

    def decision(self, hypothesis: str, since_code: str | None) -> tuple[str, str, str] | None:
        """The latest (decision, note, who) on ``hypothesis`` with code ``since_code``, or None."""
        row = self.db.execute(
            "SELECT decision, note, who FROM decisions WHERE campaign = ? AND hypothesis = ? "
            "AND code_sha IS ? ORDER BY id DESC LIMIT 1",
            (self.campaign, hypothesis, since_code),
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2])


def budgets_in_force(start: CampaignSettings, requests: list[dict]) -> CampaignSettings:
    """``start`` with the budget ``requests`` (oldest first) applied, each never above the
    start's: a request lowers a budget, never raises it."""
    update: dict = {}
    for value in requests:
        update.update(value)
    clamped = {k: min(v, getattr(start, k)) for k, v in update.items()}
    return start.model_copy(update=clamped)


def _budget_value(value: dict) -> dict:
    out = {}
    for key, raw in value.items():
        if key not in BUDGETS:
            raise ConfigError(f"unknown budget {key!r}; budgets: {', '.join(BUDGETS)}")
        try:
            number = BUDGETS[key](raw)
        except (TypeError, ValueError):
            raise ConfigError(f"budget {key} must be a number, got {raw!r}") from None
        if number <= 0:
            raise ConfigError(f"budget {key} must be positive")
        out[key] = number
    if not out:
        raise ConfigError("name a budget: proposals=N, hours=H or tokens=T")
    return out


def directive_text(directives: list[Directive], agent: str) -> str:
    """The directives as a paragraph for the agent's system prompt (empty: none)."""
    if not directives:
        return ""
    lines = [f"- {d.text} (directive #{d.id}, from {d.who})" for d in directives]
    return f"\n\nStanding directives from the user to you, the {agent}; follow them:\n" + "\n".join(
        lines
    )
