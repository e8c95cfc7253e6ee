"""The reviewer on the embedded model (SmolLM2 over llama.cpp's server): its reply, held to the
form's JSON schema by the server's grammar, is the form itself (every key in order, every score
in range, every string and list within its bound), and two reviews with a reflection each end
in code's meta-review."""

from __future__ import annotations

import json

import pytest

from agents.llm import call
from agents.prompting import render
from agents.reviewer import ACCEPT_AT, REVIEW_SCHEMA, SCORES, Review, review_paper, with_schema
from core.settings import LLMSettings
from hypoforge.cli.review import REVIEW_TOKENS
from hypoforge.llm_server import embedded_server
from hypoforge.review import CodeCheck

PAPER = """A Gated Unit for Small Networks
Abstract
We propose a gated unit and measure it against three baselines on three small datasets.
4 Results
Hypothesis r0-1 reaches a win rate of 0.71 (95% CI [0.62, 0.80]) over the baselines, and it
was confirmed on held-out splits.
5 Limitations
Only three datasets and small networks were tried.
"""
CHECKS = [
    CodeCheck(name="numbers", ok=True, detail="every number in the paper (4 distinct) is recorded"),
    CodeCheck(name="bundles", ok=False, detail="1 hypothesis has no bundle", items=["r0-1"]),
]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    log = tmp_path_factory.mktemp("review") / "llm.log"
    with embedded_server("smollm2", log=log) as url:
        from agents.llm import make_chat_model

        yield make_chat_model(LLMSettings(max_tokens=REVIEW_TOKENS), url, "reviewer")


def test_the_servers_reply_is_the_form_itself(model):
    from langchain_core.messages import HumanMessage, SystemMessage

    prompt = render("review", paper=PAPER, truncated=False, checks=[])
    system = render("system", role="reviewer", task_description="Review a paper.")
    reply = call(with_schema(model, REVIEW_SCHEMA), [SystemMessage(system), HumanMessage(prompt)])
    # JSON as the grammar makes it (whose strings may hold raw newlines: strict=False)
    data = json.loads(str(reply.content), strict=False)
    assert list(data) == list(REVIEW_SCHEMA["properties"])
    review = Review(**data)  # strict: every score in its range, the decision a word of two
    for name, (low, high) in SCORES.items():
        assert low <= getattr(review, name) <= high
    assert 20 <= len(review.summary) <= 300
    assert 1 <= len(review.strengths) <= 3 and 1 <= len(review.weaknesses) <= 3
    assert len(review.questions) <= 2 and len(review.limitations) <= 2
    assert all(5 <= len(s) <= 160 for s in [*review.strengths, *review.weaknesses])


def test_two_reviews_with_a_reflection_each_end_in_codes_meta_review(model):
    found = review_paper(model, PAPER, CHECKS, reviews=2, reflections=1, constrain=True)
    assert len(found.reviews) == 2 and found.failed == [], found.errors
    assert all(n in (0, 1) for n in found.reflections)
    means = found.meta.scores
    assert set(means) == set(SCORES)
    overall = sum(r.overall for r in found.reviews) / 2
    assert means["overall"] == int(overall + 0.5)
    assert found.meta.decision == ("accept" if means["overall"] >= ACCEPT_AT else "reject")
    assert found.meta.summary and found.tokens > 0
