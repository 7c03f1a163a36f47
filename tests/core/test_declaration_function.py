"""The function of a declaration's current version on its row (migration 0010): what the
bulk moves of a drain's answers read instead of each document (#16).  Triggers keep it
equal to the document's, and a profile from before is filled in on open."""

from __future__ import annotations

import random
from pathlib import Path

from alembic import command

from client.declaration import states
from client.declaration.samples import sample_declaration
from client.store import Store
from client.store.migrations import config


def _functions(store: Store) -> dict[str, tuple[str | None, str | None]]:
    """Per declaration: (the row's function, the document's)."""
    with store.engine.connect() as conn:
        return {r[0]: (r[1], r[2]) for r in conn.exec_driver_sql(
            "SELECT d.id, d.function, json_extract(x.document, '$.function') "
            "FROM declaration d JOIN declaration_document x ON x.id = d.id")}


def _declarations(n: int) -> list:  # type: ignore[type-arg]
    rng = random.Random(10)
    out = []
    for i in range(n):
        d = sample_declaration(rng, n_items=1)
        if i % 3 == 1:
            d.function = states.AMENDMENT
            d.mrn = None
        out.append(d)
    return out


def test_the_row_follows_the_document_on_create_and_on_save(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.db")
    try:
        decls = _declarations(6)
        store.create_many(decls[:5], "t")
        store.create(decls[5], "t")
        got = _functions(store)
        assert all(row == doc for row, doc in got.values()), got
        assert sum(1 for row, _ in got.values() if row == states.AMENDMENT) == 2
        changed = decls[0].model_copy(update={"function": states.INVALIDATION})
        store.save_draft(changed, "t")
        assert _functions(store)[changed.id] == (states.INVALIDATION, states.INVALIDATION)
    finally:
        store.close()


def test_a_profile_from_before_is_filled_in_on_open(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = Store.open(path)
    decls = _declarations(9)
    store.create_many(decls, "t")
    with store.engine.begin() as conn:
        command.downgrade(config(conn), "0009")
        assert "function" not in {r[1] for r in conn.exec_driver_sql(
            "PRAGMA table_info(declaration)")}
    store.close()
    store = Store.open(path)  # migrated to the head again
    try:
        got = _functions(store)
        assert len(got) == 9 and all(row == doc for row, doc in got.values()), got
        assert {d.id for d in decls if d.function == states.AMENDMENT} == {
            i for i, (row, _) in got.items() if row == states.AMENDMENT}
    finally:
        store.close()
