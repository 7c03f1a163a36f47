"""A partial index of the fallback documents whose electronic lodging is still due.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

The continuity view asks, while it is open, which printed fallback documents still owe
their electronic lodging (``Store.lodgings_due``).  Without an index that question read
every declaration row; the partial index holds only the few rows it asks about (a
fallback printed, not yet lodged), so the answer costs the same with 100,000
declarations as with ten, and a row leaves the index when its lodging is recorded.
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEX = "ix_declaration_lodging_due"


def upgrade() -> None:
    op.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON declaration (fallback_printed_at) "
               "WHERE fallback_printed_at IS NOT NULL AND lodged_after_fallback_at IS NULL")


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {INDEX}")
