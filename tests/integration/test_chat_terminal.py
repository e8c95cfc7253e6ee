"""The real terminal UI of `hypoforge chat`, driven through tmux as a user would type: alone on a
campaign (a directive, the table of directives, a bad command, a pause, quit), and side by side
with `hypoforge run --approve` in the next pane (the queue, a veto, an approval, the run's live
view); the ledger holds what was typed, with who."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from core.settings import CampaignSettings
from hypoforge import campaign
from store.ledger import Ledger
from store.steering import Steering

HYPOFORGE = Path(sys.executable).with_name("hypoforge")


def tmux(*args: str) -> str:
    return subprocess.run(
        ["tmux", *args], check=True, capture_output=True, text=True, timeout=30
    ).stdout


def _sessions() -> str:
    """The running sessions' names (none, and no tmux server, once the last one ends)."""
    listed = ["tmux", "list-sessions", "-F", "#{session_name}"]
    return subprocess.run(listed, capture_output=True, text=True, timeout=30).stdout


def screen_shows(session: str, text: str, seconds: float = 30.0) -> str:
    deadline = time.monotonic() + seconds
    while True:
        shown = tmux("capture-pane", "-p", "-t", session)
        if text in shown or time.monotonic() > deadline:
            return shown
        time.sleep(0.2)


def test_the_chat_in_a_real_terminal(tmp_path):
    assert shutil.which("tmux"), "tmux is installed by make setup (scripts/ensure_tmux.sh)"
    folder = tmp_path / "camp"
    info = campaign.create(folder, "activation", CampaignSettings(proposals=2, batch=1))
    session = f"hf-chat-{int(time.time() * 1000) % 10**8}"
    command = f"{HYPOFORGE} chat {folder} --who tmuxer"
    tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "40", command)
    try:
        assert "type help or quit" in screen_shows(session, "type help or quit")
        for line in ("@critic reject anything periodic", "directives", "frobnicate", "pause"):
            tmux("send-keys", "-t", session, line, "Enter")
        shown = screen_shows(session, "pause requested")
        assert "directive #1 to the critic stands until withdrawn" in shown
        assert "reject anything periodic" in shown and "tmuxer" in shown  # the table
        assert "unknown command 'frobnicate'" in shown
        assert "pause requested" in shown
        tmux("send-keys", "-t", session, "quit", "Enter")
        deadline = time.monotonic() + 30
        while session in _sessions():
            assert time.monotonic() < deadline, "the chat did not quit"
            time.sleep(0.2)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    ledger = Ledger(folder / "ledger.sqlite")
    steering = Steering(ledger, info.id)
    assert [d.text for d in steering.directives("critic")] == ["reject anything periodic"]
    assert steering.paused()
    assert {(w, k) for w, k, _ in ledger.events(info.id)} >= {
        ("tmuxer", "directive"),
        ("tmuxer", "pause"),
    }


def test_run_and_chat_side_by_side(docker_sandbox, settings, tmp_path):
    """`hypoforge run --approve` in one pane waits before the first launch; `hypoforge chat` in
    the other vetoes one hypothesis and approves the rest; the run finishes on its own."""
    folder = tmp_path / "camp"
    config = tmp_path / "hypoforge.toml"
    config.write_text("[campaign]\nfull_top_k = 0\nconfirm = false\n")
    session = f"hf-side-{int(time.time() * 1000) % 10**8}"
    run = (
        f"HYPOFORGE_HOME={settings.home} {HYPOFORGE} run --task activation --generator search "
        f"--proposals 2 --batch 2 --approve --campaign {folder} --config {config}"
    )
    tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "70", f"{run}; sleep 600")
    run_pane, chat_pane = f"{session}:0.0", f"{session}:0.1"
    try:
        deadline = time.monotonic() + 60
        while not (folder / "ledger.sqlite").exists():
            assert time.monotonic() < deadline, tmux("capture-pane", "-p", "-t", run_pane)
            time.sleep(0.2)
        chat = f"HYPOFORGE_HOME={settings.home} {HYPOFORGE} chat {folder} --who tmuxer"
        tmux("split-window", "-v", "-t", run_pane, chat)
        shown = screen_shows(run_pane, "awaits approval", 120)
        assert "awaits approval: approve or veto it in hypoforge chat" in shown, shown
        info = campaign.load(folder)
        ledger = Ledger(folder / "ledger.sqlite")
        queued = [r for r in ledger.hypotheses(info.id) if r.stage == "coded"]
        assert len(queued) == 2 and ledger.usage(info.id)[1] == 0  # nothing launched yet
        assert "type help or quit" in screen_shows(chat_pane, "type help or quit")
        tmux("send-keys", "-t", chat_pane, "queue", "Enter")
        assert all(r.id in screen_shows(chat_pane, r.id) for r in queued)
        first, rest = queued[0], queued[1:]
        tmux("send-keys", "-t", chat_pane, f"veto {first.id} too simple", "Enter")
        for row in rest:
            tmux("send-keys", "-t", chat_pane, f"approve {row.id}", "Enter")
        shown = screen_shows(run_pane, "stopped: proposal budget reached (2/2)", 180)
        assert "stopped: proposal budget reached (2/2)" in shown, shown
        assert "vetoed 1" in shown  # the live view's count
        assert f"{first.id}: veto recorded" in screen_shows(chat_pane, "veto recorded")
        tmux("send-keys", "-t", chat_pane, "quit", "Enter")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    rows = {r.id: r for r in ledger.hypotheses(info.id)}
    assert rows[first.id].stage == "vetoed" and rows[first.id].reason == "vetoed by tmuxer"
    assert ledger.probe(info.id, first.id, first.code_sha or "") is None  # never launched
    assert all(rows[r.id].stage in ("screened", "failed") for r in rest)
    decided = [(w, k) for w, k, _ in ledger.events(info.id) if w == "tmuxer"]
    assert ("tmuxer", "veto") in decided
    assert decided.count(("tmuxer", "approve")) == len(rest)
