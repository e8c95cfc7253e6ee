"""``hypoforge chat DIR``: steer a running or paused campaign from a terminal.

Each line is one command; ``Chat.handle`` turns it into a change in the campaign's steering store
(see ``store.steering``) and a reply. The campaign process picks changes up at the next round
or before the next launch; every request lands in the ledger with who and when.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import RenderableType
from rich.table import Table

from core.errors import ConfigError
from core.text import cell
from hypoforge import campaign
from store.ledger import Ledger
from store.steering import AGENTS, QUEUED, Steering, directive_text

HELP = """commands:
  @AGENT TEXT          a standing directive to proposer, critic, coder or analyst
  directives           list the standing directives;  withdraw N  withdraws one
  queue                hypotheses awaiting a sandbox launch
  approve ID | veto ID [WHY] | revise ID WHAT    decide on a queued hypothesis
  results              the best results so far, from the ledger
  ask QUESTION         the analyst answers from the ledger and archive (numbers checked)
  pause | resume | stop                          at the next round (stop: for good)
  budget proposals=N hours=H tokens=T            lower budgets (never above the start's)
  status | help | quit"""


class Chat:
    """One user's chat with one campaign."""

    def __init__(
        self,
        folder: Path,
        who: str,
        analyst_model: Callable[[], Any] | None = None,
        archive: Callable[[], Any] | None = None,
    ) -> None:
        self.info = campaign.load(folder)
        self.ledger = Ledger(folder / "ledger.sqlite")
        self.steering = Steering(self.ledger, self.info.id)
        self.who = who
        self.analyst_model = analyst_model  # made on the first question (may start a server)
        self.archive = archive  # the cross-campaign archive (or None), opened on first use

    def close(self) -> None:
        self.ledger.close()

    def handle(self, line: str) -> RenderableType | str | None:
        """The reply to one line; None means the user is done."""
        line = line.strip()
        if not line:
            return ""
        if line.startswith("@"):
            agent, _, text = line[1:].partition(" ")
            did = self.steering.direct(agent, text, self.who)
            return f"directive #{did} to the {agent} stands until withdrawn"
        try:
            word, *args = shlex.split(line)
        except ValueError as exc:
            raise ConfigError(f"cannot read that line: {exc}") from None
        command = getattr(self, f"_{word.lower()}", None)
        if word.lower() in ("quit", "exit"):
            return None
        if command is None:
            raise ConfigError(f"unknown command {word!r}; type help")
        return command(args)

    # -- commands -----------------------------------------------------------------------------
    def _help(self, args: list[str]) -> str:
        return HELP

    def _directives(self, args: list[str]) -> RenderableType:
        table = Table("#", "agent", "directive", "from", title="standing directives")
        for d in self.steering.directives():
            table.add_row(str(d.id), d.agent, cell(d.text), cell(d.who))
        return table

    def _withdraw(self, args: list[str]) -> str:
        if len(args) != 1 or not args[0].lstrip("#").isdigit():
            raise ConfigError("withdraw N: the directive's number (see directives)")
        did = int(args[0].lstrip("#"))
        if not self.steering.withdraw(did, self.who):
            raise ConfigError(f"no standing directive #{did}")
        return f"directive #{did} withdrawn"

    def _queue(self, args: list[str]) -> RenderableType:
        table = Table("id", "idea", "critic p(win)", "predicted", "decision", title="queue")
        for row in self.ledger.hypotheses(self.info.id):
            if row.stage not in QUEUED:
                continue
            said = self.steering.decision(row.id, row.code_sha)
            table.add_row(
                row.id,
                cell(row.idea),
                _num(row.p_win),
                _num(row.predicted),
                f"{said[0]} ({said[2]})" if said else "-",
            )
        return table

    def _decide(self, decision: str, args: list[str]) -> str:
        if not args:
            raise ConfigError(f"{decision} ID: which hypothesis (see queue)")
        row = self.ledger.hypothesis(self.info.id, args[0])
        if row is None:
            raise ConfigError(f"no hypothesis {args[0]!r} in this campaign")
        if row.stage not in QUEUED:
            raise ConfigError(f"{row.id} is not awaiting a launch (stage {row.stage})")
        self.steering.decide(row.id, decision, self.who, " ".join(args[1:]), row.code_sha)
        return f"{row.id}: {decision} recorded; the campaign applies it before the launch"

    def _approve(self, args: list[str]) -> str:
        return self._decide("approve", args)

    def _veto(self, args: list[str]) -> str:
        return self._decide("veto", args)

    def _revise(self, args: list[str]) -> str:
        return self._decide("revise", args)

    def _results(self, args: list[str]) -> RenderableType:
        rows = [r for r in self.ledger.hypotheses(self.info.id) if r.screen_win_rate is not None]
        rows.sort(key=lambda r: r.selection_win_rate or 0.0, reverse=True)
        table = Table(
            "id", "idea", "screen", "full", "held out", "confirmation", "note", title="results"
        )
        for r in rows[:10]:
            table.add_row(
                r.id,
                cell(r.idea),
                _num(r.screen_win_rate),
                _num(r.full_win_rate),
                _num(r.confirm_win_rate),
                r.confirmation or "-",
                cell(r.reason or "; ".join(f"FLAGGED: {f}" for f in r.flags)),
            )
        return table

    def _ask(self, args: list[str]) -> str:
        from agents import analyst
        from evaluators import registry

        question = " ".join(args).strip()
        if not question:
            raise ConfigError("ask QUESTION: what do you want to know about the results?")
        if self.analyst_model is None:
            raise ConfigError("no language model for the analyst in this chat (see --llm)")
        rows = self.ledger.hypotheses(self.info.id)
        others = self._archived(question)
        table = "\n\n".join(
            t for t in (analyst.ledger_table(rows), analyst.archive_table(others)) if t
        )
        plugin = registry.get(self.info.task)
        description = (plugin.folder / "description.md").read_text().strip()
        standing = self.steering.directives("analyst")
        reply = analyst.answer(
            self.analyst_model(),
            question,
            table,
            description + directive_text(standing, "analyst"),
            plugin.folder,
        )
        self.ledger.add_usage(self.info.id, tokens=reply.tokens)
        if reply.value is None:
            raise ConfigError(f"the analyst gave no answer: {'; '.join(reply.errors)[:200]}")
        invented = analyst.unsupported(reply.value, table)
        self.ledger.log(self.info.id, self.who, "ask", {"question": question})
        note = f"(from {len(rows)} ledger rows" + (
            f", {len(others)} archive rows" if others else ""
        )
        note += f"; NOT in the ledger or archive: {', '.join(invented)})" if invented else ")"
        return f"analyst: {reply.value}\n{note}"

    def _archived(self, question: str, best: int = 10, near: int = 5) -> list[Any]:
        """Other campaigns' hypotheses of this task for the analyst: the best measured ones and
        the nearest in meaning to the question (this campaign's own are in the ledger table)."""
        archive = self.archive() if self.archive is not None else None
        if archive is None:
            return []
        mine = f"{self.info.id}/"
        measured = [e for e in archive.measured(self.info.task) if not e.id.startswith(mine)]
        found = sorted((e for e in measured if e.win_rate is not None), key=lambda e: -e.win_rate)[
            :best
        ]
        if measured:
            close = archive.nearest(question, "", best + near, task=self.info.task)
            shown = {e.id for e in found}
            found += [n for n in close if not n.id.startswith(mine) and n.id not in shown][:near]
        return found

    def _pause(self, args: list[str]) -> str:
        self.steering.request("pause", self.who)
        return "pause requested: the campaign stops at the next round (resume continues it)"

    def _resume(self, args: list[str]) -> str:
        self.steering.request("resume", self.who)
        return "resume requested"

    def _stop(self, args: list[str]) -> str:
        self.steering.request("stop", self.who)
        return "stop requested: the campaign ends at the next round"

    def _budget(self, args: list[str]) -> str:
        pairs = dict(a.split("=", 1) for a in args if "=" in a)
        if not pairs or len(pairs) != len(args):
            raise ConfigError("budget proposals=N hours=H tokens=T (any of them)")
        self.steering.request("budget", self.who, pairs)
        now = self.steering.budgets(self.info.budgets)
        return (
            f"budgets now: {now.proposals} proposals, {now.hours:g} h, {now.tokens} tokens "
            "(never above those set at the start)"
        )

    def _status(self, args: list[str]) -> str:
        rows = self.ledger.hypotheses(self.info.id)
        stages: dict[str, int] = {}
        for r in rows:
            stages[r.stage] = stages.get(r.stage, 0) + 1
        state = "paused" if self.steering.paused() else "running or idle"
        if self.steering.stopped_by():
            state = f"stopped by {self.steering.stopped_by()}"
        counts = ", ".join(f"{n} {s}" for s, n in sorted(stages.items())) or "no hypotheses yet"
        agents = ", ".join(a for a in AGENTS if self.steering.directives(a)) or "none"
        return f"{self.info.id} ({self.info.task}): {state}; {counts}; directives for: {agents}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
