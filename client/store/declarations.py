"""Declarations and their history: create, autosave, list, move, versions."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import (
    and_,
    column,
    func,
    insert,
    or_,
    select,
    text,
    true,
    update,
)

from client.common.i18n import Message
from client.declaration import states
from client.declaration.continuity import lodge_by
from client.declaration.model import Declaration, now_utc
from client.store import history_notes as notes
from client.store.connection import StoreBase
from client.store.firstscreen import ROW_COLUMNS, SORTABLE
from client.store.helpers import (
    _doc_json,
    _in_chunks,
    _json,
    _like_prefix,
    _row_values,
    lrn_taken_on,
)
from client.store.idcolumn import IdColumn
from client.store.schema import T_DECL, T_DOC, T_HIST
from client.store.search import (
    fts_phrase,
    like_pattern,
    list_query,
    matched,
    probe_query,
    run_ids,
    scan_query,
)
from client.store.types import Changes, HistoryEntry, Stored, StoreError, Summary

# The list columns of a Summary, in its field order, then the two fallback stamps.
_SUMMARY_SQL = ("SELECT " + ", ".join(ROW_COLUMNS) + ", fallback_printed_at, "
                "lodged_after_fallback_at FROM declaration WHERE id IN ")


# Which transits owe a withdrawal (``withdrawals_owed``): the notes written literally so
# that the planner reads migration 0009's partial indexes, never the whole history.
WITHDRAWALS_OWED_SQL = (
    "SELECT h.declaration_id FROM history h "
    f"WHERE h.note = '{notes.LODGED_BEFORE_PAPER.code}' AND NOT EXISTS "
    "(SELECT 1 FROM history w WHERE w.declaration_id = h.declaration_id AND w.id > h.id "
    f"AND w.note = '{notes.WITHDRAWAL_QUEUED.code}') "
    "GROUP BY h.declaration_id ORDER BY MIN(h.id)")


class DeclarationsMixin(StoreBase):
    """Declarations and their history: create, autosave, list, move, versions."""

    # ---- declarations --------------------------------------------------------------

    def create(self, decl: Declaration, actor: str, *, status: str = states.DRAFT,
               note: Message | None = None) -> Changes:
        """Store a new declaration (a draft may hold nothing but its type)."""
        now = now_utc()
        doc = _doc_json(decl)
        code, detail = notes.note_columns(note or notes.CREATED())
        with self._tx() as conn:
            if conn.execute(select(T_DECL.c.id).where(T_DECL.c.id == decl.id)).first():
                raise StoreError("store.duplicate_id", 2, id=decl.id)
            conn.execute(insert(T_DECL).values(**_row_values(decl), status=status,
                                               created_at=now, updated_at=now))
            conn.execute(insert(T_DOC).values(id=decl.id, document=doc))
            conn.execute(insert(T_HIST).values(
                declaration_id=decl.id, version=decl.version, at=now, actor=actor,
                from_status=None, to_status=status, note=code, detail=_json(detail),
                document=doc))
        return Changes(declarations=(decl.id,))

    def create_many(self, decls: Sequence[Declaration], actor: str, *,
                    status: str = states.DRAFT, note: Message | None = None) -> Changes:
        """Store many declarations in one transaction (demo seed, bulk import).

        One prepared statement per table for the whole set (executemany): compiling an
        INSERT per row cost ten times the writes themselves.
        """
        now = now_utc()
        code, detail = notes.note_columns(note or notes.CREATED())
        detail_json = _json(detail)
        rows, docs, hist = [], [], []
        for decl in decls:
            doc = _doc_json(decl)
            rows.append({**_row_values(decl), "status": status, "created_at": now,
                         "updated_at": now})
            docs.append({"id": decl.id, "document": doc})
            hist.append({"declaration_id": decl.id, "version": decl.version, "at": now,
                         "actor": actor, "from_status": None, "to_status": status,
                         "note": code, "detail": detail_json, "document": doc})
        if rows:
            with self._tx() as conn:
                conn.execute(insert(T_DECL), rows)
                conn.execute(insert(T_DOC), docs)
                conn.execute(insert(T_HIST), hist)
        return Changes(declarations=tuple(d.id for d in decls))

    def save_draft(self, decl: Declaration, actor: str) -> Changes:
        """Autosave: replace the working copy of an editable declaration.

        A ready declaration that is edited goes back to draft (it must be checked
        again); sealed and later ones are immutable: change them through a new version.
        """
        now = now_utc()
        doc = _doc_json(decl)
        with self._tx() as conn:
            row = conn.execute(select(T_DECL.c.status, T_DECL.c.version, T_DOC.c.document)
                               .join(T_DOC, T_DOC.c.id == T_DECL.c.id)
                               .where(T_DECL.c.id == decl.id)).first()
            if row is None:
                raise StoreError("error.not_found", 2, id=decl.id)
            if row.status not in states.EDITABLE:
                raise StoreError("store.immutable", 2, id=decl.id, status=row.status)
            if decl.version != row.version:
                raise StoreError("store.version_mismatch", 2, id=decl.id,
                                 expected=row.version, got=decl.version)
            if row.document == doc:
                return Changes()
            status = states.DRAFT
            conn.execute(update(T_DECL).where(T_DECL.c.id == decl.id).values(
                **_row_values(decl), status=status, updated_at=now))
            conn.execute(update(T_DOC).where(T_DOC.c.id == decl.id).values(document=doc))
            if row.status != status:
                conn.execute(insert(T_HIST).values(
                    declaration_id=decl.id, version=decl.version, at=now, actor=actor,
                    from_status=row.status, to_status=status, note=notes.EDITED().code,
                    document=doc))
        return Changes(declarations=(decl.id,))

    def get(self, decl_id: str) -> Stored:
        with self._read() as conn:
            row = conn.execute(select(T_DECL, T_DOC.c.document)
                               .join(T_DOC, T_DOC.c.id == T_DECL.c.id)
                               .where(T_DECL.c.id == decl_id)).first()
        if row is None:
            raise StoreError("error.not_found", 2, id=decl_id)
        return Stored(declaration=Declaration.model_validate_json(row.document),
                      status=row.status, mrn=row.mrn, created_at=row.created_at,
                      updated_at=row.updated_at, sealed_at=row.sealed_at,
                      envelope_hash=row.envelope_hash,
                      fallback_printed_at=row.fallback_printed_at,
                      lodged_after_fallback_at=row.lodged_after_fallback_at)

    def exists(self, decl_id: str) -> bool:
        with self._read() as conn:
            return conn.execute(select(T_DECL.c.id).where(T_DECL.c.id == decl_id)).first() is not None

    def resolve_id(self, ref: str) -> str:
        """A full id, a unique id prefix (≥ 4 chars), an LRN or an MRN -> the id."""
        ref = ref.strip()
        with self._read() as conn:
            if conn.execute(select(T_DECL.c.id).where(T_DECL.c.id == ref)).first():
                return ref
            for col in (T_DECL.c.lrn, T_DECL.c.mrn):
                ids = conn.execute(select(T_DECL.c.id).where(col == ref).limit(2)).scalars().all()
                if len(ids) == 1:
                    return ids[0]
                if len(ids) > 1:
                    raise StoreError("error.ambiguous_id", 2, id=ref)
            if len(ref) >= 4:
                ids = conn.execute(select(T_DECL.c.id).where(T_DECL.c.id.like(_like_prefix(ref)))
                                   .limit(2)).scalars().all()
                if len(ids) == 1:
                    return ids[0]
                if len(ids) > 1:
                    raise StoreError("error.ambiguous_id", 2, id=ref)
        raise StoreError("error.not_found", 2, id=ref)

    def _filters(self, statuses: Iterable[str] | None, search: str | None) -> list[Any]:
        where: list[Any] = []
        if statuses:
            where.append(T_DECL.c.status.in_(list(statuses)))
        if search and len(search.strip()) >= 3:
            # FTS5 trigram indexes (migrations 0003, 0008): a substring of the LRN, MRN, id, a
            # party's name or number, a goods description or a commodity code, answered
            # from the index — a query that matches nothing costs no table scan.
            where.append(T_DECL.c.id.in_(
                text("SELECT k.declaration_id FROM declaration_search_key k WHERE k.seq IN "
                     "(" + matched(":fts_query") + ")")
                .bindparams(fts_query=fts_phrase(search.strip()))
                .columns(column("declaration_id"))))
        elif search:
            # One or two characters: below a trigram, so the plain scan of the list columns.
            pattern = like_pattern(search)
            where.append(or_(T_DECL.c.lrn.like(pattern, escape="\\"),
                             T_DECL.c.mrn.like(pattern, escape="\\"),
                             T_DECL.c.declarant_name.like(pattern, escape="\\"),
                             T_DECL.c.declarant_id.like(pattern, escape="\\"),
                             T_DECL.c.id.like(pattern, escape="\\")))
        return where

    SORTABLE = SORTABLE

    PROBE_BUDGET = 2000  # index matches counted before a fragment is called common

    def list_ids(self, *, statuses: Iterable[str] | None = None, search: str | None = None,
                 order_by: str = "updated_at", descending: bool = True,
                 limit: int | None = None, offset: int = 0,
                 cancelled: Callable[[], bool] | None = None) -> list[str]:
        """Ids only, sorted and filtered in SQL: the backbone of the lazy table model.

        A fragment rare in the index (at most ``PROBE_BUDGET`` matches, or none) is
        answered by the index alone, first page and full list alike — a filter that
        matches nothing costs one index lookup.  A common one's first page is read in
        list order instead (``_first_page_by_scan``).  ``cancelled``: see ``run_ids``."""
        got = self._query_ids(statuses, search, order_by, descending, limit, offset, cancelled)
        assert isinstance(got, list)
        return got

    def id_column(self, *, statuses: Iterable[str] | None = None, search: str | None = None,
                  order_by: str = "updated_at", descending: bool = True,
                  cancelled: Callable[[], bool] | None = None) -> IdColumn:
        """The whole list's ids as :func:`list_ids` gives them, packed (an
        :class:`~client.store.idcolumn.IdColumn`): what a window holds for 100,000 rows."""
        got = self._query_ids(statuses, search, order_by, descending, None, 0, cancelled,
                              packed=True)
        assert isinstance(got, IdColumn)
        return got

    def _query_ids(self, statuses: Iterable[str] | None, search: str | None, order_by: str,
                   descending: bool, limit: int | None, offset: int,
                   cancelled: Callable[[], bool] | None, *,
                   packed: bool = False) -> list[str] | IdColumn:
        col = order_by if order_by in self.SORTABLE else "updated_at"
        wanted = tuple(statuses) if statuses else ()
        fragment = (search or "").strip()
        with self._read_cursor() as cur:
            if limit is not None and not offset and len(fragment) >= 3:
                sql, params = probe_query(fragment, self.PROBE_BUDGET)
                if len(run_ids(cur, sql, params, cancelled)) > self.PROBE_BUDGET:
                    first = self._first_page_by_scan(cur, wanted, fragment, col, descending,
                                                     limit)
                    if first is not None:
                        return first
            sql, params = list_query(wanted, fragment, col, descending, limit, offset)
            return run_ids(cur, sql, params, cancelled, packed=packed)

    SCAN_BUDGET = 2000  # rows read in list order before the index answers instead

    def _first_page_by_scan(self, cur: Any, statuses: tuple[str, ...], search: str, col: str,
                            descending: bool, limit: int) -> list[str] | None:
        """The first page for a fragment found in many declarations, or None.

        The FTS5 index answers a rare fragment at once, but a common one (the broker's own
        EORI, a frequent consignee) makes it list and sort every match before the first
        row shows.  The indexed text is also held by the index's content table, so the
        first ``SCAN_BUDGET`` rows in list order are read and matched with LIKE; a page
        filled that way is the page the index would give (for ASCII text: LIKE folds only
        ASCII case, so a non-ASCII case variant may show once the full id list, from the
        index, arrives).  Otherwise the index decides.
        """
        sql, params = scan_query(statuses, search, col, descending, self.SCAN_BUDGET, limit)
        ids = run_ids(cur, sql, params)
        return ids if len(ids) >= limit else None

    def summaries(self, ids: Sequence[str]) -> dict[str, Summary]:
        """Rows for a window of ids (the table's row cache fills from here), each with the
        deadline of its electronic lodging when it was printed as a fallback document."""
        out: dict[str, Summary] = {}
        printed: dict[str, str] = {}
        with self._read_cursor() as cur:  # a screen of rows: no SQLAlchemy row per row
            for i in range(0, len(ids), 500):
                chunk = list(ids[i:i + 500])
                for r in cur.execute(_SUMMARY_SQL + "(" + ", ".join("?" * len(chunk)) + ")",
                                     chunk):
                    out[r[0]] = Summary(*r[:10])
                    if r[10] and not r[11]:
                        printed[r[0]] = r[10]
        if printed:  # few rows: the procedure is read from their documents only
            with self._read() as conn:
                for r in _in_chunks(conn, select(
                        T_DOC.c.id, func.json_extract(T_DOC.c.document, "$.transit_type")
                        .label("transit_type"),
                        func.json_extract(T_DOC.c.document, "$.additional_type")
                        .label("additional_type")), T_DOC.c.id, list(printed)):
                    summ = out[r.id]
                    due = lodge_by({"type": summ.type, "transit_type": r.transit_type,
                                    "additional_type": r.additional_type},
                                   summ.status, printed[r.id], None)
                    out[r.id] = replace(summ, lodge_by=due)
        return out

    def lodgings_due(self) -> list[Summary]:
        """The declarations printed as fallback documents whose electronic lodging is
        still due, the nearest deadline first."""
        with self._read() as conn:
            ids = list(conn.exec_driver_sql(
                "SELECT id FROM declaration WHERE fallback_printed_at IS NOT NULL "
                "AND lodged_after_fallback_at IS NULL").scalars())
        due = [r for r in self.summaries(ids).values() if r.lodge_by]
        return sorted(due, key=lambda r: (r.lodge_by or "", r.id))

    def list(self, *, statuses: Iterable[str] | None = None, search: str | None = None,
             order_by: str = "updated_at", descending: bool = True,
             limit: int | None = None, offset: int = 0) -> list[Summary]:
        ids = self.list_ids(statuses=statuses, search=search, order_by=order_by,
                            descending=descending, limit=limit, offset=offset)
        rows = self.summaries(ids)
        return [rows[i] for i in ids if i in rows]

    def count(self, *, statuses: Iterable[str] | None = None, search: str | None = None) -> int:
        q = select(func.count()).select_from(T_DECL).where(and_(true(), *self._filters(statuses, search)))
        with self._read() as conn:
            return int(conn.execute(q).scalar() or 0)

    def counts_by_status(self) -> dict[str, int]:
        with self._read() as conn:
            return {r[0]: r[1] for r in conn.execute(
                select(T_DECL.c.status, func.count()).group_by(T_DECL.c.status))}

    def lrn_taken(self, declarant_id: str | None, lrn: str, exclude_id: str | None = None) -> bool:
        """LRN (DE 2/5) uniqueness per declarant."""
        with self._read_cursor() as cur:
            return lrn_taken_on(cur, declarant_id, lrn, exclude_id)

    def transition(self, decl_id: str, to_status: str, actor: str, *,
                   note: Message | None = None, detail: dict[str, Any] | None = None) -> Changes:
        """A local, user-driven move (draft <-> ready)."""
        now = now_utc()
        code, detail = notes.note_columns(note, detail)
        with self._tx() as conn:
            row = conn.execute(select(T_DECL.c.status, T_DECL.c.version)
                               .where(T_DECL.c.id == decl_id)).first()
            if row is None:
                raise StoreError("error.not_found", 2, id=decl_id)
            if row.status == to_status:
                return Changes()
            if not states.local_move_allowed(row.status, to_status):
                raise StoreError("store.bad_transition", 2, id=decl_id, current=row.status,
                                 target=to_status)
            conn.execute(update(T_DECL).where(T_DECL.c.id == decl_id)
                         .values(status=to_status, updated_at=now))
            conn.execute(insert(T_HIST).values(
                declaration_id=decl_id, version=row.version, at=now, actor=actor,
                from_status=row.status, to_status=to_status, note=code, detail=_json(detail)))
        return Changes(declarations=(decl_id,), statuses=True)

    def new_version(self, decl_id: str, actor: str, *, function: str | None = None) -> Declaration:
        """A sealed declaration is immutable: changing it starts version n+1 as a draft.

        After a rejection the new version is a corrected original (no MRN); once the
        declaration is accepted it is a request about it (UCC Art. 173 amendment, post-release
        amendment, Art. 174 invalidation), refused with the Code's reason where the Code
        refuses it (:func:`states.request_refusal`), and it keeps the MRN.  The state it
        was in is the new-version row's ``from_status``: sealing the request puts it back
        there, and the single window's answer leaves it there unless it invalidates.
        """
        now = now_utc()
        with self._tx() as conn:
            row = conn.execute(select(T_DECL, T_DOC.c.document)
                               .join(T_DOC, T_DOC.c.id == T_DECL.c.id)
                               .where(T_DECL.c.id == decl_id)).first()
            if row is None:
                raise StoreError("error.not_found", 2, id=decl_id)
            if row.status in states.EDITABLE:
                raise StoreError("store.still_editable", 2, id=decl_id)
            if row.status == states.SEALED:
                raise StoreError("store.still_queued", 2, id=decl_id)
            decl = Declaration.model_validate_json(row.document)
            fn = function or (states.ORIGINAL if row.status == states.REJECTED
                              else states.AMENDMENT)
            if fn != states.ORIGINAL or row.status != states.REJECTED:
                refusal = states.request_refusal(row.status, fn, row.mrn)
                if refusal is not None:
                    raise StoreError("store.request_refused", 2, id=decl.lrn or decl_id,
                                     reason=refusal)
            if self._queued(conn, decl_id, row.version):
                raise StoreError("store.still_queued", 2, id=decl_id)
            request = fn in states.REQUESTS
            decl = decl.model_copy(update={
                "version": row.version + 1, "function": fn,
                "mrn": row.mrn if request else None,
                "amends": decl_id if request else None})
            doc = _doc_json(decl)
            code, detail = notes.note_columns(notes.NEW_VERSION(function=fn))
            conn.execute(update(T_DECL).where(T_DECL.c.id == decl_id).values(
                **_row_values(decl), status=states.DRAFT, updated_at=now,
                mrn=row.mrn if request else None, sealed_at=None, envelope_hash=None))
            conn.execute(update(T_DOC).where(T_DOC.c.id == decl_id).values(document=doc))
            conn.execute(insert(T_HIST).values(
                declaration_id=decl_id, version=decl.version, at=now, actor=actor,
                from_status=row.status, to_status=states.DRAFT, note=code,
                detail=_json(detail), document=doc))
        return decl

    @staticmethod
    def _queued(conn: Any, decl_id: str, version: int) -> bool:
        """Whether the envelope of this version still waits in the outbox (a request
        sealed and not yet answered: a second one must wait for its answer)."""
        return conn.exec_driver_sql(
            "SELECT 1 FROM journal j JOIN outbox o ON o.seq = j.seq WHERE j.declaration_id = ? "
            "AND j.version = ? AND j.kind = 'declaration' AND o.state != 'done' LIMIT 1",
            (decl_id, version)).first() is not None

    # ---- history ---------------------------------------------------------------------

    def history(self, decl_id: str) -> list[HistoryEntry]:
        with self._read() as conn:
            rows = conn.execute(select(
                T_HIST.c.id, T_HIST.c.version, T_HIST.c.at, T_HIST.c.actor,
                T_HIST.c.from_status, T_HIST.c.to_status, T_HIST.c.note, T_HIST.c.detail,
                T_HIST.c.document.isnot(None).label("has_doc"))
                .where(T_HIST.c.declaration_id == decl_id).order_by(T_HIST.c.id)).all()
        return [HistoryEntry(r.id, r.version, r.at, r.actor, r.from_status, r.to_status, r.note,
                             json.loads(r.detail) if r.detail else None, bool(r.has_doc))
                for r in rows]

    def version_document(self, decl_id: str, version: int) -> Declaration | None:
        """An earlier version as it was last recorded in the history."""
        with self._read() as conn:
            doc = conn.execute(select(T_HIST.c.document).where(and_(
                T_HIST.c.declaration_id == decl_id, T_HIST.c.version == version,
                T_HIST.c.document.isnot(None))).order_by(T_HIST.c.id.desc()).limit(1)).scalar()
        return Declaration.model_validate_json(doc) if doc else None

    # ---- continuity (fallback documents) -------------------------------------------------

    def mark_fallback_printed(self, decl_id: str, actor: str) -> Changes:
        now = now_utc()
        with self._tx() as conn:
            row = conn.execute(select(T_DECL.c.status, T_DECL.c.version, T_DECL.c.fallback_printed_at)
                               .where(T_DECL.c.id == decl_id)).first()
            if row is None:
                raise StoreError("error.not_found", 2, id=decl_id)
            if row.fallback_printed_at:
                return Changes()
            conn.execute(update(T_DECL).where(T_DECL.c.id == decl_id)
                         .values(fallback_printed_at=now))
            conn.execute(insert(T_HIST).values(
                declaration_id=decl_id, version=row.version, at=now, actor=actor,
                from_status=row.status, to_status=row.status,
                note=notes.FALLBACK_PRINTED().code))
        return Changes(declarations=(decl_id,))


    def to_paper_procedure(self, decl_id: str, actor: str, *, procedure: str) -> Changes:
        """A declaration not yet lodged goes to the paper procedure (transit during an
        outage): its queued envelopes are withdrawn from the outbox, in the same
        transaction, so that they can never be lodged, and it leaves the lifecycle.  They
        stay owed to the device chain as links only (``CHAIN_LINK``): the single window
        records them as withdrawn, so that the envelopes sealed after them are not held
        behind a gap."""
        now = now_utc()
        with self._tx() as conn:
            row = conn.execute(select(T_DECL.c.status, T_DECL.c.version)
                               .where(T_DECL.c.id == decl_id)).first()
            if row is None:
                raise StoreError("error.not_found", 2, id=decl_id)
            if row.status == states.PAPER_PROCEDURE:
                return Changes()
            if row.status not in (states.DRAFT, states.READY, states.SEALED):
                raise StoreError("store.bad_transition", 2, id=decl_id, current=row.status,
                                 target=states.PAPER_PROCEDURE)
            withdrawn = conn.exec_driver_sql(
                "UPDATE outbox SET state = 'chain_link', outcome = 'paper_procedure' "
                "WHERE state IN ('queued', 'held') AND seq IN (SELECT seq FROM journal "
                "WHERE declaration_id = ? AND kind = 'declaration')", (decl_id,)).rowcount
            conn.execute(update(T_DECL).where(T_DECL.c.id == decl_id)
                         .values(status=states.PAPER_PROCEDURE, updated_at=now))
            code, detail = notes.note_columns(notes.PAPER_PROCEDURE(procedure=procedure),
                                              {"withdrawn": withdrawn})
            conn.execute(insert(T_HIST).values(
                declaration_id=decl_id, version=row.version, at=now, actor=actor,
                from_status=row.status, to_status=states.PAPER_PROCEDURE, note=code,
                detail=_json(detail)))
        return Changes(declarations=(decl_id,), outbox=True, statuses=True)

    def withdrawals_owed(self) -> list[str]:
        """Transits sent to paper that turned out lodged (``LODGED_BEFORE_PAPER``) and
        whose withdrawal has not been queued since: the Code wants it withdrawn."""
        with self._read_cursor() as cur:
            return [r[0] for r in cur.execute(WITHDRAWALS_OWED_SQL)]

    def note_continuity(self, decl_id: str, actor: str, note: Message,
                        detail: dict[str, Any] | None = None) -> Changes:
        """Record a continuity choice that changes no state (a withdrawal queued)."""
        now = now_utc()
        code, detail = notes.note_columns(note, detail)
        with self._tx() as conn:
            row = conn.execute(select(T_DECL.c.status, T_DECL.c.version)
                               .where(T_DECL.c.id == decl_id)).first()
            if row is None:
                raise StoreError("error.not_found", 2, id=decl_id)
            conn.execute(insert(T_HIST).values(
                declaration_id=decl_id, version=row.version, at=now, actor=actor,
                from_status=row.status, to_status=row.status, note=code,
                detail=_json(detail)))
        return Changes(declarations=(decl_id,))

