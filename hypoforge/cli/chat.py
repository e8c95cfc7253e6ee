"""``hypoforge chat DIR``: a terminal chat that steers a running or paused campaign."""

from __future__ import annotations

import getpass
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer

from core.errors import HypoforgeError
from core.text import clean, shown
from hypoforge.cli.common import ConfigOpt, err, fail, open_llm, out


def chat_cmd(
    folder: Annotated[Path, typer.Argument(help="Campaign folder.")],
    who: Annotated[str | None, typer.Option(help="Your name in the ledger.")] = None,
    llm: Annotated[
        str | None, typer.Option(help="The analyst's LLM for `ask`: 'embedded' or a URL.")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Steer a campaign while it runs: directives, approvals, questions, pause or stop.

    Give the agents standing directives, approve or veto queued hypotheses, ask the analyst,
    pause, resume or stop the campaign, or lower its budgets. Type help for the commands."""
    from core.settings import load_settings
    from hypoforge.chat import Chat

    stack = ExitStack()
    model: list[Any] = []

    def analyst_model() -> Any:
        """Started on the first question only: the embedded server takes a few seconds."""
        if not model:
            from agents.llm import make_chat_model

            settings = load_settings(config)
            if llm is not None:
                endpoint = settings.llm.model_copy(update={"endpoint": llm})
                settings = settings.model_copy(update={"llm": endpoint})
            out.print("[dim]starting the analyst's language model...[/]")
            url = stack.enter_context(open_llm(settings, folder))
            model.append(make_chat_model(settings.llm, url, "analyst"))
        return model[0]

    archives: list[Any] = []

    def archive() -> Any:
        """The cross-campaign archive of this machine, opened on the first question."""
        if not archives:
            from evaluators.novelty import NoveltyArchive

            path = load_settings(config).home / "archive"
            archives.append(NoveltyArchive(path) if path.exists() else None)
        return archives[0]

    try:
        chat = Chat(folder, who or getpass.getuser(), analyst_model, archive)
    except HypoforgeError as exc:
        raise fail(exc) from None
    out.print(f"chat with campaign {chat.info.id} ({chat.info.task}); type help or quit")
    with stack:
        try:
            while True:
                try:
                    line = out.input("[bold]hypoforge>[/] ")
                except EOFError:
                    break
                try:
                    reply = chat.handle(line)
                except HypoforgeError as exc:
                    err.print(f"[red]{shown(exc)}[/]", highlight=False)
                    continue
                if reply is None:
                    break
                if isinstance(reply, str):
                    if reply:
                        out.print(clean(reply), highlight=False, markup=False)
                else:
                    out.print(reply)
        finally:
            chat.close()
