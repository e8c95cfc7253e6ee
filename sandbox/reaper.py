"""Finds and removes hypoforge containers whose owner process is gone.

Every container carries ``hypoforge.owner = host/pid/start-time`` of the process that launched it.
A container is an orphan when that process no longer runs (a crash, a kill -9); concurrent live
orchestrators on the same engine keep their containers.
"""

from __future__ import annotations

import os
import socket
from typing import Any, NamedTuple

MANAGED_LABEL = "hypoforge.managed"
OWNER_LABEL = "hypoforge.owner"


def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), or None if it does not run."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    # Field 22; the command name (field 2) may hold spaces, so split after its closing paren.
    return stat.rsplit(")", 1)[1].split()[19]


def owner_id(pid: int | None = None) -> str:
    """This process's owner label value."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}/{pid}/{_start_time(pid)}"


def owner_alive(owner: str) -> bool:
    """Whether the process named by an owner label still runs. Other hosts count as alive."""
    try:
        host, pid, start = owner.split("/")
    except ValueError:
        return False  # unreadable label: nobody can claim it
    if host != socket.gethostname():
        return True
    return _start_time(int(pid)) == start


class Listed(NamedTuple):
    """One container as the engine's list call reports it."""

    id: str
    name: str
    state: str  # "running", "exited", "created", ...
    labels: dict[str, str]


def listed(client: Any, **filters: Any) -> list[Listed]:
    """Containers matching ``filters`` (all states), from the list call alone: sparse, with no
    inspect of each, which would raise NotFound for one removed meanwhile by another thread or
    node. ``client`` is a docker-py ``DockerClient``."""
    found = client.containers.list(all=True, sparse=True, filters=filters)
    return [
        Listed(
            c.id,
            str((c.attrs.get("Names") or [c.id])[0]).lstrip("/"),
            str(c.attrs.get("State") or ""),
            dict(c.attrs.get("Labels") or {}),
        )
        for c in found
    ]


def reap(client: Any, *, mine: bool = False) -> list[str]:
    """Remove orphaned hypoforge containers (and, with ``mine``, this process's own).

    Returns the names removed. ``client`` is a docker-py ``DockerClient``.
    """
    from docker.errors import APIError, NotFound

    me = owner_id()
    removed = []
    for c in listed(client, label=f"{MANAGED_LABEL}=1"):
        owner = c.labels.get(OWNER_LABEL, "")
        if (mine and owner == me) or not owner_alive(owner):
            try:
                client.api.remove_container(c.id, force=True)
            except NotFound:
                continue  # another reaper (a second node on this engine) was first
            except APIError as exc:
                if exc.status_code != 409:  # 409: its removal is already under way
                    raise
                continue
            removed.append(c.name)
    return removed
