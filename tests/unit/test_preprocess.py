"""The preprocessing task's static check, data and plugin wiring (no engine needed)."""

from __future__ import annotations

import numpy as np
import pytest

from evaluators import registry
from evaluators.preprocess import data
from evaluators.preprocess.harness import HERE, PreprocessEvaluator
from evaluators.preprocess.validator import StaticCheckError, check_source


@pytest.mark.parametrize("name", PreprocessEvaluator.baseline_names)
def test_baselines_pass_the_static_check(name):
    check_source((HERE / "baselines" / f"{name}.py").read_text())


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("import os\ndef preprocess(a, b):\n    return a, b\n", "only numpy and math"),
        ("from subprocess import run\ndef preprocess(a, b):\n    return a, b\n", "only numpy"),
        ("import numpy as np\ndef preprocess(a, b):\n    np.save('x', a)\n    return a, b\n",
         "file or C access"),
        ("def preprocess(a, b):\n    return a.__class__, b\n", "dunder"),
        ("def preprocess(a, b):\n    open('/etc/passwd')\n    return a, b\n", "open is not"),
        ("def preprocess(a):\n    return a, a\n", "exactly two arguments"),
        ("def transform(a, b):\n    return a, b\n", "named 'preprocess'"),
        ("def preprocess(a, b):\n    try:\n        pass\n    except Exception:\n        pass\n",
         "Try is not allowed"),
        ("def preprocess(a, b) return", "syntax error"),
    ],
)  # fmt: skip
def test_static_check_rejects_with_a_reason(source, reason):
    with pytest.raises(StaticCheckError, match=reason):
        check_source(source)


def test_raw_splits_keep_the_scale_and_the_split_of_the_activation_task():
    from evaluators.activation import datasets

    raw, std = data.raw_split("wine", 0), datasets.split("wine", 0)
    assert raw.x_train.shape == std.x_train.shape
    assert np.array_equal(raw.y_test, std.y_test)  # the same rows went to the test set
    assert raw.x_train.max() > 100  # proline, unscaled: scaling is the hypothesis's job
    assert "preprocess" in registry.tasks(env={})
    assert registry.get("preprocess").function == "preprocess"


def test_harness_version_covers_the_shared_mlp():
    paths = list(PreprocessEvaluator.extra_code.values())
    assert [p.name for p in paths] == ["runner.py"] and paths[0].parent.name == "activation"
    assert (
        PreprocessEvaluator.harness_version()
        != registry.get("activation").make_evaluator(None, HERE, None, splits=[]).version
    )
