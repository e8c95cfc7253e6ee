"""How far cheap screening can be trusted: the same hypotheses measured at each budget and on the
confirmation splits (fresh seeds, held-out datasets), and the rank agreement of their win rates
(Kendall, Spearman, bootstrap intervals over hypotheses).

Screening acts on a ranking: if the one-pass ranking survives a longer budget and fresh seeds, it
may prune; if not, its figures are noise. A figure holds for one harness version only, so it is
stored per version (``home/fidelity/<task>-<version>.json``) and a report quotes the current one.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

from rich.table import Table

from core.errors import ConfigError, InfraError
from core.records import Outcome
from evaluators.kit.budgets import get_budget
from evaluators.novelty import NoveltyArchive
from evaluators.stats import agreement

BUDGETS = ("one-pass", "short", "full")
MIN_HYPOTHESES = 3  # the fewest that a rank correlation says anything about
SEED_SETS = "seed sets"  # the figure of selection vs confirmation splits, at the first budget
SELECTION, CONFIRMATION = "selection", "confirmation"
_AGREEMENT_KEYS = {"n", "kendall", "kendall_ci", "spearman", "spearman_ci"}
WinRates = dict[str, dict[str, dict[str, float]]]  # hypothesis -> split set -> budget -> win rate


def check_budgets(budgets: Sequence[str]) -> tuple[str, ...]:
    """The budgets in the order given (cheapest first), each known and none named twice."""
    names = tuple(budgets)
    if not names:
        raise ConfigError("give at least one budget")
    for name in names:
        get_budget(name)
    if len(set(names)) != len(names):
        raise ConfigError(f"a budget is named twice: {', '.join(names)}")
    return names


def measure(
    evaluator: Any,
    sources: dict[str, str],
    budgets: Sequence[str] = BUDGETS,
    notify: Callable[[str], None] | None = None,
) -> dict:
    """Evaluate each hypothesis (id -> code) at each budget on the selection splits and at the
    first budget on the confirmation splits; the rank agreement of the hypotheses that were OK
    at every evaluation, as a JSON-able dict. An infra failure raises: it says nothing of them."""
    names = check_budgets(budgets)
    if len(sources) < MIN_HYPOTHESES:
        raise ConfigError(
            f"fidelity needs at least {MIN_HYPOTHESES} hypotheses to rank; got {len(sources)}"
        )
    make_confirmer = getattr(evaluator, "confirmer", None)
    confirmer = make_confirmer() if make_confirmer is not None else None
    if confirmer is None:
        raise ConfigError(f"task {evaluator.task!r} has no confirmation splits here")
    # Cheapest first, so that a sample with too few usable hypotheses fails before the long runs.
    runs = [(SELECTION, names[0], evaluator), (CONFIRMATION, names[0], confirmer)]
    runs += [(SELECTION, b, evaluator) for b in names[1:]]
    win_rates, dropped = _evaluate_all(runs, sources, notify or (lambda step: None))
    kept = sorted(h for h in sources if h not in dropped)
    return {
        "task": evaluator.task,
        "harness_version": evaluator.version,
        "splits_id": {SELECTION: evaluator.splits_id, CONFIRMATION: confirmer.splits_id},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "n": len(kept),
        "budgets": list(names),
        "win_rates": {h: win_rates[h] for h in kept},
        "dropped": dropped,
        "agreement": _agreements({h: win_rates[h] for h in kept}, names),
    }


def _evaluate_all(
    runs: list[tuple[str, str, Any]], sources: dict[str, str], notify: Callable[[str], None]
) -> tuple[WinRates, dict[str, str]]:
    """Win rates by hypothesis, split set and budget; and why each dropped hypothesis was
    dropped (not OK once: it is not run again)."""
    win_rates: WinRates = {h: {SELECTION: {}, CONFIRMATION: {}} for h in sources}
    dropped: dict[str, str] = {}
    total, step = len(runs) * len(sources), 0
    for split_set, budget, ev in runs:
        where = "" if split_set == SELECTION else f" on the {CONFIRMATION} splits"
        for hid, source in sources.items():
            step += 1
            if hid in dropped:
                continue
            notify(f"{step}/{total} {hid} at {budget}{where}")
            report = ev.evaluate(source, budget)
            if report.status is Outcome.INFRA_ERROR:
                raise InfraError(f"{hid} at {budget}{where}: {report.reason}")
            if report.status is Outcome.OK and report.win_rate is not None:
                win_rates[hid][split_set][budget] = report.win_rate
            else:
                dropped[hid] = f"{report.status} at {budget}{where}: {report.reason}"
        usable = len(sources) - len(dropped)
        if usable < MIN_HYPOTHESES:
            raise ConfigError(
                f"only {usable} of {len(sources)} hypotheses were OK at {budget}{where}; "
                f"fidelity needs {MIN_HYPOTHESES}"
            )
    return win_rates, dropped


def _agreements(win_rates: WinRates, budgets: tuple[str, ...]) -> dict:
    """Agreement between each budget and the next, the first and the last, and the seed sets."""
    ids = sorted(win_rates)

    def column(split_set: str, budget: str) -> list[float]:
        return [win_rates[h][split_set][budget] for h in ids]

    first = budgets[0]
    pairs = [(f"{a} -> {b}", (SELECTION, a), (SELECTION, b)) for a, b in pairwise(budgets)]
    if len(budgets) > 2:
        pairs.append((f"{first} -> {budgets[-1]}", (SELECTION, first), (SELECTION, budgets[-1])))
    pairs.append((SEED_SETS, (SELECTION, first), (CONFIRMATION, first)))
    return {
        label: _finite_or_none(agreement(column(*a), column(*b)).as_dict()) for label, a, b in pairs
    }


def _finite_or_none(figures: dict) -> dict:
    """NaN (win rates with no spread: no ranking) as None, so that the JSON is standard."""

    def fix(v: Any) -> Any:
        if isinstance(v, list):
            return [fix(x) for x in v]
        return None if isinstance(v, float) and not math.isfinite(v) else v

    return {k: fix(v) for k, v in figures.items()}


# -- storage -------------------------------------------------------------------------------------
def result_path(home: Path, task: str, version: str) -> Path:
    return home / "fidelity" / f"{task}-{version}.json"


def save(home: Path, result: dict) -> Path:
    """Store ``result`` for its task and harness version (atomic: a crash leaves the old one)."""
    path = result_path(home, result["task"], result["harness_version"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1, allow_nan=False))
    tmp.replace(path)
    return path


def load(home: Path, task: str, version: str) -> dict | None:
    """The stored figure of ``task`` at harness ``version``, or None: none stored, or a damaged
    file (a figure that cannot be read whole is no figure)."""
    try:
        raw = json.loads(result_path(home, task, version).read_text())
    except (OSError, ValueError):
        return None
    return raw if _well_formed(raw, task, version) else None


def _well_formed(raw: Any, task: str, version: str) -> bool:
    if not isinstance(raw, dict) or (raw.get("task"), raw.get("harness_version")) != (
        task,
        version,
    ):
        return False
    figures = raw.get("agreement")
    if not isinstance(raw.get("n"), int) or not isinstance(figures, dict):
        return False
    return all(_is_agreement(a) for a in figures.values())


def _is_agreement(a: Any) -> bool:
    def number(v: Any) -> bool:
        return v is None or (isinstance(v, int | float) and not isinstance(v, bool))

    if not isinstance(a, dict) or set(a) != _AGREEMENT_KEYS:
        return False
    cis = (a["kendall_ci"], a["spearman_ci"])
    if not all(isinstance(ci, list) and len(ci) == 2 and all(map(number, ci)) for ci in cis):
        return False
    return isinstance(a["n"], int) and number(a["kendall"]) and number(a["spearman"])


# -- display -------------------------------------------------------------------------------------
def _label(key: str, result: dict) -> str:
    """What a figure compares, in words."""
    if key == SEED_SETS:
        return f"{SEED_SETS} ({result['budgets'][0]}: {SELECTION} vs {CONFIRMATION})"
    return key


def _num(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}"


def _figure(a: dict, name: str) -> str:
    """``0.61 (0.40 to 0.78)``; n/a where the win rates had no spread."""
    lo, hi = a[f"{name}_ci"]
    if a[name] is None:
        return "n/a (no spread in the win rates)"
    return f"{_num(a[name])} ({_num(lo)} to {_num(hi)})"


def render(result: dict) -> Table:
    """The figures as a table for the terminal."""
    table = Table(
        title=(
            f"fidelity of {result['task']} screening: rank agreement of win rates, "
            f"n = {result['n']}, harness {result['harness_version']}, 95% bootstrap intervals"
        ),
        title_justify="left",
    )
    for col in ("between", "n", "Kendall tau", "Spearman rho"):
        table.add_column(col)
    for key, a in result["agreement"].items():
        figures = (_figure(a, "kendall"), _figure(a, "spearman"))
        table.add_row(_label(key, result), str(a["n"]), *figures)
    return table


def summary_lines(result: dict) -> list[str]:
    """Markdown list items that a campaign report can quote, one a figure."""
    tail = f"n = {result['n']}, harness {result['harness_version']}"
    return [
        f"- {_label(key, result)}: Kendall {_figure(a, 'kendall')}, "
        f"Spearman {_figure(a, 'spearman')}; {tail}"
        for key, a in result["agreement"].items()
    ]


# -- the sample ----------------------------------------------------------------------------------
def sample_archive(archive_path: Path, task: str, n: int, seed: int) -> dict[str, str]:
    """Up to ``n`` of the archive's measured hypotheses of ``task`` (outcome ok, code present),
    drawn with ``seed``: id -> code, in id order."""
    if not (archive_path / "chroma.sqlite3").exists():
        raise ConfigError(f"no archive at {archive_path}")
    got = NoveltyArchive(archive_path).ideas.get(
        where={"task": task}, include=["documents", "metadatas"]
    )
    measured: dict[str, str] = {}
    for hid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
        code = _code(str(doc), str(meta.get("idea", "")))
        if meta.get("outcome") == Outcome.OK and code.strip():
            measured[hid] = code
    picked = random.Random(seed).sample(sorted(measured), min(n, len(measured)))
    return {h: measured[h] for h in sorted(picked)}


def _code(document: str, idea: str) -> str:
    """The code of an archived document (``idea + "\\n" + code``), whatever lines the idea has."""
    if document.startswith(f"{idea}\n"):
        return document[len(idea) + 1 :]
    return document.partition("\n")[2]
