"""A sandboxed task's fixed files: its folder (``runner.py``, ``description.md``,
``baselines/<name><suffix>``), more fixed code mounted beside the runner, and its harness version.

The harness version names everything that defines a score; it keys the baseline cache, data
files and experiment keys, so changing it makes every earlier result of the task another
harness's. A task may declare it (the built-in tasks do, so that moving host code that scores
the same way does not invalidate anyone's results; ``tests/unit/evaluators/test_kit_pins.py``
pins what each declared version stands for and fails when that changes). Undeclared, it is a
hash of the files that define a score, so any edit to them gives a new one."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

KIT = Path(__file__).parent
RUNNER_LOOP = KIT.parent / "runner_loop.py"  # mounted beside every task's runner
# Kit modules that decide a score or the data: part of an undeclared harness version.
SCORING_MODULES = ("budgets.py", "datasets.py", "jobs.py", "scoring.py", "secrets.py", "splits.py")


@dataclass(frozen=True)
class TaskFiles:
    folder: Path
    baselines: tuple[str, ...]  # names of baselines/<name><baseline_suffix>, in report order
    baseline_suffix: str = ".py"
    extra_code: Mapping[str, Path] = field(default_factory=dict)  # /hf/code/<name> -> file
    version_files: tuple[str, ...] = ("runner.py", "harness.py")  # in ``folder``
    version: str | None = None  # declared harness version (None: hashed from the files)

    def baseline_source(self, name: str) -> str:
        return (self.folder / "baselines" / f"{name}{self.baseline_suffix}").read_text()

    def harness_version(self) -> str:
        """The declared version, else 12 hex digits of a hash of the task's ``version_files``,
        the runner loop, the kit's scoring modules, the extra code and the baselines."""
        if self.version is not None:
            return self.version
        h = hashlib.sha256()
        paths = [
            *(self.folder / name for name in self.version_files),
            RUNNER_LOOP,
            *(KIT / name for name in SCORING_MODULES),
            *self.extra_code.values(),
        ]
        for path in paths:
            h.update(path.read_bytes())
        for name in self.baselines:
            h.update(self.baseline_source(name).encode())
        return h.hexdigest()[:12]
