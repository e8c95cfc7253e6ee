"""Known components in a campaign: a proposal that behaves like a published one is marked in the
ledger with its citation, screened once as a reference point and no further (``allow_known``),
never called a discovery; the catalogue is probed once per home, in one job."""

from __future__ import annotations

import json

import pytest

from hypoforge import campaign
from store.ledger import Ledger
from store.lifecycle import discovery
from tests.fakes import FakeEvaluator, Recording, models, proposal, start

MISH = "x * torch.tanh(torch.log1p(torch.exp(x)))"  # Mish, written another way
NEW = "0.4 * torch.cos(x) + x * torch.sigmoid(3.0 * x)"  # matches nothing published


def _run(tmp_path, allow_known, props, home=None, **budgets):
    folder, info = start(tmp_path, allow_known=allow_known, **budgets)
    ev = FakeEvaluator()
    campaign.run(folder, campaign.Services(ev, models(props), retries=0, home=home))
    ledger = Ledger(folder / "ledger.sqlite")
    return {r.idea: r for r in ledger.hypotheses(info.id)}, ledger, info, ev


def test_a_rewritten_published_function_is_marked_and_screened_once(tmp_path):
    props = [proposal(MISH, idea="soft gate"), proposal(NEW, idea="a wave gate")]
    rows, ledger, info, ev = _run(
        tmp_path, "once", props, proposals=2, batch=2, full_top_k=1, promote=(2,)
    )
    mish, new = rows["soft gate"], rows["a wave gate"]
    assert mish.known == "same as Mish"
    assert mish.citation.startswith("Diganta Misra (2019). Mish:") and "1908.08681" in mish.citation
    assert new.known is None and new.citation is None
    # Screened, as a reference point, and not promoted: the new one alone goes up the ladder.
    assert mish.screen_win_rate is not None and set(mish.rungs) == {"one-pass"}
    assert "short" in new.rungs
    assert not discovery(mish) and mish.confirmation is None
    events = [json.loads(d) for _, kind, d in ledger.events(info.id, "known")]
    assert [(e["id"], e["known"]) for e in events] == [(mish.id, "same as Mish")]
    assert len(ev.published) == 31  # the catalogue, probed in one job


def test_never_prunes_a_published_function_before_it_runs(tmp_path):
    rows, _, _, ev = _run(tmp_path, "never", [proposal(MISH, idea="soft gate")], proposals=1)
    (row,) = rows.values()
    assert row.stage == "pruned" and row.outcome == "pruned"
    assert row.reason == "same as Mish, a published component (allow_known = never): not run"
    assert row.screen_win_rate is None and ev.calls == []


def test_yes_treats_it_like_any_other_but_never_as_a_discovery(tmp_path):
    props = [proposal(MISH, idea="soft gate"), proposal(NEW, idea="a wave gate")]
    rows, *_ = _run(tmp_path, "yes", props, proposals=2, batch=2, full_top_k=1, promote=(2,))
    mish = rows["soft gate"]
    assert mish.known == "same as Mish" and "short" in mish.rungs
    assert not discovery(mish.model_copy(update={"kept": True, "confirmation": "confirmed"}))


def test_the_catalogue_is_probed_once_per_home_and_a_spoiled_cache_again(tmp_path):
    home = tmp_path / "home"
    _, _, _, first = _run(tmp_path / "a", "once", [proposal(NEW)], home=home, proposals=1)
    _, _, _, second = _run(tmp_path / "b", "once", [proposal(NEW)], home=home, proposals=1)
    assert len(first.published) == 31 and second.published == []
    cache = home / "catalogue" / "activation.json"
    data = json.loads(cache.read_text())
    spoiled = dict.fromkeys(list(data)[:2], "not a fingerprint") | dict(list(data.items())[2:])
    cache.write_text(json.dumps(spoiled))
    _, _, _, third = _run(tmp_path / "c", "once", [proposal(NEW)], home=home, proposals=1)
    assert len(third.published) == 2  # the spoiled entries only
    cache.write_text("{not json")
    _, _, _, fourth = _run(tmp_path / "d", "once", [proposal(NEW)], home=home, proposals=1)
    assert len(fourth.published) == 31


RUN = '{"decision": "run", "reasons": "fine", "p_win": 0.6}'


def test_the_critics_prompt_shows_what_it_behaves_like_and_what_it_reads_like(tmp_path):
    props = [
        proposal(MISH, idea="a soft gate"),  # Mish by behaviour, not by its words
        proposal(NEW, idea="multiply x by its sigmoid"),  # SiLU in words, not in behaviour
    ]
    folder, info = start(tmp_path, allow_known="once", proposals=2, batch=2)
    ms = models(props)
    ms["critic"] = Recording(responses=[RUN])
    ev = FakeEvaluator()
    campaign.run(folder, campaign.Services(ev, ms, retries=0))
    soft, words = ms["critic"].asked  # one review each, in the order proposed
    assert "it behaves exactly like Mish (measured by its probe): Diganta Misra (2019)" in soft
    assert "it behaves" not in words and "its idea reads like SiLU (similarity 0." in words
    assert "Ramachandran" in words or "Elfwing" in words  # SiLU's citation
    # The probes made for the critic are not made again by the probe node.
    assert sorted(ev.probed) == ["r0-0", "r0-1"]
    ledger = Ledger(folder / "ledger.sqlite")
    texts = [json.loads(d) for _, _, d in ledger.events(info.id, "text")]
    assert any(t["id"] == "r0-1" and t["matches"][0][0] == "SiLU" for t in texts)


def test_with_approval_nothing_is_probed_before_the_yes_and_the_critic_reads_words(tmp_path):
    import threading
    import time

    from hypoforge.chat import Chat

    folder, info = start(tmp_path, allow_known="once", proposals=1, batch=1, approve=True)
    ms = models([proposal(MISH, idea="x times tanh of softplus of x")])
    ms["critic"] = Recording(responses=[RUN])
    ev = FakeEvaluator()
    # a short poll: the campaign sees the approval at once instead of up to a second later
    thread = threading.Thread(
        target=lambda: campaign.run(folder, campaign.Services(ev, ms, retries=0), poll_seconds=0.02)
    )
    thread.start()
    ledger = Ledger(folder / "ledger.sqlite")
    deadline = time.monotonic() + 30
    while [r.stage for r in ledger.hypotheses(info.id)] != ["coded"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert ev.probed == [] and ev.published == []  # no launch before the user's yes
    (asked,) = ms["critic"].asked
    assert "its idea reads like Mish" in asked and "it behaves" not in asked
    chat = Chat(folder, "ada")
    chat.handle("approve r0-0")
    thread.join(30)
    row = ledger.hypothesis(info.id, "r0-0")
    assert row.known == "same as Mish" and ev.probed == ["r0-0"]
    chat.close()


def test_the_report_and_status_name_and_cite_the_published_ones(tmp_path):
    from typer.testing import CliRunner

    from hypoforge import cli
    from hypoforge.report import write_report

    props = [proposal(MISH, idea="soft gate"), proposal(NEW, idea="a wave gate")]
    folder, _ = start(tmp_path, allow_known="once", proposals=2, batch=2)
    campaign.run(folder, campaign.Services(FakeEvaluator(), models(props), retries=0))
    text = write_report(folder).read_text()
    section = text.split("## Published components", 1)[1].split("\n## ", 1)[0]
    assert "- r0-0 (soft gate): same as Mish, screened win rate 0." in section
    assert "Diganta Misra (2019). Mish: A Self Regularized" in section and "r0-1" not in section
    assert "soft gate (same as Mish)" in text  # in the leaders' table too
    result = CliRunner().invoke(cli.app, ["status", str(folder)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "published: r0-0 is same as Mish: Diganta Misra (2019)." in result.output


def test_with_a_scholar_the_critic_searches_then_judges_and_the_ledger_has_the_hits(tmp_path):
    from literature.scholar import Scholar, ScholarConfig
    from tests.replay_server import MISH_S2, S2_PATH, ReplayServer, Reply, s2_body

    search = '{"action": "search", "query": "x tanh softplus activation"}'
    decide = (
        '{"action": "decide", "decision": "not novel", "papers": ["s2:mish0001", "s2:invented"],'
        ' "reasons": "it is Mish"}'
    )
    reject = '{"decision": "reject", "reasons": "Mish under another name", "p_win": 0.1}'
    folder, info = start(tmp_path, allow_known="once", proposals=1, batch=1)
    ms = models([proposal(NEW, idea="tanh of softplus times x")])
    ms["critic"] = Recording(responses=[search, decide, reject])
    with ReplayServer() as server:
        server.script(S2_PATH, Reply(200, s2_body(MISH_S2)))
        config = ScholarConfig(
            sources=["semantic_scholar"],
            semantic_scholar_url=server.url + "/graph/v1",
            interval_seconds={"semantic_scholar": 0.0, "openalex": 0.0},
            cap_seconds=10.0,
        )
        with Scholar(config, tmp_path / "cache", {}) as scholar:
            campaign.run(folder, campaign.Services(FakeEvaluator(), ms, retries=0, scholar=scholar))
        assert len(server.seen(S2_PATH)) == 1
    verdict_prompt = ms["critic"].asked[-1]
    assert "Review this proposed activation function" in verdict_prompt
    assert (
        'a literature search (queries "x tanh softplus activation") found it not novel, resting on'
        " [s2:mish0001] Mish: A Self Regularized Non-Monotonic Activation Function (2019)"
    ) in verdict_prompt
    ledger = Ledger(folder / "ledger.sqlite")
    (row,) = ledger.hypotheses(info.id)
    assert row.stage == "rejected" and row.reason == "Mish under another name"
    searches = [json.loads(d) for _, _, d in ledger.events(info.id, "search")]
    decisions = [json.loads(d) for _, _, d in ledger.events(info.id, "decision")]
    dropped = [json.loads(d) for _, _, d in ledger.events(info.id, "dropped")]
    assert searches[0]["hits"] == ["s2:mish0001"] and searches[0]["id"] == "r0-0"
    assert decisions[0]["decision"] == "not novel" and decisions[0]["papers"] == ["s2:mish0001"]
    assert dropped[0]["papers"] == ["s2:invented"]  # no invented citation reaches a decision


def test_an_offline_scholar_is_skipped_in_the_ledger_and_the_campaign_goes_on(tmp_path):
    import socket

    from literature.scholar import Scholar, ScholarConfig

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder, info = start(tmp_path, allow_known="once", proposals=1, batch=1)
    search = '{"action": "search", "query": "a wave gate"}'
    run = '{"decision": "run", "reasons": "fine", "p_win": 0.6}'
    ms = models([proposal(NEW, idea="a wave gate")])
    ms["critic"] = Recording(responses=[search, run])
    config = ScholarConfig(
        sources=["semantic_scholar"], semantic_scholar_url=f"http://127.0.0.1:{port}/graph/v1"
    )
    with Scholar(config, tmp_path / "cache", {}) as scholar:
        campaign.run(folder, campaign.Services(FakeEvaluator(), ms, retries=0, scholar=scholar))
    ledger = Ledger(folder / "ledger.sqlite")
    (row,) = ledger.hypotheses(info.id)
    assert row.screen_win_rate is not None  # the campaign went on
    (decision,) = [json.loads(d) for _, _, d in ledger.events(info.id, "decision")]
    assert decision["decision"] == "skipped"
    assert decision["reason"].startswith("literature check skipped: offline")
    assert decision["reason"] in ms["critic"].asked[-1]


@pytest.mark.slow  # the whole command, with the embedding model
def test_the_novelty_command_matches_words_and_searches_online(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from hypoforge import cli
    from tests.replay_server import MISH_S2, S2_PATH, ReplayServer, Reply, s2_body

    monkeypatch.setenv("HYPOFORGE_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    res = runner.invoke(cli.app, ["novelty", "smooth the target labels towards uniform",
                                  "--task", "regularizer", "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    found = json.loads(res.stdout)
    assert found["by_text"][0]["name"] == "label smoothing" and found["archive"] == []
    assert "papers" not in found and "by_behaviour" not in found
    with ReplayServer() as server:
        server.script(S2_PATH, Reply(200, s2_body(MISH_S2)))
        config = tmp_path / "hf.toml"
        config.write_text(
            f'[literature]\nsources = ["semantic_scholar"]\n'
            f'semantic_scholar_url = "{server.url}/graph/v1"\n'
        )
        args = ["novelty", "x tanh softplus", "--online", "--config", str(config)]
        res = runner.invoke(cli.app, [*args, "--json"])
        assert res.exit_code == 0, res.output
        found = json.loads(res.stdout)
        assert [p["id"] for p in found["papers"]] == ["s2:mish0001"] and found["skipped"] is None
        text = runner.invoke(cli.app, args, env={"COLUMNS": "200"}).stdout
        assert "Mish: A Self Regularized Non-Monotonic Activation Function (2019)" in text
        assert len(server.seen(S2_PATH)) == 1  # the second asked the cache
    bad = runner.invoke(cli.app, ["novelty", "an idea", "--task", "nope"])
    assert bad.exit_code == 2 and "nope" in bad.stderr and "Traceback" not in bad.output


def test_close_to_a_published_one_is_a_reference_point_too(tmp_path):
    close = "x * torch.tanh(torch.nn.functional.softplus(1.02 * x))"  # Mish, slightly stretched
    props = [proposal(close, idea="stretched gate"), proposal(NEW, idea="a wave gate")]
    rows, *_ = _run(tmp_path, "once", props, proposals=2, batch=2, full_top_k=1, promote=(2,))
    row = rows["stretched gate"]
    assert row.known == "close to Mish" and "1908.08681" in row.citation
    assert set(row.rungs) == {"one-pass"}  # not promoted
    assert not discovery(row.model_copy(update={"kept": True, "confirmation": "confirmed"}))


def test_a_critic_that_rejects_a_published_one_does_not_stop_its_reference_run(tmp_path):
    reject = '{"decision": "reject", "reasons": "this is Mish", "p_win": 0.1}'
    folder, info = start(tmp_path, allow_known="once", proposals=1, batch=1)
    ms = models([proposal(MISH, idea="soft gate")], verdicts=[reject])
    campaign.run(folder, campaign.Services(FakeEvaluator(), ms, retries=0))
    (row,) = Ledger(folder / "ledger.sqlite").hypotheses(info.id)
    assert row.verdict == "run" and row.screen_win_rate is not None
    (verdict,) = [
        json.loads(d) for _, _, d in Ledger(folder / "ledger.sqlite").events(info.id, "verdict")
    ]
    assert verdict["reasons"].startswith("same as Mish: screened as a reference point")
    assert verdict["reasons"].endswith("the critic would reject it: this is Mish")


def test_a_lone_surrogate_in_a_reply_is_no_crash(tmp_path):
    folder, info = start(tmp_path, proposals=1, batch=1)
    campaign.run(
        folder,
        campaign.Services(
            FakeEvaluator(), models([proposal(NEW, idea="gate \ud800 x")]), retries=0
        ),
    )
    (row,) = Ledger(folder / "ledger.sqlite").hypotheses(info.id)
    assert row.idea == "gate ? x" and row.screen_win_rate is not None


def test_ledgers_opened_at_once_do_not_lock_each_other_out(tmp_path):
    """A campaign and its chat (or status, or live view) may open a new ledger at the same
    moment: switching it to WAL must wait, not fail with "database is locked"."""
    import threading

    errors: list[Exception] = []
    for i in range(20):
        path = tmp_path / f"l{i}" / "ledger.sqlite"
        gate = threading.Barrier(4)

        def open_it(path=path, gate=gate) -> None:
            gate.wait()
            try:
                Ledger(path).close()
            except Exception as exc:  # collected: the assertion below names it
                errors.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
