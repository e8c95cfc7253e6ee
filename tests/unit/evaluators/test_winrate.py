import pytest

from evaluators.kit.winrate import compare, win_rate

CELLS = [(d, s) for d in ("a", "b", "c") for s in (0, 1)]


def test_compare_win_tie_loss():
    assert compare(0.9, 0.8) == 1.0
    assert compare(0.8, 0.9) == 0.0
    assert compare(0.8, 0.8) == 0.5


def test_identical_candidate_ties_everything():
    acc = {c: 0.5 + 0.01 * i for i, c in enumerate(CELLS)}
    wr = win_rate(acc, {"same": dict(acc)})
    assert wr.value == 0.5
    assert wr.ci == (0.5, 0.5)
    assert wr.comparisons == 6


def test_counts_every_dataset_seed_baseline_triple():
    cand = {c: 0.8 for c in CELLS}
    worse = {c: 0.7 for c in CELLS}
    better = {c: 0.9 for c in CELLS}
    wr = win_rate(cand, {"worse": worse, "better": better, "same": dict(cand)})
    assert wr.comparisons == 18
    assert wr.value == pytest.approx((6 * 1 + 6 * 0 + 6 * 0.5) / 18)
    assert wr.per_dataset == {"a": 0.5, "b": 0.5, "c": 0.5}


def test_bootstrap_interval_brackets_a_mixed_result():
    cand = {c: 0.8 for c in CELLS}
    base = {c: (0.7 if i % 3 else 0.9) for i, c in enumerate(CELLS)}
    wr = win_rate(cand, {"b": base})
    assert wr.value == pytest.approx(4 / 6)
    lo, hi = wr.ci
    assert 0.0 <= lo < wr.value < hi <= 1.0
    assert wr.per_dataset["a"] == 0.5  # cells a-0 (loss) and a-1 (win)


def test_empty_inputs_are_an_error():
    with pytest.raises(ValueError):
        win_rate({}, {"b": {}})
