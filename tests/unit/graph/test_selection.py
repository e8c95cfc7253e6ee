"""Between validation and screening, on the whole graph with fakes: the round's probe, behavioural
duplicates, reward-model pruning with an audit trail, the collapse alarm, the search generator."""

from __future__ import annotations

import json

from hypoforge import campaign
from store.ledger import Ledger
from tests.fakes import FakeEvaluator, models, proposal, start


def test_behavioural_duplicate_reuses_the_original_result(tmp_path):
    folder, info = start(tmp_path, proposals=2, batch=2, full_top_k=0)
    ev = FakeEvaluator()
    props = [proposal("x * torch.sigmoid(x)"), proposal("x / (1 + torch.exp(-x))", "a logistic")]
    campaign.run(folder, campaign.Services(ev, models(props), retries=0))
    ledger = Ledger(folder / "ledger.sqlite")
    first, second = ledger.hypotheses(info.id)
    assert first.stage == "screened"
    assert (second.stage, second.outcome) == ("duplicate", "duplicate")
    assert second.duplicate_of == f"{info.id}/r0-0"
    assert second.screen_win_rate == first.screen_win_rate  # reused, not re-run
    assert [b for _, b in ev.calls] == ["one-pass"]
    assert ev.probed == ["r0-0", "r0-1"]  # one probe job for the round
    assert ledger.events(info.id, "duplicate")


def test_probe_failure_goes_back_to_the_coder_before_any_training(tmp_path):
    folder, info = start(tmp_path, proposals=1, batch=1, repairs=1, full_top_k=0)
    ev = FakeEvaluator(probe_rejects="torch.abs")
    campaign.run(
        folder, campaign.Services(ev, models([proposal("torch.abs(x) * 0.0 + 1.0")]), retries=0)
    )
    row = Ledger(folder / "ledger.sqlite").hypotheses(info.id)[0]
    assert (row.stage, row.repairs) == ("screened", 1)
    assert [src.splitlines()[-1].strip() for src, _ in ev.calls] == ["return torch.tanh(x) * x"]


def test_pruned_hypotheses_are_recorded_with_the_reason(tmp_path):
    folder, info = start(tmp_path, proposals=4, batch=4, screen_top_k=2, full_top_k=0)
    ev = FakeEvaluator()
    props = [
        proposal("x * torch.sigmoid(x)"),
        proposal("x * torch.sigmoid(1.05 * x)"),  # a near twin of the first
        proposal("torch.tanh(x)"),
        proposal("x * torch.tanh(x)"),
    ]
    said: list[tuple[str, str]] = []
    campaign.run(
        folder,
        campaign.Services(ev, models(props), retries=0),
        notify=lambda a, m: said.append((a, m)),
    )
    ledger = Ledger(folder / "ledger.sqlite")
    rows = ledger.hypotheses(info.id)
    assert [r.stage for r in rows] == ["screened", "pruned", "screened", "pruned"]
    assert ("reward", "kept r0-0, r0-2 of 4 for diversity (no reward model yet)") in said
    pruned = [r for r in rows if r.stage == "pruned"]
    assert all(r.outcome == "pruned" and "not in the diverse top 2" in r.reason for r in pruned)
    assert all(r.predicted is None for r in rows)  # no archive: no model, diversity alone
    assert len(ev.calls) == 2
    (_, _, detail), *_ = ledger.events(info.id, "ranked")
    assert json.loads(detail)["chosen"] == ["r0-0", "r0-2"]


def test_collapsed_choice_raises_the_alarm_and_the_next_round_goes_novel(tmp_path):
    folder, info = start(tmp_path, proposals=6, batch=3, screen_top_k=2, full_top_k=0)
    props = [proposal(f"x * torch.sigmoid({k} * x)") for k in ("1.0", "1.05", "1.1")]
    props += [proposal(f"torch.tanh({k} * x)") for k in ("1.0", "2.0", "3.0")]
    state = campaign.run(folder, campaign.Services(FakeEvaluator(), models(props), retries=0))
    ledger = Ledger(folder / "ledger.sqlite")
    alarms = ledger.events(info.id, "collapse")
    assert alarms and "behave alike" in alarms[0][2]
    rows = ledger.hypotheses(info.id)
    assert [r.mode for r in rows[:3]] == ["incremental", "novel", "incremental"]
    assert [r.mode for r in rows[3:]] == ["novel", "novel", "novel"]
    assert state["stop"] == "proposal budget reached (6/6)"


def test_search_generator_campaign_needs_no_language_model(tmp_path):
    folder, info = start(tmp_path, proposals=4, batch=2, full_top_k=1, generator="search")
    ev = FakeEvaluator()
    state = campaign.run(folder, campaign.Services(ev, {}, retries=0))
    assert state["stop"] == "proposal budget reached (4/4)"
    ledger = Ledger(folder / "ledger.sqlite")
    rows = ledger.hypotheses(info.id)
    assert all(r.idea.startswith("search: ") and r.verdict == "run" for r in rows)
    assert all(r.stage in ("screened", "evaluated", "failed", "duplicate") for r in rows)
    assert ledger.usage(info.id)[0] == 0  # no tokens
    assert (folder / "findings" / "round-1.md").exists()


# -- the pure helpers of select, without the graph -----------------------------------------


def _row(hid: str, stage: str, win: float | None = None):
    from core.records import HypothesisRow

    return HypothesisRow(
        campaign="c", id=hid, round=0, mode="novel", idea=hid, stage=stage, screen_win_rate=win
    )


def test_local_twin_finds_the_first_earlier_hypothesis_that_behaves_alike():
    import numpy as np

    from graph.selection import local_twin
    from tests.fakes import PTS, fp

    gate = PTS * 0.5 * (1 + np.tanh(PTS / 2))  # x * sigmoid(x)
    swish = fp(gate)
    earlier = [(_row("a", "screened", 0.6), fp(np.sin(PTS))), (_row("b", "screened", 0.7), swish)]
    twin = local_twin(fp(2 * gate), earlier)
    assert twin is not None and twin.id == "b"  # the scale does not matter
    assert local_twin(fp(np.tanh(PTS)), earlier) is None
    assert local_twin(swish, [(_row("x", "failed"), None)]) is None  # no fingerprint, no twin


def test_open_slots_keeps_the_places_of_those_already_chosen():
    from graph.selection import open_slots

    rows = [_row("a", "selected"), _row("b", "screened"), _row("c", "probed")]
    assert open_slots(rows, 4) == 2
    assert open_slots(rows, 2) == 1  # always at least one: a repaired hypothesis gets its turn
    assert open_slots([], 3) == 3


def test_ranking_selects_or_prunes_with_the_reason():
    import numpy as np

    from graph.selection import ranked

    row = _row("a", "probed")
    mean, std = np.array([0.7, 0.4]), np.array([0.05, 0.1])
    chosen = ranked(row, 0, [0], mean, std, True, 1).row
    assert chosen.stage == "selected" and chosen.predicted == 0.7 and chosen.outcome is None
    pruned = ranked(row, 1, [0], mean, std, True, 1).row
    assert pruned.stage == "pruned" and pruned.outcome == "pruned" and pruned.predicted == 0.4
    assert pruned.reason == "pruned: predicted win rate 0.40 ± 0.10, not in the diverse top 1"
    early = ranked(row, 1, [0], mean, std, False, 1).row
    assert early.predicted is None and early.reason and "no reward model yet" in early.reason
