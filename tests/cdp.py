"""A small driver for Debian's chromium over the DevTools protocol, for the dashboard's browser
test and the README's screenshot. Nothing downloads a browser: it runs ``/usr/bin/chromium``
(installed by ``make setup``, scripts/ensure_chromium.sh) headless with a throwaway profile.

    with Browser() as page:
        page.navigate("http://127.0.0.1:8765/")
        page.wait_for("document.querySelector('[data-part=queue] tr')")
        page.click("button[data-action=veto]")
        page.screenshot(tmp / "page.png")
        assert page.errors == []

``errors`` collects what a careful page never produces: console errors, uncaught exceptions,
failed loads and Content-Security-Policy violations (a listener injected before any page script
turns each ``securitypolicyviolation`` into a console error, and chromium's own "Refused to ..."
messages arrive on the Log domain). JavaScript dialogs (``confirm``) are accepted and recorded in
``dialogs``. Every wait has a timeout and fails with what it waited for.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-proxy-server",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
)

# Runs in every document before its own scripts (DevTools injects it; the page's CSP does not
# apply to it): a CSP violation becomes a console error that the driver collects.
CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => {
  console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline')
    + ' at ' + e.sourceFile + ':' + e.lineNumber);
});
"""


class CDPError(RuntimeError):
    """The browser or a page reported an error (a failed command, a JavaScript exception)."""


class Browser:
    """One headless chromium with one page; a context manager (``close`` kills the browser and
    removes its profile)."""

    def __init__(
        self,
        width: int = 1280,
        height: int = 900,
        timeout: float = 30.0,
        binary: str = CHROMIUM,
    ) -> None:
        self.width, self.height, self.timeout = width, height, timeout
        self.binary = binary
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self._ids = itertools.count(1)
        self._loads = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._profile: Path | None = None
        self._ws: ClientConnection | None = None
        self._sockets = contextlib.ExitStack()

    # -- life -------------------------------------------------------------------------------------
    def __enter__(self) -> Browser:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        if not Path(self.binary).is_file():
            raise CDPError(f"{self.binary} is missing: make setup installs Debian's chromium")
        self._profile = Path(tempfile.mkdtemp(prefix="hf-chromium-"))
        command = [
            self.binary,
            *FLAGS,
            f"--window-size={self.width},{self.height}",
            f"--user-data-dir={self._profile}",
            "about:blank",
        ]
        self._log = (self._profile / "chromium.log").open("wb")
        # A session of its own, so close() can end the browser and every helper process it forked.
        self._proc = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        port, path = self._devtools_address()
        with self._connect(f"ws://127.0.0.1:{port}{path}") as browser:
            target = self._call(browser, "Target.createTarget", {"url": "about:blank"})
        page = self._connect(f"ws://127.0.0.1:{port}/devtools/page/{target['targetId']}")
        self._ws = self._sockets.enter_context(page)
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")
        self.send("Page.addScriptToEvaluateOnNewDocument", {"source": CSP_LISTENER})
        self._viewport(self.height)  # exactly width x height (the window's frame takes some)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # the browser may already be gone
            self._sockets.close()
        self._ws = None
        if self._proc is not None:
            if self._proc.poll() is None:
                try:
                    os.killpg(self._proc.pid, signal.SIGTERM)
                    self._proc.wait(5)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass
            with contextlib.suppress(ProcessLookupError):  # helpers left in its session
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
            self._proc = None
            self._log.close()
        if self._profile is not None:
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None

    def _devtools_address(self) -> tuple[int, str]:
        """The port and browser path chromium writes to DevToolsActivePort once it listens."""
        assert self._proc is not None and self._profile is not None
        active = self._profile / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                log = (self._profile / "chromium.log").read_text(errors="replace")[-2000:]
                raise CDPError(f"chromium exited with {self._proc.returncode}:\n{log}")
            lines = active.read_text().split() if active.exists() else []
            if len(lines) >= 2:
                return int(lines[0]), lines[1]
            time.sleep(0.05)
        raise CDPError(f"chromium did not open its DevTools port in {self.timeout:.0f} s")

    @staticmethod
    def _connect(url: str) -> ClientConnection:
        # No proxy (the browser is on loopback), no cap on a message (screenshots are big), no
        # pings (a busy browser is not a dead one; every read has its own timeout).
        return connect(url, max_size=None, open_timeout=10, proxy=None, ping_interval=None)

    # -- the protocol -----------------------------------------------------------------------------
    def _call(
        self, ws: ClientConnection, method: str, params: dict | None = None, timeout: float = 0
    ) -> dict:
        """Send one command on ``ws`` and read until its answer, handling the events between."""
        cid = next(self._ids)
        ws.send(json.dumps({"id": cid, "method": method, "params": params or {}}))
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            message = self._receive(ws, deadline, f"the answer to {method}")
            if message.get("id") == cid:
                if "error" in message:
                    raise CDPError(f"{method}: {message['error'].get('message', message['error'])}")
                return dict(message.get("result", {}))

    def _receive(self, ws: ClientConnection, deadline: float, what: str) -> dict:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"timed out waiting for {what}")
        try:
            message = json.loads(ws.recv(timeout=left))
        except TimeoutError:
            raise TimeoutError(f"timed out waiting for {what}") from None
        if "method" in message:
            self._event(message["method"], message.get("params", {}))
        return dict(message)

    def send(self, method: str, params: dict | None = None, timeout: float = 0) -> dict:
        """One DevTools command on the page; its result."""
        if self._ws is None:
            raise CDPError("the browser is not started (use Browser as a context manager)")
        return self._call(self._ws, method, params, timeout)

    def _pump(self, seconds: float) -> None:
        """Handle the events that arrive in the next ``seconds``."""
        assert self._ws is not None
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self._receive(self._ws, deadline, "events")
            except TimeoutError:
                return

    def _event(self, method: str, params: dict) -> None:
        if method == "Page.loadEventFired":
            self._loads += 1
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            text = " ".join(_remote_text(a) for a in params.get("args", []))
            self.errors.append(f"console.{params['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.errors.append(f"uncaught: {_exception_text(details)}")
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            # The browser asks for /favicon.ico on its own; the page did not ask for it.
            favicon = entry.get("url", "").endswith("/favicon.ico")
            if entry.get("level") == "error" and not favicon:
                where = f" ({entry['url']})" if entry.get("url") else ""
                self.errors.append(f"{entry.get('source', 'log')}: {entry.get('text')}{where}")
        elif method == "Page.javascriptDialogOpening":
            self.dialogs.append(f"{params.get('type')}: {params.get('message')}")
            assert self._ws is not None
            # Answered without waiting for the reply: we are inside another command's read loop.
            cid = next(self._ids)
            command = {"id": cid, "method": "Page.handleJavaScriptDialog", "params": {}}
            command["params"] = {"accept": True, "promptText": ""}
            self._ws.send(json.dumps(command))

    # -- what tests use ---------------------------------------------------------------------------
    @property
    def loads(self) -> int:
        """Load events seen so far: unchanged while a page updates itself without a reload."""
        return self._loads

    def navigate(self, url: str, timeout: float = 0) -> None:
        """Open ``url`` and wait for its load event; raises on a network error."""
        loads = self._loads
        result = self.send("Page.navigate", {"url": url}, timeout)
        if result.get("errorText"):
            raise CDPError(f"could not open {url}: {result['errorText']}")
        assert self._ws is not None
        deadline = time.monotonic() + (timeout or self.timeout)
        while self._loads == loads:
            self._receive(self._ws, deadline, f"{url} to load")

    def evaluate(self, expression: str, timeout: float = 0) -> Any:
        """The value of a JavaScript expression in the page (promises awaited, results as JSON);
        a thrown exception raises CDPError with its text."""
        params = {"expression": expression, "returnByValue": True, "awaitPromise": True}
        params["userGesture"] = True
        result = self.send("Runtime.evaluate", params, timeout)
        if "exceptionDetails" in result:
            text = _exception_text(result["exceptionDetails"])
            raise CDPError(f"{text}\n  in: {expression}")
        return result.get("result", {}).get("value")

    def wait_for(self, condition: str, timeout: float = 0, interval: float = 0.1) -> Any:
        """Poll the JavaScript ``condition`` until it is truthy; return its value."""
        deadline = time.monotonic() + (timeout or self.timeout)
        value = None
        while time.monotonic() < deadline:
            value = self.evaluate(condition)
            if value:
                return value
            self._pump(interval)
        raise TimeoutError(
            f"timed out after {timeout or self.timeout:.0f} s waiting for: {condition}\n"
            f"  last value: {value!r}; page errors: {self.errors}"
        )

    def _element(self, selector: str) -> str:
        """A JavaScript expression for ``selector``'s first element, throwing when there is none."""
        quoted = json.dumps(selector)
        return (
            f"(() => {{ const el = document.querySelector({quoted}); "
            f"if (!el) throw new Error('no element matches ' + {quoted}); return el; }})()"
        )

    def click(self, selector: str) -> None:
        """A real mouse click (pressed and released) at the middle of ``selector``'s element."""
        box = self.evaluate(
            f"(() => {{ const el = {self._element(selector)}; "
            "el.scrollIntoView({block: 'center'}); const r = el.getBoundingClientRect(); "
            "return [r.x + r.width / 2, r.y + r.height / 2, r.width * r.height]; })()"
        )
        x, y, area = box
        if not area:
            raise CDPError(f"{selector} is not visible (its box is empty)")
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            event = {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}
            if kind == "mouseMoved":
                event = {"type": kind, "x": x, "y": y}
            self.send("Input.dispatchMouseEvent", event)

    def type(self, selector: str, text: str) -> None:
        """Focus ``selector``'s field, clear it and type ``text`` (input events as a user's)."""
        self.evaluate(
            f"(() => {{ const el = {self._element(selector)}; el.focus(); el.value = ''; "
            "el.dispatchEvent(new Event('input', {bubbles: true})); })()"
        )
        self.send("Input.insertText", {"text": text})

    def select(self, selector: str, value: str) -> None:
        """Choose ``value`` in a ``<select>`` and fire its change event."""
        found = self.evaluate(
            f"(() => {{ const el = {self._element(selector)}; "
            f"if (![...el.options].some(o => o.value === {json.dumps(value)})) return false; "
            f"el.value = {json.dumps(value)}; "
            "el.dispatchEvent(new Event('input', {bubbles: true})); "
            "el.dispatchEvent(new Event('change', {bubbles: true})); return true; })()"
        )
        if not found:
            raise CDPError(f"{selector} has no option {value!r}")

    def _viewport(self, height: int) -> None:
        metrics = {"width": self.width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        self.send("Emulation.setDeviceMetricsOverride", metrics)

    def screenshot(self, path: Path, full_page: bool = True) -> Path:
        """Write a PNG of the page: the whole page, or what the window shows."""
        if full_page:
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            self._viewport(max(self.height, int(size["height"])))
        try:
            data = self.send("Page.captureScreenshot", {"format": "png"}, timeout=60)["data"]
        finally:
            if full_page:
                self._viewport(self.height)
        path = Path(path)
        path.write_bytes(base64.b64decode(data))
        return path


@contextlib.contextmanager
def serve(make_app: Callable[[int], Any]) -> Iterator[str]:
    """Serve the ASGI app ``make_app(port)`` on a free loopback port with uvicorn from a thread
    (the app is told its port: the dashboard checks Host headers against it); yields its base
    URL, and stops the server on the way out."""
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(make_app(port), log_level="warning", timeout_graceful_shutdown=2)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise CDPError("uvicorn did not start")
            time.sleep(0.05)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(10)


def _remote_text(arg: dict) -> str:
    if "value" in arg:
        return str(arg["value"])
    return str(arg.get("description", arg.get("type", "?")))


def _exception_text(details: dict) -> str:
    exception = details.get("exception") or {}
    text = exception.get("description") or details.get("text") or "an exception"
    where = details.get("url") or ""
    if where:
        text += f" ({where}:{details.get('lineNumber', 0) + 1})"
    return str(text)


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG from its header; raises ValueError when it is not a PNG."""
    head = Path(path).read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise ValueError(f"{path} is not a PNG")
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
