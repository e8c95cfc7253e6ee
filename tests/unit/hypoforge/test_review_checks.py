"""The checks code computes on a paper, on a small campaign built here (ledger rows and results
written directly): numbers traced or invented, claims with and without their CI and held-out
confirmation, a known component called new, a flagged bigger model, missing bundles; where a
paper is found and where its review is written; and the command's exit codes on fakes."""

from __future__ import annotations

import json
from contextlib import nullcontext

import pytest
from typer.testing import CliRunner

from core.errors import ConfigError
from core.records import DatasetScore, EvalReport, HypothesisRow, Outcome, Stage
from core.settings import CampaignSettings
from hypoforge import campaign, cli
from hypoforge.review import (
    CodeCheck,
    ReviewResult,
    campaign_figures,
    code_checks,
    locate,
    paper_text,
    write_review,
)
from store.ledger import Ledger
from tests.fakes import Recording

META = '{"summary": "The reviewers agree the evidence is thin."}'

MISH = (
    "Misra (2019). Mish: A Self Regularized Non-Monotonic Activation Function. BMVC. "
    "arXiv:1908.08681."
)


def reply(overall: int) -> str:
    """A filled-in review form (each score 2 or 3, ``overall`` as given)."""
    scores = dict.fromkeys(("originality", "significance", "contribution"), 2)
    scores.update(dict.fromkeys(("quality", "clarity", "soundness", "presentation"), 3))
    form = {"summary": "The paper proposes a gate and measures it.", "strengths": ["clear"],
            "weaknesses": ["three datasets only"], **scores, "overall": overall,
            "confidence": 3, "decision": "reject"}  # fmt: skip
    return json.dumps(form)


def report(
    sha: str, win: float, ci: tuple[float, float], flags: tuple[str, ...] = ()
) -> EvalReport:
    return EvalReport(
        task="activation",
        budget="full",
        status=Outcome.OK,
        win_rate=win,
        win_rate_ci=ci,
        comparisons=12,
        per_dataset={
            "iris": DatasetScore(candidate=0.9467, baselines={"relu": 0.9133}, win_rate=win)
        },
        flags=flags,
        harness_version="3",
        code_sha=sha,
        wall_seconds=41.25,
        split_set="selection",
        cells={"iris-s0": 0.9467, "iris-s1": 0.94},
    )


def row(hid: str, sha: str, win: float, **fields: object) -> HypothesisRow:
    return HypothesisRow(
        campaign="c0ffee",
        id=hid,
        round=int(hid[1]),
        mode="novel",
        idea=f"idea {hid}",
        code_sha=sha,
        stage=Stage.EVALUATED,
        outcome=Outcome.OK,
        screen_win_rate=win,
        full_win_rate=win,
        **fields,  # type: ignore[arg-type]
    )


@pytest.fixture
def camp(tmp_path):
    """r0-1 a discovery with its bundle; r0-2 kept at selection only; r0-3 the same as Mish;
    r1-1 over the parameter budget."""
    folder = tmp_path / "camp"
    info = campaign.create(folder, "activation", CampaignSettings(proposals=7, tokens=54321))
    (folder / "campaign.json").write_text(
        info.model_copy(update={"id": "c0ffee"}).model_dump_json()
    )
    ledger = Ledger(folder / "ledger.sqlite")
    specs = [
        (
            "r0-1",
            (0.6213, 0.8011),
            {"kept": True, "confirmation": "confirmed", "confirm_win_rate": 0.6842},
        ),
        ("r0-2", (0.4519, 0.7003), {"kept": True, "confirmation": "not confirmed"}),
        ("r0-3", (0.5512, 0.7188), {"known": "same as Mish", "citation": MISH}),
        ("r1-1", (0.8123, 0.9411), {"flags": ["over the parameter budget (2.5x)"]}),
    ]
    wins = {"r0-1": 0.7132, "r0-2": 0.5731, "r0-3": 0.6377, "r1-1": 0.8862}
    for hid, ci, fields in specs:
        flags = tuple(fields.get("flags", ()))  # type: ignore[arg-type]
        ledger.save(row(hid, f"sha-{hid}", wins[hid], **fields))
        ledger.put_result(f"key-{hid}", "c0ffee", hid, report(f"sha-{hid}", wins[hid], ci, flags))
    ledger.add_usage("c0ffee", tokens=98765, launches=23)
    ledger.close()
    (folder / "bundles" / "r0-1").mkdir(parents=True)
    (folder / "bundles" / "r0-1" / "bundle.json").write_text(json.dumps({"splits": {"iris-s0": 0}}))
    return folder


def by_name(checks: list[CodeCheck]) -> dict[str, CodeCheck]:
    return {c.name: c for c in checks}


# -- numbers ------------------------------------------------------------------------------------
def test_a_ledger_number_is_traced_and_an_invented_one_flagged(camp):
    text = "r0-1 reaches a win rate of 0.71 (71.3%) over 98765 tokens; r0-2 reaches 0.93."
    numbers = by_name(code_checks(text, camp))["numbers"]
    assert (numbers.ok, numbers.blocking, numbers.items) == (False, True, ["0.93"])
    assert numbers.detail == "1 of 4 distinct numbers are in none of the campaign's records"
    fine = by_name(code_checks("r1-1 scores 0.9467 in 41.25 s over 23 runs of 7.", camp))["numbers"]
    assert fine.ok and not fine.blocking


def test_figures_hold_citations_budgets_cis_usage_and_the_writers_facts(camp):
    (camp / "paper").mkdir()
    (camp / "paper" / "facts.json").write_text(
        json.dumps({"epochs": 37, "lr": "3e-4", "n": [0.125]})
    )
    figures = campaign_figures(camp)
    for token in ("0.62", "0.8011", "2019", "1908.08681", "54321", "37", "0.125", "0.68", "95"):
        assert figures.traced(token), token
    assert not figures.traced("0.3141")
    (camp / "paper" / "facts.json").write_text("{broken")
    assert not campaign_figures(camp).traced("37")  # a broken file traces nothing


def test_without_a_campaign_numbers_cannot_be_traced():
    (only,) = code_checks("r0-1 reaches 0.71.", None)
    assert (only.name, only.ok, only.blocking) == ("numbers", False, False)
    assert "cannot be traced" in only.detail


# -- claims ---------------------------------------------------------------------------------------
def test_a_claim_with_its_ci_and_confirmation_passes(camp):
    text = "r0-1 improves on the baselines (win rate 0.71, 95% CI [0.62, 0.80])."
    claims = by_name(code_checks(text, camp))["claims"]
    assert claims.ok, claims.items


def test_a_claim_without_a_ci_in_the_text_is_flagged(camp):
    claims = by_name(code_checks("r0-1 improves on the baselines.", camp))["claims"]
    assert (claims.ok, claims.blocking) == (False, False)
    assert claims.items == ["r0-1: the text states no confidence interval"]


def test_an_unconfirmed_improvement_blocks_as_a_claimed_discovery_does(camp):
    claims = by_name(code_checks("r0-2 outperforms ReLU (CI [0.45, 0.70]).", camp))["claims"]
    assert not claims.ok and claims.blocking
    assert claims.items == [
        "r0-2: CI [0.452, 0.700] does not clear 0.5; not a discovery: held-out confirmation "
        "not confirmed"
    ]
    found = by_name(code_checks("We discovered that r0-2 beats ReLU (CI [0.45, 0.70]).", camp))
    assert found["claims"].blocking


def test_a_denied_claim_is_no_claim(camp):
    assert by_name(code_checks("r0-2 does not improve on the baselines.", camp))["claims"].ok


def test_a_claim_on_a_hypothesis_the_ledger_lacks_blocks(camp):
    claims = by_name(code_checks("r9-9 improves on everything (CI [0.6, 0.7]).", camp))["claims"]
    assert claims.blocking and claims.items == [
        "r9-9: claimed, but the ledger has no such hypothesis"
    ]


# -- known components, flags, bundles -------------------------------------------------------------
def test_a_known_component_claimed_new_blocks(camp):
    known = by_name(code_checks("r0-3 is a novel activation.", camp))["known"]
    assert (known.ok, known.blocking) == (False, True)
    assert known.items == [f"r0-3: called new, but it is same as Mish ({MISH})"]
    assert by_name(code_checks("r0-3 is not novel: it is Mish.", camp))["known"].ok


def test_a_flagged_bigger_model_is_reported_unless_the_paper_says_so(camp):
    flags = by_name(code_checks("r1-1 reaches 0.8862.", camp))["flags"]
    assert (flags.ok, flags.blocking) == (False, False)
    assert flags.items == [
        "r1-1: flagged by the harness (over the parameter budget (2.5x)); the paper does not say"
    ]
    claimed = by_name(code_checks("r1-1 outperforms ReLU at 0.8862.", camp))["flags"]
    assert claimed.blocking  # a flagged result presented as an improvement
    said = "r1-1 reaches 0.8862, but it was flagged: over the parameter budget."
    assert by_name(code_checks(said, camp))["flags"].ok


def test_missing_bundles_are_listed_not_blocking(camp):
    bundles = by_name(code_checks("We ran r0-1, r0-2 and r1-1.", camp))["bundles"]
    assert (bundles.ok, bundles.blocking, bundles.items) == (False, False, ["r0-2", "r1-1"])
    assert f"`hypoforge reproduce {camp} ID` writes one" in bundles.detail
    assert by_name(code_checks("We ran r0-1.", camp))["bundles"].ok


# -- finding the paper, writing the review --------------------------------------------------------
def pdf(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"%PDF-1.5\n")
    return path


class FakeTexBox:
    def __init__(self, text: str) -> None:
        self.text_of = text
        self.seen: list = []

    def ensure_image(self, notify):
        pass

    def close(self):
        self.closed = True

    def text(self, pdf, out_dir):
        self.seen.append((pdf, out_dir))
        return self.text_of


def test_a_folder_a_pdf_in_its_paper_folder_and_an_override_find_the_campaign(camp, tmp_path):
    paper = pdf(camp / "paper" / "paper.pdf")
    assert locate(camp) == (paper, camp)
    assert locate(paper) == (paper, camp.resolve())
    elsewhere = pdf(tmp_path / "other" / "x.pdf")
    assert locate(elsewhere) == (elsewhere, None)
    assert locate(elsewhere, camp) == (elsewhere, camp)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.pdf", "no such file or folder"),
        (lambda d: d, "no paper in"),
        (lambda d: (d / "a.pdf").write_text("hello") and d / "a.pdf", "is not a PDF"),
        (lambda d: (d / "a.txt").write_bytes(b"%PDF-") and d / "a.txt", "is not a PDF"),
    ],
)
def test_bad_input_is_one_config_error(tmp_path, make, message):
    with pytest.raises(ConfigError, match=message):
        locate(make(tmp_path))


def test_the_text_comes_from_the_texbox_and_control_characters_go(camp):
    paper = pdf(camp / "paper" / "paper.pdf")
    box = FakeTexBox("r0-1\x1b[31m wins\x07.")
    assert paper_text(camp, box) == ("r0-1 wins.", camp)
    assert box.seen[0][0] == paper
    with pytest.raises(ConfigError, match="holds no text"):
        paper_text(camp, FakeTexBox(" \n"))


def test_the_review_is_written_as_json_and_markdown(tmp_path):
    from agents.reviewer import review_paper

    found = review_paper(Recording(responses=[reply(overall=7), META]), "x", [], 1, 0)
    result = ReviewResult(
        source="p.pdf",
        campaign=None,
        reviews=found.reviews,
        meta=found.meta,
        checks=[CodeCheck(name="bundles", ok=False, detail="1 missing", items=["r0-2"])],
    )
    path = write_review(tmp_path / "review", result)
    assert path == tmp_path / "review" / "review.md"
    assert ReviewResult.model_validate_json((path.parent / "review.json").read_text()) == result
    md = path.read_text()
    assert "**Decision: accept** (mean overall 7 >= 6)." in md
    assert "| 1 | 2 | 3 | 3 | 2 | 3 | 3 | 2 | 7 | 3 | reject |" in md
    assert "- **bundles** (failed): 1 missing\n  - r0-2" in md


# -- the command --------------------------------------------------------------------------------
runner = CliRunner()


@pytest.fixture
def fake_cli(monkeypatch, tmp_path):
    from hypoforge.cli import common
    from hypoforge.cli import review as review_cli

    monkeypatch.setenv("HYPOFORGE_HOME", str(tmp_path / "home"))
    box = FakeTexBox("r0-1 improves on the baselines (CI [0.62, 0.80]); r0-2 reaches 0.93.")
    model = Recording(responses=[reply(overall=8), reply(overall=7), META])
    monkeypatch.setattr(common, "make_texbox", lambda settings: box)
    monkeypatch.setattr(review_cli, "open_llm", lambda settings, folder: nullcontext("http://x"))
    monkeypatch.setattr(common, "make_chat_model", lambda *a, **k: model)
    return model


def test_the_command_reviews_a_campaigns_paper_and_writes_the_review(camp, fake_cli):
    pdf(camp / "paper" / "paper.pdf")
    args = ["review", str(camp), "--reviews", "2", "--reflections", "0"]
    result = runner.invoke(cli.app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "decision: reject (blocking code checks failed: numbers)" in result.stdout
    assert "check numbers: FAILED (blocking): 1 of 3 distinct numbers" in result.stdout
    assert "\n  0.93\n" in result.stdout
    assert "check claims: ok" in result.stdout  # r0-2's clause claims nothing
    saved = json.loads((camp / "review" / "review.json").read_text())
    assert saved["meta"]["scores"]["overall"] == 8  # (8 + 7) / 2, half up
    assert [c["name"] for c in saved["checks"]] == [
        "numbers",
        "claims",
        "flags",
        "known",
        "provenance",
        "bundles",
    ]


def test_the_command_prints_json(camp, fake_cli):
    pdf(camp / "paper" / "paper.pdf")
    args = ["review", str(camp), "--reviews", "2", "--reflections", "0", "--json"]
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["meta"]["decision"] == "reject"
    assert data["written"] == str(camp / "review" / "review.md")


def test_a_pdf_outside_a_campaign_is_reviewed_beside_it_with_numbers_untraceable(
    fake_cli, tmp_path
):
    paper = pdf(tmp_path / "elsewhere" / "draft.pdf")
    result = runner.invoke(cli.app, ["review", str(paper), "--reviews", "2", "--reflections", "0"])
    assert result.exit_code == 0, result.output
    assert "decision: accept (mean overall 8 >= 6)" in result.stdout
    assert "check numbers: failed: no campaign folder" in result.stdout
    saved = ReviewResult.model_validate_json((paper.parent / "draft.review.json").read_text())
    assert saved.campaign is None and saved.source == str(paper)
    assert (paper.parent / "draft.review.md").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.pdf"], "hypoforge: error: no such file or folder: missing.pdf"),
        (["--reviews", "0", "x.pdf"], "Invalid value for '--reviews'"),
    ],
)
def test_bad_input_exits_2(fake_cli, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli.app, ["review", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_a_dead_endpoint_exits_3(camp, fake_cli, monkeypatch):
    from core.errors import InfraError
    from hypoforge.cli import review as review_cli

    def down(settings, folder):
        raise InfraError("LLM endpoint http://x not reachable after 10 s: refused")

    monkeypatch.setattr(review_cli, "open_llm", down)
    pdf(camp / "paper" / "paper.pdf")
    result = runner.invoke(cli.app, ["review", str(camp)])
    assert result.exit_code == 3
    assert "infrastructure error: LLM endpoint http://x not reachable" in result.output


# -- red-team cases ------------------------------------------------------------------------------
def test_numbers_in_an_idea_or_a_bundles_code_vouch_only_for_themselves(camp):
    """The proposer writes ideas and code, which the paper prints: their numbers are traced as
    the exact strings they hold, never at a precision, so they vouch for no rounded figure."""
    bundle = camp / "bundles" / "r0-1" / "bundle.json"
    bundle.write_text(json.dumps({"code": "# tuned: 0.991 127.3 5e3", "idea": "acc 0.993"}))
    figures = campaign_figures(camp)
    assert figures.traced("0.991") and figures.traced("0.993")  # printed as they are
    assert not figures.traced("0.99") and not figures.traced("127") and not figures.traced("5000")


def test_an_ids_campaign_prefix_cannot_mask_a_number(camp):
    numbers = by_name(code_checks("It reached 0.97/r0-1 on iris.", camp))["numbers"]
    assert numbers.items == ["0.97"]


@pytest.mark.parametrize(
    "text",
    [
        "With no exception, r0-2 outperforms every baseline and is a discovery.",
        "Unlike r0-1, which failed, r0-2 was confirmed on held-out splits.",
        "r0-2 is, without a doubt, a breakthrough.",
    ],
)
def test_claims_that_hide_behind_a_negation_word_are_read_as_claims(camp, text):
    claims = by_name(code_checks(text, camp))["claims"]
    assert not claims.ok and "r0-2" in " ".join(claims.items), claims


@pytest.mark.parametrize(
    "text",
    [
        "We tested r0-2 carefully. It outperforms every baseline.",  # a pronoun, not the id
        "No baseline beats r0-2 on either dataset.",  # praise by negation
        "r0-2 dominates every baseline and was validated on held-out splits.",
    ],
)
def test_claims_by_pronoun_negation_or_other_words_block(camp, text):
    claims = by_name(code_checks(text, camp))["claims"]
    assert claims.blocking, (text, claims)


def test_a_hypothesis_the_ledger_lacks_blocks_even_unclaimed(camp):
    claims = by_name(code_checks("We also ran r7-7.", camp))["claims"]
    assert claims.blocking and claims.items == [
        "r7-7: named, but the ledger has no such hypothesis"
    ]
