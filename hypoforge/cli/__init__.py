"""The ``hypoforge`` command; what a user reads first is ``HELP``.

Exit codes: 0 when an outcome was recorded (invalid, timeout, oom... included); 1 when a self-test
found a weakness; 2 for usage and configuration errors; 3 for infrastructure errors (Docker, disk,
image). Domain errors become one-line messages in ``common.fail`` and nowhere else.

Layout: ``common`` holds what the commands share (consoles, ``--config``, errors to exit codes,
the sandbox factory ``common.make_sandbox`` that tests replace); each other module holds one
command or one command group (its own ``typer.Typer``). This module builds ``app`` from them;
they never import it.
"""

from __future__ import annotations

import typer

from hypoforge.cli import (
    calibrate,
    campaign,
    chat,
    doctor,
    evaluate,
    fidelity,
    novelty,
    paper,
    reproduce,
    review,
    reward,
    sandbox,
    serve,
    tasks,
)

__all__ = ["HELP", "app", "main"]

HELP = """Automated machine-learning research: language-model agents propose new components (an
activation function, a preprocessing step, a regularizer...), a hardened sandbox tests each one
against published baselines, and what was learned steers the next round.

Start with `hypoforge doctor` (is this machine ready?), then `hypoforge run` (a campaign; it
prints its folder DIR), `hypoforge status DIR` and `hypoforge report DIR`. `hypoforge eval FILE`
scores one idea of your own; `hypoforge tasks list` shows what can be researched.

Exit codes: 0 done, 1 a self-test found a weakness, 2 a usage or settings error, 3 Docker, the
disk, an image or the LLM endpoint failed (a campaign then pauses: `hypoforge resume DIR`)."""

app: typer.Typer = typer.Typer(
    add_completion=False, no_args_is_help=True, help=HELP, rich_markup_mode="markdown"
)

# Registration order is the order of `hypoforge --help`.
app.command("eval")(evaluate.eval_cmd)
app.command("run")(campaign.run_cmd)
app.command("resume")(campaign.resume_cmd)
app.command("status")(campaign.status_cmd)
app.command("doctor")(doctor.doctor_cmd)
app.command("report")(campaign.report_cmd)
app.command("paper")(paper.paper_cmd)
app.command("reproduce")(reproduce.reproduce_cmd)
app.command("review")(review.review_cmd)
app.command("calibrate")(calibrate.calibrate_cmd)
app.command("chat")(chat.chat_cmd)
app.command("serve")(serve.serve_cmd)
app.command("fidelity")(fidelity.fidelity_cmd)
app.command("novelty")(novelty.novelty_cmd)
app.add_typer(reward.app, name="reward")
app.add_typer(sandbox.app, name="sandbox")
app.add_typer(tasks.app, name="tasks")
app.add_typer(tasks.task_app, name="task")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="hypoforge")
