"""The lm task's data: drawn from the secret, held-out text different at every checkpoint and
never in the training window, probes that copy a prefix and differ after it, mixed in where
simple statistics cannot find them; the corpus from the installed package."""

from __future__ import annotations

import numpy as np
import pytest

from evaluators.kit.secrets import PUBLIC, make_secret
from evaluators.lm import data

OTHER = make_secret(bytes(range(32)))
WIDTH = data.CONTEXT + 1
ROWS = data.ORIGINALS + data.PROBES


@pytest.fixture(scope="module")
def text() -> np.ndarray:
    """A synthetic text long enough for a split: independent characters, skewed like prose."""
    p = 1.0 / np.arange(1, len(data.VOCAB) + 1)
    rng = np.random.default_rng(0)
    return rng.choice(len(data.VOCAB), size=1_300_000, p=p / p.sum()).astype(np.uint8)


def test_the_draw_follows_the_secret_and_the_seed(text: np.ndarray):
    a, again = data.draw(PUBLIC, 0, text), data.draw(PUBLIC, 0, text)
    assert a.train_start == again.train_start
    assert np.array_equal(a.rows, again.rows) and a.probes == again.probes
    for other in (data.draw(OTHER, 0, text), data.draw(PUBLIC, 1, text)):
        assert other.train_start != a.train_start
        assert not np.array_equal(other.offsets, a.offsets)


def test_rows_are_the_text_at_their_offsets_and_training_is_one_window(text: np.ndarray):
    d = data.draw(PUBLIC, 0, text)
    assert d.train.shape == (data.TRAIN_CHARS,) and d.train.dtype == np.uint8
    assert np.array_equal(d.train, text[d.train_start : d.train_start + data.TRAIN_CHARS])
    assert d.rows.shape == (data.CHECKPOINTS, ROWS, WIDTH)
    probe_rows = {(p.checkpoint, p.row) for p in d.probes}
    for c in range(data.CHECKPOINTS):
        for r in range(ROWS):
            at = d.offsets[c, r]
            if (c, r) in probe_rows:  # the donor's text from the splice on
                start = next(p.start for p in d.probes if (p.checkpoint, p.row) == (c, r))
                assert np.array_equal(d.rows[c, r, start:], text[at + start : at + WIDTH])
            else:
                assert np.array_equal(d.rows[c, r], text[at : at + WIDTH])


def test_held_out_windows_never_overlap_each_other_or_the_training_text(text: np.ndarray):
    d = data.draw(PUBLIC, 2, text)
    starts = np.sort(d.offsets.reshape(-1))
    assert len(starts) == data.CHECKPOINTS * ROWS
    assert (np.diff(starts) >= WIDTH).all()  # distinct windows: none shown twice
    train = (d.train_start, d.train_start + data.TRAIN_CHARS)
    assert ((starts + WIDTH <= train[0]) | (starts >= train[1])).all()


def test_each_checkpoint_has_its_own_originals_and_one_probe_each(text: np.ndarray):
    d = data.draw(PUBLIC, 0, text)
    assert len(d.probes) == data.CHECKPOINTS * data.PROBES
    for c in range(data.CHECKPOINTS):
        mine = [p for p in d.probes if p.checkpoint == c]
        assert sorted(p.original for p in mine) == sorted(set(range(ROWS)) - {p.row for p in mine})
    for p in d.probes:
        probe, original = d.rows[p.checkpoint, p.row], d.rows[p.checkpoint, p.original]
        assert 1 <= p.start < data.CONTEXT
        assert np.array_equal(probe[: p.start], original[: p.start])
        assert probe[p.start] != original[p.start]


def test_probes_sit_at_any_row_and_split_at_any_position(text: np.ndarray):
    draws = [data.draw(PUBLIC, s, text) for s in range(6)]
    probes = [p for d in draws for p in d.probes]
    rows = np.bincount([p.row for p in probes], minlength=ROWS)
    starts = np.array([p.start for p in probes])
    # 384 probes over 32 rows: each row about 12 times; starts about uniform over 1..63.
    assert rows.min() >= 3 and rows.max() <= 26
    assert abs(starts.mean() - 32.0) < 3.0 and starts.min() <= 4 and starts.max() >= 60


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """The probability that a positive scores above a negative (ties count half)."""
    greater = (positive[:, None] > negative[None, :]).mean()
    ties = (positive[:, None] == negative[None, :]).mean()
    return float(greater + ties / 2)


@pytest.mark.slow
def test_probes_are_not_told_apart_by_simple_statistics_of_the_real_text():
    """On the corpus itself: a bigram model fitted to the training text scores probes and the
    other rows alike, and so do the shares of spaces, capitals and new lines."""
    draws = [data.draw(PUBLIC, s) for s in range(4)]
    counts = np.ones((len(data.VOCAB), len(data.VOCAB)))
    np.add.at(counts, (draws[0].train[:-1], draws[0].train[1:]), 1)
    bigram = np.log(counts / counts.sum(axis=1, keepdims=True))
    probe, plain = [], []
    for d in draws:
        marked = {(p.checkpoint, p.row) for p in d.probes}
        for c in range(data.CHECKPOINTS):
            for r in range(ROWS):
                (probe if (c, r) in marked else plain).append(d.rows[c, r])
    statistics = {
        "bigram likelihood": lambda row: bigram[row[:-1], row[1:]].mean(),
        "spaces": lambda row: (row == data.VOCAB.index(" ")).mean(),
        "new lines": lambda row: (row == data.VOCAB.index("\n")).mean(),
        "capitals": lambda row: (row >= data.VOCAB.index("A")).mean(),
    }
    for name, statistic in statistics.items():
        a = auc(np.array([statistic(r) for r in probe]), np.array([statistic(r) for r in plain]))
        assert abs(a - 0.5) < 0.1, (name, a)


@pytest.mark.slow
def test_the_corpus_is_the_plays_over_the_vocabulary():
    ids = data.corpus()
    assert 4_900_000 < len(ids) < 5_100_000 and int(ids.max()) < len(data.VOCAB)
    text = data.decode(ids[:60])
    assert text.startswith("A Midsummer Night's Dream\n\nACT I\n\nSCENE I. Athens.")


@pytest.mark.slow
def test_a_split_gives_the_job_inputs_and_keeps_next_characters_and_probes_on_the_host():
    s = data.split(0, PUBLIC)
    d = data.draw(PUBLIC, 0)
    assert s.name == "shakespeare-s0" and s.secret_id == PUBLIC.id
    assert sorted(s.inputs) == ["tokens_train", "vocab", "x_eval"]
    assert s.inputs["x_eval"].shape == (data.CHECKPOINTS, ROWS, data.CONTEXT)
    assert np.array_equal(s.inputs["x_eval"], d.rows[:, :, :-1])
    assert int(s.inputs["vocab"]) == 65
    assert np.array_equal(s.targets["tokens"], d.rows[:, :, 1:].reshape(-1))
    assert s.meta["probes"].shape == (data.CHECKPOINTS * data.PROBES, 4)
    assert (s.meta["checkpoints"], s.meta["rows"], s.meta["context"]) == (4, 32, 64)
    nbytes = 4 * len(s.targets["tokens"]) * len(data.VOCAB)  # float32 log-probabilities
    assert nbytes < 4 * 1024 * 1024


def test_cleaning_writes_speakers_as_in_tiny_shakespeare():
    markdown = "# Hamlet\n\n## ACT I\n\n_Enter BERNARDO_\n\n**BERNARDO**  \nWho's there?\u2014\n"
    assert data.clean(markdown) == "Hamlet\n\nACT I\n\nEnter BERNARDO\n\nBERNARDO:\nWho's there?-\n"
