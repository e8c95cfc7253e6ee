"""The kit moved host code out of the activation task without changing a score: each built-in
task keeps the harness version it had before (so cached baselines, data files and experiment keys
stay valid), and the figures below, recorded before the move, pin what that version stands for.

When a figure changes, scores may change: give the task a new ``version`` in its ``TaskFiles``
and record the new figures here. Each figure is deterministic and needs no Docker:

- data: a digest of every split set (public arrays and test labels) drawn from a fixed secret;
- jobs: per budget, the wall clock, the runner's ``train`` config and the checks drawn from a
  fixed generator;
- scoring: the scores of fixed synthetic predictions;
- code: the fixed code a job mounts (runner, runner loop, extra code) and the baselines' sources.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from evaluators import registry
from evaluators.kit.budgets import BUDGETS
from evaluators.kit.files import RUNNER_LOOP
from evaluators.kit.sandboxed import SandboxedEvaluator
from evaluators.kit.secrets import make_secret
from evaluators.kit.splits import Split

SECRET = make_secret(hashlib.sha256(b"hypoforge kit pin").digest())
PINNED = {
    "activation": {
        "version": "b59cf7990ffc",
        "selection": "361c4d8f1226835e",
        "confirmation": "feaa4367e33f3f4e",
        "hard": "073f4f468927ee74",
        "jobs": "cc7fbf3624b18ea5",
        "scoring": "2da51aa51b9b9ef5",
        "code": "31db7b9833e9b529",
    },
    # grokking moved onto the template kind (was version 1b65b48bbcb8, jobs 2eeafdde4a97b4ed,
    # scoring cf4859218200f97b, code ae64bd978d34357a): the same data (the three digests below
    # did not change), watched steps and wall clocks, but the job's train config is the rung's
    # table, the script's fixed part calls template_fixed, the predictions are
    # <split>.labels.npy scored by the kind's curve_area (the same cells; the bigger-model flag
    # is checked after the scorer, against the template's counted run), hence a new version.
    "grokking": {
        "version": "grokking-2",
        "selection": "bce7a6675166b2c0",
        "confirmation": "3735492e7b14d518",
        "hard": "ab38c38aadb06668",
        "jobs": "06c8075b4601af29",
        "scoring": "27f8e64f9139e6ee",
        "code": "a1c9453d23b23081",
    },
    "preprocess": {
        "version": "a90a20d6881a",
        "selection": "9c3888c710f45c22",
        "confirmation": "2e53970c081a38f9",
        "hard": "07647192f3482b70",
        "jobs": "305ecc54b67e8b37",
        "scoring": "2da51aa51b9b9ef5",
        "code": "5ea030199919c306",
    },
    "regularizer": {
        "version": "d0703112d953",
        "selection": "e59a306a88b73c1c",
        "confirmation": "350d9747ec81351c",
        "hard": "d5ea016cd7d486b6",
        "jobs": "0bfe2d6c346e4966",
        "scoring": "2da51aa51b9b9ef5",
        "code": "065157b709797991",
    },
}


def evaluator_class(task: str) -> type[SandboxedEvaluator]:
    cls = registry.tasks(env={})[task].evaluator_class()
    assert issubclass(cls, SandboxedEvaluator)
    return cls


def data_digest(splits: list[Split]) -> str:
    h = hashlib.sha256()
    for s in splits:
        arrays = {**s.public(), f"{s.name}.y_test": s.y_test}
        for key in sorted(arrays):
            a = np.ascontiguousarray(arrays[key])
            h.update(f"{key}|{a.dtype.str}|{a.shape}|".encode())
            h.update(a.tobytes())
    return h.hexdigest()[:16]


def jobs_digest(ev: SandboxedEvaluator) -> str:
    h = hashlib.sha256()
    names = [s.name for s in ev.splits]
    for budget in sorted(BUDGETS):
        spec = BUDGETS[budget]
        checks = ev.draw_checks(np.random.default_rng(7), names, spec)
        figure = [budget, spec.wall_seconds, ev.train_config(spec), checks]
        h.update(json.dumps(figure, sort_keys=True).encode())
    return h.hexdigest()[:16]


def scoring_digest(task: str, ev: SandboxedEvaluator, out: Path) -> str:
    """The scores of random predictions: logits for the tabular tasks, answers at each of
    grokking's 41 checkpoints (with parameter counts near the template's)."""
    rng = np.random.default_rng(11)
    for s in ev.splits:
        if task == "grokking":  # a template task: the kind's runner names the array it wrote
            arr = rng.integers(0, s.n_classes, size=(41, len(s.y_test))).astype(np.int64)
            np.save(out / f"candidate.{s.name}.labels.npy", arr)
            continue
        arr = rng.normal(size=(len(s.y_test), s.n_classes)).astype(np.float32)
        np.save(out / f"candidate.{s.name}.npy", arr)
    if task == "grokking":
        np.save(out / "candidate.params.npy", np.full(len(ev.splits), 30000, dtype=np.int64))
    scored = ev.scorer.score(out, "candidate", ev.splits)
    cells = sorted((f"{d}-{s}", round(v, 12)) for (d, s), v in scored.accuracy.items())
    figure = [str(scored.outcome), cells, list(scored.flags)]
    return hashlib.sha256(json.dumps(figure).encode()).hexdigest()[:16]


def code_digest(cls: type[SandboxedEvaluator]) -> str:
    h = hashlib.sha256()
    folder = cls.files.folder
    for name in ("runner.py", "train.py"):
        if (folder / name).exists():
            h.update((folder / name).read_bytes())
    for path in cls.files.extra_code.values():
        h.update(path.read_bytes())
    h.update(RUNNER_LOOP.read_bytes())
    for name in cls.files.baselines:
        h.update(cls.files.baseline_source(name).encode())
    return h.hexdigest()[:16]


@pytest.mark.parametrize("task", sorted(PINNED))
def test_each_task_keeps_its_harness_version_and_what_it_stands_for(task, tmp_path):
    cls = evaluator_class(task)
    ev = cls(None, tmp_path / "home", splits=cls.splits_for("selection", SECRET))  # type: ignore[arg-type]
    found = {
        "version": ev.version,
        **{name: data_digest(cls.splits_for(name, SECRET)) for name in cls.split_sets.names},
        "jobs": jobs_digest(ev),
        "scoring": scoring_digest(task, ev, tmp_path),
        "code": code_digest(cls),
    }
    assert found == PINNED[task]
    assert not (tmp_path / "home").exists()  # explicit splits: no secret, nothing written
