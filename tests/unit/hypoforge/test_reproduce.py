"""Reproduction bundles on a fake sandbox: a small campaign (the real activation evaluator, canned
logits), its hypothesis's bundle, re-runs that reproduce it or not, and the user's errors."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from core.errors import ConfigError, InfraError
from core.records import HypothesisRow, Outcome
from core.settings import CampaignSettings
from evaluators.activation.harness import ActivationEvaluator
from hypoforge import campaign, cli, reproduce
from hypoforge.cli import common
from store.ledger import Ledger
from tests.fakes import (
    CONFIRM_SPLITS,
    SMALL_SPLITS,
    FakeSandbox,
    half_right,
    on_splits,
    perfect,
)


@pytest.fixture(scope="module")
def camp(tmp_path_factory):
    """A finished one-hypothesis campaign (screened, promoted to full, confirmed) and its home."""
    root = tmp_path_factory.mktemp("repro")
    home = root / "home"
    ev = ActivationEvaluator(
        FakeSandbox(perfect), home, splits=SMALL_SPLITS, confirm_splits=CONFIRM_SPLITS
    )
    folder = root / "camp"
    settings = CampaignSettings(generator="search", proposals=1, batch=1, allow_known="yes")
    info = campaign.create(folder, "activation", settings)
    campaign.run(folder, campaign.Services(ev, {}, retries=0, generator="search"))
    ledger = Ledger(folder / "ledger.sqlite")
    (row,) = ledger.hypotheses(info.id)
    ledger.close()
    return folder, home, row, ev


def evaluator(home, sandbox):
    return ActivationEvaluator(sandbox, home, splits=SMALL_SPLITS)


def results(folder):
    ledger = Ledger(folder / "ledger.sqlite")
    try:
        return ledger.results(campaign.load(folder).id)
    finally:
        ledger.close()


def copy(camp, tmp_path):
    folder = tmp_path / "camp"
    shutil.copytree(camp[0], folder)
    return folder


def test_the_bundle_holds_what_the_ledger_recorded(camp):
    folder, _, row, ev = camp
    found = reproduce.bundle(folder, row.id)
    code = (folder / "hypotheses" / f"{row.id}.py").read_text()
    assert found.code == code and found.code_sha == row.code_sha
    assert (found.task, found.harness_version) == ("activation", ev.version)
    assert found.image == "fake:1@sha256:0123456789abcdef"
    # the highest rung, not the confirmation's held-out run at the same budget
    assert found.budget == "full" and set(found.rungs) == {"one-pass", "short", "full"}
    assert found.rungs == row.rungs
    assert (found.split_set, found.splits_id) == ("selection", ev.splits_id)
    assert found.splits == {"iris-s0": 0, "wine-s0": 0, "moons-s1": 1}
    assert found.dataset_hashes == ev.data_hashes and set(found.dataset_hashes) == set(found.splits)
    assert found.accuracies == {"iris": 1.0, "wine": 1.0, "moons": 1.0}
    assert found.cells == {"iris-s0": 1.0, "wine-s0": 1.0, "moons-s1": 1.0}
    assert found.win_rate == 1.0


def test_the_bundle_is_written_beside_its_code_and_read_back(camp, tmp_path):
    folder = copy(camp, tmp_path)
    path = reproduce.write_bundle(folder, camp[2].id)
    assert path == folder / "bundles" / camp[2].id / "bundle.json"
    assert (path.parent / "code.py").read_text() == reproduce.load_bundle(path).code
    data = json.loads(path.read_text())
    data["code"] += "# changed\n"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="does not match its sha256"):
        reproduce.load_bundle(path)


def test_a_rerun_reproduces_every_accuracy_without_the_ledgers_cache(camp):
    folder, home, row, _ = camp
    before = results(folder)
    sandbox = FakeSandbox(perfect)
    result = reproduce.reproduce(reproduce.bundle(folder, row.id), evaluator(home, sandbox))
    assert result.verdict == "reproduced" and result.environment == []
    assert [(c.name, c.recorded, c.reproduced, c.equal) for c in result.datasets] == [
        ("iris", 1.0, 1.0, True),
        ("moons", 1.0, 1.0, True),
        ("wine", 1.0, 1.0, True),
    ]
    assert result.win_rate == (1.0, 1.0)
    # A fresh job ran at the bundle's budget on its splits (the baselines came from their cache);
    # the ledger, which holds this experiment's result, was not read for it nor written.
    assert [spec["candidates"] for spec in sandbox.specs] == [["candidate"]]
    assert sandbox.specs[0]["train"]["epochs"] == 30
    assert sandbox.specs[0]["splits"] == [s.name for s in SMALL_SPLITS]
    assert results(folder) == before


def test_other_logits_are_a_mismatch_with_both_values(camp):
    folder, home, row, _ = camp
    sandbox = FakeSandbox(half_right)
    result = reproduce.reproduce(reproduce.bundle(folder, row.id), evaluator(home, sandbox))
    assert result.verdict == "mismatch" and result.status is Outcome.OK
    compared = [*result.datasets, *result.cells]
    wrong = {c.name: (c.recorded, c.reproduced) for c in compared if not c.equal}
    assert set(wrong) == {"iris", "wine", "moons", "iris-s0", "wine-s0", "moons-s1"}
    assert all(rec == 1.0 and got is not None and got < 1.0 for rec, got in wrong.values())


def test_a_failed_rerun_is_a_mismatch_and_an_infra_error_raises(camp):
    folder, home, row, _ = camp
    found = reproduce.bundle(folder, row.id)
    failed = reproduce.reproduce(found, evaluator(home, FakeSandbox(outcome=Outcome.TIMEOUT)))
    assert failed.verdict == "mismatch" and failed.status is Outcome.TIMEOUT
    assert all(c.reproduced is None for c in failed.datasets)
    with pytest.raises(InfraError, match="re-running"):
        reproduce.reproduce(found, evaluator(home, FakeSandbox(outcome=Outcome.INFRA_ERROR)))


class OtherImage(FakeSandbox):
    def image_ref(self) -> str:
        return "fake:2@sha256:fedcba9876543210"


def test_another_harness_image_or_data_is_said_beside_the_comparison(camp):
    folder, home, row, _ = camp
    found = reproduce.bundle(folder, row.id)
    hashes = {**found.dataset_hashes, "wine-s0": "0" * 64}
    changed = found.model_copy(update={"harness_version": "000000000000", "dataset_hashes": hashes})
    result = reproduce.reproduce(changed, evaluator(home, OtherImage(perfect)))
    assert result.verdict == "reproduced"
    assert result.environment == [
        f"harness version 000000000000 -> {found.harness_version}",
        "image fake:1@sha256:0123456789abcdef -> fake:2@sha256:fedcba9876543210",
        "dataset hashes of wine-s0",
    ]
    older = found.model_copy(update={"dataset_hashes": {}})  # scored before hashes were recorded
    said = reproduce.reproduce(older, evaluator(home, FakeSandbox(perfect))).environment
    assert said == ["no dataset hashes recorded with the result (scored before they were)"]


def test_an_evaluator_on_other_splits_is_refused(camp):
    folder, home, row, _ = camp
    other = ActivationEvaluator(FakeSandbox(), home, splits=CONFIRM_SPLITS)
    with pytest.raises(ConfigError, match="not the bundle's"):
        reproduce.reproduce(reproduce.bundle(folder, row.id), other)


def test_what_a_user_can_get_wrong_is_one_config_error(camp, tmp_path):
    folder = copy(camp, tmp_path)
    hid = camp[2].id
    with pytest.raises(ConfigError, match=r"no hypothesis 'h99' .* \(known: "):
        reproduce.bundle(folder, "h99")
    info = campaign.load(folder)
    ledger = Ledger(folder / "ledger.sqlite")
    ledger.save(HypothesisRow(campaign=info.id, id="h99", round=9, mode="novel", idea="x"))
    ledger.close()
    with pytest.raises(ConfigError, match="h99 was never scored"):
        reproduce.bundle(folder, "h99")
    code = folder / "hypotheses" / f"{hid}.py"
    code.write_text(code.read_text() + "\n")
    with pytest.raises(ConfigError, match="changed after it was recorded"):
        reproduce.bundle(folder, hid)
    code.unlink()
    with pytest.raises(ConfigError, match="has no code file"):
        reproduce.bundle(folder, hid)
    with pytest.raises(ConfigError, match="no campaign"):
        reproduce.bundle(tmp_path / "nowhere", hid)


@pytest.fixture
def cli_home(monkeypatch, camp):
    """The CLI's sandbox and splits: a fake sandbox, the campaign's small splits and home."""
    monkeypatch.setenv("HYPOFORGE_HOME", str(camp[1]))
    monkeypatch.setattr(common, "make_evaluator", on_splits(SMALL_SPLITS))

    def use(sandbox):
        monkeypatch.setattr(common, "make_sandbox", lambda settings: sandbox)

    return use


def test_the_command_prints_the_table_and_the_verdict(cli_home, camp, tmp_path):
    folder = copy(camp, tmp_path)
    cli_home(FakeSandbox(perfect))
    hid = camp[2].id
    res = CliRunner().invoke(cli.app, ["reproduce", str(folder), hid], env={"COLUMNS": "150"})
    assert res.exit_code == 0, res.output
    for text in ("dataset", "recorded", "reproduced", "iris", "1.000000", "yes"):
        assert text in res.stdout
    assert "reproduced: every accuracy identical (3 splits)" in res.stdout
    assert "environment differs" not in res.stdout
    saved = json.loads((folder / "bundles" / hid / "reproduction.json").read_text())
    assert saved["verdict"] == "reproduced"


def test_the_command_exits_1_on_a_mismatch_and_2_on_a_usage_error(cli_home, camp, tmp_path):
    folder = copy(camp, tmp_path)
    cli_home(FakeSandbox(half_right))
    res = CliRunner().invoke(cli.app, ["reproduce", str(folder), camp[2].id, "--json"])
    assert res.exit_code == 1, res.output
    data = json.loads(res.stdout)
    assert data["verdict"] == "mismatch" and data["datasets"][0]["equal"] is False
    res = CliRunner().invoke(cli.app, ["reproduce", str(folder), camp[2].id])
    assert res.exit_code == 1
    assert "mismatch: iris 1.0 vs 0.5; moons 1.0 vs 0.5; wine 1.0 vs 0.5; " in res.stdout
    assert "splits iris-s0, moons-s1, wine-s0" in res.stdout
    res = CliRunner().invoke(cli.app, ["reproduce", str(folder), "h99"])
    assert res.exit_code == 2 and "error: no hypothesis 'h99'" in res.stderr
