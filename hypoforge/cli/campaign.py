"""``hypoforge run``, ``resume``, ``status`` and ``report``: a research campaign's life."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.errors import ConfigError, HypoforgeError, InfraError
from core.text import cell, clean
from hypoforge.cli.common import (
    ConfigOpt,
    _fail,
    _open_llm,
    _session,
    err,
    load_settings,
    make_scholar,
    out,
    preflight_llm,
    task_evaluator,
    workers,
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
    typer.Option("--executor", help="Where jobs run: 'local' (this machine) or 'ray'."),
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
    from agents.llm import make_chat_model
    from agents.prompting import grammar as prompt_grammar
    from evaluators import registry
    from evaluators.novelty import NoveltyArchive
    from evaluators.contract import Grammars
    from hypoforge import campaign
    from hypoforge.campaign import ROLES
    from hypoforge.live import LiveView
    from store.ledger import Ledger

    with _session(config, sandbox_workers=sandbox_workers, executor=executor) as (
        settings,
        sandbox,
    ):
        llm_update = {"endpoint": llm, "max_concurrency": llm_concurrency}
        llm_update = {k: v for k, v in llm_update.items() if v is not None}
        settings = settings.model_copy(update={"llm": settings.llm.model_copy(update=llm_update)})
        info = campaign.load(folder)
        settings = settings.model_copy(update={"campaign": info.budgets})
        search = info.budgets.generator == "search"
        plugin = registry.get(info.task)
        evaluator = task_evaluator(plugin, settings, sandbox, split_set=info.budgets.splits)
        try:
            with _open_llm(settings, folder) as base_url:
                grammars: dict[str, str] = {}
                if settings.llm.use_grammar:
                    task_grammars = evaluator.grammars() if isinstance(evaluator, Grammars) else {}
                    grammars = {**task_grammars, "critic": prompt_grammar("verdict")}
                models = {
                    r: make_chat_model(settings.llm, base_url, r, grammars.get(r))
                    for r in ROLES
                    if not search
                }
                view_ledger = Ledger(folder / "ledger.sqlite")
                if base_url is not None:  # a bad key or model is reported before any work
                    view_ledger.add_usage(info.id, tokens=preflight_llm(settings, base_url))
                archive = NoveltyArchive(settings.home / "archive")
                scholar = None
                if settings.literature.online and models and base_url is not None:
                    if settings.llm.endpoint == "embedded":
                        err.print(
                            "hypoforge: note: the online literature check needs a URL "
                            "endpoint; the embedded model has the catalogue match alone"
                        )
                    else:
                        scholar = make_scholar(settings)
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
                        workers=workers(settings, sandbox),
                        llm_concurrency=settings.llm.concurrency,
                        home=settings.home,
                        scholar=scholar,
                        literature_rounds=settings.literature.rounds,
                    )
                if scholar is not None:
                    scholar.close()
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
    """Start a research campaign: propose, criticise, code, screen, evaluate, analyse, repeat."""
    import time

    from hypoforge import campaign
    from hypoforge import reference as references

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
        known = None if reference is None else references.find(plugin.folder, reference, budgets)
        folder = campaign_dir or settings.home / "campaigns" / time.strftime("%Y%m%d-%H%M%S")
        campaign.create(folder, task, budgets)
        if known is not None:
            references.seed(folder, known)
    except HypoforgeError as exc:
        raise _fail(exc) from None
    except ValueError as exc:
        raise _fail(ConfigError(str(exc).splitlines()[0])) from None
    out.print(f"campaign folder: {folder}")
    _execute(folder, config, llm, sandbox_workers, llm_concurrency, (executor, ray_address))


def resume_cmd(
    folder: Annotated[Path, typer.Argument(help="Campaign folder.")],
    llm: Annotated[str | None, typer.Option(help="'embedded' or an OpenAI-compatible URL.")] = None,
    sandbox_workers: WorkersOpt = None,
    llm_concurrency: ConcurrencyOpt = None,
    executor: ExecutorOpt = None,
    ray_address: AddressOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Continue a stopped or crashed campaign; finished experiments are not run again."""
    _execute(folder, config, llm, sandbox_workers, llm_concurrency, (executor, ray_address))


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
    for col in ("id", "idea", "screen", "full", "kept", "held out", "confirmation", "published"):
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
            b.get("known") or "-",
        )
    out.print(table)
    for k in st["known"]:  # reference points, never discoveries
        out.print(f"published: {k['id']} is {k['known']}: {k['citation']}", soft_wrap=True)


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
