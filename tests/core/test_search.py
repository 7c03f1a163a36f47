"""Full-text search (FTS5 trigram, migration 0003): found by a fragment of what the broker
remembers, kept up to date in the same transaction as each save, checked against a plain
scan of the stored declarations."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from client.declaration import states
from client.declaration.model import Declaration, GoodsItem, Party
from client.declaration.samples import sample_declaration
from client.store import Store
from client.store.migrations import upgrade

KEY = "cd" * 32


def _haystack(decl: Declaration, mrn: str | None = None) -> list[str]:
    """What the index promises to search, read straight off the model (the plain scan)."""
    out = [decl.id, decl.lrn or "", mrn or decl.mrn or ""]
    for party in (decl.declarant, decl.exporter, decl.consignee, decl.importer,
                  decl.representative, decl.seller, decl.buyer):
        if party is not None:
            out += [party.id or "", party.name or ""]
    for item in decl.goods_items:
        out += [item.description or "", item.commodity_code or ""]
    return [s.lower() for s in out if s]


def _scan(decls: dict[str, Declaration], fragment: str, mrns: dict[str, str],
          statuses: dict[str, str] | None = None, status: str | None = None) -> set[str]:
    f = fragment.lower()
    return {i for i, d in decls.items()
            if any(f in s for s in _haystack(d, mrns.get(i)))
            and (status is None or (statuses or {}).get(i) == status)}


@pytest.mark.slow
@pytest.mark.timeout(1800)  # 100,000 real saves: minutes on a shared 2-core machine
def test_search_on_100000_declarations_matches_a_plain_scan(tmp_path: Path) -> None:
    rng = random.Random(15)
    pool = [sample_declaration(rng, n_items=rng.randint(1, 3)) for _ in range(500)]
    decls: dict[str, Declaration] = {}
    store = Store.open(tmp_path / "big.db", KEY)
    try:
        ready: dict[str, str] = {}
        for batch in range(20):
            chunk = []
            for i in range(5000):
                n = batch * 5000 + i
                d = pool[n % len(pool)].model_copy(update={
                    "id": f"0190{n:08d}-0000-7000-8000-{n:012d}", "lrn": f"LRN{n:07d}X"})
                chunk.append(d)
                decls[d.id] = d
            status = states.READY if batch % 2 else states.DRAFT
            store.create_many(chunk, "test", status=status)
            ready.update({d.id: status for d in chunk})
        assert store.count() == 100_000
        # MRNs arrive later, through an UPDATE of the list column (as the feed does).
        mrns = {}
        for n in (7, 4242, 99_999):
            did = f"0190{n:08d}-0000-7000-8000-{n:012d}"
            mrns[did] = f"26GB{n:06d}QWERTY{n % 10}"
            store.execute_raw_for_tests(f"UPDATE declaration SET mrn = '{mrns[did]}' "
                                        f"WHERE id = '{did}'")

        sample = pool[3]
        item = sample.goods_items[0]
        party = sample.declarant or sample.importer or sample.exporter
        fragments = [
            "LRN0042",                                    # an LRN prefix: 1,000 matches
            "0099999X",                                   # the tail of one LRN
            "QWERTY",                                     # MRNs set after the save
            "GB004242",                                   # one MRN
            item.description[2:12],                       # a goods description
            item.commodity_code[1:7],                     # the middle of a commodity code
            party.name[1:9],                              # a party's name
            "zzqxj-nothing",                              # nothing at all
        ]
        for fragment in fragments:
            expected = _scan(decls, fragment, mrns)
            got = set(store.list_ids(search=fragment))
            assert got == expected, fragment
            assert store.count(search=fragment) == len(expected)
            # Combined with the status filter.
            only_ready = set(store.list_ids(search=fragment, statuses=[states.READY]))
            assert only_ready == _scan(decls, fragment, mrns, ready, states.READY), fragment
        assert len(_scan(decls, "LRN0042", mrns)) == 1000  # LRN0042000X..LRN0042999X
        assert store.list_ids(search="zzqxj-nothing") == []
        # Case does not matter.
        assert set(store.list_ids(search="lrn0099999x")) == {
            f"0190{99_999:08d}-0000-7000-8000-{99_999:012d}"}
    finally:
        store.close()


def test_a_status_filter_with_a_fragment_walks_the_index_first(tmp_path: Path) -> None:
    """With a status filter the planner chose the status index as the outer loop and ran
    the FTS5 query again for every row of that status: 100 s for one list on 100,000
    declarations, where the index first answers in a tenth of a second."""
    from client.store.search import list_query

    store = Store.open(tmp_path / "plan.db", KEY)
    try:
        rng = random.Random(3)
        store.create_many([sample_declaration(rng) for _ in range(40)], "test",
                          status=states.READY)
        for statuses in ((), (states.READY,), (states.READY, states.DRAFT)):
            sql, params = list_query(statuses, "LRN0", "updated_at", True, None, 0)
            with store._read_cursor() as cur:
                plan = [(r[1], r[-1]) for r in cur.execute("EXPLAIN QUERY PLAN " + sql,
                                                           params)]
            # The two full-text queries (body, MRN: migration 0008) run once, inside the
            # co-routine that yields "s"; the outer loop walks their answer.
            loops = [step for parent, step in plan if parent == 0 and step != "CO-ROUTINE s"]
            assert loops[0] == "SCAN s", (statuses, plan)
            fts = [(parent, step) for parent, step in plan if "VIRTUAL TABLE" in step]
            assert len(fts) == 2 and all(parent != 0 for parent, _ in fts), (statuses, plan)
    finally:
        store.close()


def test_an_autosave_reindexes_in_the_same_transaction(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.db", KEY)
    try:
        d = Declaration(type="IM", lrn="BORDER-77", declarant=Party(id="GB123", name="Acme"),
                        goods_items=[GoodsItem(description="Frozen mackerel fillets",
                                               commodity_code="0304890000")])
        store.create(d, "test")
        assert store.list_ids(search="mackerel") == [d.id]
        assert store.list_ids(search="48900") == [d.id]
        edited = d.model_copy(update={"goods_items": [GoodsItem(
            description="Tinned sardines", commodity_code="1604131100")]})
        store.save_draft(edited, "test")
        assert store.list_ids(search="mackerel") == []
        assert store.list_ids(search="sardine") == [d.id]
        assert store.list_ids(search="4131") == [d.id]
        assert store.list_ids(search="acme") == [d.id]
        # A fragment of two characters still finds by the list columns.
        assert store.list_ids(search="77") == [d.id]
        # Query syntax in the box is text to find, not an FTS expression.
        assert store.list_ids(search='"OR"*') == []
    finally:
        store.close()


def test_migration_indexes_an_existing_profile(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        upgrade(conn, "0001")
    engine.dispose()
    old = Store.open(path, migrate=False)
    try:
        d = Declaration(type="EX", lrn="OLDPROFILE-1",
                        exporter=Party(id="FR999", name="Vieux Port SARL"))
        old.create(d, "test")
    finally:
        old.close()
    store = Store.open(path)  # migrates to head, indexing what is there
    try:
        assert store.list_ids(search="vieux port") == [d.id]
        assert store.list_ids(search="PROFILE") == [d.id]
    finally:
        store.close()
