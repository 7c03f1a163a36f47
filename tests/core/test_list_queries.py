"""The list's id queries (#15): a superseded one stops instead of holding a core, and the
connection it ran on serves the next query unchanged."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest

from client.declaration import states
from client.declaration.samples import sample_declaration
from client.store import Store
from client.store.search import ListCancelled

KEY = "ab" * 32


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    st = Store.open(tmp_path / "s.db", KEY)
    rng = random.Random(4)
    decls = [sample_declaration(rng, n_items=1) for _ in range(300)]
    for i, d in enumerate(decls):
        d.lrn = f"LISTQ{i:05d}"
    st.create_many(decls[:150], "test", status=states.READY)
    st.create_many(decls[150:], "test")
    yield st
    st.close()


@pytest.mark.parametrize("search", [None, "LISTQ", "LI"])
def test_a_cancelled_list_query_stops_and_leaves_the_connection_clean(
        store: Store, search: str | None) -> None:
    expected = store.list_ids(search=search)
    assert len(expected) == 300
    with pytest.raises(ListCancelled):
        store.list_ids(search=search, cancelled=lambda: True)
    # Every pooled connection answers in full afterwards: no progress handler left behind.
    for _ in range(6):
        assert store.list_ids(search=search) == expected
    assert store.list_ids(search=search, cancelled=lambda: False) == expected


def test_a_list_query_on_a_reader_thread_is_cancelled_by_the_gui_threads_flag(
        store: Store) -> None:
    stop = threading.Event()
    got: list[object] = []

    def run() -> None:
        try:
            got.append(store.list_ids(cancelled=stop.is_set))
        except ListCancelled as exc:
            got.append(exc)

    stop.set()
    t = threading.Thread(target=run)
    t.start()
    t.join(30)
    assert len(got) == 1 and isinstance(got[0], ListCancelled)
