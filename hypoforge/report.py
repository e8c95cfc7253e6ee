"""The campaign report: Markdown with plots, and the ledger as TSV. Only measured data is used.

Plots (PNG, in ``<campaign>/report/``), task-neutral:
  progress.png  win rate of every proposal in the order it was made
  heatmap.png   per-dataset score of the leaders minus the best baseline (the task's ``metric``)
  reward.png    the reward model's predicted win rates against the measured ones
  confirmation.png  selection-time win rates of the kept hypotheses against their held-out ones
  lineage.png   experiment iteration: each child's win rate joined to its parent's

and whatever figures the task's report hooks add after the heatmap (``evaluators.contract``;
the activation's ``curves.png``, grokking's ``grokking.png``); a task without hooks adds none.

The analyst's commentary in the findings is shown unless most of its numbers and hypothesis ids
are not in the measured table it comments on (``commentary_problem``).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ConfigError
from core.grounding import numbers_in
from core.records import Confirmation, EvalReport, HypothesisRow
from core.text import clean
from evaluators.contract import ReportHooks, hooks_for, metric_of
from hypoforge import campaign
from hypoforge.paper import provenance
from store.ledger import Ledger
from store.lifecycle import KEEP_RULE, discovery

LEADERS = 4
COMMENTARY = "Analyst's commentary (model-written; the table above is measured):"
FLAGGED = "Numbers or ids in the commentary but not in the table:"


RUNG = {"one-pass": 0, "short": 1, "full": 2}


def _best_report(ledger: Ledger, campaign_id: str) -> dict[str, EvalReport]:
    """For each hypothesis, its selection report on the highest rung of the ladder it reached
    (confirmation runs on held-out splits are reported beside, never instead)."""
    best: dict[str, EvalReport] = {}
    for _, hid, rep in ledger.results(campaign_id):
        if rep.win_rate is None or rep.split_set == "confirmation":
            continue
        if hid not in best or RUNG.get(rep.budget, 0) >= RUNG.get(best[hid].budget, 0):
            best[hid] = rep
    return best


def _plot_confirmation(out: Path, rows: list[HypothesisRow]) -> bool:
    """Selection-time against held-out win rates: the winner's curse, seen."""
    import matplotlib.pyplot as plt

    held = [r for r in rows if r.confirm_win_rate is not None and r.selection_win_rate is not None]
    if not held:
        return False
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], color="black", lw=0.8, ls=":")
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    for r in held:
        ok = r.confirmation == Confirmation.CONFIRMED
        xy = (r.selection_win_rate or 0.0, r.confirm_win_rate or 0.0)
        ax.plot(*xy, "o" if ok else "x", color="C0")
        ax.annotate(r.id, xy, fontsize=7)
    ax.set_xlabel("win rate at selection")
    ax.set_ylabel("win rate on held-out splits")
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.05, 1.05)
    ax.set_title("confirmation (o confirmed, x not)")
    _save(fig, out / "confirmation.png")
    return True


def published_lines(rows: list[HypothesisRow]) -> list[str]:
    """The hypotheses that behave like a published component of the task's catalogue, each with
    its citation: reference points, never discoveries (``graph/literature.py``)."""
    known = [r for r in rows if r.known]
    if not known:
        return []
    lines = [
        "## Published components",
        "",
        "These behave like a published component (the task's catalogue, matched by the probe's "
        "fingerprint): reference points, never reported as discoveries.",
        "",
    ]
    for r in known:
        figure = "" if r.screen_win_rate is None else f", screened win rate {r.screen_win_rate:.3f}"
        lines.append(f"- {r.id} ({clean(r.idea)}): {r.known}{figure}. {r.citation or ''}".rstrip())
    return [*lines, ""]


def _confirmation(rows: list[HypothesisRow]) -> list[str]:
    """Discoveries (confirmed only), every confirmation run beside its selection figure, and the
    campaign's regression from selection to held-out figures."""
    summary = campaign.confirmation_summary(rows)
    found = [r for r in rows if discovery(r)]
    lines = ["## Discoveries", ""]
    if found:
        lines += [
            f"- {r.id} ({clean(r.idea)}): held-out win rate {r.confirm_win_rate:.3f}" for r in found
        ]
    else:
        lines.append("None: no hypothesis was kept and then confirmed on held-out splits.")
    lines += [
        "",
        f"Rule: {KEEP_RULE}.",
        "",
        "## Confirmation",
        "",
        campaign.regression_line(summary),
        "",
    ]
    held = [r for r in rows if r.kept]
    if held:
        lines += [
            "| id | idea | selection win rate | held-out win rate | verdict |",
            "|---|---|---|---|---|",
        ]
        for r in held:
            sel = "-" if r.selection_win_rate is None else f"{r.selection_win_rate:.3f}"
            out = "-" if r.confirm_win_rate is None else f"{r.confirm_win_rate:.3f}"
            idea = clean(r.idea).replace("|", "/")
            lines.append(f"| {r.id} | {idea} | {sel} | {out} | {r.confirmation or 'not run'} |")
        lines.append("")
    return lines


def _score(row: HypothesisRow) -> str:
    """A row's win rate at selection, or its fate when it has none."""
    if row.selection_win_rate is not None and row.outcome is not None:
        return f"{row.selection_win_rate:.3f}" + (" (flagged)" if row.flagged else "")
    return str(row.outcome or row.stage)


def lineage_lines(
    rows: list[HypothesisRow], picks: dict[str, str], references: int = 0
) -> list[str]:
    """The campaign's lineage (experiment iteration): every hypothesis that has children, as a
    tree with each child under its parent, its win rate at selection and the change from its
    parent's; ``picks`` says how each child's parent was picked (hypothesis id -> best,
    diverse), from the ledger's ``parent`` events; ``references``: how many of ``rows`` are
    reference points, not proposals. Empty when no proposal built on another."""
    by_id = {r.id: r for r in rows}
    children: dict[str, list[HypothesisRow]] = {}
    for r in rows:
        if r.parent is not None and r.parent in by_id:
            children.setdefault(r.parent, []).append(r)
    if not children:
        return []
    roots = [r for r in rows if r.id in children and (r.parent is None or r.parent not in by_id)]
    made = sum(r.parent is not None for r in rows)
    ways = {w: sum(1 for v in picks.values() if v == w) for w in sorted(set(picks.values()))}
    how = ", ".join(f"{w} {n}" for w, n in ways.items())
    lines = [
        "## Lineage",
        "",
        f"{made} of {len(rows) - references} proposals build on an earlier hypothesis"
        + (f" (parent picked by: {how})" if how else "")
        + "; each is listed under its parent, with its win rate at selection and the change "
        "from its parent's. A child of an edit task runs its parent's edits, then its own.",
        "",
    ]

    def walk(row: HypothesisRow, depth: int) -> None:
        parent = by_id.get(row.parent or "")
        step = ""
        if parent is not None and row.outcome is not None:
            mine, theirs = row.selection_win_rate, parent.selection_win_rate
            if mine is not None and theirs is not None:
                step = f" ({mine - theirs:+.3f})"
        way = f", by {picks[row.id]}" if row.id in picks else ""
        idea = clean(row.idea)[:120]
        lines.append(f"{'  ' * depth}- {row.id}{way}: {idea}: {_score(row)}{step}")
        for child in children.get(row.id, []):
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    lines.append("")
    return lines


def lineage_picks(ledger: Ledger, campaign_id: str) -> dict[str, str]:
    """How each child's parent was picked (hypothesis id -> best, diverse): the proposer's
    ``parent`` events (``graph/nodes.py``); unreadable details are skipped."""
    picks = {}
    for _, _, detail in ledger.events(campaign_id, "parent"):
        try:
            found = json.loads(detail)
        except ValueError:
            continue
        if isinstance(found, dict) and isinstance(found.get("id"), str):
            picks[found["id"]] = str(found.get("by", ""))
    return picks


def lineage_line(rows: list[HypothesisRow]) -> str:
    """One line for ``hypoforge status``: how many proposals build on a parent and the chain of
    ancestors of the best scored hypothesis."""
    made = sum(r.parent is not None for r in rows)
    head = f"lineage: {made} of {len(rows)} proposals build on an earlier one"
    scored = [r for r in rows if r.selection_win_rate is not None and r.outcome is not None]
    if not made or not scored:
        return head
    by_id = {r.id: r for r in rows}
    best = max(scored, key=lambda r: r.selection_win_rate or 0.0)
    chain = [best]
    while chain[-1].parent in by_id and len(chain) <= len(rows):
        chain.append(by_id[chain[-1].parent or ""])
    if len(chain) < 2:
        return f"{head}; the best, {best.id}, is a fresh idea"
    steps = " > ".join(f"{r.id} ({_score(r)})" for r in reversed(chain))
    return f"{head}; the best's line: {steps}"


def lineage_status(folder: Path) -> str:
    """``lineage_line`` of the campaign in ``folder`` (for ``hypoforge status``)."""
    info = campaign.load(folder)
    ledger = Ledger(folder / "ledger.sqlite")
    try:
        return lineage_line(ledger.hypotheses(info.id))
    finally:
        ledger.close()


def _plot_lineage(out: Path, rows: list[HypothesisRow]) -> bool:
    """Each scored proposal's win rate in the order it was made, a line from each child to its
    parent: which ideas were built on, and whether building on them paid."""
    import matplotlib.pyplot as plt

    place = {r.id: i for i, r in enumerate(rows)}
    win: dict[str, float] = {
        r.id: r.selection_win_rate
        for r in rows
        if r.outcome is not None and r.selection_win_rate is not None
    }
    pairs = [
        (r, r.parent) for r in rows if r.id in win and r.parent is not None and r.parent in win
    ]
    if not pairs:
        return False
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for child, parent in pairs:
        xs = [place[parent], place[child.id]]
        ax.plot(xs, [win[parent], win[child.id]], color="C0", lw=0.8, alpha=0.7)
    shown = [r for r in rows if r.id in win]
    ax.plot(
        [place[r.id] for r in shown],
        [win[r.id] for r in shown],
        "o",
        color="C1",
        ms=4,
    )
    ax.axhline(0.5, color="black", lw=0.8, ls=":")
    ax.set_xticks(list(place.values()), list(place), rotation=90, fontsize=7)
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel("win rate at selection")
    ax.set_title("lineage: each child joined to its parent")
    _save(fig, out / "lineage.png")
    return True


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_progress(out: Path, rows: list[HypothesisRow]) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    xs = list(range(len(rows)))
    screen = [r.screen_win_rate if r.screen_win_rate is not None else np.nan for r in rows]
    full = [r.full_win_rate if r.full_win_rate is not None else np.nan for r in rows]
    failed = [i for i, r in enumerate(rows) if r.screen_win_rate is None]
    ax.plot(xs, screen, "o", label="one-pass screening")
    ax.plot(xs, full, "s", label="full budget")
    ax.plot(failed, [0.0] * len(failed), "x", color="grey", label="rejected / failed")
    ax.axhline(0.5, color="black", lw=0.8, ls=":")
    ax.set_xticks(xs, [r.id for r in rows], rotation=90, fontsize=7)
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel("win rate")
    ax.legend(fontsize=7)
    ax.set_title("win rate per proposal, in order")
    _save(fig, out / "progress.png")


def _plot_heatmap(
    out: Path,
    leaders: list[HypothesisRow],
    reports: dict[str, EvalReport],
    metric: str = "test accuracy",
) -> bool:
    import matplotlib.pyplot as plt

    datasets = sorted({d for r in leaders for d in reports[r.id].per_dataset})
    if not datasets:
        return False
    grid = np.array(
        [
            [
                (s.candidate - max(s.baselines.values()))
                if (s := reports[r.id].per_dataset.get(d))
                else np.nan
                for d in datasets
            ]
            for r in leaders
        ]
    )
    fig, ax = plt.subplots(figsize=(1.2 * len(datasets) + 2, 0.6 * len(leaders) + 1.5))
    lim = max(0.01, float(np.nanmax(np.abs(grid))))
    im = ax.imshow(grid, cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(len(datasets)), datasets, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(leaders)), [r.id for r in leaders], fontsize=8)
    fig.colorbar(im, ax=ax, label=f"{metric} minus best baseline")
    ax.set_title("leaders per dataset")
    _save(fig, out / "heatmap.png")
    return True


def _plot_reward(out: Path, rows: list[HypothesisRow]) -> bool:
    """The reward model's predictions against what screening measured (pruned ones on the axis)."""
    import matplotlib.pyplot as plt

    ran = [r for r in rows if r.predicted is not None and r.screen_win_rate is not None]
    pruned = [r.predicted for r in rows if r.stage == "pruned" and r.predicted is not None]
    if not ran and not pruned:
        return False
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], color="black", lw=0.8, ls=":")
    predicted = np.array([r.predicted for r in ran], dtype=float)
    measured = np.array([r.screen_win_rate for r in ran], dtype=float)
    ax.plot(predicted, measured, "o", label="screened")
    ax.plot(pruned, [-0.03] * len(pruned), "|", color="grey", ms=12, label="pruned (not run)")
    ax.set_xlabel("predicted win rate")
    ax.set_ylabel("measured one-pass win rate")
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(-0.06, 1.05)
    ax.legend(fontsize=7)
    ax.set_title("reward model: predicted vs measured")
    _save(fig, out / "reward.png")
    return True


def _decisions(rows: list[HypothesisRow], alarms: list[str]) -> list[str]:
    """What was not run and why: duplicates with their originals, pruned with predictions,
    vetoed with who vetoed them."""
    lines = ["## What was not run, and why", ""]
    for r in rows:
        if r.stage == "duplicate":
            lines.append(
                f"- {r.id} ({clean(r.idea)}): behaves like {r.duplicate_of}, result reused"
            )
        elif r.stage in ("pruned", "vetoed"):
            lines.append(f"- {r.id} ({clean(r.idea)}): {clean(r.reason)}")
    lines += [f"- reward collapse alarm: {a}" for a in alarms]
    return [*lines, ""] if len(lines) > 2 else []


def write_tsv(path: Path, rows: list[HypothesisRow]) -> None:
    fields = list(HypothesisRow.model_fields)
    with path.open("w", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(fields)
        for r in rows:
            values = [getattr(r, k) for k in fields]
            w.writerow(
                [
                    ""
                    if v is None
                    else json.dumps(v, sort_keys=True)
                    if isinstance(v, (dict, list))
                    else v
                    for v in values
                ]
            )


def _trust(home: Path | None, task: str, reports: dict[str, EvalReport]) -> list[str]:
    """What the fidelity measurement of this harness version says of the screening figures."""
    from evaluators import fidelity

    versions = sorted({r.harness_version for r in reports.values()})
    if home is None or not versions:
        return []
    lines = ["## How far screening can be trusted", ""]
    for version in versions:
        found = fidelity.load(home, task, version)
        if found is None:
            lines.append(
                f"No fidelity measured for harness {version}: run `hypoforge fidelity {task}`."
            )
        else:
            lines += [f"Fidelity of harness {version} (`hypoforge fidelity`):", ""]
            lines += fidelity.summary_lines(found)
    return [*lines, ""]


def task_plugin(task: str) -> Any:
    """The plugin of ``task`` (its report hooks and metric), None for an unknown task."""
    from evaluators import registry

    try:
        return registry.get(task)
    except ConfigError:
        return None


def commentary_problem(findings: str) -> str | None:
    """Why the analyst's commentary in a findings file (``graph.nodes.analyze``'s layout: the
    measured table, the keep rule, then the commentary) is left out of the report, or None: more
    than half of its numbers and hypothesis ids (``agents.analyst.unsupported``) are not in the
    table."""
    from agents.analyst import HYPOTHESIS_ID, unsupported

    lines = findings.splitlines()
    if COMMENTARY not in lines:
        return None
    at = lines.index(COMMENTARY)
    table = "\n".join(line for line in lines[:at] if line.startswith("|"))
    text = "\n".join(line for line in lines[at + 1 :] if not line.startswith(FLAGGED))
    # Counted as ``unsupported`` counts: distinct numbers of two characters or more, distinct ids.
    numbers = {n for n in numbers_in(text) if len(n) > 1}
    total = len(numbers) + len(set(HYPOTHESIS_ID.findall(text)))
    bad = len(unsupported(text, table))
    if total == 0 or 2 * bad <= total:
        return None
    return (
        "The analyst's commentary is left out: most of its numbers are not in the table "
        f"({bad} of {total})"
    )


def _findings(text: str) -> list[str]:
    """A findings file's lines for the report (its heading dropped), the commentary left out
    when ``commentary_problem`` says so."""
    lines = text.splitlines()[1:]
    problem = commentary_problem(text)
    if problem is None:
        return lines
    kept = lines[: lines.index(COMMENTARY)]
    while kept and not kept[-1].strip():
        kept.pop()
    return [*kept, "", problem]


def _task_figures(
    hooks: ReportHooks | None,
    out: Path,
    leaders: list[HypothesisRow],
    reports: dict[str, EvalReport],
    home: Path | None,
) -> list[str]:
    if hooks is None:
        return []
    lines = []
    for name, caption in hooks.figures(out, leaders, reports, home):
        lines += [f"![{caption}]({name})", ""]
    return lines


def write_report(folder: Path, home: Path | None = None) -> Path:
    """Write ``<folder>/report/report.md`` with its plots and ``ledger.tsv``; return the path.
    ``home``: the installation: where the fidelity figures of the harness are stored (quoted
    when there) and the data secret and attempt folders the task's figures may need."""
    import matplotlib

    matplotlib.use("Agg")
    info = campaign.load(folder)
    plugin = task_plugin(info.task)
    hooks = None if plugin is None else hooks_for(plugin)
    evaluator = None if plugin is None else plugin.evaluator_class()
    ledger = Ledger(folder / "ledger.sqlite")
    try:
        rows = ledger.hypotheses(info.id)
        reports = _best_report(ledger, info.id)
        tokens, launches = ledger.usage(info.id)
        stops = ledger.events(info.id, "stop")
        alarms = [detail for _, _, detail in ledger.events(info.id, "collapse")]
        picks = lineage_picks(ledger, info.id)
        how = provenance.gather(ledger, info, rows, ledger.results(info.id), plugin)
    finally:
        ledger.close()
    out = folder / "report"
    out.mkdir(exist_ok=True)
    scored = [r for r in rows if r.id in reports]
    leaders = sorted(scored, key=lambda r: reports[r.id].win_rate or 0, reverse=True)[:LEADERS]
    write_tsv(out / "ledger.tsv", rows)
    references = f" and {len(how.references)} reference points" if how.references else ""
    lines = [
        f"# Campaign {info.id} ({info.task})",
        "",
        f"{len(how.proposed)} proposals{references}, {len(scored)} scored, {launches} sandbox "
        f"runs, {tokens} LLM tokens. Stopped: {stops[-1][2] if stops else 'not yet'}.",
        "",
        "## How it ran",
        "",
        *(f"- {key}: {value}" for key, value in how.setup().items()),
        "",
    ]
    if rows:
        _plot_progress(out, rows)
        lines += ["![win rate per proposal](progress.png)", ""]
    if leaders:
        lines += [
            "## Leaders",
            "",
            "| id | idea | budget | win rate | 95% CI |",
            "|---|---|---|---|---|",
        ]
        for r in leaders:
            rep = reports[r.id]
            lo, hi = rep.win_rate_ci or (math.nan, math.nan)
            idea = clean(r.idea).replace("|", "/") + (f" ({r.known})" if r.known else "")
            lines.append(
                f"| {r.id} | {idea} | {rep.budget} | {rep.win_rate:.3f} | {lo:.3f}-{hi:.3f} |"
            )
        lines.append("")
        if _plot_heatmap(out, leaders, reports, metric_of(evaluator)):
            lines += ["![per-dataset heatmap](heatmap.png)", ""]
        lines += _task_figures(hooks, out, leaders, reports, home)
    tree = lineage_lines(rows, picks, len(how.references))
    lines += tree
    if tree and _plot_lineage(out, rows):
        lines += ["![lineage](lineage.png)", ""]
    lines += _confirmation(rows)
    lines += published_lines(rows)
    lines += _trust(home, info.task, reports)
    if _plot_confirmation(out, rows):
        lines += ["![selection against held-out win rates](confirmation.png)", ""]
    lines += _decisions(rows, alarms)
    if _plot_reward(out, rows):
        lines += ["![reward model](reward.png)", ""]
    lines += [
        "## Every proposal",
        "",
        "See [ledger.tsv](ledger.tsv): stage, verdict (the critic's, or `run` where no critic "
        "reviewed: a search generator's or a reference row) and "
        "predicted chance to win, outcome, reason and the harness's flags, the win rate of every "
        "rung, the keep decision and the held-out figures.",
        "",
    ]
    for f in sorted((folder / "findings").glob("round-*.md")):
        lines += [f"## Findings: {f.stem}", "", *_findings(f.read_text()), ""]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
