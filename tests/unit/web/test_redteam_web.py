"""The dashboard attacked: each test is one attack, and asserts that it fails.

(a) text from a model (ideas, code, verdicts, reasons, flags, citations, event details) that
wants to run script in the user's browser or steer the campaign; (b) a page on another site
while the dashboard runs on loopback (forged steering, rebinding, cross-origin reads and feeds,
framing); (c) a network peer against a token-guarded server; (d) damaged campaign folders
(garbage in the ledger, hostile ids, symlinks, FIFOs, huge files); (e) resource abuse (bodies,
budgets, query strings, many live feeds); (f) reading never runs hypothesis or task code, and
highlighting hostile text cannot hang.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import pytest

from hypoforge.web import app as web_app
from hypoforge.web import auth, highlight
from store.ledger import Ledger
from tests.unit.web.serving import (
    TOKEN,
    app_for,
    asgi_scope,
    client_for,
    edit_campaign,
    edit_task,
    make_campaign,
    post,
    steer_headers,
)

SCRIPT = "<script>alert(1)</script>"
HOSTILE = [
    SCRIPT,
    '"><img src=x onerror=alert(1)>',
    "</textarea></title></style></svg><script>alert(1)</script>",
    "javascript:alert(1)",
    "{{ 7*7 }}{% raw %}",  # a template expression is text, never evaluated
    "\u202e<b>rtl</b>\x00\x1b[31m",
]


def no_markup(html: str) -> None:
    """No hostile text reached the page as markup."""
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "onerror=alert(1)>" not in html
    assert 'href="javascript:' not in html and "href='javascript:" not in html
    assert "<b>rtl</b>" not in html
    assert "Traceback" not in html


def every_url(cid: str, hids: list[str]) -> list[str]:
    urls = ["/", "/part/campaigns", f"/c/{cid}", f"/compare?a={cid}&b={cid}"]
    urls += [f"/c/{cid}/part/{name}" for name in web_app.PARTS]
    urls += [f"/c/{cid}/h/{quote(h, safe='')}" for h in hids]
    if len(hids) >= 2:
        a, b = (quote(f"{cid}/{h}", safe="") for h in hids[:2])
        urls.append(f"/compare?a={a}&b={b}")
    return urls


def sweep(client: Any, cid: str, hids: list[str]) -> list[str]:
    """GET every page and part; each answers a page (200, or a clear 404/503), never a 500."""
    pages = []
    for url in every_url(cid, hids):
        reply = client.get(url)
        assert reply.status_code in (200, 404, 503), (url, reply.status_code, reply.text[:400])
        if reply.status_code == 503:  # a campaign that cannot be read says why
            assert "damaged row" in reply.text or "cannot be read" in reply.text, url
        assert "Traceback" not in reply.text
        pages.append(reply.text)
    return pages


def raw_db(folder: Path) -> sqlite3.Connection:
    return sqlite3.connect(folder / "ledger.sqlite")


# == (a) a hostile model ===========================================================================
def _hostile_ledger(folder: Path, cid: str, text: str) -> None:
    """Every text field a model writes, set to ``text``: verdicts, reasons, flags, citations,
    known components, confirmation, event details and agent names, directives' text."""
    db = raw_db(folder)
    db.execute(
        "UPDATE hypotheses SET verdict = ?, reason = ?, outcome = ?, flags = ?, "
        "confirmation = ?, mode = ?, duplicate_of = ?",
        (text, text, text, json.dumps([text, text]), text, text, text),
    )
    cols = {r[1] for r in db.execute("PRAGMA table_info(hypotheses)")}
    for col in ("known", "citation"):
        if col in cols:
            db.execute(f"UPDATE hypotheses SET {col} = ?", (json.dumps({"name": text}),))
    db.commit()
    db.close()
    ledger = Ledger(folder / "ledger.sqlite")
    ledger.log(cid, "critic", "verdict", {"id": "r0-0", "verdict": text, "reason": text})
    ledger.log(cid, text, text, text)
    ledger.log(cid, "orchestrator", "wait", {"kind": "approve", "hypothesis": text})
    ledger.close()


@pytest.mark.parametrize("text", HOSTILE)
def test_model_text_in_every_field_is_text_on_every_page(tmp_path, text):
    folder, cid = make_campaign(tmp_path, idea=text, code=f"# {text}\nx = '''{text}'''\n")
    _hostile_ledger(folder, cid, text)
    client = client_for([tmp_path])
    for html in sweep(client, cid, ["r0-0", "r0-1", "r0-2", "r1-0"]):
        no_markup(html)


def test_a_hostile_hypothesis_id_is_text_and_links_stay_on_the_server(tmp_path):
    """A model-chosen id (the ledger's) with HTML, quotes, a scheme and path steps: every link
    to it stays a path under /c/, every text of it is escaped."""
    folder, cid = make_campaign(tmp_path)
    ids = ["javascript:alert(1)", '"><svg onload=alert(1)>', "../../../etc/passwd", "..", "a b?c#d"]
    # Through the ledger's own writes (the columns it has), as a campaign writes them.
    from core.records import HypothesisRow

    ledger = Ledger(folder / "ledger.sqlite")
    for hid in ids:
        ledger.save(
            HypothesisRow(
                campaign=cid, id=hid, round=2, mode="novel", idea=hid, code_sha="x", parent="r0-0"
            )
        )
    ledger.log(cid, "proposer", "proposal", {"id": ids[0]})
    ledger.close()
    client = client_for([tmp_path])
    for html in sweep(client, cid, ids):
        assert "<svg onload" not in html
        assert 'href="javascript:' not in html
        assert "/c/" + cid + "/h/../" not in html
        assert '/h/.."' not in html
        no_markup(html)


def _cols(db: sqlite3.Connection) -> set[str]:
    return {r[1] for r in db.execute("PRAGMA table_info(hypotheses)")}


def test_a_model_cannot_steer_without_the_token_even_through_its_own_text(tmp_path):
    """An idea that holds a steering button's markup renders none; a POST without the page's
    token (what a model-written link or form could make) is refused."""
    button = '<button data-action="approve" data-hypothesis="r0-1">approve</button>'
    folder, cid = make_campaign(tmp_path, idea=button)
    client = client_for([tmp_path])
    html = client.get(f"/c/{cid}/h/r0-1").text
    assert button not in html
    for headers in ({}, {"X-Hypoforge-Token": ""}, {"X-Hypoforge-Token": "r0-1"}):
        reply = client.post(
            f"/c/{cid}/steer/decide",
            content=json.dumps({"hypothesis": "r0-1", "decision": "approve"}),
            headers={"Content-Type": "application/json", **headers},
        )
        assert reply.status_code == 403
    ledger = Ledger(folder / "ledger.sqlite")
    assert not [e for e in ledger.events(cid, "approve")]
    ledger.close()


def test_the_steering_who_is_the_servers_never_the_bodys(tmp_path):
    folder, cid = make_campaign(tmp_path)
    client = client_for([tmp_path])
    body = {"agent": "proposer", "text": "be bold", "who": "orchestrator"}
    assert post(client, cid, "directive", body).json()["ok"]
    ledger = Ledger(folder / "ledger.sqlite")
    assert [w for w, _, _ in ledger.events(cid, "directive")] == ["ada@web"]
    ledger.close()


# == (b) another site in the same browser ==========================================================
def test_a_cross_site_subresource_read_is_refused(tmp_path):
    """Another site's <img>, <script>, fetch or EventSource at the loopback dashboard: the
    browser says so (Sec-Fetch-Site: cross-site) and the server answers nothing of the page;
    a link followed from another site (a top-level navigation) still opens it."""
    folder, cid = make_campaign(tmp_path)
    (folder / "report").mkdir()
    (folder / "report" / "fig.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    client = client_for([tmp_path])
    for url, mode, dest in [
        (f"/c/{cid}/files/fig.png", "no-cors", "image"),
        (f"/c/{cid}/part/queue", "no-cors", "script"),
        (f"/c/{cid}/part/queue", "cors", "empty"),
        (f"/c/{cid}", "navigate", "iframe"),
        ("/static/app.js", "no-cors", "script"),
    ]:
        headers = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": mode, "Sec-Fetch-Dest": dest}
        reply = client.get(url, headers=headers)
        assert reply.status_code == 403, url
        assert "r0-1" not in reply.text
    navigate = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
    navigate["Sec-Fetch-Dest"] = "document"
    assert client.get(f"/c/{cid}", headers=navigate).status_code == 200
    same = {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}
    assert client.get(f"/c/{cid}/part/queue", headers=same).status_code == 200


def test_every_response_is_same_origin_only(tmp_path):
    """Cross-Origin-Resource-Policy on every answer: an older browser without fetch metadata
    still will not hand another site a figure or a fragment."""
    _folder, cid = make_campaign(tmp_path)
    client = client_for([tmp_path])
    for url in ("/", f"/c/{cid}", "/static/app.js", "/nope", f"/c/{cid}/part/queue"):
        reply = client.get(url)
        assert reply.headers.get("cross-origin-resource-policy") == "same-origin", url
        assert "access-control-allow-origin" not in reply.headers
    assert (
        client.get("/", headers={"Host": "evil.example"}).headers.get(
            "cross-origin-resource-policy"
        )
        == "same-origin"
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1:8765.evil.example"},
        {"Origin": "http://127.0.0.1:9999"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_forged_cross_site_steering_with_the_right_token_is_still_refused(tmp_path, headers):
    folder, cid = make_campaign(tmp_path)
    client = client_for([tmp_path])
    reply = post(client, cid, "control", {"command": "stop"}, **headers)
    assert reply.status_code == 403
    ledger = Ledger(folder / "ledger.sqlite")
    assert not list(ledger.events(cid, "stop"))
    ledger.close()


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", ""]
)
def test_a_simple_cross_site_request_cannot_steer(tmp_path, content_type):
    """What a form or a no-cors fetch on another site can send: no custom header, a simple type."""
    _folder, cid = make_campaign(tmp_path)
    client = client_for([tmp_path])
    reply = client.post(
        f"/c/{cid}/steer/control",
        content=json.dumps({"command": "stop"}),
        headers={"Content-Type": content_type, "Origin": "http://evil.example"},
    )
    assert reply.status_code == 403


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:8765",
        "127.0.0.1.nip.io:8765",
        "localhost.evil.example",
        "127.0.0.1@evil.example",
        "127.0.0.1:8765 evil",
        "",
        "[::1]evil",
    ],
)
def test_dns_rebinding_names_are_refused_on_every_route(tmp_path, host):
    _folder, cid = make_campaign(tmp_path)
    client = client_for([tmp_path])
    for url in ("/", f"/c/{cid}", f"/c/{cid}/live", "/live", "/static/app.js"):
        reply = client.get(url, headers={"Host": host})
        assert reply.status_code == 400, (host, url)
        assert TOKEN not in reply.text and "r0-1" not in reply.text
    reply = client.post(
        f"/c/{cid}/steer/control",
        content=json.dumps({"command": "stop"}),
        headers={**steer_headers(), "Host": host},
    )
    assert reply.status_code == 400


def test_no_page_can_be_framed(tmp_path):
    _folder, cid = make_campaign(tmp_path)
    client = client_for([tmp_path])
    for url in ("/", f"/c/{cid}", f"/c/{cid}/h/r0-0", "/missing"):
        reply = client.get(url)
        assert "frame-ancestors 'none'" in reply.headers["content-security-policy"]
        assert reply.headers["x-frame-options"] == "DENY"


# == (c) a network peer against a token-guarded server =============================================
@pytest.fixture
def exposed(tmp_path):
    folder, cid = make_campaign(tmp_path)
    (folder / "report").mkdir()
    (folder / "report" / "fig.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (folder / "paper").mkdir()
    (folder / "paper" / "paper.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    return folder, cid, client_for([tmp_path], require_token=True, host="0.0.0.0")


def _routes(cid: str) -> list[tuple[str, str]]:
    gets = [
        "/",
        "/part/campaigns",
        "/live",
        "/compare",
        f"/compare?a={cid}&b={cid}",
        f"/compare?a={cid}/r0-0&b={cid}/r1-0",
        "/pygments.css",
        "/static/app.js",
        "/static/style.css",
        "/static/",
        "/static/../app.py",
        "/nope",
        "/c/nope",
        f"/c/{cid}",
        f"/c/{cid}/live",
        f"/c/{cid}/h/r0-0",
        f"/c/{cid}/h/nope",
        f"/c/{cid}/files/fig.png",
        f"/c/{cid}/files/paper.pdf",
        f"/c/{cid}/files/nope.png",
        *(f"/c/{cid}/part/{p}" for p in web_app.PARTS),
        f"/c/{cid}/part/nope",
        f"/c/{cid}/steer/control",  # GET on a POST route
    ]
    return (
        [("GET", u) for u in gets]
        + [("POST", f"/c/{cid}/steer/{a}") for a in ("directive", "decide", "control", "budget")]
        + [("POST", f"/c/{cid}"), ("HEAD", f"/c/{cid}"), ("OPTIONS", f"/c/{cid}")]
    )


@pytest.mark.parametrize(
    "credentials",
    [
        {},
        {"headers": {"X-Hypoforge-Token": "wrong"}},
        {"headers": {"X-Hypoforge-Token": ""}},
        {"headers": {"X-Hypoforge-Token": TOKEN[:-1]}},
        {"headers": {"X-Hypoforge-Token": TOKEN + "x"}},
        {"headers": {"Cookie": "hf_token=wrong"}},
        {"headers": {"Cookie": f"hf_token={TOKEN[:-1]}"}},
        {"headers": {"Cookie": 'hf_token=""'}},
        {"headers": {"Cookie": "hf_token"}},
        {"headers": {"Authorization": f"Bearer {TOKEN}"}},
        {"params": {"token": "wrong"}},
        {"params": {"token": ""}},
    ],
)
def test_every_route_refuses_a_peer_without_the_token(exposed, credentials):
    folder, cid, client = exposed
    for method, url in _routes(cid):
        reply = client.request(
            method,
            url,
            params=credentials.get("params"),
            headers={"Content-Type": "application/json", **credentials.get("headers", {})},
            content=b'{"command": "stop"}' if method == "POST" else None,
        )
        assert reply.status_code == 401, (method, url, reply.status_code)
        assert TOKEN not in reply.text and "r0-1" not in reply.text
        assert "set-cookie" not in reply.headers
        assert reply.headers["content-security-policy"] == auth.CSP
    ledger = Ledger(folder / "ledger.sqlite")
    assert not list(ledger.events(cid, "stop"))
    ledger.close()


def test_the_query_token_redirect_never_leaves_the_server(exposed):
    """The redirect that drops ``?token=`` keeps the path as a path: ``//evil``, ``/\\evil``,
    ``/%2F%2Fevil`` and a full URL never become another host in a browser."""
    _folder, _cid, client = exposed
    for raw in (
        "//evil.example/x",
        "/\\evil.example/x",
        "/\\\\evil.example",
        "/%2F%2Fevil.example",
    ):
        reply = client.get(raw, params={"token": TOKEN})
        assert reply.status_code == 303
        where = reply.headers["location"]
        assert where.startswith("/") and not where.startswith("//"), where
        assert not where.startswith("/\\") and "\\" not in where[:2], where
        assert TOKEN not in where


def test_the_token_cookie_is_http_only_strict_and_not_in_the_page(exposed):
    _folder, cid, client = exposed
    reply = client.get(f"/c/{cid}", params={"token": TOKEN, "agent": "critic"})
    cookie = reply.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert reply.headers["location"] == f"/c/{cid}?agent=critic"
    assert reply.headers["referrer-policy"] == "no-referrer"
    assert reply.text == ""


def test_the_token_never_leaks_into_error_pages_or_json_errors(exposed):
    _folder, cid, client = exposed
    headers = {"X-Hypoforge-Token": TOKEN}
    for url in ("/nope", f"/c/{cid}/h/nope", f"/c/{cid}/files/x.png", f"/c/{cid}/part/x"):
        reply = client.get(url, headers=headers)
        assert reply.status_code == 404
        assert TOKEN not in reply.text
    reply = client.post(f"/c/{cid}/steer/nope", content=b"{}", headers=steer_headers(TOKEN))
    assert reply.status_code == 404 and TOKEN not in reply.text


def test_the_token_is_not_logged(exposed, caplog):
    _folder, cid, client = exposed
    with caplog.at_level("DEBUG"):
        client.get(f"/c/{cid}", params={"token": TOKEN})
        client.get(f"/c/{cid}", params={"token": "wrong-" + TOKEN})
        client.get("/c/x/h/y", headers={"X-Hypoforge-Token": TOKEN})
    # The test client's own log (httpx) names the URL it asked for; the server's must not.
    server = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert all(TOKEN not in r.getMessage() for r in server)


def test_the_token_comparison_is_constant_time(monkeypatch):
    """Every token comparison goes through hmac.compare_digest."""
    calls = []
    real = auth.hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    access = auth.Access(TOKEN, True, "0.0.0.0", 8765)
    assert not access.token_ok("x")
    assert not access.token_ok(TOKEN[:-1] + "Z")
    assert access.token_ok(TOKEN)
    assert len(calls) == 3


def test_an_empty_or_non_ascii_token_header_is_refused_without_an_error(exposed):
    _folder, cid, client = exposed
    for value in (b"", b"\xff\xfe", "é".encode("latin-1"), b"a" * 8000):
        reply = client.get(f"/c/{cid}", headers=[(b"X-Hypoforge-Token", value)])
        assert reply.status_code == 401


# == (d) damaged inputs ============================================================================
def _strip_constraints(folder: Path, table: str) -> None:
    """Recreate ``table`` without its NOT NULLs (CREATE AS SELECT), as a damaged or foreign
    ledger could have it."""
    db = raw_db(folder)
    db.execute(f"CREATE TABLE tmp_{table} AS SELECT * FROM {table}")
    db.execute(f"DROP TABLE {table}")
    db.execute(f"ALTER TABLE tmp_{table} RENAME TO {table}")
    db.commit()
    db.close()


def test_nulls_and_wrong_types_in_every_column_render_pages(tmp_path):
    folder, cid = make_campaign(tmp_path)
    for table in ("hypotheses", "events", "results", "usage", "probes"):
        _strip_constraints(folder, table)
    db = raw_db(folder)
    cols = _cols(db)
    # r0-0: every column but the key NULL; r0-1: every column a blob of bytes; r0-2: text in
    # numeric columns, numbers in text ones.
    for col in cols - {"campaign", "id"}:
        db.execute(f"UPDATE hypotheses SET {col} = NULL WHERE id = 'r0-0'")
        db.execute(f"UPDATE hypotheses SET {col} = X'FF00FE' WHERE id = 'r0-1'")
        db.execute(f"UPDATE hypotheses SET {col} = 'not a number' WHERE id = 'r0-2'")
        db.execute(f"UPDATE hypotheses SET {col} = 1e308 WHERE id = 'r1-0'")
    db.execute(
        "INSERT INTO events (campaign, at, who, kind, detail) VALUES "
        "(?, NULL, NULL, NULL, NULL), (?, 'x', X'FF', 7, X'00FF'), (?, 1e308, 'a', 'wait', '{')",
        (cid, cid, cid),
    )
    db.execute("UPDATE results SET report = 'not json', win_rate = 'x', created = NULL")
    db.execute("UPDATE usage SET tokens = 'lots', launches = NULL")
    db.execute("INSERT INTO results (key, campaign, hypothesis) VALUES ('k2', ?, NULL)", (cid,))
    db.commit()
    db.close()
    client = client_for([tmp_path])
    sweep(client, cid, ["r0-0", "r0-1", "r0-2", "r1-0"])


@pytest.mark.parametrize(
    "payload",
    [
        "not json {",
        "[" * 50_000 + "]" * 50_000,  # nested past the recursion limit
        pytest.param(json.dumps({"a": "x" * 2_000_000}), marks=pytest.mark.slow),
        json.dumps([1e308] * 10),
        "NaN",
        '"\\ud800"',  # a lone surrogate
    ],
)
def test_json_columns_with_garbage_or_huge_or_deep_json_render_pages(tmp_path, payload):
    folder, cid = make_campaign(tmp_path)
    db = raw_db(folder)
    for col in ("flags", "rungs", "confirmation"):
        db.execute(f"UPDATE hypotheses SET {col} = ?", (payload,))
    for col in ("known", "citation"):
        if col in _cols(db):
            db.execute(f"UPDATE hypotheses SET {col} = ?", (payload,))
    db.execute("UPDATE results SET report = ?", (payload,))
    db.execute("UPDATE events SET detail = ?", (payload,))
    db.commit()
    db.close()
    client = client_for([tmp_path])
    started = time.monotonic()
    sweep(client, cid, ["r0-0", "r1-0"])
    assert time.monotonic() - started < 30


def test_text_that_is_not_utf8_renders_pages(tmp_path):
    folder, cid = make_campaign(tmp_path)
    db = raw_db(folder)
    bad = b"\xff\xfe<script>alert(1)</script>\xc3\x28"
    db.execute("UPDATE hypotheses SET idea = CAST(? AS TEXT), reason = CAST(? AS TEXT)", (bad, bad))
    db.execute("UPDATE events SET who = CAST(? AS TEXT), detail = CAST(? AS TEXT)", (bad, bad))
    db.commit()
    db.close()
    (folder / "hypotheses" / "r0-0.py").write_bytes(b"x = '\xff\xfe'\n" + bad)
    client = client_for([tmp_path])
    for html in sweep(client, cid, ["r0-0", "r1-0"]):
        no_markup(html)


def test_a_garbage_ledger_and_a_damaged_campaign_json_show_a_state(tmp_path):
    folder, cid = make_campaign(tmp_path, "garbage")
    (folder / "ledger.sqlite").write_bytes(os.urandom(8192))
    other, _ = make_campaign(tmp_path, "damaged")
    (other / "campaign.json").write_text('{"id": "<script>alert(1)</script>", "task": ')
    empty, _ = make_campaign(tmp_path, "empty")
    (empty / "campaign.json").write_bytes(b"")
    deep, _ = make_campaign(tmp_path, "deep")
    (deep / "campaign.json").write_text("[" * 100_000 + "]" * 100_000)
    client = client_for([tmp_path])
    listing = client.get("/")
    assert listing.status_code == 200 and listing.text.count("state-unreadable") == 4
    no_markup(listing.text)
    for slug in (cid, "damaged", "empty", "deep"):
        for url in (f"/c/{slug}", f"/c/{slug}/h/r0-0", f"/c/{slug}/part/events"):
            reply = client.get(url)
            assert reply.status_code in (200, 404), url
            assert "Traceback" not in reply.text
            no_markup(reply.text)


@pytest.mark.parametrize(
    "hid",
    [
        "../campaign",
        "..%2Fcampaign",
        "%2e%2e%2fcampaign",
        "..\\campaign",
        "r0-0\x00",
        "r0-0%00",
        "<b>x</b>",
        "x" * 10_000,
        "\udcff",
    ],
)
def test_hostile_hypothesis_ids_in_the_url_are_refused_without_an_error(tmp_path, hid):
    _folder, cid = make_campaign(tmp_path)
    client = client_for([tmp_path])
    segment = quote(hid.encode("utf-8", "surrogatepass"), safe="")
    for url in (f"/c/{cid}/h/{segment}", f"/c/{cid}/files/{segment}"):
        reply = client.get(url)
        assert reply.status_code == 404, (url[:80], reply.status_code)
        assert "Traceback" not in reply.text and "<b>x</b>" not in reply.text
        assert len(reply.text) < 20_000  # a 10 kB id is not echoed whole
    reply = client.get(f"/compare?a={cid}%2F{segment}&b={cid}%2Fr0-0")
    assert reply.status_code in (400, 404)


def test_a_ledger_id_with_path_steps_reads_no_file_outside_hypotheses(tmp_path):
    """An id from the ledger is a file name under hypotheses/: ``../campaign`` would read
    campaign.json as code."""
    folder, cid = make_campaign(tmp_path)
    (tmp_path / "secret.py").write_text("SECRET = 'outside the folder'\n")
    from core.records import HypothesisRow

    ledger = Ledger(folder / "ledger.sqlite")
    for hid in ("../campaign", "../../secret", "../ledger"):
        ledger.save(HypothesisRow(campaign=cid, id=hid, round=2, mode="novel", idea="x"))
    ledger.close()
    (folder / "campaign.py").write_text("CAMPAIGN_SECRET = 1\n")
    client = client_for([tmp_path])
    for hid in ("../campaign", "../../secret"):
        # A "/" in an id never matches the hypothesis route; the compare page takes it.
        assert client.get(f"/c/{cid}/h/{quote(hid, safe='')}").status_code == 404
        reply = client.get("/compare", params={"a": f"{cid}/{hid}", "b": f"{cid}/r0-0"})
        assert reply.status_code == 200
        assert "SECRET" not in reply.text


def test_dot_segments_in_a_raw_path_are_not_followed(tmp_path):
    """``/c/ID/h/..`` and ``/c/ID/files/..`` sent as they are (a browser resolves them first;
    a raw client need not): never a file or a page of the folder above."""
    _folder, cid = make_campaign(tmp_path)
    app = app_for([tmp_path])
    for path in (
        f"/c/{cid}/h/..",
        f"/c/{cid}/files/..",
        f"/c/{cid}/files/../ledger.sqlite",
        f"/c/{cid}/files/../../etc/passwd",
        "/static/../app.py",
        "/static/%2e%2e/app.py",
    ):
        status, body = _call(app, path)
        assert status in (307, 404), (path, status)
        assert b"SQLite" not in body and b"root:" not in body and b"import" not in body


def _symlinks(folder: Path, target: Path) -> None:
    (folder / "report").mkdir(exist_ok=True)
    (folder / "paper").mkdir(exist_ok=True)
    (folder / "report" / "x.png").symlink_to(target)
    (folder / "paper" / "paper.pdf").symlink_to(target)


def test_symlinks_out_of_the_folder_are_not_served(tmp_path):
    folder, cid = make_campaign(tmp_path)
    outside = tmp_path / "outside.txt"
    outside.write_text("SECRET outside the campaign")
    _symlinks(folder, outside)
    (folder / "report" / "passwd.png").symlink_to("/etc/passwd")
    (folder / "hypotheses" / "r0-1.py").unlink()
    (folder / "hypotheses" / "r0-1.py").symlink_to(outside)
    (tmp_path / "hypdir").mkdir()
    client = client_for([tmp_path])
    for url in (
        f"/c/{cid}/files/x.png",
        f"/c/{cid}/files/paper.pdf",
        f"/c/{cid}/files/passwd.png",
    ):
        reply = client.get(url)
        assert reply.status_code == 404, url
        assert "SECRET" not in reply.text and "root:" not in reply.text
    page = client.get(f"/c/{cid}").text
    assert "x.png" not in page and "passwd.png" not in page
    assert "SECRET" not in client.get(f"/c/{cid}/h/r0-1").text


def test_symlinks_inside_the_folder_serve_no_ledger_or_campaign_file(tmp_path):
    """report/x.png -> ../ledger.sqlite stays inside the folder, but is not a figure: the
    figures are report/*.png files, not links to the campaign's own data."""
    folder, cid = make_campaign(tmp_path)
    (folder / "report").mkdir()
    (folder / "report" / "x.png").symlink_to(folder / "ledger.sqlite")
    (folder / "report" / "y.png").symlink_to(folder / "campaign.json")
    (folder / "paper").mkdir()
    (folder / "paper" / "paper.pdf").symlink_to(folder / "campaign.json")
    client = client_for([tmp_path])
    for name in ("x.png", "y.png", "paper.pdf"):
        reply = client.get(f"/c/{cid}/files/{name}")
        assert reply.status_code == 404, name
        assert b"SQLite format" not in reply.content and cid.encode() not in reply.content


@pytest.mark.slow
def test_fifos_and_devices_never_hang_a_read(tmp_path):
    folder, cid = make_campaign(tmp_path)
    (folder / "report").mkdir()
    (folder / "paper").mkdir()
    os.mkfifo(folder / "report" / "fifo.png")
    os.mkfifo(folder / "paper" / "paper.pdf")
    fifo_meta, _ = make_campaign(tmp_path, "fifo-meta")
    (fifo_meta / "campaign.json").unlink()
    os.mkfifo(fifo_meta / "campaign.json")
    fifo_ledger, fifo_cid = make_campaign(tmp_path, "fifo-ledger")
    (fifo_ledger / "ledger.sqlite").unlink()
    os.mkfifo(fifo_ledger / "ledger.sqlite")
    zero_ledger, _ = make_campaign(tmp_path, "zero-ledger")
    (zero_ledger / "ledger.sqlite").unlink()
    (zero_ledger / "ledger.sqlite").symlink_to("/dev/zero")
    (folder / "report" / "zero.png").symlink_to("/dev/zero")
    (folder / "hypotheses" / "r0-0.py").unlink()
    os.mkfifo(folder / "hypotheses" / "r0-0.py")
    (folder / "hypotheses" / "r0-1.py").unlink()
    (folder / "hypotheses" / "r0-1.py").symlink_to("/dev/zero")
    client = client_for([tmp_path])
    started = time.monotonic()
    for url in (
        f"/c/{cid}",
        f"/c/{cid}/h/r0-0",
        f"/c/{cid}/h/r0-1",
        "/",
        f"/c/{fifo_cid}",
    ):
        assert client.get(url).status_code == 200, url
    assert client.get("/c/fifo-meta").status_code == 404  # a FIFO is no campaign.json
    for name in ("fifo.png", "zero.png", "paper.pdf"):
        assert client.get(f"/c/{cid}/files/{name}").status_code == 404
    assert time.monotonic() - started < 20


@pytest.mark.slow
def test_a_huge_code_file_and_huge_ledger_texts_are_cut(tmp_path):
    folder, cid = make_campaign(tmp_path)
    (folder / "hypotheses" / "r0-0.py").write_text("x = 1\n" * 3_000_000)  # 18 MB
    db = raw_db(folder)
    db.execute(
        "UPDATE hypotheses SET idea = ?, reason = ? WHERE id = 'r0-0'", ("i" * 5_000_000,) * 2
    )
    db.commit()
    db.close()
    client = client_for([tmp_path])
    started = time.monotonic()
    reply = client.get(f"/c/{cid}/h/r0-0")
    assert reply.status_code == 200
    assert time.monotonic() - started < 20
    assert len(reply.content) < 30_000_000


def _edit_campaign(
    root: Path, template: str, codes: dict[str, str], marker: Path
) -> tuple[Path, str]:
    """A campaign of an edit task whose folder holds Python that writes ``marker`` when run
    (its package, its evaluator, its report hooks, its data module); hypotheses r0-0 and r1-0
    (r0-0's child) with ``codes``."""
    run = f"open({str(marker)!r}, 'a').write(__name__)\n"
    task = edit_task(
        root / "task",
        run + template,
        toml='evaluator = "harness:Evil"\nreport = "report:Evil"\n',
        template='data = "data.py"\n',
    )
    for name in ("__init__.py", "harness.py", "report.py", "data.py", "conftest.py"):
        (task / name).write_text(run)
    folder, cid = edit_campaign(root, task)
    ledger = Ledger(folder / "ledger.sqlite")
    ledger.log(cid, "orchestrator", "start", {"task": "edity"})
    ledger.close()
    for hid, code in codes.items():
        (folder / "hypotheses" / f"{hid}.py").write_text(run + code)
    return folder, cid


def test_an_edit_tasks_folder_runs_none_of_its_code_while_read_or_steered(tmp_path, monkeypatch):
    """The campaign's task folder holds Python that writes a marker when imported or run;
    every page (the diffs against the template read its script as text), and a steering
    request, run none of it, and leave this process's task path as it was."""
    monkeypatch.delenv("HYPOFORGE_TASKS", raising=False)
    marker = tmp_path / "ran"
    edit = "<<<<<<< SEARCH\n    return 1\n=======\n    return 2\n>>>>>>> REPLACE\n"
    template = "x = 1\n# >>> EDIT model\ndef model():\n    return 1\n# <<< EDIT model\n"
    _folder, cid = _edit_campaign(tmp_path, template, {"r0-0": edit, "r1-0": edit}, marker)
    client = client_for([tmp_path / "campaigns"])
    _WATCH.append(tmp_path)
    try:
        pages = sweep(client, cid, ["r0-0", "r1-0"])
        assert post(client, cid, "directive", {"agent": "proposer", "text": "x"}).json()["ok"]
    finally:
        _WATCH.clear()
    assert "+    return 2" in client.get(f"/c/{cid}/h/r1-0").text or any(
        "return 2" in p for p in pages
    )
    assert not marker.exists()
    assert _EXECUTED == []
    assert "HYPOFORGE_TASKS" not in os.environ, "steering changed the server's task path"


# == (e) resource abuse ============================================================================
def test_a_huge_steering_body_is_refused_at_the_limit(tmp_path):
    _folder, cid = make_campaign(tmp_path)
    client = client_for([tmp_path])

    def chunks():
        for _ in range(1600):  # 100 MB, streamed
            yield b" " * 65_536

    reply = client.post(f"/c/{cid}/steer/directive", content=chunks(), headers=steer_headers())
    assert reply.status_code == 413


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 60_000 + b"]" * 5_000,
        b'{"a":' * 30_000,
        b"[]",
        b"null",
        b'"text"',
        b"1e309",
        b"\xff\xfe",
        b"",
        b'{"agent": "proposer", "text": "x", "agent": ["list"]}',
    ],
)
def test_malformed_steering_bodies_answer_json_not_an_error_page(tmp_path, body):
    _folder, cid = make_campaign(tmp_path)
    client = client_for([tmp_path])
    for action in ("directive", "budget"):
        reply = client.post(f"/c/{cid}/steer/{action}", content=body, headers=steer_headers())
        assert reply.status_code in (400, 413), (body[:20], reply.status_code)
        assert reply.headers["content-type"] == "application/json"
        assert reply.json()["ok"] is False


@pytest.mark.parametrize(
    "budget",
    [
        {"hours": "NaN"},
        {"hours": "nan"},
        {"hours": "inf"},
        {"proposals": "inf"},
        {"proposals": 1e309},
        {"tokens": 1e309},
        {"hours": -1},
        {"proposals": 0},
        {"proposals": True},
        {"proposals": [1]},
        {"proposals": {"$gt": 1}},
        {"proposals": "1" * 5000},
        {"proposals": "10 or 1=1"},
        {"budget": 1},
    ],
)
def test_garbage_budgets_are_refused_and_change_nothing(tmp_path, budget):
    folder, cid = make_campaign(tmp_path)
    client = client_for([tmp_path])
    reply = client.post(
        f"/c/{cid}/steer/budget", content=json.dumps(budget), headers=steer_headers()
    )
    assert reply.status_code == 400, (budget, reply.status_code, reply.text)
    assert reply.json()["ok"] is False
    ledger = Ledger(folder / "ledger.sqlite")
    assert not list(ledger.events(cid, "budget"))
    ledger.close()


def test_a_nan_budget_in_the_json_itself_is_refused(tmp_path):
    """``{"hours": NaN}`` is not JSON, but Python's parser takes it: min(nan, start) is nan, a
    budget no campaign ever reaches."""
    folder, cid = make_campaign(tmp_path)
    client = client_for([tmp_path])
    for raw in (b'{"hours": NaN}', b'{"hours": Infinity}', b'{"tokens": -Infinity}'):
        reply = client.post(f"/c/{cid}/steer/budget", content=raw, headers=steer_headers())
        assert reply.status_code == 400, raw
    ledger = Ledger(folder / "ledger.sqlite")
    assert not list(ledger.events(cid, "budget"))
    ledger.close()


def test_raising_a_budget_above_the_start_is_clamped(tmp_path):
    folder, cid = make_campaign(tmp_path)
    client = client_for([tmp_path])
    reply = post(client, cid, "budget", {"proposals": 10**30, "hours": 1e300})
    if reply.status_code == 200:
        from hypoforge import campaign
        from store.steering import Steering

        info = campaign.load(folder)
        ledger = Ledger(folder / "ledger.sqlite")
        now = Steering(ledger, cid).budgets(info.budgets)
        ledger.close()
        assert now.proposals <= info.budgets.proposals
        assert now.hours <= info.budgets.hours
    else:
        assert reply.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        {"withdraw": 10**30},
        {"withdraw": "#" + "9" * 40},
        {"withdraw": -1},
        {"withdraw": 1.5},
        {"withdraw": None},
        {"agent": "orchestrator", "text": "approve everything"},
        {"agent": "proposer\x00", "text": "x"},
        {"agent": ["proposer"], "text": "x"},
        {"agent": "proposer", "text": "x" * 100_000},
    ],
)
def test_bad_directives_are_refused_in_json(tmp_path, body):
    folder, cid = make_campaign(tmp_path)
    client = client_for([tmp_path])
    reply = post(client, cid, "directive", body)
    assert reply.status_code in (400, 404, 413), (body, reply.status_code)
    assert reply.headers["content-type"] == "application/json"
    ledger = Ledger(folder / "ledger.sqlite")
    assert not list(ledger.events(cid, "directive"))
    ledger.close()


@pytest.mark.parametrize(
    "query",
    [
        "before=\u00b2",  # a digit to str.isdigit, not to int()
        "before=\u0663",
        "before=-1",
        "before=1e9",
        "before=" + "9" * 5000,
        "before=0x10",
        "agent=" + "a" * 20_000,
        "agent=%00%ff<script>",
        "limit=-1&limit=1e309",
        "before=1&before=2",
        "&".join(f"k{i}=v" for i in range(2000)),
    ],
)
def test_garbage_query_strings_render_the_event_log(tmp_path, query):
    _folder, cid = make_campaign(tmp_path)
    client = client_for([tmp_path])
    for url in (f"/c/{cid}?{query}", f"/c/{cid}/part/events?{query}"):
        reply = client.get(url)
        assert reply.status_code == 200, (url[:80], reply.status_code)
        no_markup(reply.text)


def _call(app: Any, path: str) -> tuple[int, bytes]:
    """One GET at the ASGI app with ``path`` exactly as given (no client normalising it)."""
    seen: dict[str, Any] = {"body": b""}

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            seen["status"] = message["status"]
        elif message["type"] == "http.response.body":
            seen["body"] += message.get("body", b"")

    anyio.run(app, asgi_scope(path), receive, send)
    return seen["status"], seen["body"]


@pytest.mark.slow
def test_many_live_feeds_are_capped_and_pages_still_answer(tmp_path):
    """A page (another site's, or a peer's script) opening hundreds of live feeds: past the cap
    a feed is refused at once, and the pages keep answering while the others stay open."""
    make_campaign(tmp_path)
    app = app_for([tmp_path], poll=0.05, keepalive=60)
    many = 300
    statuses: list[int] = []

    async def main() -> None:
        gone = anyio.Event()

        async def one() -> None:
            async def receive() -> dict:
                await gone.wait()
                return {"type": "http.disconnect"}

            async def send(message: dict) -> None:
                if message["type"] == "http.response.start":
                    statuses.append(message["status"])

            await app(asgi_scope("/live"), receive, send)

        async with anyio.create_task_group() as tg:
            for _ in range(many):
                tg.start_soon(one)
            with anyio.fail_after(20):
                while len(statuses) < many:
                    await anyio.sleep(0.05)
            # A page, while they are open.
            page: list[int] = []

            async def receive_page() -> dict:
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send_page(message: dict) -> None:
                if message["type"] == "http.response.start":
                    page.append(message["status"])

            with anyio.fail_after(10):
                await app(asgi_scope("/"), receive_page, send_page)
            assert page == [200]
            gone.set()

    anyio.run(main)
    assert statuses.count(200) <= web_app.MAX_FEEDS
    assert statuses.count(503) == many - statuses.count(200)
    assert app.state.dashboard.open_feeds == 0


# == (f) reading never runs hypothesis code; highlighting cannot hang ============================
_EXECUTED: list[str] = []
_WATCH: list[Path] = []


def _audit(event: str, args: tuple) -> None:
    if not _WATCH:
        return
    if event == "exec":
        # Code from the campaign folder: by its file name, or (compiled from text, "<string>")
        # by the folder's path among its constants (the hostile code names its marker file).
        code = args[0]
        where = f"{getattr(code, 'co_filename', '')} {getattr(code, 'co_consts', ())!r}"
        if any(str(w) in where for w in _WATCH):
            _EXECUTED.append(f"exec {getattr(code, 'co_filename', '?')}")
    elif event == "import":
        path = args[1] if len(args) > 1 else None
        if path and any(str(w) in str(path) for w in _WATCH):
            _EXECUTED.append(f"import {path}")
    elif event in ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn"):
        _EXECUTED.append(f"{event} {args[:2]}")


sys.addaudithook(_audit)


def test_the_watch_sees_code_from_the_folder_run(tmp_path):
    """The control for the tests below: the audit hook does see such code run."""
    _WATCH.append(tmp_path)
    try:
        exec(compile(f"marker = {str(tmp_path / 'ran')!r}", "<string>", "exec"))
        seen = list(_EXECUTED)
    finally:
        _WATCH.clear()
        _EXECUTED.clear()
    assert seen == ["exec <string>"]


def test_reading_every_page_runs_no_hypothesis_or_task_code(tmp_path):
    marker = tmp_path / "ran"
    evil = f"open({str(marker)!r}, 'w').write('ran')\nimport torch\n\n"
    evil += "def activation(x):\n    return x\n"
    folder, cid = make_campaign(tmp_path, code=evil)
    (folder / "hypotheses" / "__init__.py").write_text(evil)
    (folder / "conftest.py").write_text(evil)
    (folder / "sitecustomize.py").write_text(evil)
    modules = set(sys.modules)
    _WATCH.append(tmp_path)
    try:
        client = client_for([tmp_path])
        sweep(client, cid, ["r0-0", "r0-1", "r0-2", "r1-0"])
    finally:
        _WATCH.clear()
    assert not marker.exists()
    assert _EXECUTED == []
    new = {m for m in set(sys.modules) - modules if "hypothes" in m or m.startswith("r0")}
    assert new == set()


HOSTILE_CODE = [
    "'" * 200_000,
    '"""' + "\\" * 199_990,
    "f'{" * 60_000,
    "x" + "(" * 199_000,
    "0" + "e1" * 99_000,
    "#" + "\t" * 199_000,
    "\\\n" * 99_000,
    "a = '''\n" + "'' " * 66_000,
    "@" * 200_000,
    "\u00e9" * 200_000,
    "rb'" + "\\x" * 99_000,
    "1_" * 100_000,
    "".join(chr(c) for c in range(32, 0x3000)) * 16,
]


@pytest.mark.slow
@pytest.mark.parametrize("source", HOSTILE_CODE, ids=range(len(HOSTILE_CODE)))
def test_highlighting_hostile_code_is_fast(source):
    started = time.monotonic()
    html = highlight.code_html(source * (1_000_000 // max(len(source), 1) + 1))
    assert time.monotonic() - started < 10
    assert "<script" not in html


def _slow_for_difflib(lines: int) -> tuple[str, str]:
    """Two texts difflib takes about cubic time on: ``lines`` lines of lines/100 distinct ones
    (each just under its "popular" cut), in two orders (10,000 lines: seconds; 20,000: most
    of a minute, on this machine)."""
    kinds = max(2, lines // 100 - 1)
    a = "".join(f"x{i % kinds}\n" for i in range(lines))
    b = "".join(f"x{(i * 7) % kinds}\n" for i in range(lines))
    return a, b


def _apply(diff: str, a: str) -> str:
    """``a`` with a unified ``diff`` applied (the check that a diff is a true one)."""
    old = a.splitlines(keepends=True)
    out: list[str] = []
    at = 0
    for line in diff.splitlines(keepends=True):
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            start = int(line.split()[1][1:].split(",")[0])
            count = line.split()[1].split(",")
            start = start - 1 if len(count) == 1 or count[1] != "0" else start
            out += old[at:start]
            at = start
        elif line.startswith(" ") or line.startswith("-"):
            assert old[at] == line[1:], (at, old[at], line)
            if line.startswith(" "):
                out.append(old[at])
            at += 1
        elif line.startswith("+"):
            out.append(line[1:])
    return "".join(out + old[at:])


def test_a_diff_of_hostile_code_is_fast_and_true(tmp_path):
    """The compare page's diff of two codes made slow for difflib answers at once (a note past
    the limit); a long file with a few changed lines is still diffed, truly."""
    a, b = _slow_for_difflib(20_000)
    started = time.monotonic()
    text = highlight.unified(a, b, "a", "b")
    highlight.diff_html(text)
    assert time.monotonic() - started < 2
    assert text.startswith("# too long to compare here")
    long = "".join(f"line {i}\n" for i in range(30_000))
    changed = long.replace("line 15000\n", "changed\n").replace("line 15020\n", "")
    diff = highlight.unified(long, changed, "a", "b")
    assert "-line 15000\n+changed\n" in diff and "-line 15020\n" in diff
    assert _apply(diff, long) == changed
    for x, y in (("a\nb\nc\n", "a\nc\nd"), ("", "x\n"), ("x", ""), ("same\n", "same\n")):
        import difflib

        expected = "".join(
            line if line.endswith("\n") else line + "\n"
            for line in difflib.unified_diff(
                x.splitlines(keepends=True), y.splitlines(keepends=True), "a", "b"
            )
        )
        assert highlight.unified(x, y, "a", "b") == expected  # short texts: difflib's own
    # Two campaigns' hypotheses with such code, side by side: the page answers at once.
    folder, cid = make_campaign(tmp_path)
    (folder / "hypotheses" / "r0-0.py").write_text(a)
    (folder / "hypotheses" / "r1-0.py").write_text(b)
    client = client_for([tmp_path])
    started = time.monotonic()
    reply = client.get("/compare", params={"a": f"{cid}/r0-0", "b": f"{cid}/r1-0"})
    assert reply.status_code == 200 and "too long to compare here" in reply.text
    assert time.monotonic() - started < 5


@pytest.mark.slow
def test_an_edit_tasks_hypothesis_page_with_hostile_code_is_fast(tmp_path, monkeypatch):
    monkeypatch.delenv("HYPOFORGE_TASKS", raising=False)
    a, b = _slow_for_difflib(10_000)
    _folder, cid = _edit_campaign(tmp_path, "x = 1\n", {"r0-0": a, "r1-0": b}, tmp_path / "m")
    client = client_for([tmp_path / "campaigns"])
    started = time.monotonic()
    assert client.get(f"/c/{cid}/h/r1-0").status_code == 200
    assert time.monotonic() - started < 3


# == in a real browser (Debian's chromium through tests/cdp.py) ====================================
def _browser_or_skip() -> None:
    if not Path("/usr/bin/chromium").is_file():
        pytest.skip("no /usr/bin/chromium (make setup installs it)")


@pytest.mark.slow
def test_in_a_browser_the_csp_blocks_an_injected_inline_script(tmp_path):
    """Hostile text reaches no page as script; and were markup ever injected (a fragment swapped
    in by innerHTML), the CSP blocks its inline script, handler and style."""
    _browser_or_skip()
    from tests.cdp import Browser, serve

    hostile = "<script>window.pwned=1</script><img src=x onerror=window.pwned=2>"
    _folder, cid = make_campaign(tmp_path, idea=hostile, code=f"# {hostile}\n")
    with serve(lambda port: app_for([tmp_path], port=port)) as base, Browser() as page:
        for url in (f"{base}/c/{cid}", f"{base}/c/{cid}/h/r0-0", f"{base}/"):
            page.navigate(url)
            page.wait_for("document.body.getAttribute('data-updates') !== null")
            assert page.evaluate("typeof window.pwned") == "undefined", url
        # The page's own live feed and fragments pass the cross-site guard (same-origin).
        page.wait_for("document.getElementById('live-state').textContent === 'live'")
        assert page.evaluate(f"fetch('/c/{cid}/part/queue').then(r => r.status)") == 200
        assert page.errors == []
        page.evaluate(
            "document.body.insertAdjacentHTML('beforeend', "
            '\'<img src="/static/style.css" onerror="window.pwned=3">'
            '<p id=styled style="color: rgb(255, 0, 0)">x</p>\');'
            "var s = document.createElement('script'); s.textContent = 'window.pwned = 4';"
            "document.body.appendChild(s); true"
        )
        page.wait_for("true", timeout=2)
        time.sleep(0.5)
        assert page.evaluate("typeof window.pwned") == "undefined"
        assert page.evaluate("getComputedStyle(document.getElementById('styled')).color") != (
            "rgb(255, 0, 0)"
        )
        assert any("CSP violation" in e or "Content Security Policy" in e for e in page.errors)


EVIL_PAGE = """<!doctype html><html><body><script>
window.results = {};
const base = "%(base)s", cid = "%(cid)s";
function done(k, v) { window.results[k] = v; }
fetch(base + "/c/" + cid + "/part/queue").then(r => r.text()).then(
  t => done("read", t.slice(0, 200)), e => done("read", "blocked"));
fetch(base + "/c/" + cid + "/part/queue", {mode: "no-cors"}).then(
  r => done("opaque", r.type), e => done("opaque", "blocked"));
fetch(base + "/c/" + cid + "/steer/control", {method: "POST", mode: "no-cors",
  headers: {"Content-Type": "text/plain"}, body: JSON.stringify({command: "stop"})}).then(
  r => done("simple-post", r.type), e => done("simple-post", "blocked"));
fetch(base + "/c/" + cid + "/steer/control", {method: "POST",
  headers: {"Content-Type": "application/json", "X-Hypoforge-Token": "guess"},
  body: JSON.stringify({command: "stop"})}).then(
  r => done("preflight-post", r.status), e => done("preflight-post", "blocked"));
const img = new Image();
img.onload = () => done("img", "loaded " + img.naturalWidth);
img.onerror = () => done("img", "blocked");
img.src = base + "/c/" + cid + "/files/fig.png";
const es = new EventSource(base + "/live");
es.onmessage = e => done("sse", "read " + e.data);
es.addEventListener("hello", e => done("sse", "read " + e.data));
es.onerror = () => { es.close(); done("sse", "blocked"); };
const frame = document.createElement("iframe");
frame.src = base + "/c/" + cid;
frame.onload = () => { try { done("frame", frame.contentDocument.body.innerHTML.slice(0, 80)); }
  catch (e) { done("frame", "blocked"); } };
document.body.appendChild(frame);
const form = document.createElement("form");
form.method = "POST"; form.action = base + "/c/" + cid + "/steer/control";
form.enctype = "text/plain"; form.target = "sink";
const field = document.createElement("input");
field.name = '{"command": "stop", "x": "'; field.value = '"}'; form.appendChild(field);
const sink = document.createElement("iframe"); sink.name = "sink"; document.body.appendChild(sink);
document.body.appendChild(form); form.submit(); done("form", "sent");
</script></body></html>"""


@pytest.mark.slow
def test_in_a_browser_another_site_can_neither_read_nor_steer_nor_frame(tmp_path):
    """A page on another site (http://localhost:Q, while the dashboard is http://127.0.0.1:P)
    tries every way a browser allows: a CORS fetch, a no-cors fetch, a simple POST, a POST
    with a guessed token header, an <img> of a figure, an EventSource, an iframe and a form."""
    _browser_or_skip()
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    from tests.cdp import Browser, serve

    folder, cid = make_campaign(tmp_path)
    (folder / "report").mkdir()
    png = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
        b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
        b"\x00\x00\x00\x00IEND\xaeB`\x82"
    )
    (folder / "report" / "fig.png").write_bytes(png)

    with serve(lambda port: app_for([tmp_path], port=port)) as base:

        def evil(port: int) -> Starlette:
            page = EVIL_PAGE % {"base": base, "cid": cid}
            return Starlette(routes=[Route("/", lambda request: HTMLResponse(page))])

        with serve(evil) as evil_base, Browser() as browser:
            # The same figure opens from the dashboard's own page (the attack's control).
            browser.navigate(f"{base}/c/{cid}")
            own = browser.evaluate(
                f"new Promise(ok => {{ const i = new Image(); i.onload = () => ok('loaded');"
                f" i.onerror = () => ok('blocked'); i.src = '/c/{cid}/files/fig.png'; }})"
            )
            assert own == "loaded"
            browser.navigate(evil_base.replace("127.0.0.1", "localhost") + "/")
            keys = ("read", "opaque", "simple-post", "preflight-post", "img", "sse", "frame")
            results = browser.wait_for(
                f"Object.keys(window.results).length >= {len(keys) + 1} && window.results",
                timeout=20,
            )
    assert results["read"] == "blocked"
    assert results["preflight-post"] == "blocked"
    assert results["img"] == "blocked"
    assert results["sse"] == "blocked"
    assert results["frame"] == "blocked" or "r0-1" not in results["frame"]
    ledger = Ledger(folder / "ledger.sqlite")
    assert not list(ledger.events(cid, "stop")), results
    ledger.close()


@pytest.mark.slow
def test_in_a_browser_a_figure_or_paper_holding_script_runs_nothing(tmp_path):
    """report/x.png that is an SVG with a script, paper/paper.pdf that is HTML with one: opened
    directly, inline on the page and in an <img>, neither runs (image/png and application/pdf,
    nosniff, the CSP)."""
    _browser_or_skip()
    from tests.cdp import Browser, CDPError, serve

    folder, cid = make_campaign(tmp_path)
    (folder / "report").mkdir()
    (folder / "paper").mkdir()
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" onload="document.title=\'pwned\'">'
        "<script>document.title='pwned'; top.pwned = 1</script></svg>"
    )
    (folder / "report" / "x.png").write_text(svg)
    (folder / "paper" / "paper.pdf").write_text(
        "<html><script>document.title='pwned'; top.pwned = 1</script></html>"
    )
    with serve(lambda port: app_for([tmp_path], port=port)) as base, Browser() as page:
        page.navigate(f"{base}/c/{cid}")
        page.wait_for("document.querySelectorAll('img').length >= 0")
        time.sleep(0.5)
        assert page.evaluate("typeof window.pwned") == "undefined"
        for name in ("x.png", "paper.pdf"):
            try:
                page.navigate(f"{base}/c/{cid}/files/{name}", timeout=10)
            except CDPError:
                continue  # the browser would not show it (a download): nothing ran either
            time.sleep(0.3)
            assert page.evaluate("document.title") != "pwned", name
            assert page.evaluate("typeof window.pwned") == "undefined", name
            assert page.evaluate("document.contentType") in ("image/png", "application/pdf")


def test_a_cross_site_link_with_the_token_sets_the_cookie_and_moves_on_without_it(exposed):
    """A link on another site to the printed URL: a 303 would land on "needs its token" (the
    Strict cookie is not sent on a redirect another site began), so the answer is a page that
    moves on by itself, with the cookie and without the token."""
    _folder, cid, client = exposed
    headers = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
    headers["Sec-Fetch-Dest"] = "document"
    reply = client.get(f"/c/{cid}", params={"token": TOKEN, "agent": '"><x'}, headers=headers)
    assert reply.status_code == 200
    assert "SameSite=Strict" in reply.headers["set-cookie"]
    assert TOKEN not in reply.text
    assert f"content='0; url=/c/{cid}?agent=%22%3E%3Cx'" in reply.text
    assert "<x" not in reply.text
    assert reply.headers["content-security-policy"] == auth.CSP


@pytest.mark.slow
def test_in_a_browser_a_link_to_the_printed_url_from_another_site_opens_the_dashboard(tmp_path):
    _browser_or_skip()
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    from tests.cdp import Browser, serve

    _folder, cid = make_campaign(tmp_path)

    def dashboard(port: int) -> Any:
        return app_for([tmp_path], port=port, require_token=True, host="0.0.0.0")

    with serve(dashboard) as base:
        link = f"{base}/c/{cid}?token={TOKEN}"

        def chat(port: int) -> Starlette:
            page = f'<a id="go" href="{link}">the dashboard</a>'
            return Starlette(routes=[Route("/", lambda request: HTMLResponse(page))])

        with serve(chat) as chat_base, Browser() as page:
            page.navigate(chat_base.replace("127.0.0.1", "localhost") + "/")
            page.evaluate("document.getElementById('go').click(); true")
            page.wait_for(f"location.pathname === '/c/{cid}' && document.title.includes('{cid}')")
            assert TOKEN not in page.evaluate("location.href")
            history = page.send("Page.getNavigationHistory")["entries"]
            assert all(TOKEN not in entry["url"] for entry in history), history
            assert page.errors == []


@pytest.mark.parametrize("meta", [b"", b"{", b"[" * 100_000, b'{"id": 1}'])
def test_steering_a_campaign_with_a_damaged_campaign_json_answers_json(tmp_path, meta):
    folder, cid = make_campaign(tmp_path)
    client = client_for([tmp_path])
    assert client.get(f"/c/{cid}").status_code == 200  # the server knows the slug
    (folder / "campaign.json").write_bytes(meta)
    reply = post(client, cid, "control", {"command": "stop"})
    assert reply.status_code in (404, 409), reply.status_code
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["ok"] is False
