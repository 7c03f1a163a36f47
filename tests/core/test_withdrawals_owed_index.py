"""Migration 0009: which transits owe a withdrawal is answered from two partial indexes.

Every sync pass asks it (``queue_owed_withdrawals``, after the drain).  Without an index
it read the whole history — every move of every declaration: 2 s and more of each pass
on a profile of 100,000 declarations (py-spy of the window's drain, #15).  The two notes
it asks about are rare; a partial index of each holds only those rows.
"""

from __future__ import annotations

from pathlib import Path

from client.store import Store
from client.store.declarations import WITHDRAWALS_OWED_SQL

KEY = "cd" * 32


def test_the_question_reads_the_two_partial_indexes_not_the_history(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.db", KEY)
    try:
        with store._read_cursor() as cur:
            plan = [r[-1] for r in cur.execute("EXPLAIN QUERY PLAN " + WITHDRAWALS_OWED_SQL)]
        assert not any(step.startswith("SCAN") and "INDEX" not in step for step in plan), plan
        assert any("ix_history_lodged_before_paper" in step for step in plan), plan
        assert any("ix_history_withdrawal_queued" in step for step in plan), plan
        assert store.withdrawals_owed() == []
    finally:
        store.close()
