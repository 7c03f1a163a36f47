"""New declarations indexed for search once per transaction instead of once per row.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

0003's triggers wrote each new declaration's row into the FTS5 table from inside the
statement that saved it.  FTS5 flushes its pending terms to a new on-disk segment at
every statement savepoint, so a bulk insert (the demo seed, an import of thousands)
wrote, and later merged, one segment per declaration: 2.7x the CPU of the same insert
without the index (bench: create_many of 3,000 declarations, 5.5 s against 2.0 s).

Now the insert trigger only notes the new declaration's id in
``declaration_search_pending``, and the store indexes every noted declaration in one
statement just before it commits (client/store/search.py, ``flush_search``): the same
transaction as the save, so no committed declaration is ever without its index row, but
one FTS5 flush per transaction (3.0 s for the same 3,000).  An edit (one row, where the
deferral measured no gain) and the MRN the feed brings keep 0003's immediate reindex,
unless the declaration is still pending (then the flush indexes its final state).
"""

import importlib

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_v3 = importlib.import_module("client.store.migrations.versions.0003_search")
_PENDING = "SELECT 1 FROM declaration_search_pending WHERE declaration_id = new.id"

STATEMENTS = [
    "DROP TRIGGER IF EXISTS declaration_search_doc_ins",
    "DROP TRIGGER IF EXISTS declaration_search_doc_upd",
    "DROP TRIGGER IF EXISTS declaration_search_mrn_upd",
    """CREATE TABLE declaration_search_pending (
        declaration_id VARCHAR(36) NOT NULL PRIMARY KEY) WITHOUT ROWID""",
    """CREATE TRIGGER declaration_search_doc_ins AFTER INSERT ON declaration_document
    BEGIN
        INSERT OR IGNORE INTO declaration_search_pending (declaration_id) VALUES (new.id);
    END""",
    f"""CREATE TRIGGER declaration_search_doc_upd AFTER UPDATE OF document
        ON declaration_document WHEN NOT EXISTS ({_PENDING})
    BEGIN {_v3._reindex("new.id")}
    END""",
    f"""CREATE TRIGGER declaration_search_mrn_upd AFTER UPDATE OF mrn ON declaration
        WHEN new.mrn IS NOT old.mrn AND NOT EXISTS ({_PENDING})
    BEGIN {_v3._reindex("new.id")}
    END""",
    # A declaration deleted in the transaction that noted it: nothing left to index.
    """CREATE TRIGGER declaration_search_pending_del AFTER DELETE ON declaration_document
    BEGIN DELETE FROM declaration_search_pending WHERE declaration_id = old.id; END""",
]


def upgrade() -> None:
    for sql in STATEMENTS:
        op.execute(sql)


def downgrade() -> None:
    raise NotImplementedError("0006: restore a backup taken before the upgrade")
