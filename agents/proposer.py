"""The proposer: one new hypothesis (an idea in words and code for the task's slot) per call.

Two prompt modes from the paper: ``incremental`` (improve on the best so far) and ``novel`` (move
away from what is known). Its context is the best results so far, recent failures and why, and
what the reward model predicted for recent ideas; with a ``Parent`` (experiment iteration: the
campaign picked an earlier hypothesis to build on), that one's code, per-dataset results and what
its children did.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from agents.llm import Answer, ask
from agents.parsing import extract_code, extract_idea
from agents.prompting import render


class Proposal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    idea: str
    code: str


class KnownResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    idea: str
    win_rate: float


class DatasetResult(BaseModel):
    """A parent's result on one dataset: its score there and its win rate over the baselines."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    dataset: str
    score: float
    win_rate: float


class Parent(BaseModel):
    """The earlier hypothesis a proposal builds on, as the proposer and the coder see it.

    ``code`` is its whole code for a task whose hypothesis is a function (the child writes a new
    version of it), or, with ``edits``, the blocks of the script its edits changed (the child's
    edits apply to that script, after the parent's own).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    idea: str
    code: str
    edits: bool
    win_rate: float
    datasets: tuple[DatasetResult, ...] = ()
    children: tuple[str, ...] = ()  # what each earlier child did, one line each


def parse_proposal(text: str, function: str = "activation") -> Proposal:
    return Proposal(idea=extract_idea(text), code=extract_code(text, function))


def propose(
    model: Any,
    *,
    mode: str,
    task_description: str,
    best: list[KnownResult],
    failures: list[str],
    predictions: list[str],
    retries: int,
    task_dir: Path | None = None,
    function: str = "activation",
    parent: Parent | None = None,
) -> Answer[Proposal]:
    system = render("system", task_dir, role="proposer", task_description=task_description)
    prompt = render(
        "proposer",
        task_dir,
        mode=mode,
        best=best,
        failures=failures,
        predictions=predictions,
        parent=parent,
    )
    return ask(model, system, prompt, lambda text: parse_proposal(text, function), retries)
