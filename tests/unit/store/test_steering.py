"""Steering a campaign from the chat, on fake chat models and a fake evaluator: directives reach
the agent they name, pause/resume loses nothing, a veto prevents a launch, stop and budgets
apply at the next round, and every request lands in the ledger with who."""

from __future__ import annotations

import threading
import time

import pytest

from core.errors import ConfigError
from hypoforge import campaign
from hypoforge.chat import Chat
from store.ledger import Ledger
from tests.fakes import FakeEvaluator, Recording, models, proposal, start

PROPS = [proposal(f"x * torch.sigmoid({k}.0 * x)") for k in range(1, 9)]


def recording_models() -> dict:
    out = models(PROPS)
    out["proposer"] = Recording(responses=PROPS, seen=[])
    out["critic"] = Recording(
        responses=['{"decision": "run", "reasons": "ok", "p_win": 0.6}'], seen=[]
    )
    return out


def run_in_thread(folder, ev, chat_models, **kw):
    box: dict = {}
    thread = threading.Thread(
        target=lambda: box.update(
            state=campaign.run(
                folder, campaign.Services(ev, chat_models, retries=0), poll_seconds=0.02, **kw
            )
        ),
        daemon=True,
    )
    thread.start()
    return thread, box


def waiting(ledger, info, count=1):
    """Whether the campaign has logged ``count`` waits for the user: from the first it stays
    blocked in its polling loop until the chat answers, so nothing can run behind the test."""
    return lambda: len(ledger.events(info.id, "wait")) >= count


def wait_for(condition, seconds=20.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_directive_reaches_its_agent_every_round_until_withdrawn(tmp_path):
    folder, info = start(tmp_path, proposals=3, batch=1)
    chat = Chat(folder, "ada")
    assert "directive #1" in chat.handle("@proposer focus on smooth non-monotonic functions")
    chat.handle("@coder keep it under 3 ops")
    ms = recording_models()
    seen = ms["proposer"].seen

    def withdraw_after_round_1() -> None:  # the user withdraws it while the campaign runs
        if len(seen) == 2:
            chat.handle("withdraw 1")

    ms["proposer"].after = withdraw_after_round_1
    campaign.run(folder, campaign.Services(FakeEvaluator(), ms, retries=0))
    said = "focus on smooth non-monotonic functions (directive #1, from ada)"
    assert len(seen) == 3 and said in seen[0] and said in seen[1]  # rounds 0 and 1
    assert "focus on smooth" not in seen[2]  # withdrawn before round 2
    assert not any("focus on smooth" in p for p in ms["critic"].seen)  # not the critic's
    who = [(w, k) for w, k, _ in Ledger(folder / "ledger.sqlite").events(info.id)]
    assert ("ada", "directive") in who and ("ada", "withdraw") in who
    chat.close()


def test_pause_and_resume_lose_nothing(tmp_path):
    folder, info = start(tmp_path, proposals=4, batch=2)
    chat = Chat(folder, "ada")
    chat.handle("pause")
    thread, box = run_in_thread(folder, FakeEvaluator(), models(PROPS))
    ledger = Ledger(folder / "ledger.sqlite")
    wait_for(waiting(ledger, info))
    assert thread.is_alive() and ledger.hypotheses(info.id) == []  # paused before round 0
    assert "paused" in chat.handle("status")
    chat.handle("resume")
    thread.join(30)
    assert box["state"]["stop"] == "proposal budget reached (4/4)"
    rows = ledger.hypotheses(info.id)
    assert [r.id for r in rows] == ["r0-0", "r0-1", "r1-0", "r1-1"]
    assert {r.stage for r in rows} <= {"screened", "evaluated"}
    chat.close()


def test_a_veto_prevents_the_launch_and_approval_lets_it_run(tmp_path):
    folder, info = start(tmp_path, proposals=2, batch=2, approve=True)
    ev = FakeEvaluator()
    thread, box = run_in_thread(folder, ev, models(PROPS))
    ledger = Ledger(folder / "ledger.sqlite")
    chat = Chat(folder, "ada")
    wait_for(lambda: len([r for r in ledger.hypotheses(info.id) if r.stage == "coded"]) == 2)
    wait_for(waiting(ledger, info))
    # Nothing ran without a yes, not even the probe (the first launch of generated code).
    assert ev.calls == [] and ev.probed == [] and ledger.usage(info.id)[1] == 0
    queued = chat.handle("queue")
    assert queued.row_count == 2
    first, second = (r for r in ledger.hypotheses(info.id))
    chat.handle(f"veto {first.id} too close to swish")
    chat.handle(f"approve {second.id}")
    thread.join(30)
    rows = {r.id: r for r in ledger.hypotheses(info.id)}
    assert rows[first.id].stage == "vetoed" and rows[first.id].reason == "vetoed by ada"
    assert rows[second.id].stage in ("screened", "evaluated")
    launched = [src for src, _ in ev.calls]
    assert (folder / "hypotheses" / f"{first.id}.py").read_text() not in launched
    assert ev.probed == [second.id]
    assert box["state"]["stop"] == "proposal budget reached (2/2)"
    kinds = [(w, k) for w, k, _ in ledger.events(info.id)]
    assert ("ada", "veto") in kinds and ("ada", "approve") in kinds
    from hypoforge.report import _decisions

    assert f"- {first.id} ({first.idea}): vetoed by ada" in _decisions(list(rows.values()), [])
    chat.close()


def test_a_revision_goes_to_the_coder_and_the_new_code_waits_for_its_own_yes(tmp_path):
    folder, info = start(tmp_path, proposals=1, batch=1, approve=True)
    ev = FakeEvaluator()
    ms = models(PROPS[:1], code=[proposal("x * torch.sigmoid(x) + 0.1 * x")])
    ms["coder"] = Recording(responses=ms["coder"].responses)
    thread, box = run_in_thread(folder, ev, ms)
    ledger = Ledger(folder / "ledger.sqlite")
    chat = Chat(folder, "ada")
    # The revision goes in once the campaign waits on the first code: sent earlier, the gate
    # would take it without a wait, and the count of waits below would be one short.
    wait_for(waiting(ledger, info))
    old_sha = ledger.hypothesis(info.id, "r0-0").code_sha
    chat.handle("revise r0-0 add a small linear term")
    wait_for(lambda: ledger.hypothesis(info.id, "r0-0").code_sha != old_sha)
    wait_for(lambda: ledger.hypothesis(info.id, "r0-0").stage == "coded")
    wait_for(waiting(ledger, info, count=2))  # the new code waits for its own yes
    # The coder was given the user's words; the new code waits for a yes of its own.
    assert len(ms["coder"].asked) == 1
    assert "ada asked for a revision: add a small linear term" in ms["coder"].asked[0]
    assert ev.probed == [] and thread.is_alive()
    assert list(chat.handle("queue").columns[-1].cells) == ["-"]  # no decision on the new code
    chat.handle("approve r0-0")
    thread.join(30)
    row = ledger.hypothesis(info.id, "r0-0")
    assert row.stage in ("screened", "evaluated") and row.repairs == 1
    launched = ev.calls[0][0]
    assert launched == (folder / "hypotheses" / "r0-0.py").read_text() and "0.1 * x" in launched
    assert box["state"]["stop"] == "proposal budget reached (1/1)"
    chat.close()


def test_stop_and_budgets_apply_at_the_next_round(tmp_path):
    folder, info = start(tmp_path, proposals=6, batch=1)
    chat = Chat(folder, "ada")
    assert "2 proposals" in chat.handle("budget proposals=2 hours=9")  # hours: clamped to 1
    state = campaign.run(folder, campaign.Services(FakeEvaluator(), models(PROPS), retries=0))
    assert state["stop"] == "proposal budget reached (2/2)"
    assert len(Ledger(folder / "ledger.sqlite").hypotheses(info.id)) == 2
    folder2, _ = start(tmp_path / "b", proposals=6, batch=1)
    chat2 = Chat(folder2, "bob")
    chat2.handle("stop")
    state = campaign.run(folder2, campaign.Services(FakeEvaluator(), models(PROPS), retries=0))
    assert state["stop"] == "stopped by bob"
    chat.close()
    chat2.close()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("@janitor tidy up", "unknown agent 'janitor'"),
        ("@proposer", "needs some text"),
        ("frobnicate", "unknown command"),
        ("withdraw 7", "no standing directive #7"),
        ("withdraw x", "the directive's number"),
        ("veto r9-9", "no hypothesis 'r9-9'"),
        ("budget proposals=many", "must be a number"),
        ("budget speed=2", "unknown budget 'speed'"),
        ("revise", "which hypothesis"),
    ],
)
def test_bad_chat_input_says_why(tmp_path, line, message):
    folder, _ = start(tmp_path, proposals=2, batch=1)
    chat = Chat(folder, "ada")
    with pytest.raises(ConfigError, match=message):
        chat.handle(line)
    assert chat.handle("quit") is None
    chat.close()


def test_the_chat_command_reads_lines_from_the_terminal(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from hypoforge import cli

    monkeypatch.setenv("COLUMNS", "200")
    folder, _ = start(tmp_path, proposals=2, batch=1)
    lines = "@critic reject anything periodic\ndirectives\nfrobnicate\nstatus\nquit\n"
    res = CliRunner().invoke(cli.app, ["chat", str(folder), "--who", "ada"], input=lines)
    assert res.exit_code == 0, res.output
    assert "directive #1 to the critic" in res.output
    assert "reject anything periodic" in res.output
    assert "unknown command 'frobnicate'" in res.output
    assert "directives for: critic" in res.output


def test_the_analyst_answers_from_the_ledger_and_invented_numbers_are_flagged(tmp_path):
    folder, info = start(tmp_path, proposals=2, batch=2)
    campaign.run(folder, campaign.Services(FakeEvaluator(), models(PROPS), retries=0))
    rows = Ledger(folder / "ledger.sqlite").hypotheses(info.id)
    best = max(rows, key=lambda r: r.screen_win_rate or 0.0)
    said = f"{best.id} did best with {best.screen_win_rate:.2f}; r4-1 may reach 0.99."
    analyst_model = Recording(responses=[said], seen=[])
    chat = Chat(folder, "ada", lambda: analyst_model)
    chat.handle("@analyst answer in one sentence")
    reply = chat.handle("ask which idea did best?")
    assert reply.startswith(f"analyst: {said}")
    assert "from 2 ledger rows; NOT in the ledger or archive: 0.99, r4-1" in reply
    assert "answer in one sentence" in analyst_model.seen[0]  # the analyst's directive
    assert ("ada", "ask") in [
        (w, k) for w, k, _ in Ledger(folder / "ledger.sqlite").events(info.id)
    ]
    with pytest.raises(ConfigError, match="no language model"):
        Chat(folder, "ada").handle("ask anything")
    chat.close()


def test_the_analyst_also_answers_from_other_campaigns_in_the_archive(tmp_path):
    from evaluators.novelty import NoveltyArchive
    from tests.fakes import PTS, entry

    folder, info = start(tmp_path, proposals=1, batch=1)
    archive = NoveltyArchive(tmp_path / "archive")  # real Chroma on disk
    campaign.run(
        folder, campaign.Services(FakeEvaluator(), models(PROPS), retries=0, archive=archive)
    )
    # An earlier campaign ("c1") of the same task.
    archive.add(entry(1, "periodic sine gate", "# sine", PTS * 1, win_rate=0.31))
    archive.add(entry(2, "softsign mixture", "# softsign", PTS * 2, win_rate=0.77))
    archive.add(entry(3, "cubic blow-up", "# cubic", PTS * 3, "nonfinite", None))
    said = "c1/h2 (softsign mixture) did best elsewhere at 0.77; c1/h1 reached 0.31."
    analyst_model = Recording(responses=[said])
    chat = Chat(folder, "ada", lambda: analyst_model, lambda: archive)
    reply = chat.handle("ask did any campaign try periodic functions?")
    prompt = analyst_model.asked[0]
    assert "| c1/h2 | softsign mixture | ok | 0.77 |" in prompt
    assert "| c1/h1 | periodic sine gate | ok | 0.31 |" in prompt
    assert "| c1/h3 | cubic blow-up | nonfinite | - |" in prompt  # nearest to the question
    assert f"{info.id}/r0-0" not in prompt  # this campaign's own rows come from the ledger
    assert "| r0-0 |" in prompt
    assert reply.endswith("(from 1 ledger rows, 3 archive rows)")  # nothing flagged
    chat.close()


def test_the_live_view_shows_steering(tmp_path):
    from rich.console import Console

    from hypoforge.live import LiveView

    folder, info = start(tmp_path, proposals=2, batch=1)
    chat = Chat(folder, "ada")
    chat.handle("@coder keep it under 3 ops")
    console = Console(record=True, width=160)
    view = LiveView(console, Ledger(folder / "ledger.sqlite"), info.id, info.budgets)
    view.stages["orchestrator"] = "paused: resume it in hypoforge chat"
    console.print(view.render())
    shown = console.export_text()
    assert "standing directives 1" in shown and "vetoed 0" in shown
    assert "orchestrator" in shown and "paused: resume it in hypoforge chat" in shown
    chat.close()


def test_a_veto_typed_after_the_awaited_approval_still_prevents_the_launch(tmp_path):
    """The campaign waits on the first row; approving it resumes the gate, whose re-run must ask
    again about the second row (a resumed node's first interrupt returns the earlier answer),
    so a veto typed then still prevents the second row's probe."""
    folder, info = start(tmp_path, proposals=2, batch=2, approve=True)
    ev = FakeEvaluator()
    thread, _ = run_in_thread(folder, ev, models(PROPS))
    ledger = Ledger(folder / "ledger.sqlite")
    chat = Chat(folder, "ada")
    wait_for(waiting(ledger, info))
    first, second = ledger.hypotheses(info.id)
    chat.handle(f"approve {first.id}")  # the row the campaign waits on: it resumes
    wait_for(waiting(ledger, info, 2))  # and asks again, about the second
    chat.handle(f"veto {second.id}")
    thread.join(30)
    assert not thread.is_alive()
    assert ledger.hypothesis(info.id, second.id).stage == "vetoed"
    assert ev.probed == [first.id]
    chat.close()
    ledger.close()
