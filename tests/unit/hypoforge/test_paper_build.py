"""``write_paper`` on fakes: a small campaign (a published component among its hypotheses, hostile
ideas and code), a fake TeX box and scripted writers. The prose keeps only what code provided,
every removal is logged, a compile failure falls back (rewrite, literal, code), the page limit
moves tables then prose, and nothing hostile reaches paper.tex or references.bib as a command."""

from __future__ import annotations

import hashlib
import json
import re
import shutil

import pytest
from langchain_core.messages import AIMessage

from core.errors import InfraError
from core.grounding import Figures
from core.records import Outcome
from hypoforge import campaign
from hypoforge.paper import bib, render
from hypoforge.paper.build import COMPILES, refused_before_compile, write_paper
from hypoforge.paper.facts import gather, number
from hypoforge.paper.latex import prose
from hypoforge.paper.writer import problems, write_section
from sandbox.tex import Compiled
from store.ledger import Ledger
from tests.fakes import FakeEvaluator, models, proposal, start

MISH = "x * torch.tanh(torch.log1p(torch.exp(x)))"  # published: the catalogue's Mish
NEW = "0.4 * torch.cos(x) + x * torch.sigmoid(3.0 * x)"
HOSTILE_IDEA = r"\input{/etc/passwd} \immediate\write18{id} }\end{document} ^^5c 100%"
HOSTILE_CODE = (  # its last line starts with ``*``: after ``\\`` it would be a star
    "IDEA: a starred gate\n```python\nimport torch\n"
    "# \\end{document} ^^5cinput{/etc/passwd} %\n"
    "def activation(x):\n    return x * torch.sigmoid(x * (2.0\n*1.0))  # \\write18{id}\n```"
)
TITLE = r"Gates \input{/etc/passwd} } @preamble{ ^^5c"


class ShaEvaluator(FakeEvaluator):
    """The fake evaluator, its reports carrying the code's sha256 (so bundles can be written)."""

    def evaluate(self, source, budget="one-pass"):
        report = super().evaluate(source, budget)
        return report.model_copy(update={"code_sha": hashlib.sha256(source.encode()).hexdigest()})


@pytest.fixture(scope="module")
def camp(tmp_path_factory):
    """Three scored hypotheses (one behaves like Mish), one with a hostile idea, one with hostile
    code, and a literature search that cited a paper with a hostile title."""
    root = tmp_path_factory.mktemp("paper")
    folder, info = start(root, proposals=3, batch=3, full_top_k=1)
    props = [proposal(MISH, "soft gate"), proposal(NEW, HOSTILE_IDEA), HOSTILE_CODE]
    campaign.run(folder, campaign.Services(ShaEvaluator(), models(props), retries=0))
    ledger = Ledger(folder / "ledger.sqlite")
    hits = [
        {"id": "p1", "title": TITLE, "authors": ["Ann Smith"], "year": 2020},
        {"id": "p2", "title": "Gates again", "authors": ["Ann Smith"], "year": 2020},
        {"id": "p1", "title": "the same paper twice", "authors": ["X"], "year": 2021},
    ]
    ledger.log(info.id, "literature", "decision", {"hits": hits})
    rows = ledger.hypotheses(info.id)
    ledger.close()
    return folder, {r.idea: r for r in rows}


@pytest.fixture
def folder(camp, tmp_path):
    copy = tmp_path / "camp"
    shutil.copytree(camp[0], copy)
    return copy


def section_lines(tex: str, section: str) -> tuple[int, str]:
    """The 1-based line of ``section``'s prose in ``tex``, and its LaTeX."""
    lines = tex.splitlines()
    start = lines.index(f"%hf-begin-{section}")
    end = lines.index(f"%hf-end-{section}")
    return start + 2, "\n".join(lines[start + 1 : end])


class FakeTexBox:
    """Compiles nothing: writes a PDF and a log with the body's page count. ``fails(tex, n)``
    names the section the n-th compile's error points into (None: it compiles); ``body(tex)``
    is the body's page count."""

    def __init__(self, fails=lambda tex, n: None, body=lambda tex: 4):
        self.fails, self.body = fails, body
        self.seen: list[str] = []

    def compile(self, folder, out_dir, main="paper.tex"):
        tex = (folder / main).read_text()
        self.seen.append(tex)
        section = self.fails(tex, len(self.seen))
        (out_dir / "paper.log").write_text(f"This is pdfTeX\n{render.BODY_MARK}={self.body(tex)}\n")
        if section is not None:
            line, _ = section_lines(tex, section)
            return Compiled(
                ok=False,
                pdf=None,
                pages=None,
                errors=[f"./paper.tex:{line}: Undefined control sequence (l.{line}: x)"],
                warnings=[],
                chktex=[],
                outcome=Outcome.HYP_ERROR,
                reason="pdflatex (pass 1) failed",
                seconds=0.5,
            )
        (out_dir / "paper.pdf").write_bytes(b"%PDF-1.4\n%fake\n")
        return Compiled(
            ok=True,
            pdf=out_dir / "paper.pdf",
            pages=self.body(tex) + 3,
            errors=[],
            warnings=[],
            chktex=["line 3: Command terminated with space."],
            outcome=Outcome.OK,
            reason="",
            seconds=0.5,
        )


GOOD = {
    "abstract": "We searched for activation functions with language-model agents and scored "
    "every proposal with a sandboxed harness against the baselines.",
    "introduction": "The task asks for an elementwise activation function for a small network. "
    "Proposals came from agents, were checked by a critic and ran in a container.",
    "background and related work": "The baselines are well known components, and the campaign "
    "met one published function, which serves as a reference point.",
    "method": "Each proposal was probed, compared by behaviour with the catalogue, screened and "
    "promoted along the budget ladder when its interval allowed.",
    "results discussion": "The leading hypotheses were scored against the baselines. "
    "No hypothesis was confirmed on held-out splits.",
    "limitations": "The models are small, the datasets few and the seeds a handful, so the "
    "intervals are wide and selection bias remains.",
    "conclusion": "The measurements are reproducible from their bundles, and wider searches are "
    "the next thing to try.",
}


class Writer:
    """A chat model that answers each section from ``replies`` (section name: replies in order,
    the last repeated; ``GOOD`` otherwise) and records every prompt."""

    def __init__(self, replies=None):
        self.replies = replies or {}
        self.asked: list[tuple[str, str]] = []

    def invoke(self, messages):
        prompt = str(messages[-1].content)
        section = re.search(r"Write the (.+?) of a short research paper", prompt).group(1)
        n = sum(s == section for s, _ in self.asked)
        self.asked.append((section, prompt))
        queue = self.replies.get(section, [GOOD[section]])
        return AIMessage(queue[min(n, len(queue) - 1)])

    def prompts(self, section):
        return [p for s, p in self.asked if s == section]


def leader(folder):
    facts = gather(folder)
    best = facts.leaders[0]
    return best.id, number(facts.reports[best.id].win_rate)


def log(folder):
    out = folder / "paper"
    return (out / "writeup-log.md").read_text(), json.loads((out / "writeup-log.json").read_text())


def test_invented_numbers_ids_and_citations_are_removed_and_logged(folder):
    hid, rate = leader(folder)
    kept = f"Hypothesis {hid} reached a win rate of {rate} at its highest budget."
    bad_number = "It reached a win rate of 0.987 on every split."
    bad_id = "Hypothesis r9-9 did well too."
    bad_cite = r"This matches \cite{invented2024}."
    text = " ".join(["The leading hypotheses were scored.", kept, bad_number, bad_id, bad_cite])
    writer = Writer({"results discussion": [text + " No hypothesis was confirmed."]})
    result = write_paper(folder, FakeTexBox(), model=writer)

    written = result.sections["results"]
    assert written.source == "model, trimmed" and written.rounds == 2
    assert written.removed == [
        (bad_number, "numbers not in the facts: 0.987"),
        (bad_id, "numbers not in the facts: 9; hypothesis ids not in the campaign: r9-9"),
        (bad_cite, "citation keys not in the bibliography: invented2024"),
    ]
    assert (
        written.text == f"The leading hypotheses were scored. {kept} No hypothesis was confirmed."
    )
    # The rewrite round was asked with the problems named.
    first, second = writer.prompts("results discussion")
    for named in (
        "numbers not in the facts: 0.987",
        "hypothesis ids not in the campaign: r9-9",
        "citation keys not in the bibliography: invented2024",
    ):
        assert named not in first and named in second, named
    tex = (folder / "paper" / "src" / "paper.tex").read_text()
    _, body = section_lines(tex, "results")
    assert kept in body and "0.987" not in tex and "r9-9" not in tex and "invented" not in tex
    md, data = log(folder)
    assert f'- removed: "{bad_number}" (numbers not in the facts: 0.987)' in md
    assert f'- removed: "{bad_id}" (numbers not in the facts: 9; hypothesis ids not' in md
    assert "### results: model, trimmed (2 model calls," in md
    assert data["sections"]["results"]["removed"] == [list(r) for r in written.removed]
    # the other sections kept the model's prose, asked once each
    assert {k: w.source for k, w in result.sections.items() if k != "results"} == dict.fromkeys(
        ["abstract", "introduction", "related", "method", "limitations", "conclusion"], "model"
    )
    assert len(writer.prompts("abstract")) == 1
    assert result.removed == 3 and result.pdf == folder / "paper" / "paper.pdf"


def test_without_a_model_every_number_of_the_prose_is_one_code_printed(folder):
    result = write_paper(folder, FakeTexBox(), model=None)
    assert {w.source for w in result.sections.values()} == {"code"}
    tex = (folder / "paper" / "src" / "paper.tex").read_text()
    printed = re.sub(r"%hf-begin-(\w+)\n.*?%hf-end-\1", "", tex, flags=re.DOTALL)
    figures = Figures()
    figures.add(printed + (folder / "paper" / "src" / "references.bib").read_text())
    for section in render.SECTIONS:
        _, body = section_lines(tex, section)
        assert figures.untraced(body) == [], section
    assert (
        refused_before_compile(
            tex, {s.key for s in gather(folder).sources}, folder / "paper" / "src"
        )
        == []
    )
    md, data = log(folder)
    assert data["compiles"][0]["ok"] and data["body_pages"] == 4 and data["chktex"]
    assert "1. ok, 7 pages, body 4, 0.5 s" in md
    assert json.loads((folder / "paper" / "facts.json").read_text())["task"] == "activation"


def results_failing(until):
    """Compiles ``1..until`` fail with an error in the results' prose."""
    return lambda tex, n: "results" if n <= until else None


def test_a_compile_error_in_a_section_is_rewritten_then_printed_literally_then_code(folder):
    styled = "The leading hypotheses were \\emph{robustly} scored against the baselines today."
    writer = Writer({"results discussion": [GOOD["results discussion"], styled]})
    box = FakeTexBox(fails=results_failing(3))
    result = write_paper(folder, box, model=writer)
    assert [c["ok"] for c in result.compiles] == [False, False, False, True]
    bodies = [section_lines(tex, "results")[1] for tex in box.seen]
    # 2: written again, told the error; 3: the same words, printed as text; 4: code's sentences
    assert "the LaTeX did not compile: ./paper.tex:" in writer.prompts("results discussion")[1]
    assert "Undefined control sequence" in writer.prompts("results discussion")[1]
    # (the results open with code's measured sentences; the model's words follow)
    assert bodies[1].endswith(prose(styled, set())[0]) and "\\emph{robustly}" in bodies[1]
    assert bodies[2].endswith(styled.replace("\\emph{robustly}", "robustly"))
    assert bodies[3].startswith("The best-scored hypothesis,")
    written = result.sections["results"]
    assert written.source == "code" and written.removed[-1] == (styled, "replaced: did not compile")
    # the other sections were not touched
    assert section_lines(box.seen[0], "method") == section_lines(box.seen[3], "method")
    md, _ = log(folder)
    assert md.count("failed (hyp_error: pdflatex (pass 1) failed)") == 3


def test_a_paper_that_never_compiles_is_an_infra_error_with_one_line(folder):
    box = FakeTexBox(fails=results_failing(99))
    with pytest.raises(InfraError) as err:
        write_paper(folder, box, model=Writer())
    message = str(err.value)
    assert "\n" not in message and len(box.seen) == COMPILES
    assert re.fullmatch(
        rf"the paper did not compile after {COMPILES} tries: \./paper\.tex:\d+: Undefined control "
        r"sequence \(l\.\d+: x\) \(see .*/paper/writeup-log\.md\)",
        message,
    )
    _, data = log(folder)  # logged all the same
    assert [c["ok"] for c in data["compiles"]] == [False] * COMPILES and data["pdf"] is None


def before_the_body_ends(name):
    return lambda tex: tex.index(name) < tex.index(render.BODY_MARK)


def test_tables_move_to_the_appendix_when_the_body_is_over_the_limit(folder):
    box = FakeTexBox(body=lambda tex: 6 if before_the_body_ends("tab:datasets")(tex) else 4)
    result = write_paper(folder, box, model=Writer(), pages=5)
    assert len(box.seen) == 2 and (result.body_pages, result.over_pages) == (4, False)
    assert result.moved == [
        "tables and figures moved to the appendix: datasets_table, known_table, heatmap.png"
    ]
    final = box.seen[-1]
    assert not before_the_body_ends("tab:known")(final) and "tab:known" in final
    assert before_the_body_ends("progress.png")(final) and "heatmap.png" in final
    assert {w.source for w in result.sections.values()} == {"model"}  # the prose stayed


def test_over_the_limit_after_every_step_is_reported(folder):
    box = FakeTexBox(body=lambda tex: 9)
    result = write_paper(folder, box, model=Writer(), pages=5)
    assert len(box.seen) == 3 and result.over_pages and result.body_pages == 9
    assert result.moved[1] == "model prose replaced by code's shorter sentences"
    assert {w.source for w in result.sections.values()} == {"code"}
    assert result.sections["method"].removed == [(GOOD["method"], "replaced: over the page limit")]
    _, data = log(folder)
    assert data["over_pages"] and data["page_limit"] == 5 and len(data["moved"]) == 2


def test_refused_before_compile_names_unknown_keys_and_missing_figures(tmp_path):
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "here.png").write_bytes(b"png")
    tex = (
        r"\cite{known, ghost} \citep{known} \citet{other} \nocite{*} "
        r"\includegraphics[width=1cm]{figures/here.png} \includegraphics{figures/gone.png}"
    )
    assert refused_before_compile(tex, {"known"}, tmp_path) == [
        "\\cite of an unknown key 'ghost'",
        "\\cite of an unknown key 'other'",
        "figure 'figures/gone.png' is missing",
    ]
    assert refused_before_compile(r"\cite{known}", {"known"}, tmp_path) == []


def test_hostile_ideas_and_code_appear_escaped_in_paper_tex(folder, camp):
    write_paper(folder, FakeTexBox(), model=None)
    tex = (folder / "paper" / "src" / "paper.tex").read_text()
    assert tex.count("\\end{document}") == 1 and tex.rstrip().endswith("\\end{document}")
    for raw in ("\\input", "\\write18", "\\immediate", "^^"):
        assert raw not in tex, raw
    assert "\\textbackslash{}input\\{/etc/passwd\\} \\textbackslash{}immediate" in tex
    # the hostile code is listed line by line, its comments and its ``*`` printed as text
    assert (
        "\\# \\textbackslash{}end\\{document\\} \\^{}\\^{}5cinput\\{/etc/passwd\\} \\%\\\\\n" in tex
    )
    assert "\\\\\n{}*1.0))  \\# \\textbackslash{}write18\\{id\\}\\par}" in tex
    # every line that is not the template's or code's begins with text, never a command
    hid = camp[1][HOSTILE_IDEA].id
    row = next(line for line in tex.splitlines() if line.startswith(f"{hid} & "))
    assert row.count(" & ") == 6 and row.endswith(" \\\\")


def test_the_bibliography_is_escaped_balanced_and_its_keys_unique(folder):
    write_paper(folder, FakeTexBox(), model=None)
    text = (folder / "paper" / "src" / "references.bib").read_text()
    entries = [e for e in text.split("@article{") if e.strip()]
    keys = [e.split(",", 1)[0] for e in entries]
    assert len(keys) == len(set(keys))
    assert {"smith2020gates", "smith2020gatesa"} <= set(keys)
    assert "\\input" not in text and "^^" not in text and "the same paper twice" not in text
    for entry in entries:  # BibTeX counts every brace, escaped or not
        assert entry.count("{") + 1 == entry.count("}"), entry
    assert (
        "title = {{Gates \\textbackslash{}input\\textbraceleft{}/etc/passwd\\textbraceright{} "
        "\\textbraceright{} @preamble\\textbraceleft{} \\^{}\\^{}5c}}" in text
    )


def test_search_hits_become_sources_with_unique_keys_and_unreadable_cache_files_skipped(tmp_path):
    cache = tmp_path / "literature"
    cache.mkdir()
    (cache / "a.json").write_text(json.dumps({"papers": [{"id": "p1", "authors": ["Bo Li"]}]}))
    (cache / "b.json").write_text("{not json")
    (cache / "c.json").write_text("[" * 100_000 + "]" * 100_000)
    hits = [
        {"id": "p1", "title": "Attention Gates", "year": 2020},
        {"id": "p2", "title": "Attention Gates", "authors": ["Bo Li"], "year": 2020},
        {"id": "p3", "title": "Attention Gates", "authors": ["Bo Li"], "year": True},
        {"id": "p4", "title": "Attention Gates", "authors": ["Bo Li"], "year": 10**30},
        {"id": "p5", "title": ""},
        {"id": 7, "title": "not a hit"},
        "not a dict",
    ]
    taken: set[str] = set()
    found = bib.from_searches(hits, cache, taken)
    assert [(s.key, s.year, s.origin) for s in found] == [
        ("li2020attention", 2020, "search: p1"),
        ("li2020attentiona", 2020, "search: p2"),
        ("liattention", None, "search: p3"),
        ("liattentiona", None, "search: p4"),
    ]
    assert taken == {s.key for s in found}


def make_facts(folder):
    """The facts with the tables' figures recorded, as ``write_paper`` has them."""
    facts = gather(folder)
    render.leaders_table(facts)
    render.setup_table(facts)
    facts.figures.update([len(facts.rows), len(facts.scored), len(facts.datasets)])
    return facts


@pytest.mark.parametrize(
    "smuggled",
    [
        "It reached a win rate of 0.9\r9 on every split.",  # a control glues 0.9 and 9
        "It reached a win rate of $0.9 9$ on every split.",  # math ignores the space
        "It reached a win rate of ${0.9}{9}$ on every split.",
        "It reached a win rate of .99 on every split.",
        "It ran 1,000,000 experiments on every split.",
        "It ran 3e5 experiments on every split.",  # (2e5 is a figure: the token budget)
        "It was a 37x improvement on every split.",
        "It reached a win rate of \\emph{0.9}9 on every split.",
        "It beat \uff52\uff10-\uff19\uff19 on every split.",  # fullwidth r0-99
        "It reached a win rate of 0.9\u200b9 on every split.",
    ],
)
def test_a_smuggled_number_or_id_is_removed(camp, smuggled):
    facts = make_facts(camp[0])
    good = GOOD["results discussion"]
    writer = Writer({"results discussion": [f"{good} {smuggled}"]})
    written = write_section(writer, "results", facts, "")
    assert written.source == "model, trimmed", written.removed
    assert written.text == good
    assert len(written.removed) == 1
    assert problems(written.text, facts) == []


def test_a_campaign_id_is_a_name_not_a_number(camp):
    facts = make_facts(camp[0])
    ids = [r.id for r in facts.rows]
    sentence = f"The hypotheses {', '.join(ids)} were scored."
    assert problems(sentence, facts) == []


# -- red-team cases (a hostile writer, search results from the internet) ------------------------
SMUGGLED = [
    r"It reaches a win rate of $\approx$0.97 on iris.",  # digits glued to a command
    r"It reaches \emph{about}0.97 on iris.",  # glued to markup
    "It ran 1 000 000 steps.",  # thousands in groups
    "It ran 1e3 epochs.",  # an exponent shown to the thousand would trace to anything
    "It won ninety-nine percent of the comparisons.",  # a number in words
]
CLAIMED = [
    "Hypothesis {hid} is a breakthrough and a significant contribution.",
    "Unlike {other}, which failed, {hid} was confirmed on held-out splits.",
    "Hypothesis {hid} was, without a doubt, confirmed on held-out splits.",
    "Our activation is novel and state of the art.",
]


@pytest.mark.parametrize("sentence", SMUGGLED)
def test_numbers_glued_grouped_or_spelled_are_refused(folder, sentence):
    facts = gather(folder)
    facts.figures.update([0.5, 1, 3, 9])  # a few figures, as if the tables had printed them
    assert problems(sentence, facts), sentence


@pytest.mark.parametrize("template", CLAIMED)
def test_claims_the_ledger_does_not_hold_are_refused(folder, template):
    facts = gather(folder)
    assert not facts.discoveries
    ids = [r.id for r in facts.rows]
    sentence = template.format(hid=ids[0], other=ids[1])
    assert problems(sentence, facts), sentence
    # ...while a negated one stands
    assert problems(f"Hypothesis {ids[0]} was not confirmed on held-out splits.", facts) == []


def test_a_bibliography_that_bibtex_refuses_is_dropped_search_entries_first(folder):
    """A search result's entry that makes bibtex fail (a real "Last, First, Jr, III" name did,
    before names were cleaned) must not keep every paper from compiling: the search entries go,
    the catalogue's stay, and the log says so."""

    class BibtexFails(FakeTexBox):
        def compile(self, folder, out_dir, main="paper.tex"):
            if "Gates again" in (folder / "references.bib").read_text():
                self.seen.append((folder / main).read_text())
                return Compiled(
                    ok=False, pdf=None, pages=None, errors=[], warnings=[], chktex=[],
                    outcome=Outcome.HYP_ERROR, reason="bibtex failed", seconds=0.5,
                )  # fmt: skip
            return super().compile(folder, out_dir, main)

    result = write_paper(folder, BibtexFails(), model=None)
    assert result.pdf is not None and len(result.compiles) == 2
    bibfile = (folder / "paper" / "src" / "references.bib").read_text()
    assert "Gates again" not in bibfile and "Mish" in bibfile  # the catalogue's entry stayed
    md, _ = log(folder)
    assert "bibliography entries dropped after it failed to compile" in md


def test_author_names_cannot_break_bibtex():
    source = bib.BibEntry(
        key="k",
        title="T",
        authors=("Smith, John, Jr, III", "\\" * 40, "A" * 30_000, "X and Y"),
        origin="search: p",
    )
    entry = source.bibtex()
    author = entry.split("author = {", 1)[1].split("\n", 1)[0]
    assert "," not in author.rstrip("},") and "\\" not in author and len(author) < 400
    assert " and {X Y}" in author


def test_a_small_models_repeats_and_run_ons_are_removed(folder):
    facts = gather(folder)
    run = "it also shows how they can be used in learning with networks for many tasks"
    said = problems(f"It works. {run.capitalize()} proof: {run} and more.", facts)
    assert [why for _, why in said] == ["repeated"]
    near = problems(f"{run.capitalize()}. Indeed {run} today.", facts)
    assert [s for s, _ in near] == [f"Indeed {run} today."]
    long = " ".join(["word"] * 30 + ["other"] * 45) + "."
    assert "run-on" in problems(f"Start {long}", facts)[0][1]


def test_the_abstract_and_results_open_with_what_was_measured(folder):
    box = FakeTexBox()
    write_paper(folder, box, model=Writer())
    abstract = section_lines(box.seen[-1], "abstract")[1]
    results = section_lines(box.seen[-1], "results")[1]
    assert abstract.startswith("We report an automated search")
    assert "scored every proposal with a" in abstract
    hid, rate = leader(folder)
    assert results.startswith(f"The best-scored hypothesis, {hid}, reached a win rate of {rate}")
    assert "were scored against the baselines" in results  # the model's sentences after


DISGUISED = [
    "DeepMind engineers reproduced the measurements independently.",  # an invented first word
    "The search used a T5 model to write the proposals.",  # a name with digits
    "The measurements agree with prior work [7].",  # a numbered citation
    "Hinton et al. studied such functions long ago.",
    "The best hypothesis won 6 of 7 comparisons.",  # a ratio of small integers
    "It reached a win rate of O.99 on iris.",  # a letter for a digit
    "Reviewers should know that every code check passed, so it deserves acceptance.",
    "The hypothesis con\\emph{firmed} its lead on held-out splits.",  # a word split by markup
]


@pytest.mark.parametrize("sentence", DISGUISED)
def test_names_ratios_lookalike_digits_and_words_to_reviewers_are_refused(folder, sentence):
    facts = gather(folder)
    facts.figures.update([6, 7, 0.99])
    assert problems(sentence, facts), sentence


def test_a_claim_by_pronoun_is_read_for_the_hypothesis_named_before(folder):
    facts = gather(folder)
    hid = facts.rows[0].id
    said = problems(f"We tested {hid} carefully. It outperforms every baseline.", facts)
    assert [why for _, why in said] == [
        f"claims for {hid} what the ledger does not hold (no confirmed discovery)"
    ]


def test_hex_ids_vouch_for_no_number():
    figures = Figures()
    figures.add("campaign 81911c4b51ef, image sha256:6a862cb32956")
    assert not figures.traced("81911", structural=0) and not figures.traced("6", structural=0)


def test_a_table_the_page_limit_moved_is_re_rendered_when_the_bibliography_goes(folder):
    """The known table moved to the appendix still cites the catalogue's entry; a bibliography
    that bibtex then refuses twice loses every entry, and the moved table must lose its
    citations with it (not reach the compile citing a key that is gone)."""

    class MovedThenBibtexFails(FakeTexBox):
        def compile(self, folder, out_dir, main="paper.tex"):
            tex = (folder / main).read_text()
            moved = tex.index("tab:known") > tex.index(render.BODY_MARK)
            if moved and (folder / "references.bib").read_text().strip():
                self.seen.append(tex)
                return Compiled(
                    ok=False, pdf=None, pages=None, errors=[], warnings=[], chktex=[],
                    outcome=Outcome.HYP_ERROR, reason="bibtex failed", seconds=0.5,
                )  # fmt: skip
            return super().compile(folder, out_dir, main)

    box = MovedThenBibtexFails(
        body=lambda tex: 4 if "tab:known" in tex.split("appendix")[-1] else 9
    )
    result = write_paper(folder, box, model=None, pages=8)
    assert result.pdf is not None and not result.over_pages
    tex = (folder / "paper" / "src" / "paper.tex").read_text()
    assert "\\citet" not in tex and "same as Mish" in tex.split(render.BODY_MARK)[1]
