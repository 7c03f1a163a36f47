"""Checking what the single window says it lodged: the receipts log's proofs (#16).

A batch's answer carries one signed tree head and the proofs that tie each accepted
envelope's receipt to it (:mod:`client.seal.translog`).  Before anything is stored the
client checks the head's signature (one per batch), rebuilds every receipt from the
range proof or its own path (each becomes a standalone receipt, kept as the proof of
lodging), and checks that the head extends the last one this profile accepted — with
the consistency proof in the answer, or one asked for — so that the single window
cannot drop or rewrite an entry it signed before without the client seeing it.
Accepted heads are kept under ``trust/`` (the latest, and a history for offline
comparisons by ``comptoir verify``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from client.declaration.model import now_utc
from client.seal import translog as tl
from sync.protocol import BatchResponse, LogProof
from sync.transport import ProblemError, SingleWindowClient


class LogKeeper:
    """This profile's view of the single window's receipts log."""

    def __init__(self, home: Path, client: Callable[[], SingleWindowClient],
                 certificate: Callable[[], Any]) -> None:
        self.folder = Path(home) / "trust"
        self._client = client
        self._certificate = certificate
        self._known: tl.TreeHead | None = None
        self._loaded = False

    def known(self) -> tl.TreeHead | None:
        """The latest tree head this profile accepted."""
        if not self._loaded:
            self._known = tl.load_head(self.folder)
            self._loaded = True
        return self._known

    def size(self) -> int:
        head = self.known()
        return head.size if head else 0

    def check_batch(self, resp: BatchResponse) -> tuple[list[str | None], tl.TreeHead | None]:
        """Per result its standalone receipt (None for results without one, or with an
        older self-signed receipt), and the head to keep once the batch is stored.
        Raises LogError when anything does not hold."""
        want = [r.status in ("accepted", "duplicate") and r.receipt is None
                for r in resp.results]
        if not any(want):
            return [None] * len(resp.results), None
        log = resp.log
        if log is None:
            raise tl.LogError("log.proof_malformed")
        head = tl.verify_tree_head(log.tree_head, self._certificate())
        leaves: list[tl.BatchLeaf] = []
        for r, w in zip(resp.results, want, strict=True):
            if not w:
                continue
            if r.leaf is None or r.log_index is None:
                raise tl.LogError("log.proof_malformed")
            leaves.append(tl.BatchLeaf(r.leaf, r.log_index,
                                       tl.decode_hashes(r.path) if r.path is not None else None))
        texts = iter(tl.batch_receipts(head, log.first, log.count, tl.decode_hashes(log.range),
                                       leaves))
        receipts = [next(texts) if w else None for w in want]
        return receipts, self.check_head(head, log)

    def check_head(self, head: tl.TreeHead, log: LogProof | None = None) -> tl.TreeHead | None:
        """Check ``head`` against the latest accepted one; the head to keep (None when
        it is not newer)."""
        known = self.known()
        if known is None:
            return head  # the first head this profile sees
        if head.size == known.size:
            tl.check_consistent(known, head, [])
            return None
        if log is not None and log.consistency_from == known.size and head.size > known.size:
            proof = tl.decode_hashes(log.consistency)
        else:
            proof = self.fetch_proof(min(known.size, head.size), max(known.size, head.size),
                                     head if head.size > known.size else known)
        tl.check_consistent(known, head, proof)
        return head if head.size > known.size else None

    def fetch_proof(self, first: int, second: int, second_head: tl.TreeHead) -> list[bytes]:
        """A consistency proof asked of the single window; its head of ``second`` must be
        the one already verified."""
        try:
            resp = self._client().log_consistency(first, second)
        except ProblemError as exc:
            if exc.status == 404:  # the log no longer has that many entries
                raise tl.LogError("log.rolled_back", old=second, new=first) from exc
            raise
        got = tl.verify_tree_head(resp.tree_head, self._certificate())
        if got.size != second_head.size or got.root != second_head.root:
            raise tl.LogError("log.inconsistent", old=first, new=second)
        return tl.decode_hashes(resp.proof)

    def keep(self, head: tl.TreeHead | None) -> None:
        """Remember a newly accepted head (after the batch it came with is stored)."""
        if head is None:
            return
        known = self.known()
        if known is not None and head.size <= known.size:
            return
        tl.save_head(self.folder, head, now_utc())
        self._known = head
