"""TemplateEvaluator on the tiny fixture with a sandbox that writes given arrays: scores from
predictions and host-side targets, the bigger-model flag against the template's own count, a
task's extra checks, the job it builds and its harness version."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from core.records import Outcome
from evaluators.kit.budgets import get_budget
from evaluators.kit.secrets import PUBLIC
from evaluators.template.evaluator import FIXED, RUNNER, TemplateEvaluator

from .helpers import LR_EDIT, TINY, WritingSandbox, job_spec, labels_writer, tiny, tiny_class

TEMPLATE_COUNT = 400


def answers(split: str) -> np.ndarray:
    (s,) = [s for s in tiny_class().splits_for("selection", PUBLIC) if s.name == split]
    return s.targets["labels"]


def half_right(split: str) -> np.ndarray:
    y = answers(split)
    return np.where(np.arange(len(y)) % 2 == 0, y, (y + 1) % 3)


def sandbox(count: int = TEMPLATE_COUNT, guess=answers) -> WritingSandbox:
    return WritingSandbox(labels_writer(guess, count), labels_writer(half_right, TEMPLATE_COUNT))


def test_a_candidate_is_scored_on_the_host_against_the_template(tmp_path):
    box = sandbox()
    report = tiny(box, tmp_path).evaluate(LR_EDIT)
    assert report.status is Outcome.OK, report.reason
    assert report.cells == {"blobs-s0": 1.0, "blobs-s1": 1.0}
    assert {d: s.baselines for d, s in report.per_dataset.items()} == {"blobs": {"template": 0.5}}
    assert (report.win_rate, report.flags) == (1.0, ())
    counts = sorted((tmp_path / "baselines").glob("tiny-*-params-*.json"))
    assert [json.loads(p.read_text()) for p in counts] == [{"blobs-s0": 400, "blobs-s1": 400}]
    # The baseline is the unedited template: the container ran the script as it is.
    assert box.sources[1] == {"template": (TINY / "train.py").read_text()}


def test_a_bigger_model_is_flagged_against_the_templates_own_count(tmp_path):
    report = tiny(sandbox(count=441), tmp_path).evaluate(LR_EDIT)
    assert report.status is Outcome.OK
    assert report.flags == (  # 441 / 400 = 1.1025, over the budget of 1.10
        "bigger model: 1.10x the template's parameters (budget 1.10x); a win here is not a "
        "discovery",
    )
    assert tiny(sandbox(count=440), tmp_path / "b").evaluate(LR_EDIT).flags == ()


def test_malformed_predictions_are_an_invalid_result(tmp_path):
    def floats(out: Path, name: str, spec: dict) -> None:
        for split in spec["splits"]:
            np.save(out / f"{name}.{split}.labels.npy", answers(split).astype(np.float32))
        np.save(out / f"{name}.params.npy", np.full(2, 400, dtype=np.int64))

    box = WritingSandbox(floats, labels_writer(half_right, 400))
    report = tiny(box, tmp_path).evaluate(LR_EDIT)
    assert report.status is Outcome.INVALID_RESULT
    assert report.reason == "blobs-s0: labels: float32[192], expected integers[192]"

    def no_counts(out: Path, name: str, spec: dict) -> None:
        for split in spec["splits"]:
            np.save(out / f"{name}.{split}.labels.npy", answers(split))

    box = WritingSandbox(no_counts, labels_writer(half_right, 400))
    report = tiny(box, tmp_path / "b").evaluate(LR_EDIT)
    assert report.status is Outcome.INVALID_RESULT
    assert report.reason.startswith("candidate.params.npy")


class Checked(TemplateEvaluator):
    """A task's harness: refuses all-zero answers, flags perfect ones."""

    def extra_checks(self, predictions, split):
        labels = predictions["labels"]
        if not labels.any():
            return "answers nothing but 0", ()
        if (labels == split.targets["labels"]).all():
            return None, (f"{split.name}: too good to be true",)
        return None, ()


def checked(home: Path, box: WritingSandbox) -> TemplateEvaluator:
    cls = Checked.bind(TINY, "tiny", tiny_class().spec)
    return cls(box, home, splits=cls.splits_for("selection", PUBLIC))


def test_a_tasks_extra_checks_refuse_or_flag(tmp_path):
    report = checked(tmp_path, sandbox()).evaluate(LR_EDIT)
    assert report.status is Outcome.OK
    assert report.flags == ("blobs-s0: too good to be true", "blobs-s1: too good to be true")
    zeros = sandbox(guess=lambda split: np.zeros(192, dtype=np.int64))
    report = checked(tmp_path / "b", zeros).evaluate(LR_EDIT)
    assert (report.status, report.reason) == (Outcome.INVALID, "blobs-s0: answers nothing but 0")


def test_the_job_runs_the_kinds_runner_with_the_rungs_budget_and_no_targets(tmp_path):
    ev = tiny(None, tmp_path)
    job = ev.make_job({"candidate": LR_EDIT}, get_budget("short"), "t")
    mounts = {m.target: m.source for m in job.mounts}
    assert mounts["/hf/code/runner.py"] == RUNNER
    assert mounts["/hf/code/template_fixed.py"] == FIXED
    assert job.limits.wall_seconds == 90  # the tiny task's short rung
    spec = job_spec(job)
    assert spec["train"] == {"rung": {"steps": 80}, "modules": []}
    for split in ("blobs-s0", "blobs-s1"):
        steps = spec["checks"][split]["steps"]
        assert steps == sorted(set(steps)) and all(0 <= s < 80 for s in steps)
        assert 1 <= len(steps) <= 16
    with np.load(mounts["/hf/data.npz"]) as data:
        assert sorted(data) == [
            f"blobs-s{i}.{k}" for i in (0, 1) for k in ("n_classes", "x_eval", "x_train", "y_train")
        ]
    script = (mounts["/hf/in"] / "candidates" / "candidate.py").read_text()
    assert "LR = 3e-2\n" in script and "LR = 1e-2\n" not in script


def test_the_harness_version_is_hashed_from_the_script_and_data_unless_declared(tmp_path):
    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder, ignore=shutil.ignore_patterns("__pycache__"))
    first = tiny_class(folder).harness_version()
    assert len(first) == 12 and first == tiny_class(TINY).harness_version()
    edited = tmp_path / "edited"
    shutil.copytree(folder, edited)
    (edited / "train.py").write_text((folder / "train.py").read_text() + "\n# a note\n")
    assert tiny_class(edited).harness_version() != first
    declared = tmp_path / "declared"
    shutil.copytree(folder, declared)
    toml = (
        (declared / "task.toml")
        .read_text()
        .replace("[template]\n", '[template]\nversion = "tiny-1"\n')
    )
    (declared / "task.toml").write_text(toml)
    assert tiny_class(declared).harness_version() == "tiny-1"


def test_the_description_shows_the_editable_blocks():
    text = tiny(None, Path("/nonexistent")).description
    assert text.startswith("Improve a small MLP classifier")
    assert (
        "The editable blocks of train.py:\n```python\n# >>> EDIT hyperparameters\nHIDDEN = 32\n"
        in text
    )
