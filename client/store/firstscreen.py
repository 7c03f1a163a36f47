"""The desktop's first screen: one page of list rows read before the store's libraries load.

Opening the :class:`~client.store.Store` imports SQLAlchemy, SQLModel and the pydantic
models — most of the time between starting the app and seeing declarations (#15).  The
first screen needs none of it: this module opens the same SQLCipher file on the driver
alone, reads the rows a window shows and the chosen language, and closes.  It never
writes and never migrates; any doubt (no file, a wrong key, a schema it does not know)
answers ``None`` and the app simply paints after the full store has opened.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A list row's columns, in the order of Summary's fields (client.store.types.Summary):
# the one spelling the first screen, the store's summaries and the table's rows share.
ROW_COLUMNS = ("id", "lrn", "type", "status", "mrn", "version", "declarant_name", "items",
               "updated_at", "created_at")
ROW_FIELDS = tuple("declarant" if c == "declarant_name" else c for c in ROW_COLUMNS)
SORTABLE = ("updated_at", "created_at", "lrn", "mrn", "status", "type", "items",
            "declarant_name", "version")


@dataclass(frozen=True)
class FirstScreen:
    """The first page of the all-declarations view, in list order, and the language."""

    rows: list[tuple[Any, ...]]
    language: str | None
    order_by: str
    descending: bool


def read_first_screen(path: Path, key_hex: str | None, *, limit: int, order_by: str = "lrn",
                      descending: bool = True) -> FirstScreen | None:
    """The first ``limit`` rows sorted as the list sorts them, or None when unsure."""
    from client.store.settings_keys import LANGUAGE

    if not Path(path).is_file() or order_by not in SORTABLE:
        return None
    try:
        if key_hex is None:
            import sqlite3 as driver
        else:
            from sqlcipher3 import dbapi2 as driver  # type: ignore[no-redef]
        conn = driver.connect(f"file:{path}?mode=ro", uri=True, timeout=5,
                              check_same_thread=False)
    except Exception:  # noqa: BLE001 - no first screen; the full store reports the reason
        return None
    try:
        if key_hex is not None:
            conn.execute("PRAGMA cipher_log_level=NONE")
            conn.execute(f"PRAGMA key=\"x'{key_hex}'\"")
        direction = "DESC" if descending else "ASC"
        rows = conn.execute(
            f"SELECT {', '.join(ROW_COLUMNS)} FROM declaration "
            f"ORDER BY {order_by} {direction}, id {direction} LIMIT ?", (limit,)).fetchall()
        got = conn.execute("SELECT value FROM setting WHERE key = ?", (LANGUAGE.name,)).fetchone()
    except Exception:  # noqa: BLE001 - wrong key, older schema: let the store decide
        return None
    finally:
        conn.close()
    language = None
    if got is not None:
        try:
            value = json.loads(got[0])
        except ValueError:
            value = None
        # LANGUAGE's declared values, checked here without pydantic (its check imports it)
        language = value if value in ("en", "fr") else None
    return FirstScreen(rows=[tuple(r) for r in rows], language=language, order_by=order_by,
                       descending=descending)
