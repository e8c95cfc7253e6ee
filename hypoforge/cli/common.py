"""What every ``hypoforge`` command shares: the consoles, the ``--config`` option, the budgets,
settings loading, the sandbox factory and the translation of domain errors into exit codes.

Exit codes: 0 when an outcome was recorded (invalid, timeout, oom... included); 1 when a self-test
found a weakness; 2 for usage and configuration errors; 3 for infrastructure errors (Docker, disk,
image). Domain errors become one-line messages here and nowhere else.

The command modules look ``make_sandbox`` up on this module at call time
(``common.make_sandbox(...)``), so a test replaces the sandbox of every command by patching
``hypoforge.cli.common.make_sandbox``.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from hypoforge.errors import HypoforgeError, InfraError
from hypoforge.settings import Settings, load_settings
from hypoforge.text import clean

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from sandbox.base import Sandbox

__all__ = [
    "BUDGETS",
    "ConfigOpt",
    "Settings",
    "_fail",
    "_open_llm",
    "_session",
    "err",
    "load_settings",
    "make_sandbox",
    "out",
    "spinner",
    "task_evaluator",
]

out = Console()
err = Console(stderr=True)

BUDGETS = ("one-pass", "short", "full")

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="TOML settings file.", dir_okay=False)
]


def make_sandbox(settings: Settings) -> Sandbox:
    """The one place a concrete sandbox is built (tests replace this function)."""
    from sandbox.docker_sandbox import DockerSandbox

    return DockerSandbox(settings.sandbox)


@contextmanager
def spinner(quiet: bool) -> Iterator[Callable[[str], None]]:
    """A status line on stderr while long work runs (none when ``quiet``, e.g. with ``--json``);
    yields the function that updates it."""
    if quiet:
        yield lambda message: None
        return
    with err.status("starting", spinner="dots") as status:
        yield status.update


def task_evaluator(
    plugin: Any, settings: Settings, sandbox: Sandbox, notify: Any = None, **options: Any
) -> Any:
    """The task's evaluator as every command builds it: the settings' home, container limits
    and attempt retention, plus the command's own ``options`` (a split set, say)."""
    if notify is not None:
        options["notify"] = notify
    return plugin.make_evaluator(
        sandbox,
        settings.home,
        settings.sandbox.limits,
        keep=settings.sandbox.keep_attempts,
        **options,
    )


def _fail(exc: HypoforgeError) -> typer.Exit:
    code = 3 if isinstance(exc, InfraError) else 2
    kind = "infrastructure error" if code == 3 else "error"
    err.print(f"hypoforge: {kind}: {clean(exc)}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def _session(config: Path | None, reap: bool = True) -> Iterator[tuple[Settings, Sandbox]]:
    """Settings and a checked sandbox; errors become exit codes; the sandbox is always closed.

    Orphans of crashed runs are removed at the start (``reap``) and this run's own at the end.
    """
    try:
        settings = load_settings(config)
        sandbox = make_sandbox(settings)
        sandbox.preflight()
        if reap:
            sandbox.reap_orphans()
    except HypoforgeError as exc:
        raise _fail(exc) from None
    try:
        yield settings, sandbox
    except HypoforgeError as exc:
        raise _fail(exc) from None
    finally:
        sandbox.close()


def _open_llm(settings: Settings, folder: Path) -> Any:
    """A context manager yielding the endpoint's base URL: the embedded server, or a checked URL."""
    from contextlib import nullcontext

    from hypoforge.llm_server import embedded_server, wait_healthy

    if settings.campaign.generator == "search":
        return nullcontext(None)  # the built-in generator needs no language model
    if settings.llm.endpoint == "embedded":
        return embedded_server(settings.llm.model, log=folder / "llm-server.log")
    wait_healthy(settings.llm.endpoint.rstrip("/"), timeout=10)
    return nullcontext(settings.llm.endpoint.rstrip("/"))
