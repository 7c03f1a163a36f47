"""The outbox and what the single window answered: deliveries and receipts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    func,
    insert,
    select,
    update,
)

from client.declaration import states
from client.declaration.model import now_utc
from client.store import history_notes as notes
from client.store.connection import StoreBase
from client.store.helpers import _in_chunks, _Moves
from client.store.schema import T_JOURNAL, T_OUTBOX, T_RECEIPT
from client.store.types import CHAIN_LINK, Changes, DeliveryResult, OutboxItem


class OutboxMixin(StoreBase):
    """The outbox and what the single window answered: deliveries and receipts."""

    # ---- outbox ------------------------------------------------------------------------

    def outbox_pending(self, limit: int = 500, *, links: bool = False,
                       after: int = 0) -> list[OutboxItem]:
        """Queued (and held) envelopes in device order: what the next batch carries.

        ``links``: with the chain links too (state ``chain_link``), the envelopes of
        transits ended on paper that the single window must see as withdrawn, never
        lodged, so that the device chain has no gap (only a device-chained connector
        asks for them).  ``after``: only envelopes later than that seq (the next batch
        while the answer to the one before is still being stored)."""
        wanted = ("queued", "held", CHAIN_LINK) if links else ("queued", "held")
        with self._read() as conn:
            rows = conn.execute(
                select(T_OUTBOX.c.seq, T_OUTBOX.c.attempts, T_OUTBOX.c.state,
                       T_JOURNAL.c.declaration_id, T_JOURNAL.c.version, T_JOURNAL.c.kind,
                       T_JOURNAL.c.envelope_hash, T_JOURNAL.c.envelope)
                .join(T_JOURNAL, T_JOURNAL.c.seq == T_OUTBOX.c.seq)
                .where(T_OUTBOX.c.state.in_(wanted), T_OUTBOX.c.seq > after)
                .order_by(T_OUTBOX.c.seq).limit(limit)).all()
        return [OutboxItem(r.seq, r.declaration_id, r.version, r.kind, r.envelope_hash,
                           json.loads(r.envelope), r.attempts, r.state) for r in rows]

    def outbox_stats(self) -> tuple[int, str | None]:
        """(queued count, sealed_at of the oldest queued envelope)."""
        with self._read() as conn:
            r = conn.execute(select(func.count(), func.min(T_OUTBOX.c.queued_at))
                             .where(T_OUTBOX.c.state.in_(("queued", "held")))).first()
        return int(r[0] or 0), r[1]

    def outbox_note_attempt(self, seqs: Sequence[int], error: str | None) -> None:
        """Count a failed delivery attempt (the engine retries forever)."""
        if not seqs:
            return
        with self._tx() as conn:
            conn.execute(update(T_OUTBOX).where(T_OUTBOX.c.seq.in_(list(seqs))).values(
                attempts=T_OUTBOX.c.attempts + 1, last_error=error))

    def record_deliveries(self, results: Sequence[DeliveryResult], actor: str = "single-window"
                          ) -> Changes:
        """Store receipts and outcomes of one batch in one transaction.

        An outbox entry is marked done only together with its verified receipt, so a
        crash between sending and this commit simply resends (and the server answers
        "duplicate" with the original receipt).  A batch is a few bulk statements, not
        a few per envelope: a backlog of thousands drains at network speed.
        """
        now = now_utc()
        seqs = [r.seq for r in results]
        with self._tx() as conn:
            journal = {r.seq: r for r in _in_chunks(conn, select(
                T_JOURNAL.c.seq, T_JOURNAL.c.declaration_id, T_JOURNAL.c.version,
                T_JOURNAL.c.kind), T_JOURNAL.c.seq, seqs)}
            have_receipt = {r.seq for r in _in_chunks(conn, select(T_RECEIPT.c.seq),
                                                        T_RECEIPT.c.seq, seqs)}
            links = {r.seq for r in _in_chunks(conn, select(T_OUTBOX.c.seq).where(
                T_OUTBOX.c.state == CHAIN_LINK), T_OUTBOX.c.seq, seqs)}
            moves = _Moves(conn, [j.declaration_id for j in journal.values()
                                  if j.kind == "declaration"])
            receipts: list[dict[str, Any]] = []
            held: list[tuple[int]] = []
            done: list[tuple[Any, ...]] = []
            for res in results:
                j = journal.get(res.seq)
                if j is None:
                    continue
                if res.outcome == "held":
                    held.append((res.seq,))
                    continue
                if res.outcome == "withdrawn":  # a chain link: the declaration stays on paper
                    done.append((now, "paper_procedure", None, res.seq))
                    continue
                if res.outcome in ("accepted", "duplicate") and res.receipt \
                        and res.seq not in have_receipt:
                    have_receipt.add(res.seq)
                    receipts.append(dict(seq=res.seq, declaration_id=j.declaration_id,
                                         version=j.version, mrn=res.mrn,
                                         received_at=res.received_at or now,
                                         token=res.receipt, stored_at=now))
                done.append((now, "accepted" if res.outcome == "duplicate" else res.outcome,
                             json.dumps(res.errors) if res.errors else None, res.seq))
                if j.kind != "declaration":
                    continue
                registered = res.outcome in ("accepted", "duplicate")
                detail: dict[str, Any] = {"seq": res.seq}
                if res.mrn:
                    detail["mrn"] = res.mrn
                if res.errors:
                    detail["errors"] = res.errors
                if registered and res.seq in links:  # lodged before it went on paper
                    moves.lodged_before_paper(j.declaration_id, actor, now, mrn=res.mrn,
                                              detail=detail)
                    continue
                if registered and moves.is_request(j.declaration_id):
                    # a request's receipt: the declaration keeps its state and its MRN
                    moves.note(j.declaration_id, actor, now, note=notes.RECEIPT(),
                               detail=detail)
                    continue
                moves.move(j.declaration_id, j.version,
                           states.REGISTERED if registered else states.REJECTED, actor, now,
                           note=notes.RECEIPT() if registered else notes.REJECTED(),
                           detail=detail,
                           mrn=res.mrn)
                if registered:
                    moves.link_fallback(j.declaration_id, res.mrn, actor, now)
            if receipts:
                conn.execute(insert(T_RECEIPT), receipts)
            if held:
                # a chain link stays one while held: it must never go out without its mark
                conn.exec_driver_sql(
                    "UPDATE outbox SET state = CASE state WHEN 'chain_link' THEN state "
                    "ELSE 'held' END, attempts = attempts + 1 WHERE seq = ?", held)
            if done:
                conn.exec_driver_sql("UPDATE outbox SET state = 'done', delivered_at = ?, "
                                     "outcome = ?, last_error = ? WHERE seq = ?", done)
            touched = moves.flush(conn)
        return Changes(declarations=touched, outbox=True, statuses=bool(touched))

    # ---- receipts ---------------------------------------------------------------------

    def receipts(self, decl_id: str) -> list[dict[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(select(T_RECEIPT).where(T_RECEIPT.c.declaration_id == decl_id)
                                .order_by(T_RECEIPT.c.seq)).all()
        return [dict(r._mapping) for r in rows]

    def receipt_count(self) -> int:
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(T_RECEIPT)).scalar() or 0)

