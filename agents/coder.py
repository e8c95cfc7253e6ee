"""The coder: turns an approved idea into code the validator accepts, repairing from errors.

A child of an earlier hypothesis (``agents.proposer.Parent``) is written against its parent: the
parent's code is shown, and for an edit task the edits apply to the parent's edited script."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.llm import Answer, ask
from agents.parsing import extract_code
from agents.prompting import render
from agents.proposer import Parent


def write_code(
    model: Any,
    *,
    idea: str,
    code: str | None,
    error: str | None,
    task_description: str,
    retries: int,
    task_dir: Path | None = None,
    function: str = "activation",
    parent: Parent | None = None,
) -> Answer[str]:
    system = render("system", task_dir, role="coder", task_description=task_description)
    prompt = render("coder", task_dir, idea=idea, code=code or "", error=error or "", parent=parent)
    return ask(model, system, prompt, lambda text: extract_code(text, function), retries)
