"""``hypoforge review PAPER.pdf|DIR``: an ensemble of reviews of a paper, its meta-review, and the
checks code computes on it against the campaign's records (numbers traced, claims with their
CIs and held-out confirmation, flagged results, known components, reproduction bundles).

Exit 0 when the paper was reviewed (accepted or not), 2 for bad input, 3 when Docker (which
extracts the PDF's text) or the LLM endpoint is down.
"""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from core.errors import HypoforgeError
from core.text import cell, clean
from hypoforge.cli import common
from hypoforge.cli.common import ConfigOpt, fail, load_settings, open_llm, out, spinner

if TYPE_CHECKING:
    from agents.reviewer import Reviewed
    from core.settings import Settings
    from hypoforge.review import ReviewResult

REVIEW_TOKENS = 1000  # the longest form the schema allows is about 700 tokens


def review_cmd(
    source: Annotated[Path, typer.Argument(help="A paper's PDF, or a campaign folder.")],
    reviews: Annotated[
        int, typer.Option("--reviews", min=1, max=10, help="Independent reviews.")
    ] = 3,
    reflections: Annotated[
        int, typer.Option("--reflections", min=0, max=5, help="Self-reflection rounds each.")
    ] = 1,
    campaign_dir: Annotated[
        Path | None,
        typer.Option("--campaign", help="The campaign whose records the paper is checked on."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Review a campaign's paper (or any PDF) the way a conference would, and check it.

    K reviews with R reflections each and a meta-review by the language model, and code's
    checks of every number and claim against the campaign's ledger. Needs Docker (the text is
    extracted in a sandbox) and a language model (the embedded one by default).

    For a campaign folder DIR the paper is DIR/paper/paper.pdf and the review goes to
    DIR/review/; for a PDF elsewhere, beside it. A blocking check that fails (an invented
    number, a discovery the ledger does not hold, a published component called new) makes the
    decision a reject."""
    from hypoforge import review

    try:
        settings = load_settings(config)
        pdf, folder = review.locate(source, campaign_dir)
        with spinner(as_json) as notify:
            notify("extracting the paper's text")
            with closing(common.make_texbox(settings)) as texbox:
                texbox.ensure_image(notify)  # built on first use; Docker down: exit 3
                text, folder = review.paper_text(source, texbox, campaign_dir)
            checks = review.code_checks(text, folder)
            where, stem = review.review_folder(pdf, folder)
            notify(f"reviewing ({reviews} reviews, {reflections} reflections each)")
            found = _review(settings, where, folder, text, checks, (reviews, reflections))
        result = review.ReviewResult(
            source=str(pdf),
            campaign=None if folder is None else str(folder),
            reviews=found.reviews,
            meta=found.meta,
            checks=checks,
            failed=found.failed,
            reflections=found.reflections,
            errors=found.errors,
            tokens=found.tokens,
            truncated=found.truncated,
        )
        path = review.write_review(where, result, stem)
    except HypoforgeError as exc:
        raise fail(exc) from None
    if as_json:
        print(json.dumps({**result.model_dump(mode="json"), "written": str(path)}))
        return
    _print(result, path)


def _review(
    settings: Settings,
    where: Path,
    folder: Path | None,
    text: str,
    checks: list,
    rounds: tuple[int, int],
) -> Reviewed:
    """The reviews by the settings' model, each reply held to the form's schema where the
    endpoint takes one (llama.cpp). The embedded server's log goes beside the review in a
    campaign, else to HYPOFORGE_HOME (not beside a stranger's PDF)."""
    from agents.reviewer import review_paper

    llm = settings.llm.model_copy(update={"max_tokens": REVIEW_TOKENS})
    task_dir, description = _task(folder)
    logs = where if folder is not None else settings.home
    logs.mkdir(parents=True, exist_ok=True)
    with open_llm(settings, logs) as url:
        model = common.make_chat_model(llm, url, "reviewer")
        return review_paper(
            model,
            text,
            checks,
            *rounds,
            retries=settings.llm.retries,
            constrain=settings.llm.use_grammar,
            task_dir=task_dir,
            task_description=description,
        )


def _task(folder: Path | None) -> tuple[Path | None, str]:
    """The campaign's task folder (its prompt overrides) and summary; none without a campaign
    or for a task this installation does not know."""
    from agents.prompting import task_facts
    from core.errors import ConfigError
    from evaluators import registry
    from hypoforge import campaign

    if folder is None:
        return None, ""
    try:
        plugin = registry.get(campaign.load(folder).task)
    except ConfigError:
        return None, ""
    return plugin.folder, task_facts(plugin.folder)["summary"]


def _print(result: ReviewResult, path: Path) -> None:
    from rich.table import Table

    from agents.reviewer import SCORES

    meta = result.meta
    _say(f"decision: {meta.decision} ({meta.reason})")
    _say(f"meta-review ({meta.summary_by}): {clean(meta.summary)}")
    table = Table(title="reviews", title_justify="left")
    for col in ("review", *SCORES, "decision"):
        table.add_column(col)
    for i, r in enumerate(result.reviews, 1):
        table.add_row(str(i), *(str(v) for v in r.scores().values()), r.decision)
    if meta.scores:
        table.add_row("mean", *(str(v) for v in meta.scores.values()), meta.decision)
    out.print(table)
    if result.failed:
        _say(f"left out (could not be parsed): reviews {', '.join(map(str, result.failed))}")
    for c in result.checks:
        state = "ok" if c.ok else ("FAILED (blocking)" if c.blocking else "failed")
        _say(f"check {c.name}: {state}: {c.detail}")
        for item in c.items:
            out.print("  ", cell(item, 200), sep="")
    for e in result.errors[:10]:
        _say(f"error: {clean(e)}")
    _say(f"review: {path} ({result.tokens} tokens)")


def _say(text: str) -> None:
    out.print(text, markup=False, highlight=False, soft_wrap=True)
