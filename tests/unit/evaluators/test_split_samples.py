"""Samples that do not cross splits, and a job's data file that holds only the job's splits.

A job runs every split of one split set in one container, so code past the static check can read
them all: one split's test row must never be another's training row there, even up to the two
splits' secret transforms. Checked from the host-side generator's provenance (pool and row index
of every sample), for every split set each task runs, over several secrets.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from evaluators.activation.harness import ActivationEvaluator
from evaluators.grokking import data as grokking_data
from evaluators.grokking.harness import GrokkingEvaluator
from evaluators.kit import datasets
from evaluators.kit.budgets import get_budget
from evaluators.kit.secrets import PUBLIC, make_secret
from evaluators.kit.splits import Split
from evaluators.preprocess.harness import PreprocessEvaluator
from evaluators.regularizer.harness import RegularizerEvaluator
from tests.fakes import SMALL_SPLITS, FakeSandbox

SECRETS = [
    PUBLIC,
    *(make_secret(hashlib.sha256(f"split samples {i}".encode()).digest()) for i in range(2)),
]
TABLE_TASKS = (ActivationEvaluator, RegularizerEvaluator, PreprocessEvaluator)
SPLIT_SETS = ("selection", "confirmation", "hard")
Sample = tuple[str, int, int]  # dataset, pool, row


def _dataset_and_seed(split_name: str) -> tuple[str, int]:
    """``few_checkerboard-s1`` -> ("checkerboard", 1): the task prefixes name variants of one
    split of the activation task's data (deep network, small training set, wide scales)."""
    stem, seed = split_name.rsplit("-s", 1)
    for prefix in ("deep_", "few_", "wide_"):
        stem = stem.removeprefix(prefix)
    return stem, int(seed)


def _row_ids(rows: np.ndarray, among: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The ids of ``rows``, each found (bit for bit) among ``among``, whose ids are ``ids``."""
    index = {r.tobytes(): i for r, i in zip(among, ids, strict=True)}
    assert len(index) == len(among)  # every row of a split is distinct: the lookup is exact
    return np.array([index[r.tobytes()] for r in rows])


def provenance(split: Split, secret) -> tuple[set[Sample], set[Sample]]:
    """The samples behind a task's split: (its training samples, its test samples)."""
    name, seed = _dataset_and_seed(split.name)
    p = datasets.perturbed(name, seed, secret=secret)
    assert len(split.x_test) == len(p.test_rows)  # every task keeps the whole test side
    train_rows = p.train_rows
    if len(split.x_train) != len(p.train_rows):  # the regularizer's sample of the training side
        full = datasets.split(name, seed, secret=secret)
        train_rows = _row_ids(split.x_train, full.x_train, p.train_rows)
    return (
        {(name, p.pool, int(r)) for r in train_rows},
        {(name, p.pool, int(r)) for r in p.test_rows},
    )


@pytest.mark.parametrize("split_set", SPLIT_SETS)
@pytest.mark.parametrize("task", TABLE_TASKS, ids=lambda t: t.task)
def test_no_test_sample_of_one_split_is_a_training_sample_of_another(task, split_set):
    for secret in SECRETS:
        splits = task.splits_for(split_set, secret)
        known = {s.name: provenance(s, secret) for s in splits}
        for a, (_, test_a) in known.items():
            for b, (train_b, _) in known.items():
                assert not test_a & train_b, (task.task, split_set, secret.id, a, b)


# manyclass, the largest generated set, takes over a second: make test checks it, make unit not
@pytest.mark.parametrize("name", [pytest.param(d, marks=pytest.mark.slow) if d == "manyclass" else d
                                  for d in (*datasets.DATASETS, *datasets.HELD_OUT)
                                  if d not in datasets.PUBLIC_DATASETS])  # fmt: skip
def test_generated_splits_share_no_point_even_up_to_their_secret_transforms(name):
    """Each seed's generated samples are its own: no raw point (before the secret standardise,
    rotate and scale) of one seed's test side is any point of another seed's."""
    for secret in SECRETS:
        for group in (datasets.SEEDS, datasets.FRESH_SEEDS):
            raw = {}
            for seed in group:
                p = datasets.perturbed(name, seed, secret=secret)
                x, _ = datasets.load(name, secret=secret, pool=p.pool)
                raw[seed] = (x[p.train_rows], x[p.test_rows])
            for a in group:
                for b in group:
                    if a != b:
                        gap = np.abs(raw[a][1][:, None, :] - raw[b][0][None]).max(axis=-1)
                        assert gap.min() > 1e-9, (name, secret.id, a, b)


def test_a_public_row_is_a_test_row_in_every_split_of_its_group_or_in_none():
    for secret in SECRETS:
        for name in datasets.PUBLIC_DATASETS:
            for group in (datasets.SEEDS, datasets.FRESH_SEEDS):
                parts = [datasets.perturbed(name, s, secret=secret) for s in group]
                test = set().union(*(set(p.test_rows.tolist()) for p in parts))
                train = set().union(*(set(p.train_rows.tolist()) for p in parts))
                assert not test & train
                n = len(datasets.public_data(name)[1])
                # Sizes stay those of a KEEP subsample split TEST_FRACTION to one side.
                for p in parts:
                    share = len(p.test_rows) / (len(p.test_rows) + len(p.train_rows))
                    assert share == pytest.approx(datasets.TEST_FRACTION, abs=0.02)
                    assert len(p.test_rows) + len(p.train_rows) == pytest.approx(
                        datasets.KEEP * n, abs=2
                    )


def test_grokking_splits_share_no_answer_beyond_chance():
    """Every grokking split is the whole table of a + b mod p under its own secret renaming: the
    answer another split's training half gives a test pair's tokens is right at chance (1/p)."""
    for secret in SECRETS:
        for make in (grokking_data.all_splits, grokking_data.confirmation_splits):
            splits = make(secret=secret)
            for a in splits:
                answers = {}
                for b in splits:
                    if b.name != a.name and b.n_classes == a.n_classes:
                        answers.update(
                            {tuple(x): y for x, y in zip(b.x_train, b.y_train, strict=True)}
                        )
                hits = [answers.get(tuple(x)) == y for x, y in zip(a.x_test, a.y_test, strict=True)]
                assert np.mean(hits) <= 2 / a.n_classes + 0.03, (secret.id, a.name)


# -- a job's data file holds exactly the job's splits --------------------------------------------
def _mounted_keys(job) -> set[str]:
    (data,) = [m.source for m in job.mounts if m.target == "/hf/data.npz"]
    with np.load(data, allow_pickle=False) as arrays:
        return set(arrays.files)


def _public_keys(splits) -> set[str]:
    return {k for s in splits for k in s.public()}


@pytest.mark.parametrize("task", [*TABLE_TASKS, GrokkingEvaluator], ids=lambda t: t.task)
def test_a_jobs_data_file_holds_exactly_its_splits_and_no_test_labels(task, tmp_path):
    splits = SMALL_SPLITS if task is not GrokkingEvaluator else grokking_data.all_splits()[:2]
    ev = task(FakeSandbox(), tmp_path, splits=splits)
    spec = get_budget("one-pass")
    job = ev.make_job({"candidate": ""}, spec, "t")
    assert _mounted_keys(job) == _public_keys(splits)
    assert not any(k.endswith(".y_test") for k in _mounted_keys(job))
    one = ev.make_job({"candidate": ""}, spec, "u", splits=[splits[1].name])
    assert _mounted_keys(one) == _public_keys(splits[1:2])
    none = ev.make_job({"candidate": ""}, spec, "v", splits=[])
    assert _mounted_keys(none) == set()
    with pytest.raises(ValueError, match="not a split"):
        ev.make_job({"candidate": ""}, spec, "w", splits=["iris-s9"])


def test_the_probe_job_holds_no_split_at_all(tmp_path):
    sb = FakeSandbox()
    ev = ActivationEvaluator(sb, tmp_path, splits=SMALL_SPLITS)
    ev.probe_many({"candidate": "import torch\n\ndef activation(x):\n    return torch.relu(x)\n"})
    (job,) = sb.jobs
    assert _mounted_keys(job) == set()


@pytest.mark.parametrize("name", ["iris", "wine", "spirals"])
def test_rows_come_in_a_secret_order_not_grouped_by_class(name):
    """iris, wine and spirals are stored class by class: in that order a row's position would
    give away its label. Neighbouring rows share a label about as often as in a random order."""
    for secret, seed in ((s, seed) for s in SECRETS for seed in (0, 1, 2)):
        p = datasets.perturbed(name, seed, secret=secret)
        for y in (p.y_train, p.y_test):
            same = float(np.mean(y[1:] == y[:-1]))
            assert same < 0.55, (name, seed, same)  # stored order: above 0.95
