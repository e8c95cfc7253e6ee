"""Steering a campaign from the dashboard: the same store and checks as ``hypoforge chat``
(``store.steering``), one request at a time, each a ledger event with who.

``steer(folder, action, body, who)`` applies one request and returns its reply line, or raises
``ConfigError`` (its subclasses ``Unknown`` and ``Refused`` carry 404 and 409) with one line for
the page. The campaign picks requests up at its next round or before its next launch.
"""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from hypoforge import campaign
from store.ledger import Ledger
from store.steering import AGENTS, BUDGETS, DECISIONS, QUEUED, Steering

ACTIONS = ("directive", "decide", "control", "budget")
CONTROLS = ("pause", "resume", "stop")
MAX_TEXT = 4000  # characters of a directive or a note
MAX_ID = 2**63 - 1  # a directive's number is an SQLite integer


class Unknown(ConfigError):
    """The request names something this campaign does not have."""

    status = 404


class Refused(ConfigError):
    """The request is well formed but the campaign cannot take it now."""

    status = 409


def status_of(exc: ConfigError) -> int:
    return int(getattr(exc, "status", 400))


def steer(folder: Path, action: str, body: dict[str, Any], who: str) -> str:
    """Apply one steering request to the campaign in ``folder``; the reply, one line."""
    if action not in ACTIONS:
        raise Unknown(f"unknown action {action[:40]!r}; actions: {', '.join(ACTIONS)}")
    info = _info(folder)
    path = folder / "ledger.sqlite"
    if not path.is_file():
        raise Refused("this campaign has no ledger yet: start it with hypoforge run")
    try:
        ledger = Ledger(path)
    except sqlite3.Error as exc:
        raise Refused(f"cannot open the campaign's ledger: {exc}") from None
    try:
        steering = Steering(ledger, info.id)
        _refuse_ended(ledger, steering, info.id)
        if action == "directive":
            return _directive(steering, body, who)
        if action == "decide":
            return _decide(ledger, steering, info.id, body, who)
        if action == "control":
            return _control(steering, body, who)
        return _budget(steering, info, body, who)
    except sqlite3.Error as exc:
        raise Refused(f"the campaign's ledger refused the request: {exc}") from None
    finally:
        ledger.close()


def _info(folder: Path) -> campaign.CampaignInfo:
    """The campaign's campaign.json, read without ``campaign.load`` (which puts the campaign's
    task folder on this process's HYPOFORGE_TASKS: a server over many campaigns must not let
    one steer where another's task is found)."""
    meta = folder / "campaign.json"
    try:
        return campaign.CampaignInfo.model_validate_json(meta.read_bytes())
    except FileNotFoundError:
        raise Refused(f"no campaign in {folder} (no campaign.json)") from None
    except (OSError, ValueError) as exc:
        first = (str(exc).splitlines() or [""])[0]
        raise Refused(f"campaign.json is damaged: {first}"[:300]) from None


def _refuse_ended(ledger: Ledger, steering: Steering, cid: str) -> None:
    stopped = steering.stopped_by()
    if stopped is not None:
        raise Refused(f"the campaign was stopped by {stopped[:80]}: it takes no more steering")
    for who, _, detail in ledger.events(cid, "stop"):
        if who == "orchestrator":
            raise Refused(f"the campaign has finished ({detail[:120]}): it takes no more steering")


def _text(body: dict[str, Any], key: str, required: bool = True) -> str:
    value = body.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be text")
    if required and not value.strip():
        raise ConfigError(f"say the {key}")
    if len(value) > MAX_TEXT:
        raise ConfigError(f"{key} is too long ({len(value)} characters; at most {MAX_TEXT})")
    return value


def _directive(steering: Steering, body: dict[str, Any], who: str) -> str:
    if "withdraw" in body:
        number = body["withdraw"]
        if isinstance(number, str) and number.lstrip("#").isdigit():
            number = int(number.lstrip("#"))
        if not isinstance(number, int) or isinstance(number, bool) or not 0 < number <= MAX_ID:
            raise ConfigError("withdraw: the directive's number")
        if not steering.withdraw(number, who):
            raise Unknown(f"no standing directive #{number}")
        return f"directive #{number} withdrawn"
    agent = _text(body, "agent")
    if agent not in AGENTS:
        raise ConfigError(f"unknown agent {agent[:40]!r}; agents: {', '.join(AGENTS)}")
    did = steering.direct(agent, _text(body, "text"), who)
    return f"directive #{did} to the {agent} stands until withdrawn"


def _decide(ledger: Ledger, steering: Steering, cid: str, body: dict[str, Any], who: str) -> str:
    hid = _text(body, "hypothesis")
    decision = _text(body, "decision")
    if decision not in DECISIONS:
        raise ConfigError(f"unknown decision {decision[:40]!r}; one of: {', '.join(DECISIONS)}")
    note = _text(body, "note", required=decision == "revise")
    row = ledger.hypothesis(cid, hid)
    if row is None:
        raise Unknown(f"no hypothesis {hid[:80]!r} in this campaign")
    if row.stage not in QUEUED:
        raise Refused(f"{row.id} is not awaiting a launch (stage {row.stage})")
    steering.decide(row.id, decision, who, note.strip(), row.code_sha)
    return f"{row.id}: {decision} recorded; the campaign applies it before the launch"


def _finite(key: str, value: Any) -> Any:
    """A budget as the page sent it, refused unless it is a finite number (or text of one): NaN
    would pass every comparison with the start (a budget never reached), inf is no number of
    proposals, and true is not 1."""
    number = value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"budget {key} must be a number, got {value[:40]!r}") from None
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise ConfigError(f"budget {key} must be a number, got {str(value)[:40]!r}")
    if isinstance(number, float) and not math.isfinite(number):
        raise ConfigError(f"budget {key} must be a finite number")
    return value


def _control(steering: Steering, body: dict[str, Any], who: str) -> str:
    command = _text(body, "command")
    if command not in CONTROLS:
        raise ConfigError(f"unknown command {command[:40]!r}; one of: {', '.join(CONTROLS)}")
    steering.request(command, who)
    return {
        "pause": "pause requested: the campaign pauses at the next round (resume continues it)",
        "resume": "resume requested",
        "stop": "stop requested: the campaign ends at the next round",
    }[command]


def _budget(steering: Steering, info: campaign.CampaignInfo, body: dict[str, Any], who: str) -> str:
    unknown = [k for k in body if k not in BUDGETS]
    if unknown:
        raise ConfigError(f"unknown budget {unknown[0][:40]!r}; budgets: {', '.join(BUDGETS)}")
    values = {k: _finite(k, v) for k, v in body.items() if v is not None and v != ""}
    steering.request("budget", who, values)
    now = steering.budgets(info.budgets)
    return (
        f"budgets now: {now.proposals} proposals, {now.hours:g} h, {now.tokens} tokens "
        "(never above those set at the start)"
    )
