"""TemplateSplit: the inputs go into the job as <name>.<key>, the targets and meta stay home."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import ConfigError
from evaluators.template.data import TemplateSplit


def test_only_the_inputs_are_public():
    s = TemplateSplit(
        "blobs-s3",
        inputs={"x_train": np.zeros((2, 3)), "n_classes": np.array(3)},
        targets={"labels": np.array([0, 1])},
        meta={"probes": [1]},
    )
    assert sorted(s.public()) == ["blobs-s3.n_classes", "blobs-s3.x_train"]
    assert s.public()["blobs-s3.x_train"].shape == (2, 3)


@pytest.mark.parametrize(
    ("name", "inputs", "said"),
    [
        ("blobs", {}, "split name 'blobs' is not '<dataset>-s<seed>'"),
        ("blobs-s0", {"x.y": np.zeros(1)}, "split blobs-s0: inputs key 'x.y' is no identifier"),
        (
            "blobs-s0",
            {"x": np.array(["a"])},
            "split blobs-s0: inputs['x'] has dtype kind 'U'; numbers or booleans only",
        ),
    ],
)
def test_a_malformed_split_is_a_config_error(name, inputs, said):
    with pytest.raises(ConfigError) as err:
        TemplateSplit(name, inputs=inputs, targets={})
    assert str(err.value) == said
