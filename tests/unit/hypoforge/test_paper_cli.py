"""``hypoforge paper`` on fakes: a campaign folder, a fake sandbox and a fake TeX box. Exit 0
with the PDF and the log, 1 over ``--pages`` (the PDF kept), 2 for a folder without a
campaign, 3 when the TeX image is missing and cannot be built (one line saying why)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from core.errors import InfraError
from core.records import Outcome
from hypoforge import campaign, cli
from hypoforge.cli import common
from hypoforge.paper import render
from sandbox.tex import Compiled
from tests.fakes import FakeEvaluator, FakeSandbox, models, proposal, start


class Box:
    """A TeX box that compiles nothing: a PDF and a log whose body is ``body`` pages."""

    body = 3
    missing = False

    def __init__(self, settings, *args, **kwargs):
        pass

    def ensure_image(self, notify):
        if Box.missing:
            raise InfraError("building the TeX image hypoforge-tex:x failed (exit 1): E: offline")

    def compile(self, folder, out_dir, main="paper.tex"):
        (out_dir / "paper.log").write_text(f"{render.BODY_MARK}={Box.body}\n")
        (out_dir / "paper.pdf").write_bytes(b"%PDF-1.4\n")
        return Compiled(
            ok=True, pdf=out_dir / "paper.pdf", pages=Box.body + 2, errors=[], warnings=[],
            chktex=[], outcome=Outcome.OK, reason="", seconds=0.1,
        )  # fmt: skip


@pytest.fixture
def camp(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPOFORGE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(common, "make_sandbox", lambda settings: FakeSandbox())
    monkeypatch.setattr(common, "make_texbox", Box)
    Box.body, Box.missing = 3, False
    folder, _ = start(tmp_path, proposals=1, batch=1, full_top_k=0)
    campaign.run(
        folder,
        campaign.Services(FakeEvaluator(), models([proposal("x * torch.sigmoid(x)")]), retries=0),
    )
    return folder


def run(*args):
    return CliRunner().invoke(cli.app, ["paper", *map(str, args)])


def test_a_paper_is_written_with_its_log(camp):
    res = run(camp, "--llm", "none", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["pdf"] == str(camp / "paper" / "paper.pdf") and data["body_pages"] == 3
    assert set(data["sections"].values()) == {"code"} and not data["over_pages"]
    assert (camp / "paper" / "writeup-log.md").is_file()
    assert (camp / "paper" / "src" / "paper.tex").read_text().startswith("% hypoforge's paper")


def test_over_the_page_limit_exits_1_and_keeps_the_pdf(camp):
    Box.body = 9
    res = run(camp, "--llm", "none", "--pages", "4")
    assert res.exit_code == 1, res.output
    assert "over --pages 4" in res.output and (camp / "paper" / "paper.pdf").is_file()


def test_no_campaign_exits_2_and_a_tex_image_that_cannot_be_built_exits_3(camp, tmp_path):
    res = run(tmp_path / "nothing", "--llm", "none")
    assert res.exit_code == 2 and "no campaign" in res.output
    Box.missing = True
    res = run(camp, "--llm", "none")
    assert res.exit_code == 3 and "building the TeX image" in res.output
    assert len(res.output.strip().splitlines()) == 1
