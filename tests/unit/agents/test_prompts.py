"""Every prompt, rendered for every registered task (the built-in ones and the example plugin),
speaks of that task alone: the default prompts are written from the task's own facts, and the
activation wording lives in the activation task's folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agents.prompting import DEFAULT_DIR, render
from evaluators import registry

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "tasks"
# Words that give a task away: its name and what a hypothesis of it defines.
WORDS = {
    "activation": ("activation", "ReLU", "GELU", "SiLU"),
    "preprocess": ("preprocess", "X_train"),
    "regularizer": ("regularizer", "penalty("),
    # The template tasks share train.py and SEARCH/REPLACE: words of the kind, not of one task.
    "grokking": ("grokking", "modular addition"),
    "curvefit": ("curvefit", "hidden curve"),
    "lm": ("Shakespeare", "bits per character"),
    "diffusion2d": ("diffusion", "point cloud"),
}
# A parent as ``graph.lineage.view`` builds it (edits, for the section's edit wording).
PARENT = {
    "id": "r0-1",
    "idea": "a parent idea",
    "code": "pass",
    "edits": True,
    "win_rate": 0.7,
    "datasets": [{"dataset": "a", "score": 0.9, "win_rate": 0.8}],
    "children": ["r1-0: a child idea: win rate 0.40"],
}
# Exactly what each prompt's caller in agents/ passes: a template needing more fails to render.
CALLS = {
    "system": dict(role="critic", task_description=""),
    "proposer": dict(
        mode="novel",
        best=[{"idea": "an idea", "win_rate": 0.6}],
        failures=["a failure"],
        predictions=["a prediction"],
        parent=PARENT,
    ),
    "lineage_proposer": dict(parent=PARENT),
    "lineage_coder": dict(parent=PARENT),
    "critic": dict(
        idea="an idea", code="pass", neighbours=["a neighbour"], published=["a component"]
    ),
    "coder": dict(idea="an idea", code="pass", error="an error", parent=PARENT),
    "analyst": dict(table="| hypothesis | keep |"),
    "analyst_question": dict(table="| hypothesis | keep |", question="which is best?"),
    "review": dict(
        paper="A paper.",
        truncated=True,
        checks=[
            {"name": "numbers", "ok": False, "blocking": True, "detail": "1", "listed": ["0.93"]}
        ],
    ),
    "paper_section": dict(
        section_name="abstract",
        sentences=4,
        purpose="Say what was found.",
        brief="- task: x",
        keys="none",
        problem="",
    ),
    "review_reflect": dict(
        paper="A paper.", truncated=False, checks=[], review="{}", round=1, rounds=2
    ),
    "review_meta": dict(
        reviews=[{"summary": "s", "strengths": ["a"], "weaknesses": [], "overall": 5}],
        scores={"overall": 5},
        decision="reject",
        reason="mean overall 5 < 6",
        checks=[],
    ),
    "literature": dict(
        idea="an idea",
        rounds_left=1,
        searches=[
            {
                "query": "a query",
                "hits": [
                    {
                        "id": "s2:a",
                        "title": "a title",
                        "year": 2020,
                        "venue": "a venue",
                        "abstract": "an abstract",
                    }
                ],
            }
        ],
    ),
}


def tasks() -> dict[str, registry.TaskPlugin]:
    return registry.tasks({"HYPOFORGE_TASKS": str(EXAMPLE)})


def test_every_task_and_every_prompt_is_covered():
    assert set(tasks()) == set(WORDS)
    assert set(CALLS) == {p.name.split(".")[0] for p in DEFAULT_DIR.glob("*.j2")}


@pytest.mark.parametrize("name", sorted(WORDS))
@pytest.mark.parametrize("prompt", sorted(p.name.split(".")[0] for p in DEFAULT_DIR.glob("*.j2")))
def test_prompts_name_no_other_task(name, prompt):
    plugin = tasks()[name]
    text = render(prompt, plugin.folder, **CALLS[prompt])
    for other, words in WORDS.items():
        if other == name:
            continue
        for word in words:
            assert not re.search(re.escape(word), text, re.IGNORECASE), (
                f"the {prompt} prompt of {name} says {word!r} (a word of {other})"
            )


@pytest.mark.parametrize("name", sorted(WORDS))
def test_default_prompts_carry_the_tasks_own_facts(name):
    plugin = tasks()[name]
    critic = render("critic", plugin.folder, **CALLS["critic"])
    assert plugin.slot in critic or (plugin.folder / "prompts" / "critic.md.j2").exists()
    assert name in render("analyst", plugin.folder, **CALLS["analyst"])


def test_without_a_task_folder_the_defaults_still_render():
    assert "an idea" in render("proposer", None, **CALLS["proposer"])
