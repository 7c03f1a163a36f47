"""The seal path after #15: the indexes it writes are the ones queries read, and the
previous envelope's signing time is remembered, not re-read, without losing the floor."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from client.declaration import states
from client.declaration.samples import sample_declaration
from client.seal.profile import open_store
from client.store import Store
from client.store.migrations import upgrade

KEY = "ab" * 32


def _plan(store: Store, sql: str, params: tuple[object, ...] = ()) -> str:
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()
    return " | ".join(str(r[-1]) for r in rows)


def _indexes(store: Store) -> set[str]:
    with store.engine.connect() as conn:
        return {r[0] for r in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'declaration'")}


def test_status_queries_use_the_composite_index_and_the_single_one_is_gone(
        tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.db", KEY)
    try:
        rng = random.Random(5)
        store.create_many([sample_declaration(rng) for _ in range(50)], "t",
                          status=states.READY)
        store.create_many([sample_declaration(rng) for _ in range(30)], "t")
        assert "ix_declaration_status" not in _indexes(store)
        assert "ix_declaration_status_updated" in _indexes(store)
        filtered = _plan(store, "SELECT id FROM declaration WHERE status IN (?, ?) "
                         "ORDER BY updated_at DESC LIMIT 50", (states.READY, states.DRAFT))
        assert "SEARCH declaration USING INDEX ix_declaration_status_updated" in filtered, \
            filtered
        counted = _plan(store, "SELECT count(*) FROM declaration WHERE status IN (?)",
                        (states.SEALED,))
        assert "ix_declaration_status_updated" in counted, counted
        grouped = _plan(store, "SELECT status, count(*) FROM declaration GROUP BY status")
        assert "ix_declaration_status_updated" in grouped, grouped
        # And the store's own queries still answer.
        assert store.count(statuses=[states.READY]) == 50
        assert store.counts_by_status() == {states.READY: 50, states.DRAFT: 30}
        assert len(store.list_ids(statuses=[states.READY], limit=10)) == 10
    finally:
        store.close()


def _indexes_across_upgrade(tmp_path: Path, revision: str) -> tuple[set[str], set[str]]:
    """The declaration table's indexes of a profile left at ``revision``, then once the
    store has opened it (and migrated it to the head)."""
    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        upgrade(conn, revision)
        before = {r[0] for r in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'declaration'")}
    engine.dispose()
    store = Store.open(path)
    try:
        return before, _indexes(store)
    finally:
        store.close()


def test_a_profile_at_0004_loses_the_redundant_index_on_open(tmp_path: Path) -> None:
    before, after = _indexes_across_upgrade(tmp_path, "0004")
    assert "ix_declaration_status" in before and "ix_declaration_status" not in after


def test_the_remembered_sig_time_still_honours_an_envelope_another_writer_added(
        home: Path) -> None:
    """The sealer remembers its own last sigT; a journal entry appended by someone else in
    between (here: one dated ten minutes ahead) must still set the floor of its next seal."""
    from client.seal.canonical import canonicalize
    from client.seal.envelope import GENESIS, parse_sig_time, seal_envelope
    from client.seal.jws import decode_protected
    from client.seal.keys import create_key, load_private_jwk, x5c
    from client.seal.profile import init_profile, secret_store
    from client.seal.sealing import Sealer, _link

    profile = init_profile(home, declarant_id="GB123456789000")
    secrets = secret_store(profile)
    info = create_key(home, secrets)
    ahead = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    rng = random.Random(2)
    decls = [sample_declaration(rng, declarant_id="GB123456789000") for _ in range(3)]
    with open_store(profile, secrets=secrets) as store:
        store.create_many(decls, "test", status=states.READY)
        sealer = Sealer(profile, store, secrets)
        first = sealer.seal(decls[0].id)

        def make(seq: int, prev: str | None) -> object:
            link = prev or GENESIS
            return _link(seal_envelope(canonicalize({"id": "d", "version": 1}),
                                       load_private_jwk(secrets, info), x5c(info),
                                       kind="decision", declaration_id="d", version=1,
                                       device_id=profile.device_id, seq=seq, prev=link,
                                       sig_time=ahead), link)

        store.append_journal("decision", "d", 1, make)  # type: ignore[arg-type]
        second = sealer.seal(decls[1].id)
        third = sealer.seal(decls[2].id)  # from the remembered time: still not earlier

    def sig_t(entry: object) -> dt.datetime:
        return parse_sig_time(decode_protected(entry.envelope["protected"])["sigT"])  # type: ignore[attr-defined]

    assert first.seq == 1 and second.seq == 3 and third.seq == 4
    assert sig_t(first) < ahead.replace(microsecond=0)
    assert sig_t(second) >= ahead.replace(microsecond=0)
    assert sig_t(third) >= sig_t(second)


def test_a_seal_failing_in_its_transaction_leaves_nothing_and_holds_no_lock(
        tmp_path: Path) -> None:
    """The seal's transaction runs on a bare driver cursor: a failure inside it (here the
    journal refusing a second envelope with the same hash) rolls back, and the database
    is free for the next writer at once, on another connection as on this one."""
    import sqlcipher3

    from client.store import ChainLink

    rng = random.Random(9)
    a, b = (sample_declaration(rng, declarant_id="GB1") for _ in range(2))
    store = Store.open(tmp_path / "s.db", KEY)
    try:
        store.create_many([a, b], "t", status=states.READY)
        env = {"protected": "p", "payload": "x", "signature": "s"}
        first = store.seal(a.id, "t", lambda d, doc, seq, prev: ChainLink(env, "h" * 64,
                                                                          prev or "0" * 64))
        try:
            store.seal(b.id, "t", lambda d, doc, seq, prev: ChainLink(env, "h" * 64,
                                                                      prev or "0" * 64))
        except sqlcipher3.dbapi2.IntegrityError:
            pass
        else:
            raise AssertionError("a second envelope with the same hash was journalled")
        assert store.get(b.id).status == states.READY
        assert [e.seq for e in store.journal()] == [first.seq]
        other = sqlcipher3.connect(str(tmp_path / "s.db"), timeout=0.2, isolation_level=None)
        try:
            other.execute(f"PRAGMA key = \"x'{KEY}'\"")
            other.execute("BEGIN IMMEDIATE")  # no transaction left open by the failed seal
            other.execute("ROLLBACK")
        finally:
            other.close()
        again = store.seal(b.id, "t", lambda d, doc, seq, prev: ChainLink(env, "g" * 64,
                                                                          prev or "0" * 64))
        assert again.seq == first.seq + 1 and again.prev_hash == "h" * 64
        assert store.get(b.id).status == states.SEALED
    finally:
        store.close()


def test_the_seal_gives_validation_an_lrn_lookup_on_its_snapshot_cursor(
        tmp_path: Path) -> None:
    """``check`` gets the declaration as read and the store's LRN lookup (on the cursor
    the snapshot was read with): it answers as :meth:`Store.lrn_taken` does, and a
    refusal there leaves nothing sealed."""
    from client.store import ChainLink
    from client.store.types import LrnLookup

    rng = random.Random(11)
    a, b = (sample_declaration(rng, declarant_id="GB1") for _ in range(2))
    b.lrn = a.lrn
    store = Store.open(tmp_path / "s.db", KEY)
    try:
        store.create_many([a, b], "t", status=states.READY)
        asked: list[tuple[bool, bool, bool]] = []

        def check(decl: Any, ask: LrnLookup) -> None:
            asked.append((ask("GB1", a.lrn, b.id), ask("GB1", a.lrn, a.id),
                          ask("GB2", a.lrn, None)))
            if ask(decl.declarant.id, decl.lrn, decl.id):
                raise ValueError("LRN taken")

        env = {"protected": "p", "payload": "x", "signature": "s"}
        try:
            store.seal(b.id, "t", lambda d, doc, seq, prev: ChainLink(env, "h" * 64, "0" * 64),
                       check)
        except ValueError:
            pass
        else:
            raise AssertionError("a taken LRN was sealed")
        assert asked == [(True, True, False)]
        assert store.lrn_taken("GB1", a.lrn, b.id) and not store.lrn_taken("GB2", a.lrn)
        assert store.get(b.id).status == states.READY and not list(store.journal())
    finally:
        store.close()


def test_lodgings_due_reads_only_the_printed_rows_through_a_partial_index(tmp_path: Path) -> None:
    """The continuity view asks this while it is open: with many declarations it must not
    read them all (#14), and a recorded lodging takes the row out of the answer."""
    store = Store.open(tmp_path / "s.db", KEY)
    try:
        rng = random.Random(7)
        store.create_many([sample_declaration(rng) for _ in range(40)], "t",
                          status=states.SEALED)
        ids = store.list_ids()
        for i in ids[:3]:
            store.mark_fallback_printed(i, "t")
        assert "ix_declaration_lodging_due" in _indexes(store)
        plan = _plan(store, "SELECT id FROM declaration WHERE fallback_printed_at IS NOT NULL "
                     "AND lodged_after_fallback_at IS NULL")
        assert "USING INDEX ix_declaration_lodging_due" in plan, plan
        assert "SCAN declaration" not in plan.replace("USING INDEX", "")  # no full table read
        with store.engine.connect() as conn:  # the index holds the printed rows, no others
            held = conn.exec_driver_sql(
                "SELECT count(*) FROM declaration INDEXED BY ix_declaration_lodging_due "
                "WHERE fallback_printed_at IS NOT NULL AND lodged_after_fallback_at IS NULL"
            ).scalar()
        assert held == 3
        owing = {i for i, s in store.summaries(ids[:3]).items() if s.lodge_by}
        assert owing  # import/export among them: a lodging is owed (transit's is not)
        assert {s.id for s in store.lodgings_due()} == owing
    finally:
        store.close()


def test_a_profile_at_0006_gains_the_lodging_due_index_on_open(tmp_path: Path) -> None:
    before, after = _indexes_across_upgrade(tmp_path, "0006")
    assert "ix_declaration_lodging_due" not in before and "ix_declaration_lodging_due" in after
