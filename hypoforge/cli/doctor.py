"""``hypoforge doctor``: the Docker engine, the sandbox image, the LLM endpoint and free disk."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from hypoforge.cli import common
from hypoforge.cli.common import ConfigOpt, _fail, load_settings, out
from hypoforge.errors import HypoforgeError


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

    sandbox = common.make_sandbox(settings)
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
