"""The device journal: seal appends the signed envelope and queues it, atomically."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

from sqlalchemy import (
    Connection,
    select,
)

from client.declaration import states
from client.declaration.model import Declaration, now_utc
from client.store import history_notes as notes
from client.store.connection import StoreBase
from client.store.schema import T_DECL, T_DOC, T_JOURNAL
from client.store.types import ChainLink, JournalEntry, MakeLink, SealFn, StoreError


class _Skip(Exception):
    """Internal: the re-sealer left this envelope as it is."""


class JournalMixin(StoreBase):
    """The device journal: seal appends the signed envelope and queues it, atomically."""

    # ---- seal: journal + outbox in one transaction ------------------------------------

    def seal(self, decl_id: str, actor: str, sealer: SealFn,
             check: Callable[[Declaration], None] | None = None) -> JournalEntry:
        """Sign and queue: journal append, outbox entry and the move to sealed, atomically.

        ``check`` (validation) runs first, on a snapshot; ``sealer`` (canonicalise +
        sign) runs inside the write transaction, after the snapshot is confirmed
        unchanged, so the sequence number and chain link it signs are the ones
        committed — a crash anywhere leaves either nothing or everything.  The
        document itself is not copied into the history: the journal holds it, signed.
        """
        with self._read() as conn:
            snap = conn.execute(select(T_DECL.c.status, T_DOC.c.document)
                                .join(T_DOC, T_DOC.c.id == T_DECL.c.id)
                                .where(T_DECL.c.id == decl_id)).first()
        if snap is None:
            raise StoreError("error.not_found", 2, id=decl_id)
        if snap.status not in states.EDITABLE:
            raise StoreError("store.already_sealed", 2, id=decl_id, status=snap.status)
        decl = Declaration.model_validate_json(snap.document)
        if check is not None:
            check(decl)
        now = now_utc()
        with self._tx() as conn:
            row = conn.exec_driver_sql(
                "SELECT d.status, c.document FROM declaration d JOIN declaration_document c "
                "ON c.id = d.id WHERE d.id = ?", (decl_id,)).first()
            if row is None or row.status not in states.EDITABLE or row.document != snap.document:
                raise StoreError("store.changed_while_sealing", 2, id=decl_id)
            document = json.loads(snap.document)  # stored as Declaration.to_json_dict()
            entry = self._append_journal(conn, "declaration", decl.id, decl.version,
                                         lambda seq, prev: sealer(decl, document, seq, prev),
                                         now)
            conn.exec_driver_sql(
                "UPDATE declaration SET status = ?, updated_at = ?, sealed_at = ?, "
                "envelope_hash = ? WHERE id = ?",
                (states.SEALED, now, now, entry.envelope_hash, decl_id))
            code, detail = notes.note_columns(notes.SEALED(seq=entry.seq),
                                              {"hash": entry.envelope_hash})
            conn.exec_driver_sql(
                "INSERT INTO history (declaration_id, version, at, actor, from_status, "
                "to_status, note, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (decl_id, decl.version, now, actor, row.status, states.SEALED, code,
                 json.dumps(detail)))
        return entry

    def append_journal(self, kind: str, subject_id: str, version: int,
                       make: MakeLink) -> JournalEntry:
        """Seal something other than a declaration (an officer's decision, #8)."""
        with self._tx() as conn:
            return self._append_journal(conn, kind, subject_id, version, make, now_utc())

    def _append_journal(self, conn: Connection, kind: str, subject_id: str, version: int,
                        make: MakeLink, now: str) -> JournalEntry:
        last = conn.exec_driver_sql(
            "SELECT seq, envelope_hash FROM journal ORDER BY seq DESC LIMIT 1").first()
        seq = (last.seq + 1) if last else 1
        link = make(seq, last.envelope_hash if last else None)
        env, h, prev = link.envelope, link.envelope_hash, link.prev_hash
        raw = json.dumps(env, separators=(",", ":"))
        conn.exec_driver_sql(
            "INSERT INTO journal (seq, kind, declaration_id, version, envelope_hash, prev_hash, "
            "sealed_at, envelope) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, kind, subject_id, version, h, prev, now, raw))
        conn.exec_driver_sql("INSERT INTO outbox (seq, state, attempts, queued_at) "
                             "VALUES (?, 'queued', 0, ?)", (seq, now))
        return JournalEntry(seq, kind, subject_id, version, h, prev, now, env)

    def supersede_pending(self, resign: Callable[[JournalEntry, int, str | None], ChainLink | None],
                          actor: str) -> list[JournalEntry]:
        """Re-seal undelivered envelopes onto the end of the journal, in one transaction.

        ``resign(old, seq, prev)`` returns the replacement link, or None to leave ``old``
        queued.  The old journal entry stays (the chain is never rewritten); its outbox row
        is closed as ``superseded`` and the declaration now points at the new envelope.
        """
        now = now_utc()
        made: list[JournalEntry] = []
        with self._tx() as conn:
            rows = conn.exec_driver_sql(
                "SELECT j.seq, j.kind, j.declaration_id, j.version, j.envelope_hash, "
                "j.prev_hash, j.sealed_at, j.envelope FROM outbox o JOIN journal j "
                "ON j.seq = o.seq WHERE o.state IN ('queued', 'held') ORDER BY o.seq").all()
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
        return made

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

