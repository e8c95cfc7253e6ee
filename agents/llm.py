"""Chat models from settings, and one bounded, parse-and-retry way of asking them.

Every agent talks through a LangChain chat model: ``ChatOpenAI`` against any OpenAI-compatible
endpoint (OpenAI, vLLM, Ollama, llama.cpp's server), or any fake model in unit tests. A reply that
cannot be parsed is retried with the parse error; after the last try the failure is returned as
data, never raised.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from hypoforge.errors import InfraError
from hypoforge.settings import LLMSettings

T = TypeVar("T")


class ParseError(ValueError):
    """A reply did not have the requested form; the message goes back to the model."""


class LLMUnavailable(InfraError):
    """The endpoint does not answer (connection refused, timeout, 5xx)."""


@dataclass
class Answer(Generic[T]):
    value: T | None  # None when every try failed to parse
    text: str  # the last raw reply
    tokens: int
    errors: list[str] = field(default_factory=list)


def make_chat_model(llm: LLMSettings, base_url: str, role: str, grammar: str | None = None) -> Any:
    """A ``ChatOpenAI`` for ``role`` (its model from ``llm.roles``, else ``llm.model``).

    ``grammar`` (GBNF) constrains the reply on servers that accept one (llama.cpp).
    """
    from langchain_openai import ChatOpenAI

    extra: dict[str, Any] = {"max_tokens": llm.max_tokens}
    if grammar is not None:
        extra["grammar"] = grammar

    return ChatOpenAI(
        model=llm.roles.get(role, llm.model),  # type: ignore[call-overload]
        base_url=base_url,
        api_key=os.environ.get(llm.api_key_env) or "not-needed",
        temperature=llm.temperature,
        timeout=llm.timeout_seconds,
        max_retries=1,
        # llama.cpp's server ignores max_completion_tokens (what max_tokens= sends); this it reads.
        extra_body=extra,
    )


def _tokens(message: Any) -> int:
    usage = getattr(message, "usage_metadata", None) or {}
    if usage.get("total_tokens"):
        return int(usage["total_tokens"])
    return len(str(getattr(message, "content", ""))) // 4 + 1  # fakes report none


def ask(model: Any, system: str, prompt: str, parse: Callable[[str], T], retries: int) -> Answer[T]:
    """Ask, parse, and on a parse error ask again with the error, at most ``retries`` more times."""
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    messages: list[Any] = [SystemMessage(system), HumanMessage(prompt)]
    tokens = 0
    errors: list[str] = []
    text = ""
    for _ in range(retries + 1):
        try:
            reply = model.invoke(messages)
        except Exception as exc:  # the client's errors vary by provider; all mean "no answer"
            if _is_connection_error(exc):
                raise LLMUnavailable(f"LLM endpoint not reachable: {exc}") from None
            raise
        tokens += _tokens(reply)
        text = str(reply.content)
        try:
            return Answer(parse(text), text, tokens, errors)
        except ParseError as exc:
            errors.append(str(exc))
            messages += [
                AIMessage(text),
                HumanMessage(
                    f"That answer was not usable: {exc}. Answer again in the requested form."
                ),
            ]
    return Answer(None, text, tokens, errors)


def _is_connection_error(exc: Exception) -> bool:
    names = {c.__name__ for c in type(exc).__mro__}
    return bool(
        names
        & {
            "APIConnectionError",
            "APITimeoutError",
            "ConnectError",
            "ConnectionError",
            "InternalServerError",
        }
    )
