"""The review form: the NeurIPS-style record a reviewer fills in (``Review``), the JSON schema its
reply is held to (``REVIEW_SCHEMA``; llama.cpp's server turns ``response_format={"type":
"json_object", "schema": ...}`` into a grammar), and the tolerant readers of a reply, which raise
``ParseError`` with a short message and nothing else, whatever the text.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.llm import ParseError

MAX_REPLY = 20_000  # characters of a reply that are read
ACCEPT_AT = 6  # the AI Scientist's rule: overall >= 6 is an accept
SCORES = {  # field -> (lowest, highest), in the form's order
    "originality": (1, 4),
    "quality": (1, 4),
    "clarity": (1, 4),
    "significance": (1, 4),
    "soundness": (1, 4),
    "presentation": (1, 4),
    "contribution": (1, 4),
    "overall": (1, 10),
    "confidence": (1, 5),
}
CAPS = {"summary": 400, "item": 200, "items": 4, "meta": 600}  # what a parsed review keeps


class Review(BaseModel):
    """One filled-in review form. ``ethical_concerns`` is a yes or no (as the AI Scientist's
    form has it); a concern the model spells out goes into ``limitations`` or ``weaknesses``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    summary: str
    strengths: list[str] = Field(default_factory=list)
    weaknesses: list[str] = Field(default_factory=list)
    originality: int = Field(ge=1, le=4)
    quality: int = Field(ge=1, le=4)
    clarity: int = Field(ge=1, le=4)
    significance: int = Field(ge=1, le=4)
    questions: list[str] = Field(default_factory=list)
    limitations: list[str] = Field(default_factory=list)
    ethical_concerns: bool = False
    soundness: int = Field(ge=1, le=4)
    presentation: int = Field(ge=1, le=4)
    contribution: int = Field(ge=1, le=4)
    overall: int = Field(ge=1, le=10)
    confidence: int = Field(ge=1, le=5)
    decision: Literal["accept", "reject"]

    def scores(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in SCORES}


# -- the reply's schema ---------------------------------------------------------------------------
# Strings and lists are bounded so that a small model cannot ramble until the context ends: the
# longest form is about 2,300 characters (some 700 tokens). Scores are enums, as llama.cpp's
# converter ignores minimum and maximum.
def _text(most: int, least: int = 0) -> dict[str, Any]:
    return {"type": "string", "minLength": least, "maxLength": most}


def _items(most: int, least: int) -> dict[str, Any]:
    return {"type": "array", "items": _text(160, 5), "minItems": least, "maxItems": most}


def _score(name: str) -> dict[str, Any]:
    low, high = SCORES[name]
    return {"type": "integer", "enum": list(range(low, high + 1))}


_FORM: dict[str, Any] = {
    "summary": _text(300, 20),
    "strengths": _items(3, 1),
    "weaknesses": _items(3, 1),
    **{n: _score(n) for n in ("originality", "quality", "clarity", "significance")},
    "questions": _items(2, 0),
    "limitations": _items(2, 0),
    "ethical_concerns": {"type": "boolean"},
    **{n: _score(n) for n in ("soundness", "presentation", "contribution", "overall")},
    "confidence": _score("confidence"),
    "decision": {"type": "string", "enum": ["accept", "reject"]},
}
REVIEW_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": _FORM,
    "required": list(_FORM),
    "additionalProperties": False,
}
DONE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"done": {"const": True}},
    "required": ["done"],
    "additionalProperties": False,
}
REFLECT_SCHEMA: dict[str, Any] = {"anyOf": [DONE_SCHEMA, REVIEW_SCHEMA]}
META_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"summary": _text(500, 20)},
    "required": ["summary"],
    "additionalProperties": False,
}


def with_schema(model: Any, schema: dict[str, Any]) -> Any:
    """``model`` asking for replies of ``schema``: for a ``ChatOpenAI`` (anything with an
    ``extra_body``), a copy whose request body carries ``response_format={"type":
    "json_object", "schema": schema}``, which llama.cpp's server compiles into a grammar (and
    which a server that knows no such field is not sent: use it for llama.cpp only). Any other
    model (a fake) is returned as it is."""
    if not hasattr(model, "extra_body"):
        return model
    body = {
        **(model.extra_body or {}),
        "response_format": {"type": "json_object", "schema": schema},
    }
    return model.model_copy(update={"extra_body": body})


# -- reading a reply --------------------------------------------------------------------------
def parse_review(text: str) -> Review:
    """The review form in a reply, read tolerantly: a JSON object anywhere in it (fences and prose
    around it ignored), keys in any case (``"Overall"``), scores as numbers or strings (``"3"``,
    ``"3/4"``) clamped to their range, ``decision`` by its word (``"Weak Accept"`` is accept;
    missing or unreadable: from ``overall``), lists as lists or one string. Raises
    ``ParseError`` with a short message (a missing summary or score, no JSON), nothing else."""
    data = _form_in(text)
    if data is None:
        raise ParseError("no JSON object in the reply; answer with one JSON object, the form")
    summary = _clip(data.get("summary"), CAPS["summary"])
    scores: dict[str, int] = {}
    bad: list[str] = []
    for name in SCORES:
        score = _score_of(data.get(name), *SCORES[name])
        if score is None:
            bad.append(name)
        else:
            scores[name] = score
    if not summary:
        bad.insert(0, "summary")
    if bad:
        raise ParseError(f"missing or unreadable: {', '.join(bad)}")
    decision = _decision(data.get("decision"))
    return Review(
        summary=summary,
        **{
            k: _strings(data.get(k))
            for k in ("strengths", "weaknesses", "questions", "limitations")
        },
        ethical_concerns=_yes(data.get("ethical_concerns")),
        **scores,
        decision=decision or ("accept" if scores["overall"] >= ACCEPT_AT else "reject"),
    )


def parse_reflection(text: str) -> tuple[Review | None, bool]:
    """A reflection's reply: (an improved review or None, whether the model is done). Done is
    ``{"done": true}`` or "I am done" (the AI Scientist's words), with or without a last form;
    a form alone is an improvement, and another round follows. ``ParseError`` otherwise."""
    data = _form_in(text)
    said = "i am done" in str(text)[:MAX_REPLY].lower()
    done = said or (data is not None and _yes(data.get("done")))
    if data is not None and set(data) <= {"done"} and done:
        return None, True
    try:
        return parse_review(text), done
    except ParseError as exc:
        if done:
            return None, True
        raise ParseError(f'{exc}; or answer {{"done": true}} to keep the review') from None


def parse_meta(text: str) -> str:
    """The meta-review's summary: ``{"summary": ...}``, or plain prose of some length."""
    data = _form_in(text)
    if data is not None:
        found = _clip(data.get("summary"), CAPS["meta"])
    else:
        found = _clip(text, CAPS["meta"]) if "{" not in str(text) else ""
    if len(found) < 20:
        raise ParseError('no summary; answer {"summary": "<two or three sentences>"}')
    return found


def _form_in(text: object) -> dict[str, Any] | None:
    """The first JSON object in ``text``, keys normalised (``"Ethical Concerns"`` ->
    ``ethical_concerns``), a lone wrapper (``{"review": {...}}``) unwrapped."""
    s = str(text)[:MAX_REPLY]
    decoder = json.JSONDecoder(strict=False)  # llama.cpp's grammar lets raw newlines into strings
    start = s.find("{")
    while start != -1:
        try:
            value = decoder.raw_decode(s, start)[0]
        except (ValueError, RecursionError):  # huge integers are a ValueError too
            value = None
        if isinstance(value, dict):
            if len(value) == 1 and isinstance(next(iter(value.values())), dict):
                value = next(iter(value.values()))
            return {_key(k): v for k, v in value.items()}
        start = s.find("{", start + 1)
    return None


def _key(key: object) -> str:
    return re.sub(r"[\s\-]+", "_", str(key).strip().lower())


def _clip(value: object, most: int) -> str:
    if not isinstance(value, str):
        return ""
    text = " ".join(value.split())
    return text if len(text) <= most else text[: most - 3].rstrip() + "..."


def _strings(value: object) -> list[str]:
    items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    kept = [_clip(i if isinstance(i, str) else _scalar(i), CAPS["item"]) for i in items]
    return [k for k in kept if k][: CAPS["items"]]


def _scalar(value: object) -> str:
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else ""


def _score_of(value: object, low: int, high: int) -> int | None:
    """A score in [low, high] from a number or the first number of a string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        found = re.search(r"-?\d+(?:\.\d+)?", value[:100])
        value = float(found.group(0)) if found else None
    if isinstance(value, int):  # any size: compared, never converted to a float
        return min(high, max(low, value))
    if not isinstance(value, float) or not math.isfinite(value):
        return None
    return int(min(high, max(low, math.floor(value + 0.5))))


def _decision(value: object) -> Literal["accept", "reject"] | None:
    word = value.lower()[:100] if isinstance(value, str) else ""
    if "reject" in word or word.strip() in ("no", "decline"):
        return "reject"
    if "accept" in word or word.strip() in ("yes", "publish"):
        return "accept"
    return None


def _yes(value: object) -> bool:
    """A yes or no: booleans, 0/1, "yes"/"true"; a string that says anything but no/none/false
    describes a concern, so it is a yes."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value == 1
    if isinstance(value, str):
        word = value.strip().lower()
        return bool(word) and not re.match(r"(no|none|false|n/?a|nil)\b", word)
    return False
