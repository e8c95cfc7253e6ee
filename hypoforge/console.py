"""Rendering records for people (rich) and for programs (JSON)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from core.records import EvalReport, Outcome
from core.text import cell, clean, shown
from sandbox.selftest import ProbeReport


def eval_table(report: EvalReport) -> Table:
    """Per-dataset accuracies of the candidate next to each baseline."""
    title = f"{report.task} · {report.budget} · status [bold]{report.status}[/]"
    table = Table(title=title, title_justify="left")
    table.add_column("dataset")
    table.add_column("candidate", justify="right")
    names = sorted({b for s in report.per_dataset.values() for b in s.baselines})
    for b in names:
        table.add_column(b, justify="right")
    table.add_column("win rate", justify="right")
    for dataset, s in report.per_dataset.items():
        best = max(s.baselines.values())
        cand = f"{s.candidate:.3f}"
        if s.candidate >= best:
            cand = f"[green]{cand}[/]"
        cells = [f"{s.baselines[b]:.3f}" for b in names]
        table.add_row(dataset, cand, *cells, f"{s.win_rate:.2f}")
    return table


def print_eval(console: Console, report: EvalReport, metric: str = "test accuracy") -> None:
    if report.status is Outcome.OK and report.win_rate is not None:
        console.print(eval_table(report))
        lo, hi = report.win_rate_ci or (report.win_rate, report.win_rate)
        console.print(
            f"win rate [bold]{report.win_rate:.3f}[/] (95% CI {lo:.3f}-{hi:.3f}) over "
            f"{report.comparisons} comparisons (dataset x seed x baseline); metric: {metric}"
        )
        for flag in report.flags:
            console.print(f"[bold yellow]flagged:[/] {shown(flag)}", markup=True, highlight=False)
    else:
        console.print(
            f"status [bold red]{report.status}[/]: {shown(report.reason)}", highlight=False
        )
        if report.log_tail.strip():
            console.print("[dim]last output:[/]")
            console.print(clean(report.log_tail).strip()[-1500:], markup=False, highlight=False)
    console.print(
        f"[dim]image {report.image} · harness {report.harness_version} · "
        f"{report.wall_seconds:.1f} s[/]"
    )


def probe_table(reports: list[ProbeReport]) -> Table:
    table = Table(title="sandbox self-test", title_justify="left")
    for col in ("#", "probe", "expected", "got", "seconds", "result"):
        table.add_column(col, justify="right" if col in ("#", "seconds") else "left")
    for r in reports:
        verdict = "[green]pass[/]" if r.passed else f"[red]FAIL[/] {shown(r.problem)}"
        table.add_row(
            str(r.probe.case),
            r.probe.name,
            str(r.probe.expect),
            str(r.result.outcome),
            f"{r.result.wall_seconds:.1f}",
            verdict,
        )
    return table


def redteam_table(reports: list[Any]) -> Table:
    """One row per hostile hypothesis (``evaluators.redteam.CaseReport``): held or not."""
    table = Table(title="hostile hypotheses", title_justify="left")
    for col in ("#", "task", "attack", "expected", "got", "result"):
        table.add_column(col, justify="right" if col == "#" else "left")
    for r in reports:
        verdict = "[green]held[/]" if r.passed else f"[red]FAIL[/] {shown(r.problem)}"
        table.add_row(
            str(r.case.number),
            r.case.task,
            cell(r.case.name),
            str(r.case.expect),
            str(r.report.status),
            verdict,
        )
    return table
