"""Lenient readers for small models' replies: code wrapped in prose or fences, loose JSON."""

from __future__ import annotations

import json
import re

from agents.llm import ParseError

EDITS_SLOT = "edits"  # the slot name of tasks whose hypotheses are edits to a template
EDIT_SPAN = re.compile(r"^<{7} SEARCH.*^>{7} REPLACE[ \t]*$", re.DOTALL | re.MULTILINE)
FENCE = re.compile(r"```(?:python|py)?\s*\n(.*?)(?:```|\Z)", re.DOTALL)
IMPORT_HINTS = {
    "torch.": "import torch",
    "F.": "import torch.nn.functional as F",
    "math.": "import math",
}


def extract_code(text: str, function: str = "activation") -> str:
    """The hypothesis code in a reply: a fenced block defining ``function``, else the text from
    ``def <function>``. For a task whose slot is ``edits`` (SEARCH/REPLACE edits to a template),
    the edits.

    Missing imports of torch, F or math are added when the code uses them (a common slip of small
    models); everything else is left for the validator to judge.
    """
    if function == EDITS_SLOT:
        return extract_edits(text)
    start = f"def {function}"
    blocks = [b for b in FENCE.findall(text) if start in b]
    if blocks:
        code = blocks[0]
    elif start in text:
        code = text[text.index(start) :]
    else:
        raise ParseError(f"no `def {function}(...):` found in the reply")
    code = code.strip("\n") + "\n"
    header = [imp for hint, imp in IMPORT_HINTS.items() if hint in code and imp not in code]
    if header:
        code = "\n".join(header) + "\n\n" + code
    return code


def extract_edits(text: str) -> str:
    """SEARCH/REPLACE edits in a reply: from the first SEARCH marker to the last REPLACE marker
    (the validator judges whether they apply)."""
    span = EDIT_SPAN.search(text)
    if span is None:
        raise ParseError("no edit found: write '<<<<<<< SEARCH' ... '>>>>>>> REPLACE' blocks")
    return span.group(0) + "\n"


def extract_idea(text: str) -> str:
    """The one-sentence idea: the ``IDEA:`` line, else the first line of prose."""
    for line in text.splitlines():
        if line.strip().upper().startswith("IDEA:"):
            idea = line.split(":", 1)[1].strip()
            if idea:
                return idea[:300]
    for line in text.splitlines():
        line = line.strip().strip("#*").strip()
        skip = ("```", "import", "def ", "return", "<<<<<<<", "=======", ">>>>>>>")
        if line and not line.startswith(skip):
            return line[:300]
    raise ParseError("no `IDEA:` line found")


def extract_json(text: str) -> dict:
    """The first JSON object in a reply (fences and prose around it are ignored)."""
    start = text.find("{")
    while start != -1:
        depth = 0
        for i in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                try:
                    value = json.loads(text[start : i + 1])
                except ValueError:
                    break
                if isinstance(value, dict):
                    return value
                break
        start = text.find("{", start + 1)
    raise ParseError("no JSON object found; answer with one JSON object")
