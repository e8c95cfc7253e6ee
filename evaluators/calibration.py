"""Controls and discriminative power: does a task's harness rank known-worse hypotheses below
known-better ones?

Each task folder may hold a control panel, ``controls/controls.toml``, with source files beside
it: hypotheses whose order the literature settles (a saturating activation below ReLU, a far
too strong weight penalty below a moderate one, ...)::

    # the known order, from the literature
    [[control]]
    name = "sigmoid"
    file = "sigmoid.py"
    rank = "worse"        # "worse" or "better"
    why = "saturating; vanishing gradients in deep nets"
    reference = "Glorot & Bengio, 2010, ..."

``calibrate`` evaluates every control with the task's evaluator and, for every (worse, better)
pair, bounds the mean per-cell difference of the metric (``EvalReport.cells``, better minus
worse) with a paired bootstrap over cells, Bonferroni-corrected over the pairs. A pair is
"separated" when the interval lies above 0, "reversed" when it lies below 0, else "cannot
separate"; the harness separates when every pair is separated. Results are saved per task,
harness version, split set and budget under ``home/calibration``.
"""

from __future__ import annotations

import json
import math
import os
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ConfigError, InfraError
from core.records import EvalReport, Outcome
from evaluators.stats import ALPHA, corrected_alpha, paired_difference

PANEL = Path("controls") / "controls.toml"
RANKS = ("worse", "better")
KEYS = ("name", "file", "rank", "why", "reference")
SEPARATED, REVERSED, CANNOT = "separated", "reversed", "cannot separate"


@dataclass(frozen=True)
class Control:
    """One hypothesis of known standing: its source and where the literature puts it."""

    name: str
    file: str
    rank: str  # "worse" or "better"
    why: str
    reference: str
    source: str


# -- the panel -------------------------------------------------------------------------------------
def panel_path(task_folder: Path) -> Path:
    return Path(task_folder) / PANEL


def panel(task_folder: Path) -> list[Control]:
    """The controls of the task in ``task_folder``. Total: any problem with the panel (no file,
    bad TOML, unknown or missing keys, a bad rank, a missing source file, no pair to compare) is
    a one-line ``ConfigError`` naming the file."""
    path = panel_path(task_folder)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no control panel for this task") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {_why(exc)}") from None
    try:
        spec = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {_why(exc)}") from None
    unknown = sorted(set(spec) - {"control"})
    if unknown:
        raise ConfigError(f"{path}: unknown keys: {', '.join(unknown)} (only [[control]] tables)")
    entries = spec.get("control")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: needs [[control]] tables")
    out: list[Control] = []
    for i, entry in enumerate(entries, 1):
        out.append(_control(path, i, entry))
    names = [c.name for c in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{path}: duplicate control names: {', '.join(dupes)}")
    missing = [r for r in RANKS if not any(c.rank == r for c in out)]
    if missing:
        raise ConfigError(f"{path}: needs at least one {' and one '.join(missing)} control")
    return out


def _control(path: Path, i: int, entry: Any) -> Control:
    where = f"{path}: control {i}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: not a table")
    unknown = sorted(set(entry) - set(KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown keys: {', '.join(unknown)}")
    missing = [k for k in KEYS if not isinstance(entry.get(k), str) or not entry[k].strip()]
    if missing:
        raise ConfigError(f"{where}: missing or not text: {', '.join(missing)}")
    name, file, rank = entry["name"], entry["file"], entry["rank"]
    where = f"{path}: control {name!r}"
    if rank not in RANKS:
        raise ConfigError(f"{where}: rank must be one of {', '.join(RANKS)}, got {rank!r}")
    if Path(file).name != file or file in (".", ".."):
        raise ConfigError(f"{where}: file must name a file beside controls.toml, got {file!r}")
    try:
        source = (path.parent / file).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{where}: missing file {file}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read {file}: {_why(exc)}") from None
    return Control(name, file, rank, entry["why"].strip(), entry["reference"].strip(), source)


def pairs(controls: list[Control]) -> list[tuple[Control, Control]]:
    """Every (worse, better) pair of the panel, in panel order."""
    worse = [c for c in controls if c.rank == "worse"]
    better = [c for c in controls if c.rank == "better"]
    return [(w, b) for w in worse for b in better]


# -- the figures -----------------------------------------------------------------------------------
def verdict(interval: tuple[float, float]) -> str:
    """``separated`` when the interval of better minus worse lies above 0, ``reversed`` when it
    lies below, else ``cannot separate``."""
    lo, hi = interval
    if lo > 0:
        return SEPARATED
    if hi < 0:
        return REVERSED
    return CANNOT


def compare(
    reports: dict[str, EvalReport], controls: list[Control], alpha: float = ALPHA
) -> dict[str, Any]:
    """The pair table from the controls' reports (no sandbox: host numbers only)."""
    todo = pairs(controls)
    confidence = 1.0 - corrected_alpha(len(todo), alpha)
    rows = []
    for w, b in todo:
        row: dict[str, Any] = {"worse": w.name, "better": b.name}
        failed = [c.name for c in (w, b) if reports[c.name].status is not Outcome.OK]
        if failed:
            note = f"{' and '.join(failed)} did not finish"
            rows.append({**row, **_no_figures(note)})
            continue
        try:
            mean, ci, n = paired_difference(
                reports[b.name].cells, reports[w.name].cells, confidence=confidence
            )
        except ValueError as exc:
            rows.append({**row, **_no_figures(str(exc))})
            continue
        if not all(math.isfinite(v) for v in (mean, *ci)):
            rows.append({**row, **_no_figures("non-finite cell values")})
            continue
        rows.append({**row, "difference": mean, "ci": list(ci), "cells": n, "verdict": verdict(ci)})
    return {
        "confidence": confidence,
        "pairs": rows,
        "separates": bool(rows) and all(r["verdict"] == SEPARATED for r in rows),
    }


def _no_figures(note: str) -> dict[str, Any]:
    return {"difference": None, "ci": None, "cells": 0, "verdict": CANNOT, "note": note[:300]}


def _control_row(c: Control, report: EvalReport) -> dict[str, Any]:
    values = list(report.cells.values())
    return {
        "name": c.name,
        "rank": c.rank,
        "why": c.why,
        "reference": c.reference,
        "status": str(report.status),
        "reason": report.reason[:300],
        "win_rate": report.win_rate,
        "win_rate_ci": list(report.win_rate_ci) if report.win_rate_ci else None,
        "metric_mean": sum(values) / len(values) if values else None,
        "cells": dict(report.cells),
        "wall_seconds": report.wall_seconds,
    }


def calibrate(
    evaluator: Any,
    controls: list[Control],
    budget: str,
    notify: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Evaluate every control with ``evaluator`` at ``budget`` and compare every (worse, better)
    pair. JSON-able. An infrastructure failure of any control raises ``InfraError`` (no verdict
    can rest on it); a control that fails otherwise leaves its pairs at "cannot separate"."""
    say = notify or (lambda message: None)
    start = time.monotonic()
    reports: dict[str, EvalReport] = {}
    for i, c in enumerate(controls, 1):
        say(f"control {i}/{len(controls)}: {c.name} ({c.rank})")
        report = evaluator.evaluate(c.source, budget)
        if report.status is Outcome.INFRA_ERROR:
            raise InfraError(f"control {c.name}: {report.reason}")
        reports[c.name] = report
    table = compare(reports, controls)
    first = next(iter(reports.values()))
    return {
        "task": evaluator.task,
        "harness_version": evaluator.version,
        "split_set": evaluator.split_set,
        "splits_id": evaluator.splits_id,
        "splits": [s.name for s in evaluator.splits],
        "data_secret": evaluator.data_secret,
        "budget": first.budget,
        "metric": getattr(evaluator, "metric", "test accuracy"),
        "controls": [_control_row(c, reports[c.name]) for c in controls],
        **table,
        "wall_seconds": round(time.monotonic() - start, 1),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


# -- storage ---------------------------------------------------------------------------------------
def result_path(home: Path, task: str, version: str, split_set: str, budget: str) -> Path:
    return Path(home) / "calibration" / f"{task}-{version}-{split_set}-{budget}.json"


def save(home: Path, result: dict[str, Any]) -> Path:
    """Write ``result`` to ``home/calibration/<task>-<version>-<split set>-<budget>.json``
    atomically (a crash never leaves half a file); the path."""
    path = result_path(
        home, result["task"], result["harness_version"], result["split_set"], result["budget"]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(result, indent=1, sort_keys=True))
    tmp.replace(path)
    return path


def load(home: Path, task: str, version: str, split_set: str, budget: str) -> dict | None:
    """The saved calibration of this task, harness version, split set and budget, or None when
    there is none or the file is unreadable or not a calibration result (total)."""
    path = result_path(home, task, version, split_set, budget)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("pairs"), list):
        return None
    if not isinstance(raw.get("controls"), list) or not isinstance(raw.get("separates"), bool):
        return None
    return raw


# -- words -----------------------------------------------------------------------------------------
def verdict_line(result: dict[str, Any]) -> str:
    """The one-line conclusion."""
    if result.get("separates"):
        return "the harness separates the known-worse from the known-better"
    bad = [
        f"{p.get('worse')} vs {p.get('better')} ({p.get('verdict')})"
        for p in result.get("pairs", [])
        if p.get("verdict") != SEPARATED
    ]
    return f"the harness cannot separate: {', '.join(bad) or 'no pairs'}"


def _num(v: Any, digits: int = 3) -> str:
    return "-" if not isinstance(v, int | float) else f"{v:.{digits}f}"


def _ci(v: Any) -> str:
    return "-" if not isinstance(v, list) or len(v) != 2 else f"[{_num(v[0])}, {_num(v[1])}]"


def _diff(v: Any) -> str:
    return "-" if not isinstance(v, int | float) else f"{v:+.3f}"


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    return [line(head), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def render(result: dict[str, Any]) -> list[str]:
    """Plain-text lines for the CLI: the controls, the pairs, the conclusion."""
    metric = result.get("metric", "metric")
    out = [
        f"calibration of {result.get('task')} (harness {result.get('harness_version')}), "
        f"{result.get('split_set')} splits ({len(result.get('splits', []))}), "
        f"budget {result.get('budget')}, {_num(result.get('wall_seconds'), 0)} s",
        "",
    ]
    controls = [
        [
            str(c.get("name")),
            str(c.get("rank")),
            str(c.get("status")),
            _num(c.get("win_rate")),
            _ci(c.get("win_rate_ci")),
            _num(c.get("metric_mean")),
        ]
        for c in result.get("controls", [])
    ]
    out += _table(["control", "rank", "status", "win rate", "95% CI", f"mean {metric}"], controls)
    out += ["", f"pairs: better minus worse, {metric} per cell, paired bootstrap at "
            f"{100 * result.get('confidence', 0.95):.1f}% (Bonferroni over the pairs)"]  # fmt: skip
    rows = [
        [
            f"{p.get('worse')} < {p.get('better')}",
            _diff(p.get("difference")),
            _ci(p.get("ci")),
            str(p.get("cells")),
            str(p.get("verdict")) + (f" ({p['note']})" if p.get("note") else ""),
        ]
        for p in result.get("pairs", [])
    ]
    out += _table(["pair", "difference", "interval", "cells", "verdict"], rows)
    out += ["", verdict_line(result)]
    return out


def summary_lines(result: dict[str, Any]) -> list[str]:
    """Markdown for the README or a report: the controls, the pairs, the conclusion."""
    metric = result.get("metric", "metric")
    out = [
        f"Calibration of **{result.get('task')}** (harness `{result.get('harness_version')}`, "
        f"{result.get('split_set')} splits, budget {result.get('budget')}):",
        "",
        f"| control | rank | win rate (95% CI) | mean {metric} | reference |",
        "|---|---|---|---|---|",
    ]
    for c in result.get("controls", []):
        rate = f"{_num(c.get('win_rate'))} {_ci(c.get('win_rate_ci'))}"
        if c.get("status") != str(Outcome.OK):
            rate = f"{c.get('status')}"
        out.append(
            f"| {c.get('name')} | {c.get('rank')} | {rate} | {_num(c.get('metric_mean'))} "
            f"| {str(c.get('reference', '')).replace('|', '/')} |"
        )
    conf = 100 * result.get("confidence", 0.95)
    out += [
        "",
        f"| pair (worse < better) | difference | {conf:.1f}% interval | cells | verdict |",
        "|---|---|---|---|---|",
    ]
    for p in result.get("pairs", []):
        out.append(
            f"| {p.get('worse')} < {p.get('better')} | {_diff(p.get('difference'))} "
            f"| {_ci(p.get('ci'))} | {p.get('cells')} | {p.get('verdict')} |"
        )
    out += ["", f"Conclusion: {verdict_line(result)}."]
    return out


def _why(exc: BaseException) -> str:
    return " ".join(str(getattr(exc, "strerror", None) or exc).split())[:200]
