"""A reference point from the task's catalogue (``hypoforge run --reference``): whatever the
proposer writes, the campaign ends with a scored row, labelled as the published component it is
and never a discovery; a bad name or budget is refused before any campaign folder exists."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from core.errors import ConfigError
from core.settings import CampaignSettings
from evaluators import registry
from evaluators.novelty import Neighbour
from hypoforge import campaign, cli, reference
from store.ledger import Ledger
from store.lifecycle import discovery
from tests.fakes import FakeEvaluator, Recording, models, proposal, start

AFFINE = "* x + 1.0"  # what a small model writes: the probe finds it affine, and it fails


def test_with_only_degenerate_proposals_the_reference_is_the_scored_row(tmp_path):
    folder, info = start(
        tmp_path, allow_known="once", proposals=3, batch=2, repairs=0, full_top_k=1
    )
    task_dir = registry.get("activation").folder
    row = reference.seed(folder, reference.find(task_dir, "elu", CampaignSettings(proposals=3)))
    assert row.id == "r0-0" and row.known == "same as ELU"
    ms = models(
        [proposal(f"2.0 {AFFINE}", idea="a line"), proposal(f"0.5 {AFFINE}", idea="a flat line")]
    )
    ms["critic"] = Recording(responses=['{"decision": "run", "reasons": "fine", "p_win": 0.6}'])
    ev = FakeEvaluator(probe_rejects=AFFINE)
    state = campaign.run(folder, campaign.Services(ev, ms, retries=0))
    assert state["stop"] == "proposal budget reached (3/3)"
    rows = {r.id: r for r in Ledger(folder / "ledger.sqlite").hypotheses(info.id)}
    assert sorted(rows) == ["r0-0", "r0-1", "r1-0"]
    assert rows["r0-1"].stage == rows["r1-0"].stage == "failed"
    ref = rows["r0-0"]
    assert ref.idea.startswith("ELU (a reference point from the task's catalogue, not a proposal)")
    # Screened once, its label confirmed by its probe; not promoted, never a discovery.
    assert ref.stage == "screened" and ref.screen_win_rate is not None
    assert set(ref.rungs) == {"one-pass"} and not discovery(ref)
    assert ref.known == "same as ELU" and ref.citation.startswith("Djork-Arné Clevert")
    assert len(ms["critic"].asked) == 2  # the proposals only: the catalogue's code is not judged
    assert [(s, b) for s, b in ev.calls] == [(ev.calls[0][0], "one-pass")]
    best = campaign.status(folder)["best"]
    assert [b["id"] for b in best] == ["r0-0"]


class SeenBefore:
    """An archive in which every function was measured by an earlier campaign: a proposal would
    reuse its twin's result instead of running."""

    def __init__(self) -> None:
        self.added: list[str] = []

    def add(self, entry):
        self.added.append(entry.id)

    def nearest(self, idea, code, k=5, task=None):
        return []

    def measured(self, task):
        return []

    def examples(self, task, campaign=None):
        return []

    def behaviour_twin(self, fingerprint, task=None):
        return Neighbour(id="earlier/r0-0", idea="ELU", outcome="ok", win_rate=0.3, distance=0.0)


@pytest.mark.parametrize("allow_known", ["once", "never"])
def test_the_reference_is_measured_here_whatever_the_archive_or_allow_known_say(
    tmp_path, allow_known
):
    folder, info = start(tmp_path, allow_known=allow_known, proposals=2, batch=1, repairs=0)
    task_dir = registry.get("activation").folder
    reference.seed(folder, reference.find(task_dir, "ELU", CampaignSettings(proposals=2)))
    ev = FakeEvaluator()
    archive = SeenBefore()
    ms = models([proposal("x * torch.sigmoid(1.5 * x)", idea="a gate")])
    campaign.run(folder, campaign.Services(ev, ms, retries=0, archive=archive))
    rows = {r.id: r for r in Ledger(folder / "ledger.sqlite").hypotheses(info.id)}
    assert rows["r0-0"].stage == "screened" and rows["r0-0"].duplicate_of is None
    assert rows["r1-0"].stage == "duplicate"  # a proposal still reuses its archived twin
    assert len(ev.calls) == 1 and f"{info.id}/r0-0" in archive.added


def test_a_reference_is_refused_for_an_unknown_name_a_budget_of_one_or_a_started_campaign(
    tmp_path,
):
    task_dir = registry.get("activation").folder
    with pytest.raises(ConfigError, match=r"no published component 'Swoosh'.*: ReLU, leaky ReLU"):
        reference.find(task_dir, "Swoosh", CampaignSettings(proposals=3))
    with pytest.raises(ConfigError, match="give --proposals 2 or more"):
        reference.find(task_dir, "ELU", CampaignSettings(proposals=1))
    folder, _ = start(tmp_path, proposals=2, batch=1, repairs=0)
    elu = reference.find(task_dir, "ELU", CampaignSettings(proposals=2))
    reference.seed(folder, elu)
    with pytest.raises(ConfigError, match="before the campaign starts"):
        reference.seed(folder, elu)


def test_the_run_command_refuses_a_bad_reference_before_creating_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPOFORGE_HOME", str(tmp_path / "home"))
    folder = tmp_path / "camp"
    args = ["run", "--reference", "Swoosh", "--proposals", "3", "--campaign", str(folder)]
    res = CliRunner().invoke(cli.app, args)
    assert res.exit_code == 2 and "no published component 'Swoosh'" in res.output
    assert not folder.exists()
