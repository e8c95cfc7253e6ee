"""``hypoforge serve [DIR ...]``: the web dashboard over campaign folders (``hypoforge.web``)."""

from __future__ import annotations

import getpass
import os
import secrets
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from core.errors import ConfigError, HypoforgeError
from hypoforge.cli.common import ConfigOpt, fail, load_settings, out

if TYPE_CHECKING:
    from starlette.applications import Starlette

TOKEN_ENV = "HYPOFORGE_SERVE_TOKEN"
MIN_TOKEN = 16  # characters of a token from the environment (a drawn one has 32)


def serve_cmd(
    dirs: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="DIR",
            help="Campaign folders, or folders of campaign folders "
            "(default: the campaigns folder under HYPOFORGE_HOME).",
        ),
    ] = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on; any but loopback needs the token.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 8765,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Show the campaigns; no steering.")
    ] = False,
    who: Annotated[
        str | None, typer.Option(help="Your name in the ledger for steering (default USER@web).")
    ] = None,
    token_on_loopback: Annotated[
        bool,
        typer.Option(
            "--token",
            help="Ask for the token on loopback too (a machine other users log in to).",
        ),
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """A web dashboard over campaigns: watch, compare and steer them from a browser.

    Pages update live; steering (directives, approve / veto / revise, pause / resume / stop,
    lower budgets) goes through the same store as `hypoforge chat`. Listens on loopback by
    default; any other address needs the token (from HYPOFORGE_SERVE_TOKEN, or drawn and
    printed) on every request, and so does loopback with --token (other users of the machine
    can reach loopback too)."""
    from hypoforge.web.auth import is_loopback

    try:
        folders = dirs or [load_settings(config).home / "campaigns"]
        for folder in folders:
            if not folder.is_dir() and not dirs:
                raise ConfigError(
                    f"no campaigns yet ({folder} does not exist): start one with "
                    "`hypoforge run`, or name a campaign folder"
                )
            if not folder.is_dir():
                raise ConfigError(f"no such folder: {folder}")
        token = os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(24)
        if len(token) < MIN_TOKEN:
            raise ConfigError(f"{TOKEN_ENV} is too short to guard anything: {MIN_TOKEN} or more")
        sock = listen(host, port)
    except HypoforgeError as exc:
        raise fail(exc) from None
    require_token = token_on_loopback or not is_loopback(host)
    bound = sock.getsockname()[1]
    app = build_app(folders, token, require_token, read_only, who, host, bound)
    from hypoforge.web.data import CampaignReader, find_campaigns

    found = find_campaigns(folders)
    shown = ", ".join(CampaignReader(f).slug for f in found[:20]) or "none yet"
    more = f" and {len(found) - 20} more" if len(found) > 20 else ""
    out.print(
        f"serving {len(found)} campaign(s) from {', '.join(map(str, folders))}: {shown}{more}",
        markup=False,
        highlight=False,
    )
    url = f"http://{_url_host(host)}:{bound}/"
    if require_token:
        url += f"?token={token}"
    out.print(f"open {url}", markup=False, highlight=False, soft_wrap=True)
    if read_only:
        out.print("read-only: no steering from the page", markup=False)
    out.print("stop with Ctrl-C", markup=False, style="dim")
    run(app, sock)


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port``, or ``ConfigError`` in one line (a port in use, an
    address this machine does not have)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise ConfigError(f"--host {host}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} (try another --port)"
        ) from None
    sock.set_inheritable(True)
    return sock


def build_app(
    folders: list[Path],
    token: str,
    require_token: bool,
    read_only: bool,
    who: str | None,
    host: str,
    port: int,
) -> Starlette:
    from hypoforge.web.app import make_app

    return make_app(
        folders,
        token=token,
        require_token=require_token,
        read_only=read_only,
        who=who or f"{getpass.getuser()}@web",
        host=host,
        port=port,
    )


def run(app: Any, sock: socket.socket) -> None:
    """Serve ``app`` on ``sock`` until interrupted (a test replaces this)."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            # Open live feeds end at once, so Ctrl-C does not wait out the graceful timeout
            # with a browser tab open (and print uvicorn's traceback of the cancelled stream).
            dashboard = getattr(getattr(app, "state", None), "dashboard", None)
            if dashboard is not None:
                dashboard.closing = True
            super().handle_exit(sig, frame)

    server = Server(
        uvicorn.Config(
            app,
            log_level="warning",
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=2,
        )
    )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0", "::"):
        return socket.gethostname()
    return f"[{host}]" if ":" in host else host
