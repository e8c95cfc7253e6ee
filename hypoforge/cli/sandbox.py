"""``hypoforge sandbox ...``: build, test and clean up the sandbox."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from core.errors import HypoforgeError
from hypoforge.cli import common
from hypoforge.cli.common import ConfigOpt, err, fail, load_settings, out, session

app = typer.Typer(
    rich_markup_mode="markdown",
    no_args_is_help=True,
    help="Build, attack and clean up the sandbox that runs generated code.",
)


@app.command("check")
def sandbox_check(
    all_probes: Annotated[
        bool,
        typer.Option(
            "--all", help="Run the whole adversarial catalogue and the hostile hypotheses."
        ),
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Attack the sandbox with adversarial probes and show which ones it stopped.

    Prints a pass/fail table; with --all, also runs the hostile hypotheses that try to fake a
    score through each task's harness. Needs Docker and the sandbox image."""
    from hypoforge.console import probe_table, redteam_table
    from sandbox.selftest import run_all

    with session(config) as (settings, sandbox):
        work = settings.home / "selftest"
        work.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=work) as tmp, err.status("running probes"):
            reports = run_all(sandbox, Path(tmp), quick=not all_probes)
        out.print(probe_table(reports))
        passed = sum(r.passed for r in reports)
        total = len(reports)
        if all_probes:
            from evaluators import redteam

            with err.status("running hostile hypotheses"):
                cases = redteam.run_all(sandbox, work, settings.sandbox.limits)
            out.print(redteam_table(cases))
            passed += sum(c.passed for c in cases)
            total += len(cases)
    out.print(f"{passed} passed, {total - passed} failed")
    if passed < total:
        raise typer.Exit(1)


def _present(preflight: Callable[[], None]) -> bool:
    """Whether the image a ``preflight`` checks is built (its ``ImageMissing`` says not; any
    other failure, a dead engine say, is raised)."""
    from core.errors import ImageMissing

    try:
        preflight()
    except ImageMissing:
        return False
    return True


@app.command("build")
def sandbox_build(
    config: ConfigOpt = None,
    force: Annotated[bool, typer.Option(help="Rebuild even if the image exists.")] = False,
) -> None:
    """Build the sandbox image, unless it exists (`make setup` does this for you).

    Offline, from debootstrap and pinned wheels. Needs Docker."""
    from sandbox.build import build_offline, default_tag

    try:
        settings = load_settings(config)
        tag = settings.sandbox.image or default_tag()
        sandbox = common.make_sandbox(settings)
        if _present(sandbox.preflight) and not force:
            out.print(f"sandbox image {tag} is present")
            return
        build_offline(tag)
        out.print(f"built sandbox image {tag}")
    except HypoforgeError as exc:
        raise fail(exc) from None


@app.command("build-tex")
def sandbox_build_tex(
    config: ConfigOpt = None,
    force: Annotated[bool, typer.Option(help="Rebuild even if the image exists.")] = False,
) -> None:
    """Build the TeX image that papers and reviews compile in, unless it exists.

    Offline, from debootstrap and Debian's TeX Live. Needs Docker."""
    from sandbox.tex import TexBox, build_tex_image

    try:
        settings = load_settings(config)
        box = TexBox(settings.sandbox)
        if _present(box.preflight) and not force:
            out.print(f"TeX image {box.image} is present")
            return
        build_tex_image(box.image)
        out.print(f"built TeX image {box.image}")
    except HypoforgeError as exc:
        raise fail(exc) from None


@app.command("reap")
def sandbox_reap(config: ConfigOpt = None) -> None:
    """Remove sandbox containers left behind by hypoforge processes that no longer run."""
    with session(config, reap=False) as (_, sandbox):
        removed = sandbox.reap_orphans()
    out.print(f"removed {len(removed)} orphaned container(s)")
