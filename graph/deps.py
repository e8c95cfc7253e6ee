"""What the graph's nodes depend on: ``Deps``, built once by the campaign runner
(``hypoforge.campaign``). The evaluator's protocols (``TaskEvaluator`` and the optional
capabilities ``Probes`` and ``Confirms``, checked with ``isinstance``, never by probing attributes
in the nodes) are the plugin contract's, ``evaluators.contract``. A plugin without the capabilities
runs with less: no fingerprints, no confirmation (so no discoveries).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from core.records import HypothesisRow
from core.settings import CampaignSettings
from evaluators.contract import Confirms, Probes, TaskEvaluator
from store.ledger import Ledger
from store.steering import Steering, directive_text

if TYPE_CHECKING:
    from agents.llm import ChatModel
    from evaluators.novelty import Archive
    from evaluators.registry import TaskPlugin
    from literature.scholar import LiteratureSearch


@dataclass
class Deps:
    """What the nodes need; built once by the campaign runner (``hypoforge.campaign.run``)."""

    campaign: str
    folder: Path
    ledger: Ledger
    evaluator: TaskEvaluator
    models: Mapping[str, ChatModel]  # role -> chat model; none with the search generator
    settings: CampaignSettings
    retries: int
    plugin: TaskPlugin  # the task: its name, folder (prompt overrides), slot and generator
    notify: Callable[[str, str], None] = lambda agent, message: None
    archive: Archive | None = None  # the cross-campaign archive, or None (none kept)
    generator: str = "llm"  # provenance recorded in the archive
    workers: int = 1  # sandbox jobs at once (``graph.experiments``)
    home: Path | None = None  # HYPOFORGE_HOME: caches shared by campaigns (the catalogue's)
    scholar: LiteratureSearch | None = None  # the online literature check, or None (off)
    literature_rounds: int = 3  # searches the critic may make per proposal, with a scholar
    llm_concurrency: int = 1  # LLM calls at once, the endpoint's ``max_concurrency``

    @property
    def task(self) -> str:
        return self.plugin.name

    @property
    def task_dir(self) -> Path:
        return self.plugin.folder

    @property
    def function(self) -> str:
        """The name a hypothesis defines (the task's slot)."""
        return self.plugin.function

    def rows(self, batch: list[str]) -> list[HypothesisRow]:
        found = (self.ledger.hypothesis(self.campaign, h) for h in batch)
        return [r for r in found if r is not None]

    def code_path(self, hid: str) -> Path:
        return self.folder / "hypotheses" / f"{hid}.py"

    def write_code(self, row: HypothesisRow, code: str) -> HypothesisRow:
        path = self.code_path(row.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code)
        return row.model_copy(update={"code_sha": hashlib.sha256(code.encode()).hexdigest()})

    def spend(self, tokens: int) -> None:
        self.ledger.add_usage(self.campaign, tokens=tokens)

    def llm_open(self) -> bool:
        """Whether another LLM call may start: the tokens (and money) spent so far are under the
        hard budgets in force (the user may have lowered them). Asked before every call, so the
        budget is overshot by at most the calls already in flight (README, "Budgets")."""
        budgets = self.steering.budgets(self.settings)
        tokens, _ = self.ledger.usage(self.campaign)
        cost = budgets.spent(tokens)
        under_cost = budgets.cost is None or cost is None or cost < budgets.cost
        return tokens < budgets.tokens and under_cost

    @cached_property
    def prober(self) -> Probes | None:
        """The evaluator, when it can probe hypotheses before training."""
        return self.evaluator if isinstance(self.evaluator, Probes) else None

    @cached_property
    def confirmer(self) -> TaskEvaluator | None:
        """The task's evaluator on its held-out confirmation splits (None: the task has none)."""
        return self.evaluator.confirmer() if isinstance(self.evaluator, Confirms) else None

    @cached_property
    def steering(self) -> Steering:
        return Steering(self.ledger, self.campaign)

    def described(self, agent: str) -> str:
        """The task description for ``agent``'s system prompt, with the user's standing
        directives to that agent (read afresh: they may change while the campaign runs)."""
        standing = self.steering.directives(agent)
        return self.evaluator.description + directive_text(standing, agent)
