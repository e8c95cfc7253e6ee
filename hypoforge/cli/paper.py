"""``hypoforge paper DIR``: the campaign's paper, written from its records and compiled safely.

Tables, figures and setup facts come from code; a model writes the prose around them (the
embedded one by default, ``--llm URL`` for a better one, ``--llm none`` for code's sentences),
and whatever it says that code did not provide is removed (``DIR/paper/writeup-log.md``). The
LaTeX compiles in the TeX sandbox image (``make tex-image``). Exit 1 when the body is over
``--pages``; the PDF is kept.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer

from core.errors import HypoforgeError
from hypoforge.cli import common
from hypoforge.cli.common import ConfigOpt, fail, out, session, spinner

PENALTY = 0.6  # the writer's frequency penalty: a small model repeats its sentences otherwise


def _llm(settings: Any, choice: str | None, folder: Path) -> Any:
    """A context manager yielding the endpoint's base URL, or None for code's prose."""
    from hypoforge.llm_server import embedded_server, wait_healthy

    endpoint = choice or settings.llm.endpoint
    if endpoint == "none":
        return nullcontext(None)
    if endpoint == "embedded":
        return embedded_server(settings.llm.model, log=folder / "llm-server.log")
    wait_healthy(endpoint.rstrip("/"), timeout=10)
    return nullcontext(endpoint.rstrip("/"))


def paper_cmd(
    folder: Annotated[Path, typer.Argument(help="Campaign folder.")],
    llm: Annotated[
        str | None,
        typer.Option(
            "--llm",
            help="'embedded', an OpenAI-compatible URL, or 'none' (code's "
            "sentences only). Default: the settings' [llm] endpoint.",
        ),
    ] = None,
    pages: Annotated[
        int | None, typer.Option("--pages", min=1, max=100, help="Page limit of the body.")
    ] = 8,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Write a campaign's paper as a PDF (DIR/paper/paper.pdf), with its write-up log.

    Every number in it comes from the campaign's ledger. Needs Docker (LaTeX compiles in a
    sandbox) and a language model for the prose (with --llm none, code's sentences only)."""
    import json

    from agents.prompting import render
    from hypoforge import campaign
    from hypoforge.paper.build import write_paper

    try:
        info = campaign.load(folder)
    except HypoforgeError as exc:
        raise fail(exc) from None
    with session(config, reap=False) as (settings, sandbox), spinner(as_json) as notify:
        texbox = common.make_texbox(settings)
        texbox.ensure_image(notify)  # built on first use, its steps on the status line
        (folder / "paper").mkdir(exist_ok=True)
        with _llm(settings, llm, folder / "paper") as url:
            writing = settings.llm.model_copy(update={"temperature": 0.3, "max_tokens": 320})
            model = (
                None
                if url is None
                else common.make_chat_model(writing, url, "analyst", frequency_penalty=PENALTY)
            )
            system = render(
                "system", None, role="writer of a research paper", task_description=info.task
            )
            result = write_paper(
                folder,
                texbox,
                model,
                pages,
                home=settings.home,
                sandbox=sandbox,
                system=system,
                notify=notify,
            )
    summary = {
        "pdf": str(result.pdf),
        "pages": result.pages,
        "body_pages": result.body_pages,
        "page_limit": pages,
        "over_pages": result.over_pages,
        "removed_sentences": result.removed,
        "compiles": len(result.compiles),
        "chktex_warnings": len(result.chktex),
        "bundles": result.bundles,
        "sections": {k: w.source for k, w in result.sections.items()},
        "log": str(result.folder / "writeup-log.md"),
    }
    if as_json:
        print(json.dumps(summary))
    else:
        _say(
            f"paper: {result.pdf} ({result.pages} pages, body {result.body_pages}"
            f"{f' of {pages}' if pages else ''})"
        )
        written = ", ".join(f"{k} {w.source}" for k, w in result.sections.items())
        _say(f"prose: {written}; {result.removed} sentences removed by the checks")
        _say(
            f"compiles: {len(result.compiles)}; chktex warnings: {len(result.chktex)}; "
            f"bundles: {len(result.bundles)}"
        )
        _say(f"write-up log: {result.folder / 'writeup-log.md'}")
    if result.over_pages:
        _say(f"the body is {result.body_pages} pages, over --pages {pages}")
        raise typer.Exit(1)


def _say(text: str) -> None:
    out.print(text, markup=False, highlight=False, soft_wrap=True)
