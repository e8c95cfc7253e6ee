"""``hypoforge sandbox ...``: build, test and clean up the sandbox."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from hypoforge import cli
from hypoforge.cli import ConfigOpt
from hypoforge.errors import HypoforgeError

sandbox_app = typer.Typer(no_args_is_help=True, help="Build, test and clean up the sandbox.")
cli.app.add_typer(sandbox_app, name="sandbox")


@sandbox_app.command("check")
def sandbox_check(
    all_probes: Annotated[
        bool,
        typer.Option(
            "--all", help="Run the whole adversarial catalogue and the hostile hypotheses."
        ),
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Run adversarial probes in the sandbox and print a pass/fail table; with --all, also the
    hostile hypotheses that try to fake a score through each task's harness."""
    from hypoforge.console import probe_table, redteam_table
    from sandbox.selftest import run_all

    with cli._session(config) as (settings, sandbox):
        work = settings.home / "selftest"
        work.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=work) as tmp, cli.err.status("running probes"):
            reports = run_all(sandbox, Path(tmp), quick=not all_probes)
        cli.out.print(probe_table(reports))
        passed = sum(r.passed for r in reports)
        total = len(reports)
        if all_probes:
            from evaluators import redteam

            with cli.err.status("running hostile hypotheses"):
                cases = redteam.run_all(sandbox, work, settings.sandbox.limits)
            cli.out.print(redteam_table(cases))
            passed += sum(c.passed for c in cases)
            total += len(cases)
    cli.out.print(f"{passed} passed, {total - passed} failed")
    if passed < total:
        raise typer.Exit(1)


@sandbox_app.command("build")
def sandbox_build(
    config: ConfigOpt = None,
    force: Annotated[bool, typer.Option(help="Rebuild even if the image exists.")] = False,
) -> None:
    """Build the sandbox image offline (debootstrap + pinned wheels) unless it exists."""
    from hypoforge.errors import ImageMissing
    from sandbox.build import build_offline, default_tag

    try:
        settings = cli.load_settings(config)
        tag = settings.sandbox.image or default_tag()
        sandbox = cli.make_sandbox(settings)
        try:
            sandbox.preflight()
            exists = True
        except ImageMissing:
            exists = False
        if exists and not force:
            cli.out.print(f"sandbox image {tag} is present")
            return
        build_offline(tag)
        cli.out.print(f"built sandbox image {tag}")
    except HypoforgeError as exc:
        raise cli._fail(exc) from None


@sandbox_app.command("reap")
def sandbox_reap(config: ConfigOpt = None) -> None:
    """Remove containers left behind by hypoforge processes that no longer run."""
    with cli._session(config, reap=False) as (_, sandbox):
        removed = sandbox.reap_orphans()
    cli.out.print(f"removed {len(removed)} orphaned container(s)")
