"""The sandbox's intake at volume (#16): what a resend, a held envelope and a feed poll
cost, observed from outside (which work is done, which lock is taken, which index is
used) rather than timed.  Real HTTPS on loopback, real envelopes, real SQLite files."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from sync.sandbox import checks, intake
from sync.sandbox.server import start_in_thread
from sync.sandbox.store import EnvelopeRow, held_query


@pytest.fixture
def handle(tmp_path):
    h = start_in_thread(tmp_path / "sbx", lane="green")
    yield h
    h.stop()


def test_a_resend_is_answered_from_the_stored_hash_without_verifying_again(handle, Traders,
                                                                            monkeypatch):
    t = Traders(handle)
    env = t.seal()
    first = t.post([env]).json()["results"][0]
    assert first["status"] == "accepted"
    # Its resend (a lost answer) gets its original result from the store, unverified; a
    # new envelope in the same batch is verified.  (A revoked certificate's token is dead
    # since #12, so revocation can no longer show this: the checks are counted instead.)
    calls: list[object] = []
    real = checks.check_prepared
    monkeypatch.setattr(checks, "check_prepared", lambda *a, **k: calls.append(a) or real(*a, **k))
    again = t.post([env]).json()["results"][0]
    assert again["status"] == "duplicate"
    assert (again["mrn"], again["leaf"]) == (first["mrn"], first["leaf"])
    assert calls == []  # answered from the store, no signature checked
    both = t.post([env, t.seal()]).json()["results"]
    assert [r["status"] for r in both] == ["duplicate", "accepted"]
    assert len(calls) == 1  # the new one only


def test_another_traders_replay_of_the_same_bytes_is_still_verified_and_refused(handle,
                                                                                 Traders):
    a, b = Traders(handle), Traders(handle)
    env = a.seal()
    assert a.post([env]).json()["results"][0]["status"] == "accepted"
    res = b.post([env]).json()["results"][0]
    assert res["status"] == "rejected" and res["errors"][0]["code"] == "CERT_NOT_OWNED"
    assert res["leaf"] is None and res["mrn"] is None


def test_a_held_envelope_is_not_verified_again_when_its_turn_comes(handle, Traders,
                                                                   monkeypatch):
    t = Traders(handle)
    e1, e2 = t.seal(), t.seal()
    assert t.post([e2]).json()["results"][0]["status"] == "held"

    def no_second_check(*_a: object, **_k: object) -> None:
        raise AssertionError("a held envelope was verified again on release")

    monkeypatch.setattr(intake, "check_one", no_second_check)
    assert t.post([e1]).json()["results"][0]["status"] == "accepted"
    again = t.post([e2]).json()["results"][0]
    assert again["status"] == "duplicate" and again["mrn"] and again["leaf"]["mrn"] == again["mrn"]


def test_held_envelopes_are_found_through_their_partial_index(handle):
    sql = str(held_query("sqlite", "T", "D").compile(
        dialect=handle.state.store.engine.dialect, compile_kwargs={"literal_binds": True}))
    db = sqlite3.connect(handle.state.settings.home / "sandbox.db")
    try:
        plan = " ".join(str(r) for r in db.execute("EXPLAIN QUERY PLAN " + sql))
    finally:
        db.close()
    assert "ix_envelopes_held" in plan and "SCAN" not in plan, plan


def test_a_feed_poll_with_nothing_due_takes_no_write_lock(handle, Traders):
    t = Traders(handle)
    assert t.post([t.seal()]).json()["results"][0]["status"] == "accepted"
    done = threading.Event()
    with handle.state.store.write_lock:  # a batch being written
        th = threading.Thread(target=lambda: (t.feed(), done.set()), daemon=True)
        th.start()
        assert done.wait(10), "a feed poll waited for the intake's write lock"
    th.join(5)


def test_lrn_claims_of_a_database_from_before_are_carried_over(tmp_path, Traders):
    home = tmp_path / "old"
    h = start_in_thread(home, lane="green")
    try:
        t = Traders(h)
        first = t.declaration()
        assert t.post([t.seal(first)]).json()["results"][0]["status"] == "accepted"
    finally:
        h.stop()
    db = sqlite3.connect(home / "sandbox.db")
    db.execute("DROP TABLE lrn_claims")  # as a database written before the table existed
    db.commit()
    db.close()
    h = start_in_thread(home, lane="green")
    try:
        t.sandbox = h
        res = t.post([t.seal(t.declaration(lrn=first["lrn"]))]).json()["results"][0]
        assert res["status"] == "rejected" and [e["code"] for e in res["errors"]] == ["CDS12003"]
    finally:
        h.stop()


def test_one_store_transaction_per_batch_whatever_its_size(handle, Traders):
    """A batch of 60 is one commit: the store's batch context is entered once."""
    t = Traders(handle)
    entered: list[int] = []
    real = handle.state.store.batch

    def counting():  # type: ignore[no-untyped-def]
        entered.append(1)
        return real()

    handle.state.store.batch = counting  # type: ignore[method-assign]
    try:
        res = t.post([t.seal() for _ in range(60)]).json()["results"]
    finally:
        handle.state.store.batch = real  # type: ignore[method-assign]
    assert [r["status"] for r in res] == ["accepted"] * 60
    assert len(entered) == 1
    from sqlmodel import Session, func, select

    with Session(handle.state.store.read_engine) as s:
        assert s.exec(select(func.count()).select_from(EnvelopeRow)).one() == 60


def test_envelopes_applied_in_order_do_not_count_as_held(handle, Traders):
    """Envelopes lodged in their turn earlier in the same batch wait for nothing: an
    envelope behind a gap after them is held, not refused as over the held limit."""
    t = Traders(handle)
    handle.state.settings.max_held_per_device = 4
    in_order = [t.seal() for _ in range(6)]
    t.seal()  # a gap: this one is not sent yet
    ahead = t.seal()
    res = t.post([*in_order, ahead]).json()["results"]
    assert [r["status"] for r in res] == ["accepted"] * 6 + ["held"], res[-1]


def test_a_device_with_nothing_held_is_not_looked_up_position_by_position(handle, Traders,
                                                                           monkeypatch):
    """Releasing held successors costs nothing when none wait: no per-envelope query for
    a withdrawn link or a held envelope at the next position."""
    from sync.sandbox.store import BatchTx

    t = Traders(handle)
    looked: list[int] = []
    real_link, real_held = BatchTx.link, BatchTx.held
    monkeypatch.setattr(BatchTx, "link", lambda self, tr, d, seq: looked.append(seq)
                        or real_link(self, tr, d, seq))
    monkeypatch.setattr(BatchTx, "held", lambda self, tr, d, seq: looked.append(seq)
                        or real_held(self, tr, d, seq))
    res = t.post([t.seal() for _ in range(20)]).json()["results"]
    assert [r["status"] for r in res] == ["accepted"] * 20
    assert [s for s in looked if s > 0] == []  # only the one per-device load (seq 0)
    # and a held one is still released when its turn comes
    e1, e2 = t.seal(), t.seal()
    assert t.post([e2]).json()["results"][0]["status"] == "held"
    assert [r["status"] for r in t.post([e1]).json()["results"]] == ["accepted"]
    assert t.post([e2]).json()["results"][0]["status"] == "duplicate"
