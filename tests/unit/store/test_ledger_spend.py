"""Spend over time: every add_usage is logged with its time beside the running totals."""

from __future__ import annotations

import sqlite3

from store.ledger import Ledger


def test_usage_is_logged_over_time_and_totals_agree(tmp_path):
    ledger = Ledger(tmp_path / "ledger.sqlite")
    ledger.add_usage("c1", tokens=120)
    ledger.add_usage("c1", launches=1)
    ledger.add_usage("c1", tokens=30, launches=2)
    ledger.add_usage("c2", tokens=5)
    assert ledger.usage("c1") == (150, 3)
    rows = ledger.db.execute(
        "SELECT at, tokens, launches FROM spend WHERE campaign = 'c1' ORDER BY rowid"
    ).fetchall()
    assert [(t, n) for _, t, n in rows] == [(120, 0), (0, 1), (30, 2)]
    assert [at for at, _, _ in rows] == sorted(at for at, _, _ in rows)
    ledger.close()


def test_a_ledger_from_before_the_spend_table_gets_it_on_open(tmp_path):
    path = tmp_path / "ledger.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE usage (campaign TEXT PRIMARY KEY, tokens INTEGER, launches INTEGER)")
    db.execute("INSERT INTO usage VALUES ('c1', 7, 1)")
    db.commit()
    db.close()
    ledger = Ledger(path)
    ledger.add_usage("c1", tokens=3)
    assert ledger.usage("c1") == (10, 1)
    assert ledger.db.execute("SELECT COUNT(*) FROM spend").fetchone() == (1,)
    plan = " ".join(
        str(r)
        for r in ledger.db.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM events WHERE campaign = 'c1' ORDER BY at"
        )
    )
    assert "events_by_time" in plan
    ledger.close()
