"""Drop ``ix_declaration_status``: ``ix_declaration_status_updated`` (status, updated_at)
answers every query the single-column index did (its leading column), so the seal's
status move wrote two index b-trees where one is read.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

Checked with EXPLAIN QUERY PLAN (tests/core/test_store_indexes.py): the status filter,
the counts per status and the filtered, date-ordered list all use the composite index.
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_declaration_status")


def downgrade() -> None:
    op.execute("CREATE INDEX IF NOT EXISTS ix_declaration_status ON declaration (status)")
