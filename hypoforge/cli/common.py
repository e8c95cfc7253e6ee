"""What every ``hypoforge`` command shares, its public surface listed in ``__all__``: the
consoles, the ``--config`` option, the budgets, settings with the command line's executor, the
sandbox factory, the LLM endpoint, the task's evaluator and the translation of domain errors
into exit codes.

Exit codes: 0 when an outcome was recorded (invalid, timeout, oom... included); 1 when a self-test
found a weakness; 2 for usage and configuration errors; 3 for infrastructure errors (Docker, disk,
image). Domain errors become one-line messages here (``fail``) and nowhere else.

The commands build what lies outside the process through this module's factories, looked up on
it at call time: ``make_sandbox``, ``make_evaluator`` (the task's data), ``make_texbox`` and
``make_chat_model``. A test hands every command its fake by replacing one of them on this module
(``monkeypatch.setattr(common, "make_sandbox", ...)``): typer's commands take no other arguments.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console

from core.errors import ConfigError, HypoforgeError, InfraError
from core.settings import ExecutorSettings, Settings, load_settings
from core.text import clean
from sandbox.factory import build as make_sandbox

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from agents.llm import ChatModel
    from core.settings import Limits, LLMSettings
    from evaluators.contract import TaskEvaluator
    from evaluators.registry import TaskPlugin
    from sandbox.base import Sandbox
    from sandbox.tex import TexBox

__all__ = [
    "BUDGETS",
    "ConfigOpt",
    "Settings",
    "err",
    "fail",
    "load_settings",
    "make_chat_model",
    "make_evaluator",
    "make_sandbox",
    "make_texbox",
    "open_llm",
    "out",
    "preflight_llm",
    "read_text",
    "session",
    "spinner",
    "task_evaluator",
    "with_executor",
]

out = Console()
err = Console(stderr=True)

BUDGETS = ("one-pass", "short", "full")

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="TOML settings file.", dir_okay=False)
]


def with_executor(settings: Settings, executor: str | None, address: str | None) -> Settings:
    """``settings`` with the command line's ``--executor`` (``docker``, its older name
    ``local``, or ``ray``) and ``--ray-address`` (with Ray only)."""
    if executor is None and address is None:
        return settings
    current = settings.executor.model_dump()
    kind = executor or current["type"]
    table = {"type": kind}
    if address is not None:
        table["ray_address"] = address
    elif kind == "ray" and current["type"] == "ray":
        table["ray_address"] = current["ray_address"]
    try:
        chosen = TypeAdapter(ExecutorSettings).validate_python(table)
    except ValidationError:
        if address is not None and kind != "ray":
            raise ConfigError("--ray-address: only with --executor ray") from None
        raise ConfigError(f"--executor: 'docker' (this machine) or 'ray', not {kind!r}") from None
    return settings.model_copy(update={"executor": chosen})


def make_chat_model(
    llm: LLMSettings, base_url: str, role: str, frequency_penalty: float | None = None
) -> ChatModel:
    """The chat model of ``role`` at ``base_url`` (``agents.llm.make_chat_model``, imported here
    on first use: the LLM client is slow to import and most commands need none)."""
    from agents.llm import make_chat_model as chat_model

    return chat_model(llm, base_url, role, frequency_penalty=frequency_penalty)


def make_texbox(settings: Settings) -> TexBox:
    """The TeX sandbox (``sandbox.tex.TexBox``): compiles a paper, extracts a PDF's text."""
    from sandbox.tex import TexBox

    return TexBox(settings.sandbox)


def make_evaluator(
    plugin: TaskPlugin, sandbox: Sandbox, home: Path, limits: Limits, **options: Any
) -> TaskEvaluator:
    """The task's evaluator, drawing the task's own data (``TaskPlugin.make_evaluator``)."""
    return plugin.make_evaluator(sandbox, home, limits, **options)


def preflight_llm(settings: Settings, base_url: str) -> int:
    """One tiny call per model the roles use, before any work: a bad key, model or quota is
    an ``InfraError`` naming the cause. Returns the tokens spent."""
    from agents.llm import preflight
    from hypoforge.campaign import ROLES

    tiny = settings.llm.model_copy(update={"max_tokens": 16})
    named = {str(role): model for role, model in settings.llm.roles.items()}
    roles = {named.get(r, settings.llm.model): r for r in ROLES}
    return sum(preflight(make_chat_model(tiny, base_url, role)) for role in roles.values())


def read_text(path: Path) -> str:
    """A file the user named, as text; ``ConfigError`` in one line when it cannot be read."""
    try:
        return path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text") from None


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
    plugin: TaskPlugin,
    settings: Settings,
    sandbox: Sandbox,
    notify: Callable[[str], None] | None = None,
    **options: Any,
) -> TaskEvaluator:
    """The task's evaluator as every command builds it: the settings' home, container limits
    and attempt retention, plus the command's own ``options`` (a split set, say)."""
    if notify is not None:
        options["notify"] = notify
    return make_evaluator(
        plugin,
        sandbox,
        settings.home,
        settings.sandbox.limits,
        keep=settings.sandbox.keep_attempts,
        **options,
    )


def fail(exc: HypoforgeError) -> typer.Exit:
    """The exit for a domain error, its one line printed: 3 for infrastructure, else 2."""
    code = 3 if isinstance(exc, InfraError) else 2
    kind = "infrastructure error" if code == 3 else "error"
    err.print(f"hypoforge: {kind}: {clean(exc)}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def session(
    config: Path | None,
    reap: bool = True,
    sandbox_workers: int | None = None,
    executor: tuple[str | None, str | None] = (None, None),
) -> Iterator[tuple[Settings, Sandbox]]:
    """Settings and a checked sandbox; errors become exit codes; the sandbox is always closed.

    Orphans of crashed runs are removed at the start (``reap``) and this run's own at the end.
    ``sandbox_workers`` overrides ``[sandbox] workers`` (``--workers``), ``executor`` the
    ``[executor]`` type and Ray address (``--executor``, ``--ray-address``).
    """
    try:
        settings = with_executor(load_settings(config), *executor)
        if sandbox_workers is not None:
            box = settings.sandbox.model_copy(update={"workers": sandbox_workers})
            settings = settings.model_copy(update={"sandbox": box})
        sandbox = make_sandbox(settings)
        sandbox.preflight()
        if reap:
            sandbox.reap_orphans()
    except HypoforgeError as exc:
        raise fail(exc) from None
    try:
        yield settings, sandbox
    except HypoforgeError as exc:
        raise fail(exc) from None
    finally:
        sandbox.close()


def open_llm(settings: Settings, folder: Path) -> AbstractContextManager[str]:
    """A context manager yielding the endpoint's base URL: the embedded server (its log in
    ``folder``), or the configured URL once it answers."""
    from contextlib import nullcontext

    from hypoforge.llm_server import embedded_server, wait_healthy

    if settings.llm.endpoint == "embedded":
        return embedded_server(settings.llm.model, log=folder / "llm-server.log")
    wait_healthy(settings.llm.endpoint.rstrip("/"), timeout=10)
    return nullcontext(settings.llm.endpoint.rstrip("/"))
