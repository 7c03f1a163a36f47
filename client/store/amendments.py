"""Amendments and cancellations received from outside, applied onto the declaration
they refer to — or held until it arrives.

An imported DMS amendment names its declaration by MRN (and its own LRN, often the
original's).  When that declaration is in the store, the amendment's elements are applied
onto it (:func:`client.declaration.amendment.apply_amendment`) as its next version, a draft
to check and send; the file itself is attached.  When it is not, the amendment is held as
pending and applied, in the order received, as soon as an original with that MRN or LRN
is stored (:meth:`AmendmentsMixin.apply_pending`).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, and_, insert, or_, select, update

from client.declaration import states
from client.declaration.amendment import apply_amendment
from client.declaration.model import Declaration, now_utc
from client.store import history_notes as notes
from client.store.connection import StoreBase
from client.store.declarations import DeclarationsMixin
from client.store.helpers import _doc_json, _row_values
from client.store.schema import T_ATTACH, T_DECL, T_DOC, T_HIST, T_PENDING
from client.store.types import AmendmentOutcome, PendingAmendment, StoreError


class AmendmentsMixin(StoreBase):
    """Amendments and cancellations received from outside (DMS import)."""

    def receive_amendment(self, amendment: Declaration, actor: str, *, source: str,
                          original: bytes) -> AmendmentOutcome:
        """Apply ``amendment`` onto the declaration it refers to, or hold it as pending."""
        if amendment.function not in ("amendment", "cancellation"):
            raise StoreError("store.not_an_amendment", 2, function=amendment.function)
        now = now_utc()
        with self._tx() as conn:
            target = _target(conn, amendment.mrn, amendment.lrn)
            if target is None:
                pid = conn.execute(insert(T_PENDING).values(
                    kind=amendment.function, mrn=amendment.mrn, lrn=amendment.lrn,
                    document=_doc_json(amendment), source=source, original=original,
                    received_at=now)).inserted_primary_key[0]
                return AmendmentOutcome("pending", None, None, int(pid))
            version = _apply(conn, target, amendment, actor, source, original, now)
        return AmendmentOutcome("applied", target, version, None)

    def apply_pending(self, decl_id: str, actor: str) -> list[AmendmentOutcome]:
        """Apply the pending amendments of ``decl_id`` (by its MRN or LRN), oldest first."""
        now = now_utc()
        out: list[AmendmentOutcome] = []
        with self._tx() as conn:
            row = conn.execute(select(T_DECL.c.mrn, T_DECL.c.lrn, T_DOC.c.document)
                               .join(T_DOC, T_DOC.c.id == T_DECL.c.id)
                               .where(T_DECL.c.id == decl_id)).first()
            if row is None:
                raise StoreError("error.not_found", 2, id=decl_id)
            mrn = row.mrn or Declaration.model_validate_json(row.document).mrn
            keys = []
            if mrn:
                keys.append(T_PENDING.c.mrn == mrn)
            if row.lrn:  # by LRN: unless both carry an MRN, and different ones
                same = T_PENDING.c.lrn == row.lrn
                keys.append(and_(same, or_(T_PENDING.c.mrn.is_(None), T_PENDING.c.mrn == mrn))
                            if mrn else same)
            if not keys:
                return out
            pending = conn.execute(select(T_PENDING).where(and_(
                T_PENDING.c.applied_to.is_(None), or_(*keys))).order_by(T_PENDING.c.id)).all()
            for p in pending:
                amendment = Declaration.model_validate_json(p.document)
                version = _apply(conn, decl_id, amendment, actor, p.source, p.original, now)
                conn.execute(update(T_PENDING).where(T_PENDING.c.id == p.id).values(
                    applied_to=decl_id, applied_at=now))
                out.append(AmendmentOutcome("applied", decl_id, version, int(p.id)))
        return out

    def pending_amendments(self, *, include_applied: bool = False) -> list[PendingAmendment]:
        q = select(T_PENDING.c.id, T_PENDING.c.kind, T_PENDING.c.mrn, T_PENDING.c.lrn,
                   T_PENDING.c.source, T_PENDING.c.received_at, T_PENDING.c.applied_to,
                   T_PENDING.c.applied_at).order_by(T_PENDING.c.id)
        if not include_applied:
            q = q.where(T_PENDING.c.applied_to.is_(None))
        with self._read() as conn:
            return [PendingAmendment(r.id, r.kind, r.mrn, r.lrn, r.source, r.received_at,
                                     r.applied_to, r.applied_at) for r in conn.execute(q)]

    def pending_amendment(self, pending_id: int) -> Declaration:
        with self._read() as conn:
            doc = conn.execute(select(T_PENDING.c.document)
                               .where(T_PENDING.c.id == pending_id)).scalar()
        if doc is None:
            raise StoreError("store.pending_not_found", 2, id=pending_id)
        return Declaration.model_validate_json(doc)


def _target(conn: Connection, mrn: str | None, lrn: str | None) -> str | None:
    """The stored declaration an amendment refers to: by MRN, else by an LRN that one
    declaration alone holds (and no other MRN); None when there is none."""
    if mrn:
        ids = conn.execute(select(T_DECL.c.id).where(T_DECL.c.mrn == mrn).limit(2)).scalars().all()
        if len(ids) > 1:
            raise StoreError("store.amendment_ambiguous", 2, ref=mrn)
        if ids:
            return str(ids[0])
    if lrn:
        q = select(T_DECL.c.id).where(T_DECL.c.lrn == lrn)
        if mrn:
            q = q.where(or_(T_DECL.c.mrn.is_(None), T_DECL.c.mrn == mrn))
        ids = conn.execute(q.limit(2)).scalars().all()
        if len(ids) > 1:
            raise StoreError("store.amendment_ambiguous", 2, ref=lrn)
        if ids:
            return str(ids[0])
    return None


def _apply(conn: Connection, decl_id: str, amendment: Declaration, actor: str, source: str,
           original: bytes, now: str) -> int:
    """Version n+1 of ``decl_id``: the amendment applied onto version n, a draft."""
    row = conn.execute(select(T_DECL.c.status, T_DECL.c.version, T_DECL.c.mrn,
                              T_DOC.c.document)
                       .join(T_DOC, T_DOC.c.id == T_DECL.c.id)
                       .where(T_DECL.c.id == decl_id)).first()
    if row is None:
        raise StoreError("error.not_found", 2, id=decl_id)
    if row.status == states.SEALED or DeclarationsMixin._queued(conn, decl_id, row.version):
        raise StoreError("store.still_queued", 2, id=decl_id)
    current = Declaration.model_validate_json(row.document)
    update_: dict[str, Any] = {"version": row.version + 1}
    if row.status not in states.EDITABLE:  # lodged: a request about it (UCC Art. 173/174)
        fn = amendment.function
        if fn == states.AMENDMENT and row.status == states.RELEASED:
            fn = states.POST_RELEASE_AMENDMENT  # CDS takes it as a COR all the same
        refusal = states.request_refusal(row.status, fn, row.mrn or amendment.mrn)
        if refusal is not None:
            raise StoreError("store.request_refused", 2, id=current.lrn or decl_id,
                             reason=refusal)
        update_.update(function=fn, amends=decl_id)
    amended = apply_amendment(current, amendment).model_copy(update=update_)
    doc = _doc_json(amended)
    conn.execute(update(T_DECL).where(T_DECL.c.id == decl_id).values(
        **_row_values(amended), status=states.DRAFT, updated_at=now,
        mrn=row.mrn or amended.mrn, sealed_at=None, envelope_hash=None))
    conn.execute(update(T_DOC).where(T_DOC.c.id == decl_id).values(document=doc))
    code, detail = notes.note_columns(
        notes.AMENDMENT_APPLIED(function=amended.function, file=source), {"mrn": amended.mrn})
    conn.execute(insert(T_HIST).values(
        declaration_id=decl_id, version=amended.version, at=now, actor=actor,
        from_status=row.status, to_status=states.DRAFT, note=code, detail=json.dumps(detail),
        document=doc))
    conn.execute(insert(T_ATTACH).values(declaration_id=decl_id, name=source,
                                         content_type="application/xml", data=original,
                                         created_at=now))
    return amended.version
