"""Reproduction on the real sandbox: a hypothesis of a small real campaign, re-run from its
bundle in a fresh container (through the library and through the command), gives the ledger's
accuracies bit for bit on the same image, harness and data."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from core.settings import CampaignSettings
from evaluators.activation.harness import ActivationEvaluator
from evaluators.kit import datasets
from hypoforge import campaign, cli, reproduce
from hypoforge.cli import common
from store.ledger import Ledger
from tests.fakes import models, on_splits, proposal

SPLITS = [datasets.split("iris", 0), datasets.split("moons", 0)]


def test_a_scored_hypothesis_reproduces_exactly(docker_sandbox, settings, tmp_path, monkeypatch):
    ev = ActivationEvaluator(
        docker_sandbox, settings.home, settings.sandbox.limits, splits=SPLITS, wall_seconds=60
    )
    folder = tmp_path / "camp"
    budgets = CampaignSettings(
        proposals=1, batch=1, ladder=("one-pass",), promote=(), full_top_k=0, allow_known="yes"
    )
    info = campaign.create(folder, "activation", budgets)
    campaign.run(
        folder, campaign.Services(ev, models([proposal("x * torch.sigmoid(1.5 * x)")]), retries=0)
    )
    ledger = Ledger(folder / "ledger.sqlite")
    (row,) = ledger.hypotheses(info.id)
    ledger.close()
    assert row.screen_win_rate is not None, row

    found = reproduce.bundle(folder, row.id)
    assert found.image == docker_sandbox.image_ref() and found.budget == "one-pass"
    assert set(found.dataset_hashes) == {"iris-s0", "moons-s0"}
    result = reproduce.reproduce(found, ev)
    assert result.verdict == "reproduced", result
    assert result.environment == []
    assert {c.name: c.reproduced for c in result.cells} == found.cells

    # The command: its own sandbox, the installation's splits (here the campaign's small ones).
    monkeypatch.setenv("HYPOFORGE_HOME", str(settings.home))
    monkeypatch.setattr(common, "make_evaluator", on_splits(SPLITS))
    res = CliRunner().invoke(cli.app, ["reproduce", str(folder), row.id, "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["verdict"] == "reproduced" and data["environment"] == []
    assert {c["name"]: c["reproduced"] for c in data["datasets"]} == found.accuracies
