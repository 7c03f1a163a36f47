"""The search index's deferred part: the new declarations the insert trigger noted,
indexed once per transaction, just before it commits (migration 0006 says why)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from client.store.idcolumn import IdColumn

# The text indexed for a declaration: the searchable leaves of its stored document — the
# LRN (DE 2/5), the MRN a request carries, the id, each party's name and number (DE 3/x),
# each goods item's description (DE 6/8) and commodity code (DE 6/14).  The same text as
# migration 0008's triggers index.  The MRN column (set by the single window's answer)
# has an index of its own, ``declaration_search_mrn``: 0008 says why.
_PATHS = ["$.id", "$.lrn", "$.mrn"] + [
    f"$.{party}.{leaf}" for party in ("declarant", "exporter", "consignee", "importer",
                                      "representative", "seller", "buyer")
    for leaf in ("id", "name")]
_LEAVES = " || ' ' || ".join(f"coalesce(json_extract(c.document, '{p}'), '')" for p in _PATHS)
_BODY = (_LEAVES + " || ' ' || coalesce(("
         "SELECT group_concat(coalesce(json_extract(g.value, '$.description'), '') || ' ' || "
         "coalesce(json_extract(g.value, '$.commodity_code'), ''), ' ') "
         "FROM json_each(c.document, '$.goods_items') AS g), '')")

_ANY_PENDING = "SELECT 1 FROM declaration_search_pending LIMIT 1"
# Declarations indexed before (a key already held): their old row goes first.  Deleted
# one rowid at a time: FTS5 answers "rowid IN (subquery)" with a scan of the whole index.
_INDEXED_BEFORE = ("SELECT k.seq FROM declaration_search_pending p JOIN declaration_search_key k "
                   "ON k.declaration_id = p.declaration_id")
_DELETE_ROW = "DELETE FROM declaration_search WHERE rowid = ?"
_DELETE_MRN = "DELETE FROM declaration_search_mrn WHERE rowid = ?"
_NEW_KEYS = ("INSERT OR IGNORE INTO declaration_search_key (declaration_id) "
             "SELECT declaration_id FROM declaration_search_pending")
_INSERT_ROWS = ("INSERT INTO declaration_search (rowid, body) SELECT k.seq, " + _BODY + " "
                "FROM declaration_search_pending p JOIN declaration_search_key k "
                "ON k.declaration_id = p.declaration_id "
                "JOIN declaration_document c ON c.id = p.declaration_id")
_INSERT_MRNS = ("INSERT INTO declaration_search_mrn (rowid, mrn) SELECT k.seq, d.mrn "
                "FROM declaration_search_pending p JOIN declaration_search_key k "
                "ON k.declaration_id = p.declaration_id "
                "JOIN declaration d ON d.id = p.declaration_id WHERE d.mrn IS NOT NULL")
_CLEAR = "DELETE FROM declaration_search_pending"

# A bulk move's MRNs (migration 0011): noted first, so that the trigger leaves them alone.
_NOTE_BULK = "INSERT OR IGNORE INTO declaration_search_mrn_bulk (declaration_id) VALUES (?)"
_BULK_KEYS = ("INSERT OR IGNORE INTO declaration_search_key (declaration_id) "
              "SELECT b.declaration_id FROM declaration_search_mrn_bulk b WHERE NOT EXISTS "
              "(SELECT 1 FROM declaration_search_pending p WHERE p.declaration_id = b.declaration_id)")
_BULK_INSERT = ("INSERT INTO declaration_search_mrn (rowid, mrn) SELECT k.seq, d.mrn "
                "FROM declaration_search_mrn_bulk b JOIN declaration_search_key k "
                "ON k.declaration_id = b.declaration_id JOIN declaration d ON d.id = b.declaration_id "
                "WHERE d.mrn IS NOT NULL AND NOT EXISTS (SELECT 1 FROM declaration_search_pending p "
                "WHERE p.declaration_id = b.declaration_id) ORDER BY k.seq")
_BULK_CLEAR = "DELETE FROM declaration_search_mrn_bulk"


def note_mrns(cur: Any, ids: list[str]) -> None:
    """Before an update that gives these declarations their first MRN: the trigger is to
    leave them to :func:`index_mrns`."""
    cur.executemany(_NOTE_BULK, [(i,) for i in ids])


def index_mrns(cur: Any) -> None:
    """After that update: their MRNs into the index in one statement, in rowid order; a
    declaration whose body waits in ``declaration_search_pending`` is left to
    :func:`flush_search`, as the trigger leaves it."""
    cur.execute(_BULK_KEYS)
    cur.execute(_BULK_INSERT)
    cur.execute(_BULK_CLEAR)


def flush_search(cur: Any) -> int:
    """Index the declarations noted in this transaction; returns how many (0: no work).
    ``cur`` is a driver cursor inside the write transaction."""
    if cur.execute(_ANY_PENDING).fetchone() is None:
        return 0
    old = cur.execute(_INDEXED_BEFORE).fetchall()
    if old:
        cur.executemany(_DELETE_ROW, old)
        cur.executemany(_DELETE_MRN, old)
    cur.execute(_NEW_KEYS)
    n = cur.execute(_INSERT_ROWS).rowcount
    cur.execute(_INSERT_MRNS)
    cur.execute(_CLEAR)
    return int(n)


# ---- the list's queries (read only) ---------------------------------------------------------
# The filter box asks for ids sorted in list order.  Answered on a driver cursor: for a
# 100,000-row list the SQLAlchemy rows around the ids cost more than the SELECT (#15).

class ListCancelled(Exception):
    """A list query abandoned because a newer one superseded it (never shown to a user)."""


def matched(param: str = "?", *, distinct: bool = True) -> str:
    """The index keys (``declaration_search_key.seq``) of the declarations whose body or
    MRN holds a fragment; ``param`` (the fragment as an FTS5 phrase) is bound twice."""
    union = "UNION" if distinct else "UNION ALL"
    return (f"SELECT rowid AS seq FROM declaration_search WHERE declaration_search MATCH "
            f"{param} {union} SELECT rowid FROM declaration_search_mrn "
            f"WHERE declaration_search_mrn MATCH {param}")


def like_pattern(fragment: str) -> str:
    """``%fragment%`` for ``LIKE … ESCAPE '\\'``: the fragment's own ``%`` and ``_`` literal."""
    escaped = fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return "%" + escaped + "%"


def fts_phrase(fragment: str) -> str:
    """``fragment`` as one FTS5 string (a substring to find, never query syntax)."""
    return '"' + fragment.replace('"', '""') + '"'


def _status_clause(statuses: tuple[str, ...], params: list[Any]) -> str:
    params.extend(statuses)
    return "d.status IN (" + ", ".join("?" * len(statuses)) + ")"


def list_query(statuses: tuple[str, ...], search: str, col: str, descending: bool,
               limit: int | None, offset: int) -> tuple[str, list[Any]]:
    """The SQL and parameters of a list query; ``col`` is a vetted sortable column.

    A fragment of three characters or more is answered from the FTS5 trigram indexes
    (:func:`matched`), joined row by row to the declarations (the ``id IN (subquery)``
    form built the whole match list twice before sorting it); a shorter one scans the
    list columns.  CROSS JOIN keeps the index as the outer loop: with a status filter
    the planner otherwise walks the status index and runs the full-text query again for
    every row."""
    direction = "DESC" if descending else "ASC"
    params: list[Any] = []
    where: list[str] = []
    if len(search) >= 3:
        source = (f"({matched()}) s CROSS JOIN declaration_search_key k "
                  "ON k.seq = s.seq CROSS JOIN declaration d ON d.id = k.declaration_id")
        params += [fts_phrase(search)] * 2
    else:
        source = "declaration d"
        if search:
            where.append("(" + " OR ".join(f"d.{c} LIKE ? ESCAPE '\\'" for c in (
                "lrn", "mrn", "declarant_name", "declarant_id", "id")) + ")")
            params.extend([like_pattern(search)] * 5)
    if statuses:
        where.append(_status_clause(statuses, params))
    sql = f"SELECT d.id FROM {source}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY d.{col} {direction}, d.id {direction}"
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params += [limit, offset]
    elif offset:
        sql += " LIMIT -1 OFFSET ?"
        params.append(offset)
    return sql, params


def probe_query(search: str, budget: int) -> tuple[str, list[Any]]:
    """At most ``budget + 1`` index matches, unsorted: is the fragment rare?  (A
    declaration matched by its MRN and its body counts twice: an estimate is enough.)"""
    return (matched(distinct=False) + " LIMIT ?",
            [fts_phrase(search)] * 2 + [budget + 1])


def scan_query(statuses: tuple[str, ...], search: str, col: str, descending: bool,
               budget: int, limit: int) -> tuple[str, list[Any]]:
    """The first ``budget`` rows in list order, matched with LIKE against the indexed text
    the index's content table holds (see ``DeclarationsMixin._first_page_by_scan``)."""
    direction = "DESC" if descending else "ASC"
    params: list[Any] = []
    where = ""
    if statuses:
        where = "WHERE " + _status_clause(statuses, params)
    params += [budget] + [like_pattern(search)] * 2 + [limit]
    sql = (f"SELECT x.id FROM (SELECT d.id, d.mrn, d.{col} AS o FROM declaration d {where} "
           f"ORDER BY d.{col} {direction}, d.id {direction} LIMIT ?) x "
           "JOIN declaration_search_key k ON k.declaration_id = x.id "
           "JOIN declaration_search_content c ON c.id = k.seq "
           "WHERE (c.c0 LIKE ? ESCAPE '\\' OR x.mrn LIKE ? ESCAPE '\\') "
           f"ORDER BY x.o {direction}, x.id {direction} LIMIT ?")
    return sql, params


def run_ids(cur: Any, sql: str, params: list[Any],
            cancelled: Callable[[], bool] | None = None, *,
            packed: bool = False) -> list[str] | IdColumn:
    """The first column of every row; with ``cancelled`` the statement stops (and
    :class:`ListCancelled` is raised) soon after it turns true — a superseded id list must
    not hold a core and the GIL while the user's newer filter waits.  ``packed``: an
    :class:`~client.store.idcolumn.IdColumn`, read without a list of strings."""
    conn = cur.connection

    def collect() -> list[str] | IdColumn:
        rows = (r[0] for r in cur.execute(sql, params))
        return IdColumn(rows) if packed else list(rows)

    if cancelled is None:
        return collect()
    conn.set_progress_handler(cancelled, 2000)
    try:
        return collect()
    except Exception as exc:
        if cancelled():
            raise ListCancelled from exc
        raise
    finally:
        conn.set_progress_handler(None, 0)
