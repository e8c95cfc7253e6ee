"""Online literature search (Semantic Scholar, OpenAlex): cached on disk, rate-limited, capped.

The AI Scientist's online check is known to hang for an hour on Semantic Scholar's 429s and to
break when the API renames a field. Here a check can do neither:

- one *total* time cap per check (``cap_seconds``, default 60 s) bounds everything: a request's
  timeout is the smaller of ``request_timeout`` and the time left, a ``Retry-After`` longer than the
  time left ends the check at once, and each source runs in a worker thread that the check stops
  waiting for at the deadline (a socket's read timeout restarts on every byte, so it alone cannot
  bound a server that trickles);
- 429, 5xx, timeouts and dropped connections get at most ``tries`` tries, honouring
  ``Retry-After`` (seconds or HTTP-date), else backing off 1, 2, 4 ... s; a refused connection or a
  failed DNS lookup ends the check at once ("offline": the machine will not be back in seconds);
- a circuit breaker per source and ``Scholar``: after a check in which a source timed out or was
  offline, later checks skip that source at once for ``breaker_seconds`` (default 300 s; 0 turns
  it off), "SOURCE unavailable (timed out N s ago); retried after 300 s", so a dropped network
  costs one cap, not one cap per check of a campaign; cached answers are still served meanwhile;
- parsing never raises: a missing, null, mistyped or renamed field leaves that field empty or skips
  that hit; a body that is not JSON, JSON of another shape, or hits none of which can be read (the
  id field renamed), skips the check with a one-line reason naming what was missing; what is read
  is capped (2 MB a body, a few hundred characters a text field);
- every answer, "no results" (an empty list of hits) included, is cached by (source, base URL,
  normalised query, limit) for ``cache_days`` (default 30), so a resumed or repeated campaign makes
  no repeat call; an older entry is fetched again and rewritten; a skipped check is not cached, so
  a later run retries.

Network and data problems are data: a ``Check`` whose ``skipped`` is "literature check skipped:
REASON", never an exception. The records and readers of the answers are in ``literature.papers``;
the search rounds of a capable chat model (the AI Scientist's loop) in ``agents.literature``.

Why not the ``semanticscholar`` and ``pyalex`` clients: ``semanticscholar`` 0.12 retries a 429 up
to 10 times with 5-60 s waits, ignoring ``Retry-After`` (minutes past any cap); with its retries
off, a 429 raises without the header, a 500's HTML page raises on ``r.json()``, and its sync calls
run their own event loop. ``pyalex`` 0.21 keeps base URL, key and retries in one module-global dict
(shared by every thread), mounts its retry adapter for https only and sends with no timeout at
all. Neither lets the caller bound a check's total time, so this is a small client on ``httpx``.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import math
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.settings import LiteratureSettings
from literature.papers import CAPS, PARSERS, Paper, merge, one_line

Source = Literal["semantic_scholar", "openalex"]
SOURCES: tuple[Source, ...] = ("semantic_scholar", "openalex")
SKIPPED = "literature check skipped: "
S2_URL = "https://api.semanticscholar.org/graph/v1"
OPENALEX_URL = "https://api.openalex.org"
S2_FIELDS = "title,authors,year,venue,abstract,externalIds,citationCount"
OPENALEX_FIELDS = (
    "id,doi,title,display_name,publication_year,authorships,primary_location,"
    "abstract_inverted_index,cited_by_count"
)
GRACE = 0.05  # s past the deadline a source may take to report its own reason
USER_AGENT = "hypoforge (literature check)"
log = logging.getLogger(__name__)


def _intervals() -> dict[Source, float]:
    # Seconds between requests to a source: Semantic Scholar allows about 1/s (keyed or not).
    return {"semantic_scholar": 1.0, "openalex": 0.1}


class Check(BaseModel):
    """What one check found, or why it was skipped (one line); never an exception."""

    model_config = ConfigDict(frozen=True)
    papers: list[Paper] = Field(default_factory=list)
    skipped: str | None = None  # "literature check skipped: REASON" when no source answered
    queries: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)  # the sources that answered
    cached: list[str] = Field(default_factory=list)  # of those, the ones read from the cache
    notes: list[str] = Field(default_factory=list)  # a source skipped while another answered
    seconds: float = 0.0


class ScholarConfig(BaseModel):
    """Where to search and how patiently; the defaults are the real APIs'."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sources: list[Source] = Field(default_factory=lambda: list(SOURCES), min_length=1)
    semantic_scholar_url: str = S2_URL
    openalex_url: str = OPENALEX_URL
    limit: int = Field(10, ge=1, le=100)
    cap_seconds: float = Field(60.0, gt=0)  # everything one check does, sleeps included
    request_timeout: float = Field(20.0, gt=0)
    tries: int = Field(3, ge=1, le=10)
    backoff_seconds: float = Field(1.0, ge=0)  # doubled each try, when no Retry-After
    # Seconds between requests to a source: Semantic Scholar allows about 1/s (keyed or not).
    interval_seconds: dict[Source, float] = Field(default_factory=_intervals)
    max_body_bytes: int = Field(2_000_000, ge=1)
    cache_days: float = Field(30.0, gt=0)  # an older cache entry is fetched again
    # After a source timed out or was offline, skip it this long (0: never skip).
    breaker_seconds: float = Field(300.0, ge=0)

    @field_validator("semantic_scholar_url", "openalex_url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"not an http(s) URL: {url!r}")
        return url


class Clock(Protocol):
    """The time a check reads and waits on: its cap, the rate limiter's slots, the back-off
    before a retry and the breaker's memory. Tests give one whose sleeps return at once, so
    they assert what the check asked to wait rather than how long a busy machine took."""

    def now(self) -> float: ...  # seconds, monotonic
    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The machine's monotonic clock and real sleeps."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM_CLOCK = SystemClock()


class RateLimiter:
    """At most one request per ``interval`` s across threads: a caller reserves the next free
    slot under the lock and sleeps until it outside the lock."""

    def __init__(self, interval: float, clock: Clock = SYSTEM_CLOCK) -> None:
        self.interval = interval
        self.clock = clock
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self, deadline: float) -> bool:
        """Sleep until this caller's slot; False (none reserved) if it falls past ``deadline``."""
        with self._lock:
            now = self.clock.now()
            at = max(now, self._next)
            if at > deadline:
                return False
            self._next = at + self.interval
        if at > now:
            self.clock.sleep(at - now)
        return True


class _Skip(Exception):
    """Internal: ends one source's check with a reason (never leaves this module); ``down`` is
    the short cause ("timed out", "connection refused") when the source is unreachable."""

    def __init__(self, reason: str, down: str = "") -> None:
        super().__init__(reason)
        self.down = down


@dataclass
class _Answer:
    papers: list[Paper] | None  # None: skipped, for ``reason``
    reason: str = ""
    cached: bool = False


class Breaker:
    """Per source: when it last timed out or was offline, and why; ``reason`` is the skip while
    that is under ``seconds`` ago (0: never). Safe to share between threads."""

    def __init__(self, seconds: float, clock: Clock = SYSTEM_CLOCK) -> None:
        self.seconds = seconds
        self.clock = clock
        self._down: dict[str, tuple[float, str]] = {}  # source -> (clock.now(), cause)
        self._lock = threading.Lock()

    def trip(self, source: str, cause: str) -> None:
        if self.seconds > 0:
            with self._lock:
                self._down[source] = (self.clock.now(), cause)

    def reset(self, source: str) -> None:
        with self._lock:
            self._down.pop(source, None)

    def reason(self, source: str) -> str | None:
        """Why ``source`` is skipped now, or None: try it."""
        with self._lock:
            at, cause = self._down.get(source, (-math.inf, ""))
            ago = self.clock.now() - at
            if ago < self.seconds:
                again = f"retried after {self.seconds:g} s"
                return f"{source} unavailable ({cause} {ago:.0f} s ago); {again}"
            self._down.pop(source, None)
            return None


class LiteratureSearch(Protocol):
    """What a campaign asks of the online literature search (the critic's search rounds,
    ``agents.literature``): ``Scholar`` is the one over the network."""

    @property
    def config(self) -> ScholarConfig: ...
    def search(
        self, query: str, limit: int | None = None, cap_seconds: float | None = None
    ) -> Check: ...
    def close(self) -> None: ...


class Scholar:
    """The literature search: ``search(query)`` returns a ``Check`` and never raises for network
    or data problems. Safe to share between threads (one rate limiter and one circuit breaker
    per source). ``clock``: the time its cap, rate limits, back-off and breaker run on."""

    def __init__(
        self,
        config: ScholarConfig | None = None,
        cache_dir: Path | None = None,
        env: Mapping[str, str] | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.config = config or ScholarConfig()
        self.clock = clock
        self.cache_dir = cache_dir
        env = os.environ if env is None else env
        self._s2_key = env.get("S2_API_KEY") or env.get("SEMANTIC_SCHOLAR_API_KEY") or ""
        self._openalex_email = env.get("OPENALEX_EMAIL") or ""
        self._openalex_key = env.get("OPENALEX_API_KEY") or ""
        gaps = self.config.interval_seconds
        self._limiters = {s: RateLimiter(gaps.get(s, 1.0), clock) for s in SOURCES}
        self._breaker = Breaker(self.config.breaker_seconds, clock)
        # One client for every thread (httpx's is thread-safe): pooled connections, and no SSL
        # context built per request, so the limiter's spacing is the spacing on the wire.
        self._http = httpx.Client(headers={"User-Agent": USER_AGENT})

    @classmethod
    def from_settings(cls, literature: LiteratureSettings, home: Path) -> Scholar:
        """The search ``[literature]`` configures, its answers cached in HOME/literature and its
        keys read from the environment."""
        config = ScholarConfig(
            sources=list(literature.sources),
            semantic_scholar_url=literature.semantic_scholar_url,
            openalex_url=literature.openalex_url,
            cap_seconds=literature.cap_seconds,
            cache_days=literature.cache_days,
            breaker_seconds=literature.breaker_seconds,
        )
        return cls(config, home / "literature")

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def __enter__(self) -> Scholar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def search(
        self, query: str, limit: int | None = None, cap_seconds: float | None = None
    ) -> Check:
        """The papers for ``query`` from the configured sources, merged; at most ``cap_seconds``
        (default ``config.cap_seconds``) in all."""
        start = self.clock.now()
        cap = self.config.cap_seconds if cap_seconds is None else cap_seconds
        text, limit = normalise(query), limit or self.config.limit
        if not text:
            return Check(skipped=SKIPPED + "empty query", queries=[query])
        answers: dict[Source, _Answer] = {}
        bugs: list[Exception] = []

        def run(source: Source) -> None:
            try:
                answers[source] = self._source(source, text, limit, start + cap, cap)
            except Exception as exc:  # not a network or data problem: a bug, raised below
                bugs.append(exc)

        threads = [
            threading.Thread(target=run, args=(s,), daemon=True) for s in self.config.sources
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(max(0.0, start + cap - self.clock.now()) + GRACE)
        if bugs:
            raise bugs[0]
        got = dict(answers)  # a source still running past the deadline is not waited for
        late = _Answer(None, f"timed out after {cap:g} s")
        for source in self.config.sources:
            if source not in got:
                self._breaker.trip(source, "timed out")
        found = {s: got.get(s, late) for s in self.config.sources}
        return _combine(found, text, self.clock.now() - start)

    def _source(
        self, source: Source, query: str, limit: int, deadline: float, cap: float
    ) -> _Answer:
        cached = self._cache_read(source, query, limit)
        if cached is not None:
            return _Answer(cached, cached=True)
        down = self._breaker.reason(source)
        if down is not None:
            return _Answer(None, down)
        url, params, headers = self._request(source, query, limit)
        try:
            body = self._get(source, url, params, headers, deadline, cap)
        except _Skip as skip:
            if skip.down:
                self._breaker.trip(source, skip.down)
            return _Answer(None, str(skip))
        self._breaker.reset(source)  # it answered
        papers, reason = PARSERS[source](body)
        if reason is not None:
            return _Answer(None, reason)
        self._cache_write(source, query, limit, papers[:limit])
        return _Answer(papers[:limit])

    def _base(self, source: Source) -> str:
        url = (
            self.config.semantic_scholar_url
            if source == "semantic_scholar"
            else (self.config.openalex_url)
        )
        return url.rstrip("/")

    def _request(self, source: Source, query: str, limit: int) -> tuple[str, dict, dict]:
        if source == "semantic_scholar":
            params: dict[str, Any] = {"query": query, "limit": limit, "fields": S2_FIELDS}
            headers = {"x-api-key": self._s2_key} if self._s2_key else {}
            return self._base(source) + "/paper/search", params, headers
        params = {"search": query, "per-page": limit, "select": OPENALEX_FIELDS}
        if self._openalex_email:
            params["mailto"] = self._openalex_email
        if self._openalex_key:
            params["api_key"] = self._openalex_key
        return self._base(source) + "/works", params, {}

    def _get(
        self, source: Source, url: str, params: dict, headers: dict, deadline: float, cap: float
    ) -> bytes:
        """The body of a 200, after at most ``tries`` tries; ``_Skip`` with the reason else."""
        cfg = self.config
        for attempt in range(1, cfg.tries + 1):
            if not self._limiters[source].wait(deadline):
                raise _Skip(f"rate limited (no request slot left within the {cap:g} s cap)")
            left = deadline - self.clock.now()
            if left <= 0:
                raise _Skip(f"timed out after {cap:g} s", "timed out")
            wait: float | None = None
            try:
                timeout = min(cfg.request_timeout, left)
                status, wait, body = self._send(url, params, headers, timeout, deadline)
            except httpx.ConnectError as exc:  # refused or no DNS: the machine is offline
                said = _offline(exc)
                raise _Skip(said, said.removeprefix("offline: ").split(":")[0]) from None
            except httpx.TimeoutException:
                failure = "timed out"
            except httpx.DecodingError as exc:  # a body its Content-Encoding does not fit
                raise _Skip(f"unreadable response: {one_line(str(exc), 80)}") from None
            except httpx.RequestError as exc:  # dropped mid-answer, protocol errors
                failure = f"connection failed ({one_line(str(exc) or type(exc).__name__, 80)})"
            else:
                if status == 200:
                    return body
                failure = f"HTTP {status}"
                if status != 429 and status < 500:
                    raise _Skip(failure)
            pause = _next_try(
                failure,
                attempt,
                cfg.tries,
                wait,
                cfg.backoff_seconds,
                deadline - self.clock.now(),
                cap,
            )
            self.clock.sleep(pause)
        raise AssertionError("unreachable")  # the last try returns or raises

    def _send(
        self, url: str, params: dict, headers: dict, timeout: float, deadline: float
    ) -> tuple[int, float | None, bytes]:
        """(status, Retry-After seconds, body) of one GET; the body read only for a 200, capped
        in size and stopped at the deadline (a trickling server resets the read timeout)."""
        cap = self.config.max_body_bytes
        with self._http.stream(
            "GET", url, params=params, headers=headers, timeout=timeout
        ) as reply:
            if reply.status_code != 200:
                return reply.status_code, retry_after(reply.headers.get("Retry-After")), b""
            chunks, size = [], 0
            for chunk in reply.iter_bytes():
                size += len(chunk)
                if size > cap:
                    raise _Skip(f"unreadable response: larger than {_size(cap)}")
                if self.clock.now() > deadline:
                    raise httpx.ReadTimeout("the check's deadline passed while reading")
                chunks.append(chunk)
        return 200, None, b"".join(chunks)

    def _cache_path(self, source: Source, query: str, limit: int) -> Path | None:
        if self.cache_dir is None:
            return None
        named = json.dumps([source, self._base(source), query, limit])
        key = hashlib.sha256(named.encode()).hexdigest()[:32]
        return self.cache_dir / f"{source}-{key}.json"

    def _cache_read(self, source: Source, query: str, limit: int) -> list[Paper] | None:
        """The cached papers, or None: no entry, an unreadable one, or one over ``cache_days``
        old (or dated ahead of the clock by more than a minute)."""
        path = self._cache_path(source, query, limit)
        if path is None:
            return None
        try:
            data = json.loads(path.read_text())
            at = data["at"]
            if not isinstance(at, int | float) or isinstance(at, bool):
                raise TypeError("no time")
            age = time.time() - at
            if not -60 <= age <= self.config.cache_days * 86_400:  # NaN and inf are stale too
                log.debug("literature cache file %s is stale; fetching again", path)
                return None
            return [Paper.model_validate(p) for p in data["papers"]]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError, ValidationError):
            log.warning("ignoring an unreadable literature cache file %s", path)
            return None

    def _cache_write(self, source: Source, query: str, limit: int, papers: list[Paper]) -> None:
        path = self._cache_path(source, query, limit)
        if path is None:
            return
        url = self._base(source)
        record = {"source": source, "url": url, "query": query, "limit": limit, "at": time.time()}
        record["papers"] = [p.model_dump() for p in papers]
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:  # a cache that cannot be written costs a repeat call later, not this check
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(record))
            tmp.replace(path)  # atomic: a reader sees the old file or the new one
        except OSError as exc:
            log.warning("cannot write the literature cache %s: %s", path, exc)


def _next_try(
    failure: str,
    attempt: int,
    tries: int,
    wait: float | None,
    backoff: float,
    left: float,
    cap: float,
) -> float:
    """The seconds to wait before the next try, with ``left`` of the ``cap`` left; ``_Skip``
    when no try is left or the wait would pass the cap."""
    rate = failure == "HTTP 429"
    down = "timed out" if failure == "timed out" else ""
    if attempt >= tries:
        count = f"{tries} {'try' if tries == 1 else 'tries'}"
        raise _Skip(
            f"rate limited (HTTP 429 after {count})" if rate else f"{failure} after {count}", down
        )
    if wait is not None and wait > left:
        bound = (
            f"the {cap:g} s cap" if wait > cap else f"the {left:.0f} s left of the {cap:g} s cap"
        )
        raise _Skip(
            f"{'rate limited' if rate else failure} (Retry-After {wait:g} s exceeds {bound})"
        )
    pause = backoff * 2 ** (attempt - 1) if wait is None else wait
    if pause >= left:
        if down:
            raise _Skip(f"timed out after {cap:g} s", down)
        name = "rate limited (HTTP 429)" if rate else failure
        raise _Skip(f"{name}; no time left for another try within the {cap:g} s cap")
    return pause


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


def normalise(query: str) -> str:
    """The query as sent and as cached: one line, lower case, capped."""
    return " ".join(str(query).split()).lower()[: CAPS["query"]]


def _combine(answers: dict[Source, _Answer], query: str, seconds: float) -> Check:
    ok = {s: a.papers for s, a in answers.items() if a.papers is not None}
    failed = {s: a.reason for s, a in answers.items() if a.papers is None}
    skipped = None
    if not ok:
        reasons = set(failed.values())
        one = (
            reasons.pop()
            if len(reasons) == 1
            else "; ".join(  # a breaker's reason names its source already
                r if r.startswith(f"{s} unavailable") else f"{s}: {r}" for s, r in failed.items()
            )
        )
        skipped = SKIPPED + one
    return Check(
        papers=merge(*ok.values()),
        skipped=skipped,
        queries=[query],
        sources=list(ok),
        cached=[s for s, a in answers.items() if a.cached],
        notes=[f"{s}: {SKIPPED}{r}" for s, r in failed.items()] if ok else [],
        seconds=round(seconds, 3),
    )


def _offline(exc: Exception) -> str:
    said = str(exc) or type(exc).__name__
    low = said.lower()
    if "refused" in low:
        return "offline: connection refused"
    if any(w in low for w in ("name or service", "name resolution", "nodename", "getaddrinfo")):
        return "offline: DNS lookup failed"
    if "unreachable" in low:
        return "offline: network unreachable"
    return f"cannot connect: {one_line(said, 100)}"


def _size(n: int) -> str:
    return f"{n / 1e6:g} MB" if n >= 1_000_000 else f"{n} bytes"
