"""How many of the embedded model's proposals pass the static check, with and without the repair
loop and the grammar, and how fast it generates.

Run: .venv/bin/python benchmarks/llm_validity.py [N]
"""

from __future__ import annotations

import sys
import time

from _common import ROOT  # noqa: F401 - puts the repository on sys.path

from agents import coder, proposer
from agents.llm import make_chat_model
from core.settings import LLMSettings
from evaluators.activation.harness import HERE
from evaluators.activation.validator import StaticCheckError, check_source
from hypoforge.llm_server import embedded_server

DESCRIPTION = (HERE / "description.md").read_text().strip()


def valid(code: str) -> str | None:
    try:
        check_source(code)
    except StaticCheckError as exc:
        return str(exc)
    return None


def trial(models: dict, n: int, repairs: int) -> tuple[int, int, int, float]:
    """(valid without repair, valid with repair, tokens, seconds) over ``n`` proposals."""
    plain = repaired = tokens = 0
    start = time.monotonic()
    for i in range(n):
        answer = proposer.propose(
            models["proposer"],
            mode="novel" if i % 2 else "incremental",
            task_description=DESCRIPTION,
            best=[],
            failures=[],
            predictions=[],
            retries=1,
            task_dir=HERE,  # the activation task's own prompts
        )
        tokens += answer.tokens
        code = answer.value.code if answer.value else None
        problem = valid(code) if code else "no code"
        plain += problem is None
        for _ in range(repairs):
            if problem is None:
                break
            fix = coder.write_code(
                models["coder"],
                idea=answer.value.idea if answer.value else "",
                code=code,
                error=problem,
                task_description=DESCRIPTION,
                retries=1,
                task_dir=HERE,
            )
            tokens += fix.tokens
            code = fix.value
            problem = valid(code) if code else "no code"
        repaired += problem is None
    return plain, repaired, tokens, time.monotonic() - start


def main(n: int) -> None:
    from agents.prompting import grammar
    from evaluators.activation.harness import ActivationEvaluator

    llm = LLMSettings()
    with embedded_server(llm.model) as url:
        grammars = {**ActivationEvaluator.grammars(), "critic": grammar("verdict")}
        for label, use in (("free text", False), ("grammar", True)):
            models = {
                r: make_chat_model(llm, url, r, grammars.get(r) if use else None)
                for r in ("proposer", "coder")
            }
            plain, repaired, tokens, secs = trial(models, n, repairs=2)
            print(
                f"{label:9s}: valid {plain}/{n} without repair, {repaired}/{n} with up to 2 "
                f"repairs; {tokens / secs:.0f} tokens/s ({tokens} tokens in {secs:.0f} s)"
            )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
