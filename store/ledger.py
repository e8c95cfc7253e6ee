"""The campaign ledger: an append-mostly SQLite file outside the graph's checkpoints.

It holds what must survive any crash and must never be done twice: experiment results keyed by
the hash of (task, code, budget, splits, harness version), one row per hypothesis with its fate,
token usage, an event log (who did what, when) and the steering store (directives, pause/stop/
budget requests, decisions on queued hypotheses: see ``store.steering``). A resumed graph
that re-runs a node finds a finished experiment here instead of launching it again.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from core.records import EvalReport, HypothesisRow, Stage
from store.lifecycle import Change, check_move

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY, campaign TEXT NOT NULL, hypothesis TEXT NOT NULL, budget TEXT NOT NULL,
    status TEXT NOT NULL, win_rate REAL, report TEXT NOT NULL, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS results_by_hypothesis ON results (campaign, hypothesis);
CREATE TABLE IF NOT EXISTS hypotheses (
    campaign TEXT NOT NULL, id TEXT NOT NULL, round INTEGER NOT NULL, mode TEXT NOT NULL,
    idea TEXT NOT NULL, code_sha TEXT, stage TEXT NOT NULL, verdict TEXT, p_win REAL,
    outcome TEXT, reason TEXT, screen_win_rate REAL, full_win_rate REAL, repairs INTEGER NOT NULL,
    updated REAL NOT NULL, predicted REAL, duplicate_of TEXT, rungs TEXT, kept INTEGER,
    confirm_win_rate REAL, confirmation TEXT, flags TEXT, PRIMARY KEY (campaign, id));
CREATE TABLE IF NOT EXISTS probes (
    campaign TEXT NOT NULL, id TEXT NOT NULL, code_sha TEXT NOT NULL, problem TEXT,
    fingerprint TEXT, PRIMARY KEY (campaign, id, code_sha));
CREATE TABLE IF NOT EXISTS usage (
    campaign TEXT PRIMARY KEY, tokens INTEGER NOT NULL, launches INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS spend (
    campaign TEXT NOT NULL, at REAL NOT NULL, tokens INTEGER NOT NULL, launches INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    campaign TEXT NOT NULL, at REAL NOT NULL, who TEXT NOT NULL, kind TEXT NOT NULL,
    detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_time ON events (campaign, at);
CREATE TABLE IF NOT EXISTS directives (
    id INTEGER PRIMARY KEY AUTOINCREMENT, campaign TEXT NOT NULL, agent TEXT NOT NULL,
    text TEXT NOT NULL, who TEXT NOT NULL, created REAL NOT NULL, withdrawn REAL);
CREATE TABLE IF NOT EXISTS controls (
    id INTEGER PRIMARY KEY AUTOINCREMENT, campaign TEXT NOT NULL, command TEXT NOT NULL,
    value TEXT NOT NULL, who TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, campaign TEXT NOT NULL, hypothesis TEXT NOT NULL,
    code_sha TEXT, decision TEXT NOT NULL, note TEXT NOT NULL, who TEXT NOT NULL,
    created REAL NOT NULL);
"""


# Columns added after the first release, for ledgers created before them.
ADDED_COLUMNS = {
    "predicted": "REAL",
    "duplicate_of": "TEXT",
    "rungs": "TEXT",
    "kept": "INTEGER",
    "confirm_win_rate": "REAL",
    "confirmation": "TEXT",
    "flags": "TEXT",
    "known": "TEXT",
    "citation": "TEXT",
    "parent": "TEXT",
}
JSON_COLUMNS = ("rungs", "flags")


class Ledger:
    """One SQLite file per campaign folder; WAL mode, one writer (the campaign process)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        # Switching to WAL does not wait on the busy handler: two processes (a campaign and
        # its chat, say) opening a new ledger at once would see "database is locked".
        deadline = time.monotonic() + 30
        while True:
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Add the columns of later releases, in one transaction: a crash half-way leaves the
        old ledger as it was, and the next open migrates it again."""
        have = {r[1] for r in self.db.execute("PRAGMA table_info(hypotheses)")}
        missing = {c: k for c, k in ADDED_COLUMNS.items() if c not in have}
        if not missing:
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            # Again under the write lock: another process opening it at once may have added them.
            have = {r[1] for r in self.db.execute("PRAGMA table_info(hypotheses)")}
            missing = {c: k for c, k in ADDED_COLUMNS.items() if c not in have}
            for column, kind in missing.items():
                self.db.execute(f"ALTER TABLE hypotheses ADD COLUMN {column} {kind}")
            if "flags" in missing:
                # Before the column, flags were joined with "; " into the reason of an OK result.
                folded = self.db.execute(
                    "SELECT campaign, id, reason FROM hypotheses "
                    "WHERE outcome = 'ok' AND reason IS NOT NULL AND reason != ''"
                ).fetchall()
                for campaign, hid, reason in folded:
                    self.db.execute(
                        "UPDATE hypotheses SET flags = ?, reason = NULL "
                        "WHERE campaign = ? AND id = ?",
                        (json.dumps(reason.split("; ")), campaign, hid),
                    )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.db.close()

    # -- results: exactly once ---------------------------------------------------------------
    def result(self, key: str) -> EvalReport | None:
        row = self.db.execute("SELECT report FROM results WHERE key = ?", (key,)).fetchone()
        return EvalReport.model_validate_json(row[0]) if row else None

    def put_result(self, key: str, campaign: str, hypothesis: str, report: EvalReport) -> None:
        """Record a finished experiment. A second write of the same key is ignored."""
        self.db.execute(
            "INSERT OR IGNORE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                campaign,
                hypothesis,
                report.budget,
                report.status.value,
                report.win_rate,
                report.model_dump_json(),
                time.time(),
            ),
        )

    def results(self, campaign: str) -> list[tuple[str, str, EvalReport]]:
        rows = self.db.execute(
            "SELECT key, hypothesis, report FROM results WHERE campaign = ? ORDER BY created",
            (campaign,),
        )
        return [(k, h, EvalReport.model_validate_json(r)) for k, h, r in rows]

    # -- hypotheses ----------------------------------------------------------------------------
    def save(self, row: HypothesisRow) -> None:
        """Write ``row``, validated again: rows are updated with ``model_copy``, which does not
        validate, so a stage or outcome outside the closed sets is refused here, and so is a
        stage that may not follow the stored one (``store.lifecycle``: ``LifecycleError``)."""
        stored = self.db.execute(
            "SELECT stage FROM hypotheses WHERE campaign = ? AND id = ?", (row.campaign, row.id)
        ).fetchone()
        data = HypothesisRow.model_validate(dict(row)).model_dump(mode="json")
        if stored is not None:
            check_move(row.id, Stage(stored[0]), Stage(data["stage"]))
        for key, value in data.items():  # text SQLite can store (no lone surrogates)
            if isinstance(value, str):
                data[key] = value.encode("utf-8", "replace").decode("utf-8")
        for column in JSON_COLUMNS:
            data[column] = json.dumps(data[column], sort_keys=True)
        cols = ", ".join(data)
        marks = ", ".join("?" for _ in data)
        self.db.execute(
            f"INSERT OR REPLACE INTO hypotheses ({cols}, updated) VALUES ({marks}, ?)",
            (*data.values(), time.time()),
        )

    def apply(self, change: Change) -> HypothesisRow:
        """Save the row a lifecycle transition decided and log its event; the row, saved."""
        self.save(change.row)
        if change.event is not None:
            event = change.event
            self.log(change.row.campaign, event.who, event.kind, event.detail)
        return change.row

    def hypothesis(self, campaign: str, hid: str) -> HypothesisRow | None:
        rows = self._hyps("campaign = ? AND id = ?", (campaign, hid))
        return rows[0] if rows else None

    def hypotheses(self, campaign: str) -> list[HypothesisRow]:
        return self._hyps("campaign = ?", (campaign,))

    def _hyps(self, where: str, args: tuple) -> list[HypothesisRow]:
        fields = list(HypothesisRow.model_fields)
        cur = self.db.execute(
            f"SELECT {', '.join(fields)} FROM hypotheses WHERE {where} ORDER BY round, id", args
        )
        out = []
        for values in cur:
            data = dict(zip(fields, values, strict=True))
            for column in JSON_COLUMNS:
                empty: dict | list = {} if column == "rungs" else []
                data[column] = json.loads(data[column]) if data[column] else empty
            out.append(HypothesisRow(**data))
        return out

    # -- probes: behaviour before compute -------------------------------------------------------
    def put_probe(
        self, campaign: str, hid: str, code_sha: str, problem: str | None, fp: list[float] | None
    ) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO probes VALUES (?, ?, ?, ?, ?)",
            (campaign, hid, code_sha, problem, None if fp is None else json.dumps(fp)),
        )

    def probe(
        self, campaign: str, hid: str, code_sha: str
    ) -> tuple[str | None, list[float] | None] | None:
        """(problem, fingerprint) of the probe of this code, or None if it was never probed."""
        row = self.db.execute(
            "SELECT problem, fingerprint FROM probes "
            "WHERE campaign = ? AND id = ? AND code_sha = ?",
            (campaign, hid, code_sha),
        ).fetchone()
        if row is None:
            return None
        return row[0], None if row[1] is None else json.loads(row[1])

    # -- budgets and events --------------------------------------------------------------------
    def add_usage(self, campaign: str, tokens: int = 0, launches: int = 0) -> None:
        """Add to the campaign's totals, and log the spend with its time (spend over time)."""
        self.db.execute(
            "INSERT INTO spend VALUES (?, ?, ?, ?)", (campaign, time.time(), tokens, launches)
        )
        self.db.execute(
            "INSERT INTO usage VALUES (?, ?, ?) ON CONFLICT(campaign) DO UPDATE SET "
            "tokens = tokens + excluded.tokens, launches = launches + excluded.launches",
            (campaign, tokens, launches),
        )

    def usage(self, campaign: str) -> tuple[int, int]:
        """(LLM tokens, sandbox launches) spent so far."""
        row = self.db.execute(
            "SELECT tokens, launches FROM usage WHERE campaign = ?", (campaign,)
        ).fetchone()
        return (row[0], row[1]) if row else (0, 0)

    def log(self, campaign: str, who: str, kind: str, detail: dict | str = "") -> None:
        text = detail if isinstance(detail, str) else json.dumps(detail, sort_keys=True)
        self.db.execute(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?)", (campaign, time.time(), who, kind, text)
        )

    def started(self, campaign: str) -> float | None:
        """When the campaign's first ``start`` event was logged (epoch seconds)."""
        row = self.db.execute(
            "SELECT MIN(at) FROM events WHERE campaign = ? AND kind = 'start'", (campaign,)
        ).fetchone()
        return row[0] if row else None

    def events(self, campaign: str, kind: str | None = None) -> list[tuple[str, str, str]]:
        sql = "SELECT who, kind, detail FROM events WHERE campaign = ?"
        args: tuple = (campaign,)
        if kind is not None:
            sql += " AND kind = ?"
            args = (campaign, kind)
        return list(self.db.execute(sql + " ORDER BY at, rowid", args))
