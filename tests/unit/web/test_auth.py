"""Who may read and steer: the token on every route (missing, wrong, right), the query token's
cookie and redirect, forged cross-site steering, read-only mode, the Host check and the
security headers."""

from __future__ import annotations

import json

import pytest

from hypoforge.web import auth
from tests.unit.web.serving import (
    BASE,
    TOKEN,
    client_for,
    make_campaign,
    post,
    served_campaign,
    steer_headers,
)

# Every GET route of the URL map, with what a right token gets (the live feeds: see test_app's
# stream tests; here their refusals, and their answer's start with the token).
PAGES = [
    "/",
    "/part/campaigns",
    "/compare",
    "/pygments.css",
    "/static/app.js",
    "/static/style.css",
    "/c/{cid}",
    "/c/{cid}/part/summary",
    "/c/{cid}/part/leaderboard",
    "/c/{cid}/part/queue",
    "/c/{cid}/part/directives",
    "/c/{cid}/part/charts",
    "/c/{cid}/part/lineage",
    "/c/{cid}/part/notrun",
    "/c/{cid}/part/events",
    "/c/{cid}/h/r0-0",
    "/c/{cid}/files/fig.png",
]
FEEDS = ["/live", "/c/{cid}/live"]


@pytest.fixture
def guarded(tmp_path):
    folder, cid = make_campaign(tmp_path)
    (folder / "report").mkdir()
    (folder / "report" / "fig.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return cid, client_for([tmp_path], require_token=True, host="0.0.0.0")


@pytest.mark.parametrize("route", PAGES + FEEDS)
def test_a_missing_token_is_refused_on_every_route(guarded, route):
    cid, client = guarded
    reply = client.get(route.format(cid=cid))
    assert reply.status_code == 401
    assert "needs its token" in reply.text
    assert TOKEN not in reply.text
    assert reply.headers["content-security-policy"] == auth.CSP


@pytest.mark.parametrize("route", PAGES + FEEDS)
def test_a_wrong_token_is_refused_on_every_route(guarded, route):
    cid, client = guarded
    url = route.format(cid=cid)
    assert client.get(url, headers={"X-Hypoforge-Token": "wrong"}).status_code == 401
    assert client.get(url, headers={"Cookie": "hf_token=wrong"}).status_code == 401
    assert client.get(url, params={"token": "wrong"}).status_code == 401
    wrong = client.get(url, params={"token": TOKEN[:-1]})
    assert wrong.status_code == 401 and TOKEN not in wrong.text


@pytest.mark.parametrize("route", PAGES)
def test_the_right_token_opens_every_route(guarded, route):
    cid, client = guarded
    url = route.format(cid=cid)
    by_header = client.get(url, headers={"X-Hypoforge-Token": TOKEN})
    assert by_header.status_code == 200, by_header.text
    client.cookies.set("hf_token", TOKEN)
    assert client.get(url).status_code == 200


@pytest.mark.parametrize("route", FEEDS)
def test_the_right_token_opens_the_live_feeds(guarded, route):
    cid, client = guarded
    with client.stream("GET", route.format(cid=cid), headers={"X-Hypoforge-Token": TOKEN}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        first = next(r.iter_lines())
        assert first == "retry: 3000"


def test_a_steering_post_needs_the_token_too(guarded):
    cid, client = guarded
    reply = client.post(
        f"/c/{cid}/steer/control",
        content=b'{"command": "pause"}',
        headers={"Content-Type": "application/json"},
    )
    assert reply.status_code == 401


def test_with_a_token_required_the_header_alone_steers(guarded):
    cid, client = guarded
    reply = post(client, cid, "control", {"command": "pause"})
    assert reply.status_code == 200 and reply.json()["ok"]


def test_the_query_token_sets_a_strict_cookie_and_redirects_without_it(guarded):
    cid, client = guarded
    reply = client.get(f"/c/{cid}?agent=critic&token={TOKEN}")
    assert reply.status_code == 303
    assert reply.headers["location"] == f"/c/{cid}?agent=critic"
    cookie = reply.headers["set-cookie"]
    assert cookie.startswith(f"hf_token={TOKEN};")
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/"):
        assert attribute in cookie
    page = client.get(reply.headers["location"])  # the client kept the cookie
    assert page.status_code == 200 and "Campaign" in page.text


def test_the_redirect_never_leaves_the_server(guarded):
    _cid, client = guarded
    reply = client.get(f"{BASE}//evil.example/?token={TOKEN}")
    assert reply.status_code == 303
    assert reply.headers["location"] == "/evil.example/"


def test_a_page_carries_the_steering_token_in_its_meta(tmp_path):
    make_campaign(tmp_path)
    page = client_for([tmp_path]).get("/").text
    assert f'<meta name="hf-token" content="{TOKEN}">' in page


# -- forged steering --------------------------------------------------------------------------
@pytest.fixture
def local(tmp_path):
    return served_campaign(tmp_path)


def test_a_cookie_alone_never_steers(local):
    _folder, cid, client = local
    client.cookies.set("hf_token", TOKEN)
    reply = client.post(
        f"/c/{cid}/steer/control",
        content=json.dumps({"command": "stop"}),
        headers={"Content-Type": "application/json"},
    )
    assert reply.status_code == 403
    assert reply.json() == {
        "ok": False,
        "error": "steering needs this page's token in the X-Hypoforge-Token header",
    }


def test_another_tokens_header_does_not_steer(local):
    _folder, cid, client = local
    reply = post(client, cid, "control", {"command": "stop"}, token="someone-elses-token")
    assert reply.status_code == 403


def test_steering_from_another_origin_is_refused(local):
    _folder, cid, client = local
    reply = post(client, cid, "control", {"command": "stop"}, Origin="http://evil.example")
    assert reply.status_code == 403
    assert reply.json()["error"] == "steering from another site is refused"
    cross = post(client, cid, "control", {"command": "stop"}, **{"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    for forged in ("null", "http://127.0.0.1:8765.evil.example", "file://", "http://127.0.0.1"):
        assert post(client, cid, "control", {"command": "stop"}, Origin=forged).status_code == 403
    same = post(client, cid, "control", {"command": "pause"}, Origin=BASE)
    assert same.status_code == 200, same.text
    behind_tls = post(
        client, cid, "control", {"command": "resume"}, Origin="https://127.0.0.1:8765"
    )
    assert behind_tls.status_code == 200, behind_tls.text


def test_a_form_post_is_refused(local):
    folder, cid, client = local
    reply = client.post(
        f"/c/{cid}/steer/control",
        data={"command": "stop"},
        headers={"X-Hypoforge-Token": TOKEN},
    )
    assert reply.status_code == 415
    plain = client.post(
        f"/c/{cid}/steer/control",
        content=b'{"command": "stop"}',
        headers={"X-Hypoforge-Token": TOKEN, "Content-Type": "text/plain"},
    )
    assert plain.status_code == 415
    from store.ledger import Ledger

    ledger = Ledger(folder / "ledger.sqlite")
    assert ledger.events(cid, "stop") == []
    ledger.close()


def test_read_only_shows_no_controls_and_refuses_every_post(tmp_path):
    _folder, cid = make_campaign(tmp_path)
    client = client_for([tmp_path], read_only=True)
    page = client.get(f"/c/{cid}").text
    for control in ("data-action", "directive-form", "budget-form", "hf-token", "steer-status"):
        assert control not in page
    assert 'data-part="queue"' in page and "read-only" in page
    for action, body in [
        ("control", {"command": "stop"}),
        ("directive", {"agent": "proposer", "text": "x"}),
        ("decide", {"hypothesis": "r0-1", "decision": "veto"}),
        ("budget", {"proposals": 1}),
    ]:
        reply = client.post(
            f"/c/{cid}/steer/{action}", content=json.dumps(body), headers=steer_headers()
        )
        assert reply.status_code == 403
        assert reply.json()["error"] == "this dashboard is read-only (hypoforge serve --read-only)"


@pytest.mark.parametrize(
    "host", ["evil.example:8765", "evil.example", "127.0.0.1.evil.example:8765", "", "a b"]
)
def test_a_foreign_host_header_is_refused(local, host):
    _folder, _cid, client = local
    reply = client.get("/", headers={"Host": host})
    assert reply.status_code == 400
    assert "does not answer to that host name" in reply.text
    assert TOKEN not in reply.text  # a rebound page never learns the steering token


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:9000", "[::1]:8765", "localhost"])
def test_loopback_host_names_are_served(local, host):
    _folder, _cid, client = local
    assert client.get("/", headers={"Host": host}).status_code == 200


def test_a_server_bound_to_one_address_answers_to_it():
    access = auth.Access(TOKEN, True, "10.1.2.3", 8765)
    assert access.host_ok("10.1.2.3:8765") and access.host_ok("localhost:8765")
    assert not access.host_ok("evil.example:8765")
    everywhere = auth.Access(TOKEN, True, "0.0.0.0", 8765)
    assert everywhere.host_ok("box.lan:8765")  # the token guards it
    assert not auth.Access(TOKEN, False, "0.0.0.0", 8765).host_ok("box.lan:8765")


def test_every_response_carries_the_security_headers(local):
    _folder, cid, client = local
    for url in ("/", f"/c/{cid}", "/nowhere", f"/c/{cid}/h/nope", "/static/app.js"):
        reply = client.get(url)
        assert reply.headers["content-security-policy"] == auth.CSP, url
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["referrer-policy"] == "no-referrer"
