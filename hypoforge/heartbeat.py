"""The running campaign's heartbeat: ``live.json`` in its folder says who runs it (pid, host),
when it last beat, what each agent is doing and how many sandbox workers are busy.

Readers (``hypoforge serve``) tell running from stopped by it: the file is rewritten at every
agent's news and at least every ``BEAT`` seconds by a thread, atomically (write, then rename),
so a reader never sees half a file. It is removed when the run ends; a killed run leaves a stale
one, which readers recognise by its age (``STALE``) or by its pid on this host being gone.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

NAME = "live.json"
BEAT = 5.0  # seconds between beats with no news
STALE = 30.0  # a heartbeat older than this is a stopped run's


class Heartbeat:
    """A context manager around a campaign run; ``update(agent, message)`` is a notify sink."""

    def __init__(self, folder: Path, workers: int, beat: float = BEAT) -> None:
        self.path = folder / NAME
        self.workers = workers
        self.beat = beat
        self.agents: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._write()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.beat + 1)
        self.path.unlink(missing_ok=True)

    def update(self, agent: str, message: str) -> None:
        with self._lock:
            self.agents[agent] = message
        self._write()

    def busy(self) -> int:
        """Sandbox workers whose latest news is a job (the live view's "sandbox" lines)."""
        with self._lock:
            lines = {a: m for a, m in self.agents.items() if a.startswith("sandbox")}
        return sum(1 for m in lines.values() if m and m != "idle")

    def _run(self) -> None:
        while not self._stop.wait(self.beat):
            self._write()

    def _write(self) -> None:
        with self._lock:
            data: dict[str, Any] = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "beat": time.time(),
                "agents": dict(self.agents),
                "workers": self.workers,
            }
        data["busy"] = self.busy()
        tmp = self.path.with_name(f".{NAME}.{os.getpid()}.{threading.get_ident()}")
        try:
            tmp.write_text(json.dumps(data, sort_keys=True))
            os.replace(tmp, self.path)
        except OSError:  # a full disk must not stop the campaign; readers see a stale beat
            tmp.unlink(missing_ok=True)


def read(folder: Path, now: float | None = None) -> dict | None:
    """The heartbeat of a run alive now, or None (no file, unreadable, stale, or its pid gone on
    this host). Never raises."""
    try:
        data = json.loads((folder / NAME).read_text())
        beat = float(data["beat"])
        pid = int(data["pid"])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if not isinstance(data, dict):
        return None
    if (now if now is not None else time.time()) - beat > STALE:
        return None
    if data.get("host") == socket.gethostname() and not _alive(pid):
        return None
    return data


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True
