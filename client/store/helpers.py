"""Bulk lifecycle moves and row helpers shared by the store's topics."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    select,
)

from client.common.i18n import Message
from client.declaration import states
from client.declaration.model import Declaration
from client.declaration.mrn import mrn_problem
from client.store import history_notes as notes
from client.store import search
from client.store.schema import T_DECL


def _in_chunks(conn: Connection, query: Any, column: Any, values: Sequence[Any],
               size: int = 500) -> Iterator[Any]:
    """Rows of ``query`` where ``column`` is in ``values``, a bounded IN list at a time."""
    for i in range(0, len(values), size):
        yield from conn.execute(query.where(column.in_(list(values[i:i + size]))))


HISTORY_SQL = ("INSERT INTO history (declaration_id, version, at, actor, from_status, "
               "to_status, note, detail, document) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")


class _Moves:
    """Lifecycle moves reported by the single window for many declarations at once.

    Reads the current rows once, decides every move in memory (so two notifications
    about one declaration in the same page chain correctly), then writes the history
    and the new states in two bulk statements.
    """

    def __init__(self, conn: Connection, ids: Sequence[str]) -> None:
        unique = list(dict.fromkeys(ids))
        self.rows: dict[str, dict[str, Any]] = {
            r.id: dict(r._mapping) for r in _in_chunks(conn, select(
                T_DECL.c.id, T_DECL.c.status, T_DECL.c.version, T_DECL.c.mrn,
                T_DECL.c.updated_at, T_DECL.c.fallback_printed_at,
                T_DECL.c.lodged_after_fallback_at,
                T_DECL.c.function), T_DECL.c.id, unique)}
        self._mrn_before = {i: r["mrn"] for i, r in self.rows.items()}
        self.history: list[dict[str, Any]] = []
        self.dirty: dict[str, None] = {}

    def is_request(self, decl_id: str) -> bool:
        """Whether the declaration's current version is a request about a lodged one."""
        row = self.rows.get(decl_id)
        return row is not None and row["function"] in states.REQUESTS

    def lodged_before_paper(self, decl_id: str, actor: str, now: str, *, mrn: str | None,
                            detail: dict[str, Any] | None) -> None:
        """A transit sent to paper whose envelope the single window had lodged after all
        (its answer was lost): it is registered, with its MRN, and its withdrawal is owed
        (``Store.withdrawals_owed``).  The only move out of the paper procedure."""
        row = self.rows.get(decl_id)
        if row is None or row["status"] != states.PAPER_PROCEDURE:
            return
        code, detail = notes.note_columns(notes.LODGED_BEFORE_PAPER(), detail)
        self.history.append(dict(
            declaration_id=decl_id, version=row["version"], at=now, actor=actor,
            from_status=states.PAPER_PROCEDURE, to_status=states.REGISTERED, note=code,
            detail=_json(detail), document=None))
        row["status"], row["updated_at"] = states.REGISTERED, now
        if mrn and not row["mrn"] and mrn_problem(mrn) is None:
            row["mrn"] = mrn
        self.dirty[decl_id] = None

    def move(self, decl_id: str, version: int | None, target: str, actor: str, now: str, *,
             note: Message, detail: dict[str, Any] | None, mrn: str | None) -> bool:
        row = self.rows.get(decl_id)
        if row is None:
            return False
        request = row["function"] in states.REQUESTS
        if version is not None and version != row["version"]:
            if not (request and version < row["version"]):
                return False  # about an earlier version: kept in notifications, not applied
            # the lodged declaration's own processing goes on while a request is assessed
        elif request and target == states.REJECTED:
            # the request is refused, not the declaration: it stays as it was (Art. 173)
            self.answer(decl_id, actor, now, accepted=False, detail=detail)
            return True
        current = row["status"]
        steps = [target]
        if current == states.SEALED and target != states.SUBMITTED:
            steps = [states.SUBMITTED, target]
        code, detail = notes.note_columns(note, detail)
        moved = False
        for step in steps:
            if not states.server_move_allowed(current, step):
                continue
            self.history.append(dict(
                declaration_id=decl_id, version=row["version"], at=now, actor=actor,
                from_status=current, to_status=step, note=code, detail=_json(detail),
                document=None))
            current = step
            moved = True
        if moved:
            row["status"], row["updated_at"] = current, now
        if mrn and not row["mrn"]:
            if mrn_problem(mrn) is None:
                row["mrn"] = mrn
                moved = True
            else:  # a received MRN whose check digit (or format) is wrong is never stored
                self.history.append(dict(
                    declaration_id=decl_id, version=row["version"], at=now, actor=actor,
                    from_status=current, to_status=current, note=notes.MRN_INVALID.code,
                    detail=_json({"mrn": str(mrn)[:40]}), document=None))
                moved = True
        if moved:
            self.dirty[decl_id] = None
        return moved

    def note(self, decl_id: str, actor: str, now: str, *, note: Message,
             detail: dict[str, Any] | None) -> None:
        """A history entry that records an event without a change of state."""
        row = self.rows.get(decl_id)
        if row is None:
            return
        code, detail = notes.note_columns(note, detail)
        self.history.append(dict(
            declaration_id=decl_id, version=row["version"], at=now, actor=actor,
            from_status=row["status"], to_status=row["status"], note=code,
            detail=_json(detail), document=None))
        self.dirty.setdefault(decl_id, None)

    def answer(self, decl_id: str, actor: str, now: str, *, accepted: bool,
               detail: dict[str, Any] | None, status: str = "accepted") -> None:
        """The single window's answer to the request that is the current version."""
        row = self.rows.get(decl_id)
        if row is None:
            return
        kind = row["function"] or states.AMENDMENT
        note = (notes.REQUEST_ACCEPTED(request=kind, status=status) if accepted
                else notes.REQUEST_REFUSED(request=kind))
        self.note(decl_id, actor, now, note=note, detail=detail)

    def link_fallback(self, decl_id: str, mrn: str | None, actor: str, now: str) -> None:
        """A fallback document printed during the outage is now lodged electronically:
        record the link once, so the paper copy is never lodged a second time."""
        row = self.rows.get(decl_id)
        if row is None or not row["fallback_printed_at"] or row["lodged_after_fallback_at"]:
            return
        row["lodged_after_fallback_at"] = now
        self.history.append(dict(
            declaration_id=decl_id, version=row["version"], at=now, actor=actor,
            from_status=row["status"], to_status=row["status"],
            note=notes.FALLBACK_LINKED().code,
            detail=json.dumps({"mrn": mrn, "fallback": True}), document=None))
        self.dirty[decl_id] = None

    def flush(self, conn: Connection) -> tuple[str, ...]:
        if self.history:
            # The driver's executemany of plain tuples: SQLAlchemy's per-row handling of
            # a list of dicts cost twice the insert itself (a drain writes thousands).
            conn.exec_driver_sql(HISTORY_SQL, [
                (h["declaration_id"], h["version"], h["at"], h["actor"], h["from_status"],
                 h["to_status"], h["note"], h["detail"], h["document"])
                for h in self.history])
        if self.dirty:
            # The MRNs this move gives declarations that had none are indexed in one
            # statement after the update, not by the trigger row by row (migration 0011).
            mrns = [i for i in self.dirty
                    if self._mrn_before[i] is None and self.rows[i]["mrn"] is not None]
            cur = conn.connection.cursor()
            try:
                if mrns:
                    search.note_mrns(cur, mrns)
                cur.executemany(
                    "UPDATE declaration SET status = ?, updated_at = ?, mrn = ?, "
                    "lodged_after_fallback_at = ? WHERE id = ?",
                    [(r["status"], r["updated_at"], r["mrn"], r["lodged_after_fallback_at"], i)
                     for i in self.dirty for r in (self.rows[i],)])
                if mrns:
                    search.index_mrns(cur)
            finally:
                cur.close()
        return tuple(self.dirty)


def lrn_taken_on(cur: Any, declarant_id: str | None, lrn: str,
                 exclude_id: str | None = None) -> bool:
    """LRN (DE 2/5) uniqueness per declarant, on a driver cursor: plain SQL over the
    (declarant_id, lrn) index, where the query builder's compile step cost more than
    the lookup itself."""
    sql = "SELECT 1 FROM declaration WHERE lrn = ? AND " + (
        "declarant_id = ?" if declarant_id else "declarant_id IS NULL")
    params: tuple[Any, ...] = (lrn, declarant_id) if declarant_id else (lrn,)
    if exclude_id:
        sql += " AND id != ?"
        params += (exclude_id,)
    return cur.execute(sql + " LIMIT 1", params).fetchone() is not None


def lodged_status(cur: Any, decl_id: str, version: int) -> str | None:
    """The state a declaration was in when request ``version`` about it was started: the
    ``from_status`` of that version's new-version row in the history (``cur``: a driver
    cursor, inside the seal's transaction)."""
    row = cur.execute(
        "SELECT from_status FROM history WHERE declaration_id = ? AND version = ? "
        "AND note = ? ORDER BY id LIMIT 1",
        (decl_id, version, notes.NEW_VERSION.code)).fetchone()
    return None if row is None else row[0]


def _json(detail: dict[str, Any] | None) -> str | None:
    """A history row's ``detail`` column: JSON, or NULL when there is nothing to say."""
    return json.dumps(detail) if detail else None


def _doc_json(decl: Declaration) -> str:
    return json.dumps(decl.to_json_dict(), ensure_ascii=False, separators=(",", ":"))


def _row_values(decl: Declaration) -> dict[str, Any]:
    declarant = decl.declarant
    return dict(id=decl.id, version=decl.version, type=decl.type, lrn=decl.lrn,
                declarant_id=declarant.id if declarant else None,
                declarant_name=(declarant.name if declarant else None),
                items=len(decl.goods_items))


def _like_prefix(ref: str) -> str:
    return ref.replace("\\", "").replace("%", "").replace("_", "") + "%"


def _db_reason(exc: Exception) -> str:
    msg = str(getattr(exc, "orig", exc))
    if "file is not a database" in msg or "encrypted" in msg:
        return "wrong key or not a Comptoir database"
    return msg.splitlines()[0][:200]

