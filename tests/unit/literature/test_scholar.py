"""The online literature check against a loopback server that replays the real APIs' shapes
(``tests/replay_server.py``): 429 with Retry-After, 5xx, timeouts, refused connections, empty
results and changed fields end in papers or in "literature check skipped: REASON" within the
cap, never in an exception or a hang; a source that timed out or was offline is skipped at once
until its breaker closes; the cache makes no repeat call (per base URL, until it expires); and
the search rounds of a chat model cite only papers they were shown. No test touches the
internet.

The scholar runs on a ``Clock`` whose sleeps return at once and are recorded: the tests assert
the waits the check asked for (a Retry-After, the back-off, a rate limiter's slot) and the breaker
is moved on by ``advance``, so no assertion depends on how busy the machine is. Only the cap on a
server that never finishes is measured in real time."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from pydantic import Field, ValidationError

from agents.literature import literature_rounds, parse_reply
from literature.papers import Paper, parse_openalex, parse_semantic_scholar
from literature.scholar import (
    S2_FIELDS,
    SYSTEM_CLOCK,
    RateLimiter,
    Scholar,
    ScholarConfig,
    _offline,
    retry_after,
)
from tests.replay_server import (
    ELU_OPENALEX,
    MISH_ABSTRACT,
    MISH_OPENALEX,
    MISH_S2,
    OPENALEX_PATH,
    S2_PATH,
    SWISH_S2,
    ReplayServer,
    Reply,
    openalex_body,
    openalex_work,
    s2_body,
    s2_paper,
    silent,
)

SKIP = "literature check skipped: "
MISH_ID, SWISH_ID = "s2:mish0001", "s2:swish0001"


class Clock:
    """Real time plus every sleep asked for: a sleep returns at once, is recorded in ``slept``
    and moves the clock on, so a deadline sees it as spent; ``advance`` moves it on as a wait
    would. Requests and timeouts on the wire still take real time."""

    def __init__(self) -> None:
        self.slept: list[float] = []
        self._ahead = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.monotonic() + self._ahead

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self._ahead += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._ahead += seconds


class Stopped:
    """A clock at 0 whose sleeps return at once, recorded in ``slept``: what each caller of a
    rate limiter was told to wait does not depend on when its thread ran."""

    def __init__(self) -> None:
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        return 0.0

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as replay:
        yield replay


def make(
    server: ReplayServer | None,
    tmp_path: Path,
    env: dict[str, str] | None = None,
    url: str | None = None,
    clock: Clock | None = None,
    **settings: Any,
) -> Scholar:
    """A scholar on the replay server (or ``url``) and ``clock`` (a fresh ``Clock`` by default):
    no pauses between calls, short backoff."""
    root = url or (server.url if server else "")
    config: dict[str, Any] = {
        "sources": ["semantic_scholar"],
        "semantic_scholar_url": root + "/graph/v1",
        "openalex_url": root,
        "interval_seconds": {"semantic_scholar": 0.0, "openalex": 0.0},
        "backoff_seconds": 0.05,
        "cap_seconds": 10.0,
        "request_timeout": 5.0,
    }
    config = ScholarConfig(**{**config, **settings})
    return Scholar(config, tmp_path / "cache", env or {}, clock=clock or Clock())


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- answers read ------------------------------------------------------------------------------


def test_hits_become_papers_and_the_key_is_sent(server, tmp_path):
    server.script(S2_PATH, Reply(200, s2_body(MISH_S2, SWISH_S2)))
    check = make(server, tmp_path, env={"S2_API_KEY": "s2-secret"}).search("Mish  Activation")
    assert check.skipped is None and check.sources == ["semantic_scholar"]
    assert [p.id for p in check.papers] == [MISH_ID, SWISH_ID]
    assert check.papers[0] == Paper(
        id=MISH_ID,
        title="Mish: A Self Regularized Non-Monotonic Activation Function",
        authors=["Diganta Misra"],
        year=2019,
        venue="British Machine Vision Conference",
        abstract=MISH_ABSTRACT,
        arxiv="1908.08681",
        citations=2000,
        source="semantic_scholar",
    )
    (seen,) = server.seen(S2_PATH)
    assert seen.headers["x-api-key"] == "s2-secret"
    assert seen.params == {"query": "mish activation", "limit": "10", "fields": S2_FIELDS}


def test_the_other_key_variable_is_read_too(server, tmp_path):
    server.script(S2_PATH, Reply(200, s2_body(MISH_S2)))
    make(server, tmp_path, env={"SEMANTIC_SCHOLAR_API_KEY": "other"}).search("mish")
    assert server.seen(S2_PATH)[0].headers["x-api-key"] == "other"


def test_no_key_sends_no_key_header(server, tmp_path):
    server.script(S2_PATH, Reply(200, s2_body(MISH_S2)))
    make(server, tmp_path).search("mish")
    assert "x-api-key" not in server.seen(S2_PATH)[0].headers


def test_openalex_works_are_read_with_email_and_key(server, tmp_path):
    server.script(OPENALEX_PATH, Reply(200, openalex_body(MISH_OPENALEX)))
    env = {"OPENALEX_EMAIL": "lab@example.org", "OPENALEX_API_KEY": "oa-secret"}
    check = make(server, tmp_path, env=env, sources=["openalex"]).search("mish", limit=5)
    (paper,) = check.papers
    assert paper.id == "openalex:W2968000001" and paper.source == "openalex"
    assert (paper.doi, paper.arxiv) == ("10.48550/arxiv.1908.08681", "1908.08681")
    assert paper.abstract == MISH_ABSTRACT  # rebuilt from the inverted index
    assert (paper.venue, paper.year, paper.citations) == ("arXiv (Cornell University)", 2019, 1500)
    params = server.seen(OPENALEX_PATH)[0].params
    assert params["search"] == "mish" and params["per-page"] == "5"
    assert (params["mailto"], params["api_key"]) == ("lab@example.org", "oa-secret")


# --- rate limits, server errors, timeouts, offline ---------------------------------------------


def test_429_then_200_honours_a_one_second_retry_after(server, tmp_path):
    server.script(
        S2_PATH,
        Reply(429, {"message": "Too Many Requests"}, {"Retry-After": "1"}),
        Reply(200, s2_body(MISH_S2)),
    )
    clock = Clock()
    check = make(server, tmp_path, clock=clock).search("mish")
    assert [p.id for p in check.papers] == [MISH_ID] and check.skipped is None
    assert len(server.seen(S2_PATH)) == 2 and clock.slept == [1.0]
    assert check.seconds >= 1.0  # the wait counts against the check's time


def test_retry_after_beyond_the_cap_skips_at_once(server, tmp_path):
    server.script(S2_PATH, Reply(429, {"message": "Too Many Requests"}, {"Retry-After": "3600"}))
    clock = Clock()
    check = make(server, tmp_path, clock=clock, cap_seconds=60.0).search("mish")
    assert check.skipped == SKIP + "rate limited (Retry-After 3600 s exceeds the 60 s cap)"
    assert check.papers == [] and clock.slept == []
    assert len(server.seen(S2_PATH)) == 1


def test_a_retry_after_longer_than_the_time_left_skips_at_once(server, tmp_path):
    server.script(S2_PATH, Reply(429, {"message": "Too Many Requests"}, {"Retry-After": "8"}))
    clock = Clock()
    check = make(server, tmp_path, clock=clock, cap_seconds=10.0).search("mish")
    # The first wait fits the cap; after it, 2 s are left, too few for the second.
    assert check.skipped == (
        SKIP + "rate limited (Retry-After 8 s exceeds the 2 s left of the 10 s cap)"
    )
    assert clock.slept == [8.0] and len(server.seen(S2_PATH)) == 2


def test_429_without_retry_after_backs_off_a_bounded_number_of_times(server, tmp_path):
    server.script(S2_PATH, Reply(429, {"message": "Too Many Requests"}))
    clock = Clock()
    check = make(server, tmp_path, clock=clock).search("mish")
    assert check.skipped == SKIP + "rate limited (HTTP 429 after 3 tries)"
    assert len(server.seen(S2_PATH)) == 3 and clock.slept == [0.05, 0.1]  # doubled each try


def test_5xx_is_retried_a_bounded_number_of_times_then_skipped(server, tmp_path):
    server.script(S2_PATH, Reply(500, "<html><body>Internal Server Error</body></html>"))
    clock = Clock()
    check = make(server, tmp_path, clock=clock).search("mish")
    assert check.skipped == SKIP + "HTTP 500 after 3 tries"
    assert len(server.seen(S2_PATH)) == 3 and clock.slept == [0.05, 0.1]


def test_a_5xx_that_recovers_gives_the_papers(server, tmp_path):
    server.script(S2_PATH, Reply(503, {"message": "busy"}), Reply(200, s2_body(MISH_S2)))
    check = make(server, tmp_path).search("mish")
    assert [p.id for p in check.papers] == [MISH_ID]
    assert len(server.seen(S2_PATH)) == 2


def test_a_4xx_is_not_retried(server, tmp_path):
    server.script(S2_PATH, Reply(403, {"message": "Forbidden"}))
    check = make(server, tmp_path).search("mish")
    assert check.skipped == SKIP + "HTTP 403"
    assert len(server.seen(S2_PATH)) == 1


@pytest.mark.slow
def test_a_slow_server_ends_the_check_at_its_cap_in_real_time(server, tmp_path):
    """What only real time shows: a server that holds its answer back (here 30 s, longer than the
    request timeout) is cut off by the cap, on the machine's clock."""
    server.script(S2_PATH, Reply(200, s2_body(MISH_S2), delay=30))
    scholar = make(server, tmp_path, clock=SYSTEM_CLOCK, cap_seconds=2.0, request_timeout=20.0)
    start = time.monotonic()
    check = scholar.search("mish")
    seconds = time.monotonic() - start
    assert check.skipped == SKIP + "timed out after 2 s"
    assert 1.9 < seconds < 15  # the cap, not the server's 30 s or the request's 20 s timeout


def test_short_request_timeouts_are_retried_then_skipped(server, tmp_path):
    server.script(S2_PATH, Reply(200, s2_body(MISH_S2), delay=30))
    clock = Clock()
    scholar = make(server, tmp_path, clock=clock, cap_seconds=5.0, request_timeout=0.2)
    check = scholar.search("mish")
    assert check.skipped == SKIP + "timed out after 3 tries"  # not the 5 s cap's reason
    assert len(server.seen(S2_PATH)) == 3 and clock.slept == [0.05, 0.1]


def test_a_refused_connection_is_offline_and_not_retried(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}"
    clock = Clock()
    scholar = make(None, tmp_path, url=url, clock=clock, sources=["semantic_scholar", "openalex"])
    check = scholar.search("mish")
    assert check.skipped == SKIP + "offline: connection refused"  # one reason for both
    assert check.papers == [] and check.sources == [] and clock.slept == []


def test_offline_reasons_name_the_cause():
    dns = httpx.ConnectError("[Errno -2] Name or service not known")
    assert _offline(dns) == "offline: DNS lookup failed"
    assert _offline(httpx.ConnectError("[Errno 101] Network is unreachable")) == (
        "offline: network unreachable"
    )
    assert _offline(httpx.ConnectError("")) == "cannot connect: ConnectError"


def test_base_urls_must_be_http():
    with pytest.raises(ValidationError, match="not an http"):
        ScholarConfig(openalex_url="ftp://example.org")


def test_retry_after_reads_seconds_and_http_dates():
    now = 1_700_000_000.0
    assert retry_after("1") == 1.0 and retry_after(" 2.5 ") == 2.5
    assert retry_after(formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30, abs=1)
    assert retry_after(formatdate(now - 30, usegmt=True), now=now) == 0.0  # already past
    assert retry_after("soon") is None and retry_after(None) is None and retry_after("nan") is None


def test_one_failing_source_leaves_the_other_s_papers_and_a_note(server, tmp_path):
    server.script(S2_PATH, Reply(500, {"message": "down"}))
    server.script(OPENALEX_PATH, Reply(200, openalex_body(ELU_OPENALEX)))
    check = make(server, tmp_path, sources=["semantic_scholar", "openalex"]).search("elu")
    assert check.skipped is None and check.sources == ["openalex"]
    assert [p.id for p in check.papers] == ["openalex:W2176000002"]
    assert check.notes == ["semantic_scholar: " + SKIP + "HTTP 500 after 3 tries"]


def test_two_failing_sources_name_each_reason(server, tmp_path):
    server.script(S2_PATH, Reply(500, {"message": "down"}))
    server.script(OPENALEX_PATH, Reply(403, {"error": "no"}))
    check = make(server, tmp_path, sources=["semantic_scholar", "openalex"]).search("elu")
    assert check.skipped == SKIP + "semantic_scholar: HTTP 500 after 3 tries; openalex: HTTP 403"


# --- the cache ---------------------------------------------------------------------------------


def test_a_repeated_query_makes_no_call_even_after_a_restart(server, tmp_path):
    server.script(S2_PATH, Reply(200, s2_body(MISH_S2)))
    first = make(server, tmp_path).search("Mish activation")
    again = make(server, tmp_path).search("  mish   ACTIVATION ")  # a resumed campaign
    assert again.papers == first.papers and again.cached == ["semantic_scholar"]
    assert len(server.seen()) == 1


def test_no_results_are_cached_too(server, tmp_path):
    server.script(S2_PATH, Reply(200, s2_body()))  # the API leaves "data" out
    server.script(OPENALEX_PATH, Reply(200, openalex_body()))
    scholar = make(server, tmp_path, sources=["semantic_scholar", "openalex"])
    first, again = scholar.search("nothing like it"), scholar.search("nothing like it")
    assert first.papers == again.papers == [] and first.skipped is again.skipped is None
    assert again.cached == ["semantic_scholar", "openalex"]
    assert len(server.seen()) == 2


def test_a_skipped_check_is_not_cached(server, tmp_path):
    server.script(S2_PATH, Reply(500, {"message": "down"}), Reply(200, s2_body(MISH_S2)))
    scholar = make(server, tmp_path, tries=1)
    assert scholar.search("mish").skipped == SKIP + "HTTP 500 after 1 try"
    assert [p.id for p in scholar.search("mish").papers] == [MISH_ID]  # retried, not cached


def test_the_limit_is_part_of_the_cache_key(server, tmp_path):
    server.script(S2_PATH, Reply(200, s2_body(MISH_S2)))
    scholar = make(server, tmp_path)
    scholar.search("mish", limit=5)
    scholar.search("mish", limit=6)
    assert [s.params["limit"] for s in server.seen()] == ["5", "6"]


def test_a_corrupt_cache_file_is_ignored_and_rewritten(server, tmp_path):
    server.script(S2_PATH, Reply(200, s2_body(MISH_S2)))
    make(server, tmp_path).search("mish")
    (path,) = (tmp_path / "cache").glob("*.json")
    path.write_text('{"papers": [{"title": 3')
    check = make(server, tmp_path).search("mish")
    assert [p.id for p in check.papers] == [MISH_ID] and check.cached == []
    assert len(server.seen()) == 2
    assert json.loads(path.read_text())["papers"][0]["id"] == MISH_ID
    assert list((tmp_path / "cache").glob(".*.tmp")) == []  # the write was atomic


def test_an_empty_list_of_hits_is_a_cached_no_results(server, tmp_path):
    server.script(S2_PATH, Reply(200, {"total": 0, "offset": 0, "data": []}))
    scholar = make(server, tmp_path)
    first, again = scholar.search("nothing"), scholar.search("nothing")
    assert first.papers == again.papers == [] and first.skipped is again.skipped is None
    assert again.cached == ["semantic_scholar"] and len(server.seen()) == 1


def test_the_base_url_is_part_of_the_cache_key(server, tmp_path):
    server.script(S2_PATH, Reply(200, s2_body(MISH_S2)))
    with ReplayServer() as other:
        other.script(S2_PATH, Reply(200, s2_body(SWISH_S2)))
        assert [p.id for p in make(server, tmp_path).search("activation").papers] == [MISH_ID]
        check = make(other, tmp_path).search("activation")  # the same cache folder
        assert [p.id for p in check.papers] == [SWISH_ID] and check.cached == []
        again = make(server, tmp_path).search("activation")
        assert [p.id for p in again.papers] == [MISH_ID] and again.cached == ["semantic_scholar"]
        assert (len(server.seen()), len(other.seen())) == (1, 1)
    urls = {json.loads(f.read_text())["url"] for f in (tmp_path / "cache").glob("*.json")}
    assert urls == {server.url + "/graph/v1", other.url + "/graph/v1"}


def test_a_cache_entry_older_than_cache_days_is_fetched_again(server, tmp_path):
    server.script(S2_PATH, Reply(200, s2_body(MISH_S2)), Reply(200, s2_body(SWISH_S2)))
    make(server, tmp_path).search("activation")
    (path,) = (tmp_path / "cache").glob("*.json")
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "at": time.time() - 31 * 86_400}))
    kept = make(server, tmp_path, cache_days=40).search("activation")
    assert [p.id for p in kept.papers] == [MISH_ID] and kept.cached == ["semantic_scholar"]
    fresh = make(server, tmp_path).search("activation")  # the default: 30 days
    assert [p.id for p in fresh.papers] == [SWISH_ID] and fresh.cached == []
    rewritten = json.loads(path.read_text())
    assert rewritten["papers"][0]["id"] == SWISH_ID and time.time() - rewritten["at"] < 60
    assert len(server.seen()) == 2
    with pytest.raises(ValidationError):
        ScholarConfig(cache_days=0)


# --- changed fields and broken bodies ------------------------------------------------------------

CHANGED = {**MISH_S2, "authors": "Diganta Misra", "year": "2019", "citationCount": "many"}
BROKEN = {**SWISH_S2, "title": 12, "externalIds": None, "venue": None, "abstract": ["x"]}


def test_changed_field_types_leave_fields_empty_never_raise(server, tmp_path):
    body = {"total": 4, "offset": 0, "data": [CHANGED, BROKEN, "not a paper", {"title": "no id"}]}
    server.script(S2_PATH, Reply(200, body))
    check = make(server, tmp_path).search("mish")
    mish, swish = check.papers  # the hit without an id and the string are skipped
    assert (mish.authors, mish.year, mish.citations) == (["Diganta Misra"], 2019, None)
    assert (swish.title, swish.venue, swish.abstract, swish.arxiv) == ("", "", "", "")
    assert swish.year == 2017


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"total": 1, "offset": 0, "papers": [MISH_S2]},
         "unreadable response: no 'data' list in the Semantic Scholar answer"),
        ({"total": 1, "data": "oops"},
         "unreadable response: no 'data' list in the Semantic Scholar answer"),
        ("<html><body>502 Bad Gateway</body></html>",
         "unreadable response: not JSON ('<html><body>502 Bad Gateway</body></html>')"),
        ([MISH_S2], "unreadable response: a JSON list, not an object"),
        (b"\xff\xfe\x00garbage", "unreadable response: not JSON"),
    ],
)  # fmt: skip
def test_a_body_of_another_shape_skips_the_check(server, tmp_path, body, reason):
    server.script(S2_PATH, Reply(200, body))
    check = make(server, tmp_path).search("mish")
    assert check.skipped is not None and check.skipped.startswith(SKIP + reason)
    assert "\n" not in check.skipped and check.papers == []


def test_a_renamed_openalex_list_skips_the_check(server, tmp_path):
    server.script(OPENALEX_PATH, Reply(200, {"meta": {}, "works": [MISH_OPENALEX]}))
    check = make(server, tmp_path, sources=["openalex"]).search("mish")
    assert check.skipped == SKIP + "unreadable response: no 'results' list in the OpenAlex answer"


def renamed(hit: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    return {new if k == old else k: v for k, v in hit.items()}


def test_hits_that_all_lack_the_id_skip_the_check_and_are_not_cached(server, tmp_path):
    hits = [renamed(MISH_S2, "paperId", "paper_id"), renamed(SWISH_S2, "paperId", "paper_id")]
    server.script(S2_PATH, Reply(200, {"total": 2, "data": hits}), Reply(200, s2_body(MISH_S2)))
    scholar = make(server, tmp_path)
    check = scholar.search("mish")
    assert check.papers == [] and check.skipped == SKIP + (
        "unreadable response: no hit of the 2 in the Semantic Scholar answer has 'paperId' "
        "(fields: abstract, authors, citationCount, externalIds, paper_id, title, venue, year)"
    )
    assert list((tmp_path / "cache").glob("*.json")) == []
    again = scholar.search("mish")  # asked again, not a cached "no results"
    assert [p.id for p in again.papers] == [MISH_ID] and again.cached == []


def test_openalex_hits_without_an_id_are_a_note_when_the_other_source_answers(server, tmp_path):
    server.script(S2_PATH, Reply(200, s2_body(MISH_S2)))
    server.script(OPENALEX_PATH, Reply(200, openalex_body(renamed(ELU_OPENALEX, "id", "work"))))
    check = make(server, tmp_path, sources=["semantic_scholar", "openalex"]).search("elu")
    assert check.skipped is None and check.sources == ["semantic_scholar"]
    (note,) = check.notes
    assert note.startswith(
        "openalex: " + SKIP + "unreadable response: no hit of the 1 in the OpenAlex answer has 'id'"
    )
    assert "work" in note and "\n" not in note
    assert [f.name.split("-")[0] for f in (tmp_path / "cache").glob("*.json")] == [
        "semantic_scholar"
    ]


def test_what_no_hit_had_is_named():
    hits = json.dumps({"data": ["a paper", 3]})
    assert parse_semantic_scholar(hits) == (
        [],
        "unreadable response: no hit of the 2 in the Semantic Scholar answer is an object",
    )
    (reason,) = [parse_semantic_scholar(json.dumps({"data": [{"paperId": 7}]}))[1]]
    assert reason == (
        "unreadable response: no hit of the 1 in the Semantic Scholar answer has a usable "
        "'paperId' (fields: paperId)"
    )
    many = {"results": [{f"field\n{i}": i for i in range(40)}]}
    papers, reason = parse_openalex(json.dumps(many))
    assert papers == [] and reason is not None and "\n" not in reason and reason.endswith(", ...)")
    assert parse_openalex(json.dumps(openalex_body())) == ([], None)  # no hits: no results


def test_a_body_over_the_size_cap_is_not_read(server, tmp_path):
    big = s2_paper("big1", "A long one", abstract="word " * 2000)
    server.script(S2_PATH, Reply(200, s2_body(big)))
    check = make(server, tmp_path, max_body_bytes=1000).search("long")
    assert check.skipped == SKIP + "unreadable response: larger than 1000 bytes"


def test_text_fields_are_capped_to_one_line():
    hit = s2_paper("cap1", "T\n" * 5000, authors=["A" * 500] * 100, abstract="w " * 5000)
    (paper,) = parse_semantic_scholar(json.dumps(s2_body(hit)))[0]
    assert len(paper.title) <= 400 and "\n" not in paper.title
    assert len(paper.authors) == 30 and all(len(a) <= 120 for a in paper.authors)
    assert len(paper.abstract) <= 2000


# --- both sources ------------------------------------------------------------------------------


def test_both_sources_are_merged_and_deduplicated(server, tmp_path):
    swish_again = openalex_work("W2760000003", "Searching for activation functions.", year=2018)
    server.script(S2_PATH, Reply(200, s2_body(MISH_S2, SWISH_S2)))
    server.script(
        OPENALEX_PATH, Reply(200, openalex_body(MISH_OPENALEX, ELU_OPENALEX, swish_again))
    )
    check = make(server, tmp_path, sources=["semantic_scholar", "openalex"]).search("activation")
    assert check.sources == ["semantic_scholar", "openalex"]
    # Mish twice (same arXiv id), Swish twice (same title): ranks interleaved, one of each.
    assert [p.id for p in check.papers] == [MISH_ID, SWISH_ID, "openalex:W2176000002"]
    assert check.papers[0].doi == "10.48550/arxiv.1908.08681"  # filled in from OpenAlex
    assert check.papers[0].citations == 2000  # the first source's own value is kept


# --- the circuit breaker -----------------------------------------------------------------------


def test_a_source_that_timed_out_is_skipped_until_the_breaker_closes(server, tmp_path):
    server.script(S2_PATH, silent())
    clock = Clock()
    # One try with a short request timeout: the check has ended when ``search`` returns, so
    # nothing trips the breaker again after the clock is moved on.
    scholar = make(server, tmp_path, clock=clock, tries=1, request_timeout=0.2)
    assert scholar.search("mish").skipped == SKIP + "timed out after 1 try"
    clock.advance(120)
    second = scholar.search("swish")  # no request: the breaker is open
    assert second.skipped == (
        SKIP + "semantic_scholar unavailable (timed out 120 s ago); retried after 300 s"
    )
    assert len(server.seen()) == 1
    clock.advance(180)
    third = scholar.search("elu")  # the breaker closed: tried again
    assert third.skipped == SKIP + "timed out after 1 try" and len(server.seen()) == 2


def test_cached_answers_are_served_while_the_breaker_is_open(server, tmp_path):
    server.script(S2_PATH, Reply(200, s2_body(MISH_S2)), silent())
    scholar = make(server, tmp_path, cap_seconds=0.5)
    assert [p.id for p in scholar.search("mish").papers] == [MISH_ID]
    assert scholar.search("other").skipped == SKIP + "timed out after 0.5 s"
    cached = scholar.search("mish")
    assert [p.id for p in cached.papers] == [MISH_ID] and cached.cached == ["semantic_scholar"]
    check = scholar.search("third")
    assert check.skipped == (
        SKIP + "semantic_scholar unavailable (timed out 0 s ago); retried after 300 s"
    )
    assert len(server.seen()) == 2


def test_a_silent_source_is_skipped_at_once_while_the_other_answers(server, tmp_path):
    server.script(S2_PATH, silent())
    server.script(OPENALEX_PATH, Reply(200, openalex_body(ELU_OPENALEX)))
    scholar = make(server, tmp_path, sources=["semantic_scholar", "openalex"], cap_seconds=0.5)
    first = scholar.search("elu")
    assert first.notes == ["semantic_scholar: " + SKIP + "timed out after 0.5 s"]
    second = scholar.search("exponential linear unit")
    assert [p.id for p in second.papers] == ["openalex:W2176000002"]
    assert second.notes == [
        "semantic_scholar: "
        + SKIP
        + "semantic_scholar unavailable (timed out 0 s ago); retried after 300 s"
    ]
    assert len(server.seen(S2_PATH)) == 1


def test_an_offline_source_trips_the_breaker_and_zero_turns_it_off(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}"
    scholar = make(None, tmp_path, url=url, sources=["semantic_scholar", "openalex"])
    assert scholar.search("mish").skipped == SKIP + "offline: connection refused"
    assert scholar.search("swish").skipped == SKIP + (
        "semantic_scholar unavailable (connection refused 0 s ago); retried after 300 s; "
        "openalex unavailable (connection refused 0 s ago); retried after 300 s"
    )
    off = make(None, tmp_path, url=url, breaker_seconds=0)
    for query in ("mish", "swish"):
        assert off.search(query).skipped == SKIP + "offline: connection refused"
    with pytest.raises(ValidationError):
        ScholarConfig(breaker_seconds=-1)


def test_the_breaker_is_shared_safely_between_threads(tmp_path):
    scholar = make(None, tmp_path, url=f"http://127.0.0.1:{closed_port()}")
    checks: list[Any] = []
    threads = [
        threading.Thread(target=lambda q=q: checks.append(scholar.search(q)))
        for q in map(str, range(8))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    unavailable = SKIP + "semantic_scholar unavailable (connection refused 0 s ago)"
    assert len(checks) == 8 and all(
        c.skipped == SKIP + "offline: connection refused" or c.skipped.startswith(unavailable)
        for c in checks
    )
    assert scholar.search("after").skipped.startswith(unavailable)


# --- the rate limiter --------------------------------------------------------------------------


def test_the_rate_limiter_spaces_a_source_s_calls(server, tmp_path):
    server.script(S2_PATH, Reply(200, s2_body(MISH_S2)))
    clock = Clock()
    gaps = {"semantic_scholar": 30.0, "openalex": 0.0}
    scholar = make(server, tmp_path, clock=clock, interval_seconds=gaps, cap_seconds=100.0)
    for query in ("one", "two", "three"):
        assert scholar.search(query).skipped is None
    # The first call goes at once; each next one waits out the rest of its 30 s slot.
    assert len(server.seen()) == 3 and len(clock.slept) == 2
    assert all(29 < s <= 30 for s in clock.slept)


def test_the_rate_limiter_is_shared_safely_between_threads():
    clock = Stopped()
    limiter = RateLimiter(0.1, clock)
    threads = [threading.Thread(target=lambda: limiter.wait(10.0)) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Five callers at once get five slots 0.1 s apart: the first goes now, the others wait.
    assert sorted(clock.slept) == pytest.approx([0.1, 0.2, 0.3, 0.4])


def test_a_rate_limit_slot_past_the_cap_skips_at_once(server, tmp_path):
    server.script(S2_PATH, Reply(200, s2_body(MISH_S2)))
    clock = Clock()
    gaps = {"semantic_scholar": 100.0, "openalex": 0.0}
    scholar = make(server, tmp_path, clock=clock, interval_seconds=gaps)
    assert scholar.search("one").skipped is None
    check = scholar.search("two", cap_seconds=1.0)
    assert check.skipped == SKIP + "rate limited (no request slot left within the 1 s cap)"
    assert clock.slept == [] and len(server.seen()) == 1


# --- fuzz: no body makes a parser raise ----------------------------------------------------------

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = ["paperId", "title", "authors", "year", "venue", "abstract", "externalIds",
          "citationCount", "id", "doi", "display_name", "publication_year", "authorships",
          "primary_location", "abstract_inverted_index", "cited_by_count"]  # fmt: skip
HIT = st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=10)


@pytest.mark.slow
@hypothesis.settings(max_examples=150, deadline=None)
@hypothesis.given(
    st.one_of(
        JSON.map(json.dumps),
        st.builds(lambda hits: json.dumps({"data": hits, "results": hits}), st.lists(HIT)),
        st.binary(max_size=50),
    )
)
def test_no_body_makes_a_parser_raise(body):
    for parse in (parse_semantic_scholar, parse_openalex):
        papers, reason = parse(body)
        assert all(isinstance(p, Paper) for p in papers)
        assert reason is None or (isinstance(reason, str) and "\n" not in reason)


@hypothesis.settings(max_examples=150, deadline=None)
@hypothesis.given(st.one_of(st.text(max_size=200), JSON.map(json.dumps)))
def test_no_reply_makes_the_reply_parser_raise(text):
    assert parse_reply(text).action in ("search", "decide", "undecided")


# --- the search rounds of a chat model ---------------------------------------------------------


class Recording(FakeListChatModel):
    """The fake chat model, keeping each prompt it was shown."""

    prompts: list[str] = Field(default_factory=list)

    def _call(self, messages: Any, *args: Any, **kwargs: Any) -> str:
        self.prompts.append(str(messages[-1].content))
        return super()._call(messages, *args, **kwargs)


SEARCH = '{"action": "search", "query": "x tanh softplus activation"}'


def decide(decision: str, *papers: str) -> str:
    reply = {"action": "decide", "decision": decision, "papers": list(papers), "reasons": "r."}
    return "Here is my answer:\n```json\n" + json.dumps(reply) + "\n```"


def test_the_rounds_decide_not_novel_citing_a_shown_paper(server, tmp_path):
    server.script(S2_PATH, Reply(200, s2_body(MISH_S2, SWISH_S2)))
    model = Recording(responses=[SEARCH, decide("not novel", MISH_ID)])
    result = literature_rounds(model, "x * tanh(softplus(x))", make(server, tmp_path), rounds=3)
    assert (result.decision, result.papers) == ("not novel", [MISH_ID])
    assert result.hits[0].title.startswith("Mish:")
    assert [p.id for p in result.seen] == [MISH_ID, SWISH_ID]
    assert result.queries == ["x tanh softplus activation"]
    assert [e["kind"] for e in result.events] == ["search", "decision"]
    assert result.events[0]["hits"] == [MISH_ID, SWISH_ID]
    assert result.events[1]["papers"] == [MISH_ID]
    assert "You have 3 searches left" in model.prompts[0]
    assert f"[{MISH_ID}] Mish: A Self Regularized" in model.prompts[1]  # the hit was shown
    assert "You have 2 searches left" in model.prompts[1]


def test_an_invented_paper_id_is_dropped(server, tmp_path):
    server.script(S2_PATH, Reply(200, s2_body(MISH_S2)))
    model = FakeListChatModel(responses=[SEARCH, decide("not novel", MISH_ID, "s2:made-up")])
    result = literature_rounds(model, "idea", make(server, tmp_path))
    assert (result.decision, result.papers) == ("not novel", [MISH_ID])
    dropped = [e for e in result.events if e["kind"] == "dropped"]
    assert dropped == [
        {"kind": "dropped", "papers": ["s2:made-up"], "reason": "not among the hits shown"}
    ]


def test_not_novel_resting_only_on_invented_ids_is_undecided(server, tmp_path):
    server.script(S2_PATH, Reply(200, s2_body(MISH_S2)))
    model = FakeListChatModel(responses=[SEARCH, decide("not novel", "arXiv:1234.5678")])
    result = literature_rounds(model, "idea", make(server, tmp_path))
    assert result.decision == "undecided" and result.papers == []
    assert result.reason == "not novel, but it cited no paper among the hits shown"


def test_novel_after_a_search_that_found_nothing(server, tmp_path):
    server.script(S2_PATH, Reply(200, s2_body()))
    model = FakeListChatModel(responses=[SEARCH, decide("novel")])
    result = literature_rounds(model, "idea", make(server, tmp_path))
    assert (result.decision, result.papers, result.seen) == ("novel", [], [])


def test_a_garbage_reply_is_undecided(server, tmp_path):
    model = FakeListChatModel(responses=["I think it is probably fine, go ahead!"])
    result = literature_rounds(model, "idea", make(server, tmp_path))
    assert result.decision == "undecided"
    assert result.reason.startswith("no JSON object in the reply")
    assert server.seen() == []


def test_deciding_without_a_search_is_undecided(server, tmp_path):
    model = FakeListChatModel(responses=[decide("novel")])
    result = literature_rounds(model, "idea", make(server, tmp_path))
    assert (result.decision, result.reason) == ("undecided", "decided without a search")


def test_a_skipped_search_ends_the_rounds_as_skipped(tmp_path):
    scholar = make(None, tmp_path, url=f"http://127.0.0.1:{closed_port()}")
    model = FakeListChatModel(responses=[SEARCH, decide("novel")])
    result = literature_rounds(model, "idea", scholar)
    assert result.decision == "skipped"
    assert result.reason == SKIP + "offline: connection refused"
    assert result.events[0]["skipped"] == result.reason
    assert [e["kind"] for e in result.events] == ["search", "decision"]


def test_no_more_searches_than_rounds(server, tmp_path):
    server.script(S2_PATH, Reply(200, s2_body(MISH_S2)))
    model = Recording(responses=[SEARCH, '{"action": "search", "query": "again"}'])
    result = literature_rounds(model, "idea", make(server, tmp_path), rounds=1)
    assert (result.decision, result.reason) == (
        "undecided",
        "asked for another search with none left",
    )
    assert len(server.seen()) == 1
    assert "You have no searches left: decide now." in model.prompts[1]


@pytest.mark.parametrize(
    ("text", "action", "decision", "papers"),
    [
        ('```json\n{"decision": "Not Novel", "papers": "s2:a"}\n```',
         "decide", "not novel", ["s2:a"]),
        ("Thinking... Decision made: not novel.", "decide", "not novel", []),
        ('{"query": "mish"}', "search", None, []),
        ('{"action": "search"}', "undecided", None, []),
        ('{"decision": "maybe"}', "undecided", None, []),
        ('{"decision": "novel", "papers": {"a": 1}}', "decide", "novel", []),
        ("{" * 20_000, "undecided", None, []),
    ],
)  # fmt: skip
def test_parse_reply_is_tolerant(text, action, decision, papers):
    reply = parse_reply(text)
    assert (reply.action, reply.decision, reply.papers) == (action, decision, papers)
