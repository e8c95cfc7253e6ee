"""Chat models from settings, and one bounded, parse-and-retry way of asking them.

Every agent talks through a LangChain chat model: ``ChatOpenAI`` against any OpenAI-compatible
endpoint (OpenAI, vLLM, Ollama, llama.cpp's server), or any fake model in unit tests. A reply that
cannot be parsed is retried with the parse error; after the last try the failure is returned as
data, never raised.

Endpoint errors are handled the way production clients handle them (``call``): a rate limit (429)
or a server error (5xx) is retried with exponential backoff that honours ``Retry-After``, at most
``RETRIES`` times and ``RETRY_SECONDS`` in all; a spent quota (``insufficient_quota``), a bad key
(401/403), an unknown model (404) or an endpoint still failing after the bound raises
``LLMUnavailable`` with a one-line reason that names the cause (the campaign pauses, resumable);
a request the endpoint refuses (400, e.g. a prompt too long) is an ``Answer`` with no value and
the reason, so the campaign records it against that call and goes on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from core.errors import InfraError
from core.settings import LLMSettings

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

T = TypeVar("T")


class ChatModel(Protocol):
    """What an agent needs of a chat model: one reply to a list of messages. ``ChatOpenAI``
    (``make_chat_model``) is one; LangChain's fake chat models are others, for tests."""

    def invoke(self, input: Sequence[BaseMessage], /) -> BaseMessage: ...


class ParseError(ValueError):
    """A reply did not have the requested form; the message goes back to the model."""


class LLMUnavailable(InfraError):
    """The endpoint does not answer or will not serve us (connection, key, model, quota, rate
    limit or server errors past the retry bound)."""


class Refused(Exception):
    """The endpoint refused this one request (400): recorded against the call."""


RETRIES = 5  # tries after the first, for 429 and 5xx
CONNECT_RETRIES = 2  # for a refused connection or a timeout (a dead server rarely comes back)
RETRY_SECONDS = 60.0  # at most this long in all, sleeps included
BACKOFF = (1.0, 2.0, 4.0, 8.0, 16.0)  # when the endpoint gives no Retry-After


@dataclass
class Answer(Generic[T]):
    value: T | None  # None when every try failed to parse
    text: str  # the last raw reply
    tokens: int
    errors: list[str] = field(default_factory=list)


def make_chat_model(
    llm: LLMSettings,
    base_url: str,
    role: str,
    grammar: str | None = None,
    frequency_penalty: float | None = None,
) -> ChatModel:
    """A ``ChatOpenAI`` for ``role`` (its model from ``llm.roles``, else ``llm.model``).

    ``grammar`` (GBNF) constrains the reply on servers that accept one (llama.cpp);
    ``frequency_penalty`` (OpenAI's, which llama.cpp's server honours too) keeps a small model
    from repeating itself in long prose.
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
        max_retries=0,  # retries are ours (``call``): bounded, honouring Retry-After
        frequency_penalty=frequency_penalty,
        # llama.cpp's server ignores max_completion_tokens (what max_tokens= sends); this it reads.
        extra_body=extra,
    )


def preflight(model: ChatModel) -> int:
    """One tiny chat call, so a bad key, an unknown model or a spent quota is reported before
    any work starts (``LLMUnavailable``, one line naming the cause); returns its tokens."""
    from langchain_core.messages import HumanMessage

    try:
        reply = call(model, [HumanMessage("Reply with the word ready.")])
    except Refused as exc:  # a one-line request refused: nothing longer will pass either
        raise LLMUnavailable(f"LLM endpoint refused a one-line request: {exc}") from None
    return _tokens(reply)


def _tokens(message: Any) -> int:
    usage = getattr(message, "usage_metadata", None) or {}
    if usage.get("total_tokens"):
        return int(usage["total_tokens"])
    return len(str(getattr(message, "content", ""))) // 4 + 1  # fakes report none


def ask(
    model: ChatModel, system: str, prompt: str, parse: Callable[[str], T], retries: int
) -> Answer[T]:
    """Ask, parse, and on a parse error ask again with the error, at most ``retries`` more times."""
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    messages: list[BaseMessage] = [SystemMessage(system), HumanMessage(prompt)]
    tokens = 0
    errors: list[str] = []
    text = ""
    for _ in range(retries + 1):
        try:
            reply = call(model, messages)
        except Refused as exc:
            errors.append(str(exc))
            return Answer(None, text, tokens, errors)
        tokens += _tokens(reply)
        # A lone surrogate (a JSON "\ud800" in the reply) is not UTF-8: no file, ledger or
        # prompt could take it.
        text = str(reply.content).encode("utf-8", "replace").decode("utf-8")
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


def call(
    model: ChatModel,
    messages: list[BaseMessage],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> BaseMessage:
    """``model.invoke(messages)`` with the endpoint's errors handled (see the module docstring)."""
    start = clock()
    for attempt in range(RETRIES + 1):
        try:
            return model.invoke(messages)
        except Exception as exc:  # the client's errors vary by provider: classified here
            status = _status(exc)
            if status == 400 or status == 413 or status == 422:
                raise Refused(
                    f"the endpoint refused the request ({status}): {_said(exc)}"
                ) from None
            if status == 429 and "insufficient_quota" in f"{_code(exc)} {_said(exc)}":
                raise LLMUnavailable(
                    f"LLM quota spent (429 insufficient_quota): {_said(exc)}"
                ) from None
            if status in (401, 403):
                raise LLMUnavailable(
                    f"LLM endpoint refused the key ({status}): {_said(exc)}; check the API key "
                    "variable named by llm.api_key_env"
                ) from None
            if status == 404:
                raise LLMUnavailable(
                    f"LLM model not found (404): {_said(exc)}; check llm.model / llm.roles"
                ) from None
            transient = status == 429 or (status is not None and status >= 500)
            if not transient and not _is_connection_error(exc):
                raise
            wait = _retry_after(exc)
            wait = BACKOFF[min(attempt, len(BACKOFF) - 1)] if wait is None else wait
            bound = RETRIES if transient else CONNECT_RETRIES
            if attempt >= bound or clock() - start + wait > RETRY_SECONDS:
                cause = (
                    "rate limit (429)"
                    if status == 429
                    else (f"server error ({status})" if status else "not reachable")
                )
                raise LLMUnavailable(
                    f"LLM endpoint {cause} after {attempt + 1} tries in "
                    f"{clock() - start:.0f} s: {_said(exc)}"
                ) from None
            sleep(wait)
    raise AssertionError("unreachable")  # the loop returns or raises


def _status(exc: Exception) -> int | None:
    code = getattr(exc, "status_code", None)
    return code if isinstance(code, int) else None


def _code(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return str(inner.get("code") or inner.get("type") or "")
    return str(getattr(exc, "code", "") or "")


def _said(exc: Exception) -> str:
    """The endpoint's message on one line, bounded (it is shown to the user)."""
    body = getattr(exc, "body", None)
    text = ""
    if isinstance(body, dict):
        inner = body.get("error", body)
        text = str(inner.get("message", "") if isinstance(inner, dict) else inner)
    text = text or str(exc)
    return " ".join(text.split())[:300]


def _retry_after(exc: Exception) -> float | None:
    """Seconds from the response's ``Retry-After`` (seconds form), capped at a minute."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    try:
        return min(60.0, max(0.0, float(value))) if value is not None else None
    except ValueError:
        return None


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
