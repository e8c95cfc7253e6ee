"""The static checks against corpora: ordinary hypotheses as a strong model writes them by habit
(annotations, docstrings, helper constants, ``from`` imports) must pass, and hostile ones, one
file per attack class, must be refused with the reason their first line names
(``# expect: <the exact reason, or its tail for a reason with no line>``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluators.activation.validator import check_source as check_activation
from evaluators.preprocess.validator import check_source as check_preprocess
from evaluators.regularizer.validator import check_source as check_regularizer
from evaluators.static_check import StaticCheckError

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT / "tests" / "corpus"
CHECKS = {
    "activation": check_activation,
    "preprocess": check_preprocess,
    "regularizer": check_regularizer,
}


def files(kind: str) -> list[Path]:
    """Every corpus file of ``kind`` (ordinary or hostile), for every task."""
    return sorted(CORPUS.glob(f"*/{kind}/*.py"))


def baselines() -> list[Path]:
    """The tasks' own baselines: ordinary hypotheses too."""
    return sorted(p for task in CHECKS for p in (ROOT / "evaluators" / task).glob("baselines/*.py"))


def name(path: Path) -> str:
    return f"{path.parts[-3]}/{path.stem}"


def task_of(path: Path) -> str:
    return next(part for part in path.parts if part in CHECKS)


def test_each_task_has_its_corpora():
    for task in CHECKS:
        assert len(list((CORPUS / task / "ordinary").glob("*.py"))) >= 10, task
        assert len(list((CORPUS / task / "hostile").glob("*.py"))) >= 12, task


@pytest.mark.parametrize("path", files("ordinary") + baselines(), ids=name)
def test_ordinary_hypotheses_pass(path):
    CHECKS[task_of(path)](path.read_text())


@pytest.mark.parametrize("path", files("hostile"), ids=name)
def test_hostile_hypotheses_are_refused_with_their_reason(path):
    text = path.read_text()
    first = text.splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: <reason>'"
    expected = first.removeprefix("# expect: ")
    with pytest.raises(StaticCheckError) as info:
        CHECKS[task_of(path)](text)
    reason = str(info.value)
    assert reason == expected or (reason.endswith(expected) and not expected.startswith("line"))
