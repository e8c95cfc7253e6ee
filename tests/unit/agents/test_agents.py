import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from agents import analyst
from agents.critic import parse_verdict
from agents.llm import ParseError, ask
from agents.parsing import extract_code, extract_idea, extract_json
from agents.prompting import render


def test_code_in_prose_and_fences_is_found_and_imports_added():
    reply = (
        "Sure! Here it is:\n```py\ndef activation(x):\n"
        "    return F.silu(x) + torch.tanh(x)\n```\nEnjoy"
    )
    assert extract_code(reply) == (
        "import torch\nimport torch.nn.functional as F\n\n"
        "def activation(x):\n    return F.silu(x) + torch.tanh(x)\n"
    )


def test_unfenced_code_and_missing_code():
    assert extract_code("blah def activation(x):\n    return x").startswith("def activation(x)")
    with pytest.raises(ParseError, match="no `def activation"):
        extract_code("no code here")


def test_idea_line():
    assert extract_idea("IDEA: a softer gate\n```python\n```") == "a softer gate"
    assert extract_idea("**A softer gate**\ndef activation(x)") == "A softer gate"


def test_loose_json_and_verdict_normalisation():
    assert extract_json('ok {"a": {"b": 1}} trailing') == {"a": {"b": 1}}
    v = parse_verdict('```json\n{"decision": "Run", "reasons": "new", "p_win": 0.3}\n```')
    assert (v.decision, v.p_win) == ("run", 0.3)
    with pytest.raises(ParseError, match="decision"):
        parse_verdict('{"decision": "maybe"}')
    with pytest.raises(ParseError, match="p_win"):
        parse_verdict('{"decision": "run", "p_win": 3}')


def test_ask_retries_with_the_error_then_returns_data():
    model = FakeListChatModel(responses=["nonsense", '{"decision": "reject"}'])
    answer = ask(model, "sys", "prompt", parse_verdict, retries=1)
    assert answer.value is not None and answer.value.decision == "reject"
    assert answer.errors == ["no JSON object found; answer with one JSON object"]
    model = FakeListChatModel(responses=["nonsense"])
    answer = ask(model, "sys", "prompt", parse_verdict, retries=2)
    assert answer.value is None
    assert len(answer.errors) == 3
    assert answer.tokens > 0


def test_prompts_render_strictly(tmp_path):
    text = render("coder", idea="a gate", code="", error="", parent=None)
    assert "IDEA: a gate" in text
    import jinja2

    with pytest.raises(jinja2.UndefinedError):
        render("coder", idea="a gate")
    override = tmp_path / "prompts"
    override.mkdir()
    (override / "coder.md.j2").write_text("custom {{ idea }}")
    assert render("coder", tmp_path, idea="z", code="", error="") == "custom z\n"


def test_analyst_flags_numbers_and_ids_its_table_does_not_hold():
    found = analyst.Finding(hypothesis="h1", idea="i", win_rate=0.7, ci=(0.55, 0.8), keep=True)
    table = analyst.table([found])
    assert analyst.unsupported_numbers("win rate 0.70, CI 0.55-0.80, best 0.93", table) == ["0.93"]
    said = "h1 and r2-0 won 0.70; abc/r1-3 lost; r0-0, r10-2 and camp/r0-0 are not in it"
    table += "\n| r0-0 | x | screened | ok | 0.50 | - | |\n| camp/r0-0 | y | ok | 0.40 |"
    assert analyst.unsupported(said, table) == ["abc/r1-3", "r10-2", "r2-0"]
