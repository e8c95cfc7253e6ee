"""Which numbers in a text trusted code provided (``core.grounding``): a number is traced
when a figure printed at the number's own precision gives it; versions only exactly; small
integers are the text's structure unless ``structural=0``; parsing never raises."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.grounding import STRUCTURAL, Figures, numbers_in


def figures(*values: object) -> Figures:
    f = Figures()
    f.update(values)
    return f


@pytest.mark.parametrize(
    ("token", "traced"),
    [
        ("0.71", True),  # two places
        ("0.707", True),
        ("0.7073", True),
        ("0.7", True),
        ("1", True),  # no places: 0.70732 prints as 1 (and 1 is structural anyway)
        ("70.7", True),  # as a percentage
        ("70.73", True),
        ("71", True),
        ("0.70", False),
        ("0.72", False),
        ("0.708", False),
        ("70.8", False),
        ("7.07", False),
        ("-0.71", False),
    ],
)
def test_a_number_is_traced_at_its_own_precision(token, traced):
    assert figures(0.70732).traced(token, structural=0) is traced


def test_integers_are_traced_exactly_and_small_ones_are_structure():
    f = figures(12, 84, 2024)
    assert [f.traced(t, structural=0) for t in ("12", "84", "2024", "85", "13")] == [
        True,
        True,
        True,
        False,
        False,
    ]
    # Section, table and list numbers up to STRUCTURAL need no figure, unless structural=0.
    empty = Figures()
    assert STRUCTURAL == 20
    assert empty.traced("3") and empty.traced("20") and empty.traced("-3")
    assert not empty.traced("21")
    assert not empty.traced("3", structural=0) and not empty.traced("0", structural=-1)
    # only integers are structure: a decimal or an exponent is a claim
    assert not empty.traced("3.0") and not empty.traced("1e-3") and not empty.traced(".5")


def test_a_version_is_traced_only_exactly():
    f = figures("torch 2.13.0", "python 3.11.7")
    assert f.traced("2.13.0") and f.traced("3.11.7")
    assert not f.traced("2.13.1") and not f.traced("2.13") and not f.traced("2.13.0.1")
    assert not figures(2.13).traced("2.13.0")
    # an arXiv id has one dot: a number, and the exact string
    assert figures("arXiv:1908.08681").traced("1908.08681", structural=0)


def test_negative_numbers_need_a_negative_figure():
    f = figures(-0.25, 0.5)
    assert f.traced("-0.25", structural=0) and f.traced("-25", structural=0)
    assert not f.traced("0.25", structural=0) and not f.traced("-0.5", structural=0)
    assert numbers_in("from -0.25 to 0.5, a range 0.6-0.9") == ["-0.25", "0.5", "0.6", "0.9"]


def test_nan_inf_and_bools_are_no_figures_and_never_traced():
    f = figures(float("nan"), float("inf"), float("-inf"), True, None, "nan inf")
    assert f.values == set() and f.strings == set()
    assert f.untraced("nan inf 1e999 " + "9" * 400) == ["1e999", "9" * 400]
    assert not f.traced("inf") and not f.traced("nan")


def test_strings_give_their_number_tokens():
    f = figures("3 of 8 proposals, 0.25 GiB", "a1b2")
    assert f.strings == {"3", "8", "0.25"}
    assert f.values == {3.0, 8.0, 0.25}


def test_untraced_lists_each_number_once_in_order():
    f = figures(0.70732, 84)
    text = "A win rate of 0.71 over 84 comparisons, then 0.93 and 0.93 again on 412 runs."
    assert f.untraced(text) == ["0.93", "412"]
    assert f.untraced(text, structural=0) == ["0.93", "412"]
    assert f.untraced("It was 0.71.") == []


def test_numbers_in_a_sentence_ending_in_a_period():
    assert numbers_in("It reached 0.71.") == ["0.71"]
    assert numbers_in("It used torch 2.13.0.") == ["2.13.0"]
    assert numbers_in("Twelve were run: 12. Then 3.") == ["12", "3"]
    assert numbers_in("See Table 1.5.2.") == ["1.5.2"]


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("r0-12 and h200 and float32 and x2", ["12"]),  # part of a word: not a number
        ("we ran 1,000,000 runs", ["1,000,000"]),  # not 1 and 000 and 000
        ("1_000 steps", ["1_000"]),
        ("a rate of .99", [".99"]),
        ("at 2e5 steps, lr 1e-3, 2.5E+2", ["2e5", "1e-3", "2.5E+2"]),
        ("a 10x speedup, 5k runs, 3rd", ["10", "5", "3"]),
        ("0.1,0.2 and 1,2,3", ["0.1", "0.2", "1", "2", "3"]),
    ],
)
def test_numbers_in_reads_what_a_reader_reads_as_a_number(text, tokens):
    assert numbers_in(text) == tokens


def test_the_forms_a_reader_reads_as_numbers_are_checked_as_numbers():
    f = figures(0.70732, 1_000_000, 0.001)
    assert f.untraced("1,000,000 and 1e-3 and .71 and 1_000_000", structural=0) == []
    assert f.untraced("2,000,000 and 2e-3 and .99 and 10x", structural=0) == [
        "2,000,000",
        "2e-3",
        ".99",
        "10",
    ]
    assert f.traced("1e6", structural=0) and not f.traced("1.1e6", structural=0)
    assert not f.traced("1e12345", structural=0)  # an exponent that long traces nothing


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("0123456789.,_-eE+ x\u0669\uff11"), max_size=80))
def test_parsing_never_raises(text):
    f = figures(0.5, 12, text)
    for token in numbers_in(text):
        assert f.traced(token) in (True, False)
    f.untraced(text, structural=0)
