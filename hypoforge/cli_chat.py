"""``hypoforge chat DIR``: a terminal chat that steers a running or paused campaign."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

from hypoforge import cli
from hypoforge.errors import HypoforgeError


@cli.app.command("chat")
def chat_cmd(
    folder: Annotated[Path, typer.Argument(help="Campaign folder.")],
    who: Annotated[str | None, typer.Option(help="Your name in the ledger.")] = None,
) -> None:
    """Steer a campaign: directives to agents, approve or veto queued hypotheses, pause, resume,
    stop, lower budgets. Type help for the commands."""
    from hypoforge.chat import Chat

    try:
        chat = Chat(folder, who or getpass.getuser())
    except HypoforgeError as exc:
        raise cli._fail(exc) from None
    cli.out.print(f"chat with campaign {chat.info.id} ({chat.info.task}); type help or quit")
    try:
        while True:
            try:
                line = cli.out.input("[bold]hypoforge>[/] ")
            except EOFError:
                break
            try:
                reply = chat.handle(line)
            except HypoforgeError as exc:
                cli.err.print(f"[red]{exc}[/]", highlight=False)
                continue
            if reply is None:
                break
            if reply != "":
                cli.out.print(reply, highlight=False)
    finally:
        chat.close()
