"""The real terminal UI of `hypoforge chat`, driven through tmux as a user would type: a
directive, the table of directives, a bad command, a pause, and quit; the ledger holds what was
typed, with who."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from hypoforge import campaign
from hypoforge.ledger import Ledger
from hypoforge.settings import CampaignSettings
from hypoforge.steering import Steering

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
