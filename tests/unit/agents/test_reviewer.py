"""The reviewer on fakes: its tolerant parser (good, fenced, partial, out-of-range, garbage and
fuzzed replies: a ``Review`` or a ``ParseError``, nothing else), the ensemble with reflections
that stop early, code's meta-review, and the paper cut to fit the prompt."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.llm import ParseError
from agents.reviewer import (
    META_SCHEMA,
    REFLECT_SCHEMA,
    REVIEW_SCHEMA,
    SCORES,
    Review,
    excerpt,
    parse_meta,
    parse_reflection,
    parse_review,
    review_paper,
    with_schema,
)
from hypoforge.review import CodeCheck
from tests.fakes import Recording


def form(**changes: object) -> dict:
    base: dict = {
        "summary": "The paper proposes a gate and measures it.",
        "strengths": ["clear setup"],
        "weaknesses": ["three datasets only"],
        "originality": 2,
        "quality": 3,
        "clarity": 3,
        "significance": 2,
        "questions": ["why these datasets?"],
        "limitations": ["small networks"],
        "ethical_concerns": False,
        "soundness": 3,
        "presentation": 3,
        "contribution": 2,
        "overall": 5,
        "confidence": 3,
        "decision": "reject",
    }
    base.update(changes)
    return base


def reply(**changes: object) -> str:
    return json.dumps(form(**changes))


META = '{"summary": "The reviewers agree the evidence is thin."}'
BLOCKING = CodeCheck(name="numbers", ok=False, blocking=True, detail="2 numbers untraced")
PASSED = CodeCheck(name="bundles", ok=True, detail="every hypothesis has its bundle")


# -- parse_review ----------------------------------------------------------------------------
def test_a_good_reply_parses_into_every_field():
    review = parse_review(reply())
    assert review == Review(**form())
    assert review.scores() == {n: form()[n] for n in SCORES}


def test_fences_prose_and_capitalised_keys_are_read():
    text = (
        "Here is my review:\n```json\n"
        + json.dumps({k.replace("_", " ").title(): v for k, v in form().items()})
        + "\n```\nThanks."
    )
    assert parse_review(text) == Review(**form())


def test_numbers_as_strings_out_of_range_scores_and_decision_words():
    review = parse_review(
        reply(
            quality="9",
            clarity="2/4",
            overall=0,
            confidence=7.6,
            soundness=2.5,
            decision="Weak Accept",
            strengths="one string",
            ethical_concerns="None",
        )
    )
    assert (review.quality, review.clarity, review.overall, review.confidence) == (4, 2, 1, 5)
    assert review.soundness == 3  # half up
    assert review.decision == "accept"
    assert review.strengths == ["one string"]
    assert review.ethical_concerns is False
    assert parse_review(reply(decision="REJECTED")).decision == "reject"
    assert parse_review(reply(ethical_concerns="It uses scraped personal data")).ethical_concerns


def test_raw_newlines_in_strings_are_read():
    """llama.cpp's schema grammar lets raw control characters into strings: not strict JSON."""
    text = reply(summary="The paper proposes@a gate.").replace("@", "\n\t")
    assert parse_review(text).summary == "The paper proposes a gate."


def test_a_missing_decision_follows_overall():
    data = form(overall=6)
    del data["decision"]
    assert parse_review(json.dumps(data)).decision == "accept"
    assert parse_review(reply(overall=5, decision="maybe")).decision == "reject"


def test_lists_are_bounded_and_wrapped_forms_unwrapped():
    review = parse_review(json.dumps({"review": form(weaknesses=["w" * 500] * 9)}))
    assert len(review.weaknesses) == 4 and all(len(w) == 200 for w in review.weaknesses)


def test_a_partial_form_names_what_is_missing():
    data = form()
    del data["summary"], data["overall"]
    with pytest.raises(ParseError, match="missing or unreadable: summary, overall"):
        parse_review(json.dumps(data))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "I think the paper is fine.",
        "{",
        "[1, 2, 3]",
        "null",
        '{"summary": 3}',
        '{"overall": 1e999, "summary": "x"}',
        '{"overall": NaN}',
        "{" + '"a": ' * 10_000,
        '{"overall": ' + "9" * 5000 + "}",  # an integer Python refuses to convert
        "[" * 100_000,
        "\ud800{",
    ],
)
def test_garbage_is_a_parse_error(text):
    with pytest.raises(ParseError):
        parse_review(text)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)
KEYS = st.sampled_from([*form(), "Overall", "done", "review"])


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=300),
        JSON.map(json.dumps),
        st.dictionaries(KEYS, JSON, max_size=16).map(json.dumps),
        st.dictionaries(KEYS, JSON, max_size=16).map(lambda d: json.dumps({**form(), **d})),
    ),
    st.text(max_size=20),
)
def test_any_text_gives_a_review_or_a_parse_error(body, prose):
    for text in (body, f"{prose}```json\n{body}\n```{prose}"):
        for parse in (parse_review, parse_reflection, parse_meta):
            with contextlib.suppress(ParseError):
                parse(text)


# -- reflections and the meta summary -------------------------------------------------------------
def test_a_reflection_is_done_or_a_better_review():
    assert parse_reflection('{"done": true}') == (None, True)
    assert parse_reflection("I am done.") == (None, True)
    assert parse_reflection(reply(overall=7)) == (Review(**form(overall=7)), False)
    assert parse_reflection("I am done. " + reply(overall=7))[1] is True
    with pytest.raises(ParseError, match='"done": true'):
        parse_reflection('{"done": false}')


def test_the_meta_summary_is_json_or_prose():
    assert parse_meta(META) == "The reviewers agree the evidence is thin."
    assert parse_meta("The reviewers agree the evidence is thin.").startswith("The reviewers")
    with pytest.raises(ParseError):
        parse_meta('{"summary": "short"}')


# -- the ensemble --------------------------------------------------------------------------------
def test_k_reviews_and_the_meta_review_scores_are_rounded_means():
    model = Recording(responses=[reply(overall=5), reply(overall=6), reply(overall=8), META])
    found = review_paper(model, "A paper.", [PASSED], reviews=3, reflections=0)
    assert [r.overall for r in found.reviews] == [5, 6, 8]
    assert found.meta.scores["overall"] == 6  # 19 / 3 = 6.33
    assert found.meta.decision == "accept" and found.meta.reason == "mean overall 6 >= 6"
    assert found.meta.summary == "The reviewers agree the evidence is thin."
    assert found.meta.summary_by == "model"
    assert len(model.asked) == 4 and found.failed == [] and found.errors == []
    # The checks' results are in every reviewer's prompt.
    assert "bundles: passed: every hypothesis has its bundle" in model.asked[0]


def test_means_round_half_up():
    model = Recording(responses=[reply(overall=6, quality=1), reply(overall=7, quality=2), META])
    found = review_paper(model, "A paper.", [], reviews=2, reflections=0)
    assert (found.meta.scores["overall"], found.meta.scores["quality"]) == (7, 2)


def test_reflections_stop_early_when_the_model_is_done():
    model = Recording(responses=[reply(overall=4), reply(overall=6), '{"done": true}', META])
    found = review_paper(model, "A paper.", [], reviews=1, reflections=5)
    assert [r.overall for r in found.reviews] == [6]
    assert found.reflections == [1]
    assert len(model.asked) == 4  # review, two reflections, meta
    assert "YOUR REVIEW:" in model.asked[1] and '"overall": 4' in model.asked[1]


def test_an_unparsable_review_is_left_out_and_listed():
    model = Recording(responses=["no form here", reply(overall=8), META])
    found = review_paper(model, "A paper.", [], reviews=2, reflections=0, retries=0)
    assert found.failed == [1] and [r.overall for r in found.reviews] == [8]
    assert found.errors == [
        "review 1: no JSON object in the reply; answer with one JSON object, the form"
    ]
    assert found.meta.scores["overall"] == 8


def test_a_review_that_parses_on_its_retry_is_kept():
    model = Recording(responses=["no form here", reply(overall=8), META])
    found = review_paper(model, "A paper.", [], reviews=1, reflections=0, retries=1)
    assert found.failed == [] and len(found.errors) == 1
    assert "That answer was not usable" in model.asked[1]


def test_an_unreadable_reflection_keeps_the_review_so_far():
    model = Recording(responses=[reply(overall=7), "???", META])
    found = review_paper(model, "A paper.", [], reviews=1, reflections=2, retries=0)
    assert [r.overall for r in found.reviews] == [7] and found.reflections == [0]
    assert found.errors[0].startswith("review 1, reflection 1: no JSON object")


def test_a_failed_blocking_check_forces_a_reject():
    model = Recording(responses=[reply(overall=9, decision="accept"), META])
    found = review_paper(model, "A paper.", [BLOCKING, PASSED], reviews=1, reflections=0)
    assert found.meta.scores["overall"] == 9
    assert found.meta.decision == "reject"
    assert found.meta.reason == "blocking code checks failed: numbers"
    assert "numbers: FAILED (blocking): 2 numbers untraced" in model.asked[0]


def test_no_parsed_review_is_a_reject_and_no_meta_call():
    model = Recording(responses=["nothing"])
    found = review_paper(model, "A paper.", [], reviews=2, reflections=1, retries=0)
    assert found.reviews == [] and found.failed == [1, 2]
    assert (found.meta.decision, found.meta.reason) == ("reject", "no review could be parsed")
    assert found.meta.summary_by == "code" and len(model.asked) == 2


def test_an_unusable_meta_summary_is_written_by_code():
    model = Recording(responses=[reply(overall=6), "{}"])
    found = review_paper(model, "A paper.", [], reviews=1, reflections=0, retries=0)
    assert found.meta.summary_by == "code"
    assert found.meta.summary == (
        "1 review(s); accept (mean overall 6 >= 6). Weaknesses raised: three datasets only."
    )
    assert found.errors == [
        'meta-review: no summary; answer {"summary": "<two or three sentences>"}'
    ]


# -- the paper, bounded ------------------------------------------------------------------------
PAPER = "\n".join(
    [
        "A Gate for Small Networks",
        "Abstract",
        "We measure a gate. " * 20,
        "1 Introduction",
        "Intro text. " * 400,
        "2 Method",
        "Method text. " * 400,
        "4 Results",
        "The gate wins. " * 40,
        "5 Limitations",
        "Only small data. " * 20,
        "References",
        "A. Author (2019). " * 200,
    ]
)


def test_the_paper_is_cut_to_fit_keeping_abstract_results_and_limitations():
    text, cut = excerpt(PAPER, 3000)
    assert cut and len(text) <= 3000
    for kept in ("We measure a gate. " * 20, "The gate wins. " * 40, "Only small data. " * 20):
        assert kept in text
    assert "1 Introduction" in text and "characters left out ...]" in text
    assert excerpt("short", 3000) == ("short", False)


def test_the_prompt_says_the_paper_was_cut():
    model = Recording(responses=[reply(), META])
    found = review_paper(model, PAPER, [], reviews=1, reflections=0, paper_chars=3000)
    assert found.truncated
    assert "The paper is longer than fits here" in model.asked[0]
    assert len(model.asked[0]) < 3000 + 2500


# -- the schema, as the server gets it -----------------------------------------------------------
def test_with_schema_puts_the_schema_in_the_request_body():
    from agents.llm import make_chat_model
    from core.settings import LLMSettings

    model = make_chat_model(LLMSettings(max_tokens=900), "http://127.0.0.1:9/v1", "reviewer")
    body = with_schema(model, REVIEW_SCHEMA)._get_request_payload([("user", "hi")])["extra_body"]
    assert body == {
        "max_tokens": 900,
        "response_format": {"type": "json_object", "schema": REVIEW_SCHEMA},
    }
    assert "response_format" not in model.extra_body  # the original is untouched
    fake = Recording(responses=["x"])
    assert with_schema(fake, REVIEW_SCHEMA) is fake


@pytest.mark.parametrize("schema", [REVIEW_SCHEMA, REFLECT_SCHEMA, META_SCHEMA])
def test_llama_cpp_compiles_each_schema(schema):
    """llama.cpp's server falls back to unconstrained JSON when a schema does not convert:
    each of ours must convert (the integration test checks the replies)."""
    grammar = pytest.importorskip("llama_cpp.llama_grammar")
    gbnf = grammar.json_schema_to_gbnf(json.dumps(schema))
    grammar.LlamaGrammar.from_string(gbnf, verbose=False)


def test_a_score_too_large_for_a_float_is_clamped_not_a_crash():
    """An int of 400 digits (under Python's 4,300-digit limit) made float conversion raise
    OverflowError, which no caller catches: it is compared as an int."""
    assert parse_review(reply(overall=int("9" * 400))).overall == 10
    assert parse_review(reply(overall=-int("9" * 400))).overall == 1
