"""lm as a template task: the folder binds to LmEvaluator with bits per character, the controls,
the baseline and the proposer prompt's example pass the check, and the declared harness version
pins what it stands for."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from evaluators import registry
from evaluators.calibration import panel
from evaluators.kit.secrets import PUBLIC
from evaluators.lm import data, harness

FOLDER = Path(harness.__file__).parent


@pytest.fixture(scope="module")
def task():
    return registry.get("lm").evaluator_class()


def test_the_folder_binds_to_the_harness_with_bits_per_token(task):
    assert issubclass(task, harness.LmEvaluator)
    assert task.task == "lm" and task.harness_version() == "lm-1"
    assert task.of.name == "bits_per_token" and task.spec.parameter_budget == 1.10
    assert {r: task.spec.rung(r).table() for r in ("one-pass", "short", "full")} == {
        "one-pass": {"steps": 300},
        "short": {"steps": 900},
        "full": {"steps": 2700},
    }
    assert "The editable blocks of train.py" in task(None, Path("/nonexistent"), None).description


def test_the_controls_the_baseline_and_the_prompts_example_pass_the_check(task):
    controls = panel(FOLDER)
    assert [(c.name, c.rank) for c in controls] == [
        ("no_position", "worse"),
        ("lr_tenth", "worse"),
        ("template_recipe", "better"),
    ]
    for c in controls:
        assert task.static_problem(c.source) is None, c.name
    assert task.static_problem((FOLDER / "baselines" / "template.edits").read_text()) is None
    prompt = (FOLDER / "prompts" / "proposer.md.j2").read_text()
    example = prompt.split("Example of a good answer:\n")[1].split("\n", 1)[1]
    assert task.static_problem(example) is None


# What the declared harness version "lm-1" stands for: the script, the data (corpus included),
# the causality check, the rungs and the baseline. When this digest changes, scores or refusals
# may change: give task.toml a new [template] version, then record the new digest here.
PINNED = {"version": "lm-1", "digest": "8975409f0d9c80e3"}


@pytest.mark.slow  # draws the corpus
def test_the_declared_version_pins_what_it_stands_for(task):
    h = hashlib.sha256()
    for name in ("train.py", "data.py", "causality.py", "harness.py", "baselines/template.edits"):
        h.update((FOLDER / name).read_bytes())
    h.update(json.dumps(task.spec.model_dump(), sort_keys=True).encode())
    for s in data.selection(PUBLIC) + data.confirmation(PUBLIC):
        h.update(s.name.encode())
        for array in (*s.inputs.values(), s.targets["tokens"], s.meta["probes"]):
            h.update(np.ascontiguousarray(array).tobytes())
    assert {"version": task.harness_version(), "digest": h.hexdigest()[:16]} == PINNED
