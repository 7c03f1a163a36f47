"""Full-text search: an FTS5 trigram index over what a broker types into the filter box.

Revision ID: 0003
Revises: 0001
Create Date: 2026-12-01

Indexed: the LRN (DE 2/5), the MRN, the declaration id, every party's name and
identification number (DE 3/x), each goods item's description (DE 6/8) and commodity code
(DE 6/14).  The trigram tokenizer makes any substring of three characters or more a
query the index answers (a fragment of a code, of an LRN, of a name), case-insensitively.

Maintenance is by triggers, so every write path (create, autosave, new version, the MRN
the feed brings) updates the index in the same transaction as the save itself.  The FTS
rowid is a key of its own (``declaration_search_key``): a declaration's implicit rowid
is not stable across VACUUM.  Existing profiles are indexed by this migration.
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The text indexed for declaration X: its MRN column (set by the feed, not in the
# document) and the searchable leaves of its stored document.
_PATHS = ["$.id", "$.lrn", "$.mrn"] + [
    f"$.{party}.{leaf}" for party in ("declarant", "exporter", "consignee", "importer",
                                      "representative", "seller", "buyer")
    for leaf in ("id", "name")]
# Named paths, not a walk of the whole document: exactly the fields the search promises
# (a nested "name" or "id" elsewhere, in a transport or a document, is not a party).
_LEAVES = " || ' ' || ".join(f"coalesce(json_extract(c.document, '{p}'), '')" for p in _PATHS)
_BODY = ("""(SELECT coalesce(d.mrn, '') || ' ' || """ + _LEAVES + """ || ' ' || coalesce((
        SELECT group_concat(coalesce(json_extract(g.value, '$.description'), '') || ' ' ||
                            coalesce(json_extract(g.value, '$.commodity_code'), ''), ' ')
        FROM json_each(c.document, '$.goods_items') AS g), '')
    FROM declaration d JOIN declaration_document c ON c.id = d.id WHERE d.id = {ref})""")

_REINDEX = """
    INSERT OR IGNORE INTO declaration_search_key (declaration_id) VALUES ({ref});
    DELETE FROM declaration_search
        WHERE rowid = (SELECT seq FROM declaration_search_key WHERE declaration_id = {ref});
    INSERT INTO declaration_search (rowid, body)
        SELECT k.seq, {body} FROM declaration_search_key k WHERE k.declaration_id = {ref};"""


def _reindex(ref: str) -> str:
    return _REINDEX.format(ref=ref, body=_BODY.format(ref=ref))


STATEMENTS = [
    """CREATE TABLE declaration_search_key (
        seq INTEGER PRIMARY KEY,
        declaration_id VARCHAR(36) NOT NULL UNIQUE)""",
    "CREATE VIRTUAL TABLE declaration_search USING fts5(body, tokenize = 'trigram')",
    f"""CREATE TRIGGER declaration_search_doc_ins AFTER INSERT ON declaration_document
    BEGIN {_reindex("new.id")}
    END""",
    f"""CREATE TRIGGER declaration_search_doc_upd AFTER UPDATE OF document
        ON declaration_document
    BEGIN {_reindex("new.id")}
    END""",
    f"""CREATE TRIGGER declaration_search_mrn_upd AFTER UPDATE OF mrn ON declaration
        WHEN new.mrn IS NOT old.mrn
    BEGIN {_reindex("new.id")}
    END""",
    """CREATE TRIGGER declaration_search_doc_del AFTER DELETE ON declaration_document
    BEGIN
        DELETE FROM declaration_search
            WHERE rowid = (SELECT seq FROM declaration_search_key
                           WHERE declaration_id = old.id);
        DELETE FROM declaration_search_key WHERE declaration_id = old.id;
    END""",
    # Existing profiles: index what is already there.
    "INSERT INTO declaration_search_key (declaration_id) SELECT id FROM declaration_document",
    f"""INSERT INTO declaration_search (rowid, body)
        SELECT k.seq, {_BODY.format(ref="k.declaration_id")} FROM declaration_search_key k""",
]


def upgrade() -> None:
    for sql in STATEMENTS:
        op.execute(sql)


def downgrade() -> None:
    for name in ("declaration_search_doc_ins", "declaration_search_doc_upd",
                 "declaration_search_mrn_upd", "declaration_search_doc_del"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS declaration_search")
    op.execute("DROP TABLE IF EXISTS declaration_search_key")
