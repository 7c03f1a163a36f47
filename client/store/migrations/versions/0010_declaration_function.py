"""The function of a declaration's current version (DE 1/2's request kind) on its row.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

Every bulk move of the single window's answers (a batch's receipts, a page of the feed)
asks of each declaration whether its current version is a request (an amendment or an
invalidation).  It was read from the document, parsed in SQL for every row: a third of
the time the answers of a drain spent reading, each document's pages decrypted for one
field (#16).  Triggers keep the column equal to the document's ``function`` whatever
path writes the document; existing rows are filled here.
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TRIGGERS = {
    "declaration_function_ins": "AFTER INSERT ON declaration_document",
    "declaration_function_upd": "AFTER UPDATE OF document ON declaration_document",
}


def upgrade() -> None:
    op.execute("ALTER TABLE declaration ADD COLUMN function VARCHAR(24)")
    op.execute("UPDATE declaration SET function = (SELECT json_extract(d.document, "
               "'$.function') FROM declaration_document d WHERE d.id = declaration.id)")
    for name, when in TRIGGERS.items():
        op.execute(f"CREATE TRIGGER IF NOT EXISTS {name} {when} BEGIN "
                   "UPDATE declaration SET function = json_extract(new.document, '$.function') "
                   "WHERE id = new.id; END")


def downgrade() -> None:
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("ALTER TABLE declaration DROP COLUMN function")
