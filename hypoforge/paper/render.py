"""The paper's LaTeX: our template, the tables and figure list rendered from the facts, and the
sentences code writes where a model's prose is missing or was refused.

Every table cell is either escaped text or a figure printed by ``Facts``'s formats and added to
``Facts.figures`` as it is printed, so the grounding of the prose and the reviewer's trace use
exactly what the paper shows. The template (``template.tex``) needs only Debian's
texlive-latex-base, -recommended and -fonts-recommended.
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2

from core.records import HypothesisRow
from hypoforge.paper import provenance
from hypoforge.paper.facts import Facts, number
from hypoforge.paper.latex import escape, escape_lines

TEMPLATE = Path(__file__).with_name("template.tex")
BODY_MARK = "HF-BODY-PAGES"  # typed out to the log with the page the references start on
SECTIONS = ("abstract", "introduction", "related", "method", "results", "limitations", "conclusion")


def _n(facts: Facts, value: float | None, places: int = 3) -> str:
    shown = number(value, places)
    if shown != "-":
        facts.figures.add(float(shown))
    return shown


def _idea(row: HypothesisRow, width: int = 70) -> str:
    text = " ".join(row.idea.split())
    return escape(text if len(text) <= width else text[: width - 3] + "...")


def leaders_table(facts: Facts) -> str:
    rows = []
    for r in facts.leaders:
        rep = facts.reports[r.id]
        lo, hi = rep.win_rate_ci or (None, None)
        ci = f"[{_n(facts, lo)}, {_n(facts, hi)}]" if lo is not None else "-"
        held = _n(facts, r.confirm_win_rate)
        verdict = escape(r.confirmation or ("not kept" if r.kept is False else "not run"))
        known = f" ({escape(r.known)})" if r.known else ""
        rows.append(
            f"{escape(r.id)} & {_idea(r, 48)}{known} & {escape(rep.budget)} & "
            f"{_n(facts, rep.win_rate)} & {ci} & {held} & {verdict} \\\\"
        )
    if not rows:
        return ""
    return (
        "\\begin{table}[t]\n\\centering\\small\n"
        "\\caption{The leading hypotheses: win rate against the baselines on the selection "
        "splits at the highest budget each reached, its 95\\% confidence interval, and the win "
        "rate on held-out splits for those kept. The figures are measured by the sandboxed "
        "harness; the ideas are printed as the ledger records them.}\n\\label{tab:leaders}\n"
        "\\begin{tabular}{lp{5.2cm}lrlrl}\n\\toprule\n"
        "id & idea & budget & win rate & 95\\% CI & held-out & verdict \\\\\n\\midrule\n"
        + "\n".join(rows)
        + "\n\\bottomrule\n\\end{tabular}\n\\end{table}\n"
    )


def datasets_table(facts: Facts, top: int = 2) -> str:
    leaders = facts.leaders[:top]
    datasets = facts.datasets
    if not leaders or not datasets:
        return ""
    head = " & ".join(f"{escape(r.id)}" for r in leaders)
    lines = []
    for d in datasets:
        cells = []
        best_name, best = "", None
        for r in leaders:
            s = facts.reports[r.id].per_dataset.get(d)
            cells.append(_n(facts, s.candidate, 4) if s else "-")
            if s and s.baselines:
                name, value = max(s.baselines.items(), key=lambda kv: kv[1])
                if best is None or value > best:
                    best_name, best = name, value
        lines.append(
            f"{escape(d)} & "
            + " & ".join(cells)
            + f" & {_n(facts, best, 4)} ({escape(best_name)}) \\\\"
        )
    cols = "l" + "r" * len(leaders) + "l"
    return (
        "\\begin{table}[t]\n\\centering\\small\n"
        f"\\caption{{{escape(facts.how.metric[:1].upper() + facts.how.metric[1:])} per dataset "
        "(mean over seeds) of the two leading hypotheses, beside the best baseline on that "
        "dataset.}\n\\label{tab:datasets}\n"
        f"\\begin{{tabular}}{{{cols}}}\n\\toprule\n"
        f"dataset & {head} & best baseline \\\\\n\\midrule\n"
        + "\n".join(lines)
        + "\n\\bottomrule\n\\end{tabular}\n\\end{table}\n"
    )


def known_table(facts: Facts) -> str:
    if not facts.known:
        return ""
    lines = []
    for r in facts.known:
        name = (r.known or "").split(" ", 2)[-1]
        key = facts.cite(name)
        cite = f"\\citet{{{key}}}" if key else escape(r.citation or "")
        rate = _n(facts, r.screen_win_rate)
        lines.append(f"{escape(r.id)} & {escape(r.known or '')} & {rate} & {cite} \\\\")
    return (
        "\\begin{table}[t]\n\\centering\\small\n"
        "\\caption{Hypotheses that behave like a published component (matched by the probe's "
        "fingerprint against the task's catalogue): reference points, never discoveries.}\n"
        "\\label{tab:known}\n\\begin{tabular}{llrl}\n\\toprule\n"
        "id & match & screened win rate & reference \\\\\n\\midrule\n"
        + "\n".join(lines)
        + "\n\\bottomrule\n\\end{tabular}\n\\end{table}\n"
    )


def not_run_table(facts: Facts) -> str:
    lines = []
    for r in facts.rows:
        if r.stage in ("pruned", "vetoed", "duplicate", "rejected", "invalid", "failed"):
            why = r.reason or (f"behaves like {r.duplicate_of}" if r.duplicate_of else "")
            lines.append(
                f"{escape(r.id)} & {escape(str(r.stage))} & {_idea(r, 60)}: "
                f"{escape(why[:120])} \\\\"
            )
    if not lines:
        return ""
    return (
        "\\begin{table}[t]\n\\centering\\small\n"
        "\\caption{Proposals that were not scored, and why (the ledger's stage and reason).}\n"
        "\\label{tab:notrun}\n\\begin{tabular}{llp{9cm}}\n\\toprule\n"
        "id & stage & idea and reason \\\\\n\\midrule\n"
        + "\n".join(lines[:30])
        + "\n\\bottomrule\n\\end{tabular}\n\\end{table}\n"
    )


def setup_table(facts: Facts) -> str:
    lines = []
    for k, v in facts.setup().items():
        facts.figures.add(v)
        lines.append(f"{escape(k)} & {escape(v)} \\\\")
    return (
        "\\begin{table}[h]\n\\centering\\small\n"
        "\\caption{Experimental setup, from the campaign's records.}\n\\label{tab:setup}\n"
        "\\begin{tabular}{lp{10cm}}\n\\toprule\n"
        + "\n".join(lines)
        + "\n\\bottomrule\n\\end{tabular}\n\\end{table}\n"
    )


def bundles_table(facts: Facts, bundles: dict[str, Path]) -> str:
    if not bundles:
        return "No result was scored, so there is no bundle to list.\n"
    lines = []
    for hid, path in bundles.items():
        rep = facts.reports[hid]
        rel = path.relative_to(facts.folder) if path.is_relative_to(facts.folder) else path
        facts.figures.add(rep.code_sha[:12])
        lines.append(
            f"{escape(hid)} & {escape(rep.budget)} & {escape(rep.split_set or '')} & "
            f"\\texttt{{{escape(rep.code_sha[:12])}}} & \\texttt{{{escape(str(rel))}}} \\\\"
        )
    return (
        "\\begin{table}[h]\n\\centering\\small\n"
        "\\caption{The reproduction bundle of every result reported: re-run each with "
        "\\texttt{hypoforge reproduce DIR ID}.}\n\\label{tab:bundles}\n"
        "\\begin{tabular}{lllll}\n\\toprule\n"
        "id & budget & splits & code sha256 & bundle \\\\\n\\midrule\n"
        + "\n".join(lines)
        + "\n\\bottomrule\n\\end{tabular}\n\\end{table}\n"
    )


def code_listings(facts: Facts, ids: list[str], code: dict[str, str]) -> str:
    parts = []
    for hid in ids:
        if hid in code:
            parts.append(f"\\paragraph{{{escape(hid)}}}\n" + escape_lines(code[hid], 60))
    return "\n".join(parts)


def figure_block(name: str, caption: str) -> str:
    return (
        "\\begin{figure}[t]\n\\centering\n"
        "\\includegraphics[width=0.75\\linewidth,height=0.3\\textheight,keepaspectratio]"
        f"{{figures/{name}}}\n"
        f"\\caption{{{escape(caption)}}}\n\\end{{figure}}\n"
    )


def report_figures(report_md: Path) -> list[tuple[str, str]]:
    """The report's plots as (file name, caption), in its order (the report is ours)."""
    found = []
    for line in report_md.read_text().splitlines():
        m = re.fullmatch(r"!\[([^\]]*)\]\(([\w.-]+\.png)\)", line.strip())
        if m and (report_md.parent / m.group(2)).is_file():
            found.append((m.group(2), m.group(1)))
    return found


def default_prose(section: str, facts: Facts) -> str:
    """What code writes for ``section``: plain, and true by construction."""
    scored = len(facts.scored)
    base = ", ".join(facts.baselines) or "the task's baselines"
    found = facts.discoveries
    if section == "abstract":
        refs = len(facts.how.references)
        made = len(facts.how.proposed)
        beside = (
            f" (and {refs} reference point{'s' if refs > 1 else ''} from the task's catalogue)"
            if refs
            else ""
        )
        head = (
            f"We report an automated search for {facts.task} components: {made} "
            f"{'hypothesis was' if made == 1 else 'hypotheses were'} proposed{beside}, "
            f"{scored} {'was' if scored == 1 else 'were'} scored by a sandboxed harness "
            f"against {base} on "
            f"{len(facts.datasets)} datasets."
        )
        if found:
            verb = "was" if len(found) == 1 else "were"
            return head + " " + f"{len(found)} {verb} confirmed on held-out splits."
        return head + " None was confirmed on held-out splits, so no discovery is claimed."
    if section == "introduction":
        told = provenance.sentences(facts.how)
        return " ".join(
            [
                f"The task: {facts.summary or facts.task}.",
                *told["proposed"],
                *told["template"],
                "This paper reports what was measured, with every figure taken from the "
                "campaign's ledger.",
            ]
        )
    if section == "related":
        if not facts.sources:
            return "No published component was matched and no literature search was cited."
        cited = ", ".join(f"\\cite{{{s.key}}}" for s in facts.sources[:12])
        return f"The baselines and the published components this campaign met are {cited}."
    if section == "method":
        told = provenance.sentences(facts.how)
        return " ".join([*told["scored"], *told["lineage"]])
    if section == "results":
        if not facts.leaders:
            return "No hypothesis was scored."
        best = facts.leaders[0]
        rate = number(facts.reports[best.id].win_rate)
        what = (
            f"The best-scored row, {best.id}, is a reference point from the task's catalogue, "
            "not a proposal; it"
            if best.id in facts.how.references
            else f"The best-scored hypothesis, {best.id},"
        )
        return (
            f"{what} reached a win rate of {rate} at the "
            f"{facts.reports[best.id].budget} budget (see the table of leading hypotheses). "
            + (
                "Confirmed on held-out splits: " + ", ".join(r.id for r in found) + "."
                if found
                else "No hypothesis was confirmed on held-out splits."
            )
        )
    if section == "limitations":
        return (
            "The models are small and the datasets few; win rates are measured on a handful "
            "of seeds, so their intervals are wide. Screening figures are selected and regress "
            "on held-out splits. A result measured on one device may differ on another."
        )
    if section == "conclusion":
        return (
            "Every result above can be re-run from its reproduction bundle (Appendix A)."
            if facts.scored
            else "The campaign produced no scored result."
        )
    raise ValueError(f"unknown section {section}")


def render(variables: dict[str, object]) -> str:
    env = jinja2.Environment(
        block_start_string="<%",
        block_end_string="%>",
        variable_start_string="<<",
        variable_end_string=">>",
        comment_start_string="<#",
        comment_end_string="#>",
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    return env.from_string(TEMPLATE.read_text()).render(**variables)
