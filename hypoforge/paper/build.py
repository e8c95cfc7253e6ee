"""``write_paper``: from a campaign folder to a compiled, grounded PDF and its write-up log.

The steps, each bounded:
1. the report's plots (``hypoforge.report``), the facts (``facts.gather``), the image's versions
   read by a trusted job, a reproduction bundle for every scored hypothesis (``reproduce``);
2. the tables, setup and appendix rendered by code (their figures recorded as printed);
3. each section's prose from the writer (``writer.write_section``: grounded or removed);
4. before compiling: every ``\\cite`` key must be in ``references.bib`` and every figure file
   present, or the paper is refused;
5. the compile in the TeX sandbox (``sandbox.tex.TexBox``): on a failure, the sections the
   errors point into are written again with the error (a model), then printed escaped, then
   replaced by code's sentences; at most ``COMPILES`` compiles;
6. the page count of the body (up to the references) against ``pages``: the optional tables and
   figures move to the appendix, then the prose becomes code's; still over is reported.
Everything lands in ``DIR/paper/``: ``paper.pdf``, ``src/`` (the LaTeX), ``writeup-log.md`` and
``.json`` (what each section's writer did, what was removed and why, each compile's errors and
chktex's warnings), ``facts.json`` (the setup facts, for the reviewer).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConfigError, InfraError
from hypoforge.paper import render
from hypoforge.paper.facts import Facts, gather, image_versions
from hypoforge.paper.latex import escape, plain, prose
from hypoforge.paper.writer import Written, shown, write_section
from sandbox.removal import remove_tree

COMPILES = 6  # the first compile and at most five after failures (two for the bibliography)
CITE = re.compile(r"\\cite[pt]?\{([^{}]*)\}")
GRAPHIC = re.compile(r"\\includegraphics(?:\[[^\]]*\])?\{([^{}]*)\}")


@dataclass
class PaperResult:
    folder: Path
    pdf: Path | None = None
    pages: int | None = None
    body_pages: int | None = None
    limit: int | None = None
    compiles: list[dict[str, Any]] = field(default_factory=list)
    sections: dict[str, Written] = field(default_factory=dict)
    chktex: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)  # what the page limit moved or shortened
    bundles: list[str] = field(default_factory=list)

    @property
    def over_pages(self) -> bool:
        return self.limit is not None and (self.body_pages or 0) > self.limit

    @property
    def removed(self) -> int:
        return sum(len(w.removed) for w in self.sections.values())


def refused_before_compile(tex: str, bib_keys: set[str], folder: Path) -> list[str]:
    """Why ``tex`` may not be compiled: a cited key not in the bibliography, a figure missing."""
    why = []
    for m in CITE.finditer(tex):
        for key in (k.strip() for k in m.group(1).split(",")):
            if key not in bib_keys:
                why.append(f"\\cite of an unknown key {key!r}")
    for m in GRAPHIC.finditer(tex):
        if not (folder / m.group(1)).is_file():
            why.append(f"figure {m.group(1)!r} is missing")
    return sorted(set(why))


def _body_pages(log: Path) -> int | None:
    try:
        text = log.read_text(errors="replace")[-2_000_000:]
    except OSError:
        return None
    found = re.findall(rf"^{render.BODY_MARK}=(\d{{1,4}})$", text, re.MULTILINE)
    return int(found[-1]) if found else None


def _sections_at(tex: str, lines: list[int]) -> set[str]:
    """The sections whose prose holds any of ``lines`` (1-based lines of ``tex``)."""
    spans: dict[str, tuple[int, int]] = {}
    for n, line in enumerate(tex.splitlines(), 1):
        m = re.fullmatch(r"%hf-(begin|end)-(\w+)", line)
        if m:
            start, _ = spans.get(m.group(2), (n, n))
            spans[m.group(2)] = (start, n) if m.group(1) == "end" else (n, n)
    return {s for s, (a, b) in spans.items() for line in lines if a <= line <= b}


def _error_lines(errors: list[str]) -> list[int]:
    return [int(m.group(1)) for e in errors for m in re.finditer(r"(?:paper\.tex:|l\.)(\d+)", e)]


class _Paper:
    """The paper being built: its parts, re-rendered after each change."""

    def __init__(self, facts: Facts, out: Path, bundles: dict[str, Path]) -> None:
        self.facts = facts
        self.src = out / "src"
        self.keys = {s.key for s in facts.sources}
        self.tables = {
            "leaders_table": render.leaders_table(facts),
            "datasets_table": render.datasets_table(facts),
            "known_table": render.known_table(facts),
            "not_run_table": render.not_run_table(facts),
        }
        self.setup = render.setup_table(facts)
        self.bundles = render.bundles_table(facts, bundles)
        reported = [r.id for r in facts.leaders]
        code = {}
        for hid in reported:
            path = bundles.get(hid)
            if path is not None and (path.parent / "code.py").is_file():
                code[hid] = (path.parent / "code.py").read_text(errors="replace")
        self.listings = render.code_listings(facts, reported, code) or "No hypothesis was scored."
        self.figures: list[tuple[str, str]] = []
        # What the page limit moved out of the body: tables by name (re-rendered with the rest:
        # a dropped bibliography entry changes the known table's citations), then figures.
        self.appendix_tables: list[str] = []
        self.appendix_figures: list[tuple[str, str]] = []
        self.latex: dict[str, str] = {}
        self.texts: dict[str, tuple[str, bool]] = {}  # each section's prose as last set
        self.refused: dict[str, list[str]] = {}

    def drop_sources(self) -> str:
        """After a bibliography that would not compile: drop the search results' entries (text
        from the internet), the second time every entry; each section's citations of them
        are refused anew. Returns what was dropped, for the log."""
        searched = [s for s in self.facts.sources if s.origin.startswith("search")]
        gone = searched or list(self.facts.sources)
        self.facts.sources = [s for s in self.facts.sources if s not in gone]
        self.keys = {s.key for s in self.facts.sources}
        (self.src / "references.bib").write_text("\n".join(s.bibtex() for s in self.facts.sources))
        for section, text in self.texts.items():
            self.set_prose(section, text[0], literal=text[1])
        self.tables["known_table"] = render.known_table(self.facts)  # its \citet keys
        return "bibliography entries dropped after it failed to compile: " + ", ".join(
            s.key for s in gone
        )

    def set_prose(self, section: str, text: str, literal: bool = False) -> None:
        self.texts[section] = (text, literal)
        if literal:  # printed as text, nothing kept but the words
            body = "\n\n".join(escape(p) for p in re.split(r"\n\s*\n", plain(text)) if p.strip())
            refused: list[str] = []
        else:
            body, refused = prose(text, self.keys)
        self.refused[section] = refused
        self.latex[section] = f"%hf-begin-{section}\n{body}\n%hf-end-{section}"

    def tex(self) -> str:
        figures = [render.figure_block(name, caption) for name, caption in self.figures]
        body = {k: "" if k in self.appendix_tables else v for k, v in self.tables.items()}
        appendix = [self.tables[k] for k in self.appendix_tables] + [
            render.figure_block(name, caption) for name, caption in self.appendix_figures
        ]
        return render.render(
            {
                "title": escape(
                    f"An automated search for {self.facts.task} components: "
                    "what the measurements show"
                ),
                "campaign": escape(self.facts.campaign),
                **self.latex,
                "setup_table": self.setup,
                **body,
                "figures": figures,
                "body_mark": render.BODY_MARK,
                "cites": bool(self.facts.sources),
                "bundles_table": self.bundles,
                "listings": self.listings,
                "appendix_extra": "\n".join(appendix),
            }
        )

    def write(self) -> str:
        tex = self.tex()
        (self.src / "paper.tex").write_text(tex)
        return tex


def _copy_figures(report_md: Path, src: Path) -> list[tuple[str, str]]:
    (src / "figures").mkdir(parents=True, exist_ok=True)
    found = render.report_figures(report_md)
    for name, _ in found:
        shutil.copyfile(report_md.parent / name, src / "figures" / name)
    return found


def write_paper(
    folder: Path,
    texbox: Any,
    model: Any | None = None,
    pages: int | None = None,
    home: Path | None = None,
    sandbox: Any | None = None,
    system: str = "",
    notify: Callable[[str], None] = lambda message: None,
) -> PaperResult:
    """Write, check and compile the paper of the campaign in ``folder`` (see the module
    docstring). ``texbox``: a ``sandbox.tex.TexBox``; ``model``: a chat model for the prose
    (None: code's sentences); ``sandbox``: the job sandbox, to read the image's versions."""
    from hypoforge import reproduce
    from hypoforge.report import write_report

    out = folder / "paper"
    src = out / "src"
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    notify("plots")
    report = write_report(folder, home)
    facts = gather(folder, home)
    ref = facts.images[0] if len(facts.images) == 1 else None
    facts.image_versions = image_versions(sandbox, ref, out) if sandbox is not None else {}
    facts.figures.add(facts.summary)  # the task's own words (task.toml), in the brief
    facts.figures.add(95)  # the intervals' level, as the tables print it
    facts.figures.update(
        [
            len(facts.rows),
            len(facts.scored),
            len(facts.datasets),
            len(facts.discoveries),
            len(facts.known),
            facts.launches,
            facts.tokens,
        ]
    )
    notify("reproduction bundles")
    bundles: dict[str, Path] = {}
    unbundled: list[str] = []
    for r in facts.scored:
        try:
            bundles[r.id] = reproduce.write_bundle(folder, r.id)
        except ConfigError as exc:  # its records do not make a bundle: said, not fatal
            unbundled.append(f"{r.id}: {exc}")
    paper = _Paper(facts, out, bundles)
    paper.figures = _copy_figures(report, src)
    result = PaperResult(out, limit=pages, bundles=sorted(bundles))
    result.moved += [f"no reproduction bundle for {u}" for u in unbundled]
    (src / "references.bib").write_text("\n".join(s.bibtex() for s in facts.sources))
    for section in render.SECTIONS:
        notify(f"writing: {section}")
        result.sections[section] = write_section(model, section, facts, system)
        paper.set_prose(section, shown(result.sections[section], facts))
    printed = {
        **facts.setup(),
        "images": facts.images,
        "references": [s.model_dump() for s in facts.sources],
    }
    (out / "facts.json").write_text(json.dumps(printed, indent=1))
    try:
        _compile_loop(paper, texbox, model, system, result, notify)
        if pages is not None and result.over_pages:
            _fit(paper, texbox, model, system, result, notify)
    finally:  # a paper that did not compile has its log too
        _log(result, paper)
    return result


def _compile(paper: _Paper, texbox: Any, result: PaperResult, notify: Callable[[str], None]) -> Any:
    tex = paper.write()
    refused = refused_before_compile(tex, paper.keys, paper.src)
    if refused:  # code's own output failing this is a bug; nothing reaches the compiler
        raise ConfigError(f"the paper was refused before compiling: {'; '.join(refused)}")
    build = paper.src.parent / f"build-{len(result.compiles) + 1}"
    if not remove_tree(build):  # the compiler's container wrote there: no recursion, no links
        raise InfraError(f"the earlier build folder could not be removed: {build}")
    build.mkdir()
    notify(f"compiling ({len(result.compiles) + 1})")
    compiled = texbox.compile(paper.src, build)
    # No mark in the log (cut short, say): the whole PDF counts as the body.
    body = _body_pages(build / "paper.log") or compiled.pages
    result.compiles.append(
        {
            "ok": compiled.ok,
            "outcome": str(compiled.outcome),
            "reason": compiled.reason,
            "errors": compiled.errors,
            "warnings": compiled.warnings[:20],
            "pages": compiled.pages,
            "body_pages": body,
            "seconds": round(compiled.seconds, 1),
        }
    )
    result.chktex = compiled.chktex
    if compiled.ok and compiled.pdf is not None:
        shutil.copyfile(compiled.pdf, paper.src.parent / "paper.pdf")
        result.pdf = paper.src.parent / "paper.pdf"
        result.pages, result.body_pages = compiled.pages, body
    return compiled


def _compile_loop(
    paper: _Paper,
    texbox: Any,
    model: Any,
    system: str,
    result: PaperResult,
    notify: Callable[[str], None],
) -> None:
    compiled = _compile(paper, texbox, result, notify)
    fallbacks = ["rewrite", "literal", "code"]
    while not compiled.ok and len(result.compiles) < COMPILES:
        if _bibliography_failed(compiled) and paper.facts.sources:
            result.moved.append(paper.drop_sources())
            compiled = _compile(paper, texbox, result, notify)
            continue
        step = fallbacks.pop(0) if fallbacks else "code"
        hit = _sections_at(paper.tex(), _error_lines(compiled.errors)) or set(render.SECTIONS)
        error = "; ".join(compiled.errors[:3]) or compiled.reason
        for section in sorted(hit):
            written = result.sections[section]
            if step == "rewrite" and model is not None and written.source != "code":
                again = write_section(
                    model,
                    section,
                    paper.facts,
                    system,
                    problem=f"the LaTeX did not compile: {error[:300]}",
                )
                again.removed = written.removed + again.removed
                result.sections[section] = again
                paper.set_prose(section, shown(again, paper.facts))
            elif step in ("rewrite", "literal"):
                paper.set_prose(section, shown(written, paper.facts), literal=True)
            else:
                _to_code(paper, result, section, system, "replaced: did not compile")
        compiled = _compile(paper, texbox, result, notify)
    if not compiled.ok:
        raise InfraError(
            f"the paper did not compile after {len(result.compiles)} tries: "
            f"{(compiled.errors or [compiled.reason])[0]} (see {paper.src.parent}/writeup-log.md)"
        )


def _to_code(paper: _Paper, result: PaperResult, section: str, system: str, why: str) -> None:
    """``section``'s prose replaced by code's sentences (their citations kept), the model's
    text logged as removed with ``why``."""
    written = result.sections[section]
    code = write_section(None, section, paper.facts, system)
    code.removed = [*written.removed, (written.text, why)]
    result.sections[section] = code
    paper.set_prose(section, code.text)


def _bibliography_failed(compiled: Any) -> bool:
    """bibtex failed, or pdflatex failed in the bibliography it wrote (``paper.bbl``)."""
    said = " ".join([compiled.reason, *compiled.errors])
    return "bibtex" in said.lower() or ".bbl" in said


def _fit(
    paper: _Paper,
    texbox: Any,
    model: Any,
    system: str,
    result: PaperResult,
    notify: Callable[[str], None],
) -> None:
    """Bring the body within the page limit: optional tables and figures to the appendix, then
    code's (shorter) prose; each step compiled and measured."""
    moved = [k for k in ("not_run_table", "datasets_table", "known_table") if paper.tables[k]]
    if moved or len(paper.figures) > 1:
        paper.appendix_tables += moved
        extra, paper.figures = paper.figures[1:], paper.figures[:1]
        paper.appendix_figures += extra
        result.moved.append(
            "tables and figures moved to the appendix: " + ", ".join(moved + [n for n, _ in extra])
        )
        _compile_loop(paper, texbox, model, system, result, notify)
    if result.over_pages:
        for section in render.SECTIONS:
            if result.sections[section].source != "code":
                _to_code(paper, result, section, system, "replaced: over the page limit")
        result.moved.append("model prose replaced by code's shorter sentences")
        _compile_loop(paper, texbox, model, system, result, notify)


def _log(result: PaperResult, paper: _Paper) -> None:
    out = result.folder
    data = {
        "pdf": str(result.pdf) if result.pdf else None,
        "pages": result.pages,
        "body_pages": result.body_pages,
        "page_limit": result.limit,
        "over_pages": result.over_pages,
        "moved": result.moved,
        "bundles": result.bundles,
        "sections": {k: asdict(w) for k, w in result.sections.items()},
        "refused_citations": paper.refused,
        "compiles": result.compiles,
        "chktex": result.chktex[:100],
    }
    (out / "writeup-log.json").write_text(json.dumps(data, indent=1))
    lines = ["# Write-up log", ""]
    pages = f"{result.pages} pages, body {result.body_pages}"
    lines += [f"- PDF: {result.pdf or 'none'} ({pages}; limit {result.limit or 'none'})"]
    lines += [f"- {m}" for m in result.moved]
    lines += [
        f"- reproduction bundles: {', '.join(result.bundles) or 'none'}",
        "",
        "## Sections",
        "",
    ]
    for name, w in result.sections.items():
        lines.append(f"### {name}: {w.source} ({w.rounds} model calls, {w.tokens} tokens)")
        for sentence, why in w.removed:
            lines.append(f'- removed: "{" ".join(sentence.split())[:300]}" ({why})')
        for key in paper.refused.get(name, []):
            lines.append(f"- refused citation key: {key!r}")
        lines += [f"- model error: {e}" for e in w.errors]
        lines.append("")
    lines += ["## Compiles", ""]
    for n, c in enumerate(result.compiles, 1):
        state = "ok" if c["ok"] else f"failed ({c['outcome']}: {c['reason']})"
        lines.append(f"{n}. {state}, {c['pages']} pages, body {c['body_pages']}, {c['seconds']} s")
        lines += [f"   - {e}" for e in c["errors"]]
    lines += ["", f"## chktex ({len(result.chktex)} warnings)", ""]
    lines += [f"- {w}" for w in result.chktex[:50]]
    (out / "writeup-log.md").write_text("\n".join(lines) + "\n")
