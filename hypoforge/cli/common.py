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

from core.errors import ConfigError, HypoforgeError, InfraError
from core.settings import Settings, load_settings
from core.text import clean

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
    "preflight_llm",
    "spinner",
    "task_evaluator",
    "with_executor",
    "workers",
]

out = Console()
err = Console(stderr=True)

BUDGETS = ("one-pass", "short", "full")

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="TOML settings file.", dir_okay=False)
]


def make_sandbox(settings: Settings) -> Sandbox:
    """The one place a concrete sandbox is built (tests replace this function): this machine's
    Docker engine, or a Ray cluster's nodes (``[executor] type = "ray"``, ``--executor ray``)."""
    if settings.executor.type == "ray":
        from sandbox.ray_sandbox import RaySandbox

        return RaySandbox(
            settings.sandbox, settings.executor.ray_address, workers=settings.sandbox.workers
        )
    from sandbox.docker_sandbox import DockerSandbox

    box = settings.sandbox
    if box.warm_dir is None:  # on HYPOFORGE_HOME's filesystem: outputs renamed, not copied
        box = box.model_copy(update={"warm_dir": settings.home / "warm"})
    return DockerSandbox(box, workers=workers(settings))


def workers(settings: Settings, sandbox: Sandbox | None = None) -> int:
    """Containers at once: ``[sandbox] workers`` (``--workers``), else what the sandbox knows
    it holds (a cluster's slots), else what this machine's cores and memory allow. On this
    machine, when jobs take GPUs, each worker has its own, so never more workers than the
    GPUs hold (with none found, one: the sandbox's preflight then says why it cannot run)."""
    from sandbox.capacity import default_workers, gpu_cap, gpu_ids

    box = settings.sandbox
    ray = settings.executor.type == "ray"  # the cluster's GPUs are Ray's to place
    gpus = len(gpu_ids(box)) if box.limits.gpus and not ray else 0
    cap = None if ray else gpu_cap(box.limits, gpus)
    if box.workers:
        return box.workers if cap is None else max(1, min(box.workers, cap))
    known = sandbox.capacity() if sandbox is not None else None
    limits = box.limits.model_copy(update={"gpus": 0}) if ray else box.limits
    return known or default_workers(limits, gpus=gpus)


def with_executor(settings: Settings, executor: str | None, address: str | None) -> Settings:
    """``settings`` with the command line's ``--executor`` and ``--ray-address``."""
    update = {k: v for k, v in (("type", executor), ("ray_address", address)) if v is not None}
    if not update:
        return settings
    if update.get("type", "local") not in ("local", "ray"):
        raise ConfigError(f"--executor: 'local' or 'ray', not {update['type']!r}")
    return settings.model_copy(update={"executor": settings.executor.model_copy(update=update)})


def preflight_llm(settings: Settings, base_url: str) -> int:
    """One tiny call per model the roles use, before any work: a bad key, model or quota is
    an ``InfraError`` naming the cause. Returns the tokens spent."""
    from agents.llm import make_chat_model, preflight
    from hypoforge.campaign import ROLES

    tiny = settings.llm.model_copy(update={"max_tokens": 16})
    named = {str(role): model for role, model in settings.llm.roles.items()}
    roles = {named.get(r, settings.llm.model): r for r in ROLES}
    return sum(preflight(make_chat_model(tiny, base_url, role)) for role in roles.values())


def make_scholar(settings: Settings) -> Any:
    """The online literature check of ``[literature]`` (``literature.scholar.Scholar``), its
    responses cached in HOME/literature; keys from the environment."""
    from literature.scholar import Scholar, ScholarConfig

    lit = settings.literature
    config = ScholarConfig(
        sources=list(lit.sources),
        semantic_scholar_url=lit.semantic_scholar_url,
        openalex_url=lit.openalex_url,
        cap_seconds=lit.cap_seconds,
        cache_days=lit.cache_days,
        breaker_seconds=lit.breaker_seconds,
    )
    return Scholar(config, settings.home / "literature")


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
def _session(
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
