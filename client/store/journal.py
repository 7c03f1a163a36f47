"""The device journal: seal appends the signed envelope and queues it, atomically."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import (
    Connection,
    select,
)

from client.declaration import states
from client.declaration.model import now_utc
from client.declaration.plain import read_declaration
from client.store import history_notes as notes
from client.store.connection import StoreBase
from client.store.helpers import HISTORY_SQL, lodged_status, lrn_taken_on
from client.store.schema import T_JOURNAL
from client.store.types import ChainLink, JournalEntry, LrnLookup, MakeLink, SealFn, StoreError


class _Skip(Exception):
    """Internal: the re-sealer left this envelope as it is."""

# Fixed statements of the seal path, written once so the driver's statement cache
# keeps each one prepared across seals.
_SNAPSHOT_SQL = ("SELECT d.status, c.document FROM declaration d JOIN declaration_document c "
                 "ON c.id = d.id WHERE d.id = ?")
_PROTECTED_SQL = "SELECT json_extract(envelope, '$.protected') FROM journal WHERE seq = ?"
_LAST_LINK_SQL = "SELECT seq, envelope_hash FROM journal ORDER BY seq DESC LIMIT 1"
_JOURNAL_SQL = ("INSERT INTO journal (seq, kind, declaration_id, version, envelope_hash, "
                "prev_hash, sealed_at, envelope) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
_OUTBOX_SQL = "INSERT INTO outbox (seq, state, attempts, queued_at) VALUES (?, 'queued', 0, ?)"
_SEALED_SQL = ("UPDATE declaration SET status = ?, updated_at = ?, sealed_at = ?, "
               "envelope_hash = ? WHERE id = ?")

class JournalMixin(StoreBase):
    """The device journal: seal appends the signed envelope and queues it, atomically."""

    # ---- seal: journal + outbox in one transaction ------------------------------------

    def seal(self, decl_id: str, actor: str, sealer: SealFn,
             check: Callable[[Any, LrnLookup], None] | None = None) -> JournalEntry:
        """Sign and queue: journal append, outbox entry and the move to sealed, atomically.

        ``check`` (validation) runs first, on a snapshot; ``sealer`` (canonicalise +
        sign) runs inside the write transaction, after the snapshot is confirmed
        unchanged, so the sequence number and chain link it signs are the ones
        committed — a crash anywhere leaves either nothing or everything.  The
        document itself is not copied into the history: the journal holds it, signed.
        Both are given the declaration as :func:`read_declaration` reads it (the model's
        attributes, not always a model instance); ``check`` also gets the store's LRN
        lookup (:meth:`lrn_taken`'s arguments) on the snapshot's own cursor.
        """
        with self._read_cursor() as cur:
            snap = cur.execute(_SNAPSHOT_SQL, (decl_id,)).fetchone()
            if snap is None:
                raise StoreError("error.not_found", 2, id=decl_id)
            snap_status, snap_document = snap
            if snap_status not in states.EDITABLE:
                raise StoreError("store.already_sealed", 2, id=decl_id, status=snap_status)
            # Parsed once: the document as stored (Declaration.to_json_dict()) is what is
            # signed, and its plain reading is what validation and the header read.
            document = json.loads(snap_document)
            decl = read_declaration(document)
            if check is not None:
                # validation's LRN lookup runs on this cursor: a second checkout from the
                # pool cost more CPU than the indexed query itself
                check(decl, functools.partial(lrn_taken_on, cur))
        now = now_utc()
        # The hot path talks to the driver's cursor directly: SQLAlchemy's per-statement
        # and per-transaction bookkeeping was a third of the CPU time of a seal, and the
        # driver keeps each fixed statement prepared.
        with self._write_cursor() as cur:
            row = cur.execute(_SNAPSHOT_SQL, (decl_id,)).fetchone()
            if row is None or row[0] not in states.EDITABLE or row[1] != snap_document:
                raise StoreError("store.changed_while_sealing", 2, id=decl_id)
            entry = self._append_journal_cur(
                cur, "declaration", decl.id, decl.version,
                lambda seq, prev: sealer(decl, document, seq, prev), now)
            # A request (amendment, invalidation) is assessed while the declaration keeps
            # the state it was lodged in: sealing it goes back there, not to "sealed".
            status = states.SEALED
            if decl.function in states.REQUESTS:
                status = lodged_status(cur, decl_id, decl.version) or states.SEALED
            cur.execute(_SEALED_SQL, (status, now, now, entry.envelope_hash, decl_id))
            code, detail = notes.note_columns(notes.SEALED(seq=entry.seq),
                                              {"hash": entry.envelope_hash})
            cur.execute(HISTORY_SQL, (decl_id, decl.version, now, actor, row[0],
                                      status, code, json.dumps(detail), None))
        return entry

    def append_journal(self, kind: str, subject_id: str, version: int,
                       make: MakeLink) -> JournalEntry:
        """Seal something other than a declaration (an officer's decision, #8)."""
        with self._tx() as conn:
            return self._append_journal(conn, kind, subject_id, version, make, now_utc())

    def _append_journal(self, conn: Connection, kind: str, subject_id: str, version: int,
                        make: MakeLink, now: str) -> JournalEntry:
        cur = conn.connection.cursor()
        try:
            return self._append_journal_cur(cur, kind, subject_id, version, make, now)
        finally:
            cur.close()

    @staticmethod
    def _append_journal_cur(cur: Any, kind: str, subject_id: str, version: int,
                            make: MakeLink, now: str) -> JournalEntry:
        """Append one envelope and queue it, on a driver cursor inside the write transaction.

        The envelope's bytes are written once (the journal row); the outbox row only
        points at its sequence number.
        """
        last = cur.execute(_LAST_LINK_SQL).fetchone()
        seq = (last[0] + 1) if last else 1
        link = make(seq, last[1] if last else None)
        env, h, prev = link.envelope, link.envelope_hash, link.prev_hash
        raw = json.dumps(env, separators=(",", ":"))
        cur.execute(_JOURNAL_SQL, (seq, kind, subject_id, version, h, prev, now, raw))
        cur.execute(_OUTBOX_SQL, (seq, now))
        return JournalEntry(seq, kind, subject_id, version, h, prev, now, env)

    def supersede_pending(self, resign: Callable[[JournalEntry, int, str | None], ChainLink | None],
                          actor: str, *, from_seq: int = 0) -> list[JournalEntry]:
        """Re-seal undelivered envelopes onto the end of the journal, in one transaction.

        ``resign(old, seq, prev)`` returns the replacement link, or None to leave ``old``
        queued.  The old journal entry stays (the chain is never rewritten); its outbox row
        is closed as ``superseded`` and the declaration now points at the new envelope.
        ``from_seq``: only the undelivered tail from that sequence number (a migration of an
        enrolled device, #12); the chain links before it stay, to be sent as they are.
        """
        now = now_utc()
        made: list[JournalEntry] = []
        with self._tx() as conn:
            rows = conn.exec_driver_sql(
                "SELECT j.seq, j.kind, j.declaration_id, j.version, j.envelope_hash, "
                "j.prev_hash, j.sealed_at, j.envelope FROM outbox o JOIN journal j "
                "ON j.seq = o.seq WHERE o.state IN ('queued', 'held') AND o.seq >= ? "
                "ORDER BY o.seq", (from_seq,)).all()
            for r in rows:
                old = JournalEntry(r.seq, r.kind, r.declaration_id, r.version, r.envelope_hash,
                                   r.prev_hash, r.sealed_at, json.loads(r.envelope))
                box: list[ChainLink] = []

                def make(seq: int, prev: str | None, old: JournalEntry = old,
                         box: list[ChainLink] = box) -> ChainLink:
                    link = resign(old, seq, prev)
                    if link is None:
                        raise _Skip
                    box.append(link)
                    return link

                try:
                    entry = self._append_journal(conn, old.kind, old.declaration_id,
                                                 old.version, make, now)
                except _Skip:
                    continue
                conn.exec_driver_sql(
                    "UPDATE outbox SET state = 'done', outcome = 'superseded' WHERE seq = ?",
                    (old.seq,))
                conn.exec_driver_sql(
                    "UPDATE declaration SET envelope_hash = ? WHERE id = ? AND envelope_hash = ?",
                    (entry.envelope_hash, old.declaration_id, old.envelope_hash))
                made.append(entry)
            # the links of transits ended on paper belong to the chain being replaced
            conn.exec_driver_sql("UPDATE outbox SET state = 'done' WHERE state = 'chain_link' "
                                 "AND seq >= ?", (from_seq,))
        return made

    def pending_signatures(self, after: int = 0) -> list[tuple[int, str, str]]:
        """(seq, protected header, signature) of every undelivered envelope after ``after``,
        in order: what a check of the signatures an older build made needs."""
        with self._read_cursor() as cur:
            rows = cur.execute(
                "SELECT j.seq, json_extract(j.envelope, '$.protected'), "
                "json_extract(j.envelope, '$.signature') FROM outbox o JOIN journal j "
                "ON j.seq = o.seq WHERE o.state IN ('queued', 'held') AND o.seq > ? "
                "ORDER BY o.seq", (after,)).fetchall()
        return [(int(r[0]), str(r[1] or ""), str(r[2] or "")) for r in rows]

    def journal(self, *, after: int = 0, limit: int | None = None) -> Iterator[JournalEntry]:
        """The device journal in order (streams: the chain may be long)."""
        batch = 1000 if limit is None else min(limit, 1000)
        seen = 0
        while True:
            with self._read() as conn:
                rows = conn.execute(select(T_JOURNAL).where(T_JOURNAL.c.seq > after)
                                    .order_by(T_JOURNAL.c.seq).limit(batch)).all()
            if not rows:
                return
            for r in rows:
                yield JournalEntry(r.seq, r.kind, r.declaration_id, r.version, r.envelope_hash,
                                   r.prev_hash, r.sealed_at, json.loads(r.envelope))
                seen += 1
                if limit is not None and seen >= limit:
                    return
            after = rows[-1].seq

    def journal_protected(self, seq: int) -> str | None:
        """The protected header (base64url) of journal entry ``seq``, without reading and
        decoding the whole envelope: the seal path asks for its predecessor's ``sigT``."""
        with self._read_cursor() as cur:
            row = cur.execute(_PROTECTED_SQL, (seq,)).fetchone()
        return None if row is None else row[0]

    def journal_entry(self, *, seq: int | None = None, declaration_id: str | None = None,
                      version: int | None = None) -> JournalEntry | None:
        q = select(T_JOURNAL)
        if seq is not None:
            q = q.where(T_JOURNAL.c.seq == seq)
        if declaration_id is not None:
            q = q.where(T_JOURNAL.c.declaration_id == declaration_id)
        if version is not None:
            q = q.where(T_JOURNAL.c.version == version)
        with self._read() as conn:
            r = conn.execute(q.order_by(T_JOURNAL.c.seq.desc()).limit(1)).first()
        if r is None:
            return None
        return JournalEntry(r.seq, r.kind, r.declaration_id, r.version, r.envelope_hash,
                            r.prev_hash, r.sealed_at, json.loads(r.envelope))

