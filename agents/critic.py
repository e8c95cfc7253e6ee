"""The critic: reviews a proposal before any compute and predicts its chance to win.

The prediction is logged beside the measured outcome so the critic's calibration can be checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agents.llm import Answer, ParseError, ask
from agents.parsing import extract_json
from agents.prompting import render


class Verdict(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    decision: Literal["run", "revise", "reject"]
    reasons: str = ""
    p_win: float | None = Field(None, ge=0, le=1)


def parse_verdict(text: str) -> Verdict:
    data = extract_json(text)
    if isinstance(data.get("decision"), str):
        data["decision"] = data["decision"].strip().lower()
    try:
        return Verdict.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ParseError(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def critique(
    model: Any,
    *,
    idea: str,
    code: str,
    neighbours: list[str],
    task_description: str,
    retries: int,
    task_dir: Path | None = None,
    published: list[str] | None = None,
) -> Answer[Verdict]:
    """``published``: what the literature check found (``graph.literature.for_critic``)."""
    system = render("system", task_dir, role="critic", task_description=task_description)
    prompt = render(
        "critic", task_dir, idea=idea, code=code, neighbours=neighbours, published=published or []
    )
    return ask(model, system, prompt, parse_verdict, retries)
