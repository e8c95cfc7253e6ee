"""The ``hypoforge`` command: thin typer commands over the library.

Exit codes: 0 when an outcome was recorded (invalid, timeout, oom... included); 1 when a self-test
found a weakness; 2 for usage and configuration errors; 3 for infrastructure errors (Docker, disk,
image). Domain errors become one-line messages here and nowhere else.
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from hypoforge.errors import ConfigError, HypoforgeError, InfraError
from hypoforge.records import Outcome
from hypoforge.settings import Settings, load_settings

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sandbox.base import Sandbox

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.split("\n")[0])
sandbox_app = typer.Typer(no_args_is_help=True, help="Build, test and clean up the sandbox.")
app.add_typer(sandbox_app, name="sandbox")

out = Console()
err = Console(stderr=True)

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
    err.print(f"hypoforge: {kind}: {exc}", markup=False, highlight=False, soft_wrap=True)
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
    path: Annotated[Path, typer.Argument(help="Hypothesis file defining activation(x).")],
    budget: Annotated[str, typer.Option(help="one-pass (screening) or full.")] = "one-pass",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Evaluate one hypothesis in the sandbox and report its win rate against the baselines."""
    from evaluators.activation.harness import ActivationEvaluator, get_budget

    try:
        source = path.read_text()
        get_budget(budget)
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

        evaluator = ActivationEvaluator(
            sandbox, settings.home, settings.sandbox.limits, notify=notify
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

        print_eval(out, report)
    if report.status is Outcome.INFRA_ERROR:
        err.print(f"hypoforge: infrastructure error: {report.reason}", markup=False, soft_wrap=True)
        raise typer.Exit(3)


@sandbox_app.command("check")
def sandbox_check(
    all_probes: Annotated[
        bool, typer.Option("--all", help="Run the whole adversarial catalogue.")
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Run adversarial probes in the sandbox and print a pass/fail table."""
    from hypoforge.console import probe_table
    from sandbox.selftest import run_all

    with _session(config) as (settings, sandbox):
        work = settings.home / "selftest"
        work.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=work) as tmp, err.status("running probes"):
            reports = run_all(sandbox, Path(tmp), quick=not all_probes)
    out.print(probe_table(reports))
    failed = [r for r in reports if not r.passed]
    out.print(f"{len(reports) - len(failed)} passed, {len(failed)} failed")
    if failed:
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
        settings = load_settings(config)
        tag = settings.sandbox.image or default_tag()
        sandbox = make_sandbox(settings)
        try:
            sandbox.preflight()
            exists = True
        except ImageMissing:
            exists = False
        if exists and not force:
            out.print(f"sandbox image {tag} is present")
            return
        build_offline(tag)
        out.print(f"built sandbox image {tag}")
    except HypoforgeError as exc:
        raise _fail(exc) from None


@sandbox_app.command("reap")
def sandbox_reap(config: ConfigOpt = None) -> None:
    """Remove containers left behind by hypoforge processes that no longer run."""
    with _session(config, reap=False) as (_, sandbox):
        removed = sandbox.reap_orphans()
    out.print(f"removed {len(removed)} orphaned container(s)")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="hypoforge")


if __name__ == "__main__":
    main()
