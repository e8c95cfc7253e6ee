import pytest

from core.records import HypothesisRow
from core.settings import CampaignSettings
from graph.routing import (
    after_context,
    after_gate,
    after_probe,
    after_screen,
    after_validate,
    budget_stop,
)

ROOM = dict(
    proposed=1, max_proposals=5, tokens=10, max_tokens=100, elapsed_hours=0.1, max_hours=1.0
)


def row(stage):
    return HypothesisRow(campaign="c", id=stage, round=0, mode="novel", idea="i", stage=stage)


def test_after_validate_goes_back_to_the_coder_only_for_pending_repairs():
    assert after_validate([row("coded"), row("needs_repair")]) == "code"
    assert after_validate([row("coded"), row("invalid"), row("rejected")]) == "gate"
    assert after_validate([]) == "gate"
    for edge, then in ((after_gate, "probe"), (after_probe, "select"), (after_screen, "evaluate")):
        assert edge([row("probed"), row("needs_repair")]) == "code"
        assert edge([row("screened")]) == then


def test_the_compiled_graph_draws_its_real_edges(tmp_path):
    """Every conditional edge has a path map: the drawn graph shows where each can go."""
    from core.settings import CampaignSettings
    from evaluators import registry
    from graph.build import build
    from graph.deps import Deps
    from store.ledger import Ledger

    deps = Deps(
        campaign="c",
        folder=tmp_path,
        ledger=Ledger(tmp_path / "ledger.sqlite"),
        evaluator=None,  # type: ignore[arg-type]
        models={},
        settings=CampaignSettings(),
        retries=0,
        plugin=registry.get("activation"),
    )
    targets: dict[str, set[str]] = {}
    for e in build(deps).get_graph().edges:
        targets.setdefault(e.source, set()).add(e.target)
    assert targets == {
        "__start__": {"context"},
        "context": {"propose", "__end__"},
        "propose": {"critique"},
        "critique": {"code"},
        "code": {"validate"},
        "validate": {"code", "gate"},
        "gate": {"code", "probe"},
        "probe": {"code", "select"},
        "select": {"screen"},
        "screen": {"code", "evaluate"},
        "evaluate": {"confirm"},
        "confirm": {"analyze"},
        "analyze": {"record"},
        "record": {"context"},
    }


def test_after_context():
    assert after_context("") == "propose"
    assert after_context("token budget reached (5/4)") == "__end__"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({}, ""),
        ({"proposed": 5}, "proposal budget reached (5/5)"),
        ({"tokens": 100}, "token budget reached (100/100)"),
        ({"elapsed_hours": 1.5}, "time budget reached (1.50/1 h)"),
        ({"cost": 2.0, "max_cost": 2.0}, "cost budget reached (2.0000/2)"),
        ({"cost": 1.0, "max_cost": 2.0}, ""),
    ],
)
def test_budget_stop(change, message):
    assert budget_stop(**{**ROOM, **change}) == message


def test_cost_needs_a_price_and_is_computed_from_tokens():
    with pytest.raises(ValueError, match="needs price_per_million_tokens"):
        CampaignSettings(cost=1.0)
    s = CampaignSettings(cost=1.0, price_per_million_tokens=2.5)
    assert s.spent(400_000) == 1.0
    assert CampaignSettings().spent(10**9) is None
