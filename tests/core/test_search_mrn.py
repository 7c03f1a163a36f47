"""Migration 0008: the MRN the single window brings is indexed apart from the body.

Before it, setting a declaration's MRN (every accepted declaration, in the drain's and the
feed's write transaction) deleted and rewrote that declaration's whole trigram body — its
parties, its goods — in the FTS5 index: 1.3-1.5 ms a row, most of what storing a batch's
answer cost.  These tests watch the index's own tables: an MRN update must leave the body
index's segments and content exactly as they were, and still be found by a fragment.
"""

from __future__ import annotations

import random
from pathlib import Path

from sqlalchemy import create_engine

from client.declaration import states
from client.declaration.model import Declaration, Party
from client.declaration.samples import sample_declaration
from client.store import Store
from client.store.migrations import upgrade

KEY = "ab" * 32


def _rows(store: Store, sql: str) -> list[tuple[object, ...]]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql).all()]


def _body_index(store: Store) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The body index's segment pages and its indexed text, as stored."""
    return (_rows(store, "SELECT id, block FROM declaration_search_data ORDER BY id"),
            _rows(store, "SELECT id, c0 FROM declaration_search_content ORDER BY id"))


def _seeded(tmp_path: Path, seed: int, n: int, n_items: int, status: str
            ) -> tuple[Store, list[Declaration], tuple[object, ...]]:
    """A store holding ``n`` sample declarations in ``status``, and its body index."""
    store = Store.open(tmp_path / "s.db", KEY)
    rng = random.Random(seed)
    decls = [sample_declaration(rng, n_items=n_items) for _ in range(n)]
    store.create_many(decls, "test", status=status)
    return store, decls, _body_index(store)


def _mrn(i: int) -> str:
    return f"26GBQM{i:010d}A1"


def test_the_mrn_leaves_the_body_index_alone_and_is_found(tmp_path: Path) -> None:
    store, decls, before = _seeded(tmp_path, 15, 30, 2, states.READY)
    try:
        for i, d in enumerate(decls):  # one transaction each, as answers arrive
            store.execute_raw_for_tests(
                f"UPDATE declaration SET mrn = '{_mrn(i)}' WHERE id = '{d.id}'")
        assert _body_index(store) == before
        for i in (0, 7, 29):
            fragment = _mrn(i)[4:16]  # "QM0000000007"
            assert store.list_ids(search=fragment) == [decls[i].id]
            assert store.list_ids(search=fragment.lower(), limit=25) == [decls[i].id]
            assert store.count(search=fragment) == 1
            assert store.list_ids(search=fragment, statuses=[states.READY]) == [decls[i].id]
            assert store.list_ids(search=fragment, statuses=[states.DRAFT]) == []
        assert len(store.list_ids(search="26GBQM")) == 30
        # A corrected MRN replaces the old one in the index.
        store.execute_raw_for_tests(
            f"UPDATE declaration SET mrn = '26GBRR9999999999X2' WHERE id = '{decls[3].id}'")
        assert store.list_ids(search=_mrn(3)[4:16]) == []
        assert store.list_ids(search="RR99999") == [decls[3].id]
        assert _body_index(store) == before
    finally:
        store.close()


def test_a_common_mrn_fragment_fills_the_first_page_in_list_order(tmp_path: Path) -> None:
    """The first page read by a bounded scan (a fragment most rows share) matches the MRN
    column too, and equals the head of the index's full answer."""
    store = Store.open(tmp_path / "s.db", KEY)
    try:
        store.PROBE_BUDGET = 5  # type: ignore[misc]  # this store's fragments are "common"
        rng = random.Random(16)
        decls = [sample_declaration(rng, n_items=1) for _ in range(60)]
        store.create_many(decls, "test", status=states.READY)
        for i, d in enumerate(decls[:40]):
            store.execute_raw_for_tests(
                f"UPDATE declaration SET mrn = '{_mrn(i)}' WHERE id = '{d.id}'")
        for descending in (True, False):
            full = store.list_ids(search="26GBQM", descending=descending, order_by="lrn")
            page = store.list_ids(search="26GBQM", limit=25, descending=descending,
                                  order_by="lrn")
            assert len(full) == 40
            assert page == full[:25]
    finally:
        store.close()


def test_a_declaration_given_its_mrn_in_the_transaction_that_created_it(
        tmp_path: Path) -> None:
    """Still noted for the commit-time flush (migration 0006) when the MRN arrives: the
    flush indexes the MRN with the body."""
    store = Store.open(tmp_path / "s.db", KEY)
    try:
        d = Declaration(type="IM", lrn="AMEND-8", importer=Party(name="Dockside BV"))
        store.create(d, "test")
        with store.engine.begin() as conn:  # as if created now: noted, not yet indexed
            conn.exec_driver_sql("INSERT INTO declaration_search_pending VALUES (?)", (d.id,))
            conn.exec_driver_sql("UPDATE declaration SET mrn = '26NLAM0000000008X1' "
                                 "WHERE id = ?", (d.id,))
        store.execute_raw_for_tests("SELECT 1")  # the next write transaction flushes
        assert store.list_ids(search="AM00000000") == [d.id]
        assert store.list_ids(search="dockside") == [d.id]
        assert _rows(store, "SELECT count(*) FROM declaration_search_mrn") == [(1,)]
    finally:
        store.close()


def test_an_amendment_keeps_its_mrn_found_and_a_corrected_original_drops_it(
        tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.db", KEY)
    try:
        d = Declaration(type="IM", lrn="AMEND-9", importer=Party(name="Dockside BV"))
        r = Declaration(type="IM", lrn="REJECT-9", importer=Party(name="Dockside BV"))
        store.create(d, "test")
        store.create(r, "test")
        for decl, status, mrn in ((d, states.REGISTERED, "26NLAM0000000009X1"),
                                  (r, states.REJECTED, "26NLRJ0000000009X1")):
            store.execute_raw_for_tests(f"UPDATE declaration SET status = '{status}', "
                                        f"mrn = '{mrn}' WHERE id = '{decl.id}'")
        store.new_version(d.id, "test", function=states.AMENDMENT)
        store.new_version(r.id, "test")
        assert store.list_ids(search="AM000000000") == [d.id]
        assert store.list_ids(search="RJ000000000") == []
        assert set(store.list_ids(search="dockside")) == {d.id, r.id}
    finally:
        store.close()


def test_a_profile_at_0007_is_moved_to_the_separate_mrn_index(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        upgrade(conn, "0005")  # saved as 0003 indexes, at once (no commit-time flush)
    engine.dispose()
    d = Declaration(type="EX", lrn="OLD-0007", exporter=Party(name="Riverside Oy"))
    other = Declaration(type="EX", lrn="OLD-0007-B", exporter=Party(name="Riverside Oy"))
    old = Store.open(path, migrate=False)
    try:
        old.create(d, "test")
        old.create(other, "test")
    finally:
        old.close()
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        upgrade(conn, "0007")
        conn.exec_driver_sql("UPDATE declaration SET mrn = '26FIOL0000000007X3' "
                             "WHERE id = ?", (d.id,))
        body = conn.exec_driver_sql("SELECT c0 FROM declaration_search_content").all()
        assert any("OL00000" in str(b[0]) for b in body)  # 0003's body held the MRN
    engine.dispose()
    store = Store.open(path)
    try:
        bodies = _rows(store, "SELECT c0 FROM declaration_search_content")
        assert len(bodies) == 2 and not any("OL00000" in str(b[0]) for b in bodies)
        assert store.list_ids(search="OL00000") == [d.id]
        assert set(store.list_ids(search="riverside")) == {d.id, other.id}
        before = _body_index(store)
        store.execute_raw_for_tests(
            f"UPDATE declaration SET mrn = '26FIOL0000000009X4' WHERE id = '{other.id}'")
        assert _body_index(store) == before
        assert store.list_ids(search="OL0000000009") == [other.id]
    finally:
        store.close()


def test_the_mrns_of_a_page_of_answers_are_indexed_together_and_found(tmp_path: Path) -> None:
    """A bulk move (a batch's receipts, a page of the feed) sets many MRNs in one update
    and indexes them in one statement after it (migration 0011): each is found by a
    fragment, the body index is untouched, and nothing is left noted for later."""
    from client.declaration.mrn import allocate_mrn

    store, decls, before = _seeded(tmp_path, 16, 40, 1, states.SUBMITTED)
    try:
        mrns = [allocate_mrn("GB", 2026, 7000 + i, "A") for i in range(40)]
        page = [{"cursor": i + 1, "declaration_id": d.id, "version": d.version,
                 "status": "accepted", "mrn": mrns[i]} for i, d in enumerate(decls)]
        store.apply_notifications(page, 40)
        assert _rows(store, "SELECT count(*) FROM declaration_search_mrn_bulk") == [(0,)]
        assert _rows(store, "SELECT count(*) FROM declaration_search_mrn") == [(40,)]
        assert _body_index(store) == before
        for i in (0, 13, 39):
            assert store.get(decls[i].id).mrn == mrns[i]
            assert store.list_ids(search=mrns[i][3:]) == [decls[i].id]
    finally:
        store.close()
