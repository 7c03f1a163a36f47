"""The harness's own checks fire (#12): each kind of damage, made by hand on real stores,
is seen by :func:`tests.chaos.common.check_invariants` under its own name."""

from __future__ import annotations

import sqlite3

import pytest

from tests.chaos.common import Client, World, check_invariants, final_sync


@pytest.fixture
def synced(world: World) -> Client:
    client = world.new_client(seed=3)
    for decl_id in client.create(3):
        client.seal(decl_id)
    report = final_sync(client)
    assert report is not None and report.error is None
    verdict = check_invariants(world, client, final=True)
    assert verdict.ok, verdict.problems
    return client


def _server(world: World) -> sqlite3.Connection:
    return sqlite3.connect(world.sandbox.home / "sandbox.db")


def test_a_truncated_server_chain_is_seen(world: World, synced: Client) -> None:
    device = synced.profile.device_id
    with _server(world) as db:
        (seq,) = db.execute("SELECT max(seq) FROM envelopes WHERE device_id = ?",
                            (device,)).fetchone()
        db.execute("DELETE FROM envelopes WHERE device_id = ? AND seq = ?", (device, seq))
        db.execute("UPDATE devices SET last_seq = ? WHERE device_id = ?", (seq - 1, device))
    v = check_invariants(world, synced, final=True)
    assert v.lost >= 1 and v.broken_chains >= 1, v.problems
    assert any("truncated" in p for p in v.problems)


def test_a_business_duplicate_is_seen(world: World, synced: Client) -> None:
    device = synced.profile.device_id
    with _server(world) as db:
        row = db.execute("SELECT declarant_id, lrn FROM envelopes WHERE device_id = ? "
                         "AND status = 'accepted' LIMIT 1", (device,)).fetchone()
        db.execute("INSERT INTO envelopes (declaration_id, version, envelope_hash, trader_id, "
                   "device_id, seq, prev, status, errors, received_at, declarant_id, lrn, raw) "
                   "VALUES ('other-id', 1, 'h', 'X', 'other-device', 1, 'p', 'accepted', '[]', "
                   "'t', ?, ?, '{}')", row)
    try:
        v = check_invariants(world, synced, final=True)
        assert v.duplicated >= 1 and any("LRN" in p for p in v.problems), v.problems
    finally:
        with _server(world) as db:
            db.execute("DELETE FROM envelopes WHERE declaration_id = 'other-id'")


def test_a_status_mismatch_is_seen(world: World, synced: Client) -> None:
    did = synced.acknowledged and sorted(synced.acknowledged)[0]
    with _server(world) as db:
        (n,) = db.execute("SELECT max(id) FROM notifications").fetchone()
        db.execute("INSERT INTO notifications (trader_id, declaration_id, version, status, at, "
                   "errors) SELECT trader_id, declaration_id, version, 'under_control', 't', "
                   "'[]' FROM notifications WHERE declaration_id = ? LIMIT 1", (did,))
    try:
        v = check_invariants(world, synced, final=True)
        assert v.status_mismatches == 1, v.problems
    finally:
        with _server(world) as db:
            db.execute("DELETE FROM notifications WHERE id > ?", (n,))
