"""The search index's deferred part: the new declarations the insert trigger noted,
indexed once per transaction, just before it commits (migration 0006 says why)."""

from __future__ import annotations

from typing import Any

# The text indexed for a declaration: its MRN column (set by the feed, not in the
# document) and the searchable leaves of its stored document — the LRN (DE 2/5), the MRN,
# the id, each party's name and number (DE 3/x), each goods item's description (DE 6/8)
# and commodity code (DE 6/14).  The same text as migration 0003's triggers index.
_PATHS = ["$.id", "$.lrn", "$.mrn"] + [
    f"$.{party}.{leaf}" for party in ("declarant", "exporter", "consignee", "importer",
                                      "representative", "seller", "buyer")
    for leaf in ("id", "name")]
_LEAVES = " || ' ' || ".join(f"coalesce(json_extract(c.document, '{p}'), '')" for p in _PATHS)
_BODY = ("coalesce(d.mrn, '') || ' ' || " + _LEAVES + " || ' ' || coalesce(("
         "SELECT group_concat(coalesce(json_extract(g.value, '$.description'), '') || ' ' || "
         "coalesce(json_extract(g.value, '$.commodity_code'), ''), ' ') "
         "FROM json_each(c.document, '$.goods_items') AS g), '')")

_ANY_PENDING = "SELECT 1 FROM declaration_search_pending LIMIT 1"
# Declarations indexed before (a key already held): their old row goes first.  Deleted
# one rowid at a time: FTS5 answers "rowid IN (subquery)" with a scan of the whole index.
_INDEXED_BEFORE = ("SELECT k.seq FROM declaration_search_pending p JOIN declaration_search_key k "
                   "ON k.declaration_id = p.declaration_id")
_DELETE_ROW = "DELETE FROM declaration_search WHERE rowid = ?"
_NEW_KEYS = ("INSERT OR IGNORE INTO declaration_search_key (declaration_id) "
             "SELECT declaration_id FROM declaration_search_pending")
_INSERT_ROWS = ("INSERT INTO declaration_search (rowid, body) SELECT k.seq, " + _BODY + " "
                "FROM declaration_search_pending p JOIN declaration_search_key k "
                "ON k.declaration_id = p.declaration_id "
                "JOIN declaration d ON d.id = p.declaration_id "
                "JOIN declaration_document c ON c.id = p.declaration_id")
_CLEAR = "DELETE FROM declaration_search_pending"


def flush_search(cur: Any) -> int:
    """Index the declarations noted in this transaction; returns how many (0: no work).
    ``cur`` is a driver cursor inside the write transaction."""
    if cur.execute(_ANY_PENDING).fetchone() is None:
        return 0
    old = cur.execute(_INDEXED_BEFORE).fetchall()
    if old:
        cur.executemany(_DELETE_ROW, old)
    cur.execute(_NEW_KEYS)
    n = cur.execute(_INSERT_ROWS).rowcount
    cur.execute(_CLEAR)
    return int(n)
