"""The ledger's parent column: written and read with each hypothesis, and added to a ledger made
before it (a campaign started with an older release opens and resumes)."""

from __future__ import annotations

import sqlite3

from core.records import HypothesisRow
from store.ledger import Ledger

# The hypotheses table as the first release made it (no column of ADDED_COLUMNS).
OLD_TABLE = """
CREATE TABLE hypotheses (
    campaign TEXT NOT NULL, id TEXT NOT NULL, round INTEGER NOT NULL, mode TEXT NOT NULL,
    idea TEXT NOT NULL, code_sha TEXT, stage TEXT NOT NULL, verdict TEXT, p_win REAL,
    outcome TEXT, reason TEXT, screen_win_rate REAL, full_win_rate REAL, repairs INTEGER NOT NULL,
    updated REAL NOT NULL, PRIMARY KEY (campaign, id));
"""


def test_the_parent_is_stored_with_the_row(tmp_path):
    ledger = Ledger(tmp_path / "ledger.sqlite")
    ledger.save(HypothesisRow(campaign="c", id="r0-0", round=0, mode="novel", idea="a"))
    child = HypothesisRow(
        campaign="c", id="r1-0", round=1, mode="incremental", idea="b", parent="r0-0"
    )
    ledger.save(child)
    ledger.close()
    again = Ledger(tmp_path / "ledger.sqlite")
    assert [(r.id, r.parent) for r in again.hypotheses("c")] == [("r0-0", None), ("r1-0", "r0-0")]


def test_a_ledger_from_before_the_parent_column_opens_and_takes_children(tmp_path):
    path = tmp_path / "ledger.sqlite"
    db = sqlite3.connect(path)
    db.executescript(OLD_TABLE)
    db.execute(
        "INSERT INTO hypotheses VALUES "
        "('c', 'r0-0', 0, 'novel', 'an old idea', 'abc', 'screened', 'run', 0.5, 'ok', NULL, "
        "0.75, NULL, 0, 1.0)"
    )
    db.commit()
    db.close()
    ledger = Ledger(path)
    (old,) = ledger.hypotheses("c")
    assert (old.id, old.parent, old.screen_win_rate, old.flags) == ("r0-0", None, 0.75, [])
    ledger.save(
        HypothesisRow(campaign="c", id="r1-0", round=1, mode="novel", idea="b", parent="r0-0")
    )
    assert ledger.hypothesis("c", "r1-0").parent == "r0-0"
    columns = [r[1] for r in ledger.db.execute("PRAGMA table_info(hypotheses)")]
    assert columns.count("parent") == 1
    ledger.close()
    Ledger(path).close()  # a second open finds nothing to add
