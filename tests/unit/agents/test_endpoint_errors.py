"""Endpoint errors as a production client handles them, against a real OpenAI-compatible test
server on loopback (http.server) and the real ChatOpenAI client: 429 and 5xx retried honouring
Retry-After, bounded; quota, key and model errors pause with a reason that names the cause; a 400
is recorded against that call."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agents.llm import Answer, LLMUnavailable, ask, call, make_chat_model
from core.errors import InfraError
from core.settings import LLMSettings
from hypoforge.llm_server import wait_healthy

OK = {
    "id": "c1",
    "object": "chat.completion",
    "created": 0,
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}  # fmt: skip


class Server:
    """Answers /v1/models with a list (or ``models_status``) and each chat call with the next
    scripted (status, body, headers), then 200 with ``OK``."""

    def __init__(self, script: list[tuple[int, dict, dict]], models_status: int = 200) -> None:
        self.script, self.models_status, self.chats = list(script), models_status, 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                body = {"object": "list", "data": [{"id": "m", "object": "model"}]}
                self._send(outer.models_status, body)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.chats += 1
                self._send(*(outer.script.pop(0) if outer.script else (200, OK, {})))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        # a short poll so that shutdown() at teardown returns at once, not after half a second
        serve = lambda: self.httpd.serve_forever(poll_interval=0.02)  # noqa: E731
        threading.Thread(target=serve, daemon=True).start()


@pytest.fixture
def serve() -> Iterator:
    servers: list[Server] = []

    def start(script: list[tuple[int, dict, dict]], models_status: int = 200) -> Server:
        servers.append(Server(script, models_status))
        return servers[-1]

    yield start
    for s in servers:
        s.httpd.shutdown()
        s.httpd.server_close()


def error(message: str, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": "error", "code": code}}


def model(server: Server):
    return make_chat_model(LLMSettings(endpoint=server.url, model="m"), server.url, "proposer")


def messages():
    from langchain_core.messages import HumanMessage

    return [HumanMessage("hi")]


def test_rate_limits_are_retried_honouring_retry_after(serve):
    server = serve([(429, error("slow down"), {"Retry-After": "1"})] * 2)
    slept: list[float] = []
    reply = call(model(server), messages(), sleep=slept.append)
    assert reply.content == "hello" and server.chats == 3 and slept == [1.0, 1.0]


def test_server_errors_back_off_then_succeed(serve):
    server = serve([(503, error("overloaded"), {}), (500, error("boom"), {})])
    slept: list[float] = []
    assert call(model(server), messages(), sleep=slept.append).content == "hello"
    assert slept == [1.0, 2.0]  # no Retry-After: exponential backoff


def test_retries_are_bounded_in_count_and_in_time(serve):
    server = serve([(429, error("slow down"), {})] * 20)
    slept: list[float] = []
    with pytest.raises(LLMUnavailable, match=r"rate limit \(429\) after 6 tries"):
        call(model(server), messages(), sleep=slept.append)
    assert server.chats == 6 and len(slept) == 5
    server = serve([(429, error("slow down"), {"Retry-After": "50"})] * 5)
    now = [0.0]  # a clock that the sleeps advance: nothing really waits

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(LLMUnavailable, match=r"rate limit \(429\) after 2 tries in 50 s"):
        call(model(server), messages(), sleep=sleep, clock=lambda: now[0])  # 50 + 50 > 60 s


@pytest.mark.parametrize(
    ("status", "body", "cause"),
    [
        (429, error("You exceeded your quota", "insufficient_quota"), r"quota spent"),
        (401, error("Incorrect API key provided"), r"refused the key \(401\)"),
        (403, error("forbidden"), r"refused the key \(403\)"),
        (404, error("The model `m` does not exist"), r"model not found \(404\)"),
    ],
)
def test_quota_key_and_model_errors_pause_at_once_naming_the_cause(serve, status, body, cause):
    server = serve([(status, body, {})])
    with pytest.raises(LLMUnavailable, match=cause) as caught:
        call(model(server), messages(), sleep=lambda s: pytest.fail("no retry expected"))
    assert server.chats == 1 and "\n" not in str(caught.value)
    assert isinstance(caught.value, InfraError)  # the campaign pauses: exit 3, resumable


def test_a_refused_request_is_recorded_against_that_call(serve):
    server = serve([(400, error("This model's maximum context length is 8192 tokens"), {})])
    answer: Answer = ask(model(server), "sys", "a very long prompt", lambda t: t, retries=2)
    assert answer.value is None and server.chats == 1
    assert answer.errors == [
        "the endpoint refused the request (400): This model's maximum context length is 8192 tokens"
    ]


def test_a_key_refused_on_the_model_list_is_not_called_unreachable(serve):
    server = serve([], models_status=401)
    with pytest.raises(InfraError, match=r"refused the key \(401\) on its model list"):
        wait_healthy(server.url, timeout=5)


@pytest.mark.parametrize(
    ("status", "body", "cause"),
    [
        (401, error("Incorrect API key provided"), "refused the key (401)"),
        (404, error("The model `m` does not exist"), "model not found (404)"),
        (429, error("You exceeded your quota", "insufficient_quota"), "quota spent"),
    ],
)
def test_hypoforge_run_pauses_with_one_line_and_exit_3(
    serve, monkeypatch, tmp_path, status, body, cause
):
    """Tried as a new user would: the endpoint lists its model but refuses every chat call. No
    traceback; the campaign is paused (exit 3) with the cause, and resume starts from it."""
    from typer.testing import CliRunner

    from hypoforge import cli
    from hypoforge.cli import common
    from store.ledger import Ledger
    from tests.fakes import SMALL_SPLITS, FakeSandbox, on_splits

    server = serve([(status, body, {})] * 50)
    monkeypatch.setenv("HYPOFORGE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(common, "make_sandbox", lambda settings: FakeSandbox())
    monkeypatch.setattr(common, "make_evaluator", on_splits(SMALL_SPLITS))
    folder = tmp_path / "camp"
    args = [
        "run",
        "--proposals",
        "1",
        "--batch",
        "1",
        "--llm",
        server.url,
        "--campaign",
        str(folder),
    ]
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("hypoforge:")]
    assert "campaign paused: LLM" in line and cause in line and f"hypoforge resume {folder}" in line
    assert server.chats == 1  # no retry for a cause that waiting cannot fix
    from hypoforge import campaign

    info = campaign.load(folder)  # the campaign is there to resume, nothing counted against it
    assert Ledger(folder / "ledger.sqlite").hypotheses(info.id) == []


def test_the_error_readers_are_total_on_whatever_an_endpoint_sends():
    """Headers and bodies come from the endpoint: reading them never raises, the wait stays in
    [0, 60] s and the message on one bounded line."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from agents.llm import _code, _retry_after, _said

    json_values = st.recursive(
        st.none() | st.booleans() | st.floats() | st.text(max_size=50),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=8,
    )

    class Response:
        def __init__(self, headers: dict) -> None:
            self.headers = headers

    class Failure(Exception):
        def __init__(self, body: object, headers: dict) -> None:
            super().__init__("boom")
            self.body, self.response = body, Response(headers)

    # written inside the test, out of the conftest's reach: the profile's count is scaled here
    @settings(max_examples=3 * settings.default.max_examples, deadline=None)
    @given(body=json_values, retry=st.none() | st.text(max_size=20))
    def check(body: object, retry: str | None) -> None:
        exc = Failure(body, {} if retry is None else {"retry-after": retry})
        wait = _retry_after(exc)
        assert wait is None or 0.0 <= wait <= 60.0
        said = _said(exc)
        assert "\n" not in said and len(said) <= 300
        assert isinstance(_code(exc), str)

    check()


def test_doctor_makes_a_chat_call_so_a_bad_key_shows_before_any_work(serve, monkeypatch, tmp_path):
    """The model list answers; only a chat call shows the refused key. ``hypoforge doctor``
    reports it on the LLM line (exit 3), with the workers it would use."""
    from typer.testing import CliRunner

    from hypoforge import cli
    from hypoforge.cli import common
    from tests.fakes import FakeSandbox

    server = serve([(401, error("Incorrect API key provided"), {})] * 5)
    monkeypatch.setenv("HYPOFORGE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(common, "make_sandbox", lambda settings: FakeSandbox())
    result = CliRunner().invoke(cli.app, ["doctor", "--llm", server.url], env={"COLUMNS": "300"})
    assert result.exit_code == 3, result.output
    (line,) = [x for x in result.stdout.splitlines() if "LLM endpoint" in x]
    assert "FAIL LLM endpoint refused the key (401): Incorrect API key provided" in line
    assert server.chats == 1
    (workers,) = [x for x in result.stdout.splitlines() if "sandbox workers" in x]
    assert "per job 1 CPU, 2048 MiB" in workers
    assert "LLM calls at once" in result.stdout and "8" in result.stdout
