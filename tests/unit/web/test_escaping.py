"""Every text from models, hypotheses and users is shown as text: an idea, code, an event's
detail, a directive and a URL's hypothesis id that hold HTML never reach a page as markup."""

from __future__ import annotations

import json

import pytest

from store.ledger import Ledger
from tests.unit.web.serving import client_for, make_campaign, post

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
HOSTILE_IDEAS = [
    SCRIPT,
    "</textarea><script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</table></td><script>alert(1)</script>",
]
CODE = 'def activation(x):\n    """</pre></code><script>alert(1)</script>"""\n    return x\n'


def assert_text_only(html: str) -> None:
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "</textarea><script" not in html
    assert 'onerror=alert(1)">' not in html


@pytest.mark.parametrize("idea", HOSTILE_IDEAS)
def test_a_hostile_idea_is_text_on_every_page(tmp_path, idea):
    _folder, cid = make_campaign(tmp_path, idea=idea, code=CODE)
    client = client_for([tmp_path])
    pages = [
        "/",
        f"/c/{cid}",
        f"/c/{cid}/h/r0-0",
        f"/c/{cid}/h/r1-0",
        f"/compare?a={cid}&b={cid}",
        f"/compare?a={cid}/r0-0&b={cid}/r1-0",
        *(f"/c/{cid}/part/{name}" for name in ("leaderboard", "queue", "notrun", "lineage")),
    ]
    for url in pages:
        reply = client.get(url)
        assert reply.status_code == 200, url
        assert_text_only(reply.text)


def test_the_idea_shows_escaped(tmp_path):
    _folder, cid = make_campaign(tmp_path, idea=SCRIPT)
    client = client_for([tmp_path])
    for url in (f"/c/{cid}/h/r0-0", f"/c/{cid}/part/leaderboard", f"/c/{cid}/part/queue"):
        assert ESCAPED in client.get(url).text, url


def test_code_cannot_break_out_of_its_block(tmp_path):
    _folder, cid = make_campaign(tmp_path, code=CODE)
    page = client_for([tmp_path]).get(f"/c/{cid}/h/r0-0").text
    assert_text_only(page)
    assert "</pre></code><script>" not in page
    assert "&lt;/pre&gt;&lt;/code&gt;&lt;script&gt;" in page
    assert 'class="highlight"' in page


def test_an_event_detail_with_html_is_text(tmp_path):
    folder, cid = make_campaign(tmp_path)
    ledger = Ledger(folder / "ledger.sqlite")
    ledger.log(cid, "analyst", "finding", {"text": SCRIPT})
    ledger.log(cid, f"mallory{SCRIPT}", "note", SCRIPT)
    ledger.close()
    client = client_for([tmp_path])
    for url in (f"/c/{cid}/part/events", f"/c/{cid}", f"/c/{cid}/part/events?agent=analyst"):
        html = client.get(url).text
        assert_text_only(html)
        assert "&lt;script&gt;" in html


def test_a_directive_with_html_is_text(tmp_path):
    _folder, cid = make_campaign(tmp_path)
    client = client_for([tmp_path])
    reply = post(client, cid, "directive", {"agent": "proposer", "text": SCRIPT})
    assert reply.json()["ok"]
    for url in (f"/c/{cid}/part/directives", f"/c/{cid}/part/events", f"/c/{cid}"):
        html = client.get(url).text
        assert_text_only(html)
        assert ESCAPED in html


@pytest.mark.parametrize(
    "hid", [SCRIPT, '"><img src=x onerror=alert(1)>', "../../etc/passwd", "r0-0%00"]
)
def test_a_hypothesis_id_with_html_in_the_url_is_text(tmp_path, hid):
    _folder, cid = make_campaign(tmp_path)
    client = client_for([tmp_path])
    from urllib.parse import quote

    reply = client.get(f"/c/{cid}/h/{quote(hid, safe='')}")
    assert reply.status_code == 404
    assert_text_only(reply.text)
    assert "Traceback" not in reply.text
    compare = client.get("/compare", params={"a": f"{cid}/{hid}", "b": f"{cid}/r0-0"})
    assert compare.status_code == 404
    assert_text_only(compare.text)


def test_a_steering_error_echoing_html_is_json_text(tmp_path):
    _folder, cid = make_campaign(tmp_path)
    client = client_for([tmp_path])
    reply = post(client, cid, "decide", {"hypothesis": SCRIPT, "decision": "veto"})
    assert reply.status_code == 404
    assert reply.headers["content-type"] == "application/json"
    assert json.loads(reply.text)["error"] == f"no hypothesis {SCRIPT!r} in this campaign"


def test_a_campaign_slug_with_html_is_text(tmp_path):
    _folder, _cid = make_campaign(tmp_path)
    client = client_for([tmp_path])
    from urllib.parse import quote

    for slug in (SCRIPT, "<script>alert(1)"):
        reply = client.get(f"/c/{quote(slug, safe='')}")
        assert reply.status_code == 404
        assert_text_only(reply.text)
    assert "no campaign &#39;&lt;script&gt;alert(1)&#39; is served here" in reply.text
