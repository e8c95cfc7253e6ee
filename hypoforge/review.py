"""Reviewing a paper: where it is found, its text, the review's record and files, and (from
``hypoforge.review_checks``) the checks trusted code computes on it.

The reviewer model (``agents.reviewer``) judges what it reads; the checks establish what it
cannot: whether each number the paper prints is one the campaign's records hold
(``core.grounding``), whether each claimed improvement has its confidence interval clear of
0.5 and was confirmed on held-out splits, whether a result the harness flagged (a bigger model,
say) or a published component is presented as a plain win or as new, and whether each hypothesis
the paper names has its reproduction bundle. A blocking check that fails makes the decision a
reject whatever the reviews say.

The paper's text comes from ``pdftotext`` inside a hardened container (``sandbox.tex.TexBox``):
the PDF is untrusted input.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agents.reviewer import SCORES, MetaReview, Review
from core.errors import ConfigError
from core.text import clean
from hypoforge.review_checks import MAX_TEXT, CodeCheck, campaign_figures, code_checks

__all__ = [
    "CodeCheck",
    "ReviewResult",
    "campaign_figures",
    "code_checks",
    "locate",
    "markdown",
    "paper_text",
    "review_folder",
    "write_review",
]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReviewResult(_Record):
    """A paper's review: the reviews, code's meta-review, the checks, and what went wrong."""

    source: str  # the PDF reviewed
    campaign: str | None  # the campaign folder whose records the checks read
    reviews: list[Review]
    meta: MetaReview
    checks: list[CodeCheck]
    failed: list[int] = Field(default_factory=list)  # reviews that could not be parsed
    reflections: list[int] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    tokens: int = 0
    truncated: bool = False


# -- the paper --------------------------------------------------------------------------------
def locate(source: Path, campaign_dir: Path | None = None) -> tuple[Path, Path | None]:
    """The PDF to review and the campaign folder whose records it is checked against: for a
    folder, its ``paper/paper.pdf`` and the folder; a PDF in a campaign's ``paper/`` finds its
    campaign; ``campaign_dir`` overrides. ``ConfigError`` in one line for bad input."""
    if not source.exists():
        raise ConfigError(f"no such file or folder: {source}")
    found: Path | None = None
    if source.is_dir():
        pdf = source / "paper" / "paper.pdf"
        if not pdf.is_file():
            raise ConfigError(f"no paper in {source} (no paper/paper.pdf)")
        found = source if (source / "campaign.json").is_file() else None
    else:
        pdf = source
        if pdf.suffix.lower() != ".pdf" or not _starts_like_pdf(pdf):
            raise ConfigError(f"{source} is not a PDF")
        above = pdf.resolve().parent.parent
        if pdf.resolve().parent.name == "paper" and (above / "campaign.json").is_file():
            found = above
    if campaign_dir is not None:
        if not (campaign_dir / "campaign.json").is_file():
            raise ConfigError(f"no campaign in {campaign_dir} (no campaign.json)")
        found = campaign_dir
    return pdf, found


def _starts_like_pdf(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(5) == b"%PDF-"
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None


def paper_text(
    source: Path, texbox: Any, campaign_dir: Path | None = None
) -> tuple[str, Path | None]:
    """The paper's text (``texbox.text(pdf, out_dir)``: pdftotext in a container) and its
    campaign folder (``locate``). A PDF with no text is a ``ConfigError``."""
    pdf, folder = locate(source, campaign_dir)
    with tempfile.TemporaryDirectory(prefix="hypoforge-review-") as tmp:
        text = clean(texbox.text(pdf, Path(tmp)))[:MAX_TEXT]
    if not text.strip():
        raise ConfigError(f"{pdf} holds no text (a scanned PDF?): nothing to review")
    return text, folder


# -- the files -----------------------------------------------------------------------------------
def review_folder(pdf: Path, folder: Path | None) -> tuple[Path, str]:
    """Where a review is written and its files' stem: ``DIR/review/review.*`` for a campaign,
    else ``<name>.review.*`` beside the PDF."""
    if folder is not None:
        return folder / "review", "review"
    return pdf.parent, f"{pdf.stem}.review"


def write_review(folder: Path, result: ReviewResult, stem: str = "review") -> Path:
    """Write ``<stem>.json`` and a readable ``<stem>.md`` in ``folder``; return the latter."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.json").write_text(result.model_dump_json(indent=1))
    path = folder / f"{stem}.md"
    path.write_text(markdown(result))
    return path


def markdown(result: ReviewResult) -> str:
    """The review as Markdown: meta-review, scores, checks, each review, errors."""
    meta = result.meta
    lines = [
        f"# Review of {result.source}",
        "",
        f"**Decision: {meta.decision}** ({meta.reason}).",
        "",
        f"{clean(meta.summary)} _(summary by the {meta.summary_by})_",
        "",
        "| review | " + " | ".join(SCORES) + " | decision |",
        "|---" * (len(SCORES) + 2) + "|",
    ]
    for i, r in enumerate(result.reviews, 1):
        lines.append(
            f"| {i} | " + " | ".join(str(v) for v in r.scores().values()) + f" | {r.decision} |"
        )
    if meta.scores:
        lines.append(
            "| mean | " + " | ".join(str(v) for v in meta.scores.values()) + f" | {meta.decision} |"
        )
    lines += ["", "## Code checks", ""]
    for c in result.checks:
        state = "passed" if c.ok else ("FAILED, blocking" if c.blocking else "failed")
        lines.append(f"- **{c.name}** ({state}): {c.detail}")
        lines += [f"  - {clean(i)}" for i in c.items]
    for i, r in enumerate(result.reviews, 1):
        lines += ["", f"## Review {i}", "", clean(r.summary), ""]
        for part in ("strengths", "weaknesses", "questions", "limitations"):
            lines += [f"{part.capitalize()}:", *[f"- {clean(x)}" for x in getattr(r, part)], ""]
        lines.append(f"Ethical concerns: {'yes' if r.ethical_concerns else 'no'}.")
    if result.failed:
        lines += ["", f"Reviews left out (could not be parsed): {result.failed}."]
    if result.errors:
        lines += ["", "## Errors", "", *[f"- {clean(e)}" for e in result.errors]]
    return "\n".join(lines) + "\n"
