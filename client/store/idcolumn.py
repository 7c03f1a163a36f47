"""A list's ids in a few flat buffers instead of one Python string each.

The declaration table holds the ids of the whole list (100,000 on a busy broker's
profile) to know its length and each row's id.  As a list of strings with a dict for
"which row is this id" that was 16 MB of objects, and more resident once the driver's
rows and the dict's growth had passed through the heap (#15).  Here the ids are one
string, their starts one array, and the row of an id is found by bisecting an array of
hashes: about 6 MB for 100,000 ids, and no object per row.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

_CHUNK = 4096  # ids joined at a time while reading (the driver's strings die per chunk)


class IdColumn(Sequence[str]):
    """An immutable sequence of ids, in list order, with :meth:`row_of`."""

    __slots__ = ("_text", "_starts", "_hashes", "_rows")

    def __init__(self, ids: Iterable[str] = ()) -> None:
        chunks: list[str] = []
        part: list[str] = []
        starts = array("q", [0])
        hashes = array("q")
        pos = 0
        for decl_id in ids:
            part.append(decl_id)
            pos += len(decl_id)
            starts.append(pos)
            hashes.append(hash(decl_id))
            if len(part) == _CHUNK:
                chunks.append("".join(part))
                part = []
        chunks.append("".join(part))
        self._text = "".join(chunks)
        self._starts = starts
        order = sorted(range(len(hashes)), key=hashes.__getitem__)
        self._rows = array("q", order)
        self._hashes = array("q", (hashes[i] for i in order))

    def __len__(self) -> int:
        return len(self._starts) - 1

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self._at(i) for i in range(*index.indices(len(self)))]
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("id column index out of range")
        return self._at(index)

    def _at(self, row: int) -> str:
        return self._text[self._starts[row]:self._starts[row + 1]]

    def __iter__(self) -> Iterator[str]:
        return (self._at(i) for i in range(len(self)))

    def row_of(self, decl_id: str) -> int:
        """The row of ``decl_id``, or -1: a bisection, then the ids sharing its hash."""
        h = hash(decl_id)
        i = bisect_left(self._hashes, h)
        while i < len(self._hashes) and self._hashes[i] == h:
            row = self._rows[i]
            if self._at(row) == decl_id:
                return row
            i += 1
        return -1

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and self.row_of(value) >= 0

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, IdColumn):
            return self._text == other._text and self._starts == other._starts
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other,
                                                                          strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable-looking: equal by content

    def __repr__(self) -> str:
        return f"IdColumn({len(self)} ids)"
