"""The live view of a running campaign: budgets, what each agent is doing, the leaderboard."""

from __future__ import annotations

import threading
import time
from typing import Any

from rich.console import Group
from rich.live import Live
from rich.table import Table

from core.text import cell
from store.ledger import Ledger

AGENTS = ("orchestrator", "proposer", "critic", "coder", "sandbox", "reward", "analyst")


class LiveView:
    """Call ``update(agent, message)`` from the nodes; the screen refreshes from the ledger."""

    def __init__(self, console: Any, ledger: Ledger, campaign: str, budgets: Any) -> None:
        self.ledger = ledger
        self.campaign = campaign
        self.budgets = budgets
        self.stages: dict[str, str] = dict.fromkeys(AGENTS, "-")
        self._owner = threading.get_ident()  # the ledger connection is this thread's
        self.live = Live(self.render(), console=console, refresh_per_second=2, transient=False)

    def __enter__(self) -> LiveView:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.update(self.render())
        self.live.__exit__(*exc)  # type: ignore[arg-type]

    def update(self, agent: str, message: str) -> None:
        """Show ``message`` on ``agent``'s line; a line per sandbox worker ("sandbox 2") is
        added the first time that worker starts a job. From another thread the message is
        kept and shown at the next update from the campaign's own thread."""
        if agent.startswith("sandbox ") and "sandbox" in self.stages:
            self.stages.pop("sandbox")  # several workers: one line each instead
        self.stages[agent] = f"{message}  [dim]{time.strftime('%H:%M:%S')}[/]"
        if threading.get_ident() == self._owner:
            self.live.update(self.render())

    def render(self) -> Group:
        rows = self.ledger.hypotheses(self.campaign)
        tokens, launches = self.ledger.usage(self.campaign)
        head = Table.grid(padding=(0, 2))
        head.add_row(
            f"[bold]campaign {self.campaign}[/]",
            f"proposals {len(rows)}/{self.budgets.proposals}",
            f"tokens {tokens}/{self.budgets.tokens}",
            f"sandbox runs {launches}",
        )
        alarms = self.ledger.events(self.campaign, "collapse")
        head.add_row(
            f"pruned {sum(r.stage == 'pruned' for r in rows)}",
            f"duplicates {sum(r.stage == 'duplicate' for r in rows)}",
            f"[bold red]reward collapse: {alarms[-1][2]}[/]" if alarms else "no reward collapse",
            "",
        )
        standing = self.ledger.db.execute(
            "SELECT COUNT(*) FROM directives WHERE campaign = ? AND withdrawn IS NULL",
            (self.campaign,),
        ).fetchone()[0]
        from hypoforge.campaign import confirmation_summary, regression_line

        head.add_row(regression_line(confirmation_summary(rows)), "", "", "")
        head.add_row(
            f"vetoed {sum(r.stage == 'vetoed' for r in rows)}",
            f"standing directives {standing}",
            "steer with: hypoforge chat <campaign folder>",
            "",
        )
        agents = Table(title="agents", title_justify="left", show_header=False)
        for agent, doing in self.stages.items():
            agents.add_row(agent, doing)
        board = Table(title="leaderboard (win rate vs the task's baselines)", title_justify="left")
        for col in ("id", "idea", "predicted", "screen", "full", "held out", "stage"):
            board.add_column(col)
        scored = sorted(rows, key=lambda r: r.selection_win_rate or -1, reverse=True)
        for r in scored[:8]:
            board.add_row(
                r.id,
                cell(r.idea, 50),
                _fmt(r.predicted),
                _fmt(r.screen_win_rate),
                _fmt(r.full_win_rate),
                _fmt(r.confirm_win_rate),
                r.confirmation or r.stage,
            )
        return Group(head, agents, board)


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"
