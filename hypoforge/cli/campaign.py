"""``hypoforge run``, ``resume``, ``status`` and ``report``: a research campaign's life."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer

from core.errors import ConfigError, HypoforgeError, InfraError
from core.text import cell, clean
from hypoforge.cli.common import (
    ConfigOpt,
    err,
    fail,
    load_settings,
    open_llm,
    out,
    preflight_llm,
    session,
    task_evaluator,
)

WorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--workers", min=1, help="Sandbox containers at once (default: what cores and memory allow)"
    ),
]
ConcurrencyOpt = Annotated[
    int | None,
    typer.Option(
        "--llm-concurrency", min=1, help="LLM calls at once (default: 1 embedded, 8 for a URL)."
    ),
]

ExecutorOpt = Annotated[
    str | None,
    typer.Option(
        "--executor", help="Where sandbox jobs run: 'docker' (this machine) or 'ray' (a cluster)."
    ),
]
AddressOpt = Annotated[
    str | None, typer.Option("--ray-address", help="Ray cluster: 'auto' or ray://HOST:PORT.")
]


def _execute(
    folder: Path,
    config: Path | None,
    llm: str | None,
    sandbox_workers: int | None = None,
    llm_concurrency: int | None = None,
    executor: tuple[str | None, str | None] = (None, None),
) -> None:
    """Run or resume the campaign in ``folder`` with a live view; infra trouble pauses it."""
    from evaluators import registry
    from hypoforge import campaign
    from hypoforge.heartbeat import Heartbeat
    from hypoforge.live import LiveView
    from store.ledger import Ledger

    with session(config, sandbox_workers=sandbox_workers, executor=executor) as (
        settings,
        sandbox,
    ):
        llm_update = {"endpoint": llm, "max_concurrency": llm_concurrency}
        llm_update = {k: v for k, v in llm_update.items() if v is not None}
        settings = settings.model_copy(update={"llm": settings.llm.model_copy(update=llm_update)})
        info = campaign.load(folder)
        settings = settings.model_copy(update={"campaign": info.budgets})
        plugin = registry.get(info.task)
        evaluator = task_evaluator(plugin, settings, sandbox, split_set=info.budgets.splits)
        try:
            # The built-in search generator needs no language model.
            search = settings.campaign.generator == "search"
            endpoint: AbstractContextManager[str | None] = (
                nullcontext() if search else open_llm(settings, folder)
            )
            with endpoint as base_url:
                view_ledger = Ledger(folder / "ledger.sqlite")
                if base_url is not None:  # a bad key or model is reported before any work
                    view_ledger.add_usage(info.id, tokens=preflight_llm(settings, base_url))
                services = campaign.Services.from_settings(
                    settings,
                    evaluator,
                    sandbox,
                    base_url,
                    note=lambda message: err.print(f"hypoforge: note: {message}"),
                )
                try:
                    with (
                        LiveView(out, view_ledger, info.id, info.budgets) as view,
                        Heartbeat(folder, services.workers) as beat,
                    ):

                        def notify(agent: str, message: str) -> None:
                            view.update(agent, message)
                            beat.update(agent, message)

                        state = campaign.run(folder, services, notify=notify)
                finally:
                    services.close()
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


def run_cmd(
    task: Annotated[
        str, typer.Option(help="Research task: its name, or the path of a task folder.")
    ] = "activation",
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
    reference: Annotated[
        str | None,
        typer.Option(
            help="A published component of the task's catalogue (e.g. ELU) screened beside the "
            "proposals as a labelled reference point, never a discovery; takes one proposal."
        ),
    ] = None,
    sandbox_workers: WorkersOpt = None,
    llm_concurrency: ConcurrencyOpt = None,
    executor: ExecutorOpt = None,
    ray_address: AddressOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Start a research campaign: agents propose ideas, the sandbox tests them, round by round.

    Runs until a budget (proposals, hours, tokens) is spent and prints the campaign's folder:
    watch it with `hypoforge status`, steer it with `hypoforge chat`, write it up with
    `hypoforge report`. Needs Docker, the sandbox image and a language model (the embedded one
    by default, or --llm URL); `hypoforge doctor` checks all three."""
    import time

    from hypoforge import campaign
    from hypoforge import reference as references

    try:
        from evaluators import registry

        plugin = registry.get(task)
        task_folder = _task_folder(task, plugin)
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
        known = None if reference is None else references.find(plugin.folder, reference, budgets)
        folder = campaign_dir or settings.home / "campaigns" / time.strftime("%Y%m%d-%H%M%S")
        campaign.create(folder, plugin.name, budgets, task_folder)
        if known is not None:
            references.seed(folder, known)
    except HypoforgeError as exc:
        raise fail(exc) from None
    except ValueError as exc:
        raise fail(ConfigError(str(exc).splitlines()[0])) from None
    out.print(f"campaign folder: {folder}")
    _execute(folder, config, llm, sandbox_workers, llm_concurrency, (executor, ray_address))


def _task_folder(task: str, plugin: Any) -> Path | None:
    """The task's folder when ``--task`` named it by its path (the campaign records it), else
    None; ``ConfigError`` when another task found by name has the folder's task's name."""
    from evaluators import registry

    if Path(task).expanduser().resolve() != plugin.folder.resolve():
        return None
    named = registry.tasks().get(plugin.name)
    if named is not None and named.folder.resolve() != plugin.folder.resolve():
        raise ConfigError(
            f"the task in {task} is named {plugin.name!r}, as the task in {named.folder}: "
            "rename it in its task.toml"
        )
    return Path(plugin.folder)


def resume_cmd(
    folder: Annotated[Path, typer.Argument(help="Campaign folder.")],
    llm: Annotated[str | None, typer.Option(help="'embedded' or an OpenAI-compatible URL.")] = None,
    sandbox_workers: WorkersOpt = None,
    llm_concurrency: ConcurrencyOpt = None,
    executor: ExecutorOpt = None,
    ray_address: AddressOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Continue a stopped, paused or crashed campaign; finished experiments are not run again.

    Needs what `hypoforge run` needs: Docker, the sandbox image and a language model."""
    _execute(folder, config, llm, sandbox_workers, llm_concurrency, (executor, ray_address))


def status_cmd(folder: Annotated[Path, typer.Argument(help="Campaign folder.")]) -> None:
    """Show how a campaign is doing: budgets spent, stages and its best hypotheses.

    Reads the campaign's folder only: needs neither Docker nor a language model."""
    from rich.table import Table

    from hypoforge import campaign
    from hypoforge.report import lineage_status

    try:
        st = campaign.status(folder)
        lineage = lineage_status(folder)
    except HypoforgeError as exc:
        raise fail(exc) from None
    out.print(
        f"campaign {st['id']} ({st['task']}): {st['proposals']}/{st['budget_proposals']} "
        f"proposals, {st['tokens']}/{st['budget_tokens']} tokens, "
        f"{st['launches']} sandbox runs"
    )
    out.print("stages: " + ", ".join(f"{k} {v}" for k, v in sorted(st["stages"].items())))
    if st["stopped"]:
        out.print(f"stopped: {st['stopped']}")
    out.print(campaign.regression_line(st["confirmation"]))
    out.print(lineage, soft_wrap=True)
    table = Table(title="best (held out: the confirmation run)", title_justify="left")
    columns = ("id", "parent", "idea", "screen", "full", "kept", "held out", "confirmation")
    for col in (*columns, "published"):
        table.add_column(col)

    def num(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    for b in st["best"]:
        table.add_row(
            b["id"],
            b.get("parent") or "-",
            cell(b["idea"], 60),
            num(b["screen_win_rate"]),
            num(b["full_win_rate"]),
            "-" if b["kept"] is None else ("yes" if b["kept"] else "no"),
            num(b["confirm_win_rate"]),
            b["confirmation"] or "-",
            b.get("known") or "-",
        )
    out.print(table)
    for k in st["known"]:  # reference points, never discoveries
        out.print(f"published: {k['id']} is {k['known']}: {k['citation']}", soft_wrap=True)


def report_cmd(
    folder: Annotated[Path, typer.Argument(help="Campaign folder.")], config: ConfigOpt = None
) -> None:
    """Write a campaign's report: Markdown with plots, and the ledger as TSV, in DIR/report/.

    Reads the campaign's folder only: needs neither Docker nor a language model."""
    from hypoforge.report import write_report

    try:
        path = write_report(folder, load_settings(config).home)
    except HypoforgeError as exc:
        raise fail(exc) from None
    out.print(f"report: {path}")
