"""The profile's settings and the original files of imports.

Settings are read and written only through the declarations of
:mod:`client.store.settings_keys` (name, type, default); any other key is refused.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    insert,
    select,
    update,
)

from client.declaration.model import now_utc
from client.store.connection import StoreBase
from client.store.schema import T_ATTACH, T_SETTING
from client.store.settings_keys import Setting, declared
from client.store.types import Changes, StoreError

T = TypeVar("T")


class SettingsMixin(StoreBase):
    """The profile's settings and the original files of imports."""

    # ---- settings -------------------------------------------------------------------------

    def get_setting(self, key: Setting[T]) -> T:
        """The stored value of a declared setting, or its default.

        A stored value that no longer has the declared type (written by another version,
        or damaged) reads as the default: a preference must never stop the profile from
        opening, and the next write replaces it.
        """
        name = declared(key).name
        with self._read() as conn:
            v = conn.execute(select(T_SETTING.c.value).where(T_SETTING.c.key == name)).scalar()
        if v is None:
            return key.default
        try:
            return key.check(json.loads(v))
        except (ValueError, StoreError):
            return key.default

    def set_setting(self, key: Setting[T], value: T) -> Changes:
        """Store a declared setting; an undeclared key or a value of another type is
        refused before anything is written."""
        with self._tx() as conn:
            self._set_setting(conn, key, value)
        return Changes(settings=True)

    def _set_setting(self, conn: Connection, key: Setting[Any], value: Any) -> None:
        name = declared(key).name
        raw = json.dumps(key.check(value))
        if conn.execute(select(T_SETTING.c.key).where(T_SETTING.c.key == name)).first():
            conn.execute(update(T_SETTING).where(T_SETTING.c.key == name).values(value=raw))
        else:
            conn.execute(insert(T_SETTING).values(key=name, value=raw))

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

