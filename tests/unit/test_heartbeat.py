"""The running campaign's heartbeat (hypoforge/heartbeat.py): written atomically, read totally."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

from hypoforge import heartbeat
from hypoforge.heartbeat import Heartbeat


def test_a_run_beats_while_it_runs_and_leaves_no_file(tmp_path):
    with Heartbeat(tmp_path, workers=2, beat=0.05) as beat:
        seen = heartbeat.read(tmp_path)
        assert seen is not None
        assert seen["pid"] == os.getpid()
        assert seen["workers"] == 2
        assert seen["busy"] == 0
        beat.update("sandbox 0", "short evaluation of r0-1")
        beat.update("sandbox 1", "one-pass evaluation of r0-2")
        beat.update("proposer", "round 1")
        seen = heartbeat.read(tmp_path)
        assert seen is not None
        assert seen["busy"] == 2
        assert seen["agents"]["proposer"] == "round 1"
        beat.update("sandbox 1", "idle")
        assert heartbeat.read(tmp_path)["busy"] == 1  # type: ignore[index]
        first = json.loads((tmp_path / heartbeat.NAME).read_text())["beat"]
        time.sleep(0.2)  # the thread beats with no news
        assert json.loads((tmp_path / heartbeat.NAME).read_text())["beat"] > first
    assert not (tmp_path / heartbeat.NAME).exists()
    assert heartbeat.read(tmp_path) is None


def test_a_stale_beat_or_a_dead_pid_is_not_running(tmp_path):
    path = tmp_path / heartbeat.NAME
    now = time.time()
    record = {"pid": os.getpid(), "host": socket.gethostname(), "beat": now, "agents": {}}
    path.write_text(json.dumps(record))
    assert heartbeat.read(tmp_path, now=now + 1) is not None
    assert heartbeat.read(tmp_path, now=now + heartbeat.STALE + 1) is None
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    path.write_text(json.dumps({**record, "pid": int(gone.stdout)}))
    assert heartbeat.read(tmp_path, now=now) is None
    # another host's pid cannot be checked from here: its beat's age decides
    path.write_text(json.dumps({**record, "pid": int(gone.stdout), "host": "elsewhere"}))
    assert heartbeat.read(tmp_path, now=now) is not None


def test_a_damaged_heartbeat_reads_as_none(tmp_path):
    path = tmp_path / heartbeat.NAME
    for text in ("", "{", "[]", "null", '{"pid": "x", "beat": 1}', '{"beat": "soon"}', "\udcff"):
        path.write_text(text, errors="surrogateescape")
        assert heartbeat.read(tmp_path) is None
    path.write_bytes(b"\xff\xfe\x00garbage")
    assert heartbeat.read(tmp_path) is None
