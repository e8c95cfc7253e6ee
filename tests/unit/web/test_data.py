"""The dashboard's read model (``hypoforge.web.data``) on real campaign folders: a ledger written
through ``store.ledger.Ledger`` and ``store.lifecycle``'s transitions, campaign.json through
``hypoforge.campaign.create``, live.json in ``hypoforge.heartbeat``'s format."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.records import EvalReport, HypothesisRow, Outcome
from core.settings import CampaignSettings
from hypoforge import campaign, heartbeat
from hypoforge.web import data
from hypoforge.web.data import CampaignReader, Unreadable, find_campaigns
from store import lifecycle
from store.ledger import Ledger
from store.steering import Steering
from tests.unit.web.serving import edit_task

HOSTILE = '<script>alert("x")</script> ]]> \'q\' "dq" & \ud800 end'
STORED = HOSTILE.replace("\ud800", "?")  # as Ledger.save stores it


def report(
    win: float | None,
    budget: str = "one-pass",
    ci: tuple[float, float] | None = None,
    split_set: str = "selection",
    flags: tuple[str, ...] = (),
    status: Outcome = Outcome.OK,
    cells: float = 1.0,
) -> EvalReport:
    return EvalReport(
        task="activation",
        budget=budget,
        status=status,
        win_rate=win,
        win_rate_ci=ci,
        harness_version="h1",
        code_sha="sha",
        wall_seconds=2.5,
        split_set=split_set,
        flags=flags,
        per_dataset={
            "iris": {"candidate": 0.91, "baselines": {"relu": 0.9, "gelu": 0.89}, "win_rate": 0.75}
        },
        cells={"iris-s0": 0.91, "iris-s1": 0.93},
        cell_win_rates={} if win is None else {f"d{i}-s0": cells for i in range(21)},
    )


@dataclass
class Camp:
    folder: Path
    cid: str
    ledger: Ledger
    started: float


def row(cid: str, hid: str, idea: str = "an idea", parent: str | None = None, rnd: int = 0):
    return HypothesisRow(
        campaign=cid, id=hid, round=rnd, mode="novel", idea=idea, parent=parent, code_sha=hid
    )


def through_selection(led: Ledger, r: HypothesisRow, predicted: float | None = 0.6):
    r = led.apply(lifecycle.judged(r, "run", "looks fine", 0.7))
    r = led.apply(lifecycle.validated(r, None, 2))
    led.put_probe(r.campaign, r.id, r.code_sha or "", None, [0.5, 1.5, float(len(r.id))])
    r = led.apply(lifecycle.probed(r, None, 2))
    return led.apply(lifecycle.selected(r, predicted))


def make_campaign(tmp_path: Path, **budgets) -> Camp:
    """A campaign of eight hypotheses: a discovery (r0-0, two rungs, confirmed), a screened one
    (r0-1), a critic's reject, an invalid one, a flagged child of r0-0 (r1-0), a pruned one, a
    vetoed one and a queued one (r1-3, coded); usage, spend and a directive."""
    folder = tmp_path / "camp"
    settings_ = CampaignSettings(price_per_million_tokens=2.0, proposals=20, **budgets)
    info = campaign.create(folder, "activation", settings_)
    led = Ledger(folder / "ledger.sqlite")
    cid = info.id
    led.log(cid, "orchestrator", "start", {"task": "activation"})
    started = led.started(cid) or 0.0
    (folder / "hypotheses").mkdir()
    for hid in ("r0-0", "r0-1", "r1-0", "r1-3"):
        (folder / "hypotheses" / f"{hid}.py").write_text(f"def f(x):\n    return x  # {hid}\n")
    # r0-0: screened 0.7, short 0.8, kept, confirmed 0.78: a discovery
    r = through_selection(led, row(cid, "r0-0", "swish with a twist"), 0.65)
    rep = report(0.7, ci=(0.6, 0.8))
    led.put_result("k0", cid, "r0-0", rep)
    r = led.apply(lifecycle.screened(r, rep, "one-pass", 2))
    rep2 = report(0.8, budget="short", ci=(0.7, 0.9))
    led.put_result("k1", cid, "r0-0", rep2)
    r = led.apply(lifecycle.evaluated(r, rep2, "short", last=False))
    r = led.apply(lifecycle.kept(r, rep2, 2))
    held = report(0.78, budget="short", ci=(0.66, 0.88), split_set="confirmation")
    led.put_result("k2", cid, "r0-0", held)
    led.apply(lifecycle.confirmed(r, held, 1))
    # r0-1: screened 0.55, not kept
    r = through_selection(led, row(cid, "r0-1", HOSTILE), 0.5)
    rep = report(0.55, ci=(0.4, 0.7), cells=0.5)
    led.put_result("k3", cid, "r0-1", rep)
    r = led.apply(lifecycle.screened(r, rep, "one-pass", 2))
    led.apply(lifecycle.kept(r, rep, 2))
    # r0-2: rejected by the critic; r0-3: invalid
    led.apply(lifecycle.judged(row(cid, "r0-2", "a bad idea"), "reject", "nonsense", 0.1))
    led.apply(lifecycle.invalid(row(cid, "r0-3", "unparseable"), "no code block"))
    # r1-0: child of r0-0, screened 0.9 but flagged
    r = through_selection(led, row(cid, "r1-0", "bigger net", parent="r0-0", rnd=1), 0.7)
    rep = report(0.9, ci=(0.85, 0.95), flags=("over the parameter budget",))
    led.put_result("k4", cid, "r1-0", rep)
    led.apply(lifecycle.screened(r, rep, "one-pass", 2))
    # r1-1: pruned; r1-2: vetoed; r1-3: coded (queued)
    r = led.apply(lifecycle.judged(row(cid, "r1-1", "pruned one", rnd=1), "run", "ok", 0.4))
    r = led.apply(lifecycle.validated(r, None, 2))
    r = led.apply(lifecycle.probed(r, None, 2))
    led.apply(lifecycle.pruned(r, "ranked out", 0.2))
    r = led.apply(lifecycle.judged(row(cid, "r1-2", "vetoed one", rnd=1), "run", "ok", 0.4))
    r = led.apply(lifecycle.validated(r, None, 2))
    led.apply(lifecycle.vetoed(r, "ann"))
    r = led.apply(lifecycle.judged(row(cid, "r1-3", "queued one", rnd=1), "run", "ok", 0.5))
    led.apply(lifecycle.validated(r, None, 2))
    led.add_usage(cid, tokens=1000, launches=2)
    led.add_usage(cid, tokens=500, launches=1)
    Steering(led, cid).direct("proposer", "try <b>smooth</b> ones", "ann")
    return Camp(folder, cid, led, started)


def beat(folder: Path, **over) -> None:
    data_ = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "beat": time.time(),
        "agents": {"proposer": "thinking <hard>", "sandbox-0": "r1-3"},
        "workers": 2,
        "busy": 1,
    }
    data_.update(over)
    (folder / heartbeat.NAME).write_text(json.dumps(data_))


@pytest.fixture
def camp(tmp_path):
    c = make_campaign(tmp_path)
    yield c
    c.ledger.close()


# -- finding campaigns ---------------------------------------------------------------------------
def test_find_campaigns_takes_a_campaign_folder_or_its_parent(camp, tmp_path):
    other = tmp_path / "other"
    campaign.create(other, "activation", CampaignSettings())
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    found = find_campaigns([tmp_path, camp.folder, tmp_path / "missing"])
    assert found == sorted([camp.folder.resolve(), other.resolve()])
    assert find_campaigns([camp.folder]) == [camp.folder.resolve()]


# -- the summary ---------------------------------------------------------------------------------
def test_summary_figures(camp):
    reader = CampaignReader(camp.folder)
    s = reader.summary()
    assert reader.slug == camp.cid == s.slug == s.id
    assert (s.task, s.state, s.problem) == ("activation", "stopped", "")
    assert (s.proposals, s.budget_proposals) == (8, 20)
    assert (s.tokens, s.launches, s.budget_tokens) == (1500, 3, 200_000)
    assert s.cost == pytest.approx(1500 * 2.0 / 1e6)
    assert s.budget_cost is None and s.budget_hours == 1.0
    assert s.best_confirmed == ("r0-0", 0.78)
    assert s.best_screened == ("r0-0", 0.8)  # r1-0's 0.9 is flagged
    assert s.stages == {
        "evaluated": 1, "screened": 2, "rejected": 1, "invalid": 1, "pruned": 1,
        "vetoed": 1, "coded": 1,
    }  # fmt: skip
    assert (s.kept, s.confirmed) == (1, 1)
    assert s.workers is None and s.workers_busy is None and s.agents == {}
    assert s.version == reader.version()
    assert 0 <= s.hours < 0.1


def test_no_price_no_cost_and_lowered_budgets_apply(tmp_path):
    folder = tmp_path / "c"
    info = campaign.create(folder, "activation", CampaignSettings(proposals=10, hours=5))
    led = Ledger(folder / "ledger.sqlite")
    led.log(info.id, "orchestrator", "start", {})
    Steering(led, info.id).request("budget", "ann", {"proposals": 4, "hours": 9})
    s = CampaignReader(folder).summary()
    assert s.cost is None and s.budget_proposals == 4 and s.budget_hours == 5
    led.close()


def test_state_running_paused_waiting_stopped_finished(camp):
    reader = CampaignReader(camp.folder)
    beat(camp.folder)
    s = reader.summary()
    assert (s.state, s.workers, s.workers_busy) == ("running", 2, 1)
    assert s.agents == {"proposer": "thinking <hard>", "sandbox-0": "r1-3"}
    steering = Steering(camp.ledger, camp.cid)
    steering.request("pause", "ann")
    assert reader.summary().state == "paused"
    steering.request("resume", "ann")
    assert reader.summary().state == "running"
    camp.ledger.log(camp.cid, "orchestrator", "wait", {"kind": "approve", "hypothesis": "r1-3"})
    s = reader.summary()
    assert (s.state, s.waiting_for, reader.waiting_for()) == ("waiting", "r1-3", "r1-3")
    steering.decide("r1-3", "approve", "ann", code_sha="r1-3")
    assert reader.summary().state == "running" and reader.waiting_for() is None
    # a stale beat, then a dead pid: not running
    beat(camp.folder, beat=time.time() - heartbeat.STALE - 5)
    assert reader.summary().state == "stopped"
    beat(camp.folder, pid=2**22 + 12345)
    assert reader.summary().state == "stopped"
    (camp.folder / heartbeat.NAME).unlink()
    camp.ledger.log(camp.cid, "orchestrator", "stop", "proposal budget spent")
    s = reader.summary()
    assert (s.state, s.stop_reason) == ("finished", "proposal budget spent")
    camp.ledger.log(camp.cid, "orchestrator", "resume", {})
    assert reader.summary().state == "stopped"  # resumed, then killed: no heartbeat
    camp.ledger.log(camp.cid, "orchestrator", "stop", "stopped by ann")
    assert reader.summary().state == "stopped"


def test_hours_run_to_the_last_event_when_stopped(camp):
    camp.ledger.db.execute("UPDATE events SET at = at - 7200 WHERE kind = 'start'")
    s = CampaignReader(camp.folder).summary()
    assert s.hours == pytest.approx(2.0, abs=0.01)


# -- version -------------------------------------------------------------------------------------
def test_version_changes_with_what_pages_show(camp):
    reader = CampaignReader(camp.folder)
    v0 = reader.version()
    assert v0 == reader.version()
    camp.ledger.log(camp.cid, "critic", "note", "x")
    v1 = reader.version()
    assert v1 != v0
    beat(camp.folder)
    v2 = reader.version()
    assert v2 != v1
    beat(camp.folder)  # a new beat with the same news: no change
    assert reader.version() == v2
    beat(camp.folder, agents={"proposer": "done"})
    v3 = reader.version()
    assert v3 != v2
    (camp.folder / "report").mkdir()
    (camp.folder / "report" / "progress.png").write_bytes(b"png")
    assert reader.version() != v3
    v4 = reader.version()
    camp.ledger.add_usage(camp.cid, tokens=1)
    assert reader.version() != v4


# -- the leaderboard -----------------------------------------------------------------------------
def test_leaderboard_rows(camp):
    board = CampaignReader(camp.folder).leaderboard()
    assert [b.id for b in board] == ["r1-0", "r0-0", "r0-1"]
    top, disc, plain = board
    assert top.flags == ("over the parameter budget",) and not top.discovery
    assert top.parent == "r0-0" and top.rungs == (data.Rung("one-pass", 0.9, 0.85, 0.95),)
    assert disc.rungs == (
        data.Rung("one-pass", 0.7, 0.6, 0.8),
        data.Rung("short", 0.8, 0.7, 0.9),
    )
    assert (disc.win_rate, disc.kept, disc.discovery) == (0.8, True, True)
    assert disc.confirm == (0.78, 0.66, 0.88) and disc.confirmation == "confirmed"
    assert (disc.predicted, disc.p_win, disc.stage) == (0.65, 0.7, "evaluated")
    assert plain.idea == STORED  # stored as text SQLite keeps
    assert plain.kept is False and plain.confirm is None
    assert CampaignReader(camp.folder).leaderboard(limit=1)[0].id == "r1-0"


def test_charts_data(camp):
    reader = CampaignReader(camp.folder)
    wr = reader.win_rate_over_time()
    assert [(p.id, p.win_rate) for p in wr.points] == [("r0-0", 0.8), ("r0-1", 0.55), ("r1-0", 0.9)]
    assert [w for _, w in wr.best] == [0.8, 0.9, 0.9]
    assert all(p.hours >= 0 for p in wr.points)
    spend = reader.spend()
    assert [(t, ln) for _, t, ln in spend] == [(1000, 2), (1500, 3)]
    assert reader.reward_points() == [("r0-0", 0.65, 0.8), ("r0-1", 0.5, 0.55), ("r1-0", 0.7, 0.9)]


def test_spend_is_downsampled(tmp_path):
    folder = tmp_path / "c"
    info = campaign.create(folder, "activation", CampaignSettings())
    led = Ledger(folder / "ledger.sqlite")
    led.db.execute("BEGIN")
    led.db.executemany(
        "INSERT INTO spend VALUES (?, ?, ?, ?)", [(info.id, 1000.0 + i, 10, 1) for i in range(5000)]
    )
    led.db.execute("COMMIT")
    spend = CampaignReader(folder).spend()
    assert len(spend) <= data.SPEND_POINTS
    assert spend[-1][1:] == (50_000, 5000)
    assert spend[-1][0] == pytest.approx(4999 / 3600)
    led.close()


def test_lineage_and_its_limit(camp):
    nodes = CampaignReader(camp.folder).lineage()
    by = {n.id: n for n in nodes}
    assert len(nodes) == 8
    assert (by["r1-0"].parent, by["r1-0"].depth, by["r0-0"].depth) == ("r0-0", 1, 0)
    assert {n.id: n.outcome for n in nodes} == {
        "r0-0": "discovery", "r0-1": "scored", "r0-2": "not-run", "r0-3": "failed",
        "r1-0": "scored", "r1-1": "not-run", "r1-2": "not-run", "r1-3": "queued",
    }  # fmt: skip
    assert nodes.index(by["r0-0"]) < nodes.index(by["r1-0"])
    small = CampaignReader(camp.folder).lineage(limit=1)
    assert [n.id for n in small] == ["r0-0", "r1-0"]  # the best and its ancestor


def test_not_run(camp):
    reader = CampaignReader(camp.folder)
    out = reader.not_run()
    assert out["rejected"] == [data.NotRunRow("r0-2", "a bad idea", "nonsense")]
    assert out["invalid"] == [data.NotRunRow("r0-3", "unparseable", "no code block")]
    assert out["pruned"] == [data.NotRunRow("r1-1", "pruned one", "ranked out")]
    assert out["vetoed"] == [data.NotRunRow("r1-2", "vetoed one", "vetoed by ann")]
    assert out["duplicate"] == [] and out["known"] == [] and out["failed"] == []
    counts = reader.not_run_counts()
    assert counts == {
        "invalid": 1, "duplicate": 0, "pruned": 1, "vetoed": 1, "known": 0, "rejected": 1,
        "failed": 0,
    }  # fmt: skip


def test_events_paging_and_filter(camp):
    reader = CampaignReader(camp.folder)
    everything = reader.events(limit=1000)
    assert [e.rowid for e in everything] == sorted((e.rowid for e in everything), reverse=True)
    assert everything[0].kind == "directive" and everything[0].who == "ann"
    assert everything[-1].kind == "start"
    page = reader.events(limit=3)
    nxt = reader.events(limit=3, before_rowid=page[-1].rowid)
    assert [e.rowid for e in page + nxt] == [e.rowid for e in everything[:6]]
    critic = reader.events(agent="critic")
    assert critic and {e.who for e in critic} == {"critic"}
    assert reader.agents_seen() == sorted({e.who for e in everything})
    assert "critic" in reader.agents_seen() and "orchestrator" in reader.agents_seen()


def test_queue_and_directives(camp):
    reader = CampaignReader(camp.folder)
    assert reader.queue() == [data.QueueRow("r1-3", "queued one", "coded", "r1-3", None)]
    Steering(camp.ledger, camp.cid).decide("r1-3", "veto", "ann", code_sha="r1-3")
    assert reader.queue()[0].decision == "veto"
    (d,) = reader.directives()
    assert (d.agent, d.text, d.who) == ("proposer", "try <b>smooth</b> ones", "ann")


# -- a hypothesis --------------------------------------------------------------------------------
def test_hypothesis_view(camp):
    reader = CampaignReader(camp.folder)
    h = reader.hypothesis("r0-0")
    assert h is not None
    assert (h.idea, h.stage, h.verdict, h.p_win, h.predicted) == (
        "swish with a twist", "evaluated", "run", 0.7, 0.65,
    )  # fmt: skip
    assert h.critic_reasons == "looks fine"
    assert (h.win_rate, h.kept, h.discovery, h.confirmation) == (0.8, True, True, "confirmed")
    assert h.children == ("r1-0",) and h.parent is None
    assert h.code == "def f(x):\n    return x  # r0-0\n"
    assert not h.edit_task and h.diff_parent is None and h.diff_template is None
    assert [(r.budget, r.split_set, r.win_rate, r.lo, r.hi) for r in h.results] == [
        ("one-pass", "selection", 0.7, 0.6, 0.8),
        ("short", "selection", 0.8, 0.7, 0.9),
        ("short", "confirmation", 0.78, 0.66, 0.88),
    ]
    first = h.results[0]
    assert first.per_dataset == (data.DatasetView("iris", 0.91, {"relu": 0.9, "gelu": 0.89}, 0.75),)
    assert first.cells == {"iris-s0": 0.91, "iris-s1": 0.93}
    assert h.fingerprint == (0.5, 1.5, 4.0) and h.probe_problem is None
    assert h.keep_bound == 1.0  # every cell won
    assert h.curves is None
    assert h.reproduce == f"hypoforge reproduce {camp.folder} r0-0"
    assert reader.hypothesis("nope") is None
    assert reader.hypothesis("../campaign") is None
    no_code = reader.hypothesis("r0-2")
    assert no_code is not None and no_code.code is None  # no code file


def test_edit_task_diffs_from_text_alone(tmp_path):
    """An edit task (a template task folder): the diffs against the parent's and the
    template's script are made by applying the SEARCH/REPLACE edits as text."""
    script = "x = 1\n# >>> EDIT model\ndef model():\n    return 1\n# <<< EDIT model\ny = 2\n"
    task = edit_task(tmp_path / "task", script)
    folder = tmp_path / "c"
    info = campaign.create(folder, "edity", CampaignSettings(), task_folder=task)
    led = Ledger(folder / "ledger.sqlite")
    led.save(row(info.id, "r0-0", "two"))
    led.save(row(info.id, "r1-0", "three", parent="r0-0", rnd=1))
    (folder / "hypotheses").mkdir()
    e1 = "<<<<<<< SEARCH\n    return 1\n=======\n    return 2\n>>>>>>> REPLACE\n"
    e2 = "<<<<<<< SEARCH\n    return 2\n=======\n    return 3\n>>>>>>> REPLACE\n"
    (folder / "hypotheses" / "r0-0.py").write_text(e1)
    (folder / "hypotheses" / "r1-0.py").write_text(f"{e1}# r1-0 builds on r0-0\n{e2}")
    h = CampaignReader(folder).hypothesis("r1-0")
    assert h is not None and h.edit_task
    assert "-    return 2\n+    return 3\n" in (h.diff_parent or "")
    assert "-    return 1\n+    return 3\n" in (h.diff_template or "")
    assert (h.diff_parent or "").startswith("--- r0-0\n+++ r1-0\n")
    root = CampaignReader(folder).hypothesis("r0-0")
    assert root is not None and root.diff_parent is None
    assert "+    return 2\n" in (root.diff_template or "")
    led.close()


# -- files ---------------------------------------------------------------------------------------
def test_figures_paper_and_file_paths(camp, tmp_path):
    reader = CampaignReader(camp.folder)
    assert reader.figures() == [] and reader.paper() is None
    report_dir = camp.folder / "report"
    report_dir.mkdir()
    (report_dir / "progress.png").write_bytes(b"p")
    (report_dir / "report.md").write_text("x")
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"s")
    (report_dir / "evil.png").symlink_to(outside)
    (camp.folder / "paper").mkdir()
    (camp.folder / "paper" / "paper.pdf").write_bytes(b"%PDF")
    assert reader.figures() == ["progress.png"]
    assert reader.paper() == "paper.pdf"
    assert reader.file_path("progress.png") == (report_dir / "progress.png").resolve()
    assert reader.file_path("paper.pdf") == (camp.folder / "paper" / "paper.pdf").resolve()
    for bad in ("evil.png", "report.md", "../campaign.json", "ledger.sqlite", "/etc/passwd"):
        assert reader.file_path(bad) is None


# -- unreadable folders --------------------------------------------------------------------------
PAGES = (
    lambda r: r.leaderboard(),
    lambda r: r.events(),
    lambda r: r.hypothesis("r0-0"),
    lambda r: r.lineage(),
    lambda r: r.not_run(),
    lambda r: r.queue(),
    lambda r: r.spend(),
    lambda r: r.win_rate_over_time(),
    lambda r: r.agents_seen(),
)


def unreadable(folder: Path, problem: str) -> None:
    reader = CampaignReader(folder)
    s = reader.summary()
    assert s.state == "unreadable" and problem in s.problem, s.problem
    assert "\n" not in s.problem
    assert reader.version().startswith("unreadable:")
    for page in PAGES:
        with pytest.raises(Unreadable):
            page(reader)


def test_no_ledger(tmp_path):
    folder = tmp_path / "c"
    campaign.create(folder, "activation", CampaignSettings())
    unreadable(folder, "no ledger")


def test_garbage_ledger(camp):
    camp.ledger.close()
    for name in ("ledger.sqlite-wal", "ledger.sqlite-shm"):
        (camp.folder / name).unlink(missing_ok=True)
    (camp.folder / "ledger.sqlite").write_bytes(os.urandom(8192))
    unreadable(camp.folder, "ledger")


def test_truncated_ledger(camp):
    camp.ledger.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    camp.ledger.close()
    path = camp.folder / "ledger.sqlite"
    path.write_bytes(path.read_bytes()[:5000])
    unreadable(camp.folder, "ledger")


@pytest.mark.parametrize("text", ["{not json", '{"id": 3}', "", "[]"])
def test_damaged_campaign_json(camp, text):
    (camp.folder / "campaign.json").write_text(text)
    reader = CampaignReader(camp.folder)
    assert reader.slug == "camp"
    unreadable(camp.folder, "campaign.json is damaged")


def test_missing_campaign_json(camp):
    (camp.folder / "campaign.json").unlink()
    unreadable(camp.folder, "no campaign.json")


@pytest.mark.slow
def test_locked_ledger_waits_about_a_second(tmp_path):
    folder = tmp_path / "c"
    info = campaign.create(folder, "activation", CampaignSettings())
    # A ledger in rollback-journal mode, so an exclusive lock keeps readers out.
    db = sqlite3.connect(folder / "ledger.sqlite", isolation_level=None)
    from store.ledger import SCHEMA

    db.executescript(SCHEMA)
    db.execute("INSERT INTO events VALUES (?, 1.0, 'orchestrator', 'start', '{}')", (info.id,))
    db.execute("BEGIN EXCLUSIVE")
    try:
        t = time.monotonic()
        s = CampaignReader(folder).summary()
        took = time.monotonic() - t
    finally:
        db.execute("ROLLBACK")
        db.close()
    assert s.state == "unreadable" and "locked" in s.problem
    assert took < data.BUSY_SECONDS + 1.0
    assert CampaignReader(folder).summary().state == "stopped"


def test_a_writer_in_wal_mode_does_not_block_reading(camp):
    camp.ledger.db.execute("BEGIN EXCLUSIVE")
    try:
        assert CampaignReader(camp.folder).summary().state == "stopped"
    finally:
        camp.ledger.db.execute("ROLLBACK")


OLD_SCHEMA = """
CREATE TABLE results (
    key TEXT PRIMARY KEY, campaign TEXT NOT NULL, hypothesis TEXT NOT NULL, budget TEXT NOT NULL,
    status TEXT NOT NULL, win_rate REAL, report TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE hypotheses (
    campaign TEXT NOT NULL, id TEXT NOT NULL, round INTEGER NOT NULL, mode TEXT NOT NULL,
    idea TEXT NOT NULL, code_sha TEXT, stage TEXT NOT NULL, verdict TEXT, p_win REAL,
    outcome TEXT, reason TEXT, screen_win_rate REAL, full_win_rate REAL, repairs INTEGER NOT NULL,
    updated REAL NOT NULL, PRIMARY KEY (campaign, id));
CREATE TABLE usage (campaign TEXT PRIMARY KEY, tokens INTEGER NOT NULL, launches INTEGER NOT NULL);
CREATE TABLE events (
    campaign TEXT NOT NULL, at REAL NOT NULL, who TEXT NOT NULL, kind TEXT NOT NULL,
    detail TEXT NOT NULL);
"""


def test_a_ledger_of_the_first_release_still_reads(tmp_path):
    folder = tmp_path / "c"
    info = campaign.create(folder, "activation", CampaignSettings())
    db = sqlite3.connect(folder / "ledger.sqlite")
    db.executescript(OLD_SCHEMA)
    db.execute("INSERT INTO events VALUES (?, 100.0, 'orchestrator', 'start', '{}')", (info.id,))
    db.execute(
        "INSERT INTO hypotheses VALUES (?, 'r0-0', 0, 'novel', 'old', 'abc', 'screened', 'run', "
        "0.5, 'ok', NULL, 0.75, NULL, 0, 200.0)",
        (info.id,),
    )
    db.execute("INSERT INTO usage VALUES (?, 10, 1)", (info.id,))
    db.commit()
    db.close()
    reader = CampaignReader(folder)
    s = reader.summary()
    assert (s.state, s.proposals, s.tokens, s.best_screened) == ("stopped", 1, 10, ("r0-0", 0.75))
    assert s.best_confirmed is None
    (b,) = reader.leaderboard()
    assert (b.id, b.win_rate, b.rungs, b.kept, b.flags) == ("r0-0", 0.75, (), None, ())
    assert reader.spend() == [] and reader.directives() == [] and reader.queue() == []
    assert reader.reward_points() == []
    assert reader.lineage()[0].outcome == "scored"
    h = reader.hypothesis("r0-0")
    assert h is not None and h.parent is None and h.children == ()
    assert reader.not_run()["known"] == []
    assert reader.version() == reader.version() and not reader.version().startswith("unread")


# -- hostile texts -------------------------------------------------------------------------------
def test_hostile_and_huge_texts_come_back_as_data(camp):
    big = "<script>" + "x" * 100_000 + "]]>"
    r = row(camp.cid, "r2-0", big, rnd=2)
    camp.ledger.save(r)
    camp.ledger.log(camp.cid, "<img src=x>", "note", {"text": HOSTILE})
    # invalid UTF-8 straight into the file, as a damaged write would leave it
    camp.ledger.db.execute(
        "INSERT INTO events VALUES (?, ?, 'x', 'raw', CAST(X'66FF6F' AS TEXT))",
        (camp.cid, time.time()),
    )
    reader = CampaignReader(camp.folder)
    view = reader.hypothesis("r2-0")
    assert view is not None and view.idea == big
    events = reader.events(limit=2)
    assert events[0].detail == "f\ufffdo"
    assert json.loads(events[1].detail)["text"] == HOSTILE
    assert "<img src=x>" in reader.agents_seen()
    node = {n.id: n for n in reader.lineage()}["r2-0"]
    assert node.idea == big[: data.IDEA_CHARS]


# -- property: never an exception ----------------------------------------------------------------
@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=st.binary(max_size=4096), keep_header=st.booleans())
def test_summary_and_version_never_raise_on_random_ledgers(tmp_path_factory, blob, keep_header):
    folder = tmp_path_factory.mktemp("c")
    campaign.create(folder, "activation", CampaignSettings())
    head = b"SQLite format 3\x00" if keep_header else b""
    (folder / "ledger.sqlite").write_bytes(head + blob)
    reader = CampaignReader(folder)
    s = reader.summary()
    assert s.state in ("unreadable", "stopped")
    assert isinstance(reader.version(), str)


def test_readers_in_threads_at_once(camp):
    reader = CampaignReader(camp.folder)
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(5):
                assert reader.summary().state == "stopped"
                reader.leaderboard()
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_what_is_folded_of_growing_tables_follows_them_and_a_replaced_ledger(camp, tmp_path):
    reader = CampaignReader(camp.folder)
    assert reader.spend()[-1][1:] == (1500, 3)
    assert "bob" not in reader.agents_seen()
    camp.ledger.add_usage(camp.cid, tokens=7, launches=1)
    camp.ledger.log(camp.cid, "bob", "note", "hi")
    assert reader.spend()[-1][1:] == (1507, 4)
    assert "bob" in reader.agents_seen()
    # Another ledger in the same place (a new file): nothing of the old one is kept.
    camp.ledger.close()
    for name in ("ledger.sqlite", "ledger.sqlite-wal", "ledger.sqlite-shm"):
        (camp.folder / name).unlink(missing_ok=True)
    fresh = Ledger(camp.folder / "ledger.sqlite")
    fresh.log(camp.cid, "orchestrator", "start", {})
    fresh.add_usage(camp.cid, tokens=5, launches=0)
    assert reader.spend()[-1][1:] == (5, 0)
    assert reader.agents_seen() == ["orchestrator"]
    assert reader.win_rate_over_time().points == []
    fresh.close()
    camp.ledger = Ledger(camp.folder / "ledger.sqlite")  # for the fixture's close
