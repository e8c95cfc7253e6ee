"""The dashboard's pages, fragments, files and live feed over real campaign folders, the error
pages, and ``hypoforge serve``'s command line."""

from __future__ import annotations

import json
import socket
import time

import anyio
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from hypoforge import cli
from hypoforge.cli import serve
from hypoforge.web import app as web_app
from hypoforge.web import data
from store.ledger import Ledger
from tests.unit.web.serving import (
    BASE,
    TOKEN,
    app_for,
    asgi_scope,
    client_for,
    edit_campaign,
    edit_task,
    finish,
    make_campaign,
    served_campaign,
)


@pytest.fixture
def camp(tmp_path):
    return served_campaign(tmp_path)


def test_the_campaigns_page_lists_state_budgets_and_bests(camp):
    _folder, cid, client = camp
    page = client.get("/")
    assert page.status_code == 200
    html = page.text
    assert f'data-campaign="{cid}"' in html and f'href="/c/{cid}"' in html
    assert "activation" in html and "state-stopped" in html  # no heartbeat: not running
    assert '<progress max="20" value="4">' in html  # 4 of 20 proposals
    assert f'href="/c/{cid}/h/r0-0">r0-0</a> 0.750' in html  # best screened
    assert 'data-part="campaigns"' in html and 'data-live="/live"' in html
    assert client.get("/part/campaigns").text.count("data-campaign=") == 1


def test_the_campaigns_page_is_rescanned_on_each_request(tmp_path):
    make_campaign(tmp_path, "one")
    client = client_for([tmp_path])
    assert client.get("/").text.count("data-campaign=") == 1
    make_campaign(tmp_path, "two")
    assert client.get("/").text.count("data-campaign=") == 2


def test_a_campaign_page_has_every_part_and_the_controls(camp):
    _folder, cid, client = camp
    html = client.get(f"/c/{cid}").text
    for name in web_app.PARTS:
        assert f'data-part="{name}" data-src="/c/{cid}/part/{name}"' in html, name
    assert 'data-hypothesis="r0-0"' in html  # the leaderboard's row
    assert 'data-action="veto" data-hypothesis="r0-1"' in html  # the queue's buttons
    assert 'data-action="approve" data-hypothesis="r1-0"' in html
    assert 'id="directive-form"' in html and 'name="agent"' in html and 'name="text"' in html
    assert 'id="steer-status"' in html and 'data-updates="0"' in html
    for action in ("pause", "resume", "stop"):
        assert f'data-action="{action}"' in html
    assert 'id="budget-form"' in html
    assert f'data-live="/c/{cid}/live"' in html


def test_a_finished_campaign_shows_no_controls(camp):
    folder, cid, client = camp
    finish(folder, cid)
    html = client.get(f"/c/{cid}").text
    assert "state-finished" in html and 'id="directive-form"' not in html
    assert "This campaign has ended (proposal budget reached (4/4))" in html


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("summary", ["state-stopped", "best screened", "r0-0"]),
        ("leaderboard", ['data-hypothesis="r0-0"', "one-pass", "0.750", "[0.65, 0.85]"]),
        ("queue", ['data-hypothesis="r0-1"', 'data-hypothesis="r1-0"', "coded", "probed"]),
        ("directives", ["Standing directives", "None."]),
        ("charts", ["<svg", "Win rate over time", "Spend over time"]),
        ("lineage", ["<svg", "/c/{cid}/h/r1-0"]),
        ("notrun", ["rejected", "r0-2", "the same as ReLU"]),
        ("events", ["orchestrator", "start", "critic", "verdict"]),
    ],
)
def test_each_part_renders(camp, name, expected):
    _folder, cid, client = camp
    reply = client.get(f"/c/{cid}/part/{name}")
    assert reply.status_code == 200
    assert "<html" not in reply.text  # a fragment, not a page
    for text in expected:
        assert text.replace("{cid}", cid) in reply.text, (name, text)


def test_a_running_campaign_waiting_for_approval_says_so_until_the_page_answers(camp):
    from hypoforge.heartbeat import Heartbeat
    from tests.unit.web.serving import post

    folder, cid, client = camp
    ledger = Ledger(folder / "ledger.sqlite")
    ledger.log(cid, "orchestrator", "wait", {"kind": "approve", "hypothesis": "r0-1"})
    ledger.close()
    with Heartbeat(folder, workers=3, beat=60) as beat:
        beat.update("sandbox-0", "screening r0-0")
        beat.update("proposer", "writing round 2")
        summary = client.get(f"/c/{cid}/part/summary").text
        assert "state-waiting" in summary and "r0-1 awaits your approval" in summary
        assert "writing round 2" in summary and "1 / 3" in summary  # workers busy
        queue = client.get(f"/c/{cid}/part/queue").text
        assert "The campaign waits for a decision on" in queue and 'href="/c/' in queue
        assert "state-waiting" in client.get("/part/campaigns").text
        assert post(client, cid, "decide", {"hypothesis": "r0-1", "decision": "approve"}).json()[
            "ok"
        ]
        assert "state-running" in client.get(f"/c/{cid}/part/summary").text
        assert "waits for a decision" not in client.get(f"/c/{cid}/part/queue").text


def test_an_unchanged_part_costs_a_304(camp):
    folder, cid, client = camp
    first = client.get(f"/c/{cid}/part/events")
    tag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    again = client.get(f"/c/{cid}/part/events", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["content-security-policy"].startswith("default-src 'self'")
    finish(folder, cid)
    changed = client.get(f"/c/{cid}/part/events", headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag
    listing = client.get("/part/campaigns")
    assert (
        client.get(
            "/part/campaigns", headers={"If-None-Match": listing.headers["etag"]}
        ).status_code
        == 304
    )
    assert client.get(f"/c/{cid}").headers["cache-control"] == "no-store"  # pages: never stored


def test_an_unknown_part_is_a_404_page(camp):
    _folder, cid, client = camp
    reply = client.get(f"/c/{cid}/part/secrets")
    assert reply.status_code == 404 and "no part &#39;secrets&#39;" in reply.text


def test_the_event_log_filters_by_agent_and_pages_by_rowid(camp):
    folder, cid, client = camp
    ledger = Ledger(folder / "ledger.sqlite")
    ledger.db.execute("BEGIN")  # one transaction: 450 synchronous commits take a second
    for i in range(450):
        ledger.log(cid, "analyst", "finding", {"n": i})
    ledger.db.execute("COMMIT")
    ledger.close()
    only = client.get(f"/c/{cid}/part/events?agent=critic").text
    assert only.count("data-event=") == 4 and "analyst" not in only.split("</form>")[1]
    newest = client.get(f"/c/{cid}/part/events").text
    assert newest.count("data-event=") == 200
    assert "&#34;n&#34;: 449" in newest
    older = newest.split("before=")[1].split('"')[0]
    page2 = client.get(f"/c/{cid}/part/events?before={older}").text
    assert page2.count("data-event=") == 200 and "&#34;n&#34;: 249" in page2
    assert "&#34;n&#34;: 449" not in page2
    # The page itself carries the filter into its fragment's URL (kept on live refresh).
    html = client.get(f"/c/{cid}?agent=critic").text
    assert f'data-src="/c/{cid}/part/events?agent=critic"' in html


def test_a_hypothesis_page_shows_everything_it_knows(camp):
    _folder, cid, client = camp
    reply = client.get(f"/c/{cid}/h/r0-0")
    assert reply.status_code == 200
    html = reply.text
    for text in (
        "a smooth gate #r0-0",  # the idea
        'class="highlight"',  # the code, highlighted
        "looks promising",  # the critic's reasons
        "0.70",  # its p(win)
        "0.750",  # the measurement
        "iris",  # per dataset
        "iris-s1",  # per split
        "hypoforge reproduce",
        f'href="/c/{cid}/h/r1-0"',  # its child
    ):
        assert text in html, text
    child = client.get(f"/c/{cid}/h/r1-0").text
    assert f'href="/c/{cid}/h/r0-0"' in child  # its parent
    assert f'href="/compare?a={cid}/r0-0&amp;b={cid}/r1-0"' in child


def test_an_edit_tasks_hypothesis_shows_its_diffs_highlighted_and_escaped(tmp_path):
    script = "x = 1\n# >>> EDIT model\ndef model():\n    return 1\n# <<< EDIT model\n"
    folder, cid = edit_campaign(tmp_path, edit_task(tmp_path / "task", script))
    first = "<<<<<<< SEARCH\n    return 1\n=======\n    return 2\n>>>>>>> REPLACE\n"
    second = (
        "<<<<<<< SEARCH\n    return 2\n=======\n    return '</pre><script>alert(1)</script>'\n"
        ">>>>>>> REPLACE\n"
    )
    (folder / "hypotheses" / "r0-0.py").write_text(first)
    (folder / "hypotheses" / "r1-0.py").write_text(first + second)
    html = client_for([tmp_path / "campaigns"]).get(f"/c/{cid}/h/r1-0").text
    assert "Against its parent" in html and "Against the template" in html
    assert html.count('class="highlight"') == 3  # the code and two diffs
    assert '<span class="gd">-    return 2</span>' in html  # a deleted line, highlighted
    assert "<script>alert" not in html and "&lt;/pre&gt;&lt;script&gt;" in html


def test_an_unknown_hypothesis_or_campaign_is_a_404_page(camp):
    _folder, cid, client = camp
    missing = client.get(f"/c/{cid}/h/r9-9")
    assert missing.status_code == 404 and "no hypothesis &#39;r9-9&#39;" in missing.text
    nowhere = client.get("/c/nope")
    assert (
        nowhere.status_code == 404 and "no campaign &#39;nope&#39; is served here" in nowhere.text
    )
    assert client.get("/no/such/page").status_code == 404
    for reply in (missing, nowhere):
        assert "Traceback" not in reply.text and "<!doctype html>" in reply.text


def test_compare_two_campaigns_and_two_hypotheses(tmp_path):
    _, a = make_campaign(tmp_path, "one", idea="first idea")
    _, b = make_campaign(tmp_path, "two", idea="second idea")
    client = client_for([tmp_path])
    form = client.get("/compare").text
    assert f'<option value="{a}">' in form and f'<option value="{b}">' in form
    sides = client.get("/compare", params={"a": a, "b": b}).text
    assert "first idea #r0-0" in sides and "second idea #r0-0" in sides
    pair = client.get("/compare", params={"a": f"{a}/r0-0", "b": f"{b}/r1-0"}).text
    assert "first idea #r0-0" in pair and "second idea #r1-0" in pair
    assert "no difference" in pair  # the same code
    mixed = client.get("/compare", params={"a": a, "b": f"{b}/r0-0"})
    assert mixed.status_code == 400


def test_report_files_are_served_only_as_listed(camp):
    folder, cid, client = camp
    (folder / "report").mkdir()
    (folder / "report" / "winrate.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    (folder / "report" / "notes.txt").write_text("not a figure")
    (folder / "paper").mkdir()
    (folder / "paper" / "paper.pdf").write_bytes(b"%PDF-1.4 fake")
    page = client.get(f"/c/{cid}").text
    assert f'href="/c/{cid}/files/winrate.png"' in page
    assert f'href="/c/{cid}/files/paper.pdf"' in page
    png = client.get(f"/c/{cid}/files/winrate.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    assert png.headers["content-type"] == "image/png"
    pdf = client.get(f"/c/{cid}/files/paper.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    for name in ("notes.txt", "../campaign.json", "..%2Fcampaign.json", "ledger.sqlite"):
        assert client.get(f"/c/{cid}/files/{name}").status_code == 404, name


def test_a_damaged_ledger_shows_a_clear_state(camp):
    folder, cid, client = camp
    (folder / "ledger.sqlite").write_bytes(b"\x00garbage" * 512)
    for suffix in ("-wal", "-shm"):
        (folder / f"ledger.sqlite{suffix}").unlink(missing_ok=True)
    page = client.get(f"/c/{cid}")
    assert page.status_code == 200
    assert "state-unreadable" in page.text and "ledger" in page.text
    assert "Traceback" not in page.text
    listing = client.get("/")
    assert listing.status_code == 200 and "state-unreadable" in listing.text
    part = client.get(f"/c/{cid}/part/leaderboard")
    assert part.status_code == 200 and 'class="problem"' in part.text
    hyp = client.get(f"/c/{cid}/h/r0-0")
    assert hyp.status_code == 200 and "state-unreadable" in hyp.text


def test_a_damaged_campaign_json_is_listed_by_its_folder_name(tmp_path):
    folder, _cid = make_campaign(tmp_path)
    (folder / "campaign.json").write_text("{half a file")
    client = client_for([tmp_path])
    assert "campaign.json is damaged" in client.get("/").text
    page = client.get("/c/camp")
    assert page.status_code == 200 and "campaign.json is damaged" in page.text


def test_an_exception_inside_a_page_is_the_error_page_without_a_traceback(camp, monkeypatch):
    _folder, cid, client = camp

    def boom(self, *args, **kwargs):
        raise RuntimeError("secret internals /etc/hypoforge")

    monkeypatch.setattr(data.CampaignReader, "leaderboard", boom)
    reply = client.get(f"/c/{cid}")
    assert reply.status_code == 500
    assert "something went wrong" in reply.text
    for leak in ("Traceback", "RuntimeError", "secret internals"):
        assert leak not in reply.text
    assert reply.headers["content-security-policy"].startswith("default-src 'self'")


def test_pygments_css_and_the_static_assets_are_served(camp):
    _folder, _cid, client = camp
    css = client.get("/pygments.css")
    assert css.headers["content-type"].startswith("text/css") and ".highlight" in css.text
    js = client.get("/static/app.js")
    assert js.status_code == 200 and "EventSource" in js.text
    assert client.get("/static/style.css").status_code == 200


def test_pages_carry_no_inline_script_or_style(camp):
    _folder, cid, client = camp
    for url in ("/", f"/c/{cid}", f"/c/{cid}/h/r0-0", "/compare", "/nope"):
        html = client.get(url).text
        assert "<script>" not in html and " style=" not in html and " on" + "click" not in html


# -- the live feed ------------------------------------------------------------------------------
def _feed_events(app, path, while_open):
    """Run the app on a feed at ``path``: call ``while_open(next_chunk)`` with a function that
    returns the next body chunk, then disconnect; return whether the app then returned."""

    async def main() -> bool:
        sender, chunks = anyio.create_memory_object_stream[dict](100)
        gone = anyio.Event()

        async def receive() -> dict:
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            await sender.send(message)

        async def next_chunk() -> str:
            with anyio.fail_after(5):
                while True:
                    message = await chunks.receive()
                    if message["type"] == "http.response.start":
                        assert message["status"] == 200
                        continue
                    return message.get("body", b"").decode()

        done = anyio.Event()

        async def serve() -> None:
            await app(asgi_scope(path), receive, send)
            done.set()

        async with sender, chunks, anyio.create_task_group() as tg:
            tg.start_soon(serve)
            await while_open(next_chunk)
            gone.set()
            with anyio.move_on_after(3):
                await done.wait()
            closed = done.is_set()
            tg.cancel_scope.cancel()
        return closed

    return anyio.run(main)


def _feed_app(tmp_path, keepalive: float):
    """A campaign under ``tmp_path`` and the app on it, polling every 50 ms and sending a
    keepalive after ``keepalive`` seconds of quiet: (folder, campaign id, app)."""
    folder, cid = make_campaign(tmp_path)
    return folder, cid, app_for([tmp_path], poll=0.05, keepalive=keepalive)


@pytest.mark.slow
def test_the_live_feed_says_hello_then_change_and_closes_when_the_client_goes(tmp_path):
    folder, cid, app = _feed_app(tmp_path, keepalive=0.3)
    seen: list[str] = []

    async def while_open(next_chunk) -> None:
        hello = await next_chunk()
        seen.append(hello)
        ledger = Ledger(folder / "ledger.sqlite")
        ledger.log(cid, "critic", "verdict", {"id": "r2-0"})
        ledger.close()
        change = await next_chunk()
        while change.startswith(":"):
            change = await next_chunk()
        seen.append(change)
        keepalive = await next_chunk()  # nothing changes: a comment after 0.3 s
        seen.append(keepalive)

    closed = _feed_events(app, f"/c/{cid}/live", while_open)
    hello, change, keepalive = seen
    assert hello.startswith('retry: 3000\nevent: hello\ndata: {"version": ')
    assert change.startswith("event: change\ndata: ")
    assert (
        json.loads(change.split("data: ")[1])["version"]
        != json.loads(hello.split("data: ")[1])["version"]
    )
    assert keepalive == ": keepalive\n\n"
    assert closed, "the feed kept running after the client went away"
    assert app.state.dashboard.open_feeds == 0


def test_the_live_feeds_end_when_the_server_shuts_down(tmp_path):
    _folder, _cid, app = _feed_app(tmp_path, keepalive=60)
    seen: list[str] = []

    async def while_open(next_chunk) -> None:
        seen.append(await next_chunk())
        app.state.dashboard.closing = True  # what `hypoforge serve` does on Ctrl-C
        seen.append(await next_chunk())

    assert _feed_events(app, "/live", while_open)
    assert "event: hello" in seen[0] and seen[1] == ""  # the stream's end
    assert app.state.dashboard.open_feeds == 0


@pytest.mark.slow
def test_a_live_feed_on_a_real_server_ends_when_the_browser_goes(tmp_path):
    import httpx

    from tests.cdp import serve as serving

    _, cid = make_campaign(tmp_path)
    apps = []

    def make(port):
        apps.append(app_for([tmp_path], port=port, poll=0.05, keepalive=60))
        return apps[0]

    with serving(make) as base, httpx.Client(base_url=base, timeout=5) as http:
        dashboard = apps[0].state.dashboard
        for _ in range(3):  # a page opened and closed three times
            with http.stream("GET", f"/c/{cid}/live") as feed:
                assert feed.headers["content-type"].startswith("text/event-stream")
                lines = feed.iter_lines()
                assert next(lines) == "retry: 3000" and next(lines) == "event: hello"
                assert dashboard.open_feeds >= 1
        deadline = time.monotonic() + 5
        while dashboard.open_feeds and time.monotonic() < deadline:
            time.sleep(0.05)
        assert dashboard.open_feeds == 0


@pytest.mark.parametrize("page", ["/", "/c/{cid}"])
def test_a_page_carries_the_version_its_feed_starts_from(camp, page):
    """The page's data-version is the feed's first word: a change between the page's render
    and the feed's start is seen (the page refreshes at once), none is invented."""
    _folder, cid, client = camp
    html = client.get(page.format(cid=cid)).text
    version = html.split('data-version="')[1].split('"')[0]
    feed = "/live" if page == "/" else f"/c/{cid}/live"
    with client.stream("GET", feed) as stream:
        lines = stream.iter_lines()
        assert [next(lines), next(lines)] == ["retry: 3000", "event: hello"]
        hello = json.loads(next(lines).removeprefix("data: "))["version"]
    assert hello == version.replace("&#34;", '"')


@pytest.mark.slow
def test_the_campaigns_feed_changes_when_a_campaign_does(tmp_path):
    folder, cid, app = _feed_app(tmp_path, keepalive=60)
    seen: list[str] = []

    async def while_open(next_chunk) -> None:
        seen.append(await next_chunk())
        finish(folder, cid)
        seen.append(await next_chunk())

    assert _feed_events(app, "/live", while_open)
    assert "event: hello" in seen[0] and "event: change" in seen[1]


# -- hypoforge serve ---------------------------------------------------------------------------
runner = CliRunner()


@pytest.fixture
def no_server(monkeypatch):
    """``serve.run`` replaced: the command prints and returns instead of serving forever."""
    ran: list = []

    def fake_run(app, sock):
        ran.append((app, sock.getsockname()))
        sock.close()

    monkeypatch.setattr(serve, "run", fake_run)
    return ran


def test_serve_prints_the_url_and_the_campaigns(tmp_path, no_server, monkeypatch):
    monkeypatch.delenv("HYPOFORGE_SERVE_TOKEN", raising=False)
    _, cid = make_campaign(tmp_path)
    result = runner.invoke(cli.app, ["serve", str(tmp_path), "--port", "0"])
    assert result.exit_code == 0, result.output
    port = no_server[0][1][1]
    assert f"serving 1 campaign(s) from {tmp_path}: {cid}" in result.output
    assert f"open http://127.0.0.1:{port}/\n" in result.output  # loopback: no token in the URL


def test_serve_on_another_address_prints_the_token(tmp_path, no_server, monkeypatch):
    monkeypatch.setenv("HYPOFORGE_SERVE_TOKEN", "from-the-environment")
    make_campaign(tmp_path)
    result = runner.invoke(cli.app, ["serve", str(tmp_path), "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 0, result.output
    assert "?token=from-the-environment" in result.output


def test_serve_defaults_to_the_campaigns_under_home(tmp_path, no_server, monkeypatch):
    monkeypatch.setenv("HYPOFORGE_HOME", str(tmp_path))
    (tmp_path / "campaigns").mkdir()
    make_campaign(tmp_path / "campaigns", "20260101-000000")
    result = runner.invoke(cli.app, ["serve", "--port", "0", "--read-only"])
    assert result.exit_code == 0, result.output
    assert f"from {tmp_path / 'campaigns'}" in result.output and "read-only" in result.output


def test_serve_refuses_a_missing_folder_in_one_line(tmp_path, no_server, monkeypatch):
    result = runner.invoke(cli.app, ["serve", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert result.output.strip() == f"hypoforge: error: no such folder: {tmp_path / 'nope'}"
    monkeypatch.setenv("HYPOFORGE_HOME", str(tmp_path))
    fresh = runner.invoke(cli.app, ["serve"], env={"COLUMNS": "300"})
    assert fresh.exit_code == 2
    assert fresh.output.startswith(
        f"hypoforge: error: no campaigns yet ({tmp_path / 'campaigns'} does not exist)"
    )
    assert no_server == []


def test_serve_refuses_a_port_in_use_in_one_line(tmp_path, no_server):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        result = runner.invoke(cli.app, ["serve", str(tmp_path), "--port", str(port)])
    finally:
        taken.close()
    assert result.exit_code == 2
    assert result.output.startswith(f"hypoforge: error: cannot listen on 127.0.0.1:{port}: ")
    assert len(result.output.strip().splitlines()) == 1 and no_server == []


def test_the_app_serves_the_token_it_was_given(tmp_path, no_server, monkeypatch):
    monkeypatch.setenv("HYPOFORGE_SERVE_TOKEN", TOKEN)
    result = runner.invoke(cli.app, ["serve", str(tmp_path), "--port", "0", "--who", "bob"])
    assert result.exit_code == 0
    from starlette.testclient import TestClient

    app = no_server[0][0]
    page = TestClient(app, base_url="http://127.0.0.1:1").get("/").text
    assert f'content="{TOKEN}"' in page


def test_serve_asks_for_the_token_on_loopback_with_the_flag(tmp_path, no_server, monkeypatch):
    """Other users of a shared machine reach its loopback too: --token guards it there."""
    monkeypatch.setenv("HYPOFORGE_SERVE_TOKEN", "a-token-of-enough-length")
    make_campaign(tmp_path)
    result = runner.invoke(cli.app, ["serve", str(tmp_path), "--port", "0", "--token"])
    assert result.exit_code == 0, result.output
    assert "?token=a-token-of-enough-length" in result.output
    app = no_server[0][0]
    client = TestClient(app, base_url=BASE, follow_redirects=False)
    assert client.get("/").status_code == 401
    assert (
        client.get("/", headers={"X-Hypoforge-Token": "a-token-of-enough-length"}).status_code
        == 200
    )


def test_serve_refuses_a_short_token_from_the_environment(tmp_path, no_server, monkeypatch):
    monkeypatch.setenv("HYPOFORGE_SERVE_TOKEN", "abc")
    make_campaign(tmp_path)
    result = runner.invoke(cli.app, ["serve", str(tmp_path), "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "hypoforge: error: HYPOFORGE_SERVE_TOKEN is too short to guard anything: 16 or more"
    )
    assert no_server == []


def test_the_controls_are_a_live_part_that_goes_when_the_campaign_ends(tmp_path):
    folder, cid = make_campaign(tmp_path)
    client = client_for([tmp_path])
    before = client.get(f"/c/{cid}/part/controls")
    assert before.status_code == 200
    assert 'data-action="stop"' in before.text and 'id="directive-form"' in before.text
    page = client.get(f"/c/{cid}").text
    assert f'data-src="/c/{cid}/part/controls"' in page
    finish(folder, cid)
    after = client.get(f"/c/{cid}/part/controls")
    assert "it takes no more steering" in after.text and "data-action" not in after.text
    quiet = client_for([tmp_path], read_only=True).get(f"/c/{cid}/part/controls")
    assert quiet.status_code == 200 and "data-action" not in quiet.text
    assert "takes no more steering" not in quiet.text
