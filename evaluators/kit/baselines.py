"""The baseline cache: each baseline's per-cell scores, computed once per harness version, splits,
budget and image, in ``<home>/baselines/<stem>.json``. A campaign's win rates compare every
hypothesis with the same baseline run, and a second campaign on one installation reuses it."""

from __future__ import annotations

import json
from pathlib import Path

from evaluators.kit.splits import Cell, cell


def cache_path(
    home: Path, task: str, version: str, splits_id: str, budget: str, image: str
) -> Path:
    """Where the baselines of one (task, harness version, splits, budget, image) are kept; the
    image is named by the first 12 hex digits of its id."""
    image_id = image.rsplit("@", 1)[-1].removeprefix("sha256:")[:12]
    return home / "baselines" / f"{task}-{version}-{splits_id}-{budget}-{image_id}.json"


def load(path: Path) -> dict[str, dict[Cell, float]] | None:
    """The cached baselines at ``path``, or None when there are none yet."""
    if not path.exists():
        return None
    raw = json.loads(path.read_text())
    return {b: {cell(k): v for k, v in accs.items()} for b, accs in raw.items()}


def save(path: Path, scores: dict[str, dict[Cell, float]]) -> None:
    """Write ``scores`` to ``path`` atomically: a crash never leaves half a cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = {b: {f"{d}-s{s}": v for (d, s), v in accs.items()} for b, accs in scores.items()}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(raw, indent=1))
    tmp.replace(path)
