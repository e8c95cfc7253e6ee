"""The task kit's parts on their own: harness versions declared or hashed, split sets, the
baseline cache's names and round trip, and a task assembled from the parts with defaults."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from core.errors import ConfigError
from core.records import Outcome
from evaluators.kit import baselines
from evaluators.kit.files import TaskFiles
from evaluators.kit.sandboxed import SandboxedEvaluator
from evaluators.kit.scoring import LogitsAccuracy
from evaluators.kit.secrets import PUBLIC
from evaluators.kit.splits import Split, SplitSets, cell


def tiny(name: str = "toy-s0") -> Split:
    x = np.zeros((4, 2), dtype=np.float32)
    y = np.array([0, 1, 0, 1])
    return Split(name, x, y, x, y, n_classes=2, secret_id=PUBLIC.id)


def task_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "toy"
    (folder / "baselines").mkdir(parents=True)
    (folder / "runner.py").write_text("print('runner')\n")
    (folder / "harness.py").write_text("# harness\n")
    (folder / "description.md").write_text("Toy task.\n")
    (folder / "baselines" / "zero.py").write_text("def f(x):\n    return 0\n")
    return folder


def test_an_undeclared_version_follows_the_files_and_a_declared_one_is_kept(tmp_path):
    folder = task_folder(tmp_path)
    files = TaskFiles(folder, baselines=("zero",))
    first = files.harness_version()
    assert len(first) == 12 and first == files.harness_version()
    (folder / "runner.py").write_text("print('changed')\n")
    second = files.harness_version()
    assert second != first
    (folder / "baselines" / "zero.py").write_text("def f(x):\n    return 0.0\n")
    assert files.harness_version() not in (first, second)
    assert TaskFiles(folder, baselines=("zero",), version="abc").harness_version() == "abc"


def test_a_split_set_the_task_lacks_is_refused_with_those_it_has():
    sets = SplitSets(selection=lambda secret: [tiny()], hard=lambda secret: [tiny("hard-s0")])
    assert sets.names == ("selection", "hard")
    assert [s.name for s in sets.builder("hard", "toy")(PUBLIC)] == ["hard-s0"]
    with pytest.raises(
        ConfigError, match=r"task 'toy' has no split set 'confirmation'; .*selection, hard"
    ):
        sets.builder("confirmation", "toy")
    assert cell("deep_spirals-s12") == ("deep_spirals", 12)


def test_the_baseline_cache_keeps_its_file_names_and_round_trips(tmp_path):
    path = baselines.cache_path(
        tmp_path,
        "activation",
        "b59cf7990ffc",
        "1234abcd",
        "one-pass",
        "img@sha256:0123456789abcdef",
    )
    assert (
        path
        == tmp_path / "baselines" / "activation-b59cf7990ffc-1234abcd-one-pass-0123456789ab.json"
    )
    assert baselines.load(path) is None
    scores = {"relu": {("iris", 0): 0.9, ("deep_spirals", 3): 0.5}}
    baselines.save(path, scores)
    assert baselines.load(path) == scores and not path.with_suffix(".tmp").exists()


def test_a_task_from_the_parts_gets_the_defaults(tmp_path):
    folder = task_folder(tmp_path)

    class Toy(SandboxedEvaluator):
        task: ClassVar[str] = "toy"
        files: ClassVar[TaskFiles] = TaskFiles(folder, baselines=("zero",))
        split_sets: ClassVar[SplitSets] = SplitSets(selection=lambda secret: [tiny()])

    assert (Toy.folder, Toy.metric, Toy.scorer) == (folder, "test accuracy", LogitsAccuracy())
    ev = Toy(None, tmp_path / "home")  # type: ignore[arg-type]
    assert [s.name for s in ev.splits] == ["toy-s0"] and ev.description == "Toy task."
    assert ev.confirmer() is None  # no confirmation set: nothing is confirmed
    assert ev.grammars() == {}  # no grammars folder: free text
    with pytest.raises(ConfigError, match="no split set 'hard'"):
        Toy(None, tmp_path / "home", split_set="hard")  # type: ignore[arg-type]
    out = tmp_path / "out"
    out.mkdir()
    np.save(out / "c.toy-s0.npy", np.array([[1, 0], [0, 1], [1, 0], [1, 0]], dtype=np.float32))
    scored = ev.scorer.score(out, "c", ev.splits)
    assert (scored.outcome, scored.accuracy) == (Outcome.OK, {("toy", 0): 0.75})
    np.save(out / "c.toy-s0.npy", np.full((4, 2), np.nan, dtype=np.float32))
    assert ev.scorer.score(out, "c", ev.splits).outcome is Outcome.NONFINITE
    shutil.rmtree(out)
    out.mkdir()
    assert ev.scorer.score(out, "c", ev.splits).outcome is Outcome.INVALID_RESULT
