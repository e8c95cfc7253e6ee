"""The dashboard in a real browser against a running campaign: Debian's headless chromium
(tests/cdp.py) on the page that `hypoforge serve` would serve, uvicorn in a thread, and a
campaign in approval mode on the real pieces (the embedded LLM, the Docker sandbox) with its
heartbeat. From the page alone, as a user would: a directive to the proposer, a veto of the
first proposal that waits for a launch, approvals of the others. Then: the vetoed code never
reached the sandbox, the directive is in the proposer's next prompts, every action is a ledger
event with the server's who, the leaderboard filled in without a reload, and the page logged no
error and no CSP violation."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.applications import Starlette

from agents.llm import make_chat_model
from agents.prompting import grammar
from core.settings import CampaignSettings, LLMSettings
from evaluators import activation
from evaluators.activation.harness import ActivationEvaluator
from evaluators.kit import datasets
from hypoforge import campaign
from hypoforge import reference as references
from hypoforge.campaign import ROLES
from hypoforge.heartbeat import Heartbeat
from hypoforge.llm_server import embedded_server
from hypoforge.web.app import make_app
from sandbox.base import Job, RunResult, Sandbox
from store.ledger import Ledger
from tests.cdp import Browser, png_size, serve
from tests.fakes import SystemPrompts

pytestmark = [pytest.mark.docker, pytest.mark.slow]

WHO = "ada@web"
DIRECTIVE = "prefer smooth functions such as x * sigmoid(x)"
ACTIVATION = Path(activation.__file__).parent  # the task's folder (its catalogue)


class Recording(Sandbox):
    """The real sandbox, keeping every candidate file each job was given (name -> source)."""

    def __init__(self, inner: Sandbox) -> None:
        self.inner = inner
        self.sent: list[tuple[str, str, str]] = []  # (job key, candidate name, source)
        self._lock = threading.Lock()

    def run(self, job: Job) -> RunResult:
        for mount in job.mounts:
            for path in sorted(Path(mount.source).glob("**/candidates/*.py")):
                with self._lock:
                    self.sent.append((job.key, path.stem, path.read_text()))
        return self.inner.run(job)

    def preflight(self) -> None:
        self.inner.preflight()

    def image_ref(self) -> str:
        return self.inner.image_ref()

    def reap_orphans(self) -> list[str]:
        return self.inner.reap_orphans()


def dashboard(folder: Path) -> Callable[[int], Starlette]:
    """The app of `hypoforge serve FOLDER --who ada@web` on loopback, for a given port."""
    return lambda port: make_app(
        [folder],
        token=secrets.token_urlsafe(24),
        require_token=False,
        read_only=False,
        who=WHO,
        host="127.0.0.1",
        port=port,
    )


def answer(page: Browser) -> str:
    """The steering reply the page shows (the status line) once the server has answered."""
    text, ok = page.wait_for(
        "(() => { const s = document.getElementById('steer-status');"
        " return s.textContent && s.textContent !== 'sending...'"
        " && [s.textContent, s.classList.contains('ok')]; })()"
    )
    assert ok, f"the server refused: {text}"
    return str(text)


def stuck(page: Browser, ledger: Ledger, cid: str) -> str:
    """What the campaign and the page show, for a campaign that did not finish in time."""
    stages = {r.id: r.stage for r in ledger.hypotheses(cid)}
    events = [f"{w} {k} {d[:100]}" for w, k, d in ledger.events(cid)[-12:]]
    queue = page.evaluate("document.querySelector('[data-part=queue]').innerText")
    head = ["the campaign did not finish in time", f"stages: {stages}", "latest events:"]
    tail = [f"the page's queue: {queue[:600]}", f"page errors: {page.errors}"]
    return "\n".join([*head, *events, *tail])


QUEUED_IDS = """[...document.querySelectorAll(
  '[data-part=queue] button[data-action=veto][data-hypothesis]')].map(b => b.dataset.hypothesis)"""


def test_steering_a_running_campaign_from_the_browser(docker_sandbox, settings, tmp_path):
    started = time.monotonic()
    folder = tmp_path / "camp"
    # Two rounds of two: the catalogue's ELU as a reference point (r0-0: trusted code that
    # always screens, so the leaderboard gets a scored row) and three proposals of the LLM;
    # the directive, given while round 0 waits for approvals, reaches round 1's proposer.
    budgets = CampaignSettings(proposals=4, batch=2, full_top_k=0, approve=True)
    info = campaign.create(folder, "activation", budgets)
    references.seed(folder, references.find(ACTIVATION, "ELU", budgets))
    box = Recording(docker_sandbox)
    ev = ActivationEvaluator(
        box,
        settings.home,
        settings.sandbox.limits,
        splits=[datasets.split("iris", 0)],
        wall_seconds=60,
    )
    ledger = Ledger(folder / "ledger.sqlite")
    llm = LLMSettings()
    grammars = {**ev.grammars(), "critic": grammar("verdict")}
    with (
        embedded_server(llm.model, log=folder / "llm.log") as url,
        serve(dashboard(folder)) as base,
        Browser(timeout=60) as page,
    ):
        models = {r: make_chat_model(llm, url, r, grammars.get(r)) for r in ROLES}
        told = SystemPrompts()
        models["proposer"].callbacks = [told]
        outcome: dict = {}

        def run() -> None:
            try:
                with Heartbeat(folder, workers=1) as beat:
                    services = campaign.Services(ev, models, retries=1)
                    outcome["state"] = campaign.run(
                        folder, services, notify=beat.update, poll_seconds=0.05
                    )
            except BaseException as exc:  # reported by the test below
                outcome["error"] = exc

        thread = threading.Thread(target=run, daemon=True)
        thread.start()

        page.navigate(f"{base}/c/{info.id}")
        page.evaluate("window.hfMarker = 'the first load'")  # gone if the page ever reloads
        loads = page.loads
        updates = int(page.evaluate("Number(document.body.dataset.updates || 0)"))

        # The first hypothesis to wait for a launch shows in the queue (round 0 is held there
        # until each of its validated hypotheses has a decision).
        page.wait_for(QUEUED_IDS + ".length > 0", timeout=300)

        # A directive from the page's form, while round 0 waits.
        page.select("#directive-form select[name=agent]", "proposer")
        page.type("#directive-form textarea[name=text]", DIRECTIVE)
        page.click("#directive-form [type=submit]")
        assert answer(page).startswith("directive #1 to the proposer")
        assert (WHO, "directive") in [(w, k) for w, k, _ in ledger.events(info.id)]
        prompts_before = len(told.seen)

        # Decisions from the page until the campaign ends: the first proposal of the LLM is
        # vetoed, the reference and every other hypothesis approved. A decision holds for the
        # code it was made on: a hypothesis repaired after its approval is queued again.
        decided: dict[tuple[str, str | None], str] = {}
        deadline = time.monotonic() + 600
        while thread.is_alive():
            assert time.monotonic() < deadline, stuck(page, ledger, info.id)
            for qid in page.evaluate(QUEUED_IDS):
                row = ledger.hypothesis(info.id, qid)
                assert row is not None, qid
                if (qid, row.code_sha) in decided or row.stage != "coded":
                    continue
                veto = "veto" not in decided.values() and qid != references.PLACE
                decision = "veto" if veto else "approve"
                button = f'button[data-action={decision}][data-hypothesis="{qid}"]'
                page.click(f"[data-part=queue] {button}")
                assert answer(page).startswith(f"{qid}: {decision} recorded")
                decided[qid, row.code_sha] = decision
            time.sleep(0.2)
        assert "error" not in outcome, outcome.get("error")
        vetoed = [h for (h, _), d in decided.items() if d == "veto"]
        assert vetoed, "no proposal of the LLM passed the critic and the validator"
        hid = vetoed[0]

        # The leaderboard part shows a scored hypothesis, swapped in by the live feed.
        scored = {r.id for r in ledger.hypotheses(info.id) if r.screen_win_rate is not None}
        assert references.PLACE in scored
        selector = " ,".join(f'[data-part=leaderboard] [data-hypothesis="{h}"]' for h in scored)
        page.wait_for(f"document.querySelector('{selector}') !== null", timeout=30)
        page.wait_for(f"Number(document.body.dataset.updates) > {updates}", timeout=30)
        # The veto shows on the same page: under "not run", and in the event log with who.
        notrun = f'[data-part=notrun] [data-hypothesis="{hid}"]'
        page.wait_for(f"document.querySelector('{notrun}') !== null")
        page.wait_for(
            "[...document.querySelectorAll('[data-part=events] tr[data-event]')]"
            f".some(tr => tr.innerText.includes('{WHO}') && tr.innerText.includes('veto'))"
        )
        assert page.evaluate("window.hfMarker") == "the first load"
        assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
        assert page.loads == loads
        shot = page.screenshot(tmp_path / "dashboard.png")
        errors = list(page.errors)

    width, height = png_size(shot)
    assert width == 1280 and height >= 900 and shot.stat().st_size > 20_000
    assert errors == [], errors  # no console error, failed load or CSP violation

    assert outcome["state"]["stop"] == "proposal budget reached (4/4)"
    rows = {r.id: r for r in ledger.hypotheses(info.id)}
    assert len(rows) == 4
    # The veto: its stage, its reason, and its code never sent to the sandbox.
    assert rows[hid].stage == "vetoed" and rows[hid].reason == f"vetoed by {WHO}"
    assert hid not in {h for _, h, _ in ledger.results(info.id)}
    code = (folder / "hypotheses" / f"{hid}.py").read_text()
    digest = hashlib.sha256(code.encode()).hexdigest()
    assert box.sent, "nothing reached the sandbox"
    reached = [
        key
        for key, name, src in box.sent
        if name == hid or hashlib.sha256(src.encode()).hexdigest() == digest
    ]
    assert reached == [], f"the vetoed {hid} reached the sandbox in {reached}"
    assert any(name == references.PLACE for _, name, _ in box.sent)  # what was approved ran
    # The directive reached the proposer's prompts after it was given (round 1's).
    assert told.seen[prompts_before:], "no proposal round after the directive"
    assert all(DIRECTIVE in p for p in told.seen[prompts_before:])
    # Every page action is a ledger event with the server's who.
    mine = [(k, d) for w, k, d in ledger.events(info.id) if w == WHO]
    assert [k for k, _ in mine].count("directive") == 1
    assert sum(k in ("veto", "approve") for k, _ in mine) == len(decided)
    assert [k for k, d in mine if k == "veto" and hid in d] == ["veto"]
    ledger.close()
    print(f"the browser test took {time.monotonic() - started:.0f} s")
