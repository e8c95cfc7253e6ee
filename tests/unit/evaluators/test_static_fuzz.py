"""Property-based fuzzing of the activation, preprocess and regularizer static checks: whatever
the text (random, printable, a mutated corpus file, deeply nested, with huge literals), a check
either accepts it or raises ``StaticCheckError``; nothing else may escape to the orchestrator."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluators.activation.validator import check_source as check_activation
from evaluators.preprocess.validator import check_source as check_preprocess
from evaluators.regularizer.validator import check_source as check_regularizer
from evaluators.static_check import StaticCheckError

CHECKS = (check_activation, check_preprocess, check_regularizer)
CORPUS = sorted((Path(__file__).resolve().parents[2] / "corpus").glob("*/*/*.py"))
TEXTS = [p.read_text() for p in CORPUS]
HEADERS = (
    "import torch\nimport torch.nn.functional as F\n\ndef activation(x):\n    return {}\n",
    "import numpy as np\n\ndef preprocess(X_train, X_test):\n    return {}, X_test\n",
    "import torch\n\ndef penalty(model, logits, targets):\n    return {}\n",
)
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def total_on(source: str) -> None:
    """Run every check on ``source``; only acceptance or StaticCheckError are allowed, and no
    refusal may come from the guard that turns a checker's own bug into a refusal."""
    for check in CHECKS:
        try:
            check(source)
        except StaticCheckError as exc:
            assert str(exc), "a refusal must give a reason"
            assert "internal check failed" not in str(exc), str(exc)


@FUZZ
@given(st.text(max_size=400))
def test_random_text(text):
    total_on(text)


@FUZZ
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=400))
def test_random_printable_text(text):
    total_on(text)


@FUZZ
@given(st.text(alphabet="()[]{}-+*~ .,:x0\n\t\\'\"#=@lambdaif", max_size=300))
def test_random_python_punctuation(text):
    total_on(text)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A corpus file with lines and characters deleted, inserted and duplicated."""
    lines = draw(st.sampled_from(TEXTS)).splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["del line", "dup line", "ins line", "del chars", "ins chars"]))
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        if not lines:
            lines = ["\n"]
        if op == "del line":
            lines.pop(i)
        elif op == "dup line":
            lines.insert(i, lines[i])
        elif op == "ins line":
            lines.insert(i, draw(st.sampled_from(TEXTS)).splitlines(keepends=True)[0])
        else:
            line = lines[i]
            j = draw(st.integers(0, len(line)))
            if op == "del chars":
                lines[i] = line[:j] + line[j + draw(st.integers(1, 8)) :]
            else:
                lines[i] = line[:j] + draw(st.text(max_size=8)) + line[j:]
    return "".join(lines)


@FUZZ
@given(mutated())
def test_mutated_corpus_files(text):
    total_on(text)


LEAVES = st.sampled_from(
    ["x", "X_train", "logits", "model", "1", "-2.5", "1e308", "torch", "np", "F", "math",
     "__builtins__", "'s'", "None", "...", "torch.relu", "np.lib", "x.__class__", "p"]
)  # fmt: skip


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        inner.map(lambda a: f"-({a})"),
        inner.map(lambda a: f"not {a}"),
        st.tuples(inner, inner).map(lambda ab: f"({ab[0]} + {ab[1]})"),
        st.tuples(inner, inner).map(lambda ab: f"{ab[0]}({ab[1]})"),
        st.tuples(inner, inner).map(lambda ab: f"{ab[0]}[{ab[1]}]"),
        inner.map(lambda a: f"({a}).abs"),
        inner.map(lambda a: f"[{a} for p in model.parameters()]"),
        inner.map(lambda a: f"(lambda y: {a})"),
        st.tuples(inner, inner).map(lambda ab: f"({ab[0]} if {ab[1]} else x)"),
    )


@FUZZ
@given(st.recursive(LEAVES, _extend, max_leaves=30), st.sampled_from(HEADERS))
def test_random_nested_expressions(expression, header):
    total_on(header.format(expression))


@FUZZ
@given(
    st.integers(1, 3000),
    st.sampled_from(["-", "~", "not ", "(", "[", "x.", "f(", "lambda: ", "+", "x + "]),
    st.sampled_from(HEADERS),
)
def test_deeply_nested_prefixes(depth, prefix, header):
    closing = {"(": ")", "[": "]", "f(": ")"}.get(prefix, "")
    body = prefix * depth + "x" + closing * depth
    total_on(header.format(body))
    total_on(prefix * depth)


@FUZZ
@given(
    st.one_of(
        st.integers(min_value=2**63, max_value=10**4000).map(str),
        st.integers(1, 9000).map(lambda n: "9" * n),
        st.integers(1, 9000).map(lambda n: "0x" + "f" * n),
        st.sampled_from(["1e99999", "-1e99999", "1j", "10 ** 10 ** 10", "b'x'", "2 ** 64"]),
    ),
    st.sampled_from(HEADERS),
)
def test_huge_literals(literal, header):
    total_on(header.format(literal))
    total_on(f"BIG = {literal}\n" + header.format("x"))


def test_non_text_is_refused_not_crashed():
    for check in CHECKS:
        for value in (None, b"def activation(x):\n    return x\n", 3):
            try:
                check(value)  # type: ignore[arg-type]
            except StaticCheckError as exc:
                assert "source must be text" in str(exc)
