"""UK CDS lodgings: the attempts ledger, settlement, notifications, the user's decisions.

The CDS API has no idempotency key, so exactly-once rests on this ledger (the reasoning
is in ARCHITECTURE.md, "Exactly once without an idempotency key"): an attempt is written
and committed *before* its request leaves, every answer settles it in one transaction
with the outbox and the declaration's lifecycle, and a lodging whose answer was lost
stays ``uncertain`` until notifications or a protected resend settle it — or the user
does, which is recorded too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from client.common.i18n import Message
from client.declaration import states
from client.declaration.model import now_utc
from client.store import history_notes as notes
from client.store.connection import StoreBase
from client.store.helpers import _in_chunks, _Moves
from client.store.schema import (
    T_CDS_ATTEMPT,
    T_CDS_LODGING,
    T_CDS_NOTIF,
    T_JOURNAL,
    T_NOTIF,
    T_OUTBOX,
)
from client.store.types import Changes, StoreError

ACTOR = "cds"
# Outcomes after which CDS may have taken the declaration (the window counts from them).
MAYBE_TAKEN = frozenset({"started", "ambiguous", "accepted", "duplicate"})


@dataclass(frozen=True)
class CdsAttempt:
    id: int
    seq: int
    started_at: str
    started_at_server: str | None
    body_sha256: str
    outcome: str
    http_status: int | None
    conversation_id: str | None
    finished_at: str | None
    detail: dict[str, Any] | None


@dataclass(frozen=True)
class CdsLodging:
    seq: int
    declaration_id: str
    version: int
    lrn: str
    endpoint: str
    state: str
    conversation_id: str | None
    attempts: int
    decision: str | None
    decided_by: str | None
    decided_at: str | None
    updated_at: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _lodging(r: Any) -> CdsLodging:
    return CdsLodging(**{k: r._mapping[k] for k in CdsLodging.__dataclass_fields__})


def _attempt(r: Any) -> CdsAttempt:
    m = dict(r._mapping)
    m["detail"] = json.loads(m["detail"]) if m["detail"] else None
    return CdsAttempt(**{k: m[k] for k in CdsAttempt.__dataclass_fields__})


class CdsMixin(StoreBase):
    """Lodgings with UK CDS, their attempts and the notifications pulled for them."""

    # ---- reading -------------------------------------------------------------------------

    def cds_lodgings(self, seqs: Sequence[int] | None = None, *,
                     states_in: Sequence[str] | None = None) -> list[CdsLodging]:
        q = select(T_CDS_LODGING)
        if states_in is not None:
            q = q.where(T_CDS_LODGING.c.state.in_(list(states_in)))
        with self._read() as conn:
            if seqs is None:
                return [_lodging(r) for r in conn.execute(q.order_by(T_CDS_LODGING.c.seq))]
            rows = [_lodging(r) for r in _in_chunks(conn, q, T_CDS_LODGING.c.seq, list(seqs))]
        return sorted(rows, key=lambda lg: lg.seq)

    def cds_attempts(self, seq: int) -> list[CdsAttempt]:
        with self._read() as conn:
            return [_attempt(r) for r in conn.execute(
                select(T_CDS_ATTEMPT).where(T_CDS_ATTEMPT.c.seq == seq)
                .order_by(T_CDS_ATTEMPT.c.id))]

    def cds_notification_ids(self) -> set[str]:
        with self._read() as conn:
            return set(conn.execute(select(T_CDS_NOTIF.c.id)).scalars())

    def cds_notifications(self, seq: int | None = None) -> list[dict[str, Any]]:
        """Pulled notifications (of one lodging, or those that matched none)."""
        q = select(T_CDS_NOTIF.c.id, T_CDS_NOTIF.c.conversation_id, T_CDS_NOTIF.c.lrn,
                   T_CDS_NOTIF.c.seq, T_CDS_NOTIF.c.function_code, T_CDS_NOTIF.c.status,
                   T_CDS_NOTIF.c.mrn, T_CDS_NOTIF.c.issued_at, T_CDS_NOTIF.c.received_at)
        q = q.where(T_CDS_NOTIF.c.seq == seq) if seq is not None \
            else q.where(T_CDS_NOTIF.c.seq.is_(None))
        with self._read() as conn:
            return [dict(r._mapping) for r in conn.execute(q.order_by(
                T_CDS_NOTIF.c.received_at))]

    def cds_counts(self) -> dict[str, int]:
        with self._read() as conn:
            rows = conn.execute(select(T_CDS_LODGING.c.state, func.count())
                                .group_by(T_CDS_LODGING.c.state)).all()
            orphans = conn.execute(select(func.count()).select_from(T_CDS_NOTIF)
                                   .where(T_CDS_NOTIF.c.seq.is_(None))).scalar()
        out = {str(s): int(n) for s, n in rows}
        out["orphan_notifications"] = int(orphans or 0)
        return out

    def cds_stale_conversations(self, before: str, limit: int = 20) -> list[str]:
        """Lodged conversations older than ``before`` with no notification yet."""
        with self._read() as conn:
            has = select(T_CDS_NOTIF.c.conversation_id).where(
                T_CDS_NOTIF.c.conversation_id.is_not(None))
            q = (select(T_CDS_LODGING.c.conversation_id)
                 .where(T_CDS_LODGING.c.state == "lodged",
                        T_CDS_LODGING.c.conversation_id.is_not(None),
                        T_CDS_LODGING.c.updated_at < before,
                        T_CDS_LODGING.c.conversation_id.not_in(has),
                        ~T_CDS_LODGING.c.seq.in_(select(T_CDS_NOTIF.c.seq).where(
                            T_CDS_NOTIF.c.seq.is_not(None))))
                 .order_by(T_CDS_LODGING.c.updated_at).limit(limit))
            return [str(c) for c in conn.execute(q).scalars()]

    # ---- the ledger ----------------------------------------------------------------------

    def cds_begin_attempt(self, seq: int, *, lrn: str, endpoint: str, body_sha256: str,
                          started_at: str, started_at_server: str | None) -> int:
        """Write the attempt (and its lodging on first use) and commit, before sending."""
        with self._tx() as conn:
            j = conn.execute(select(T_JOURNAL.c.declaration_id, T_JOURNAL.c.version)
                             .where(T_JOURNAL.c.seq == seq)).first()
            if j is None:
                raise StoreError("store.not_found", 2, id=str(seq))
            have = conn.execute(select(T_CDS_LODGING.c.state)
                                .where(T_CDS_LODGING.c.seq == seq)).first()
            if have is None:
                conn.execute(insert(T_CDS_LODGING).values(
                    seq=seq, declaration_id=j.declaration_id, version=j.version, lrn=lrn,
                    endpoint=endpoint, state="open", attempts=1, updated_at=started_at))
            else:
                conn.execute(update(T_CDS_LODGING).where(T_CDS_LODGING.c.seq == seq).values(
                    attempts=T_CDS_LODGING.c.attempts + 1, updated_at=started_at))
            r = conn.execute(insert(T_CDS_ATTEMPT).values(
                seq=seq, started_at=started_at, started_at_server=started_at_server,
                body_sha256=body_sha256, outcome="started"))
            return int(r.inserted_primary_key[0])

    def cds_settle_attempt(self, attempt_id: int, outcome: str, *, http_status: int | None = None,
                           conversation_id: str | None = None,
                           errors: list[dict[str, Any]] | None = None,
                           detail: dict[str, Any] | None = None) -> Changes:
        """Record what one request came to, with the outbox and the lifecycle, at once."""
        now = now_utc()
        with self._tx() as conn:
            a = conn.execute(select(T_CDS_ATTEMPT.c.seq).where(
                T_CDS_ATTEMPT.c.id == attempt_id)).first()
            if a is None:
                raise StoreError("store.not_found", 2, id=str(attempt_id))
            seq = int(a.seq)
            info = dict(detail or {})
            if errors:
                info["errors"] = errors
            conn.execute(update(T_CDS_ATTEMPT).where(T_CDS_ATTEMPT.c.id == attempt_id).values(
                outcome=outcome, http_status=http_status, conversation_id=conversation_id,
                finished_at=now, detail=json.dumps(info) if info else None))
            lodging = conn.execute(select(T_CDS_LODGING).where(
                T_CDS_LODGING.c.seq == seq)).first()
            assert lodging is not None
            moves = _Moves(conn, [lodging.declaration_id])
            if outcome == "accepted":
                self._cds_lodged(conn, moves, lodging, conversation_id, now,
                                 note=notes.CDS_LODGED(via="202"),
                                 detail={"conversation_id": conversation_id,
                                         "attempt": attempt_id})
            elif outcome == "refused":
                self._cds_set(conn, seq, state="refused", updated_at=now)
                self._outbox_done(conn, seq, "rejected", now, errors)
                moves.move(lodging.declaration_id, lodging.version, states.REJECTED, ACTOR, now,
                           note=notes.CDS_REFUSED(http_status=http_status),
                           detail={"errors": errors or [], "http_status": http_status},
                           mrn=None)
            else:
                if outcome == "ambiguous" and lodging.state == "open":
                    self._cds_set(conn, seq, state="uncertain", updated_at=now)
                conn.execute(update(T_OUTBOX).where(T_OUTBOX.c.seq == seq).values(
                    attempts=T_OUTBOX.c.attempts + 1, last_error=f"cds.{outcome}"))
            touched = moves.flush(conn)
        return Changes(declarations=touched, outbox=True, statuses=bool(touched))

    def cds_mark_uncertain(self, seqs: Sequence[int]) -> None:
        """Lodgings whose last attempt never finished (the process died): answer lost."""
        now = now_utc()
        with self._tx() as conn:
            conn.execute(update(T_CDS_ATTEMPT).where(
                T_CDS_ATTEMPT.c.seq.in_(list(seqs)), T_CDS_ATTEMPT.c.outcome == "started")
                .values(outcome="ambiguous", finished_at=now,
                        detail=json.dumps({"reason": "interrupted"})))
            conn.execute(update(T_CDS_LODGING).where(
                T_CDS_LODGING.c.seq.in_(list(seqs)), T_CDS_LODGING.c.state == "open")
                .values(state="uncertain", updated_at=now))

    def cds_mark_unresolved(self, seq: int, detail: dict[str, Any]) -> Changes:
        """Past the window with nothing known: never resent on its own; the user decides."""
        now = now_utc()
        with self._tx() as conn:
            lodging = conn.execute(select(T_CDS_LODGING).where(
                T_CDS_LODGING.c.seq == seq)).first()
            if lodging is None or lodging.state == "unresolved":
                return Changes()
            self._cds_set(conn, seq, state="unresolved", updated_at=now)
            conn.execute(update(T_OUTBOX).where(T_OUTBOX.c.seq == seq).values(
                state="unresolved", last_error="cds.unresolved"))
            moves = _Moves(conn, [lodging.declaration_id])
            moves.note(lodging.declaration_id, ACTOR, now,
                       note=notes.CDS_UNRESOLVED(), detail=detail)
            touched = moves.flush(conn)
        return Changes(declarations=touched, outbox=True)

    def cds_resolve_lodged(self, seq: int, *, conversation_id: str | None, via: str) -> Changes:
        """An uncertain lodging proven taken (a notification, or CDS12003 on a resend)."""
        now = now_utc()
        with self._tx() as conn:
            lodging = conn.execute(select(T_CDS_LODGING).where(
                T_CDS_LODGING.c.seq == seq)).first()
            if lodging is None or lodging.state not in ("uncertain", "unresolved", "open"):
                return Changes()
            moves = _Moves(conn, [lodging.declaration_id])
            self._cds_lodged(conn, moves, lodging, conversation_id, now,
                             note=notes.CDS_LODGED(via=via),
                             detail={"conversation_id": conversation_id, "via": via})
            touched = moves.flush(conn)
        return Changes(declarations=touched, outbox=True, statuses=bool(touched))

    def cds_decide(self, seq: int, decision: str, actor: str, *, mrn: str | None = None
                   ) -> Changes:
        """The user's decision on an unresolved lodging: resend | lodged (MRN) | withdraw."""
        if decision not in ("resend", "lodged", "withdraw"):
            raise StoreError("cds.bad_decision", 2, decision=decision)
        now = now_utc()
        with self._tx() as conn:
            lodging = conn.execute(select(T_CDS_LODGING).where(
                T_CDS_LODGING.c.seq == seq)).first()
            if lodging is None or lodging.state != "unresolved":
                raise StoreError("cds.not_unresolved", 2, seq=seq)
            moves = _Moves(conn, [lodging.declaration_id])
            detail = {"decision": decision, "seq": seq, **({"mrn": mrn} if mrn else {})}
            values: dict[str, Any] = dict(decision=decision, decided_by=actor, decided_at=now,
                                          updated_at=now)
            if decision == "resend":
                self._cds_set(conn, seq, state="open", **values)
                conn.execute(update(T_OUTBOX).where(T_OUTBOX.c.seq == seq).values(
                    state="queued", last_error=None))
                moves.note(lodging.declaration_id, actor, now,
                           note=notes.CDS_RESEND(), detail=detail)
            elif decision == "lodged":
                self._cds_set(conn, seq, state="lodged", **values)
                self._outbox_done(conn, seq, "accepted", now, None)
                moves.note(lodging.declaration_id, actor, now,
                           note=notes.CDS_KNOWN_LODGED(), detail=detail)
                moves.move(lodging.declaration_id, lodging.version, states.REGISTERED, actor,
                           now, note=notes.CDS_KNOWN_LODGED(), detail=detail, mrn=mrn)
            else:
                self._cds_set(conn, seq, state="withdrawn", **values)
                self._outbox_done(conn, seq, "withdrawn", now, None)
                moves.note(lodging.declaration_id, actor, now,
                           note=notes.CDS_WITHDRAWN(), detail=detail)
            touched = moves.flush(conn)
        return Changes(declarations=touched, outbox=True, statuses=True)

    # ---- notifications -------------------------------------------------------------------

    def cds_record_notifications(self, notes: Sequence[dict[str, Any]]) -> Changes:
        """Store pulled DMS responses and apply them to the lodgings they belong to.

        Each note: ``id, conversation_id, lrn, function_code, status, target`` (the
        lifecycle state or None), ``mrn`` (already check-digit verified, else None),
        ``detail`` (errors with their fields…), ``duplicate_lrn`` (a CDS12003 rejection),
        ``issued_at``, ``payload``.  Matching: by conversation first, else by LRN.
        """
        now = now_utc()
        with self._tx() as conn:
            known = set(conn.execute(select(T_CDS_NOTIF.c.id).where(
                T_CDS_NOTIF.c.id.in_([n["id"] for n in notes]))).scalars())
            fresh = [n for n in notes if n["id"] not in known]
            if not fresh:
                return Changes()
            convs = {n["conversation_id"] for n in fresh if n.get("conversation_id")}
            # A conversation is known from a 202 (the attempt) or from a notification that
            # proved an uncertain lodging (the lodging): either way it is that lodging's,
            # and never evidence for another one sharing its LRN (amendments do).
            by_conv: dict[str, int] = {}
            if convs:
                for table in (T_CDS_LODGING, T_CDS_ATTEMPT):
                    by_conv.update({r.conversation_id: r.seq for r in conn.execute(
                        select(table.c.conversation_id, table.c.seq).where(
                            table.c.conversation_id.in_(list(convs))))})
            lrns = {n["lrn"] for n in fresh if n.get("lrn")}
            lodgings = {r.seq: r for r in conn.execute(select(T_CDS_LODGING).where(
                (T_CDS_LODGING.c.lrn.in_(list(lrns)))
                | T_CDS_LODGING.c.seq.in_(list(by_conv.values()))))}
            moves = _Moves(conn, [lg.declaration_id for lg in lodgings.values()])
            rows, legacy = [], []
            for n in fresh:
                seq = by_conv.get(n.get("conversation_id"))
                via = "conversation"
                if seq is None and n.get("lrn"):
                    seq = self._cds_by_lrn(lodgings, n["lrn"])
                    via = "LRN"
                lodging = lodgings.get(seq) if seq is not None else None
                rows.append(dict(id=n["id"], conversation_id=n.get("conversation_id"),
                                 lrn=n.get("lrn"), seq=seq, function_code=n.get("function_code"),
                                 status=n["status"], mrn=n.get("mrn"),
                                 issued_at=n.get("issued_at"), received_at=now,
                                 payload=n.get("payload") or ""))
                if lodging is None:
                    continue
                self._cds_apply(conn, moves, lodgings, lodging, n, via, now)
                legacy.append(dict(cursor=0, declaration_id=lodging.declaration_id,
                                   version=lodging.version, status=n["status"],
                                   mrn=n.get("mrn"), at=n.get("issued_at") or now,
                                   payload=json.dumps({k: n.get(k) for k in (
                                       "id", "conversation_id", "lrn", "function_code",
                                       "status", "mrn", "detail")}, default=str),
                                   applied=True))
            conn.execute(insert(T_CDS_NOTIF), rows)
            if legacy:
                conn.execute(insert(T_NOTIF), legacy)
            touched = moves.flush(conn)
        return Changes(declarations=touched, outbox=True, statuses=bool(touched))

    @staticmethod
    def _cds_by_lrn(lodgings: dict[int, Any], lrn: str) -> int | None:
        """The lodging an LRN-matched notification belongs to: an unsettled one first."""
        same = [lg for lg in lodgings.values() if lg.lrn == lrn and lg.state != "withdrawn"]
        if not same:
            return None
        unsettled = [lg for lg in same if lg.state in ("uncertain", "unresolved", "open")]
        return max(lg.seq for lg in (unsettled or same))

    def _cds_apply(self, conn: Connection, moves: _Moves, lodgings: dict[int, Any],
                   lodging: Any, n: dict[str, Any], via: str, now: str) -> None:
        decl_id, version = lodging.declaration_id, lodging.version
        detail = dict(n.get("detail") or {})
        detail.update({"notification": n["id"], "conversation_id": n.get("conversation_id"),
                       "function_code": n.get("function_code")})
        if n.get("duplicate_lrn"):
            attempts = conn.execute(select(T_CDS_ATTEMPT.c.id, T_CDS_ATTEMPT.c.outcome,
                                           T_CDS_ATTEMPT.c.conversation_id).where(
                T_CDS_ATTEMPT.c.seq == lodging.seq)).all()
            earlier = [a for a in attempts if a.outcome in MAYBE_TAKEN
                       and a.conversation_id != n.get("conversation_id")]
            if earlier:  # our own resend, caught: an earlier attempt was taken
                conn.execute(update(T_CDS_ATTEMPT).where(
                    T_CDS_ATTEMPT.c.conversation_id == n.get("conversation_id"))
                    .values(outcome="duplicate"))
                if lodging.state != "lodged":
                    self._cds_lodged(conn, moves, lodging, None, now,
                                     note=notes.CDS_EARLIER_TAKEN(), detail=detail)
                else:
                    moves.note(decl_id, ACTOR, now, note=notes.CDS_EARLIER_TAKEN(), detail=detail)
                return
        if lodging.state in ("uncertain", "unresolved", "open"):
            self._cds_lodged(conn, moves, lodging, n.get("conversation_id"), now,
                             note=notes.CDS_LODGED(via=via),
                             detail=detail)
            lodgings[lodging.seq] = conn.execute(select(T_CDS_LODGING).where(
                T_CDS_LODGING.c.seq == lodging.seq)).first()
        target = n.get("target")
        moved = target is not None and moves.move(
            decl_id, version, target, ACTOR, now, note=notes.CDS_NOTIFICATION(status=n["status"]), detail=detail,
            mrn=n.get("mrn"))
        if not moved:
            if n.get("mrn"):
                moves.move(decl_id, version, states.REGISTERED, ACTOR, now,
                           note=notes.CDS_NOTIFICATION(status=n["status"]), detail=detail, mrn=n.get("mrn"))
            moves.note(decl_id, ACTOR, now, note=notes.CDS_NOTIFICATION(status=n["status"]), detail=detail)

    # ---- helpers -------------------------------------------------------------------------

    def _cds_set(self, conn: Connection, seq: int, **values: Any) -> None:
        conn.execute(update(T_CDS_LODGING).where(T_CDS_LODGING.c.seq == seq).values(**values))

    def _outbox_done(self, conn: Connection, seq: int, outcome: str, now: str,
                     errors: list[dict[str, Any]] | None) -> None:
        conn.execute(update(T_OUTBOX).where(T_OUTBOX.c.seq == seq).values(
            state="done", delivered_at=now, outcome=outcome,
            last_error=json.dumps(errors) if errors else None))

    def _cds_lodged(self, conn: Connection, moves: _Moves, lodging: Any,
                    conversation_id: str | None, now: str, *, note: Message,
                    detail: dict[str, Any]) -> None:
        values: dict[str, Any] = {"state": "lodged", "updated_at": now}
        if conversation_id and not lodging.conversation_id:
            values["conversation_id"] = conversation_id
        self._cds_set(conn, lodging.seq, **values)
        self._outbox_done(conn, lodging.seq, "accepted", now, None)
        if not moves.move(lodging.declaration_id, lodging.version, states.SUBMITTED, ACTOR, now,
                          note=note, detail=detail, mrn=None):
            moves.note(lodging.declaration_id, ACTOR, now, note=note, detail=detail)
