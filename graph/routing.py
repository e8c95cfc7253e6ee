"""Pure routing predicates, tested without the graph."""

from __future__ import annotations

from typing import Literal

from core.records import HypothesisRow, Stage


def after_context(stop: str) -> Literal["propose", "__end__"]:
    return "__end__" if stop else "propose"


def repairs_waiting(rows: list[HypothesisRow]) -> bool:
    """A hypothesis of the round awaits the coder (a failed check, a revise verdict)."""
    return any(r.stage == Stage.NEEDS_REPAIR for r in rows)


# The edges after a check: back to the coder while a repair waits, else on. One function per
# edge, so each has its Literal type and the compiled graph draws its real targets.
def after_validate(rows: list[HypothesisRow]) -> Literal["code", "gate"]:
    return "code" if repairs_waiting(rows) else "gate"


def after_gate(rows: list[HypothesisRow]) -> Literal["code", "probe"]:
    return "code" if repairs_waiting(rows) else "probe"


def after_probe(rows: list[HypothesisRow]) -> Literal["code", "select"]:
    return "code" if repairs_waiting(rows) else "select"


def after_screen(rows: list[HypothesisRow]) -> Literal["code", "evaluate"]:
    return "code" if repairs_waiting(rows) else "evaluate"


def budget_stop(
    *,
    proposed: int,
    max_proposals: int,
    tokens: int,
    max_tokens: int,
    elapsed_hours: float,
    max_hours: float,
    cost: float | None = None,
    max_cost: float | None = None,
) -> str:
    """The first exhausted budget, in words, or "" when all have room left."""
    if proposed >= max_proposals:
        return f"proposal budget reached ({proposed}/{max_proposals})"
    if tokens >= max_tokens:
        return f"token budget reached ({tokens}/{max_tokens})"
    if elapsed_hours >= max_hours:
        return f"time budget reached ({elapsed_hours:.2f}/{max_hours:g} h)"
    if cost is not None and max_cost is not None and cost >= max_cost:
        return f"cost budget reached ({cost:.4f}/{max_cost:g})"
    return ""
