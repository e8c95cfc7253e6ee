"""SEARCH/REPLACE edits to a template with marked blocks: what applies, and the precise errors
for what does not."""

from __future__ import annotations

import pytest

from evaluators.edits import EditError, apply_edits, blocks, fixed_regions, parse_edits

TEMPLATE = """import math

# >>> EDIT settings
RATE = 0.1
STEPS = 3
# <<< EDIT settings

def fixed():
    return RATE * STEPS

# >>> EDIT extra
def helper(x):
    return x
# <<< EDIT extra

RESULT = fixed()
"""


def edit(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n"


def test_blocks_and_fixed_regions():
    found = blocks(TEMPLATE)
    assert [b.name for b in found] == ["settings", "extra"]
    assert found[0].body == "RATE = 0.1\nSTEPS = 3\n"
    assert "def fixed" in fixed_regions(TEMPLATE)[1] and "RESULT" in fixed_regions(TEMPLATE)[2]


def test_edits_apply_in_order_inside_blocks():
    text = (
        "IDEA-free prose first\n"
        + edit("RATE = 0.1", "RATE = 0.2")
        + edit("RATE = 0.2\nSTEPS = 3", "RATE = 0.3\nSTEPS = 4\nEXTRA = 1")
    )
    out = apply_edits(TEMPLATE, text)
    assert "RATE = 0.3\nSTEPS = 4\nEXTRA = 1\n" in out
    assert fixed_regions(out) == fixed_regions(TEMPLATE)
    assert apply_edits(TEMPLATE, "") == TEMPLATE  # no edits: the template itself
    assert apply_edits(TEMPLATE, edit("    return x", "")).count("return x") == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            edit("RATE = 0.5", "RATE = 1"),
            r"edit 1: SEARCH text matches nothing.*closest line: 'RATE = 0.1'",
        ),
        (
            edit("RATE = 0.1", "RATE = 1") + edit("RATE = 0.1", "RATE = 2"),
            "edit 2: SEARCH text matches nothing",
        ),
        (
            edit("    return RATE * STEPS", "    return 0"),
            r"edit 1: changes line 9 .*outside the editable blocks \(settings, extra\)",
        ),
        (edit("STEPS = 3\n# <<< EDIT settings", "STEPS = 4"), "changes line 6"),
        (
            edit("RATE = 0.1", "# <<< EDIT settings\nRATE = 1"),
            "may not add or remove block markers",
        ),
        (edit("", "RATE = 1"), "SEARCH part is empty"),
        ("<<<<<<< SEARCH\nRATE = 0.1\n>>>>>>> REPLACE\n", "malformed edit"),
        ("make the rate bigger", "no edits found"),
    ],
)
def test_edits_that_do_not_apply_say_why(text, message):
    with pytest.raises(EditError, match=message):
        apply_edits(TEMPLATE, text)


def test_search_must_match_once_and_whole_lines():
    twice = TEMPLATE.replace(
        "def helper(x):\n    return x", "def helper(x):\n    return x\n    return x"
    )
    with pytest.raises(EditError, match="matches 2 places"):
        apply_edits(twice, edit("    return x", "    return 2 * x"))
    with pytest.raises(EditError, match="matches nothing"):
        apply_edits(TEMPLATE, edit("= 0.1", "= 0.2"))  # part of a line is not a line


def test_parse_limits():
    assert parse_edits("") == []
    with pytest.raises(EditError, match="at most"):
        parse_edits(edit("RATE = 0.1", "RATE = 0.1") * 13)


def test_unbalanced_markers_in_a_template_are_reported():
    with pytest.raises(EditError, match="never closed"):
        blocks("# >>> EDIT a\nx = 1\n")
    with pytest.raises(EditError, match="closes no open block"):
        blocks("# <<< EDIT a\n")


def test_windows_line_ends_are_read_as_plain_ones():
    out = apply_edits(TEMPLATE, edit("RATE = 0.1", "RATE = 0.2").replace("\n", "\r\n"))
    assert "RATE = 0.2\nSTEPS = 3\n" in out


@pytest.mark.parametrize(
    "text",
    [
        "=======\n" + edit("RATE = 0.1", "RATE = 1"),  # a divider in the prose
        "<<<<<<< SEARCH\n<<<<<<< SEARCH\nRATE = 0.1\n=======\nRATE = 1\n>>>>>>> REPLACE\n",
        "<<<<<<< SEARCH\nRATE = 0.1\n=======\n=======\nRATE = 1\n>>>>>>> REPLACE\n",
        "<<<<<<< SEARCH\nRATE = 0.1\n=======\nRATE = 1\n",  # never closed
        ">>>>>>> REPLACE\n",
    ],
)
def test_markers_out_of_order_are_malformed(text):
    with pytest.raises(EditError, match="malformed edit"):
        parse_edits(text)


@pytest.mark.parametrize("char", ["\x0c", "\r", "\x00", "\u2028", "\x1c", "\ud800"])
def test_control_characters_in_a_replacement_are_refused(char):
    with pytest.raises(EditError, match=f"control character U\\+{ord(char):04X}"):
        apply_edits(TEMPLATE, edit("RATE = 0.1", f"RATE = 0.2{char}STEPS = 9"))
