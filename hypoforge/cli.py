"""The ``hypoforge`` command: thin typer commands over the library.

Exit codes: 0 when an outcome was recorded (invalid, timeout, oom... included); 1 when a self-test
found a weakness; 2 for usage and configuration errors; 3 for infrastructure errors (Docker, disk,
image). Domain errors become one-line messages here and nowhere else.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from hypoforge.errors import ConfigError, HypoforgeError, InfraError
from hypoforge.records import Outcome
from hypoforge.settings import Settings, load_settings
from hypoforge.text import cell, clean

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sandbox.base import Sandbox

app: typer.Typer = typer.Typer(
    add_completion=False, no_args_is_help=True, help=__doc__.split("\n")[0]
)

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


@app.command("eval")
def eval_cmd(
    path: Annotated[Path, typer.Argument(help="Hypothesis file (see `hypoforge tasks list`).")],
    task: Annotated[str, typer.Option(help="Research task.")] = "activation",
    budget: Annotated[
        str, typer.Option(help="one-pass (screening), short (the ladder's middle) or full.")
    ] = "one-pass",
    splits: Annotated[
        str, typer.Option(help="The task's split set: selection, confirmation (held out) or hard.")
    ] = "selection",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Evaluate one hypothesis in the sandbox and report its win rate against the baselines."""
    from evaluators import registry

    try:
        plugin = registry.get(task)
        source = path.read_text()
        if budget not in BUDGETS:
            raise ConfigError(f"unknown budget {budget!r}; choose one of: {', '.join(BUDGETS)}")
    except OSError as exc:
        raise _fail(ConfigError(f"cannot read {path}: {exc.strerror}")) from None
    except UnicodeDecodeError:
        raise _fail(ConfigError(f"{path} is not UTF-8 text")) from None
    except ConfigError as exc:
        raise _fail(exc) from None
    with _session(config) as (settings, sandbox):
        status = err.status("starting", spinner="dots") if not as_json else None

        def notify(stage: str) -> None:
            if status is not None:
                status.update(stage)

        evaluator = plugin.make_evaluator(
            sandbox,
            settings.home,
            settings.sandbox.limits,
            notify=notify,
            keep=settings.sandbox.keep_attempts,
            split_set=splits,
        )
        if status is not None:
            status.start()
        try:
            report = evaluator.evaluate(source, budget)
        finally:
            if status is not None:
                status.stop()
    if as_json:
        print(report.model_dump_json())
    else:
        from hypoforge.console import print_eval

        print_eval(out, report, metric=getattr(evaluator, "metric", "test accuracy"))
    if report.status is Outcome.INFRA_ERROR:
        err.print(
            f"hypoforge: infrastructure error: {clean(report.reason)}", markup=False, soft_wrap=True
        )
        raise typer.Exit(3)


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


def _execute(folder: Path, config: Path | None, llm: str | None) -> None:
    """Run or resume the campaign in ``folder`` with a live view; infra trouble pauses it."""
    from agents.llm import make_chat_model
    from agents.prompting import grammar as prompt_grammar
    from evaluators import registry
    from evaluators.novelty import NoveltyArchive
    from hypoforge import campaign
    from hypoforge.campaign import ROLES
    from hypoforge.ledger import Ledger
    from hypoforge.live import LiveView

    with _session(config) as (settings, sandbox):
        if llm is not None:
            settings = settings.model_copy(
                update={"llm": settings.llm.model_copy(update={"endpoint": llm})}
            )
        info = campaign.load(folder)
        settings = settings.model_copy(update={"campaign": info.budgets})
        search = info.budgets.generator == "search"
        plugin = registry.get(info.task)
        evaluator = plugin.make_evaluator(
            sandbox,
            settings.home,
            settings.sandbox.limits,
            keep=settings.sandbox.keep_attempts,
            split_set=info.budgets.splits,
        )
        try:
            with _open_llm(settings, folder) as base_url:
                grammars: dict[str, str] = {}
                if settings.llm.use_grammar:
                    task_grammars: dict[str, str] = getattr(evaluator, "grammars", dict)()
                    grammars = {**task_grammars, "critic": prompt_grammar("verdict")}
                models = {
                    r: make_chat_model(settings.llm, base_url, r, grammars.get(r))
                    for r in ROLES
                    if not search
                }
                archive = NoveltyArchive(settings.home / "archive")
                view_ledger = Ledger(folder / "ledger.sqlite")
                with LiveView(out, view_ledger, info.id, info.budgets) as view:
                    state = campaign.run(
                        folder,
                        evaluator,
                        models,
                        settings.llm.retries,
                        notify=view.update,
                        archive=archive,
                        generator="search"
                        if search
                        else f"{settings.llm.endpoint}:{settings.llm.model}",
                    )
                view_ledger.close()
        except InfraError as exc:
            err.print(
                f"hypoforge: campaign paused: {clean(exc)}; "
                f"continue with `hypoforge resume {folder}`",
                markup=False,
                soft_wrap=True,
            )
            raise typer.Exit(3) from None
    out.print()
    out.print(f"campaign {info.id} stopped: {state['stop']}")
    out.print(f"findings: {folder / 'findings'}   ledger: {folder / 'ledger.sqlite'}")


@app.command("run")
def run_cmd(
    task: Annotated[str, typer.Option(help="Research task.")] = "activation",
    proposals: Annotated[int | None, typer.Option(help="Proposal budget.")] = None,
    hours: Annotated[float | None, typer.Option(help="Wall-clock budget in hours.")] = None,
    batch: Annotated[int | None, typer.Option(help="Proposals per round.")] = None,
    campaign_dir: Annotated[
        Path | None, typer.Option("--campaign", help="Campaign folder.")
    ] = None,
    llm: Annotated[str | None, typer.Option(help="'embedded' or an OpenAI-compatible URL.")] = None,
    generator: Annotated[
        str | None, typer.Option(help="Who proposes: 'llm' or 'search' (built-in, no LLM).")
    ] = None,
    approve: Annotated[
        bool, typer.Option("--approve", help="Wait for a yes or no (hypoforge chat) per launch.")
    ] = False,
    splits: Annotated[
        str | None,
        typer.Option(help="Selection splits: 'selection' (default) or 'hard' (no saturation)."),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Start a research campaign: propose, criticise, code, screen, evaluate, analyse, repeat."""
    import time

    from hypoforge import campaign

    try:
        from evaluators import registry

        plugin = registry.get(task)
        settings = load_settings(config)
        updates = {
            k: v
            for k, v in (
                ("proposals", proposals),
                ("hours", hours),
                ("batch", batch),
                ("generator", generator),
                ("approve", approve or None),
                ("splits", splits),
            )
            if v is not None
        }
        budgets = settings.campaign.model_validate({**settings.campaign.model_dump(), **updates})
        if budgets.generator == "search" and plugin.generator is None:
            raise ConfigError(f"task {task!r} has no built-in search generator; use the LLM")
        folder = campaign_dir or settings.home / "campaigns" / time.strftime("%Y%m%d-%H%M%S")
        campaign.create(folder, task, budgets)
    except HypoforgeError as exc:
        raise _fail(exc) from None
    except ValueError as exc:
        raise _fail(ConfigError(str(exc).splitlines()[0])) from None
    out.print(f"campaign folder: {folder}")
    _execute(folder, config, llm)


@app.command("resume")
def resume_cmd(
    folder: Annotated[Path, typer.Argument(help="Campaign folder.")],
    llm: Annotated[str | None, typer.Option(help="'embedded' or an OpenAI-compatible URL.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Continue a stopped or crashed campaign; finished experiments are not run again."""
    _execute(folder, config, llm)


@app.command("status")
def status_cmd(folder: Annotated[Path, typer.Argument(help="Campaign folder.")]) -> None:
    """Show a campaign's budgets, stages and best hypotheses (no Docker, no LLM needed)."""
    from rich.table import Table

    from hypoforge import campaign

    try:
        st = campaign.status(folder)
    except HypoforgeError as exc:
        raise _fail(exc) from None
    out.print(
        f"campaign {st['id']} ({st['task']}): {st['proposals']}/{st['budget_proposals']} "
        f"proposals, {st['tokens']}/{st['budget_tokens']} tokens, "
        f"{st['launches']} sandbox runs"
    )
    out.print("stages: " + ", ".join(f"{k} {v}" for k, v in sorted(st["stages"].items())))
    if st["stopped"]:
        out.print(f"stopped: {st['stopped']}")
    out.print(campaign.regression_line(st["confirmation"]))
    table = Table(title="best (held out: the confirmation run)", title_justify="left")
    for col in ("id", "idea", "screen", "full", "kept", "held out", "confirmation"):
        table.add_column(col)

    def num(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    for b in st["best"]:
        table.add_row(
            b["id"],
            cell(b["idea"], 60),
            num(b["screen_win_rate"]),
            num(b["full_win_rate"]),
            "-" if b["kept"] is None else ("yes" if b["kept"] else "no"),
            num(b["confirm_win_rate"]),
            b["confirmation"] or "-",
        )
    out.print(table)


@app.command("doctor")
def doctor_cmd(
    llm: Annotated[str | None, typer.Option(help="'embedded' or an OpenAI-compatible URL.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Check the Docker engine, the sandbox image, the LLM endpoint and free disk."""
    import shutil

    from rich.table import Table

    from hypoforge.llm_server import embedded_server, model_path, wait_healthy

    try:
        settings = load_settings(config)
    except HypoforgeError as exc:
        raise _fail(exc) from None
    endpoint = llm or settings.llm.endpoint
    checks: list[tuple[str, str | None]] = []

    def check(name: str, fn: Any) -> None:
        try:
            detail = fn()
            checks.append((name, None if detail is None else str(detail)))
        except HypoforgeError as exc:
            checks.append((name, f"FAIL {exc}"))

    sandbox = make_sandbox(settings)
    check("Docker engine and sandbox image", lambda: (sandbox.preflight(), sandbox.image_ref())[1])
    settings.home.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(settings.home).free // 2**20
    floor = settings.sandbox.disk_floor_mb
    checks.append(
        (
            f"free disk under {settings.home}",
            f"{free} MiB" if free >= floor else f"FAIL {free} MiB, floor {floor} MiB",
        )
    )

    def llm_check() -> str:
        if endpoint == "embedded":
            with embedded_server(settings.llm.model) as url:
                return f"embedded {model_path(settings.llm.model).name} answered at {url}"
        wait_healthy(endpoint.rstrip("/"), timeout=3)
        return f"{endpoint} answered"

    check("LLM endpoint", llm_check)
    sandbox.close()
    table = Table(title="hypoforge doctor", title_justify="left")
    table.add_column("check")
    table.add_column("result")
    for name, detail in checks:
        failed = bool(detail and detail.startswith("FAIL"))
        table.add_row(name, f"[red]{detail}[/]" if failed else f"[green]ok[/] {detail or ''}")
    out.print(table)
    if any(d and d.startswith("FAIL") for _, d in checks):
        raise typer.Exit(3)


@app.command("report")
def report_cmd(
    folder: Annotated[Path, typer.Argument(help="Campaign folder.")], config: ConfigOpt = None
) -> None:
    """Write a Markdown report with plots (PNG) and the ledger as TSV into DIR/report/."""
    from hypoforge.report import write_report

    try:
        path = write_report(folder, load_settings(config).home)
    except HypoforgeError as exc:
        raise _fail(exc) from None
    out.print(f"report: {path}")


# Sub-command groups register themselves on ``app``.
from hypoforge import (  # noqa: E402, F401
    cli_calibrate,
    cli_chat,
    cli_fidelity,
    cli_reward,
    cli_sandbox,
    cli_tasks,
)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="hypoforge")


if __name__ == "__main__":
    main()
