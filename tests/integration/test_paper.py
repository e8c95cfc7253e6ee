"""The paper on the real pieces: a small campaign run by the embedded model in the Docker sandbox,
its paper written by the same model and compiled in the TeX image, read back with pdftotext and
pdftoppm (in the TeX sandbox: the PDF is untrusted), its numbers traced to the ledger; hostile
LaTeX in an idea and in the model's prose printed, never run; a reported hypothesis reproduced
from the bundle the appendix lists."""

from __future__ import annotations

import json
import uuid

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from agents.analyst import HYPOTHESIS_ID
from agents.llm import make_chat_model
from agents.prompting import grammar
from core.grounding import numbers_in
from core.settings import CampaignSettings, LLMSettings
from evaluators.activation.harness import ActivationEvaluator
from evaluators.kit import datasets
from hypoforge import campaign, reproduce
from hypoforge.campaign import ROLES
from hypoforge.cli.paper import PENALTY
from hypoforge.llm_server import embedded_server
from hypoforge.paper.build import write_paper
from hypoforge.paper.facts import gather, number
from hypoforge.review import campaign_figures
from sandbox.tex import TexBox, ensure_tex_image
from tests.fakes import models, proposal

SPLITS = [datasets.split("iris", 0), datasets.split("wine", 0)]


@pytest.fixture(scope="module")
def tex(settings):
    ensure_tex_image(settings.sandbox)
    box = TexBox(settings.sandbox)
    box.preflight()
    yield box
    box.close()


def _evaluator(docker_sandbox, settings):
    return ActivationEvaluator(
        docker_sandbox,
        settings.home,
        settings.sandbox.limits,
        splits=SPLITS,
        confirm_splits=[datasets.split("iris", 3)],
        wall_seconds=60,
    )


@pytest.fixture(scope="module")
def written(docker_sandbox, settings, tex, tmp_path_factory):
    """A campaign and its paper, both by the embedded model."""
    folder = tmp_path_factory.mktemp("paper") / "camp"
    campaign.create(folder, "activation", CampaignSettings(proposals=2, batch=2, full_top_k=1))
    ev = _evaluator(docker_sandbox, settings)
    llm = LLMSettings()
    grammars = {**ev.grammars(), "critic": grammar("verdict")}
    with embedded_server(llm.model, log=folder / "llm.log") as url:
        agents = {r: make_chat_model(llm, url, r, grammars.get(r)) for r in ROLES}
        campaign.run(folder, campaign.Services(ev, agents, retries=2))
        writing = llm.model_copy(update={"temperature": 0.3, "max_tokens": 320})
        writer = make_chat_model(writing, url, "analyst", frequency_penalty=PENALTY)
        result = write_paper(
            folder, tex, writer, pages=8, home=settings.home, sandbox=docker_sandbox
        )
    return folder, result


def test_the_embedded_model_writes_a_compiling_paper_of_measured_numbers(written, tex, tmp_path):
    folder, result = written
    assert result.pdf is not None and result.pdf.read_bytes()[:5] == b"%PDF-"
    assert result.pages >= 2 and result.body_pages <= 8 and not result.over_pages
    assert all(c["ok"] for c in result.compiles[-1:])
    log = json.loads((folder / "paper" / "writeup-log.json").read_text())
    assert set(log["sections"]) == {
        "abstract", "introduction", "related", "method", "results", "limitations", "conclusion"
    }  # fmt: skip
    assert any(w["rounds"] > 0 for w in log["sections"].values())  # the model was asked

    text = tex.text(result.pdf, tmp_path / "text")
    assert "Experimental setup" in text and "Reproduction bundles" in text
    # How the campaign ran, as its records say: the embedded model proposed and reviewed.
    flat = " ".join(text.split())
    # (pdftotext reads the setup table column by column: the names, then the values)
    assert "proposed by reviewed by" in flat
    assert f"a language model ({LLMSettings().model})" in flat
    reviewed = gather(folder).setup()["reviewed by"]  # an unusable reply is no review
    assert reviewed.startswith(f"a critic model ({LLMSettings().model}): ") or reviewed == (
        "nothing: no review is recorded"
    )
    assert reviewed in flat
    figures = campaign_figures(folder)
    ids = {r.id for r in gather(folder).rows}
    text = HYPOTHESIS_ID.sub(lambda m: " " if m.group(0) in ids else m.group(0), text)
    # Every number of the PDF is the ledger's (or the campaign's records'), at its precision;
    # small integers (sections, pages, tables) are the document's own.
    assert figures.untraced(text) == [], figures.untraced(text)
    # ...and the ledger's headline figures are in it: each leader's win rate as printed.
    facts = gather(folder)
    printed = set(numbers_in(text))
    for row in facts.leaders:
        assert number(facts.reports[row.id].win_rate) in printed, row.id
    pngs = tex.render(result.pdf, tmp_path / "png", first=1, last=1)
    assert pngs and pngs[0].read_bytes()[:4] == b"\x89PNG"


def test_a_hypothesis_the_paper_reports_reproduces_from_its_bundle(
    written, docker_sandbox, settings
):
    folder, result = written
    assert result.bundles, "the appendix lists no bundle"
    found = reproduce.load_bundle(folder / "bundles" / result.bundles[0] / "bundle.json")
    again = reproduce.reproduce(found, _evaluator(docker_sandbox, settings))
    assert again.verdict == "reproduced", again


HOSTILE = [
    r"\input{/etc/passwd}",
    r"\immediate\write18{touch /hf/out/pwned}",
    r"\def\x{\x}\x",
    r"}\end{document}",
    r"^^5cinput{/etc/hostname}",
]


def test_hostile_latex_in_ideas_and_prose_is_printed_never_run(
    docker_sandbox, settings, tex, tmp_path
):
    marker = f"hostfile-{uuid.uuid4().hex}"
    secret = tmp_path / "secret.txt"
    secret.write_text(marker)
    idea = f"a gate \\input{{{secret}}} " + " ".join(HOSTILE)
    folder = tmp_path / "camp"
    budgets = CampaignSettings(
        proposals=1, batch=1, ladder=("one-pass",), promote=(), full_top_k=0, allow_known="yes"
    )
    campaign.create(folder, "activation", budgets)
    ev = ActivationEvaluator(
        docker_sandbox, settings.home, settings.sandbox.limits, splits=SPLITS[:1], wall_seconds=60
    )
    campaign.run(
        folder, campaign.Services(ev, models([proposal("x * torch.sigmoid(x)", idea)]), retries=0)
    )
    prose = (
        "We study gates. \\input{../../../secret.txt} " + " ".join(HOSTILE) + " The search ran "
        "in a sandbox, and every figure came from trusted code."
    )
    writer = FakeListChatModel(responses=[prose])
    result = write_paper(folder, tex, writer, pages=8, home=settings.home)
    assert result.pdf is not None and all(c["ok"] for c in result.compiles)
    assert len(result.compiles) == 1  # escaped: it compiled at once, and in bounded time
    text = tex.text(result.pdf, tmp_path / "text")
    assert marker not in text and "root:x:0:0" not in text
    assert "\\input{" in text  # printed as text
    build = folder / "paper" / "build-1"
    assert not (build / "pwned").exists()
    assert all(marker not in p.read_text(errors="replace") for p in build.rglob("*") if p.is_file())


def test_the_review_of_that_paper_finds_every_number_in_the_ledger(written, settings, monkeypatch):
    from typer.testing import CliRunner

    from hypoforge import cli

    folder, _ = written
    monkeypatch.setenv("HYPOFORGE_HOME", str(settings.home))
    args = ["review", str(folder), "--reviews", "1", "--reflections", "0", "--json"]
    res = CliRunner().invoke(cli.app, args)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    checks = {c["name"]: c for c in data["checks"]}
    assert checks["numbers"]["ok"], checks["numbers"]  # the PDF says only what the ledger holds
    assert checks["bundles"]["ok"], checks["bundles"]  # the appendix's bundles were written
    assert checks["provenance"]["ok"], checks["provenance"]  # who proposed and reviewed
    assert len(data["reviews"]) + len(data["failed"]) == 1
    assert data["meta"]["decision"] in ("accept", "reject")
    assert (folder / "review" / "review.md").is_file()


@pytest.mark.slow
def test_a_search_campaigns_compiled_paper_says_no_model_proposed(tex, tmp_path):
    """The paper of a campaign of the built-in search generator (scored by the fake evaluator:
    no sandbox job), compiled in the TeX image and read back: the setup and the introduction say
    who proposed and that no critic reviewed, and the review's provenance check passes."""
    from hypoforge.review_checks import code_checks
    from tests.fakes import FakeEvaluator, start

    folder, _ = start(tmp_path, proposals=2, batch=2, full_top_k=1, generator="search")
    campaign.run(folder, campaign.Services(FakeEvaluator(), {}, retries=0, generator="search"))
    result = write_paper(folder, tex, model=None)
    assert result.pdf is not None
    flat = " ".join(tex.text(result.pdf, tmp_path / "text").replace("\u2019", "'").split())
    assert (
        "Hypotheses were proposed by the task's built-in search generator; no language model "
        "took part in proposing them and no critic reviewed them." in flat
    )
    assert "the task's built-in search generator (no language model)" in flat
    assert "nothing: the search generator's proposals run unreviewed" in flat
    assert "language-model agents" not in flat and "checked by a critic" not in flat
    checks = {c.name: c for c in code_checks(flat, folder)}
    assert checks["provenance"].ok, checks["provenance"].items
