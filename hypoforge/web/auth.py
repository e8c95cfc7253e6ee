"""Who may read and who may steer: the dashboard's access rules, as pure ASGI middleware and
checks on a steering request.

- Reading: with a token required (any address but loopback), every request carries it: the
  ``?token=`` query (answered with an HttpOnly, SameSite=Strict cookie and a redirect to the same
  URL without it), the ``hf_token`` cookie or the ``X-Hypoforge-Token`` header.
- Steering: always the header (on loopback too, where the token is a per-process secret the
  pages carry), a JSON body, and an ``Origin`` (when the browser sends one) equal to the
  server's own: a cookie alone never steers, so another site cannot forge a request.
- Every request: a ``Host`` header naming this server (a page on another name that resolves to
  this address, DNS rebinding, is refused), and the security headers on every response.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from html import escape
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE = "hf_token"
HEADER = "x-hypoforge-token"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARDS = ("", "0.0.0.0", "::")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    # Another site's <img>, <script> or no-cors fetch gets nothing (older browsers too).
    (b"cross-origin-resource-policy", b"same-origin"),
]
# Unless a route says otherwise (a fragment revalidated by its ETag), nothing is stored.
DEFAULT_HEADERS = [(b"cache-control", b"no-store")]

log = logging.getLogger("hypoforge.web")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine's loopback only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Access:
    """The access rules of one server: its token, whether reading needs it, where it listens."""

    token: str
    require_token: bool
    host: str
    port: int

    def token_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def host_ok(self, header: str | None) -> bool:
        """Whether a request's ``Host`` names this server: a loopback name (any port: an SSH
        tunnel may forward another local port), or the address it was bound to. A server bound
        to every address (0.0.0.0) cannot know its names, and there the token guards it."""
        if header is None:
            return False
        name = _host_name(header)
        if name is None:
            return False
        if name in LOOPBACK_NAMES:
            return True
        bound = self.host.strip("[]").lower()
        if bound in WILDCARDS:
            return self.require_token
        return name == bound


def _host_name(value: str) -> str | None:
    """The name in a Host header, lower case, without port or IPv6 brackets; None if garbled."""
    value = value.strip().lower()
    if not value or any(c in value for c in " /\\@?#"):
        return None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        rest = value[end + 1 :]
        if rest and not (rest.startswith(":") and rest[1:].isdigit()):
            return None
        return value[1:end]
    name, _, port = value.partition(":")
    if port and not port.isdigit():
        return None
    return name


def _same_origin(origin: str, host: str | None) -> bool:
    """Whether a request's ``Origin`` is this server as its (already checked) ``Host`` names
    it; either scheme, for a TLS proxy in front that keeps the Host ("null": never)."""
    scheme, sep, netloc = origin.strip().partition("://")
    if not sep or scheme.lower() not in ("http", "https") or host is None:
        return False
    return netloc.lower() == host.strip().lower()


def header(scope: Scope, name: bytes) -> str | None:
    """The first header ``name`` (lower case bytes) of a request, decoded, or None."""
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def cookie(scope: Scope, name: str) -> str | None:
    raw = header(scope, b"cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # a garbled cookie header is no token
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


def query_token(scope: Scope) -> tuple[str | None, str]:
    """The ``token`` query parameter and the query string without it."""
    pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    given = None
    kept = []
    for key, value in pairs:
        if key == "token":
            given = value
        else:
            kept.append((key, value))
    return given, urlencode(kept)


def steer_problem(scope: Scope, access: Access, read_only: bool) -> tuple[int, str] | None:
    """Why a steering request is refused, as (status, one line), or None when it may steer."""
    if read_only:
        return 403, "this dashboard is read-only (hypoforge serve --read-only)"
    if not access.token_ok(header(scope, HEADER.encode())):
        return 403, "steering needs this page's token in the X-Hypoforge-Token header"
    origin = header(scope, b"origin")
    if origin is not None and not _same_origin(origin, header(scope, b"host")):
        return 403, "steering from another site is refused"
    fetch_site = header(scope, b"sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return 403, "steering from another site is refused"
    kind = (header(scope, b"content-type") or "").split(";")[0].strip().lower()
    if kind != "application/json":
        return 415, "steering takes a JSON body (Content-Type: application/json)"
    return None


def cross_site(scope: Scope) -> bool:
    """Whether the browser says another site (or another port of this host: same-site) made
    this request for anything but opening a page: an <img>, a <script>, a fetch, an
    EventSource, a frame. Fetch metadata (Sec-Fetch-*); a request without it (curl, an older
    browser) is judged by the token and the Host alone. A link followed from another site (a
    top-level navigation) still opens the dashboard."""
    site = header(scope, b"sec-fetch-site")
    if site is None or site in ("same-origin", "none"):
        return False
    mode = header(scope, b"sec-fetch-mode")
    dest = header(scope, b"sec-fetch-dest")
    navigation = mode == "navigate" and dest in (None, "document")
    return not (navigation and scope.get("method") in ("GET", "HEAD"))


class Guard:
    """Pure ASGI middleware, outermost: the Host check, the token, the security headers on
    every response, and an error page (never a traceback) for any exception a route lets out."""

    def __init__(self, app: ASGIApp, access: Access, error_page: Callable[[int, str], str]):
        self.app = app
        self.access = access
        self.error_page = error_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self.access.host_ok(header(scope, b"host")):
            await self._page(
                send,
                400,
                "this server does not answer to that host name (a guard against DNS "
                "rebinding): open the URL hypoforge serve printed",
            )
            return
        if cross_site(scope):
            await self._page(
                send,
                403,
                "another site cannot read this dashboard: open it from its own address",
            )
            return
        if self.access.require_token:
            given, rest = query_token(scope)
            if given is not None:
                if not self.access.token_ok(given):
                    await self._page(send, 401, "wrong token: use the URL hypoforge serve printed")
                    return
                await self._redirect(scope, send, rest)
                return
            if not (
                self.access.token_ok(header(scope, HEADER.encode()))
                or self.access.token_ok(cookie(scope, COOKIE))
            ):
                await self._page(
                    send,
                    401,
                    "this dashboard needs its token: open the URL "
                    "hypoforge serve printed (with ?token=...)",
                )
                return
        started = False

        async def guarded(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = _with_security(message.get("headers", []))
            await send(message)

        try:
            await self.app(scope, receive, guarded)
        except Exception:
            log.exception("error answering %s", scope.get("path"))
            if not started:
                await self._page(
                    send, 500, "something went wrong on this page; the server log has the details"
                )

    async def _page(self, send: Send, status: int, message: str) -> None:
        body = self.error_page(status, message).encode()
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        headers.append((b"content-length", str(len(body)).encode()))
        await send(
            {"type": "http.response.start", "status": status, "headers": _with_security(headers)}
        )
        await send({"type": "http.response.body", "body": body})

    async def _redirect(self, scope: Scope, send: Send, rest: str) -> None:
        """Set the token's cookie and send the browser to the same URL without the token (it
        leaves the address bar and the history)."""
        raw = scope.get("raw_path") or scope["path"].encode("utf-8")
        # Never //host (nor /\\host, which a browser reads as //host): no open redirect.
        target = "/" + raw.decode("latin-1").lstrip("/\\")
        target += f"?{rest}" if rest else ""
        value = f"{COOKIE}={self.access.token}; HttpOnly; SameSite=Strict; Path=/"
        if header(scope, b"sec-fetch-site") in ("cross-site", "same-site"):
            # A link on another site (a chat, a web mail): a browser does not send a Strict
            # cookie on the redirect of a navigation another site began, so the redirect would
            # land on "needs its token". A page that moves on by itself (a meta refresh: no
            # script) makes the next request this site's own, which carries the cookie.
            body = _moving_on(target).encode()
            headers = [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"set-cookie", value.encode()),
                (b"content-length", str(len(body)).encode()),
            ]
            await send(
                {"type": "http.response.start", "status": 200, "headers": _with_security(headers)}
            )
            await send({"type": "http.response.body", "body": body})
            return
        headers = [
            (b"location", target.encode("latin-1", "replace")),
            (b"set-cookie", value.encode()),
            (b"content-length", b"0"),
        ]
        await send(
            {"type": "http.response.start", "status": 303, "headers": _with_security(headers)}
        )
        await send({"type": "http.response.body", "body": b""})


def _moving_on(target: str) -> str:
    """A page that opens ``target`` (a path on this server) at once, without script."""
    where = escape(target, quote=True)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<meta http-equiv='refresh' content='0; url={where}'>"
        "<title>hypoforge</title><link rel='stylesheet' href='/static/style.css'></head>"
        f"<body><main><p><a href='{where}'>open the dashboard</a></p></main></body></html>"
    )


def _with_security(headers: Any) -> list[tuple[bytes, bytes]]:
    names = {name for name, _ in SECURITY_HEADERS}
    kept = [(k, v) for k, v in headers if k.lower() not in names]
    have = {k.lower() for k, _ in kept}
    return kept + SECURITY_HEADERS + [(k, v) for k, v in DEFAULT_HEADERS if k not in have]


def plain_error_page(status: int, message: str) -> str:
    """A bare error page, for when the templates themselves cannot be used."""
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>hypoforge: error</title>"
        "<link rel='stylesheet' href='/static/style.css'></head><body><main>"
        f"<h1>{status}</h1><p class='problem'>{escape(message)}</p>"
        "<p><a href='/'>all campaigns</a></p></main></body></html>"
    )
