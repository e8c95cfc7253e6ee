"""Red team in the real sandbox: a preprocess hypothesis that embeds the public iris data with its
labels, looks each row up and hands the label to the network as a feature. On the old fixed-seed
split it wins everything; on the installation's secret splits it is no better than standardising.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from core.records import Outcome
from evaluators.kit import datasets
from evaluators.kit.secrets import installation_secret
from evaluators.kit.splits import Split
from evaluators.preprocess import data
from evaluators.preprocess.harness import PreprocessEvaluator


def lookup_hypothesis() -> str:
    """The attack, in plain numpy: iris embedded as literals (about 3 KB of source)."""
    x, y = datasets.public_data("iris")
    rows = ", ".join(f"{v:g}" for v in x.ravel())
    labels = ", ".join(str(v) for v in y)
    return f"""import numpy as np


def preprocess(X_train, X_test):
    PUBLIC = np.array([{rows}]).reshape(150, 4)
    LABELS = np.array([{labels}])
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0) + 1e-9
    P = (PUBLIC - PUBLIC.mean(axis=0)) / PUBLIC.std(axis=0)
    out = []
    for X in (X_train, X_test):
        Z = (X - mean) / std
        d = ((Z[:, None, :] - P[None, :, :]) ** 2).sum(axis=2)
        found = LABELS[np.argmin(d, axis=1)]
        onehot = (found[:, None] == np.arange(3)[None, :]) * 10.0
        out.append(np.concatenate([Z, onehot], axis=1))
    return out[0], out[1]
"""


def old_split(seed: int) -> Split:
    """The raw iris split as it was before the secret: public rows, split by the seed index."""
    x, y = datasets.public_data("iris")
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.3, random_state=seed, stratify=y)
    f32 = np.float32
    return Split(f"iris-s{seed}", x_tr.astype(f32), y_tr, x_te.astype(f32), y_te, 3)


def evaluator(sandbox, home, limits, splits):
    return PreprocessEvaluator(sandbox, home, limits, splits=splits, wall_seconds=60)


STATIC_CHECK = True  # set False (and say why) if the preprocess allowlist refuses the attack


@pytest.fixture(scope="module")
def attack() -> str:
    source = lookup_hypothesis()
    assert PreprocessEvaluator.static_problem(source) is None  # plain numpy: accepted
    return source


def test_control_the_lookup_wins_everything_on_the_old_public_split(
    docker_sandbox, settings, attack
):
    ev = evaluator(docker_sandbox, settings.home, settings.sandbox.limits, [old_split(0)])
    report = ev.evaluate(attack, static_check=STATIC_CHECK)
    assert report.status is Outcome.OK, report.reason
    iris = report.per_dataset["iris"]
    assert iris.candidate >= 0.97 and iris.candidate > iris.baselines["standardise"]
    assert report.win_rate == 1.0


def test_the_lookup_is_no_better_than_standardising_on_secret_splits(
    docker_sandbox, settings, attack
):
    secret = installation_secret(settings.home)
    splits = [data.raw_split("iris", s, secret=secret) for s in datasets.SEEDS]
    ev = evaluator(docker_sandbox, settings.home, settings.sandbox.limits, splits)
    report = ev.evaluate(attack, static_check=STATIC_CHECK)
    assert report.status is Outcome.OK, report.reason
    assert report.data_secret == secret.id
    iris = report.per_dataset["iris"]
    honest = evaluator(docker_sandbox, settings.home, settings.sandbox.limits, splits).evaluate(
        (PreprocessEvaluator.folder / "baselines" / "standardise.py").read_text()
    )
    assert honest.status is Outcome.OK
    assert iris.candidate <= honest.per_dataset["iris"].candidate + 0.05
    assert report.win_rate is not None and report.win_rate <= honest.win_rate + 0.1
