"""Fingerprints from points the host draws, in the real sandbox (issue 24): GELU with a
zero-gradient mark on every fixed probe point trains exactly like GELU, and its fingerprint,
read at the points its jobs drew, is GELU's: ``hypoforge novelty --code`` names GELU with its
citation, and it is a duplicate of plain GELU. An honest new function matches nothing."""

import json

import numpy as np
import pytest

from core.records import Outcome
from evaluators.activation.harness import ActivationEvaluator
from evaluators.fingerprint import same_behaviour
from evaluators.kit import datasets
from tests.integration.conftest import own_containers

HEAD = "import torch\nimport torch.nn.functional as F\n\ndef activation(x):\n    return "
GELU = HEAD + "F.gelu(x)\n"
GRID_MARK = HEAD + "torch.where(torch.round(x * 10) / 10 == x, torch.zeros_like(x), F.gelu(x))\n"
NEW = HEAD + "0.4 * torch.cos(x) + x * torch.sigmoid(3.0 * x)\n"


@pytest.fixture(scope="module")
def small(docker_sandbox, settings):
    limits = settings.sandbox.limits.model_copy(update={"memory_mb": 768})
    splits = [datasets.split("iris", 0), datasets.split("moons", 0)]
    return ActivationEvaluator(docker_sandbox, settings.home, limits, splits=splits)


def test_a_grid_marked_gelu_trains_like_gelu_and_is_its_duplicate(small):
    plain, marked = (small.evaluate(s) for s in (GELU, GRID_MARK))
    assert plain.status is Outcome.OK and marked.status is Outcome.OK
    assert {d: s.candidate for d, s in plain.per_dataset.items()} == {
        d: s.candidate for d, s in marked.per_dataset.items()
    }
    fa, fb = small.behaviour(plain), small.behaviour(marked)
    assert fa is not None and fb is not None and same_behaviour(fa, fb)
    assert not same_behaviour(fa, small.probe_many({"n": NEW})["n"].fingerprint)


def test_novelty_code_names_gelu_for_a_grid_marked_gelu(
    tmp_path, settings, docker_sandbox, monkeypatch
):
    from typer.testing import CliRunner

    from hypoforge import cli

    monkeypatch.setenv("HYPOFORGE_HOME", str(settings.home))
    code = tmp_path / "marked.py"
    found = {}
    for name, source in (("marked", GRID_MARK), ("new", NEW)):
        code.write_text(source)
        res = CliRunner().invoke(cli.app, ["novelty", "a gate", "--code", str(code), "--json"])
        assert res.exit_code == 0, res.output
        found[name] = json.loads(res.stdout)["by_behaviour"]
    assert found["marked"]["match"] == "same as GELU"
    assert found["marked"]["citation"].endswith("arXiv:1606.08415.")
    assert found["new"]["match"] is None
    assert own_containers(docker_sandbox) == []
    assert np.isfinite(found["marked"]["gap"]) and found["marked"]["gap"] <= 1e-3
