"""The sandbox's receipts log: an append-only RFC 9162 Merkle tree over the store.

Each batch appends the receipt claims of the envelopes it lodged, in order, under the
intake lock (so the positions are exact whatever the number of worker processes),
stores the new complete subtrees and signs one tree head.  Proofs are computed from
the stored subtrees, which never change once written: every process caches them.
The proof algorithms themselves are the client's (:mod:`client.seal.translog`), so
both ends read RFC 9162 the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from client.seal import translog as tl

Fetch = Callable[[list[tuple[int, int]]], dict[tuple[int, int], bytes]]

MAX_CACHE = 1 << 20  # nodes kept in memory (about 100 MB at most)


def frontier(size: int) -> list[tuple[int, int]]:
    """The complete subtrees along the right edge of a tree of ``size`` leaves, left to
    right, as (level, index): their hashes fold into its root."""
    out = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            out.append((level, start >> level))
            start += 1 << level
    return out


class MerkleLog:
    """Proofs and appends over stored nodes, with an in-process cache of them."""

    def __init__(self, log_id: str, private_jwk: dict[str, Any]) -> None:
        self.log_id = log_id
        self.jwk = private_jwk
        self._cache: dict[tuple[int, int], bytes] = {}
        self._lock = threading.Lock()

    # -- nodes ---------------------------------------------------------------------
    def nodes(self, keys: list[tuple[int, int]], fetch: Fetch,
              extra: dict[tuple[int, int], bytes] | None = None) -> dict[tuple[int, int], bytes]:
        extra = extra or {}
        out = {k: extra[k] if k in extra else self._cache[k] for k in keys
               if k in extra or k in self._cache}
        missing = [k for k in keys if k not in out]
        if missing:
            got = fetch(missing)
            if len(got) != len(set(missing)):
                raise RuntimeError("the log is missing nodes it should hold")
            out.update(got)
            self._remember(got)
        return out

    def _remember(self, nodes: dict[tuple[int, int], bytes]) -> None:
        with self._lock:
            if len(self._cache) + len(nodes) > MAX_CACHE:
                self._cache.clear()
            self._cache.update(nodes)

    def subtree(self, fetch: Fetch, extra: dict[tuple[int, int], bytes] | None = None
                ) -> tl.Subtree:
        """The MTH(D[lo:hi]) oracle the proof algorithms read."""

        def mth(lo: int, hi: int) -> bytes:
            n = hi - lo
            if n & (n - 1) == 0 and lo % n == 0:
                level = n.bit_length() - 1
                key = (level, lo >> level)
                return self.nodes([key], fetch, extra)[key]
            k = tl.split(n)
            return tl.node_hash(mth(lo, lo + k), mth(lo + k, hi))

        return mth

    def root(self, size: int, fetch: Fetch,
             extra: dict[tuple[int, int], bytes] | None = None) -> bytes:
        if size == 0:
            return tl.root_of([])
        keys = frontier(size)
        got = self.nodes(keys, fetch, extra)
        root = got[keys[-1]]
        for k in reversed(keys[:-1]):
            root = tl.node_hash(got[k], root)
        return root

    # -- appending -----------------------------------------------------------------
    def append(self, size: int, leaves: list[bytes], fetch: Fetch
               ) -> dict[tuple[int, int], bytes]:
        """The new nodes once ``leaves`` (hashes) follow the ``size`` entries already in."""
        known = self.nodes(frontier(size), fetch)
        new: dict[tuple[int, int], bytes] = {}
        for j, h in enumerate(leaves):
            level, idx = 0, size + j
            new[(level, idx)] = h
            while idx & 1:
                left = new.get((level, idx - 1)) or known[(level, idx - 1)]
                h = tl.node_hash(left, h)
                level, idx = level + 1, idx >> 1
                new[(level, idx)] = h
        return new

    def committed(self, nodes: dict[tuple[int, int], bytes]) -> None:
        """The batch that wrote these nodes committed: keep them."""
        self._remember(nodes)

    def sign(self, size: int, root: bytes, time_text: str) -> tl.TreeHead:
        return tl.sign_tree_head(size, root, time_text, self.log_id, self.jwk)
