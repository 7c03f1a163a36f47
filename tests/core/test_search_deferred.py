"""Migration 0006: new declarations are indexed for search once per transaction, just
before it commits — never a committed declaration without its index row, never an index
row for a declaration that was rolled back."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import IntegrityError

from client.declaration import states
from client.declaration.model import Declaration, GoodsItem, Party
from client.declaration.samples import sample_declaration
from client.store import Store
from client.store.migrations import upgrade

KEY = "ef" * 32


def _count(store: Store, sql: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.exec_driver_sql(sql).scalar() or 0)


def test_a_bulk_insert_is_indexed_in_its_own_transaction(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.db", KEY)
    try:
        rng = random.Random(6)
        decls = []
        for i in range(300):
            d = sample_declaration(rng, n_items=rng.randint(1, 3))
            d.lrn = f"BULK{i:05d}Q"
            decls.append(d)
        store.create_many(decls, "test", status=states.READY)
        assert _count(store, "SELECT count(*) FROM declaration_search_pending") == 0
        assert _count(store, "SELECT count(*) FROM declaration_search_key") == 300
        for d in decls[::37]:
            assert store.list_ids(search=(d.lrn or "")[1:]) == [d.id]  # "ULK00037Q"
            item = d.goods_items[0]
            if item.commodity_code:
                assert d.id in store.list_ids(search=item.commodity_code[1:7])
    finally:
        store.close()


def test_a_rolled_back_bulk_insert_leaves_no_index_and_nothing_pending(
        tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.db", KEY)
    try:
        first = Declaration(type="IM", lrn="KEEPME-1", declarant=Party(name="Quayside Ltd"))
        store.create(first, "test")
        again = Declaration(type="IM", lrn="LOSTROW-2",
                            goods_items=[GoodsItem(description="Anchovies in brine")])
        with pytest.raises(IntegrityError):  # the same id twice: the whole batch rolls back
            store.create_many([again, first], "test")
        assert _count(store, "SELECT count(*) FROM declaration_search_pending") == 0
        assert store.list_ids(search="anchovies") == []
        assert store.list_ids(search="LOSTROW") == []
        assert store.list_ids(search="quayside") == [first.id]
        # The next transaction has nothing stale to flush, and indexes its own.
        store.create(again, "test")
        assert store.list_ids(search="anchovies") == [again.id]
    finally:
        store.close()


def test_edits_and_the_mrn_still_reindex_at_once(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.db", KEY)
    try:
        d = Declaration(type="EX", lrn="EDIT-9", exporter=Party(name="Old Name SA"))
        store.create(d, "test")
        store.save_draft(d.model_copy(update={"exporter": Party(name="New Name SA")}), "test")
        assert store.list_ids(search="old name") == []
        assert store.list_ids(search="new name") == [d.id]
        store.execute_raw_for_tests(
            f"UPDATE declaration SET mrn = '26GBZZ0000000000X1' WHERE id = '{d.id}'")
        assert store.list_ids(search="ZZ00000") == [d.id]
        assert _count(store, "SELECT count(*) FROM declaration_search") == 1
    finally:
        store.close()


def test_a_profile_indexed_by_0003_keeps_its_index_and_indexes_new_ones(
        tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        upgrade(conn, "0005")
    engine.dispose()
    old = Store.open(path, migrate=False)
    try:
        before = Declaration(type="IM", lrn="BEFORE-0006", importer=Party(name="Harbour GmbH"))
        old.create(before, "test")
    finally:
        old.close()
    store = Store.open(path)
    try:
        after = Declaration(type="IM", lrn="AFTER-0006", importer=Party(name="Harbour GmbH"))
        store.create(after, "test")
        assert set(store.list_ids(search="harbour")) == {before.id, after.id}
        assert store.list_ids(search="AFTER-00") == [after.id]
    finally:
        store.close()


@pytest.mark.parametrize("probe_budget", [Store.PROBE_BUDGET, 10])
def test_a_first_page_read_in_list_order_is_the_page_the_index_gives(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, probe_budget: int) -> None:
    """A fragment most declarations share fills its first page from a bounded scan in
    list order; a rare one from the index; either way the page equals the head of the
    full (index) answer, with status filters and in both directions.  With a probe budget
    of 10 the common fragments here take the scan; with the default, the index alone."""
    monkeypatch.setattr(Store, "PROBE_BUDGET", probe_budget)
    store = Store.open(tmp_path / "s.db", KEY)
    try:
        rng = random.Random(8)
        decls = []
        for i in range(240):
            d = sample_declaration(rng, n_items=1)
            d.lrn = f"PAGE{i:05d}" + ("COMMON" if i % 3 else f"RARE{i:04d}Z")
            decls.append(d)
        store.create_many(decls[:120], "test", status=states.READY)
        store.create_many(decls[120:], "test")
        cases = [("COMMON", None), ("common", [states.READY]), ("RARE0003Z", None),
                 ("RARE", [states.DRAFT]), ("E_0", None), ("no-such-text", None), ("100%", None)]
        for fragment, statuses in cases:
            for descending in (True, False):
                for order_by in ("updated_at", "lrn"):
                    full = store.list_ids(search=fragment, statuses=statuses,
                                          descending=descending, order_by=order_by)
                    page = store.list_ids(search=fragment, statuses=statuses, limit=25,
                                          descending=descending, order_by=order_by)
                    assert page == full[:25], (fragment, statuses, descending, order_by)
        assert len(store.list_ids(search="COMMON")) == 160
        assert store.list_ids(search="rare0003z", limit=25) == [decls[3].id]
    finally:
        store.close()
