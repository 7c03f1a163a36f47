"""The MRNs a drain's answers bring, indexed once per batch rather than row by row.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

The trigger of 0008 indexes an MRN as its row is updated: one FTS5 insert per row, each
writing its own pages, 55 of the 80 us a batch's update of a declaration cost (#16).  A
bulk move (``client.store.helpers._Moves``) now notes the declarations it gives a first MRN
in ``declaration_search_mrn_bulk`` first; the trigger leaves those alone and the move
indexes them in one statement, in rowid order (``client.store.search.index_mrns``).  Any
other writer of an MRN goes through the trigger as before.
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_SEQ = "(SELECT seq FROM declaration_search_key WHERE declaration_id = new.id)"
_PENDING = "SELECT 1 FROM declaration_search_pending WHERE declaration_id = new.id"
_BULK = "SELECT 1 FROM declaration_search_mrn_bulk WHERE declaration_id = new.id"


def _trigger(extra: str) -> str:
    return f"""CREATE TRIGGER declaration_search_mrn_upd AFTER UPDATE OF mrn ON declaration
        WHEN new.mrn IS NOT old.mrn AND NOT EXISTS ({_PENDING}){extra}
    BEGIN
        INSERT OR IGNORE INTO declaration_search_key (declaration_id) VALUES (new.id);
        DELETE FROM declaration_search_mrn WHERE rowid = {_SEQ};
        INSERT INTO declaration_search_mrn (rowid, mrn)
            SELECT k.seq, new.mrn FROM declaration_search_key k
            WHERE k.declaration_id = new.id AND new.mrn IS NOT NULL;
    END"""


def upgrade() -> None:
    op.execute("CREATE TABLE IF NOT EXISTS declaration_search_mrn_bulk ("
               "declaration_id VARCHAR(36) NOT NULL PRIMARY KEY) WITHOUT ROWID")
    op.execute("DROP TRIGGER IF EXISTS declaration_search_mrn_upd")
    op.execute(_trigger(f" AND NOT EXISTS ({_BULK})"))


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS declaration_search_mrn_upd")
    op.execute(_trigger(""))
    op.execute("DROP TABLE IF EXISTS declaration_search_mrn_bulk")
