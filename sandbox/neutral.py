"""Folders that name nothing of the host, for a cold job's binds.

A container's mount table (``/proc/self/mountinfo``) shows every bind's source: its path on the
source's filesystem. Bound straight from their places, a cold job's mounts would show the
checkout (``.../evaluators/activation/runner.py``), the home and its user
(``/home/<user>/.hypoforge/data/...``), the task, the attempt and a hash of the hypothesis's
code. So, as a warm container does (``sandbox/warm.py``), a cold job's files are put in a folder
with a random name under the warm folders' base (``warm_dir``, by default the system's temp
folder; ``warm_files.stage_mounts``: hard links or copies), ``/hf`` is bound read-only from it
and ``/hf/out`` from its ``out``, whose files are moved into the attempt folder afterwards.

What a job's mount table still shows: ``<base>/<root>/stage`` and ``.../out``, where ``<root>``
is ``hf-warm-<hash of the host name>-<pid>-<start time>-<random>`` (only the part below the
base's filesystem, where that is a mount of its own, such as a tmpfs ``/tmp``), the devices and
filesystem types, and Docker's own binds of ``/etc/hostname``, ``/etc/hosts`` and
``/etc/resolv.conf`` from ``<Docker root>/containers/<container id>/``.

The folder is named and marked like a warm pool's root (``warm_files.root_name``, an ``owner``
file), so ``hypoforge sandbox reap`` removes it if the process that made it dies mid-job.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sandbox import warm_files


@dataclass(frozen=True)
class Neutral:
    """One cold job's folder: ``stage`` -> ``/hf`` (read-only), ``out`` -> ``/hf/out``."""

    root: Path

    @property
    def stage(self) -> Path:
        return self.root / "stage"

    @property
    def out(self) -> Path:
        return self.root / "out"


def make(base: Path, owner: str, uid: int, gid: int) -> Neutral:
    """A fresh folder under ``base`` with an empty stage (755, holding the mount point of
    ``/hf/out``) and ``out``, owned by the job's user when the host runs as root."""
    base.mkdir(parents=True, exist_ok=True)
    root = tempfile.mkdtemp(prefix=warm_files.root_name(owner), dir=base)
    folder = Neutral(Path(root))
    (folder.root / warm_files.OWNER_NAME).write_text(owner)  # the reaper's mark, removed last
    folder.stage.mkdir()
    folder.stage.chmod(0o755)
    (folder.stage / "out").mkdir()  # a mount point must exist in the read-only /hf
    folder.out.mkdir()
    if os.getuid() == 0:
        os.chown(folder.out, uid, gid)
    return folder
