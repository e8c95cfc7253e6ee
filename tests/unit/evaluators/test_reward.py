"""The reward model, the diverse top-k choice, the collapse alarm and the ranking metrics, on
synthetic examples whose true win rate is a known function of their behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from evaluators import reward
from evaluators.reward import Example


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def synthetic(n: int, seed: int, generator: str = "g") -> list[Example]:
    """Fingerprints near a few behaviour 'families'; the win rate depends smoothly on them."""
    rng = np.random.default_rng(seed)
    centres = [unit(np.random.default_rng(100 + c).normal(size=32)) for c in range(4)]
    worth = [0.2, 0.4, 0.6, 0.8]
    out = []
    for i in range(n):
        c = int(rng.integers(0, 4))
        fp = unit(centres[c] + rng.normal(scale=0.03, size=32))
        emb = unit(rng.normal(size=16))
        target = float(
            np.clip(worth[c] + 3.0 * (fp @ centres[c] - 0.985) + rng.normal(0, 0.02), 0, 1)
        )
        out.append(
            Example(
                id=f"{generator}{i}",
                idea=f"idea {i}",
                code=f"import torch\n\ndef activation(x):\n    return torch.tanh(x) * {c}\n",
                embedding=emb,
                fingerprint=fp,
                target=target,
                generator=generator,
                added=float(i),
            )
        )
    return out


@pytest.mark.parametrize("kind", ["gp", "ridge"])
def test_models_rank_unseen_hypotheses(kind):
    train, test = synthetic(80, 0), synthetic(40, 1)
    model = reward.trained(train, kind)
    assert model is not None and model.name == kind
    mean, std = model.predict(test)
    m = reward.metrics(mean, np.array([e.target for e in test]))
    assert m["kendall_tau"] > 0.6, m
    assert m["discovery_auc_vs_random"] > 1.4, m
    assert mean.shape == std.shape == (40,) and np.all(std >= 0)


def test_gp_is_less_sure_far_from_what_it_has_seen():
    train = synthetic(60, 0)
    model = reward.trained(train, "gp")
    assert model is not None
    near = synthetic(5, 2)
    far = [
        Example(id=f"far{i}", idea="x", code="x", embedding=unit(np.ones(16)), fingerprint=unit(v))
        for i, v in enumerate(np.random.default_rng(3).normal(size=(5, 32)))
    ]
    _, std_near = model.predict(near)
    _, std_far = model.predict(far)
    assert std_far.mean() > 1.4 * std_near.mean()


def test_no_model_until_enough_examples_are_labelled():
    few = synthetic(reward.MIN_EXAMPLES - 1, 0)
    assert reward.trained(few) is None
    unlabelled = [Example(id=f"u{i}", idea="", code="") for i in range(20)]
    assert reward.trained(few + unlabelled) is None


def test_selection_prefers_high_predictions_but_skips_behavioural_twins():
    a = unit(np.array([1.0, 0.0, 0.0]))
    twin = unit(np.array([1.0, 0.01, 0.0]))
    other = unit(np.array([0.0, 1.0, 0.0]))
    mean = np.array([0.80, 0.79, 0.60])
    std = np.zeros(3)
    assert reward.select(mean, std, [a, twin, other], k=2) == [0, 2]
    # Without the penalty, the twin would have been second.
    assert reward.select(mean, std, [a, twin, other], k=2, redundancy=0.0) == [0, 1]
    # The uncertainty bonus lifts an unsure candidate.
    assert reward.select(np.array([0.5, 0.45]), np.array([0.0, 0.2]), [a, other], k=1) == [1]


def test_collapse_alarm():
    a = unit(np.array([1.0, 0.0]))
    b = unit(np.array([1.0, 0.001]))
    c = unit(np.array([0.0, 1.0]))
    assert "behave alike" in reward.collapse(np.array([0.1, 0.5]), [a, b])
    assert reward.collapse(np.array([0.1, 0.5]), [a, c]) is None
    assert "no longer separate" in reward.collapse(np.array([0.5, 0.501, 0.5]), [a, c])


def test_metrics_and_discovery_curve():
    measured = np.linspace(0, 1, 50)
    perfect = reward.metrics(measured, measured)
    assert perfect["kendall_tau"] == pytest.approx(1.0)
    assert perfect["spearman"] == pytest.approx(1.0)
    assert perfect["discovery_auc_vs_random"] > 1.8
    assert reward.discovery_auc(-measured, measured) < 0.3  # worst order


def test_held_out_by_time_and_by_generator():
    examples = synthetic(60, 0, "llm") + synthetic(60, 5, "search")
    for i, e in enumerate(examples):
        e.added = float(i)
    out = reward.held_out(examples, "gp")
    assert set(out) == {
        "by time (newest 30%)",
        "generator llm held out",
        "generator search held out",
    }
    assert all(m["kendall_tau"] > 0.5 for m in out.values()), out


def test_targets_and_code_statistics():
    assert reward.target_of("ok", 0.7) == 0.7
    assert reward.target_of("nonfinite", None) == 0.0
    assert reward.target_of("pruned", None) is None
    gated = reward.code_stats("import torch\ndef activation(x):\n    return x * torch.sigmoid(x)")
    plain = reward.code_stats("def activation(x):\n    return x")
    assert gated[0] > 0 and plain[0] == 0  # the 'gate' family
    assert reward.code_stats("def (").sum() == 0
