"""The regularizer task's static check, data and the runner's property check (run here on
test-written penalties: trusted code)."""

from __future__ import annotations

import numpy as np
import pytest

from evaluators.regularizer import data
from evaluators.regularizer.harness import HERE, RegularizerEvaluator
from evaluators.regularizer.validator import StaticCheckError, check_source


@pytest.mark.parametrize("name", RegularizerEvaluator.baseline_names)
def test_baselines_pass_the_static_check(name):
    check_source((HERE / "baselines" / f"{name}.py").read_text())


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("for p in model.parameters():\n        p.mul_(0.5)\n    return logits.sum()", "in-place"),
        ("model.train()\n    return logits.sum()", "would change state"),
        ("torch.manual_seed(0)\n    return logits.sum()", "would change state"),
        ("model.weight = 1\n    return logits.sum()", "attribute assignment"),
        ("logits[0] = 0\n    return logits.sum()", "item assignment"),
        ("return list(model.parameters())[0].data.sum()", "would change state"),
        ("return eval('1')", "eval is not allowed"),
        ("return model.__dict__", "private, dunder"),
    ],
)
def test_static_check_rejects_with_a_reason(body, reason):
    source = f"import torch\n\ndef penalty(model, logits, targets):\n    {body}\n"
    with pytest.raises(StaticCheckError, match=reason):
        check_source(source)
    with pytest.raises(StaticCheckError, match="exactly three arguments"):
        check_source("def penalty(model, logits):\n    return logits.sum()\n")


def test_small_training_sets_keep_every_class_and_the_full_test_set():
    from evaluators.activation import datasets

    small, full = data.small_split("digits", 1), datasets.split("digits", 1)
    assert len(small.x_train) == 60 and set(small.y_train) == set(range(10))
    assert np.array_equal(small.x_test, full.x_test) and np.array_equal(small.y_test, full.y_test)


def test_runner_property_check():
    import torch

    from evaluators.regularizer import runner

    model = runner._network(4, 3, 0.0, seed=0)
    x, y = torch.randn(8, 4), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    runner.check(lambda m, lg, t: 1e-3 * sum((p * p).sum() for p in m.parameters()), model, x, y)
    bad = {
        "scalar float tensor": lambda m, lg, t: lg,
        "not finite": lambda m, lg, t: torch.tensor(float("inf")),
        "not deterministic": lambda m, lg, t: torch.rand(()),
    }
    for reason, fn in bad.items():
        with pytest.raises(runner.CheckFailed, match=reason):
            runner.check(fn, model, x, y)

    def tamper(m, lg, t):
        with torch.no_grad():
            next(m.parameters()).add_(1.0)
        return torch.zeros(())

    with pytest.raises(runner.CheckFailed, match="changed the network"):
        runner.check(tamper, model, x, y)
