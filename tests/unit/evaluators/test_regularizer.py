"""The regularizer task's static check, data and the runner's property check (run here on
test-written penalties: trusted code)."""

from __future__ import annotations

import numpy as np
import pytest

from evaluators.regularizer import data
from evaluators.regularizer.harness import HERE, RegularizerEvaluator
from evaluators.regularizer.validator import StaticCheckError, check_source


@pytest.mark.parametrize("name", RegularizerEvaluator.files.baselines)
def test_baselines_pass_the_static_check(name):
    check_source((HERE / "baselines" / f"{name}.py").read_text())


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("for p in model.parameters():\n        p.mul_(0.5)\n    return logits.sum()",
         "line 5: p.mul_ is not an allowed method or attribute: in-place operations are not "
         "allowed"),
        ("model.train()\n    return logits.sum()",
         "line 4: model.train is not an allowed method or attribute: it would change the model"),
        ("torch.manual_seed(0)\n    return logits.sum()",
         "line 4: torch.manual_seed is not an allowed torch function: it reaches global state "
         "or files"),
        ("model.weight = 1\n    return logits.sum()",
         "line 4: assignment to the attribute model.weight is not allowed"),
        ("logits[0] = 0\n    return logits.sum()",
         "line 4: item assignment (x[...] = ...) is not allowed: the penalty must not change "
         "any tensor"),
        ("return list(model.parameters())[0].data.sum()",
         "line 4: (...).data is not an allowed method or attribute: it bypasses autograd and "
         "can change the parameters"),
        ("return eval('1')", "line 4: eval is not an allowed builtin"),
        ("return model.__dict__", "line 4: model.__dict__: dunder and private attributes are not "
         "allowed"),
        ("return torch.autograd.grad(logits.sum(), [logits])[0].sum()",
         "line 4: torch.autograd is not an allowed torch function: it reaches global state or "
         "files"),
        ("targets += 1\n    return logits.sum()",
         "line 4: in-place update of targets is not allowed: only a name only ever set to new "
         "values (total = 0.0, then total += ...) may be updated in place"),
    ],
)  # fmt: skip
def test_static_check_rejects_with_a_reason(body, reason):
    source = f"import torch\n\ndef penalty(model, logits, targets):\n    {body}\n"
    with pytest.raises(StaticCheckError) as info:
        check_source(source)
    assert str(info.value) == reason
    with pytest.raises(StaticCheckError, match="exactly three arguments"):
        check_source("def penalty(model, logits):\n    return logits.sum()\n")


def test_static_check_accepts_accumulators_and_checks_dropout():
    check_source(
        "import torch\nDROPOUT = 0.3\n\ndef penalty(model, logits, targets):\n"
        "    total = torch.zeros(())\n    for p in model.parameters():\n"
        "        total += p.pow(2).sum()\n    return 1e-4 * total\n"
    )
    with pytest.raises(StaticCheckError) as info:
        check_source(
            "DROPOUT = 1.5\n\ndef penalty(model, logits, targets):\n    return logits.sum()\n"
        )
    assert str(info.value) == "line 1: DROPOUT must be a number in [0, 0.9], got 1.5"


def test_small_training_sets_keep_every_class_and_the_full_test_set():
    from evaluators.kit import datasets

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


def test_watched_steps_change_nothing_and_the_network_stays_in_training_mode():
    """The checks at host-drawn steps run in training mode (a penalty cannot tell them from a
    step by ``model.training``) and put the random state back: with dropout, the test logits are
    the same whichever steps were watched."""

    from evaluators.regularizer import runner

    split = data.small_split("iris", 0)
    arrays = split.public()
    train = {"epochs": 1, "lr": 0.01, "batch_size": 32}
    modes: list[bool] = []

    def l2(model, logits, targets):
        modes.append(model.training)
        return 1e-3 * sum((p * p).sum() for p in model.parameters())

    rows = list(range(16))
    runs = [
        runner.train_predict(l2, 0.5, arrays, split.name, train, {"rows": rows, "steps": steps})
        for steps in ([], [1, 5, 9], [2, 3, 40])
    ]
    assert all(modes)
    assert np.array_equal(runs[0], runs[1]) and np.array_equal(runs[0], runs[2])


def test_a_penalty_that_turns_non_finite_in_training_is_left_to_the_training_loop():
    """At a watched step a non-finite penalty is the loop's to report (non-finite predictions,
    whichever steps were drawn); changing the parameters is still caught there."""
    import torch

    from evaluators.regularizer import runner

    model = runner._network(4, 3, 0.0, seed=0)
    x, y = torch.randn(8, 4), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])

    def nan(m, lg, t):
        return torch.sqrt(lg.abs().mean() * 0.0 - 1.0)

    runner.check(nan, model, x, y, "at training step 3", in_training=True)
    with pytest.raises(runner.CheckFailed, match="penalty is not finite on a fresh network"):
        runner.check(nan, model, x, y)

    def nan_and_tamper(m, lg, t):
        with torch.no_grad():
            next(m.parameters()).add_(1.0)
        return nan(m, lg, t)

    with pytest.raises(runner.CheckFailed, match=r"changed the network's parameters \(at training"):
        runner.check(nan_and_tamper, model, x, y, "at training step 3", in_training=True)
