"""The sandbox store's #8 additions: an older database gains the new columns in place;
revocation by serial or device; the trust snapshot."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sync.sandbox.store import GENESIS_HASH, SandboxStore, normal_serial


def test_database_from_before_officers_gains_the_new_columns(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    con = sqlite3.connect(db)
    con.executescript("""
        CREATE TABLE certificates (serial VARCHAR PRIMARY KEY, trader_id VARCHAR(35) NOT NULL,
            device_id VARCHAR(64) NOT NULL, role VARCHAR NOT NULL, pem VARCHAR NOT NULL,
            revoked BOOLEAN NOT NULL);
        CREATE TABLE notifications (id INTEGER PRIMARY KEY, trader_id VARCHAR(35) NOT NULL,
            declaration_id VARCHAR(36) NOT NULL, version INTEGER NOT NULL, mrn VARCHAR,
            status VARCHAR NOT NULL, at VARCHAR NOT NULL, errors VARCHAR NOT NULL,
            detail VARCHAR);
        CREATE TABLE decisions (id INTEGER PRIMARY KEY, declaration_id VARCHAR(36) NOT NULL,
            version INTEGER NOT NULL, officer_id VARCHAR(35) NOT NULL,
            envelope_hash VARCHAR NOT NULL, raw VARCHAR NOT NULL, received_at VARCHAR NOT NULL);
        INSERT INTO certificates VALUES ('abc', 'GB1', 'dev-1', 'trader', 'pem', 0);
        INSERT INTO notifications VALUES (1, 'GB1', 'd1', 1, NULL, 'accepted', 't', '[]', NULL);
    """)
    con.commit()
    con.close()
    store = SandboxStore(f"sqlite:///{db}")
    try:
        assert store.notifications("GB1", 0, 10)[0]["decision"] is None
        assert store.decision_stats()["decisions"] == 0
        assert store.revoke_matching(device_id="dev-1", at="2026-11-26T10:00:00Z") == ["abc"]
        assert store.revoke_matching(device_id="dev-1") == []  # already revoked
        revoked, devices = store.trust_snapshot()
        assert revoked == [{"serial": "abc", "revoked_at": "2026-11-26T10:00:00Z",
                            "trader_id": "GB1", "device_id": "dev-1"}]
        assert devices == [{"trader_id": "GB1", "device_id": "dev-1", "role": "trader",
                            "serials": ["abc"], "last_seq": 0, "last_hash": GENESIS_HASH,
                            "recent_hashes": {}}]
        assert store.revoked_serials() == {0xABC}
    finally:
        store.close()
    cols = {r[1] for r in sqlite3.connect(db).execute("PRAGMA table_info(decisions)")}
    assert {"state", "flagged", "outcome", "token", "decision_id"} <= cols


def test_serials_are_normalised() -> None:
    assert normal_serial("0x00AB:CD") == "abcd"
    assert normal_serial(" 0F ") == "f"
    assert normal_serial("0") == "0"
