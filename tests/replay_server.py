"""A loopback HTTP server that replays scripted answers in the shapes of the Semantic Scholar Graph
API and OpenAlex, and records every request it gets: the literature client is tested against it
(``tests/unit/literature/test_scholar.py``), so no test touches the internet.

Each path has a script of ``Reply`` (status, body, headers, a delay before answering); once the
script is spent its last reply repeats (a server that keeps failing). An unscripted path is a 404;
``silent()`` accepts the connection and never answers (a dropped network), until the server stops.
The bodies below copy the real APIs' shapes; the papers are real, their ids in the index made up.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

S2_PATH = "/graph/v1/paper/search"  # base URL: server.url + "/graph/v1"
OPENALEX_PATH = "/works"  # base URL: server.url


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None  # a dict or list is sent as JSON; str or bytes as they are
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the status line (a slow server)


def silent() -> Reply:
    """A reply that never comes: the request is read, then nothing until the server stops."""
    return Reply(200, {}, delay=3600.0)


@dataclass(frozen=True)
class Seen:
    path: str
    params: dict[str, str]  # the last value of each query parameter
    headers: dict[str, str]  # names in lower case
    at: float  # time.monotonic() when it arrived


class ReplayServer:
    """``with ReplayServer() as server:`` on 127.0.0.1, a free port; ``server.url`` is its root."""

    def __init__(self) -> None:
        self._scripts: dict[str, list[Reply]] = {}
        self._seen: list[Seen] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._http.daemon_threads = True
        serve = lambda: self._http.serve_forever(poll_interval=0.02)  # noqa: E731 (quick to stop)
        self._thread = threading.Thread(target=serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def script(self, path: str, *replies: Reply) -> None:
        """Answer ``path`` with ``replies`` in turn (after those already scripted)."""
        with self._lock:
            self._scripts.setdefault(path, []).extend(replies)

    def seen(self, path: str | None = None) -> list[Seen]:
        """The requests received so far (to ``path`` only, if given), in order."""
        with self._lock:
            return [s for s in self._seen if path is None or s.path == path]

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopping.set()  # wakes the handlers still sleeping out a delay
        self._http.shutdown()
        self._http.server_close()

    def _answer(self, path: str, params: dict[str, str], headers: dict[str, str]) -> Reply:
        with self._lock:
            self._seen.append(Seen(path, params, headers, time.monotonic()))
            script = self._scripts.get(path)
            if not script:
                return Reply(404, {"error": f"nothing scripted for {path}"})
            return script.pop(0) if len(script) > 1 else script[0]


def _handler(owner: ReplayServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet in test output
            pass

        def do_GET(self) -> None:
            split = urlsplit(self.path)
            params = {k: v[-1] for k, v in parse_qs(split.query).items()}
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = owner._answer(split.path, params, headers)
            if reply.delay and owner._stopping.wait(reply.delay):
                return
            body = reply.body
            if not isinstance(body, str | bytes):
                body = json.dumps(body)
            data = body.encode() if isinstance(body, str) else body
            # The client may have given up already (a timeout test): nothing left to answer.
            with contextlib.suppress(OSError):
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

    return Handler


# --- bodies in the APIs' shapes ----------------------------------------------------------------


def s2_paper(
    paper_id: str,
    title: str,
    *,
    year: int | None = None,
    venue: str = "",
    authors: Iterable[str] = (),
    abstract: str | None = None,
    doi: str | None = None,
    arxiv: str | None = None,
    citations: int = 0,
) -> dict[str, Any]:
    """One hit of ``/graph/v1/paper/search`` with the fields the client asks for."""
    ids: dict[str, Any] = {"CorpusId": zlib.crc32(paper_id.encode()) % 10**8}
    if doi:
        ids["DOI"] = doi
    if arxiv:
        ids["ArXiv"] = arxiv
    return {
        "paperId": paper_id,
        "externalIds": ids,
        "title": title,
        "abstract": abstract,
        "venue": venue,
        "year": year,
        "citationCount": citations,
        "authors": [{"authorId": str(1000 + i), "name": n} for i, n in enumerate(authors)],
    }


def s2_body(*papers: dict[str, Any]) -> dict[str, Any]:
    """A search answer; with no papers the API leaves out "data" altogether."""
    if not papers:
        return {"total": 0, "offset": 0}
    return {"total": len(papers), "offset": 0, "next": len(papers), "data": list(papers)}


def inverted_index(text: str) -> dict[str, list[int]]:
    """OpenAlex's ``abstract_inverted_index``: each word with its positions."""
    index: dict[str, list[int]] = {}
    for at, word in enumerate(text.split()):
        index.setdefault(word, []).append(at)
    return index


def openalex_work(
    work_id: str,
    title: str,
    *,
    year: int | None = None,
    venue: str | None = None,
    authors: Iterable[str] = (),
    abstract: str | None = None,
    doi: str | None = None,
    landing_page: str | None = None,
    citations: int = 0,
) -> dict[str, Any]:
    """One result of ``/works`` (the fields the client selects)."""
    source = {"id": "https://openalex.org/S1", "display_name": venue} if venue else None
    return {
        "id": f"https://openalex.org/{work_id}",
        "doi": f"https://doi.org/{doi}" if doi else None,
        "title": title,
        "display_name": title,
        "publication_year": year,
        "authorships": [
            {"author_position": "first" if i == 0 else "middle",
             "author": {"id": f"https://openalex.org/A{i}", "display_name": n}}
            for i, n in enumerate(authors)
        ],
        "primary_location": {"is_oa": True, "landing_page_url": landing_page, "source": source},
        "abstract_inverted_index": inverted_index(abstract) if abstract else None,
        "cited_by_count": citations,
    }  # fmt: skip


def openalex_body(*works: dict[str, Any]) -> dict[str, Any]:
    meta = {"count": len(works), "db_response_time_ms": 21, "page": 1, "per_page": 25}
    return {"meta": meta, "results": list(works), "group_by": []}


MISH_ABSTRACT = (
    "We propose Mish, a novel self-regularized non-monotonic activation function which can be "
    "mathematically defined as f(x) = x tanh(softplus(x))."
)
MISH_S2 = s2_paper(
    "mish0001",
    "Mish: A Self Regularized Non-Monotonic Activation Function",
    year=2019,
    venue="British Machine Vision Conference",
    authors=["Diganta Misra"],
    abstract=MISH_ABSTRACT,
    arxiv="1908.08681",
    citations=2000,
)
SWISH_S2 = s2_paper(
    "swish0001",
    "Searching for Activation Functions",
    year=2017,
    venue="International Conference on Learning Representations",
    authors=["Prajit Ramachandran", "Barret Zoph", "Quoc V. Le"],
    abstract="The choice of activation functions in deep networks has a significant effect.",
    arxiv="1710.05941",
    citations=3000,
)
MISH_OPENALEX = openalex_work(
    "W2968000001",
    "Mish: A Self Regularized Non-Monotonic Activation Function",
    year=2019,
    venue="arXiv (Cornell University)",
    authors=["Diganta Misra"],
    abstract=MISH_ABSTRACT,
    doi="10.48550/arXiv.1908.08681",
    landing_page="https://arxiv.org/abs/1908.08681",
    citations=1500,
)
ELU_OPENALEX = openalex_work(
    "W2176000002",
    "Fast and Accurate Deep Network Learning by Exponential Linear Units (ELUs)",
    year=2015,
    venue="arXiv (Cornell University)",
    authors=["Djork-Arné Clevert", "Thomas Unterthiner", "Sepp Hochreiter"],
    abstract="We introduce the exponential linear unit (ELU) which speeds up learning.",
    doi="10.48550/arXiv.1511.07289",
    citations=5000,
)
