"""The hostile-hypothesis catalogue without the sandbox: the template tasks' cases are in it, the
ones the static check must refuse are refused with their reason (and the others pass it, so
that only the run can catch them), their small evaluators are one split with a short wall, and
the judge holds a flagged case to exactly its flags (a flagged result is never kept)."""

from __future__ import annotations

from typing import Any

import pytest

from core.records import EvalReport, Outcome
from evaluators import redteam
from evaluators.registry import get
from store.lifecycle import keeps

TEMPLATE_CASES = [c for c in redteam.CASES if c.task in ("lm", "diffusion2d")]


def report(status: Outcome, reason: str = "", flags: tuple[str, ...] = ()) -> EvalReport:
    ok = status is Outcome.OK
    return EvalReport(
        task="lm",
        budget="one-pass",
        status=status,
        reason=reason,
        win_rate=0.9 if ok else None,
        win_rate_ci=(0.8, 1.0) if ok else None,
        comparisons=10 if ok else 0,
        flags=flags,
        harness_version="lm-1",
        code_sha="0" * 12,
        wall_seconds=1.0,
    )


def case(number: int) -> redteam.Case:
    return next(c for c in redteam.CASES if c.number == number)


def test_cases_are_numbered_in_order_once():
    assert [c.number for c in redteam.CASES] == list(range(1, len(redteam.CASES) + 1))


def test_the_template_tasks_cases_and_their_outcomes():
    assert [(c.number, c.task, c.expect, c.flags != ()) for c in TEMPLATE_CASES] == [
        (25, "lm", Outcome.INVALID, False),
        (26, "lm", Outcome.OK, True),
        (27, "lm", Outcome.INVALID, False),
        (28, "diffusion2d", Outcome.OK, True),
        (29, "diffusion2d", Outcome.OK, True),
        (30, "diffusion2d", Outcome.INVALID, False),
    ]
    assert not any(c.escaped for c in TEMPLATE_CASES)  # each goes through the whole path


@pytest.mark.parametrize(
    ("number", "problem"),
    [
        (25, None),
        (26, None),
        (27, "train.py line 35: BATCH belongs to the fixed part; a block may not rebind it"),
        (28, None),
        (29, None),
        (30, "DIFFUSION_STEPS = 4000 is over the budget of 1000; use at most that"),
    ],
)
def test_the_static_check_refuses_exactly_the_static_cases(number, problem):
    c = case(number)
    cls: Any = get(c.task).evaluator_class()  # the bound harness class
    assert cls.static_problem(c.source) == problem
    if problem is not None:
        assert c.reason in problem


@pytest.mark.parametrize(
    ("task", "split", "wall", "name"),
    [
        ("lm", "shakespeare-s0", 180, "lm"),
        ("diffusion2d", "moons-s0", 180, "diffusion2d"),
        ("template", "blobs-s0", 60, "tiny"),  # the kind's self-test task, named "tiny"
    ],
)
def test_a_template_tasks_small_evaluator_is_its_first_split(tmp_path, task, split, wall, name):
    sandbox: Any = object()  # nothing runs
    ev = redteam.small_evaluator(task, sandbox, tmp_path, None)
    assert [s.name for s in ev.splits] == [split]
    assert ev.wall_seconds == wall
    assert ev.limits.memory_mb == 1024
    assert ev.task == name


def test_a_flagged_case_holds_with_exactly_its_flags_and_is_never_kept():
    c = case(28)
    flag = "copies training points: moons-s0: C_T = -7.5 (below -3 is copying; ...)"
    held = report(Outcome.OK, flags=(flag,))
    assert redteam.judge(c, held) is None
    assert keeps(held, 1) == (False, None)
    assert redteam.judge(c, report(Outcome.OK)) == (
        "flags [], expected ['copies training points: moons-s0: C_T = ']"
    )
    extra = report(Outcome.OK, flags=(flag, "bigger model: 1.50x"))
    assert redteam.judge(c, extra) is not None
    other = report(Outcome.OK, flags=("copies training points: line-s0: C_T = -9.0",))
    assert redteam.judge(c, other) is not None
    invalid = report(Outcome.INVALID, "moons-s0: the run crashed")
    assert redteam.judge(c, invalid) == "outcome invalid, expected ok (moons-s0: the run crashed)"


def test_an_unflagged_case_fails_on_any_flag_and_control_characters_in_a_flag():
    c = case(25)
    refused = report(Outcome.INVALID, c.reason + " (largest difference ...)")
    assert redteam.judge(c, refused) is None
    assert redteam.judge(c, report(Outcome.INVALID, c.reason, flags=("odd",))) is not None
    flagged = case(26)
    shown = report(Outcome.OK, flags=(flagged.flags[0] + " \x1b[2J",))
    assert redteam.judge(flagged, shown) == "control characters reached the report"
    assert redteam.judge(flagged, report(Outcome.OK, flags=(flagged.flags[0],))) is None
