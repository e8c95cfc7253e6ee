"""Steering from the dashboard: each action writes the steering row and the ledger event with
who, through the same store as ``hypoforge chat`` (so the chat sees it at once), shows in the
event log part, and a request the campaign cannot take is a 4xx with one line."""

from __future__ import annotations

import json

import pytest

from hypoforge.chat import Chat
from store.ledger import Ledger
from store.steering import Steering
from tests.unit.web.serving import WHO, client_for, finish, make_campaign, post, served_campaign


@pytest.fixture
def camp(tmp_path):
    return served_campaign(tmp_path)


def events(folder, cid, kind):
    ledger = Ledger(folder / "ledger.sqlite")
    try:
        return [
            (who, json.loads(d) if d.startswith("{") else d)
            for who, _, d in ledger.events(cid, kind)
        ]
    finally:
        ledger.close()


def chat_says(folder, command):
    chat = Chat(folder, "someone")
    try:
        reply = chat.handle(command)
    finally:
        chat.close()
    if isinstance(reply, str):
        return reply
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(reply)
    return console.export_text()


def test_a_directive_is_stored_logged_and_seen_by_the_chat_and_the_event_log(camp):
    folder, cid, client = camp
    reply = post(client, cid, "directive", {"agent": "proposer", "text": "try gated units"})
    assert reply.status_code == 200
    assert reply.json() == {
        "ok": True,
        "message": "directive #1 to the proposer stands until withdrawn",
    }
    assert events(folder, cid, "directive") == [
        (WHO, {"agent": "proposer", "id": 1, "text": "try gated units"})
    ]
    listed = chat_says(folder, "directives")
    assert "try gated units" in listed and WHO in listed
    part = client.get(f"/c/{cid}/part/events").text
    assert "directive" in part and WHO in part and "try gated units" in part
    assert "try gated units" in client.get(f"/c/{cid}/part/directives").text


def test_a_directive_can_be_withdrawn(camp):
    folder, cid, client = camp
    post(client, cid, "directive", {"agent": "critic", "text": "be strict"})
    reply = post(client, cid, "directive", {"withdraw": 1})
    assert reply.json() == {"ok": True, "message": "directive #1 withdrawn"}
    assert events(folder, cid, "withdraw") == [(WHO, {"id": 1})]
    again = post(client, cid, "directive", {"withdraw": 1})
    assert again.status_code == 404 and again.json()["error"] == "no standing directive #1"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"agent": "janitor", "text": "x"}, "unknown agent 'janitor'"),
        ({"agent": "proposer", "text": "   "}, "say the text"),
        ({"agent": "proposer", "text": 3}, "text must be text"),
        ({"agent": "proposer", "text": "x" * 5000}, "text is too long"),
    ],
)
def test_a_bad_directive_is_refused_in_one_line(camp, body, error):
    folder, cid, client = camp
    reply = post(client, cid, "directive", body)
    assert reply.status_code == 400
    assert reply.json()["ok"] is False and error in reply.json()["error"]
    assert "\n" not in reply.json()["error"]
    assert events(folder, cid, "directive") == []


@pytest.mark.parametrize("decision", ["approve", "veto", "revise"])
def test_a_decision_on_a_queued_hypothesis_is_recorded_with_its_code(camp, decision):
    folder, cid, client = camp
    body = {"hypothesis": "r0-1", "decision": decision, "note": "smaller slope please"}
    reply = post(client, cid, "decide", body)
    assert reply.status_code == 200, reply.text
    assert reply.json()["message"].startswith(f"r0-1: {decision} recorded")
    ledger = Ledger(folder / "ledger.sqlite")
    said = Steering(ledger, cid).decision("r0-1", "sha-r0-1")
    ledger.close()
    assert said == (decision, "smaller slope please", WHO)
    assert events(folder, cid, decision) == [
        (WHO, {"hypothesis": "r0-1", "note": "smaller slope please"})
    ]
    assert f"{decision} ({WHO})" in chat_says(folder, "queue")
    queue = client.get(f"/c/{cid}/part/queue").text
    assert '<tr data-hypothesis="r0-1">' in queue and f"<td>{decision}</td>" in queue
    log = client.get(f"/c/{cid}/part/events").text
    assert f"<td>{WHO}</td><td>{decision}</td>" in log


def test_a_revision_needs_a_note(camp):
    _folder, cid, client = camp
    reply = post(client, cid, "decide", {"hypothesis": "r0-1", "decision": "revise"})
    assert reply.status_code == 400 and reply.json()["error"] == "say the note"


def test_only_a_queued_hypothesis_can_be_decided(camp):
    folder, cid, client = camp
    screened = post(client, cid, "decide", {"hypothesis": "r0-0", "decision": "veto"})
    assert screened.status_code == 409
    assert screened.json()["error"] == "r0-0 is not awaiting a launch (stage screened)"
    unknown = post(client, cid, "decide", {"hypothesis": "r9-9", "decision": "veto"})
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "no hypothesis 'r9-9' in this campaign"
    odd = post(client, cid, "decide", {"hypothesis": "r0-1", "decision": "maybe"})
    assert odd.status_code == 400 and "unknown decision 'maybe'" in odd.json()["error"]
    assert events(folder, cid, "veto") == []


def test_pause_resume_and_stop(camp):
    folder, cid, client = camp
    assert post(client, cid, "control", {"command": "pause"}).json()["ok"]
    ledger = Ledger(folder / "ledger.sqlite")
    steering = Steering(ledger, cid)
    assert steering.paused()
    assert "paused" in chat_says(folder, "status")
    assert post(client, cid, "control", {"command": "resume"}).json() == {
        "ok": True,
        "message": "resume requested",
    }
    assert not steering.paused()
    assert post(client, cid, "control", {"command": "stop"}).json()["ok"]
    assert steering.stopped_by() == WHO
    ledger.close()
    assert [w for w, _ in events(folder, cid, "pause")] == [WHO]
    log = client.get(f"/c/{cid}/part/events?agent={WHO}").text
    for command in ("pause", "resume", "stop"):
        assert f"<td>{WHO}</td><td>{command}</td>" in log
    assert f"stopped by {WHO}" in chat_says(folder, "status")
    # A stopped campaign takes no more steering.
    late = post(client, cid, "directive", {"agent": "proposer", "text": "too late"})
    assert late.status_code == 409
    assert late.json()["error"] == f"the campaign was stopped by {WHO}: it takes no more steering"
    bad = post(client, cid, "control", {"command": "reboot"})
    assert bad.status_code == 409  # refused as stopped before the command is even read


def test_an_unknown_command_is_refused(camp):
    _folder, cid, client = camp
    reply = post(client, cid, "control", {"command": "reboot"})
    assert reply.status_code == 400 and "unknown command 'reboot'" in reply.json()["error"]


def test_budgets_are_lowered_never_raised(camp):
    folder, cid, client = camp
    reply = post(client, cid, "budget", {"proposals": 10, "hours": ""})
    assert reply.status_code == 200
    assert reply.json()["message"].startswith("budgets now: 10 proposals")
    assert events(folder, cid, "budget") == [(WHO, {"proposals": 10})]
    # The chat sees the page's request: lowering the tokens keeps the page's proposals.
    assert chat_says(folder, "budget tokens=150000").startswith(
        "budgets now: 10 proposals, 1 h, 150000 tokens"
    )
    raised = post(client, cid, "budget", {"proposals": 500})
    assert raised.json()["message"].startswith("budgets now: 20 proposals")  # the start's
    for body, error in [
        ({"proposals": -1}, "budget proposals must be positive"),
        ({"proposals": "many"}, "budget proposals must be a number"),
        ({"gpus": 2}, "unknown budget 'gpus'"),
        ({}, "name a budget"),
    ]:
        reply = post(client, cid, "budget", body)
        assert reply.status_code == 400 and error in reply.json()["error"], body


def test_a_finished_campaign_refuses_steering(camp):
    folder, cid, client = camp
    finish(folder, cid)
    reply = post(client, cid, "decide", {"hypothesis": "r0-1", "decision": "approve"})
    assert reply.status_code == 409
    assert reply.json()["error"] == (
        "the campaign has finished (proposal budget reached (4/4)): it takes no more steering"
    )


def test_malformed_requests_are_refused(camp):
    folder, cid, client = camp
    headers = {"X-Hypoforge-Token": "test-token-0123456789", "Content-Type": "application/json"}
    not_json = client.post(f"/c/{cid}/steer/directive", content=b"{nope", headers=headers)
    assert not_json.status_code == 400 and not_json.json()["error"] == "the body is not JSON"
    a_list = client.post(f"/c/{cid}/steer/directive", content=b"[1]", headers=headers)
    assert a_list.status_code == 400
    big = client.post(
        f"/c/{cid}/steer/directive",
        content=b'{"text": "' + b"x" * 70_000 + b'"}',
        headers=headers,
    )
    assert big.status_code == 413
    unknown = post(client, cid, "reboot", {})
    assert unknown.status_code == 404 and "unknown action 'reboot'" in unknown.json()["error"]
    nowhere = client.post("/c/nope/steer/directive", content=b"{}", headers=headers)
    assert nowhere.status_code == 404 and nowhere.json()["ok"] is False
    assert events(folder, cid, "directive") == []


def test_a_campaign_without_a_ledger_refuses_steering(tmp_path):
    folder, cid = make_campaign(tmp_path)
    (folder / "ledger.sqlite").unlink()
    client = client_for([tmp_path])
    reply = post(client, cid, "directive", {"agent": "proposer", "text": "x"})
    assert reply.status_code == 409 and "no ledger" in reply.json()["error"]
    assert not (folder / "ledger.sqlite").exists()  # steering made none
