"""The dashboard's read model: what a page shows of a campaign folder, read with its own SQL.

Reading never writes and never runs hypothesis code: the ledger is opened read-only
(``mode=ro``), per call and briefly, with a busy timeout of ``BUSY_SECONDS``; the heartbeat comes
from ``hypoforge.heartbeat.read``; a hypothesis's code is read as text from
``hypotheses/<id>.py`` (an id the ledger holds, never a path from a URL). Lists are built from
plain SQL rows (no ``HypothesisRow`` per row: 10,000 of them cost more than a page may take),
aggregated and limited in SQL.

Every method is total: a folder whose campaign.json or ledger is missing, damaged, locked for
longer than ``BUSY_SECONDS`` or of a shape this release cannot read gives state "unreadable" with
a one-line ``problem`` in ``summary()``, and ``Unreadable`` (a ``HypoforgeError``) from the page
methods; no sqlite3, JSON or pydantic error leaves this module.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import shlex
import sqlite3
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import HypoforgeError
from core.settings import CampaignSettings
from hypoforge import heartbeat
from store.lifecycle import is_discovery

BUSY_SECONDS = 1.0  # how long a read waits on a writer's lock before the folder is unreadable
LEDGER = "ledger.sqlite"
META = "campaign.json"
CODE_CHARS = 1_000_000  # a hypothesis's code shown up to this many characters
DETAIL_CHARS = 4_000  # an event's detail shown up to this many characters
IDEA_CHARS = 300  # an idea in lists (the leaderboard, the tree, the queue) cut to this length
NOT_RUN_ROWS = 100  # rows shown per category of what was not run
SPEND_POINTS = 500  # spend over time: at most this many points
QUEUED_STAGES = ("coded", "probed", "selected")  # store.steering.QUEUED
NOT_RUN = ("invalid", "duplicate", "pruned", "vetoed", "known", "rejected", "failed")
LADDER_ORDER = ("one-pass", "short", "full")  # the default ladder's order, for rungs not in it


class Unreadable(HypoforgeError):
    """A campaign folder the dashboard cannot read now (its message: one line, why)."""


# What a damaged row (a NULL, a blob or text where a number belongs, JSON nested past the
# recursion limit) makes Python raise while a page's rows are turned into its records.
DAMAGE = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    RecursionError,
    UnicodeError,
)


def _total(method: Callable[..., Any]) -> Callable[..., Any]:
    """A page method whose rows may be damaged: what a damaged row raises becomes
    ``Unreadable``, one line, never an error of another kind."""

    @functools.wraps(method)
    def read(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Unreadable:
            raise
        except (sqlite3.Error, *DAMAGE) as exc:
            raise Unreadable(f"the ledger holds a damaged row: {_one_line(exc)}") from None

    return read


# -- what the pages get ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Summary:
    slug: str
    folder: Path
    id: str
    task: str
    state: str  # running, paused, waiting, stopped, finished, unreadable
    problem: str  # why unreadable ("" otherwise)
    proposals: int = 0
    budget_proposals: int | None = None
    tokens: int = 0
    budget_tokens: int | None = None
    cost: float | None = None
    budget_cost: float | None = None
    hours: float = 0.0
    budget_hours: float | None = None
    launches: int = 0
    workers_busy: int | None = None
    workers: int | None = None
    best_confirmed: tuple[str, float] | None = None
    best_screened: tuple[str, float] | None = None
    agents: dict[str, str] = field(default_factory=dict)
    stages: dict[str, int] = field(default_factory=dict)
    version: str = ""
    # Added: why the campaign stopped (the orchestrator's stop event), the hypothesis an approval
    # wait is on, and the kept / confirmed counts.
    stop_reason: str = ""
    waiting_for: str | None = None
    kept: int = 0
    confirmed: int = 0


@dataclass(frozen=True)
class Rung:
    budget: str
    win_rate: float
    lo: float | None
    hi: float | None


@dataclass(frozen=True)
class BoardRow:
    id: str
    idea: str
    stage: str
    parent: str | None
    predicted: float | None
    p_win: float | None
    win_rate: float  # on the highest rung reached (selection splits)
    rungs: tuple[Rung, ...]  # in ladder order
    kept: bool | None
    keep_bound: float | None  # not computed for lists (a bootstrap per row): see HypothesisView
    confirm: tuple[float | None, float | None, float | None] | None  # held-out (win rate, lo, hi)
    confirmation: str | None
    flags: tuple[str, ...]
    known: str | None
    citation: str | None
    outcome: str | None
    reason: str | None
    discovery: bool


@dataclass(frozen=True)
class Point:
    hours: float
    win_rate: float
    id: str


@dataclass(frozen=True)
class WinRates:
    points: list[Point]  # each scored hypothesis, in the order it was scored
    best: list[tuple[float, float]]  # (hours, best win rate so far), a step each new best


@dataclass(frozen=True)
class TreeNode:
    id: str
    parent: str | None
    idea: str
    outcome: str  # discovery, kept, scored, failed, not-run, queued
    win_rate: float | None
    depth: int


@dataclass(frozen=True)
class NotRunRow:
    id: str
    idea: str
    reason: str


@dataclass(frozen=True)
class EventRow:
    rowid: int
    at: float
    who: str
    kind: str
    detail: str


@dataclass(frozen=True)
class QueueRow:
    id: str
    idea: str
    stage: str
    code_sha: str | None
    decision: str | None  # the latest decision on its code as it stands (approve, veto, revise)


@dataclass(frozen=True)
class DirectiveRow:
    id: int
    agent: str
    text: str
    who: str
    created: float


@dataclass(frozen=True)
class DatasetView:
    dataset: str
    candidate: float | None
    baselines: dict[str, float]
    win_rate: float | None


@dataclass(frozen=True)
class ResultView:
    budget: str
    split_set: str | None  # selection, confirmation, hard (None: not recorded)
    status: str
    reason: str
    win_rate: float | None
    lo: float | None
    hi: float | None
    flags: tuple[str, ...]
    per_dataset: tuple[DatasetView, ...]
    cells: dict[str, float]  # the metric per "<dataset>-s<seed>" (per split)
    cell_win_rates: dict[str, float]  # the mean comparison per cell (what the keep rule uses)
    wall_seconds: float | None
    created: float


@dataclass(frozen=True)
class HypothesisView:
    id: str
    round: int
    idea: str
    stage: str
    mode: str
    outcome: str | None
    reason: str | None
    flags: tuple[str, ...]
    verdict: str | None
    critic_reasons: str | None  # the critic's verdict event's reasons
    p_win: float | None
    predicted: float | None
    win_rate: float | None  # the measurement on the highest rung reached
    kept: bool | None
    keep_bound: float | None  # the corrected lower bound at ALPHA/m, m measured now
    confirm_win_rate: float | None
    confirmation: str | None
    discovery: bool
    known: str | None
    citation: str | None
    duplicate_of: str | None
    parent: str | None
    children: tuple[str, ...]
    code: str | None
    edit_task: bool
    diff_parent: str | None
    diff_template: str | None
    results: tuple[ResultView, ...]  # oldest first
    probe_problem: str | None
    fingerprint: tuple[float, ...] | None
    curves: dict[str, list[tuple[float, float]]] | None  # None: no safe reader (see module doc)
    reproduce: str


# -- finding campaigns ----------------------------------------------------------------------------
def find_campaigns(dirs: list[Path]) -> list[Path]:
    """Campaign folders: each DIR that holds campaign.json, else its direct subfolders that do;
    sorted, each once; a folder that cannot be listed is skipped."""
    found: set[Path] = set()
    for d in dirs:
        try:
            if (d / META).is_file():
                found.add(d.resolve())
                continue
            for sub in d.iterdir():
                try:
                    if sub.is_dir() and (sub / META).is_file():
                        found.add(sub.resolve())
                except OSError:
                    continue
        except OSError:
            continue
    return sorted(found)


# -- SQL pieces -----------------------------------------------------------------------------------
# HypothesisRow.selection_win_rate in SQL (a damaged rungs text reads as no rungs).
def _sel(cols: set[str]) -> str:
    if "rungs" not in cols:
        return "COALESCE(full_win_rate, screen_win_rate)"
    return (
        "COALESCE(full_win_rate, CASE WHEN json_valid(rungs) THEN "
        "COALESCE(json_extract(rungs, '$.short'), json_extract(rungs, '$.\"one-pass\"')) END, "
        "screen_win_rate)"
    )


HYP_COLUMNS = (
    "id", "round", "mode", "idea", "code_sha", "stage", "verdict", "p_win", "outcome", "reason",
    "screen_win_rate", "full_win_rate", "repairs", "updated", "predicted", "duplicate_of", "rungs",
    "kept", "confirm_win_rate", "confirmation", "flags", "known", "citation", "parent",
)  # fmt: skip


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


class _Rows(list):
    """A query's rows, fetched at once (``fetchone`` / ``fetchall`` / iteration)."""

    def fetchone(self) -> Any:
        return self[0] if self else None

    def fetchall(self) -> list[Any]:
        return list(self)


class _Conn(sqlite3.Connection):
    """A connection whose ``execute`` fetches every row at once, decoding text with SQLite's own
    (fast) UTF-8 decoder and, for a query that meets bytes that are not UTF-8 (a damaged
    ledger), again with the replacement character for them."""

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        try:
            return _Rows(super().execute(sql, parameters).fetchall())
        except sqlite3.OperationalError as exc:
            if "decode" not in str(exc) or self.text_factory is _text:
                raise
        self.text_factory = _text
        return _Rows(super().execute(sql, parameters).fetchall())


def _json(text: Any, default: Any) -> Any:
    if not isinstance(text, str) or not text:
        return default
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return default


def _str(value: Any) -> str:
    """Text that came through ``json.loads`` (a JSON escape may make a lone surrogate), as UTF-8
    can carry it."""
    return str(value).encode("utf-8", "replace").decode("utf-8")


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def _pair(value: Any) -> tuple[float | None, float | None]:
    if isinstance(value, list | tuple) and len(value) == 2:
        return _num(value[0]), _num(value[1])
    return None, None


def _flags(text: Any) -> tuple[str, ...]:
    found = _json(text, [])
    return tuple(_str(f) for f in found) if isinstance(found, list) else ()


def _rungs(text: Any) -> dict[str, float]:
    return _floats(_json(text, {}))


def _floats(found: Any) -> dict[str, float]:
    """A JSON object's finite numbers by key ({} for anything else)."""
    if not isinstance(found, dict):
        return {}
    out = {}
    for key, raw in found.items():
        value = _num(raw)
        if value is not None:
            out[_str(key)] = value
    return out


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


# -- what is read once of the append-only tables ---------------------------------------------------
# The spend, events and results tables only grow: what a reader folded from their rows up to some
# rowid is kept here per ledger file (path, device, inode) and campaign, and the next read folds
# only the rows after it (a range of rowids: no scan). A ledger replaced by another file, or a
# table that shrank, starts again. At most TAILS entries, each of bounded size.
TAILS = 256
_TAILS: OrderedDict[tuple[Any, ...], tuple[int, Any]] = OrderedDict()
_TAILS_LOCK = threading.Lock()


def _tail(
    db: sqlite3.Connection,
    key: tuple[Any, ...],
    table: str,
    select: str,
    cid: str,
    init: Callable[[], Any],
    fold: Callable[[Any, list[Any]], Any],
) -> Any:
    """The state folded over ``table``'s rows of campaign ``cid`` (``select``: their columns, a
    query with placeholders for the campaign and a rowid range), reading only the rows not folded
    before. ``fold(state, rows)`` returns a new state (states are shared between threads)."""
    top = db.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0] or 0
    with _TAILS_LOCK:
        found = _TAILS.get(key)
    upto, state = (0, init()) if found is None or found[0] > top else found
    if top > upto:
        rows = db.execute(select, (cid, upto, top)).fetchall()
        state = fold(state, rows)
    with _TAILS_LOCK:
        _TAILS[key] = (top, state)
        _TAILS.move_to_end(key)
        while len(_TAILS) > TAILS:
            _TAILS.popitem(last=False)
    return state


# (kept points, stride, rows folded, the latest point): one (time, cumulative tokens, cumulative
# launches) point kept every ``stride`` rows; when more than 4 * SPEND_POINTS are kept, every
# other one goes and the stride doubles, so the kept points stay evenly spread over the rows.
SpendState = tuple[tuple[tuple[float, int, int], ...], int, int, tuple[float, int, int] | None]


def _fold_spend(state: SpendState, rows: list[Any]) -> SpendState:
    kept, stride, n, last = list(state[0]), state[1], state[2], state[3]
    tokens, launches = (last[1], last[2]) if last is not None else (0, 0)
    for at, tk, ln in rows:
        tokens += int(tk or 0)
        launches += int(ln or 0)
        last = (float(at or 0.0), tokens, launches)
        if n % stride == 0:
            kept.append(last)
            if len(kept) > 4 * SPEND_POINTS:
                kept = kept[::2]
                stride *= 2
        n += 1
    return tuple(kept), stride, n, last


RUN_EVENTS = ("start", "resume", "stop", "wait")  # the orchestrator's events the state rests on


def _fold_latest(latest: dict[str, tuple[int, str]], rows: list[Any]) -> dict[str, tuple[int, str]]:
    """Kind -> (rowid, detail) of the latest orchestrator event of each of ``RUN_EVENTS``."""
    out = dict(latest)
    for rowid, kind, detail in rows:
        out[str(kind)] = (int(rowid), str(detail))
    return out


def _fold_who(seen: frozenset[str], rows: list[Any]) -> frozenset[str]:
    return seen | {str(r[0]) for r in rows}


def _fold_first(first: dict[str, float], rows: list[Any]) -> dict[str, float]:
    """Hypothesis -> when its first result with a win rate was recorded."""
    out = dict(first)
    for hid, created in rows:
        at = float(created or 0.0)
        if hid not in out or at < out[hid]:
            out[hid] = at
    return out


# -- the reader -----------------------------------------------------------------------------------
class CampaignReader:
    """What the dashboard reads of one campaign folder. Cheap to make; holds no connection."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._info: Any = None
        self._info_key: tuple[int, int] | None = None
        self._info_problem = ""
        self._task: tuple[bool, str | None, str | None] | None = None
        self._hooks: Any = False  # a built-in task's ProbeCurves hooks, None, or False: not read

    # -- campaign.json ----------------------------------------------------------------------------
    def _load_info(self) -> Any:
        """The campaign's ``CampaignInfo`` (re-read when the file changes), or None with
        ``_info_problem`` set. ``campaign.load`` is not used: it changes this process's
        HYPOFORGE_TASKS."""
        from hypoforge.campaign import CampaignInfo

        meta = self.folder / META
        try:
            st = meta.stat()
            key = (st.st_mtime_ns, st.st_size)
            if key == self._info_key:
                return self._info
            info = CampaignInfo.model_validate_json(meta.read_bytes())
            self._info, self._info_key, self._info_problem = info, key, ""
        except FileNotFoundError:
            self._info, self._info_key = None, None
            self._info_problem = "no campaign.json"
        except (OSError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
            self._info, self._info_key = None, None
            first = _one_line(exc).split(" For further information")[0]
            self._info_problem = f"campaign.json is damaged: {first}"[:300]
        return self._info

    @property
    def slug(self) -> str:
        info = self._load_info()
        return info.id if info is not None else self.folder.name

    def _need_info(self) -> Any:
        info = self._load_info()
        if info is None:
            raise Unreadable(self._info_problem)
        return info

    # -- the ledger -------------------------------------------------------------------------------
    @contextmanager
    def _db(self) -> Iterator[tuple[sqlite3.Connection, str, set[str], set[str]]]:
        """A read-only connection in one read transaction: (db, campaign id, the hypotheses
        table's columns, the tables). Every failure becomes ``Unreadable``."""
        info = self._need_info()
        path = self.folder / LEDGER
        if not path.is_file():
            raise Unreadable("no ledger yet (ledger.sqlite is missing)")
        uri = f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro"
        try:
            db = sqlite3.connect(
                uri,
                uri=True,
                timeout=BUSY_SECONDS,
                isolation_level=None,
                check_same_thread=False,
                factory=_Conn,
            )
        except sqlite3.Error as exc:
            raise Unreadable(f"the ledger cannot be opened: {_one_line(exc)}") from None
        try:
            db.execute(f"PRAGMA busy_timeout = {int(BUSY_SECONDS * 1000)}")
            db.execute("BEGIN")
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "hypotheses" not in tables or "events" not in tables:
                raise Unreadable("the ledger has no hypotheses or events table: not a campaign's")
            cols = {r[1] for r in db.execute("PRAGMA table_info(hypotheses)")}
            yield db, info.id, cols, tables
        except Unreadable:
            raise
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise Unreadable(f"the ledger is locked by a writer: {_one_line(exc)}") from None
            raise Unreadable(f"the ledger cannot be read: {_one_line(exc)}") from None
        except (sqlite3.Error, *DAMAGE) as exc:
            raise Unreadable(f"the ledger cannot be read: {_one_line(exc)}") from None
        except OSError as exc:
            raise Unreadable(f"the campaign folder cannot be read: {_one_line(exc)}") from None
        finally:
            with suppress(sqlite3.Error):
                db.close()

    def _ledger_key(self, db: sqlite3.Connection, cid: str, what: str) -> tuple[Any, ...]:
        """Which ledger file a fold is of: its path, device and inode, and its first event's
        time (a new file may reuse an old one's inode)."""
        path = (self.folder / LEDGER).resolve()
        st = path.stat()
        first = db.execute("SELECT at FROM events ORDER BY rowid LIMIT 1").fetchone()
        return (str(path), st.st_dev, st.st_ino, first, cid, what)

    @staticmethod
    def _hyp_cols(cols: set[str], wanted: tuple[str, ...]) -> str:
        """``wanted`` as a select list; a column an older ledger lacks reads as NULL."""
        return ", ".join(c if c in cols else f"NULL AS {c}" for c in wanted)

    # -- version ----------------------------------------------------------------------------------
    def version(self) -> str:
        """A short token that changes whenever anything a page shows changes; never raises
        ("unreadable:<reason>")."""
        try:
            with self._db() as (db, cid, _cols, tables):
                return self._version(db, cid, tables)
        except Unreadable as exc:
            return f"unreadable:{exc}"
        except Exception as exc:
            return f"unreadable:{_one_line(exc)}"

    def _version(self, db: sqlite3.Connection, cid: str, tables: set[str]) -> str:
        parts: list[Any] = []
        parts.append(db.execute("SELECT max(rowid) FROM events").fetchone()[0])
        parts.append(db.execute("SELECT count(*), max(updated) FROM hypotheses").fetchone())
        for table in ("results", "spend", "directives", "controls", "decisions", "probes"):
            if table in tables:
                parts.append(db.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0])
        if "usage" in tables:
            parts.append(db.execute("SELECT tokens, launches FROM usage").fetchall())
        beat = heartbeat.read(self.folder)
        if beat is not None:
            parts.append(
                json.dumps(
                    [beat.get("agents"), beat.get("busy"), beat.get("workers")],
                    sort_keys=True,
                    default=str,
                )
            )
        else:
            parts.append("not running")
        parts.append(self._files_key())
        parts.append(self._info_key)
        blob = json.dumps(parts, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def _files_key(self) -> list[Any]:
        out: list[Any] = []
        for name in self._figure_names():
            try:
                out.append((name, (self.folder / "report" / name).stat().st_mtime_ns))
            except OSError:
                continue
        with suppress(OSError):
            out.append(("paper", (self.folder / "paper" / "paper.pdf").stat().st_mtime_ns))
        return out

    # -- summary ----------------------------------------------------------------------------------
    def summary(self) -> Summary:
        """The campaigns page's line and the campaign page's head; state "unreadable" (with its
        ``problem``) instead of an error."""
        info = self._load_info()
        if info is None:
            return Summary(
                slug=self.slug,
                folder=self.folder,
                id="",
                task="",
                state="unreadable",
                problem=self._info_problem,
                version=f"unreadable:{self._info_problem}",
            )
        try:
            with self._db() as (db, cid, cols, tables):
                return self._summary(db, cid, cols, tables, info)
        except Unreadable as exc:
            problem = str(exc)
        except Exception as exc:
            problem = f"the campaign cannot be read: {_one_line(exc)}"
        return Summary(
            slug=self.slug,
            folder=self.folder,
            id=info.id,
            task=info.task,
            state="unreadable",
            problem=problem,
            version=f"unreadable:{problem}",
        )

    def _budgets(self, db: sqlite3.Connection, cid: str, tables: set[str], start: Any) -> Any:
        """The budgets in force (``Steering.budgets``): the latest requests, clamped to the
        start's."""
        if "controls" not in tables:
            return start
        from store.steering import budgets_in_force

        requests = []
        for (value,) in db.execute(
            "SELECT value FROM controls WHERE campaign = ? AND command = 'budget' ORDER BY id",
            (cid,),
        ):
            found = _json(value, {})
            if isinstance(found, dict):  # what a damaged row holds is left out
                requests.append(
                    {
                        k: v
                        for k, v in found.items()
                        if _num(v) is not None and k in CampaignSettings.model_fields
                    }
                )
        try:
            return budgets_in_force(start, requests)
        except (TypeError, ValueError):
            return start

    def _paused(self, db: sqlite3.Connection, cid: str, tables: set[str]) -> bool:
        if "controls" not in tables:
            return False
        row = db.execute(
            "SELECT command FROM controls WHERE campaign = ? AND command IN ('pause', 'resume') "
            "ORDER BY id DESC LIMIT 1",
            (cid,),
        ).fetchone()
        return row is not None and row[0] == "pause"

    def _latest(self, db: sqlite3.Connection, cid: str) -> dict[str, tuple[int, str]]:
        """The latest orchestrator event of each of ``RUN_EVENTS``: kind -> (rowid, detail)."""
        marks = ", ".join(f"'{k}'" for k in RUN_EVENTS)
        found: dict[str, tuple[int, str]] = _tail(
            db,
            self._ledger_key(db, cid, "run events"),
            "events",
            "SELECT rowid, kind, detail FROM events WHERE +campaign = ? AND rowid > ? "
            f"AND rowid <= ? AND who = 'orchestrator' AND kind IN ({marks}) ORDER BY rowid",
            cid,
            dict,
            _fold_latest,
        )
        return found

    def _waiting_for(self, db: sqlite3.Connection, cid: str, tables: set[str]) -> str | None:
        """The hypothesis of the latest approval wait, while no decision on its code as it stands
        and no stop answers it (``campaign._wait_for_user``'s test)."""
        latest = self._latest(db, cid)
        row = latest.get("wait")
        if row is None:
            return None
        if any(latest[k][0] > row[0] for k in ("start", "resume", "stop") if k in latest):
            return None
        asked = _json(row[1], {})
        if not isinstance(asked, dict) or asked.get("kind") != "approve":
            return None
        hid = asked.get("hypothesis")
        if not isinstance(hid, str):
            return None
        hid = _str(hid)
        if (
            "controls" in tables
            and db.execute(
                "SELECT 1 FROM controls WHERE campaign = ? AND command = 'stop' LIMIT 1", (cid,)
            ).fetchone()
        ):
            return None
        sha = db.execute(
            "SELECT code_sha FROM hypotheses WHERE campaign = ? AND id = ?", (cid, hid)
        ).fetchone()
        if (
            "decisions" in tables
            and db.execute(
                "SELECT 1 FROM decisions WHERE campaign = ? AND hypothesis = ? AND code_sha IS ? "
                "LIMIT 1",
                (cid, hid, None if sha is None else sha[0]),
            ).fetchone()
        ):
            return None
        return hid

    def _summary(
        self, db: sqlite3.Connection, cid: str, cols: set[str], tables: set[str], info: Any
    ) -> Summary:
        budgets = self._budgets(db, cid, tables, info.budgets)
        stages = {
            str(s): int(n)
            for s, n in db.execute(
                "SELECT stage, count(*) FROM hypotheses WHERE campaign = ? GROUP BY stage", (cid,)
            )
        }
        tokens, launches = 0, 0
        if "usage" in tables:
            row = db.execute(
                "SELECT tokens, launches FROM usage WHERE campaign = ?", (cid,)
            ).fetchone()
            if row is not None:
                tokens, launches = int(row[0] or 0), int(row[1] or 0)
        price = budgets.price_per_million_tokens
        cost = tokens * price / 1e6 if price is not None else None
        first, last = db.execute(
            "SELECT (SELECT min(at) FROM events WHERE campaign = ? AND kind = 'start'), "
            "(SELECT max(at) FROM events WHERE campaign = ?)",
            (cid, cid),
        ).fetchone()
        beat = heartbeat.read(self.folder)
        # The state: the heartbeat says running; the orchestrator's latest start, resume or stop
        # says whether a stopped run ended (finished) or was stopped or killed.
        latest = self._latest(db, cid)
        runs = [(latest[k][0], k, latest[k][1]) for k in ("start", "resume", "stop") if k in latest]
        last_run = max(runs)[1:] if runs else None
        stop_reason = last_run[1] if last_run is not None and last_run[0] == "stop" else ""
        waiting = None
        if beat is not None:
            waiting = self._waiting_for(db, cid, tables)
            if waiting is not None:
                state = "waiting"
            elif self._paused(db, cid, tables):
                state = "paused"
            else:
                state = "running"
        elif stop_reason and not stop_reason.startswith("stopped by"):
            state = "finished"
        else:
            state = "stopped"
        end = time.time() if beat is not None else last
        hours = max(0.0, (end - first) / 3600) if first is not None and end is not None else 0.0
        sel = _sel(cols)
        flags_ok = "(flags IS NULL OR flags IN ('', '[]'))" if "flags" in cols else "1"
        best = db.execute(
            f"SELECT id, {sel} AS w FROM hypotheses WHERE campaign = ? AND w IS NOT NULL "
            f"AND stage != 'duplicate' AND (outcome IS NULL OR outcome = 'ok') AND {flags_ok} "
            "ORDER BY w DESC, id LIMIT 1",
            (cid,),
        ).fetchone()
        confirmed_best = None
        kept = confirmed = 0
        if {"kept", "confirmation", "known", "confirm_win_rate"} <= cols:
            row = db.execute(
                "SELECT id, confirm_win_rate FROM hypotheses WHERE campaign = ? AND kept = 1 "
                "AND confirmation = 'confirmed' AND known IS NULL "
                "ORDER BY confirm_win_rate DESC, id LIMIT 1",
                (cid,),
            ).fetchone()
            if row is not None and _num(row[1]) is not None:
                confirmed_best = (str(row[0]), float(row[1]))
            kept, confirmed = db.execute(
                "SELECT count(*) FILTER (WHERE kept = 1), count(*) FILTER (WHERE kept = 1 AND "
                "confirmation = 'confirmed' AND known IS NULL) FROM hypotheses WHERE campaign = ?",
                (cid,),
            ).fetchone()
        agents = beat.get("agents") if beat is not None else None
        return Summary(
            slug=self.slug,
            folder=self.folder,
            id=info.id,
            task=info.task,
            state=state,
            problem="",
            proposals=sum(stages.values()),
            budget_proposals=budgets.proposals,
            tokens=tokens,
            budget_tokens=budgets.tokens,
            cost=cost,
            budget_cost=budgets.cost,
            hours=hours,
            budget_hours=budgets.hours,
            launches=launches,
            workers_busy=_int_or_none(beat.get("busy")) if beat is not None else None,
            workers=_int_or_none(beat.get("workers")) if beat is not None else None,
            best_confirmed=confirmed_best,
            best_screened=(str(best[0]), float(best[1]))
            if best and _num(best[1]) is not None
            else None,
            agents={_str(k): _str(v) for k, v in agents.items()}
            if isinstance(agents, dict)
            else {},
            stages=stages,
            version=self._version(db, cid, tables),
            stop_reason=str(stop_reason),
            waiting_for=waiting,
            kept=int(kept or 0),
            confirmed=int(confirmed or 0),
        )

    # -- the leaderboard --------------------------------------------------------------------------
    def _ladder(self) -> tuple[str, ...]:
        info = self._load_info()
        ladder = tuple(info.budgets.ladder) if info is not None else ()
        return ladder + tuple(b for b in LADDER_ORDER if b not in ladder)

    @_total
    def leaderboard(self, limit: int = 50) -> list[BoardRow]:
        """The best ``limit`` measured hypotheses by their selection win rate (duplicates left
        out: they reuse their original's result), each with its rungs and their 95% intervals,
        its keep decision and its held-out confirmation."""
        with self._db() as (db, cid, cols, tables):
            sel = _sel(cols)
            wanted = (
                "id", "idea", "stage", "parent", "predicted", "p_win", "rungs", "kept",
                "confirm_win_rate", "confirmation", "flags", "known", "citation", "outcome",
                "reason",
            )  # fmt: skip
            rows = db.execute(
                f"SELECT {self._hyp_cols(cols, wanted)}, {sel} AS w FROM hypotheses "
                "WHERE campaign = ? AND w IS NOT NULL AND stage != 'duplicate' "
                "ORDER BY w DESC, id LIMIT ?",
                (cid, max(0, int(limit))),
            ).fetchall()
            bounds = self._bounds(db, cid, tables, [r[0] for r in rows])
        ladder = self._ladder()
        out = []
        for r in rows:
            (hid, idea, stage, parent, predicted, p_win, rungs_text, kept, cwr, conf, flags_text,
             known, citation, outcome, reason, w) = r  # fmt: skip
            rungs = _rungs(rungs_text)
            mine = bounds.get(hid, {})
            order = sorted(
                rungs, key=lambda b: (ladder.index(b) if b in ladder else len(ladder), b)
            )
            confirm = None
            if cwr is not None or "confirmation" in mine:
                lo, hi = mine.get("confirmation", (None, None))
                confirm = (_num(cwr), lo, hi)
            out.append(
                BoardRow(
                    id=hid,
                    idea=idea[:IDEA_CHARS],
                    stage=stage,
                    parent=parent,
                    predicted=_num(predicted),
                    p_win=_num(p_win),
                    win_rate=float(w),
                    rungs=tuple(Rung(b, rungs[b], *mine.get(b, (None, None))) for b in order),
                    kept=None if kept is None else bool(kept),
                    keep_bound=None,
                    confirm=confirm,
                    confirmation=conf,
                    flags=_flags(flags_text),
                    known=known,
                    citation=citation,
                    outcome=outcome,
                    reason=reason,
                    discovery=is_discovery(kept, conf, known),
                )
            )
        return out

    def _bounds(
        self, db: sqlite3.Connection, cid: str, tables: set[str], ids: list[str]
    ) -> dict[str, dict[str, tuple[float | None, float | None]]]:
        """Per hypothesis, per budget (or "confirmation" for the held-out run): the 95% interval
        of its latest result with a win rate."""
        if not ids or "results" not in tables:
            return {}
        out: dict[str, dict[str, tuple[float | None, float | None]]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            found = db.execute(
                "SELECT hypothesis, budget, "
                "CASE WHEN json_valid(report) THEN json_extract(report, '$.split_set') END, "
                "CASE WHEN json_valid(report) THEN json_extract(report, '$.win_rate_ci') END "
                f"FROM results WHERE campaign = ? AND hypothesis IN ({marks}) "
                "AND win_rate IS NOT NULL ORDER BY created",
                (cid, *chunk),
            )
            for hid, budget, split_set, ci in found:
                key = "confirmation" if split_set == "confirmation" else str(budget)
                out.setdefault(hid, {})[key] = _pair(_json(ci, None))
        return out

    # -- charts' data -----------------------------------------------------------------------------
    @_total
    def win_rate_over_time(self) -> WinRates:
        """Each scored hypothesis (hours since the start, its selection win rate), in the order it
        was first scored, and the running best as steps."""
        with self._db() as (db, cid, cols, tables):
            start = db.execute(
                "SELECT min(at) FROM events WHERE campaign = ? AND kind = 'start'", (cid,)
            ).fetchone()[0]
            sel = _sel(cols)
            rows = db.execute(
                f"SELECT id, {sel} AS w, updated FROM hypotheses WHERE campaign = ? "
                "AND w IS NOT NULL AND stage != 'duplicate'",
                (cid,),
            ).fetchall()
            when: dict[str, float] = {}
            if "results" in tables:
                when = _tail(
                    db,
                    self._ledger_key(db, cid, "first result"),
                    "results",
                    "SELECT hypothesis, created FROM results WHERE campaign = ? "
                    "AND win_rate IS NOT NULL AND rowid > ? AND rowid <= ?",
                    cid,
                    dict,
                    _fold_first,
                )
        timed = sorted((when.get(h, u) or 0.0, h, float(w)) for h, w, u in rows)
        t0 = start if start is not None else (timed[0][0] if timed else 0.0)
        points = [Point(max(0.0, (t - t0) / 3600), w, h) for t, h, w in timed]
        best: list[tuple[float, float]] = []
        top = -math.inf
        for p in points:
            if p.win_rate > top:
                top = p.win_rate
                best.append((p.hours, top))
        if best and points:
            best.append((points[-1].hours, top))
        return WinRates(points, best)

    @_total
    def spend(self) -> list[tuple[float, int, int]]:
        """(hours since the start, cumulative tokens, cumulative launches): the last point of
        each of ``SPEND_POINTS`` equal stretches of time; [] on a ledger from before the spend
        table."""
        with self._db() as (db, cid, _cols, tables):
            if "spend" not in tables:
                return []
            start = db.execute(
                "SELECT min(at) FROM events WHERE campaign = ? AND kind = 'start'", (cid,)
            ).fetchone()[0]
            state: SpendState = _tail(
                db,
                self._ledger_key(db, cid, "spend"),
                "spend",
                "SELECT at, tokens, launches FROM spend WHERE campaign = ? "
                "AND rowid > ? AND rowid <= ? ORDER BY rowid",
                cid,
                lambda: ((), 1, 0, None),
                _fold_spend,
            )
        kept, _, _, latest = state
        if latest is None:
            return []
        points = [*kept, latest] if not kept or kept[-1] != latest else list(kept)
        first, last = points[0][0], points[-1][0]
        t0 = start if start is not None and start <= first else first
        width = max((last - first) / SPEND_POINTS, 1e-9)
        chosen: dict[int, tuple[float, int, int]] = {}
        for p in points:
            chosen[min(SPEND_POINTS - 1, int((p[0] - first) / width))] = p
        return [((at - t0) / 3600, tk, ln) for at, tk, ln in chosen.values()]

    @_total
    def reward_points(self) -> list[tuple[str, float, float]]:
        """(id, the reward model's predicted win rate, the measured one) of each hypothesis the
        reward model ranked and the ladder measured."""
        with self._db() as (db, cid, cols, _tables):
            if "predicted" not in cols:
                return []
            sel = _sel(cols)
            rows = db.execute(
                f"SELECT id, predicted, {sel} AS w FROM hypotheses WHERE campaign = ? "
                "AND predicted IS NOT NULL AND w IS NOT NULL AND stage != 'duplicate' ORDER BY id",
                (cid,),
            ).fetchall()
        return [(h, float(p), float(w)) for h, p, w in rows if _num(p) is not None]

    # -- lineage ----------------------------------------------------------------------------------
    @_total
    def lineage(self, limit: int = 400) -> list[TreeNode]:
        """The lineage tree's nodes, parents before children (ordered by depth, then id); for a
        campaign of more than ``limit`` hypotheses, the best ``limit`` by win rate and their
        ancestors."""
        wanted = ("id", "stage", "kept", "confirmation", "known")
        with self._db() as (db, cid, cols, _tables):
            sel = _sel(cols)
            parent_col = "parent" if "parent" in cols else "NULL"
            links = db.execute(
                f"SELECT id, {parent_col}, {sel} FROM hypotheses WHERE campaign = ?", (cid,)
            ).fetchall()
            by_id = {r[0]: r for r in links}
            if len(links) > limit:
                ranked = sorted(links, key=lambda r: (r[2] is None, -(r[2] or 0.0), r[0]))
                keep: set[str] = set()
                for r in ranked[: max(0, limit)]:
                    hid: str | None = r[0]
                    while hid is not None and hid in by_id and hid not in keep:
                        keep.add(hid)
                        hid = by_id[hid][1]
                ids = sorted(keep)
            else:
                ids = [r[0] for r in links]
            # The rest of each chosen row: all rows at once, or the chosen by their keys.
            select = f"SELECT {self._hyp_cols(cols, wanted)}, substr(idea, 1, {IDEA_CHARS}) "
            select += "FROM hypotheses WHERE campaign = ?"
            details: list[Any] = []
            if len(ids) == len(links):
                details = db.execute(select, (cid,)).fetchall()
            else:
                for at in range(0, len(ids), 500):
                    chunk = ids[at : at + 500]
                    marks = ", ".join("?" for _ in chunk)
                    details += db.execute(f"{select} AND id IN ({marks})", (cid, *chunk))
        chosen = [(*by_id[d[0]][:2], *d[1:], by_id[d[0]][2]) for d in details]
        depth: dict[str, int] = {}

        def depth_of(hid: str) -> int:
            seen: list[str] = []
            node: str | None = hid
            while node is not None and node in by_id and node not in depth and node not in seen:
                seen.append(node)
                node = by_id[node][1]
            base = depth[node] + 1 if node is not None and node in depth else 0
            for n in reversed(seen):
                depth[n] = base
                base += 1
            return depth[hid]

        nodes = []
        for r in chosen:
            hid, parent, stage, kept, conf, known, idea, w = r
            nodes.append(
                TreeNode(
                    id=hid,
                    parent=parent if parent in by_id else None,
                    idea=idea,
                    outcome=outcome_class(stage, kept, conf, known, _num(w)),
                    win_rate=_num(w),
                    depth=depth_of(hid),
                )
            )
        nodes.sort(key=lambda n: (n.depth, n.id))
        return nodes

    # -- what was not run -------------------------------------------------------------------------
    @_total
    def not_run(self) -> dict[str, list[NotRunRow]]:
        """Per category (invalid, duplicate, pruned, vetoed, known, rejected, failed): at most
        ``NOT_RUN_ROWS`` hypotheses with why; ``not_run_counts`` has the full counts."""
        stages = [c for c in NOT_RUN if c != "known"]
        marks = ", ".join("?" for _ in stages)
        out: dict[str, list[NotRunRow]] = {c: [] for c in NOT_RUN}
        with self._db() as (db, cid, cols, _tables):
            # One pass over the table: the first NOT_RUN_ROWS of each final stage.
            found = db.execute(
                f"SELECT stage, id, substr(idea, 1, {IDEA_CHARS}), COALESCE(reason, '') FROM ("
                "SELECT stage, id, idea, reason, "
                "row_number() OVER (PARTITION BY stage ORDER BY round, id) AS n "
                f"FROM hypotheses WHERE campaign = ? AND stage IN ({marks})) "
                f"WHERE n <= {NOT_RUN_ROWS} ORDER BY n",
                (cid, *stages),
            )
            known: list[Any] = []
            if "known" in cols:
                known = db.execute(
                    f"SELECT id, substr(idea, 1, {IDEA_CHARS}), "
                    "known || COALESCE(' (' || citation || ')', '') FROM hypotheses "
                    f"WHERE campaign = ? AND known IS NOT NULL ORDER BY round, id "
                    f"LIMIT {NOT_RUN_ROWS}",
                    (cid,),
                ).fetchall()
        for stage, hid, idea, why in found:
            out[stage].append(NotRunRow(hid, idea, str(why)))
        out["known"] = [NotRunRow(h, i, str(w or "")) for h, i, w in known]
        return out

    @_total
    def not_run_counts(self) -> dict[str, int]:
        """Per category of ``not_run``, how many hypotheses in all."""
        with self._db() as (db, cid, cols, _tables):
            known = "count(*) FILTER (WHERE known IS NOT NULL)" if "known" in cols else "0"
            stages = ", ".join(
                f"count(*) FILTER (WHERE stage = '{c}')" for c in NOT_RUN if c != "known"
            )
            row = db.execute(
                f"SELECT {stages}, {known} FROM hypotheses WHERE campaign = ?", (cid,)
            ).fetchone()
        names = [c for c in NOT_RUN if c != "known"] + ["known"]
        counts = dict(zip(names, (int(n or 0) for n in row), strict=True))
        return {c: counts[c] for c in NOT_RUN}

    # -- events -----------------------------------------------------------------------------------
    @_total
    def events(
        self, agent: str | None = None, limit: int = 200, before_rowid: int | None = None
    ) -> list[EventRow]:
        """The event log, newest first: ``limit`` events (of ``agent`` alone if given) before
        ``before_rowid`` (the next page)."""
        # "+campaign": not the (campaign, at) index, which would sort every event of the
        # campaign by rowid; the table itself is walked from its newest row and stops at limit.
        sql = "SELECT rowid, at, who, kind, substr(detail, 1, ?) FROM events WHERE +campaign = ?"
        with self._db() as (db, cid, _cols, _tables):
            args: list[Any] = [DETAIL_CHARS, cid]
            if agent is not None:
                sql += " AND who = ?"
                args.append(agent)
            if before_rowid is not None:
                sql += " AND rowid < ?"
                args.append(int(before_rowid))
            sql += " ORDER BY rowid DESC LIMIT ?"
            args.append(max(0, int(limit)))
            rows = db.execute(sql, args).fetchall()
        return [EventRow(int(r), float(a or 0.0), str(w), str(k), str(d)) for r, a, w, k, d in rows]

    @_total
    def agents_seen(self) -> list[str]:
        """Everyone in the event log (agents, the orchestrator, users), sorted."""
        with self._db() as (db, cid, _cols, _tables):
            seen = _tail(
                db,
                self._ledger_key(db, cid, "who"),
                "events",
                "SELECT DISTINCT who FROM events WHERE +campaign = ? AND rowid > ? AND rowid <= ?",
                cid,
                frozenset,
                _fold_who,
            )
        return sorted(seen)

    # -- steering's state -------------------------------------------------------------------------
    @_total
    def queue(self) -> list[QueueRow]:
        """Validated hypotheses waiting for a launch (``store.steering.QUEUED``), each with the
        latest decision on its code as it stands."""
        marks = ", ".join("?" for _ in QUEUED_STAGES)
        with self._db() as (db, cid, _cols, tables):
            rows = db.execute(
                f"SELECT id, substr(idea, 1, {IDEA_CHARS}), stage, code_sha FROM hypotheses "
                f"WHERE campaign = ? AND stage IN ({marks}) ORDER BY round, id",
                (cid, *QUEUED_STAGES),
            ).fetchall()
            decided: dict[tuple[str, str | None], str] = {}
            if rows and "decisions" in tables:
                for hid, sha, decision in db.execute(
                    "SELECT hypothesis, code_sha, decision FROM decisions WHERE campaign = ? "
                    "ORDER BY id",
                    (cid,),
                ):
                    decided[(hid, sha)] = decision
        return [QueueRow(h, i, s, c, decided.get((h, c))) for h, i, s, c in rows]

    @_total
    def directives(self) -> list[DirectiveRow]:
        """Standing (not withdrawn) directives, oldest first."""
        with self._db() as (db, cid, _cols, tables):
            if "directives" not in tables:
                return []
            rows = db.execute(
                "SELECT id, agent, text, who, created FROM directives "
                "WHERE campaign = ? AND withdrawn IS NULL ORDER BY id",
                (cid,),
            ).fetchall()
        return [
            DirectiveRow(int(i), str(a), str(t), str(w), float(c or 0.0)) for i, a, t, w, c in rows
        ]

    @_total
    def waiting_for(self) -> str | None:
        """The hypothesis a running campaign's approval wait is on, or None."""
        if heartbeat.read(self.folder) is None:
            return None
        with self._db() as (db, cid, _cols, tables):
            return self._waiting_for(db, cid, tables)

    # -- one hypothesis ---------------------------------------------------------------------------
    @_total
    def hypothesis(self, hid: str) -> HypothesisView | None:
        """Everything the hypothesis page shows of ``hid``, or None when the ledger has no such
        id."""
        with self._db() as (db, cid, cols, tables):
            sel = _sel(cols)
            row = db.execute(
                f"SELECT {self._hyp_cols(cols, HYP_COLUMNS)}, {sel} FROM hypotheses "
                "WHERE campaign = ? AND id = ?",
                (cid, hid),
            ).fetchone()
            if row is None:
                return None
            data = dict(zip((*HYP_COLUMNS, "w"), row, strict=True))
            children = (
                tuple(
                    r[0]
                    for r in db.execute(
                        "SELECT id FROM hypotheses WHERE campaign = ? AND parent = ? "
                        "ORDER BY round, id",
                        (cid, hid),
                    )
                )
                if "parent" in cols
                else ()
            )
            reports = []
            if "results" in tables:
                reports = db.execute(
                    "SELECT budget, status, win_rate, report, created FROM results "
                    "WHERE campaign = ? AND hypothesis = ? ORDER BY created",
                    (cid, hid),
                ).fetchall()
            probe = None
            if "probes" in tables:
                probe = db.execute(
                    "SELECT problem, fingerprint FROM probes WHERE campaign = ? AND id = ? "
                    "AND code_sha IS ?",
                    (cid, hid, data["code_sha"]),
                ).fetchone()
            critic = db.execute(
                "SELECT detail FROM events WHERE +campaign = ? AND kind = 'verdict' "
                "AND detail LIKE ? ORDER BY rowid DESC LIMIT 1",
                (cid, f'%"id": {json.dumps(hid)}%'),
            ).fetchone()
            measured = None
            if data["w"] is not None and data["stage"] != "duplicate":
                measured = db.execute(
                    "SELECT count(*) FROM hypotheses WHERE campaign = ? "
                    "AND screen_win_rate IS NOT NULL AND stage != 'duplicate'",
                    (cid,),
                ).fetchone()[0]
        results = tuple(_result(*r) for r in reports)
        code = self._code(hid)
        edit, template = self._edit_task()
        parent = data["parent"]
        diff_parent = diff_template = None
        if edit and code is not None:
            mine = _edited(template, code)
            if template is not None:
                diff_template = _diff(template, mine, "template", hid)
            parent_code = self._code(parent) if parent is not None else None
            if parent_code is not None:
                diff_parent = _diff(_edited(template, parent_code), mine, str(parent), hid)
        reasons = None
        if critic is not None:
            found = _json(critic[0], {})
            if isinstance(found, dict) and found.get("id") == hid:
                reasons = _str(found.get("reasons") or "") or None
        fingerprint = None
        if probe is not None:
            fp = _json(probe[1], None)
            if isinstance(fp, list):
                fingerprint = tuple(v for v in (_num(x) for x in fp) if v is not None)
        keep_bound = None
        if data["kept"] is not None and measured:
            keep_bound = _keep_bound(results, measured)
        return HypothesisView(
            id=hid,
            round=int(data["round"] or 0),
            idea=str(data["idea"]),
            stage=str(data["stage"]),
            mode=str(data["mode"]),
            outcome=data["outcome"],
            reason=data["reason"],
            flags=_flags(data["flags"]),
            verdict=data["verdict"],
            critic_reasons=reasons,
            p_win=_num(data["p_win"]),
            predicted=_num(data["predicted"]),
            win_rate=_num(data["w"]),
            kept=None if data["kept"] is None else bool(data["kept"]),
            keep_bound=keep_bound,
            confirm_win_rate=_num(data["confirm_win_rate"]),
            confirmation=data["confirmation"],
            discovery=is_discovery(data["kept"], data["confirmation"], data["known"]),
            known=data["known"],
            citation=data["citation"],
            duplicate_of=data["duplicate_of"],
            parent=parent,
            children=children,
            code=code,
            edit_task=edit,
            diff_parent=diff_parent,
            diff_template=diff_template,
            results=results,
            probe_problem=None if probe is None else probe[0],
            fingerprint=fingerprint,
            curves=self._curves([r[3] for r in reports]),
            reproduce=f"hypoforge reproduce {shlex.quote(str(self.folder))} {shlex.quote(hid)}",
        )

    def _code(self, hid: str) -> str | None:
        """The text of ``hypotheses/<hid>.py`` (an id from the ledger), resolved inside the
        folder; None when missing or outside."""
        base = (self.folder / "hypotheses").resolve()
        try:
            path = (base / f"{hid}.py").resolve()
            if not path.is_relative_to(base) or not path.is_file():
                return None
            with path.open("rb") as fh:
                return fh.read(CODE_CHARS * 4).decode("utf-8", "replace")[:CODE_CHARS]
        except (OSError, ValueError):
            return None

    def _curves(self, reports: list[Any]) -> dict[str, list[tuple[float, float]]] | None:
        """The probe curve of the first run that left one, beside the baselines', from a
        built-in task's report hooks (``evaluators.contract.ProbeCurves``: they read the run's
        arrays with the sandbox's total readers); None otherwise. A task folder of the user's
        is not imported by the dashboard."""
        hooks = self._curve_hooks()
        if hooks is None:
            return None
        from core.records import EvalReport

        for text in reports:
            try:
                found = hooks.probe_curves(EvalReport.model_validate_json(text))
            except Exception:  # a read model is total: no curve rather than no page
                continue
            if found:
                return found
        return None

    def _curve_hooks(self) -> Any:
        if self._hooks is False:
            info = self._load_info()
            self._hooks = None
            if info is not None and info.task_folder is None:
                self._hooks = _builtin_curve_hooks(str(info.task))
        return self._hooks

    def _edit_task(self) -> tuple[bool, str | None]:
        """(whether the task's hypotheses are edits to a template, the template's text); read
        from its task.toml and script as text, no task code imported."""
        if self._task is None:
            self._task = _task_template(self._load_info())
        return self._task[0], self._task[1]

    # -- files ------------------------------------------------------------------------------------
    def _figure_names(self) -> list[str]:
        report = self.folder / "report"
        try:
            return sorted(p.name for p in report.iterdir() if p.suffix == ".png" and p.is_file())
        except OSError:
            return []

    def figures(self) -> list[str]:
        """Names of the report's figures (``report/*.png``) that exist."""
        return [n for n in self._figure_names() if self.file_path(n) is not None]

    def paper(self) -> str | None:
        """ "paper.pdf" when the campaign has a compiled paper."""
        return "paper.pdf" if self.file_path("paper.pdf") is not None else None

    def file_path(self, name: str) -> Path | None:
        """The file a page may serve under ``name`` (a report figure or "paper.pdf"), resolved
        inside the folder; None for any other name."""
        try:
            root = self.folder.resolve()
            if name == "paper.pdf":
                home = (self.folder / "paper").resolve()
            elif name in self._figure_names() and "/" not in name and "\\" not in name:
                home = (self.folder / "report").resolve()
            else:
                return None
            path = (home / name).resolve()
            # In its own folder (report/ or paper/, itself inside the campaign's): a link to the
            # ledger or campaign.json is no figure.
            if not home.is_relative_to(root) or path.parent != home or not path.is_file():
                return None
            return path
        except (OSError, ValueError):
            return None


# -- helpers --------------------------------------------------------------------------------------
def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def outcome_class(
    stage: Any, kept: Any, confirmation: Any, known: Any, win_rate: float | None
) -> str:
    """The lineage tree's colour of a hypothesis: discovery, kept, scored (measured on the
    selection splits), failed (final: failed or invalid), not-run (final: rejected, duplicate,
    pruned, vetoed) or queued (on its way: proposed, in repair, coded, probed, selected)."""
    if is_discovery(kept, confirmation, known):
        return "discovery"
    if kept:
        return "kept"
    if stage in ("failed", "invalid"):
        return "failed"
    if stage in ("rejected", "duplicate", "pruned", "vetoed"):
        return "not-run"
    if win_rate is not None:
        return "scored"
    return "queued"


def _result(budget: Any, status: Any, win_rate: Any, report: Any, created: Any) -> ResultView:
    data = _json(report, {})
    data = data if isinstance(data, dict) else {}
    lo, hi = _pair(data.get("win_rate_ci"))
    per = data.get("per_dataset")
    datasets = []
    if isinstance(per, dict):
        for name, score in sorted(per.items()):
            if not isinstance(score, dict):
                continue
            base = score.get("baselines")
            datasets.append(
                DatasetView(
                    dataset=_str(name),
                    candidate=_num(score.get("candidate")),
                    baselines=_floats(base),
                    win_rate=_num(score.get("win_rate")),
                )
            )
    cells = _floats(data.get("cells"))
    flags = data.get("flags")
    split = data.get("split_set")
    return ResultView(
        budget=str(budget),
        split_set=_str(split) if isinstance(split, str) else None,
        status=str(status),
        reason=_str(data.get("reason") or ""),
        win_rate=_num(win_rate),
        lo=lo,
        hi=hi,
        flags=tuple(_str(f) for f in flags) if isinstance(flags, list) else (),
        per_dataset=tuple(datasets),
        cells=cells,
        cell_win_rates=_floats(data.get("cell_win_rates")),
        wall_seconds=_num(data.get("wall_seconds")),
        created=float(created or 0.0),
    )


_BOUNDS: dict[tuple[str, int], float | None] = {}  # (report text's hash, m) -> bound


def _keep_bound(results: tuple[ResultView, ...], measured: int) -> float | None:
    """The keep rule's corrected lower bound (``store.lifecycle.corrected_bound``) of the latest
    selection result with cells, at m = hypotheses measured now (the decision was taken at the m
    of its round, which the ledger does not keep); remembered per (cells, m)."""
    from store.lifecycle import cells_bound

    chosen = [r for r in results if r.split_set != "confirmation" and r.win_rate is not None]
    if not chosen:
        return None
    values = list(chosen[-1].cell_win_rates.values())
    if not values:
        return None
    key = (hashlib.sha256(json.dumps(values).encode()).hexdigest(), measured)
    if key not in _BOUNDS:
        if len(_BOUNDS) > 4096:
            _BOUNDS.clear()
        _BOUNDS[key] = cells_bound(values, measured)
    return _BOUNDS[key]


def _builtin_curve_hooks(task: str) -> Any:
    """The ``ProbeCurves`` report hooks of a task shipped with hypoforge, or None."""
    import evaluators
    from evaluators import registry
    from evaluators.contract import ProbeCurves, hooks_for

    try:
        plugin = registry.get(task)
        shipped = Path(evaluators.__file__).resolve().parent
        if not plugin.folder.resolve().is_relative_to(shipped):
            return None
        hooks = hooks_for(plugin)
    except Exception:  # an unknown or broken task: no curves
        return None
    return hooks if isinstance(hooks, ProbeCurves) else None


def _task_template(info: Any) -> tuple[bool, str | None, str | None]:
    """(edit task, the template's text, the script's file name) of the campaign's task, read
    from its task.toml and script; (False, None, None) when the task cannot be found."""
    if info is None:
        return False, None, None
    from agents.parsing import EDITS_SLOT
    from evaluators import registry

    try:
        plugin = registry.get(info.task_folder or info.task)
    except (HypoforgeError, OSError, ValueError):
        return False, None, None
    if plugin.function != EDITS_SLOT:
        return False, None, None
    spec = plugin.spec.template
    if spec is None:
        return True, None, None
    try:
        text = (plugin.folder / spec.script).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return True, None, spec.script
    return True, text, spec.script


def _edited(template: str | None, source: str) -> str:
    """An edit task's script: the template with ``source``'s SEARCH/REPLACE edits applied (text
    work, nothing run); the source itself when there is no template or the edits do not apply."""
    if template is None:
        return source
    from evaluators.edits import apply_edits
    from evaluators.static_check import StaticCheckError

    try:
        return apply_edits(template, source)
    except (HypoforgeError, StaticCheckError, ValueError):
        return source


def _diff(before: str, after: str, a: str, b: str) -> str:
    """The unified diff, bounded (``highlight.unified``: difflib is slow on crafted code)."""
    from hypoforge.web.highlight import unified

    return unified(before, after, a, b)
