"""The MRN indexed for search apart from the rest of the declaration.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

0003 indexed the MRN column in the same FTS5 row as the declaration's parties and goods,
so the MRN the single window brings for every accepted declaration (the drain's answer,
the feed) deleted and rewrote that whole trigram row: 1.3-1.5 ms a declaration, most of
what storing a batch's answer cost (bench drain, #16), under the write lock the window's
own saves wait on.  The MRN now has an FTS5 trigram table of its own,
``declaration_search_mrn``, keyed like the body by ``declaration_search_key.seq``: setting
or correcting an MRN rewrites an 18-character row there and leaves the body alone.  The
list's queries match either table.

A declaration still noted for the commit-time flush (0006) gets both rows from the flush.
Existing profiles: the bodies of declarations holding an MRN are rewritten without it and
their MRN goes into the new table.
"""

import importlib

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The body as 0003 indexed it, without the MRN column (the document's own "mrn" leaf, the
# MRN a request carries, stays): the same text as client/store/search.py's _BODY.
_LEAVES = importlib.import_module("client.store.migrations.versions.0003_search")._LEAVES
_BODY = (_LEAVES + """ || ' ' || coalesce((
        SELECT group_concat(coalesce(json_extract(g.value, '$.description'), '') || ' ' ||
                            coalesce(json_extract(g.value, '$.commodity_code'), ''), ' ')
        FROM json_each(c.document, '$.goods_items') AS g), '')""")

_SEQ = "(SELECT seq FROM declaration_search_key WHERE declaration_id = {ref})"
_PENDING = "SELECT 1 FROM declaration_search_pending WHERE declaration_id = new.id"
_WITH_MRN = ("FROM declaration_search_key k JOIN declaration d ON d.id = k.declaration_id "
             "WHERE d.mrn IS NOT NULL")

STATEMENTS = [
    "CREATE VIRTUAL TABLE declaration_search_mrn USING fts5(mrn, tokenize = 'trigram')",
    "DROP TRIGGER IF EXISTS declaration_search_doc_upd",
    "DROP TRIGGER IF EXISTS declaration_search_mrn_upd",
    "DROP TRIGGER IF EXISTS declaration_search_doc_del",
    # An edit of a declaration already indexed: its body again, at once (as 0006).
    f"""CREATE TRIGGER declaration_search_doc_upd AFTER UPDATE OF document
        ON declaration_document WHEN NOT EXISTS ({_PENDING})
    BEGIN
        INSERT OR IGNORE INTO declaration_search_key (declaration_id) VALUES (new.id);
        DELETE FROM declaration_search WHERE rowid = {_SEQ.format(ref="new.id")};
        INSERT INTO declaration_search (rowid, body)
            SELECT k.seq, {_BODY} FROM declaration_search_key k
            JOIN declaration_document c ON c.id = k.declaration_id
            WHERE k.declaration_id = new.id;
    END""",
    f"""CREATE TRIGGER declaration_search_mrn_upd AFTER UPDATE OF mrn ON declaration
        WHEN new.mrn IS NOT old.mrn AND NOT EXISTS ({_PENDING})
    BEGIN
        INSERT OR IGNORE INTO declaration_search_key (declaration_id) VALUES (new.id);
        DELETE FROM declaration_search_mrn WHERE rowid = {_SEQ.format(ref="new.id")};
        INSERT INTO declaration_search_mrn (rowid, mrn)
            SELECT k.seq, new.mrn FROM declaration_search_key k
            WHERE k.declaration_id = new.id AND new.mrn IS NOT NULL;
    END""",
    f"""CREATE TRIGGER declaration_search_doc_del AFTER DELETE ON declaration_document
    BEGIN
        DELETE FROM declaration_search WHERE rowid = {_SEQ.format(ref="old.id")};
        DELETE FROM declaration_search_mrn WHERE rowid = {_SEQ.format(ref="old.id")};
        DELETE FROM declaration_search_key WHERE declaration_id = old.id;
    END""",
    # Existing profiles.  "rowid IN (…)" scans the whole index: once, here.
    f"DELETE FROM declaration_search WHERE rowid IN (SELECT k.seq {_WITH_MRN})",
    f"""INSERT INTO declaration_search (rowid, body)
        SELECT k.seq, {_BODY} FROM declaration_search_key k
        JOIN declaration d ON d.id = k.declaration_id
        JOIN declaration_document c ON c.id = k.declaration_id WHERE d.mrn IS NOT NULL""",
    f"INSERT INTO declaration_search_mrn (rowid, mrn) SELECT k.seq, d.mrn {_WITH_MRN}",
]


def upgrade() -> None:
    for sql in STATEMENTS:
        op.execute(sql)


def downgrade() -> None:
    raise NotImplementedError("0008: restore a backup taken before the upgrade")
