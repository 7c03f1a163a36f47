"""The packed id list the declaration table holds (client.store.idcolumn): the same
sequence as the list of strings it replaces, each id's row found by bisecting hashes."""

from __future__ import annotations

import random
import uuid

import pytest

from client.store.idcolumn import IdColumn


def test_it_reads_back_as_the_list_it_packs() -> None:
    rng = random.Random(9)
    ids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(10_000)]
    ids += ["LRN-é-ünïcode", "x", "0190" + "7" * 36]  # other lengths, not only ASCII
    col = IdColumn(iter(ids))
    assert len(col) == len(ids)
    assert list(col) == ids and col == ids and ids == col
    assert col[0] == ids[0] and col[-1] == ids[-1] and col[5000] == ids[5000]
    assert col[10:20] == ids[10:20] and col[-3:] == ids[-3:] and col[::997] == ids[::997]
    with pytest.raises(IndexError):
        col[len(ids)]
    for row in (0, 1, 4999, len(ids) - 1, len(ids) - 3):
        assert col.row_of(ids[row]) == row
    assert all(col.row_of(d) == i for i, d in enumerate(ids))
    assert col.row_of("not-there") == -1 and "not-there" not in col and ids[7] in col


def test_equality_is_by_content() -> None:
    a = IdColumn(["a", "bc", "d"])
    assert a == IdColumn(["a", "bc", "d"])
    assert a != IdColumn(["ab", "c", "d"])  # same text, other ids
    assert a != ["a", "bc"] and a != IdColumn([])
    assert len(IdColumn()) == 0 and list(IdColumn()) == []


def test_ids_sharing_a_hash_are_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows are found by hash first: ids whose hashes collide still get their own rows."""
    import client.store.idcolumn as mod

    real = hash
    monkeypatch.setattr(mod, "hash", lambda s: real(s) % 7, raising=False)
    ids = [f"id-{n}" for n in range(200)]
    col = IdColumn(ids)
    assert all(col.row_of(d) == i for i, d in enumerate(ids))
    assert col.row_of("id-200") == -1
