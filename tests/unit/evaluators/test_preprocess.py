"""The preprocessing task's static check, data and plugin wiring (no engine needed)."""

from __future__ import annotations

import numpy as np
import pytest

from evaluators import registry
from evaluators.preprocess import data
from evaluators.preprocess.harness import HERE, PreprocessEvaluator
from evaluators.preprocess.validator import StaticCheckError, check_source


@pytest.mark.parametrize("name", PreprocessEvaluator.files.baselines)
def test_baselines_pass_the_static_check(name):
    check_source((HERE / "baselines" / f"{name}.py").read_text())


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("import os\ndef preprocess(a, b):\n    return a, b\n",
         "line 1: import of os is not allowed (allowed: math, numpy, numpy.linalg, numpy.typing)"),
        ("from subprocess import run\ndef preprocess(a, b):\n    return a, b\n",
         "line 1: import from subprocess is not allowed"),
        ("import numpy as np\ndef preprocess(a, b):\n    np.save('x', a)\n    return a, b\n",
         "line 3: np.save is not an allowed numpy function"),
        ("def preprocess(a, b):\n    return a.__class__, b\n",
         "line 2: a.__class__: dunder and private attributes are not allowed"),
        ("def preprocess(a, b):\n    open('/etc/passwd')\n    return a, b\n",
         "line 2: open is not an allowed builtin"),
        ("def preprocess(a):\n    return a, a\n",
         "line 1: preprocess must take exactly two arguments: preprocess(X_train, X_test)"),
        ("def transform(a, b):\n    return a, b\n",
         "expected exactly one function named 'preprocess', found ['transform']"),
        ("def preprocess(a, b):\n    try:\n        pass\n    except Exception:\n        pass\n",
         "line 2: try/except is not allowed"),
        ("def preprocess(a, b) return", "syntax error at line 1: expected ':'"),
        ("import numpy as np\ndef preprocess(a, b):\n    return np.lib.stride_tricks, b\n",
         "line 3: np.lib is not an allowed numpy function"),
        ("def preprocess(a, b):\n    return __builtins__, b\n",
         "line 2: __builtins__: dunder and private names are not allowed"),
        ("def preprocess(a, b):\n    a.shape = (1, -1)\n    return a, b\n",
         "line 2: assignment to the attribute a.shape is not allowed"),
    ],
)  # fmt: skip
def test_static_check_rejects_with_a_reason(source, reason):
    with pytest.raises(StaticCheckError) as info:
        check_source(source)
    assert str(info.value) == reason


def test_raw_splits_keep_the_scale_and_the_split_of_the_activation_task():
    from evaluators.kit import datasets

    raw, std = data.raw_split("wine", 0), datasets.split("wine", 0)
    assert raw.x_train.shape == std.x_train.shape
    assert np.array_equal(raw.y_test, std.y_test)  # the same rows went to the test set
    assert raw.x_train.max() > 100  # proline, unscaled: scaling is the hypothesis's job
    assert "preprocess" in registry.tasks(env={})
    assert registry.get("preprocess").function == "preprocess"


def test_the_shared_mlp_is_the_activation_tasks_runner_file():
    """Mounted from its path (test_kit_pins.py pins its bytes with the preprocess version)."""
    paths = list(PreprocessEvaluator.files.extra_code.values())
    assert [p.name for p in paths] == ["runner.py"] and paths[0].parent.name == "activation"
    assert paths[0].is_file()
