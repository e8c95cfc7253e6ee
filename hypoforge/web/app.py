"""The dashboard's web app: Starlette routes over the read model (``web.data``), server-rendered
Jinja2 pages and fragments (autoescape on), server-sent events for live updates, and steering
through ``web.steer``. ``make_app`` builds it; ``hypoforge serve`` runs it under uvicorn.

URL map:
    /                               the campaigns (rescanned on each request)
    /part/campaigns                 its table, for live refresh
    /live                           server-sent events: the campaigns changed
    /compare?a=SLUG&b=SLUG          two campaigns side by side (SLUG/HID: two hypotheses)
    /c/{slug}                       a campaign
    /c/{slug}/part/{name}           one fragment of it (PARTS)
    /c/{slug}/h/{hid}               a hypothesis
    /c/{slug}/files/{name}          a report figure or the paper, only as the reader lists them
    /c/{slug}/live                  server-sent events: the campaign changed
    POST /c/{slug}/steer/{action}   directive, decide, control, budget (JSON in, JSON out)
    /static/..., /pygments.css      the assets, all shipped in the package

Reading never runs hypothesis code and never writes; only the steering route writes, and only
through ``store.steering``. No page shows a traceback: ``auth.Guard`` turns an exception into the
error page, a campaign the reader cannot read shows its state and problem.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import jinja2
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from core.errors import ConfigError
from core.text import clean
from hypoforge.web import auth, charts, data, highlight, steer
from store.steering import AGENTS

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

# A campaign's fragments, in page order; each is templates/part_<name>.html.
PARTS = (
    "summary",
    "controls",
    "leaderboard",
    "queue",
    "directives",
    "charts",
    "lineage",
    "notrun",
    "events",
)
BOARD_ROWS = 50
EVENT_ROWS = 200
QUEUE_ROWS = 100  # the queue's first rows (a long queue is a campaign's backlog, oldest first)
TREE_NODES = 400
MAX_BODY = 65_536  # bytes of a steering request
MAX_FEEDS = 100  # live feeds open at once (a tab holds one); past it a feed answers 503

log = logging.getLogger("hypoforge.web")
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]+")
_PARTS_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="hypoforge-web-part")


@dataclass(frozen=True)
class ServeConfig:
    """What one server was started with."""

    dirs: tuple[Path, ...]
    token: str  # the access token (with require_token) and always the steering token
    require_token: bool  # every request must carry the token (any address but loopback)
    read_only: bool  # no steering controls; every POST answers 403
    who: str  # the name steering writes in the ledger
    host: str
    port: int
    poll: float = 1.0  # seconds between the live feed's version checks
    keepalive: float = 15.0  # seconds of quiet before a keepalive comment


def make_app(
    dirs: list[Path],
    *,
    token: str,
    require_token: bool,
    read_only: bool,
    who: str,
    host: str,
    port: int,
    poll: float = 1.0,
    keepalive: float = 15.0,
) -> Starlette:
    """The dashboard over the campaign folders in (or at) ``dirs``."""
    config = ServeConfig(
        tuple(dirs), token, require_token, read_only, who, host, port, poll, keepalive
    )
    return Dashboard(config).app


class Dashboard:
    """The routes of one server and what they share: the config, the templates, the slugs."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.access = auth.Access(config.token, config.require_token, config.host, config.port)
        self.env = _environment()
        self._slugs: dict[str, Path] = {}
        self.open_feeds = 0  # live feeds being served now
        self.closing = False  # set when the server shuts down: every feed ends within a poll
        routes = [
            Route("/", self.campaigns_page),
            Route("/part/campaigns", self.campaigns_part),
            Route("/live", self.live_all),
            Route("/compare", self.compare_page),
            Route("/pygments.css", self.pygments_css),
            Route("/c/{slug}", self.campaign_page),
            Route("/c/{slug}/part/{name}", self.campaign_part),
            Route("/c/{slug}/h/{hid}", self.hypothesis_page),
            Route("/c/{slug}/files/{name:path}", self.file),
            Route("/c/{slug}/live", self.live),
            Route("/c/{slug}/steer/{action}", self.steer, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]
        app = Starlette(
            debug=False,
            routes=routes,
            exception_handlers={HTTPException: self._http_error},
        )
        app.add_middleware(auth.Guard, access=self.access, error_page=self.error_html)
        app.state.dashboard = self  # tests and the benchmark look in (open_feeds)
        self.app = app

    # -- rendering ----------------------------------------------------------------------------
    def render(self, template: str, **context: Any) -> str:
        context.setdefault("read_only", self.config.read_only)
        context.setdefault("steer_token", None if self.config.read_only else self.config.token)
        context.setdefault("live", None)
        context.setdefault("version", None)  # what the page shows: the live feed's first word
        return self.env.get_template(template).render(**context)

    def page(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(self.render(template, **context), status_code=status)

    def error_html(self, status: int, message: str) -> str:
        try:
            # No steering token: this page also answers requests refused for want of it.
            return self.render(
                "error.html", status=status, message=message, title="error", steer_token=None
            )
        except Exception:  # the error page must never fail in turn
            log.exception("the error page failed")
            return auth.plain_error_page(status, message)

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        detail = getattr(exc, "detail", "") or "error"
        if request.url.path.endswith("/live") or "/steer/" in request.url.path:
            return JSONResponse({"ok": False, "error": clean(detail)}, status_code=status)
        return HTMLResponse(self.error_html(status, clean(detail)), status_code=status)

    # -- campaigns ----------------------------------------------------------------------------
    def _scan(self) -> list[data.CampaignReader]:
        readers = [data.CampaignReader(f) for f in data.find_campaigns(list(self.config.dirs))]
        self._slugs = {r.slug: r.folder for r in readers}
        return readers

    def _reader(self, slug: str) -> data.CampaignReader:
        folder = self._slugs.get(slug)
        if folder is None or not folder.exists():
            self._scan()
            folder = self._slugs.get(slug)
        if folder is None:
            raise HTTPException(404, f"no campaign {slug[:80]!r} is served here")
        return data.CampaignReader(folder)

    def campaigns_page(self, request: Request) -> Response:
        html, version = self._campaigns_html()
        return self.page(
            "campaigns.html",
            title="campaigns",
            live="/live",
            version=version,
            part=Markup(html),
            dirs=[str(d) for d in self.config.dirs],
        )

    def campaigns_part(self, request: Request) -> Response:
        return _fragment(request, self._campaigns_html()[0])

    def _campaigns_html(self) -> tuple[str, str]:
        """The campaigns' table, and their version as ``/live`` tells it."""
        summaries = list(_PARTS_POOL.map(data.CampaignReader.summary, self._scan()))
        version = "|".join(f"{s.slug}:{s.version}" for s in summaries)
        return self.render("part_campaigns.html", summaries=summaries), version

    # -- a campaign ---------------------------------------------------------------------------
    def campaign_page(self, request: Request) -> Response:
        reader = self._reader(request.path_params["slug"])
        summary = reader.summary()
        slug = reader.slug
        if summary.state == "unreadable":
            return self.page("unreadable.html", title=slug, s=summary)
        query = {**_events_query(request), "summary": summary}
        # The parts at once, each on its own reader (its own read-only connection): SQLite
        # releases the GIL while it reads, so the page costs about its slowest part.
        jobs = {
            name: _PARTS_POOL.submit(self._part, data.CampaignReader(reader.folder), name, query)
            for name in PARTS
        }
        parts = {name: Markup(job.result()) for name, job in jobs.items()}
        return self.page(
            "campaign.html",
            title=f"{slug} ({summary.task})",
            s=summary,
            parts=parts,
            query=query,
            live=f"/c/{_q(slug)}/live",
            version=summary.version,
            slug=slug,
            files=_safe(reader.figures, []),
            paper=_safe(reader.paper, None),
        )

    def campaign_part(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in PARTS:
            raise HTTPException(404, f"no part {name[:40]!r}")
        reader = self._reader(request.path_params["slug"])
        return _fragment(request, self._part(reader, name, _events_query(request)))

    def _part(self, reader: data.CampaignReader, name: str, query: dict[str, Any]) -> str:
        """One fragment's HTML; a reader that cannot read it says why, in the fragment."""
        slug = reader.slug
        try:
            context = getattr(self, f"_part_{name}")(reader, query)
        except data.Unreadable as exc:
            return self.render("part_problem.html", problem=str(exc), name=name)
        src = f"/c/{_q(slug)}/part/{name}"
        if name == "events" and query["string"]:
            src += "?" + query["string"]
        return self.render(f"part_{name}.html", slug=slug, src=src, **context)

    def _part_summary(self, reader: data.CampaignReader, query: dict) -> dict:
        return {"s": query.get("summary") or reader.summary()}

    def _part_controls(self, reader: data.CampaignReader, query: dict) -> dict:
        """The steering controls, or the line that the campaign takes no more (a page left open
        when its campaign ends loses its buttons at the next change)."""
        return {"s": query.get("summary") or reader.summary()}

    def _part_leaderboard(self, reader: data.CampaignReader, query: dict) -> dict:
        return {"rows": reader.leaderboard(limit=BOARD_ROWS), "limit": BOARD_ROWS}

    def _part_queue(self, reader: data.CampaignReader, query: dict) -> dict:
        rows = reader.queue()
        return {
            "rows": rows[:QUEUE_ROWS],
            "more": max(0, len(rows) - QUEUE_ROWS),
            "waiting": reader.waiting_for(),
        }

    def _part_directives(self, reader: data.CampaignReader, query: dict) -> dict:
        return {"directives": reader.directives(), "agents": AGENTS}

    def _part_charts(self, reader: data.CampaignReader, query: dict) -> dict:
        href = _hypothesis_href(reader.slug)
        return {
            "win_rate": charts.win_rate_chart(reader.win_rate_over_time(), href),
            "spend": charts.spend_chart(reader.spend()),
            "reward": charts.reward_chart(reader.reward_points(), href),
        }

    def _part_lineage(self, reader: data.CampaignReader, query: dict) -> dict:
        nodes = reader.lineage(TREE_NODES)
        return {
            "tree": charts.tree(nodes, _hypothesis_href(reader.slug)),
            "count": len(nodes),
            "limit": TREE_NODES,
        }

    def _part_notrun(self, reader: data.CampaignReader, query: dict) -> dict:
        return {"not_run": reader.not_run()}

    def _part_events(self, reader: data.CampaignReader, query: dict) -> dict:
        rows = reader.events(agent=query["agent"], limit=EVENT_ROWS, before_rowid=query["before"])
        older = rows[-1].rowid if len(rows) >= EVENT_ROWS else None
        return {
            "events": rows,
            "agents": reader.agents_seen(),
            "agent": query["agent"],
            "before": query["before"],
            "older": older,
        }

    # -- a hypothesis -------------------------------------------------------------------------
    def hypothesis_page(self, request: Request) -> Response:
        reader = self._reader(request.path_params["slug"])
        hid = request.path_params["hid"]
        try:
            view = reader.hypothesis(hid)
        except data.Unreadable as exc:
            return self.page(
                "unreadable.html", title=reader.slug, s=reader.summary(), problem=str(exc)
            )
        if view is None:
            raise HTTPException(404, f"no hypothesis {hid[:80]!r} in campaign {reader.slug}")
        return self.page(
            "hypothesis.html",
            title=f"{view.id} · {reader.slug}",
            slug=reader.slug,
            h=view,
            code=highlight.code_html(view.code) if view.code else None,
            diff_parent=_diff(view.diff_parent),
            diff_template=_diff(view.diff_template),
            curves=_curves(view),
        )

    # -- compare ------------------------------------------------------------------------------
    def compare_page(self, request: Request) -> Response:
        a = request.query_params.get("a", "")
        b = request.query_params.get("b", "")
        readers = self._scan()
        choices = sorted(r.slug for r in readers)
        context: dict[str, Any] = {"title": "compare", "a": a, "b": b, "choices": choices}
        if not a or not b:
            return self.page("compare.html", kind=None, **context)
        if ("/" in a) != ("/" in b):
            raise HTTPException(400, "compare two campaigns (SLUG) or two hypotheses (SLUG/ID)")
        if "/" not in a:
            sides = []
            for slug in (a, b):
                reader = self._reader(slug)
                rows = _safe(partial(reader.leaderboard, limit=10), [])
                sides.append({"s": reader.summary(), "rows": rows})
            return self.page("compare.html", kind="campaigns", sides=sides, **context)
        views: list[dict[str, Any]] = []
        for ref in (a, b):
            slug, _, hid = ref.partition("/")
            reader = self._reader(slug)
            try:
                view = reader.hypothesis(hid)
            except data.Unreadable as exc:
                raise HTTPException(503, f"campaign {reader.slug}: {exc}") from None
            if view is None:
                raise HTTPException(404, f"no hypothesis {hid[:80]!r} in campaign {slug[:80]}")
            views.append({"slug": reader.slug, "h": view})
        change = highlight.unified(views[0]["h"].code or "", views[1]["h"].code or "", a, b)
        return self.page(
            "compare.html",
            kind="hypotheses",
            views=views,
            diff=highlight.diff_html(change),
            **context,
        )

    # -- files ---------------------------------------------------------------------------------
    def file(self, request: Request) -> Response:
        reader = self._reader(request.path_params["slug"])
        name = request.path_params["name"]
        path = reader.file_path(name)
        if path is None:
            raise HTTPException(404, f"no file {name[:80]!r} in this campaign's report")
        media = "application/pdf" if path.suffix == ".pdf" else None
        return FileResponse(path, media_type=media)

    def pygments_css(self, request: Request) -> Response:
        return Response(highlight.css(), media_type="text/css")

    # -- live updates --------------------------------------------------------------------------
    def live(self, request: Request) -> Response:
        reader = self._reader(request.path_params["slug"])
        return _LiveFeed(self, self._feed(_guarded(reader.version)))

    def live_all(self, request: Request) -> Response:
        def version() -> str:
            return "|".join(f"{r.slug}:{_guarded(r.version)()}" for r in self._scan())

        return _LiveFeed(self, self._feed(version))

    async def _feed(self, version: Callable[[], str]) -> AsyncIterator[str]:
        """Server-sent events: ``hello`` with the version at once, ``change`` whenever it moves
        (checked every ``poll`` seconds), a keepalive comment after ``keepalive`` seconds of
        quiet. Holds one version string per connection, nothing more (``_LiveFeed`` counts it)."""
        last = await anyio.to_thread.run_sync(version)
        yield f"retry: 3000\nevent: hello\ndata: {json.dumps({'version': last})}\n\n"
        quiet = 0.0
        while True:
            await anyio.sleep(self.config.poll)
            if self.closing:
                return
            now = await anyio.to_thread.run_sync(version)
            if now != last:
                last = now
                quiet = 0.0
                yield f"event: change\ndata: {json.dumps({'version': now})}\n\n"
            else:
                quiet += self.config.poll
                if quiet >= self.config.keepalive:
                    quiet = 0.0
                    yield ": keepalive\n\n"

    # -- steering ------------------------------------------------------------------------------
    async def steer(self, request: Request) -> Response:
        problem = auth.steer_problem(request.scope, self.access, self.config.read_only)
        if problem is not None:
            return _refused(*problem)
        slug = request.path_params["slug"]
        try:
            reader = await run_in_threadpool(self._reader, slug)
        except HTTPException as exc:
            return _refused(exc.status_code, str(exc.detail))
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return _refused(413, f"a steering request is at most {MAX_BODY} bytes")
        try:
            values = json.loads(body, parse_constant=_no_constant)
        except (ValueError, RecursionError):  # a body nested past the recursion limit too
            return _refused(400, "the body is not JSON")
        if not isinstance(values, dict):
            return _refused(400, "the body must be a JSON object")
        action = request.path_params["action"]
        try:
            message = await run_in_threadpool(
                steer.steer, reader.folder, action, values, self.config.who
            )
        except ConfigError as exc:
            return _refused(steer.status_of(exc), str(exc))
        return JSONResponse({"ok": True, "message": _line(message)})


def _fragment(request: Request, html: str) -> Response:
    """A fragment with its ETag: the browser revalidates it on each live refresh, and one that
    has not changed costs a 304 instead of its bytes (a lineage tree is a few hundred kB)."""
    tag = '"' + hashlib.blake2b(html.encode(), digest_size=12).hexdigest() + '"'
    headers = {"etag": tag, "cache-control": "private, no-cache"}
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers=headers)
    return HTMLResponse(html, headers=headers)


def _refused(status: int, error: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": _line(error)}, status_code=status)


def _line(text: str) -> str:
    return " ".join(clean(text).split())[:500]


def _no_constant(name: str) -> Any:
    """NaN and Infinity are not JSON (Python's parser takes them): a budget of NaN would be
    one no campaign reaches."""
    raise ValueError(f"{name} is not JSON")


class _LiveFeed(StreamingResponse):
    """A live feed, counted while it is served; past ``MAX_FEEDS`` open at once it answers 503
    at once (a page that opens hundreds of feeds cannot starve the others). Counted here, not in
    the stream: a feed whose client goes before its first event still ends its count."""

    def __init__(self, dashboard: Dashboard, feed: AsyncIterator[str]) -> None:
        headers = {"cache-control": "no-store", "x-accel-buffering": "no"}
        super().__init__(feed, media_type="text/event-stream", headers=headers)
        self.dashboard = dashboard

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.dashboard.open_feeds >= MAX_FEEDS:
            busy = _refused(503, f"too many live feeds open (at most {MAX_FEEDS})")
            await busy(scope, receive, send)
            return
        self.dashboard.open_feeds += 1
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.dashboard.open_feeds -= 1  # the client went away, or the server is closing


def _guarded(version: Callable[[], str]) -> Callable[[], str]:
    """A reader's ``version`` that never raises: a campaign that cannot be read has its problem
    as its version (so the page refreshes into the unreadable state, and out of it)."""

    def call() -> str:
        try:
            return str(version())
        except data.Unreadable as exc:
            return f"unreadable: {exc}"
        except Exception as exc:  # a feed must outlive any one bad read
            log.warning("live feed: %s", exc)
            return "error"

    return call


def _safe(call: Callable[[], Any], default: Any) -> Any:
    try:
        return call()
    except data.Unreadable:
        return default


def _q(text: str) -> str:
    """A path segment, percent-encoded (a hypothesis id is text from the ledger); the common
    plain id as it is (a chart links thousands of points)."""
    text = str(text)
    if text in (".", ".."):  # a browser would resolve them as path steps
        return "%2E" * len(text)
    return text if _PLAIN.fullmatch(text) else quote(text, safe="")


def _hypothesis_href(slug: str) -> Callable[[str], str]:
    base = f"/c/{_q(slug)}/h/"

    def href(hid: str) -> str:
        return base + _q(hid)

    return href


def _curves(view: data.HypothesisView) -> Markup | None:
    """The probe's curve against the baselines' (dashed), when the read model has them."""
    if not view.curves:
        return None
    mine = (view.id, "hypothesis", "candidate")
    return charts.curves(view.curves, baselines=[k for k in view.curves if k not in mine])


def _diff(text: str | None) -> Markup | None:
    return None if text is None else highlight.diff_html(text)


def _events_query(request: Request) -> dict[str, Any]:
    """The event log's filter (``?agent=``) and page (``?before=ROWID``) from a URL."""
    agent = request.query_params.get("agent") or None
    raw = request.query_params.get("before", "")
    # A rowid, or no page ("²" is a digit to isdigit, not to int).
    before = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None
    pairs = [(k, v) for k, v in (("agent", agent), ("before", before)) if v is not None]
    return {
        "agent": agent,
        "before": before,
        "string": "&".join(f"{k}={quote(str(v), safe='')}" for k, v in pairs),
    }


# -- templates --------------------------------------------------------------------------------
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _num
    env.filters["pct"] = _pct
    env.filters["when"] = _when
    env.filters["short"] = _short
    env.filters["q"] = _q
    env.filters["count"] = _count
    env.globals["quote"] = _q
    return env


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return str(value)


def _pct(value: Any, total: Any) -> str:
    try:
        return f"{100 * float(value) / float(total):.0f}%"
    except (TypeError, ValueError, ZeroDivisionError):
        return "-"


def _when(at: Any) -> str:
    import time

    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(float(at)))
    except (TypeError, ValueError, OverflowError):
        return "-"


def _short(text: Any, limit: int = 160) -> str:
    s = clean("" if text is None else text)
    return s if len(s) <= limit else s[: limit - 1] + "\u2026"


def _count(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "-"
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= size:
            return f"{number / size:.1f}{unit}"
    return f"{number:g}"
