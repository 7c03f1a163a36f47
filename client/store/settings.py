"""The profile's settings and the original files of imports."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import (
    Connection,
    insert,
    select,
    update,
)

from client.declaration.model import now_utc
from client.store.connection import StoreBase
from client.store.schema import T_ATTACH, T_SETTING
from client.store.types import Changes


class SettingsMixin(StoreBase):
    """The profile's settings and the original files of imports."""

    # ---- settings -------------------------------------------------------------------------

    def get_setting(self, key: str, default: Any = None) -> Any:
        with self._read() as conn:
            v = conn.execute(select(T_SETTING.c.value).where(T_SETTING.c.key == key)).scalar()
        return json.loads(v) if v is not None else default

    def set_setting(self, key: str, value: Any) -> Changes:
        with self._tx() as conn:
            self._set_setting(conn, key, value)
        return Changes(settings=True)

    def _set_setting(self, conn: Connection, key: str, value: Any) -> None:
        raw = json.dumps(value)
        if conn.execute(select(T_SETTING.c.key).where(T_SETTING.c.key == key)).first():
            conn.execute(update(T_SETTING).where(T_SETTING.c.key == key).values(value=raw))
        else:
            conn.execute(insert(T_SETTING).values(key=key, value=raw))

    # ---- attachments (the original file of an import) --------------------------------

    def add_attachment(self, decl_id: str, name: str, content_type: str, data: bytes) -> int:
        with self._tx() as conn:
            r = conn.execute(insert(T_ATTACH).values(declaration_id=decl_id, name=name,
                                                     content_type=content_type, data=data,
                                                     created_at=now_utc()))
            return int(r.inserted_primary_key[0])

    def attachments(self, decl_id: str) -> list[tuple[int, str, str, bytes]]:
        with self._read() as conn:
            return [(r.id, r.name, r.content_type, r.data) for r in conn.execute(
                select(T_ATTACH).where(T_ATTACH.c.declaration_id == decl_id)
                .order_by(T_ATTACH.c.id))]

