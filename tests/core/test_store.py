"""The local store: real SQLCipher files, WAL, history, lifecycle, migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from client.declaration import states
from client.declaration.model import Declaration, GoodsItem, Party
from client.store import Store, StoreError

KEY = "ab" * 32


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "c.db", KEY)
    yield s
    s.close()


def _decl(lrn: str = "LRN-1", declarant: str = "GB123") -> Declaration:
    return Declaration(type="IM", lrn=lrn, declarant=Party(id=declarant, name="Acme"))


def test_pragmas_wal_full_foreign_keys(store: Store) -> None:
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_every_pooled_connection_keeps_a_small_page_cache(store: Store) -> None:
    """The window holds several pooled connections: each one's page cache is bounded
    (1 MiB, not SQLite's 2 MB default), the ones opened alongside the first included."""
    conns = [store.engine.connect() for _ in range(3)]
    try:
        sizes = {c.exec_driver_sql("PRAGMA cache_size").scalar() for c in conns}
    finally:
        for c in conns:
            c.close()
    assert sizes == {-1024}


def test_file_is_encrypted_and_wrong_key_is_a_clear_error(tmp_path: Path) -> None:
    s = Store.open(tmp_path / "c.db", KEY)
    s.create(_decl("SECRET-LRN-42"), "me")
    s.close()
    raw = (tmp_path / "c.db").read_bytes()
    assert not raw.startswith(b"SQLite format 3")
    assert b"SECRET-LRN-42" not in raw
    with pytest.raises(StoreError) as exc:
        Store.open(tmp_path / "c.db", "cd" * 32)
    assert exc.value.code == "store.cannot_open"
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(tmp_path / "c.db").execute("select * from sqlite_master").fetchall()


def test_draft_with_only_its_type_is_storable(store: Store) -> None:
    d = Declaration(type="EX")
    store.create(d, "me")
    got = store.get(d.id)
    assert got.status == states.DRAFT and got.declaration.type == "EX"


def test_autosave_history_and_earlier_versions(store: Store) -> None:
    d = _decl()
    store.create(d, "alice")
    d2 = d.model_copy(update={"goods_items": [GoodsItem(sequence=1, description="Tea")]})
    store.save_draft(d2, "alice")
    assert store.get(d.id).declaration.goods_items[0].description == "Tea"
    store.transition(d.id, states.READY, "alice")
    store.save_draft(d2.model_copy(update={"lrn": "LRN-2"}), "bob")  # editing a ready one
    hist = store.history(d.id)
    assert [(h.from_status, h.to_status) for h in hist] == [
        (None, "draft"), ("draft", "ready"), ("ready", "draft")]
    assert hist[-1].actor == "bob" and hist[0].actor == "alice"
    assert store.version_document(d.id, 1) is not None


def test_history_is_append_only(store: Store) -> None:
    d = _decl()
    store.create(d, "me")
    for sql in ("DELETE FROM history", "UPDATE history SET actor='x'"):
        with pytest.raises(Exception, match="append-only"):
            store.execute_raw_for_tests(sql)
    assert len(store.history(d.id)) == 1


def test_bad_local_transition_refused(store: Store) -> None:
    d = _decl()
    store.create(d, "me")
    with pytest.raises(StoreError) as exc:
        store.transition(d.id, states.RELEASED, "me")
    assert exc.value.code == "store.bad_transition"


def test_lrn_uniqueness_per_declarant(store: Store) -> None:
    a = _decl("L1", "GB1")
    store.create(a, "me")
    assert store.lrn_taken("GB1", "L1")
    assert not store.lrn_taken("GB1", "L1", exclude_id=a.id)
    assert not store.lrn_taken("GB2", "L1")


def test_list_filters_sorts_in_sql(store: Store) -> None:
    decls = [_decl(f"LRN-{i:03d}") for i in range(30)]
    store.create_many(decls, "me")
    store.transition(decls[3].id, states.READY, "me")
    assert store.count() == 30
    assert store.count(statuses=[states.READY]) == 1
    assert store.count(search="LRN-01") == 10
    ids = store.list_ids(order_by="lrn", descending=False, limit=5, offset=2)
    assert [store.summaries(ids)[i].lrn for i in ids] == ["LRN-002", "LRN-003", "LRN-004",
                                                          "LRN-005", "LRN-006"]
    assert store.count(search="%") == 0  # LIKE metacharacters are escaped


def test_resolve_id_by_prefix_lrn(store: Store) -> None:
    d = _decl("UNIQUE-LRN")
    store.create(d, "me")
    assert store.resolve_id("UNIQUE-LRN") == d.id
    assert store.resolve_id(d.id[:13]) == d.id
    with pytest.raises(StoreError):
        store.resolve_id("nope-nope")


def test_server_moves_only_forward(store: Store) -> None:
    assert states.server_move_allowed(states.SEALED, states.REGISTERED)
    assert not states.server_move_allowed(states.RELEASED, states.REGISTERED)
    assert states.server_move_allowed(states.UNDER_CONTROL, states.RELEASED)
    assert not states.server_move_allowed(states.DRAFT, states.RELEASED)


def test_settings_roundtrip(store: Store) -> None:
    from client.store import settings_keys as keys

    store.set_setting(keys.LAST_RECOVERY, {"a": [1, 2]})
    assert store.get_setting(keys.LAST_RECOVERY) == {"a": [1, 2]}
    assert store.get_setting(keys.MAO_HOURS) == 72  # the declared default
