"""diffusion2d as a template task: the folder binds, the controls and the baseline pass the
static check, the step budget and the fixed names are refused before anything runs, and the
script trains and samples on the host as it does in the sandbox."""

from __future__ import annotations

import hashlib
import json
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from evaluators import registry
from evaluators.calibration import panel
from evaluators.diffusion2d import data, harness
from evaluators.kit.secrets import PUBLIC
from evaluators.runner_loop import MODULES, load

FOLDER = Path(harness.__file__).parent


def edit(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


@pytest.fixture(scope="module")
def task():
    return registry.get("diffusion2d").evaluator_class()


def test_the_folder_binds_to_the_harness_with_the_nn_kl_metric(task):
    assert issubclass(task, harness.Diffusion2dEvaluator)
    assert task.task == "diffusion2d" and task.harness_version() == "diffusion2d-1"
    assert task.of.name == "nn_kl" and task.spec.parameter_budget == 1.10
    assert [s.name for s in task.split_sets.selection(PUBLIC)] == [
        s.name for s in data.selection(PUBLIC)
    ]
    assert "The editable blocks of train.py" in task(None, Path("/nonexistent"), None).description


def test_the_controls_and_the_baseline_pass_the_check(task):
    controls = panel(FOLDER)
    assert [(c.name, c.rank) for c in controls] == [
        ("few_steps", "worse"),
        ("lr_tenth", "worse"),
        ("template_recipe", "better"),
    ]
    for c in controls:
        assert task.static_problem(c.source) is None, c.name
    assert task.static_problem((FOLDER / "baselines" / "template.edits").read_text()) is None


@pytest.mark.parametrize(
    ("edits", "why"),
    [
        (
            edit("DIFFUSION_STEPS = 100\n", "DIFFUSION_STEPS = 5000\n"),
            "DIFFUSION_STEPS = 5000 is over the budget of 1000; use at most that",
        ),
        (
            edit("BATCH = 256\n", "BATCH = 100000\n"),
            "BATCH = 100000 is over the budget of 4096; use at most that",
        ),
    ],
    ids=["diffusion-steps", "batch"],
)
def test_more_than_the_budget_is_refused_statically(task, edits, why):
    assert task.static_problem(edits) == why


@pytest.mark.parametrize(
    ("edits", "why"),
    [
        (edit("BATCH = 256\n", "BATCH = 256\nSAMPLES = 10\n"), "SAMPLES"),
        (
            edit("BATCH = 256\n", "BATCH = 256\nMAX_DIFFUSION_STEPS = 10**6\n"),
            "MAX_DIFFUSION_STEPS",
        ),
        (
            edit(
                "    return F.mse_loss(predicted, noise)\n",
                "    return F.mse_loss(predicted, noise)\n\n\n"
                "def sample(model, betas, generator):\n    return betas\n",
            ),
            "sample",
        ),
        (edit("BATCH = 256\n", "BATCH = 256\ntemplate_fixed = 1\n"), "template_fixed"),
    ],
    ids=["samples", "max-steps", "sampler", "fixed-module"],
)
def test_rebinding_a_fixed_name_is_refused(task, edits, why):
    problem = task.static_problem(edits)
    assert problem is not None and why in problem, problem


def test_training_beyond_the_fixed_loop_is_refused(task):
    """A loss that takes optimizer steps of its own (more steps than the rung's) is refused."""
    extra = edit(
        "    return F.mse_loss(predicted, noise)\n",
        "    loss = F.mse_loss(predicted, noise)\n    loss.backward()\n    return loss\n",
    )
    problem = task.static_problem(extra)
    assert problem is not None and ".backward" in problem, problem


def run_script(script: str, steps: int, split_name: str = "moons-s0"):
    """``train_and_predict`` of ``script`` on the host, as the runner calls it in the sandbox
    (curated builtins; ``template_fixed`` is the kind's fixed.py)."""
    import evaluators.template.fixed as fixed

    sys.modules.setdefault("template_fixed", fixed)
    path = Path(pytest.importorskip("tempfile").mkdtemp()) / "train.py"
    path.write_text(script)
    names = load(
        path,
        "train_and_predict",
        (*MODULES, "template_fixed"),
        ("__build_class__", "super", "id", "FloatingPointError", "ValueError"),
    )
    split = data.split(split_name.split("-s")[0], int(split_name.split("-s")[1]))
    seed = zlib.crc32(split.name.encode())
    return names["train_and_predict"](dict(split.inputs), {"steps": steps}, seed, {"steps": [1]})


def test_the_template_trains_and_samples_deterministically(task):
    predictions, n_params = run_script(task.template.text, 30)
    again, _ = run_script(task.template.text, 30)
    assert set(predictions) == {"samples"}
    assert predictions["samples"].shape == (1000, 2) and predictions["samples"].dtype == np.float32
    assert np.array_equal(predictions["samples"], again["samples"])
    # 3 -> 64 -> 64 -> 64 -> 2 Linear layers' weights and biases, and 5 numbers the count
    # finds in Python objects the model and the optimizer hold (template_fixed.outside_tensors)
    assert n_params == (3 * 64 + 64) + 2 * (64 * 64 + 64) + (64 * 2 + 2) + 5


def test_a_diffusion_step_count_over_the_budget_is_a_broken_rule_at_run_time(task):
    """Written so the static reading cannot see it (an expression), the fixed part refuses it."""
    import evaluators.template.fixed as fixed

    script = task.template.edited(edit("DIFFUSION_STEPS = 100\n", "DIFFUSION_STEPS = 100 * 20\n"))
    with pytest.raises(
        fixed.RuleBroken, match=r"DIFFUSION_STEPS is 2000; it must be an int in \[1, 1000\]"
    ):
        run_script(script, 1)


def test_the_proposer_prompts_example_passes_the_check(task):
    prompt = (FOLDER / "prompts" / "proposer.md.j2").read_text()
    example = prompt.split("Example of a good answer:\n")[1].split("\n", 1)[1]
    assert example.startswith("<<<<<<< SEARCH\n")
    assert task.static_problem(example) is None


# What the declared harness version "diffusion2d-1" stands for: the script, the data, the
# harness's checks, the rungs and the baseline. When this digest changes, scores or flags may
# change: give task.toml a new [template] version, then record the new digest here.
PINNED = {"version": "diffusion2d-1", "digest": "5ab2438786dff05a"}


def test_the_declared_version_pins_what_it_stands_for(task):
    h = hashlib.sha256()
    for name in ("train.py", "data.py", "harness.py", "baselines/template.edits"):
        h.update((FOLDER / name).read_bytes())
    h.update(json.dumps(task.spec.model_dump(), sort_keys=True).encode())
    for s in data.selection(PUBLIC) + data.confirmation(PUBLIC):
        h.update(s.name.encode())
        h.update(np.ascontiguousarray(s.inputs["x_train"]).tobytes())
        h.update(np.ascontiguousarray(s.targets["samples"]).tobytes())
    assert {"version": task.harness_version(), "digest": h.hexdigest()[:16]} == PINNED
