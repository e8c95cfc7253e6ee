"""The DevTools driver of the browser tests (tests/cdp.py) against Debian's chromium and a page
served from this process: what it reads, clicks and types, the errors and CSP violations it
collects, its screenshot, and that closing leaves no browser and no profile behind."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.cdp import Browser, CDPError, png_size

pytestmark = pytest.mark.slow

PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>t</title>
<script src="/app.js"></script></head>
<body data-clicks="0"><input id="name"><button id="go">go</button><p id="out"></p>
<div class="tall"></div></body></html>"""
SCRIPT = b"""document.addEventListener('DOMContentLoaded', () => {
  const field = document.getElementById('name');
  field.addEventListener('input', () => {
    document.getElementById('out').textContent = field.value;
  });
  document.getElementById('go').addEventListener('click', () => {
    document.body.dataset.clicks = String(Number(document.body.dataset.clicks) + 1);
  });
});"""
# An inline script and an inline style attribute: both refused by the page's policy.
BAD = b"""<!doctype html><html><body><script>document.title = 'ran'</script>
<p style="color: red">x</p></body></html>"""
CSP = "default-src 'self'; script-src 'self'; style-src 'self'"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body, kind = {
            "/": (PAGE, "text/html"),
            "/app.js": (SCRIPT, "text/javascript"),
            "/bad": (BAD, "text/html"),
            "/broken": (b'<!doctype html><img src="/missing.png" alt="">', "text/html"),
        }.get(self.path, (b"", ""))
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", kind or "text/plain")
        self.send_header("Content-Security-Policy", CSP)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class Site(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A browser that closes its connection (a reset) is no error of the page's."""


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = Site(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_reads_clicks_types_and_screenshots(site, tmp_path):
    with Browser(width=800, height=600) as page:
        page.navigate(site + "/")
        assert page.evaluate("document.title") == "t"
        assert page.evaluate("Promise.resolve(6 * 7)") == 42  # promises are awaited
        page.click("#go")
        page.click("#go")
        assert page.wait_for("document.body.dataset.clicks === '2' && 'two'") == "two"
        page.type("#name", "<b>ada</b>")
        assert page.evaluate("document.getElementById('out').textContent") == "<b>ada</b>"
        with pytest.raises(CDPError, match="boom"):
            page.evaluate("(() => { throw new Error('boom') })()")
        with pytest.raises(CDPError, match="no element matches #missing"):
            page.click("#missing")
        with pytest.raises(TimeoutError, match="waiting for: false"):
            page.wait_for("false", timeout=0.3)
        shot = page.screenshot(tmp_path / "page.png")
        assert png_size(shot) == (800, 600)
        assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
        assert page.errors == []


def test_collects_csp_violations_and_failed_loads(site):
    with Browser() as page:
        page.navigate(site + "/bad")
        page.wait_for("true")  # lets the events in
        assert page.evaluate("document.title") != "ran"  # the inline script was refused
        violations = [e for e in page.errors if "CSP violation" in e]
        assert any("script-src" in e for e in violations), page.errors
        assert any("style-src" in e for e in violations), page.errors
        page.errors.clear()
        page.navigate(site + "/broken")
        page.wait_for("true")
        assert any("404" in e and "missing.png" in e for e in page.errors), page.errors
        with pytest.raises(CDPError, match="could not open"):
            page.navigate(site + "/nothing-here")  # an empty 404 is no page


def test_close_ends_the_browser_and_removes_its_profile():
    page = Browser()
    with page:
        assert page._proc is not None and page._profile is not None
        pid, profile = page._proc.pid, page._profile
        assert (profile / "DevToolsActivePort").exists()
    assert not profile.exists()
    deadline = time.monotonic() + 10  # killed helpers linger as zombies until init reaps them
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            break  # the browser and every helper in its session are gone
        time.sleep(0.1)
    else:
        pytest.fail("chromium's processes outlived close()")


def test_a_missing_browser_is_a_clear_error(tmp_path):
    with pytest.raises(CDPError, match="make setup installs"), Browser(binary=str(tmp_path)):
        pass
    with pytest.raises(ValueError, match="not a PNG"):
        (tmp_path / "x.png").write_bytes(b"GIF89a" + bytes(30))
        png_size(Path(tmp_path / "x.png"))
