"""The single window's status feed applied to the declarations."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    select,
)

from client.declaration import states
from client.declaration.model import now_utc
from client.store import history_notes as notes
from client.store import settings_keys
from client.store.connection import StoreBase
from client.store.helpers import _Moves
from client.store.schema import T_NOTIF
from client.store.types import Changes

_NOTIFICATION_SQL = ("INSERT INTO notification (cursor, declaration_id, version, status, "
                     "mrn, at, payload, applied) VALUES (?, ?, ?, ?, ?, ?, ?, 1)")


class FeedMixin(StoreBase):
    """The single window's status feed applied to the declarations."""

    # ---- notifications (status feed) --------------------------------------------------

    def apply_notifications(self, notifications: Sequence[dict[str, Any]], cursor: int,
                            actor: str = "single-window") -> Changes:
        """Apply one page of the feed and advance the cursor in the same transaction."""
        now = now_utc()
        with self._tx() as conn:
            moves = _Moves(conn, [n["declaration_id"] for n in notifications])
            rows = []
            for n in notifications:
                status = n.get("status", "")
                rows.append((int(n.get("cursor", cursor)), n["declaration_id"],
                             n.get("version"), status, n.get("mrn"), n.get("at") or now,
                             json.dumps(n, default=str)))
                detail = {k: n[k] for k in ("errors", "detail", "decision", "cursor")
                          if n.get(k)}
                answer = states.REQUEST_ANSWERS.get(status)
                if answer is not None:
                    if moves.is_request(n["declaration_id"]):
                        moves.answer(n["declaration_id"], actor, now,
                                     accepted=answer == "accepted", status=status,
                                     detail=detail or None)
                    continue
                target = states.FROM_SERVER.get(status)
                moved = target is not None and moves.move(
                    n["declaration_id"], n.get("version"), target, actor, now,
                    note=notes.NOTIFICATION(status=status), detail=detail or None,
                    mrn=n.get("mrn"))
                if not moved and (n.get("decision") or status == "decision_conflict"):
                    # an officer's decision that changes nothing (it agrees, or it
                    # conflicts and is flagged): kept in the history all the same
                    moves.note(n["declaration_id"], actor, now,
                               note=notes.NOTIFICATION(status=status), detail=detail)
            if rows:
                conn.exec_driver_sql(_NOTIFICATION_SQL, rows)
            touched = moves.flush(conn)
            self._set_setting(conn, settings_keys.FEED_CURSOR, cursor)
        return Changes(declarations=touched, statuses=bool(touched))

    def notifications(self, decl_id: str) -> list[dict[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(select(T_NOTIF.c.payload).where(
                T_NOTIF.c.declaration_id == decl_id).order_by(T_NOTIF.c.id)).scalars().all()
        return [json.loads(p) for p in rows]

