"""The coder: turns an approved idea into code the validator accepts, repairing from errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents.llm import Answer, ask
from agents.parsing import extract_code
from agents.prompting import render


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
) -> Answer[str]:
    system = render("system", task_dir, role="coder", task_description=task_description)
    prompt = render("coder", task_dir, idea=idea, code=code or "", error=error or "")
    return ask(model, system, prompt, lambda text: extract_code(text, function), retries)
