"""Papers true to the campaign: the sentences code writes about how hypotheses were proposed,
checked and scored come from the records of the campaign as it ran (campaign.json, the start
event's generator and models, the critic's verdict events, the reference events, the rows'
parents, the results' rungs, the task's template), one campaign of each kind; the writer and the
reviewer's checks refuse prose that says otherwise."""

from __future__ import annotations

import hashlib
import json
import sys
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from core.records import DatasetScore, EvalReport, HypothesisRow, Outcome
from core.settings import CampaignSettings
from evaluators import registry
from hypoforge import campaign, reference
from hypoforge.claims import provenance_problems
from hypoforge.paper import provenance, render
from hypoforge.paper.facts import gather
from hypoforge.paper.writer import brief, problems
from hypoforge.review_checks import code_checks
from store.ledger import Ledger
from tests.fakes import FakeEvaluator, models, proposal, start

RUN = '{"decision": "run", "reasons": "fine", "p_win": 0.6}'
REJECT = '{"decision": "reject", "reasons": "a plain ReLU", "p_win": 0.1}'
FALSE_STORY = (
    "Hypotheses were proposed by language-model agents, checked by a critic, run in a hardened "
    "container, and scored by trusted code."
)
SANDBOX = (
    "Those that passed the static checks ran in a hardened container, one per hypothesis, and "
    "were scored by trusted code on the host."
)
KEEP = (
    "A hypothesis is kept when the lower bound of its win rate is above one half after a "
    "multiple-comparison correction."
)
SUMMARY = (
    "The task: an elementwise activation function for a small MLP, scored by win rate against "
    "ReLU, GELU, SiLU and tanh on 7 datasets x 3 seeds."
)
LEDGER = "This paper reports what was measured, with every figure taken from the campaign's ledger."


class TexBox:
    """Compiles nothing: a PDF and a log with the body's page count (four)."""

    def compile(self, folder, out_dir, main="paper.tex"):
        from sandbox.tex import Compiled

        (out_dir / "paper.log").write_text(f"This is pdfTeX\n{render.BODY_MARK}=4\n")
        (out_dir / "paper.pdf").write_bytes(b"%PDF-1.4\n%fake\n")
        return Compiled(
            ok=True,
            pdf=out_dir / "paper.pdf",
            pages=7,
            errors=[],
            warnings=[],
            chktex=[],
            outcome=Outcome.OK,
            reason="",
            seconds=0.5,
        )


class Named(FakeListChatModel):
    """A scripted chat model with a name, as ``ChatOpenAI`` has one (``model_name``)."""

    model_name: str = ""


def named(ms: dict, **names: str) -> dict:
    return {
        role: Named(responses=m.responses, model_name=names.get(role, "")) for role, m in ms.items()
    }


def rows_of(folder):
    ledger = Ledger(folder / "ledger.sqlite")
    try:
        return {r.id: r for r in ledger.hypotheses(campaign.load(folder).id)}
    finally:
        ledger.close()


def verdict_check(text, folder):
    return {c.name: c for c in code_checks(text, folder)}["provenance"]


# -- a language model proposed, a critic reviewed ----------------------------------------------
@pytest.fixture(scope="module")
def llm_camp(tmp_path_factory):
    folder, _ = start(tmp_path_factory.mktemp("llm"), proposals=3, batch=3, full_top_k=1)
    props = [
        proposal("x * torch.sigmoid(1.5 * x)", "a sharper gate"),
        proposal("torch.tanh(x) * x", "a tanh gate"),
        proposal("torch.sin(3.0 * x) * torch.abs(x)", "a wave"),
    ]
    ms = named(
        models(props, verdicts=[RUN, RUN, REJECT]),
        proposer="qwen-7b",
        critic="qwen-14b",
        coder="qwen-7b",
        analyst="qwen-7b",
    )
    services = campaign.Services(FakeEvaluator(), ms, retries=0, generator="http:qwen")
    campaign.run(folder, services)
    return folder


def test_an_llm_campaign_says_which_models_proposed_and_reviewed(llm_camp):
    facts = gather(llm_camp)
    assert render.default_prose("introduction", facts) == " ".join(
        [
            SUMMARY,
            "Hypotheses were proposed by a language model (qwen-7b).",
            "A critic model (qwen-14b) reviewed all 3 proposals before they ran and rejected 1.",
            SANDBOX,
            LEDGER,
        ]
    )
    assert render.default_prose("method", facts) == " ".join(
        [
            "Results were measured on the budget ladder one-pass then short then full, with "
            "hypotheses measured per rung: one-pass (2), short (2), full (1).",
            "The behaviour of 3 hypotheses was probed and compared with one another's and with "
            "the task's published components.",
            KEEP,
            "It is a discovery only when it is then confirmed on held-out splits; none was run "
            "on them.",
            "No parent hypothesis was named by any proposal.",
        ]
    )
    setup = facts.setup()
    assert setup["proposed by"] == "a language model (qwen-7b)"
    assert setup["reviewed by"] == "a critic model (qwen-14b): 3, rejected 1"
    assert "lineage" not in setup and setup["rungs run"] == "one-pass (2), short (2), full (1)"
    assert setup["behaviour probes"] == "3 hypotheses"


def test_the_start_event_records_the_generator_and_the_model_of_each_role(llm_camp):
    ledger = Ledger(llm_camp / "ledger.sqlite")
    try:
        ((_, _, detail),) = ledger.events(campaign.load(llm_camp).id, "start")
    finally:
        ledger.close()
    recorded = json.loads(detail)
    assert recorded["generator"] == "http:qwen"
    assert recorded["models"] == {
        "proposer": "qwen-7b",
        "critic": "qwen-14b",
        "coder": "qwen-7b",
        "analyst": "qwen-7b",
    }


def test_a_model_without_a_name_is_said_to_be_unrecorded(tmp_path):
    folder, _ = start(tmp_path, proposals=1, batch=1, full_top_k=0)
    ms = models([proposal("x * torch.sigmoid(x)")])
    campaign.run(folder, campaign.Services(FakeEvaluator(), ms, retries=0))
    told = provenance.sentences(gather(folder).how)["proposed"]
    assert told[:2] == [
        "Hypotheses were proposed by a language model (its name was not recorded).",
        "A critic model reviewed the one proposal before it ran; it rejected none.",
    ]


# -- the built-in search generator, no critic --------------------------------------------------
@pytest.fixture(scope="module")
def search_camp(tmp_path_factory):
    folder, _ = start(
        tmp_path_factory.mktemp("search"), proposals=3, batch=3, full_top_k=1, generator="search"
    )
    services = campaign.Services(FakeEvaluator(), {}, retries=0, generator="search")
    campaign.run(folder, services)
    return folder


def test_a_search_campaign_says_no_model_proposed_and_no_critic_reviewed(search_camp):
    facts = gather(search_camp)
    rows = rows_of(search_camp)
    assert len(rows) == 3
    intro = render.default_prose("introduction", facts)
    assert intro == " ".join(
        [
            SUMMARY,
            "Hypotheses were proposed by the task's built-in search generator; no language "
            "model took part in proposing them and no critic reviewed them.",
            SANDBOX,
            LEDGER,
        ]
    )
    assert "critic" not in render.default_prose("method", facts)
    assert render.default_prose("abstract", facts).startswith(
        "We report an automated search for activation components: 3 hypotheses were proposed, "
    )
    setup = facts.setup()
    assert setup["proposed by"] == "the task's built-in search generator (no language model)"
    assert setup["reviewed by"] == "nothing: the search generator's proposals run unreviewed"
    assert setup["LLM tokens"] == "0 of 200000"


def test_a_search_campaign_refuses_prose_about_a_proposing_model_or_a_critic(search_camp):
    facts = gather(search_camp)
    assert problems(FALSE_STORY, facts) == [
        (
            FALSE_STORY,
            "says a language model proposed the hypotheses: none did in this campaign; says a "
            "critic reviewed the proposals: no critic review is recorded",
        )
    ]
    told = brief(facts)
    assert "- proposed by: the task's built-in search generator (no language model)" in told
    assert "- no language model proposed the hypotheses" in told
    assert "- no critic reviewed the proposals: do not mention a critic" in told
    check = verdict_check(FALSE_STORY, search_camp)
    assert (check.ok, check.blocking) == (False, True)
    assert [i.split(":")[0] for i in check.items] == [
        "says a language model proposed the hypotheses",
        "says a critic reviewed the proposals",
    ]
    own = render.default_prose("introduction", facts) + " " + render.default_prose("method", facts)
    assert verdict_check(own, search_camp).ok  # code's own sentences pass its check


def test_a_search_campaigns_whole_paper_tells_its_story_and_passes_the_review(
    search_camp, tmp_path
):
    import shutil

    from hypoforge.paper.build import write_paper
    from hypoforge.paper.latex import plain

    folder = tmp_path / "camp"
    shutil.copytree(search_camp, folder)
    write_paper(folder, TexBox(), model=None)
    tex = (folder / "paper" / "src" / "paper.tex").read_text()
    intro = tex.split("%hf-begin-introduction")[1].split("%hf-end-introduction")[0]
    assert (
        "Hypotheses were proposed by the task's built-in search generator; no language model "
        in (" ".join(intro.split()))
    )
    assert "language-model agents" not in tex and "checked by a critic" not in tex
    setup = json.loads((folder / "paper" / "facts.json").read_text())
    assert setup["proposed by"] == "the task's built-in search generator (no language model)"
    text = " ".join(plain(tex).split())
    checks = {c.name: c for c in code_checks(text, folder)}
    assert checks["provenance"].ok, checks["provenance"].items


def test_the_same_prose_passes_where_a_model_proposed_and_a_critic_reviewed(llm_camp):
    assert problems(FALSE_STORY, gather(llm_camp)) == []
    assert verdict_check(FALSE_STORY, llm_camp).ok


# -- a reference row ---------------------------------------------------------------------------
def test_a_reference_point_is_neither_a_proposal_nor_reviewed(tmp_path):
    folder, _ = start(tmp_path, allow_known="once", proposals=3, batch=2, full_top_k=1)
    task_dir = registry.get("activation").folder
    reference.seed(folder, reference.find(task_dir, "elu", CampaignSettings(proposals=3)))
    props = [proposal("x * torch.sigmoid(1.5 * x)", "a gate"), proposal("torch.tanh(x) * x")]
    ms = named(models(props), proposer="p-1", critic="c-1")
    campaign.run(folder, campaign.Services(FakeEvaluator(), ms, retries=0))
    facts = gather(folder)
    assert facts.how.references == {"r0-0": "ELU"}
    assert facts.how.proposed == ("r0-1", "r1-0")
    assert render.default_prose("abstract", facts).startswith(
        "We report an automated search for activation components: 2 hypotheses were proposed "
        "(and 1 reference point from the task's catalogue), "
    )
    assert provenance.sentences(facts.how)["proposed"] == [
        "Hypotheses were proposed by a language model (p-1).",
        "A critic model (c-1) reviewed all 2 proposals before they ran; it rejected none.",
        "Beside them, 1 reference point from the task's catalogue (ELU) was measured: "
        "published components, not proposals, run without a review.",
        SANDBOX,
    ]
    assert facts.setup()["reference points"] == "r0-0 (ELU)"


# -- lineage -------------------------------------------------------------------------------------
def test_lineage_is_told_from_the_rows_parents_and_the_proposers_picks(llm_camp, tmp_path):
    import shutil

    folder = tmp_path / "camp"
    shutil.copytree(llm_camp, folder)
    info = campaign.load(folder)
    ledger = Ledger(folder / "ledger.sqlite")
    try:  # as graph.nodes.propose records a child: the row's parent and the proposer's event
        for hid, parent, by in (("r0-1", "r0-0", "best"), ("r0-2", "r0-1", "diverse")):
            row = ledger.hypothesis(info.id, hid)
            ledger.save(row.model_copy(update={"parent": parent}))
            ledger.log(info.id, "proposer", "parent", {"id": hid, "parent": parent, "by": by})
    finally:
        ledger.close()
    facts = gather(folder)
    assert facts.how.depth("r0-2") == 2 and facts.how.deepest == 2
    assert provenance.sentences(facts.how)["lineage"] == [
        "2 of the proposals named a parent hypothesis and built on its code (r0-1 from r0-0, "
        "r0-2 from r0-1); the longest line of descent is 2 generations deep.",
        "Parents were picked by the campaign's rule: best (1), diverse (1).",
    ]
    assert render.default_prose("method", facts).endswith(
        "the longest line of descent is 2 generations deep. Parents were picked by the "
        "campaign's rule: best (1), diverse (1)."
    )
    assert facts.setup()["lineage"] == "2 with a parent, 2 generations deep"
    child = "Each child builds on the code of its parent."
    assert problems(child, facts) == []
    assert verdict_check(child, folder).ok
    # Without parents in the records, the same sentence is refused (and reported, not blocking).
    assert problems(child, gather(llm_camp))[0][1] == (
        "speaks of lineage: no proposal in this campaign named a parent"
    )
    check = verdict_check(child, llm_camp)
    assert (check.ok, check.blocking) == (False, False)


def test_a_loop_of_parents_in_hostile_records_ends(llm_camp):
    how = gather(llm_camp).how
    looped = provenance.Provenance(**{**how.__dict__, "parents": {"a": "b", "b": "a"}})
    assert looped.depth("a") == 1 and looped.deepest == 1


# -- a template task -----------------------------------------------------------------------------
SCRIPT = """import torch
# >>> EDIT model
class Model(torch.nn.Module):
    pass
# <<< EDIT model
# >>> EDIT optimizer
def make_optimizer(model):
    return torch.optim.AdamW(model.parameters(), lr=1e-3)
# <<< EDIT optimizer
def train_and_predict(inputs, rung, seed, checks):
    return {}, 0
"""


@pytest.fixture
def template_plugin(tmp_path, monkeypatch):
    """A task of the template kind as the registry reads it: ``kind`` and the [template]
    table; its metric's label from ``evaluators.template.metrics``."""
    (tmp_path / "train.py").write_text(SCRIPT)
    metric = SimpleNamespace(label="bits per token")
    monkeypatch.setitem(
        sys.modules,
        "evaluators.template.metrics",
        SimpleNamespace(METRICS={"bits_per_token": metric}),
    )
    table = {
        "script": "train.py",
        "metric": "bits_per_token",
        "rungs": {
            "one-pass": {"wall_seconds": 90, "steps": 300},
            "short": {"wall_seconds": 240, "steps": 900},
            "full": {"wall_seconds": 700, "steps": 2700},
        },
    }
    spec = SimpleNamespace(kind="template", template=table, generator=None)
    return SimpleNamespace(spec=spec, folder=tmp_path)


def test_a_template_task_names_its_script_blocks_metric_and_rung_units(llm_camp, template_plugin):
    info = campaign.load(llm_camp)
    ledger = Ledger(llm_camp / "ledger.sqlite")
    try:
        rows = ledger.hypotheses(info.id)
        how = provenance.gather(ledger, info, rows, ledger.results(info.id), template_plugin)
    finally:
        ledger.close()
    assert how.metric == "bits per token"
    told = provenance.sentences(how)
    assert told["template"] == [
        "A hypothesis is a set of edits to the editable blocks of the task's script train.py "
        "(model, optimizer); the rest of the script is fixed, and the score, bits per token, is "
        "computed on the host from the predictions the script returns."
    ]
    assert told["scored"][1] == (
        "In the script's own units the rungs run were one-pass: wall seconds 90, steps 300; "
        "short: wall seconds 240, steps 900; full: wall seconds 700, steps 2700."
    )
    setup = how.setup()
    assert setup["template"] == "train.py, editable blocks model, optimizer"
    assert setup["metric"] == "bits per token"
    assert {300, 900, 2700, 90} <= set(how.figures())


def test_a_task_of_the_plugin_kind_has_no_template():
    assert provenance.template_of(registry.get("activation")) is None
    assert provenance.template_of(None) is None


# -- untrusted text and records ------------------------------------------------------------------
@given(st.text(max_size=300), st.booleans(), st.booleans(), st.booleans())
def test_the_provenance_rule_reads_any_text(text, llm, critic, lineage):
    found = provenance_problems(text, llm_proposed=llm, critic_reviewed=critic, lineage=lineage)
    assert all(isinstance(w, str) for w in found)
    if llm and critic and lineage:
        assert found == []


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["start", "resume", "verdict", "reference", "parent"]),
            st.one_of(
                st.text(max_size=40),
                st.recursive(
                    st.none() | st.integers() | st.text(max_size=10),
                    lambda inner: (
                        st.lists(inner, max_size=3)
                        | st.dictionaries(
                            st.sampled_from(["id", "by", "models", "generator", "reasons"]), inner
                        )
                    ),
                    max_leaves=8,
                ).map(json.dumps),
            ),
        ),
        max_size=6,
    )
)
def test_hostile_events_never_break_the_gathering(events):
    class Events:
        def events(self, campaign, kind=None):
            return [("critic", k, d) for k, d in events if kind in (None, k)]

        def probe(self, campaign, hid, sha):
            return None

    info = SimpleNamespace(id="c", budgets=CampaignSettings())
    rows = [HypothesisRow(campaign="c", id="r0-0", round=0, mode="novel", idea="x")]
    how = provenance.gather(Events(), info, rows, [], None)
    assert how.proposed in (("r0-0",), ())
    provenance.sentences(how)
    how.setup()


def test_a_reference_point_that_leads_is_not_called_a_hypothesis(tmp_path):
    folder, _ = start(tmp_path, allow_known="once", proposals=2, batch=2, repairs=0)
    task_dir = registry.get("activation").folder
    reference.seed(folder, reference.find(task_dir, "elu", CampaignSettings(proposals=2)))
    affine = "* x + 1.0"  # the probe finds it affine: it fails, and only the reference is scored
    ms = models([proposal(f"2.0 {affine}", idea="a line")])
    campaign.run(folder, campaign.Services(FakeEvaluator(probe_rejects=affine), ms, retries=0))
    facts = gather(folder)
    assert [r.id for r in facts.leaders] == ["r0-0"]
    rate = render.number(facts.reports["r0-0"].win_rate)
    assert render.default_prose("results", facts) == (
        "The best-scored row, r0-0, is a reference point from the task's catalogue, not a "
        f"proposal; it reached a win rate of {rate} at the one-pass budget (see the table of "
        "leading hypotheses). No hypothesis was confirmed on held-out splits."
    )
    assert render.default_prose("abstract", facts).startswith(
        "We report an automated search for activation components: 1 hypothesis was proposed "
        "(and 1 reference point from the task's catalogue), 1 was scored "
    )


# -- campaigns on edit tasks: lineage as the graph records it, and a template task -------------
GAINS = {"LR = 5e-3": 0.1, "WEIGHT_DECAY = 0.5": 0.2}  # a line's part of the fake win rate


class EditsEvaluator:
    """A fake evaluator of an edit task: the edits applied to the task's real script on the
    host (as the harness does before a job), every script scored alike."""

    description = "edits to train.py's blocks"

    def __init__(self, task: str) -> None:
        self.task = task
        self.script = (registry.get(task).folder / "train.py").read_text()

    def static_problem(self, source: str) -> str | None:
        from evaluators.edits import EditError, apply_edits

        try:
            return None if apply_edits(self.script, source) != self.script else "no change"
        except EditError as exc:
            return str(exc)

    def experiment_key(self, source: str, budget: str) -> str:
        return hashlib.sha256(f"{source}|{budget}".encode()).hexdigest()[:24]

    def behaviour(self, report: EvalReport) -> list[float] | None:
        return None

    def evaluate(self, source: str, budget: str = "one-pass") -> EvalReport:
        from evaluators.edits import apply_edits

        script = apply_edits(self.script, source)
        wr = 0.5 + sum(g for line, g in GAINS.items() if f"\n{line}\n" in script)
        score = DatasetScore(candidate=wr, baselines={"template": 0.5}, win_rate=wr)
        return EvalReport(
            task=self.task,
            budget=budget,
            status=Outcome.OK,
            win_rate=wr,
            win_rate_ci=(wr - 0.01, wr + 0.01),
            comparisons=9,
            per_dataset={"d1": score, "d2": score},
            harness_version="h",
            code_sha="c",
            wall_seconds=0.1,
        )


def edit(old: str, new: str, idea: str) -> str:
    return f"IDEA: {idea}\n<<<<<<< SEARCH\n{old}\n=======\n{new}\n>>>>>>> REPLACE\n"


@pytest.mark.slow  # a whole campaign of four proposals over two rounds
def test_a_grokking_campaign_with_lineage_tells_each_child_and_its_parent(tmp_path):
    folder = tmp_path / "camp"
    settings = CampaignSettings(
        proposals=4, batch=2, full_top_k=0, confirm=False, lineage={"best": 1.0}
    )
    campaign.create(folder, "grokking", settings)
    replies = [
        edit("LR = 3e-3", "LR = 5e-3", "a larger learning rate"),
        edit("WEIGHT_DECAY = 1.0", "WEIGHT_DECAY = 0.5", "less weight decay"),
        edit("WEIGHT_DECAY = 0.5", "WEIGHT_DECAY = 0.3", "still less weight decay"),
        edit("BETA2 = 0.98", "BETA2 = 0.99", "a longer second moment"),
    ]
    ms = named({**models([]), "proposer": FakeListChatModel(responses=replies)}, proposer="p")
    campaign.run(folder, campaign.Services(EditsEvaluator("grokking"), ms, retries=0))
    assert {h: r.parent for h, r in rows_of(folder).items()} == {
        "r0-0": None, "r0-1": None, "r1-0": "r0-1", "r1-1": "r0-1",
    }  # fmt: skip
    facts = gather(folder)
    assert render.default_prose("method", facts) == " ".join(
        [
            "Results were measured on the budget ladder one-pass then short then full, with "
            "hypotheses measured per rung: one-pass (4).",
            "In the script's own units the rungs run were one-pass: wall seconds 120.0, "
            "steps 2000.",
            KEEP,
            "Held-out confirmation was off in this campaign, so no result is a discovery.",
            "2 of the proposals named a parent hypothesis and built on its code (r1-0 from "
            "r0-1, r1-1 from r0-1); the longest line of descent is 1 generation deep.",
            "Parents were picked by the campaign's rule: best (2).",
        ]
    )
    assert facts.how.metric == "area under the held-out accuracy curve"
    assert facts.how.template is not None  # grokking is a task of the template kind
    assert facts.setup()["behaviour probes"] == "none ran"  # grokking has no probe


def test_a_template_task_campaign_names_its_script_blocks_metric_and_rungs(tmp_path):
    folder = tmp_path / "camp"
    settings = CampaignSettings(proposals=2, batch=2, full_top_k=0, confirm=False)
    campaign.create(folder, "lm", settings)
    replies = [
        edit("LR = 3e-3", "LR = 5e-3", "a larger learning rate"),
        edit("WEIGHT_DECAY = 0.1", "WEIGHT_DECAY = 0.05", "less weight decay"),
    ]
    ms = named({**models([]), "proposer": FakeListChatModel(responses=replies)}, proposer="p")
    campaign.run(folder, campaign.Services(EditsEvaluator("lm"), ms, retries=0))
    facts = gather(folder)
    assert provenance.sentences(facts.how)["template"] == [
        "A hypothesis is a set of edits to the editable blocks of the task's script train.py "
        "(hyperparameters, model, optimizer, loss); the rest of the script is fixed, and the "
        "score, held-out bits per token (negated), is computed on the host from the "
        "predictions the script returns."
    ]
    intro = render.default_prose("introduction", facts)
    assert "the task's script train.py (hyperparameters, model, optimizer, loss)" in intro
    rungs = registry.get("lm").spec.template.rungs  # task.toml's tables, as tuned there
    units = {
        name: f"{name}: wall seconds {rung.wall_seconds}, steps {rung.table()['steps']}"
        for name, rung in rungs.items()
    }
    assert render.default_prose("method", facts).startswith(
        "Results were measured on the budget ladder one-pass then short then full, with "
        "hypotheses measured per rung: one-pass (2). In the script's own units the rungs run "
        f"were {units['one-pass']}."
    )
    setup = facts.setup()
    assert setup["template"] == "train.py, editable blocks hyperparameters, model, optimizer, loss"
    assert setup["metric"] == "held-out bits per token (negated)"
    assert setup["rungs in the script's units"] == "; ".join(
        units[r] for r in ("one-pass", "short", "full")
    )


def test_a_resume_with_another_model_names_both(llm_camp, tmp_path):
    import shutil

    folder = tmp_path / "camp"
    shutil.copytree(llm_camp, folder)
    ms = named(models([]), proposer="qwen-8b", critic="qwen-14b")
    campaign.run(folder, campaign.Services(FakeEvaluator(), ms, retries=0))
    how = gather(folder).how
    assert how.models["proposer"] == ("qwen-7b", "qwen-8b")
    assert how.model("proposer") == "qwen-7b or qwen-8b" and how.model("critic") == "qwen-14b"
    assert how.model("coder") == "qwen-7b"  # "unnamed" at the resume: no name to add
