"""The whole campaign graph on fake chat models and a fake evaluator: routing, bounded repairs,
budgets, ledger rows, exactly-once experiments and resume."""

from __future__ import annotations

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from core.errors import InfraError
from core.records import Outcome
from core.settings import CampaignSettings
from hypoforge import campaign
from store.ledger import Ledger
from tests.fakes import FakeEvaluator, models, proposal, start


def test_campaign_runs_to_the_proposal_budget(tmp_path):
    folder, info = start(tmp_path, proposals=4, batch=2, full_top_k=1)
    ev = FakeEvaluator()
    props = [proposal(f"x * torch.sigmoid({k}.0 * x)") for k in range(1, 9)]
    state = campaign.run(folder, campaign.Services(ev, models(props), retries=1))
    assert state["stop"] == "proposal budget reached (4/4)"
    assert state["round"] == 2
    ledger = Ledger(folder / "ledger.sqlite")
    rows = ledger.hypotheses(info.id)
    assert [r.id for r in rows] == ["r0-0", "r0-1", "r1-0", "r1-1"]
    assert [r.mode for r in rows] == ["incremental", "novel", "incremental", "novel"]
    # The ladder: both of a round go on to the short rung (promote = 2), the better one to full.
    assert {r.stage for r in rows} == {"evaluated"}
    assert sum(r.full_win_rate is not None for r in rows) == 2  # top 1 per round
    assert all(r.verdict == "run" and r.p_win == 0.6 for r in rows)
    assert [b for _, b in ev.calls].count("one-pass") == 4
    assert [b for _, b in ev.calls].count("short") == 4
    assert [b for _, b in ev.calls].count("full") == 2
    for round_rows in (rows[:2], rows[2:]):
        best = max(round_rows, key=lambda r: r.rungs["short"])
        assert best.full_win_rate is not None and set(best.rungs) == {"one-pass", "short", "full"}
    # launches: the catalogue's published components (one), 4 probes, 4 screens, 4 short, 2 full
    assert ledger.usage(info.id)[1] == 15
    assert len(ev.published) == 31  # probed once, all in one job
    assert (folder / "findings" / "round-0.md").read_text().startswith("# Round 0")
    assert (folder / "hypotheses" / "r1-1.py").exists()


def test_duplicate_code_is_rejected_without_running(tmp_path):
    folder, info = start(tmp_path, proposals=2, batch=1, full_top_k=0)
    ev = FakeEvaluator()
    same = proposal("x * torch.sigmoid(x)")
    campaign.run(folder, campaign.Services(ev, models([same, same]), retries=0))
    rows = Ledger(folder / "ledger.sqlite").hypotheses(info.id)
    assert rows[1].stage == "duplicate"
    assert rows[1].reason == "same code as r0-0"
    assert rows[1].duplicate_of == f"{info.id}/r0-0"
    assert rows[1].screen_win_rate == rows[0].screen_win_rate  # the original's result, reused
    assert len(ev.calls) == 1


def test_failed_validation_goes_back_to_the_coder_a_bounded_number_of_times(tmp_path):
    folder, info = start(tmp_path, proposals=1, batch=1, repairs=2, full_top_k=0)
    bad = proposal("x.numpy()")
    still_bad = "```python\nimport os\n\ndef activation(x):\n    return x\n```"
    ev = FakeEvaluator()
    campaign.run(folder, campaign.Services(ev, models([bad], code=[still_bad]), retries=0))
    row = Ledger(folder / "ledger.sqlite").hypotheses(info.id)[0]
    assert row.stage == "invalid"
    assert row.repairs == 2
    assert row.reason.startswith("line 1: import of os is not allowed (allowed: math, torch")
    assert ev.calls == []


def test_repair_that_works_is_screened(tmp_path):
    folder, info = start(tmp_path, proposals=1, batch=1, repairs=2, full_top_k=0)
    ev = FakeEvaluator()
    campaign.run(folder, campaign.Services(ev, models([proposal("x.numpy()")]), retries=0))
    row = Ledger(folder / "ledger.sqlite").hypotheses(info.id)[0]
    assert row.stage == "screened"
    assert row.repairs == 1
    assert "torch.tanh(x) * x" in (folder / "hypotheses" / "r0-0.py").read_text()


def test_critic_reject_and_malformed_replies_are_recorded(tmp_path):
    folder, info = start(tmp_path, proposals=2, batch=2, full_top_k=0)
    verdicts = [
        '{"decision": "reject", "reasons": "this is just ReLU", "p_win": 0.1}',
        "I think it is fine.",
    ]  # second reply unparseable, retries exhausted
    ev = FakeEvaluator()
    props = [proposal("torch.relu(x) + 0.1 * torch.tanh(3.0 * x)"), proposal("x * torch.tanh(x)")]
    campaign.run(folder, campaign.Services(ev, models(props, verdicts=verdicts), retries=0))
    ledger = Ledger(folder / "ledger.sqlite")
    rows = ledger.hypotheses(info.id)
    assert (rows[0].stage, rows[0].reason) == ("rejected", "this is just ReLU")
    assert rows[1].verdict == "run"  # an unusable critic never blocks; the sandbox decides
    assert len(ev.calls) == 1
    assert len(ledger.events(info.id, "verdict")) == 2


def test_unparseable_proposal_is_invalid_and_logged(tmp_path):
    folder, info = start(tmp_path, proposals=1, batch=1)
    ev = FakeEvaluator()
    campaign.run(folder, campaign.Services(ev, models(["I cannot help with that."]), retries=1))
    ledger = Ledger(folder / "ledger.sqlite")
    row = ledger.hypotheses(info.id)[0]
    assert (row.stage, row.outcome) == ("invalid", "invalid")
    assert "no `def activation(...):` found" in row.reason
    assert ledger.events(info.id, "malformed")


def test_token_budget_stops_the_campaign(tmp_path):
    folder, info = start(tmp_path, proposals=100, batch=1, tokens=50, full_top_k=0)
    props = [proposal(f"x * torch.sigmoid({k}.0 * x)") for k in range(1, 50)]
    state = campaign.run(folder, campaign.Services(FakeEvaluator(), models(props), retries=0))
    assert state["stop"].startswith("token budget reached")
    assert len(Ledger(folder / "ledger.sqlite").hypotheses(info.id)) < 100


def test_infra_error_pauses_and_resume_runs_each_experiment_once(tmp_path):
    folder, info = start(tmp_path, proposals=2, batch=2, full_top_k=0)
    props = [proposal("x * torch.sigmoid(x)"), proposal("x * torch.tanh(x)")]
    with pytest.raises(InfraError, match="engine down"):
        campaign.run(
            folder,
            campaign.Services(
                FakeEvaluator(fail_with=Outcome.INFRA_ERROR), models(props), retries=0
            ),
        )
    ledger = Ledger(folder / "ledger.sqlite")
    assert all(r.outcome is None for r in ledger.hypotheses(info.id))  # nothing counted
    ev = FakeEvaluator()
    state = campaign.run(folder, campaign.Services(ev, models(["unused"]), retries=0))
    assert state["stop"] == "proposal budget reached (2/2)"
    assert len(ev.calls) == 2  # proposals were not made again; each screened once
    assert {r.stage for r in ledger.hypotheses(info.id)} == {"screened"}
    again = FakeEvaluator()
    campaign.run(folder, campaign.Services(again, models(["unused"]), retries=0))
    assert again.calls == []


def test_a_folder_holds_one_campaign(tmp_path):
    folder, _ = start(tmp_path)
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="already holds a campaign"):
        campaign.create(folder, "activation", CampaignSettings())


class DeadEndpoint(FakeListChatModel):
    def _call(self, *args, **kwargs):
        import httpx
        import openai

        raise openai.APIConnectionError(request=httpx.Request("POST", "http://127.0.0.1:9"))


@pytest.mark.slow
def test_llm_outage_mid_run_pauses_and_resume_continues(tmp_path):
    from agents.llm import LLMUnavailable

    folder, info = start(tmp_path, proposals=2, batch=1, full_top_k=0)
    ms = models([proposal("x * torch.sigmoid(x)"), proposal("x * torch.tanh(x)")])
    ms["critic"] = DeadEndpoint(responses=["unused"])
    with pytest.raises(LLMUnavailable, match="LLM endpoint not reachable"):
        campaign.run(folder, campaign.Services(FakeEvaluator(), ms, retries=0))
    ledger = Ledger(folder / "ledger.sqlite")
    assert [(r.id, r.stage, r.verdict) for r in ledger.hypotheses(info.id)] == [
        ("r0-0", "proposed", None)
    ]
    state = campaign.run(
        folder,
        campaign.Services(FakeEvaluator(), models([proposal("x * torch.tanh(x)")]), retries=0),
    )
    assert state["stop"] == "proposal budget reached (2/2)"
    assert [r.stage for r in ledger.hypotheses(info.id)] == ["screened", "screened"]


def test_cost_budget_stops_the_campaign(tmp_path):
    folder, _ = start(
        tmp_path, proposals=100, batch=1, full_top_k=0, cost=0.0001, price_per_million_tokens=1.0
    )
    props = [proposal(f"x * torch.sigmoid({k}.0 * x)") for k in range(1, 50)]
    state = campaign.run(folder, campaign.Services(FakeEvaluator(), models(props), retries=0))
    assert state["stop"].startswith("cost budget reached")


def test_sandbox_rejection_goes_back_to_the_coder(tmp_path):
    folder, info = start(tmp_path, proposals=1, batch=1, repairs=1, full_top_k=0)
    ev = FakeEvaluator()
    campaign.run(folder, campaign.Services(ev, models([proposal("torch.sin(x) * x")]), retries=0))
    row = Ledger(folder / "ledger.sqlite").hypotheses(info.id)[0]
    assert (row.stage, row.repairs) == ("screened", 1)
    assert [src.splitlines()[-1].strip() for src, _ in ev.calls] == [
        "return torch.sin(x) * x",
        "return torch.tanh(x) * x",
    ]


def test_sandbox_rejection_without_repairs_left_fails(tmp_path):
    folder, info = start(tmp_path, proposals=1, batch=1, repairs=0, full_top_k=0)
    campaign.run(
        folder,
        campaign.Services(FakeEvaluator(), models([proposal("torch.sin(x) * x")]), retries=0),
    )
    row = Ledger(folder / "ledger.sqlite").hypotheses(info.id)[0]
    assert (row.stage, row.outcome) == ("failed", "invalid")
    assert row.reason == "non-finite output at x=100"


@pytest.mark.slow  # opens a Chroma archive
def test_services_from_settings_hold_what_a_campaign_runs_with(tmp_path):
    from core.settings import DockerSandboxSettings, LiteratureSettings, LLMSettings, Settings
    from evaluators.novelty import NoveltyArchive
    from literature.scholar import Scholar
    from tests.fakes import FakeSandbox

    url = "http://llm.example:8000/v1"
    settings = Settings(
        home=tmp_path,
        sandbox=DockerSandboxSettings(workers=3),
        llm=LLMSettings(endpoint=url, model="m", roles={"coder": "c"}, retries=4),
        literature=LiteratureSettings(online=True, rounds=2),
    )
    services = campaign.Services.from_settings(settings, FakeEvaluator(), FakeSandbox(), url)
    try:
        assert sorted(services.models) == sorted(campaign.ROLES)
        assert services.models["coder"].model_name == "c"
        assert services.models["critic"].model_name == "m"
        assert isinstance(services.archive, NoveltyArchive)
        assert (tmp_path / "archive").is_dir()
        assert isinstance(services.scholar, Scholar)
        assert services.scholar.cache_dir == tmp_path / "literature"
        assert services.generator == f"{url}:m"  # the archive's provenance
        assert (services.retries, services.workers, services.llm_concurrency) == (4, 3, 8)
        assert (services.home, services.literature_rounds) == (tmp_path, 2)
    finally:
        services.close()


@pytest.mark.slow  # opens a Chroma archive
def test_services_without_a_url_have_no_literature_search_and_search_has_no_models(tmp_path):
    from core.settings import DockerSandboxSettings, LiteratureSettings, Settings
    from tests.fakes import FakeSandbox

    box = DockerSandboxSettings(workers=1)
    online = LiteratureSettings(online=True)
    settings = Settings(home=tmp_path, sandbox=box, literature=online)
    notes: list[str] = []
    embedded = campaign.Services.from_settings(
        settings, FakeEvaluator(), FakeSandbox(), "http://127.0.0.1:1/v1", note=notes.append
    )
    assert sorted(embedded.models) == sorted(campaign.ROLES) and embedded.scholar is None
    assert notes == [
        "the online literature check needs a URL endpoint; the embedded model has the "
        "catalogue match alone"
    ]
    searching = settings.model_copy(update={"campaign": CampaignSettings(generator="search")})
    search = campaign.Services.from_settings(searching, FakeEvaluator(), FakeSandbox(), None)
    assert search.models == {} and search.scholar is None and search.generator == "search"
