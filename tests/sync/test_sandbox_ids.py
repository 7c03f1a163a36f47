"""A sandbox database from before declaration ids were namespaced per trader (#12) is
rebuilt with the per-trader key when opened, its envelopes kept."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import inspect

from sync.sandbox.store import SandboxStore


def _old_database(path: Path) -> None:
    store = SandboxStore(f"sqlite:///{path}")
    store.close()
    with sqlite3.connect(path) as db:
        (ddl,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'envelopes'").fetchone()
        db.execute("DROP TABLE envelopes")
        db.execute(ddl.replace("UNIQUE (trader_id, declaration_id, version)",
                               "UNIQUE (declaration_id, version)"))
        db.execute("INSERT INTO envelopes (declaration_id, version, envelope_hash, trader_id, "
                   "device_id, seq, prev, status, errors, received_at, raw) VALUES "
                   "('d1', 1, 'h1', 'GBA', 'dev', 1, 'p', 'accepted', '[]', 't', '{}')")


def test_old_key_rebuilt_rows_kept(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.db"
    _old_database(path)
    with sqlite3.connect(path) as db:
        assert "UNIQUE (declaration_id, version)" in db.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'envelopes'").fetchone()[0]
    store = SandboxStore(f"sqlite:///{path}")
    try:
        uniques = inspect(store.engine).get_unique_constraints("envelopes")
        assert [u["column_names"] for u in uniques] == [["trader_id", "declaration_id",
                                                         "version"]]
    finally:
        store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT declaration_id, trader_id FROM envelopes").fetchall() == [
            ("d1", "GBA")]
        # Another trader may now use the same id and version.
        db.execute("INSERT INTO envelopes (declaration_id, version, envelope_hash, trader_id, "
                   "device_id, seq, prev, status, errors, received_at, raw) VALUES "
                   "('d1', 1, 'h2', 'GBB', 'dev2', 1, 'p', 'accepted', '[]', 't', '{}')")
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'"
                                          " AND tbl_name = 'envelopes'")}
        assert {"ix_envelopes_chain", "ix_envelopes_lrn"} <= names
