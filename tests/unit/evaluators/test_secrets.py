"""The per-installation data secret: created once, kept on the host, and the data drawn from it.

The red-team cases play a hypothesis that embeds the public data (or the public recipe of the
generated datasets, or grokking's public seeds) and looks the container's test rows up. Every
attacker-side helper here uses numpy only, as code in a container could.
"""

from __future__ import annotations

import hashlib
import stat
import threading

import numpy as np
import pytest

from core.errors import ConfigError
from core.records import Outcome
from evaluators.activation.harness import ActivationEvaluator
from evaluators.grokking import data as grokking_data
from evaluators.grokking.data import modular_addition
from evaluators.kit import datasets
from evaluators.kit.budgets import get_budget
from evaluators.kit.secrets import (
    FILE_NAME,
    KEY_BYTES,
    PUBLIC,
    DataSecret,
    derive_rng,
    derive_seed,
    installation_secret,
    make_secret,
)
from evaluators.kit.splits import Split
from evaluators.preprocess import data as preprocess_data
from evaluators.regularizer import data as regularizer_data
from tests.fakes import SMALL_SPLITS, FakeSandbox

OTHERS = [make_secret(hashlib.sha256(f"test secret {i}".encode()).digest()) for i in range(3)]
SECRETS = [PUBLIC, *OTHERS]
RELU = "import torch\n\ndef activation(x):\n    return torch.relu(x)\n"


# -- the secret file ---------------------------------------------------------------------------
def test_the_secret_is_created_once_with_mode_0600_and_reused(tmp_path):
    first = installation_secret(tmp_path / "home")
    path = tmp_path / "home" / FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == first.key and len(first.key) == KEY_BYTES
    assert installation_secret(tmp_path / "home") == first
    assert first != installation_secret(tmp_path / "other")  # another installation, another key
    assert [p.name for p in (tmp_path / "home").iterdir()] == [FILE_NAME]  # no temporary left


def test_racing_processes_end_up_with_the_same_secret(tmp_path):
    barrier, got = threading.Barrier(8), []

    def make() -> None:
        barrier.wait()
        got.append(installation_secret(tmp_path))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and len({s.key for s in got}) == 1
    assert (tmp_path / FILE_NAME).read_bytes() == got[0].key


def test_a_truncated_secret_is_a_config_error_and_is_never_regenerated(tmp_path):
    path = tmp_path / FILE_NAME
    path.write_bytes(b"\x01" * 31)
    with pytest.raises(ConfigError, match=f"the data secret {path} is damaged \\(31 bytes"):
        installation_secret(tmp_path)
    assert path.read_bytes() == b"\x01" * 31


def test_an_unreadable_secret_is_a_config_error_naming_the_path(tmp_path):
    (tmp_path / FILE_NAME).mkdir()  # a folder where the key should be: unreadable as a file
    with pytest.raises(ConfigError, match=f"cannot read the data secret {tmp_path / FILE_NAME}"):
        installation_secret(tmp_path)


def test_derived_seeds_are_deterministic_32_bit_and_separated_by_label():
    seeds = {derive_seed(s, "moons", "samples") for s in SECRETS}
    assert len(seeds) == len(SECRETS) and all(0 <= v < 2**32 for v in seeds)
    assert derive_seed(PUBLIC, "a", "bc") != derive_seed(PUBLIC, "ab", "c")
    assert derive_seed(PUBLIC, 1) != derive_seed(PUBLIC, "1")
    assert derive_seed(PUBLIC, "x") == derive_seed(make_secret(PUBLIC.key), "x")
    a, b = derive_rng(PUBLIC, "x").normal(size=4), derive_rng(PUBLIC, "x").normal(size=4)
    assert np.array_equal(a, b)


def test_a_secret_never_shows_its_key():
    assert repr(PUBLIC) == f"DataSecret(id={PUBLIC.id!r})" and len(PUBLIC.id) == 12
    assert PUBLIC.key.hex() not in repr(PUBLIC) and PUBLIC.key.hex()[:12] != PUBLIC.id
    with pytest.raises(ConfigError, match="32 bytes, not 5"):
        make_secret(b"short")


# -- data drawn from the secret ------------------------------------------------------------------
@pytest.mark.parametrize(
    "build",
    [
        lambda s: datasets.split("wine", 1, secret=s),
        lambda s: datasets.split("moons", 0, secret=s),
        lambda s: preprocess_data.raw_split("iris", 2, secret=s),
        lambda s: regularizer_data.small_split("digits", 0, secret=s),
        lambda s: grokking_data.split(13, 0, steps=10, secret=s),
    ],
)
def test_two_secrets_give_different_data_and_one_secret_the_same(build):
    a, again, b = build(OTHERS[0]), build(make_secret(OTHERS[0].key)), build(OTHERS[1])
    assert (a.secret_id, b.secret_id) == (OTHERS[0].id, OTHERS[1].id)
    for field in ("x_train", "y_train", "x_test", "y_test"):
        assert np.array_equal(getattr(a, field), getattr(again, field))
    assert not np.array_equal(a.x_test, b.x_test)


def test_two_secrets_assign_different_test_rows():
    def test_rows(secret: DataSecret) -> set[int]:
        _, test = datasets._assign(datasets.public_data("wine")[1], "wine", 0, secret)
        return set(test.tolist())

    overlap = len(test_rows(OTHERS[0]) & test_rows(OTHERS[1])) / len(test_rows(OTHERS[0]))
    assert overlap < 0.6  # two random 27% samples of the rows share about 27% of them


def test_the_raw_split_is_the_standardised_split_before_scaling():
    raw, std = preprocess_data.raw_split("wine", 0), datasets.split("wine", 0)
    mean, scale = raw.x_train.mean(axis=0), raw.x_train.std(axis=0)
    assert np.allclose((raw.x_test - mean) / scale, std.x_test, atol=1e-3)
    spans = raw.x_train.std(axis=0)
    assert spans.max() / spans.min() > 100  # columns of very different scales, as raw data has


# -- the evaluator uses its home's secret --------------------------------------------------------
def test_the_evaluator_draws_its_splits_from_its_homes_secret(tmp_path):
    one = ActivationEvaluator(FakeSandbox(), tmp_path / "one")
    two = ActivationEvaluator(FakeSandbox(), tmp_path / "two")
    secret = installation_secret(tmp_path / "one")
    assert one.secret == secret and {s.secret_id for s in one.splits} == {secret.id}
    assert len(one.splits) == len(datasets.DATASETS) * len(datasets.SEEDS)
    assert one.splits_id != two.splits_id
    assert one.experiment_key(RELU, "one-pass") != two.experiment_key(RELU, "one-pass")
    report = one.evaluate("import os\n")  # refused statically: still records the secret's id
    assert report.status is Outcome.INVALID and report.data_secret == secret.id


def test_explicit_splits_record_their_own_secret_and_write_no_key(tmp_path):
    report = ActivationEvaluator(FakeSandbox(), tmp_path, splits=SMALL_SPLITS).evaluate(RELU)
    assert report.status is Outcome.OK and report.data_secret == PUBLIC.id
    assert not (tmp_path / FILE_NAME).exists()


def test_the_job_never_mounts_the_secret_nor_the_test_labels(tmp_path):
    ev = ActivationEvaluator(FakeSandbox(), tmp_path)
    job = ev.make_job({"candidate": RELU}, get_budget("one-pass"), "t")
    key_path = tmp_path / FILE_NAME
    files = []
    for m in job.mounts:
        assert m.source != key_path and m.source not in key_path.parents
        files += (
            [m.source] if m.source.is_file() else [p for p in m.source.rglob("*") if p.is_file()]
        )
    for path in files:
        assert ev.secret.key not in path.read_bytes(), path
    data = np.load(next(m.source for m in job.mounts if m.target == "/hf/data.npz"))
    want = {
        f"{s.name}.{k}" for s in ev.splits for k in ("x_train", "y_train", "x_test", "n_classes")
    }
    assert set(data.files) == want  # no y_test, nothing else


# -- red team: rebuilding the data from public knowledge -----------------------------------------
def _standardise(rows: np.ndarray, like: np.ndarray) -> np.ndarray:
    std = like.std(axis=0)
    return (rows - like.mean(axis=0)) / np.where(std > 0, std, 1.0)


def _nearest(reference: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of, and distance to, each row's nearest reference row."""
    d = ((rows[:, None, :] - reference[None, :, :]) ** 2).sum(axis=-1)
    return d.argmin(axis=1), np.sqrt(d.min(axis=1))


def _whiten(rows: np.ndarray, like: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(np.cov(like, rowvar=False))
    keep = w > 1e-9 * w.max()
    return ((rows - like.mean(axis=0)) @ v[:, keep]) / np.sqrt(w[keep])


def public_moons(n: int = 1000, noise: float = 0.25, seed: int = 1234) -> np.ndarray:
    """sklearn's make_moons, rebuilt with numpy's legacy RandomState (as a container could)."""
    rng = np.random.RandomState(seed)
    n_out, n_in = n // 2, n - n // 2
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    x = np.concatenate([np.cos(t_out), 1 - np.cos(t_in)])
    y = np.concatenate([np.sin(t_out), 1 - np.sin(t_in) - 0.5])
    pts = np.stack([x, y], axis=1)[rng.permutation(n)]
    return pts + rng.normal(scale=noise, size=pts.shape)


def public_circles(n: int = 1000, noise: float = 0.15, factor: float = 0.5) -> np.ndarray:
    """sklearn's make_circles with the old public seed, rebuilt with numpy."""
    rng = np.random.RandomState(1234)
    t_out = np.linspace(0, 2 * np.pi, n // 2, endpoint=False)
    t_in = np.linspace(0, 2 * np.pi, n - n // 2, endpoint=False)
    x = np.concatenate([np.cos(t_out), factor * np.cos(t_in)])
    y = np.concatenate([np.sin(t_out), factor * np.sin(t_in)])
    pts = np.stack([x, y], axis=1)[rng.permutation(n)]
    return pts + rng.normal(scale=noise, size=pts.shape)


PUBLIC_RECIPES = {
    "moons": public_moons,
    "circles": public_circles,
    "spirals": lambda: datasets._spirals(np.random.default_rng(1234))[0],  # the old seed
}


def test_the_numpy_rebuilds_are_the_public_recipes():
    from sklearn.datasets import make_circles, make_moons

    assert np.allclose(public_moons(), make_moons(1000, noise=0.25, random_state=1234)[0])
    assert np.allclose(
        public_circles(), make_circles(1000, noise=0.15, factor=0.5, random_state=1234)[0]
    )


def _rebuild_distances(rebuilt: np.ndarray, x_train: np.ndarray, x_test: np.ndarray):
    """The attack: standardise the rebuilt data and the container's rows (each by its own
    statistics, which undoes any per-column affine map), then each test row's nearest distance."""
    seen = np.concatenate([x_train, x_test]).astype(np.float64)
    rows = _standardise(x_test.astype(np.float64), seen)
    return _nearest(_standardise(rebuilt, rebuilt), rows)[1]


@pytest.mark.parametrize("name", sorted(PUBLIC_RECIPES))
def test_red_team_rebuilding_a_generated_dataset_matches_no_test_row(name):
    from sklearn.model_selection import train_test_split

    rebuilt = PUBLIC_RECIPES[name]()
    # Control: on the old fixed-seed split (a split by seed index) it finds every test row.
    x_tr, x_te = train_test_split(rebuilt, test_size=0.3, random_state=0)
    assert (_rebuild_distances(rebuilt, x_tr, x_te) < 1e-6).all()
    for secret in SECRETS:
        for seed in datasets.SEEDS:
            for s in (datasets.split(name, seed, secret=secret),
                      preprocess_data.raw_split(name, seed, secret=secret)):  # fmt: skip
                dist = _rebuild_distances(rebuilt, s.x_train, s.x_test)
                # Measured: at most 0.4% of rows lie that close to some rebuilt point by chance.
                assert (dist < 1e-3).mean() <= 0.01, (name, secret.id, seed)


def _lookups(name: str, s) -> dict[str, float]:
    """Label accuracy of three lookups of the test rows in the public data (labels embedded)."""
    pub_x, pub_y = datasets.public_data(name)
    rows = s.x_test.astype(np.float64)
    seen = np.concatenate([s.x_train, s.x_test]).astype(np.float64)
    exact = np.isclose(rows[:, None, :], pub_x[None], rtol=1e-4, atol=1e-4).all(axis=-1)
    nn, _ = _nearest(_standardise(pub_x, pub_x), _standardise(rows, seen))
    norms = np.linalg.norm(_whiten(pub_x, pub_x), axis=1)  # affine-invariant: Mahalanobis
    by_norm = np.abs(np.linalg.norm(_whiten(rows, seen), axis=1)[:, None] - norms).argmin(axis=1)
    return {
        "exact": float((exact.any(axis=1) & (pub_y[exact.argmax(axis=1)] == s.y_test)).mean()),
        "standardised_nn": float((pub_y[nn] == s.y_test).mean()),
        "mahalanobis": float((pub_y[by_norm] == s.y_test).mean()),
    }


# Measured over SECRETS x seeds (mean label accuracy); chance is 0.34 (iris) and 0.40 (wine),
# an honest 1-NN on the container's training rows gets 0.90 and 0.94, the one-pass MLP after
# standardising 0.79 and 0.93. Without the secret, every lookup labels every test row right.
MEASURED = {
    "iris": {"exact": 0.0, "standardised_nn": 0.479, "mahalanobis": 0.396},
    "wine": {"exact": 0.0, "standardised_nn": 0.370, "mahalanobis": 0.392},
}
# The worst single split: iris-s2 on PUBLIC, whose secret rotation is nearly axis-aligned (0.78 on
# the rows it held before splits stopped sharing samples, 0.875 on its 40 test rows now). The
# rotation, not the rows, decides it (``datasets``' module note: "the rotation is the guard").
WORST = 0.9


@pytest.mark.parametrize("name", sorted(MEASURED))
def test_red_team_looking_public_rows_up_labels_test_rows_near_chance(name):
    pub_x, pub_y = datasets.public_data(name)
    control = _lookups(name, Split("c", pub_x[:5], pub_y[:5], pub_x, pub_y, 3))
    assert control == {"exact": 1.0, "standardised_nn": 1.0, "mahalanobis": control["mahalanobis"]}
    got: dict[str, list[float]] = {k: [] for k in MEASURED[name]}
    for secret in SECRETS:
        for seed in datasets.SEEDS:
            for attack, acc in _lookups(
                name, preprocess_data.raw_split(name, seed, secret=secret)
            ).items():
                got[attack].append(acc)
    for attack, accs in got.items():
        assert np.mean(accs) == pytest.approx(MEASURED[name][attack], abs=0.005), attack
        assert np.mean(accs) <= 0.55 and max(accs) < WORST, attack  # honest 1-NN: 0.90 / 0.94


def test_red_team_grokkings_public_seeds_predict_held_out_answers_at_chance():
    accs = []
    for secret in SECRETS:
        for seed in grokking_data.SEEDS:
            s = grokking_data.split(31, seed, secret=secret)
            rename = np.random.default_rng(seed).permutation(31)  # the old public renaming
            inverse = np.argsort(rename)
            guess = rename[(inverse[s.x_test[:, 0]] + inverse[s.x_test[:, 1]]) % 31]
            accs.append(float((guess == s.y_test).mean()))
            # Control: the same answer table on the public-seed data is always right.
            _, _, x_old, y_old = modular_addition(31, seed)
            assert (rename[(inverse[x_old[:, 0]] + inverse[x_old[:, 1]]) % 31] == y_old).all()
    # Measured: mean 0.034, max 0.052 over 12 splits of 481 held-out pairs (chance 1/31 = 0.032).
    assert np.mean(accs) <= 1 / 31 + 0.02 and max(accs) <= 0.08
