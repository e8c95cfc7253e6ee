"""``hypoforge doctor``: the Docker engine, the sandbox image, the LLM endpoint and free disk."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from core.errors import HypoforgeError
from core.settings import RayExecutor
from hypoforge.cli import common
from hypoforge.cli.common import ConfigOpt, fail, load_settings, out


def doctor_cmd(
    llm: Annotated[str | None, typer.Option(help="'embedded' or an OpenAI-compatible URL.")] = None,
    executor: Annotated[
        str | None,
        typer.Option("--executor", help="'docker' (this machine) or 'ray' (checks every node)."),
    ] = None,
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", help="Ray cluster: 'auto' or ray://HOST:PORT.")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Check that this machine is ready for campaigns: Docker, images, LLM and free disk.

    Run it first: each check prints what it found, and the command exits 3 when one fails."""
    import shutil

    from rich.table import Table

    from hypoforge.llm_server import embedded_server, model_path, wait_healthy

    try:
        settings = common.with_executor(load_settings(config), executor, ray_address)
    except HypoforgeError as exc:
        raise fail(exc) from None
    endpoint = llm or settings.llm.endpoint
    settings = settings.model_copy(
        update={"llm": settings.llm.model_copy(update={"endpoint": endpoint})}
    )
    checks: list[tuple[str, str | None]] = []

    def check(name: str, fn: Any) -> None:
        try:
            detail = fn()
            checks.append((name, None if detail is None else str(detail)))
        except HypoforgeError as exc:
            checks.append((name, f"FAIL {exc}"))

    sandbox = common.make_sandbox(settings)
    where = (
        "Ray cluster: Docker and the sandbox image on every node"
        if isinstance(settings.executor, RayExecutor)
        else "Docker engine and sandbox image"
    )
    check(where, lambda: (sandbox.preflight(), sandbox.image_ref())[1])
    settings.home.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(settings.home).free // 2**20
    floor = settings.sandbox.disk_floor_mb
    checks.append(
        (
            f"free disk under {settings.home}",
            f"{free} MiB" if free >= floor else f"FAIL {free} MiB, floor {floor} MiB",
        )
    )

    from sandbox.capacity import describe, gpu_ids
    from sandbox.factory import workers

    limits = settings.sandbox.limits

    def slots() -> str:
        if isinstance(settings.executor, RayExecutor):
            n = workers(settings, sandbox)
            return f"{n} (the Ray cluster's slots for {limits.cpus:g} CPU, {limits.gpus} GPU a job)"
        gpus = len(gpu_ids(settings.sandbox)) if limits.gpus else None
        return describe(limits, workers(settings), gpus=gpus)

    check("sandbox workers", slots)

    def tex_check() -> str:
        """Present, or how to build it: only ``paper`` and ``review`` need it (no FAIL)."""
        from core.errors import ImageMissing
        from sandbox.tex import TexBox

        box = TexBox(settings.sandbox)
        try:
            box.preflight()
        except ImageMissing:
            return "not built (only `hypoforge paper` and `review` need it): run `make tex-image`"
        finally:
            box.close()
        return f"{box.image} present"

    check("TeX image (papers, reviews)", tex_check)

    def llm_check() -> str:
        # A chat call, not only the model list: a bad key or model name shows here.
        if endpoint == "embedded":
            with embedded_server(settings.llm.model) as url:
                common.preflight_llm(settings, url)
                name = model_path(settings.llm.model).name
                return f"embedded {name} answered a chat call at {url}"
        wait_healthy(endpoint.rstrip("/"), timeout=3)
        common.preflight_llm(settings, endpoint.rstrip("/"))
        return f"{endpoint} answered a chat call ({settings.llm.model})"

    check("LLM endpoint", llm_check)
    checks.append(("LLM calls at once", str(settings.llm.concurrency)))
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
