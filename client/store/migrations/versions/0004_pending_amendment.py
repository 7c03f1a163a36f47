"""Pending amendments: DMS amendments and cancellations held until their original arrives.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Frozen DDL, like 0001.
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

STATEMENTS = [
    """CREATE TABLE pending_amendment (
	id INTEGER NOT NULL,
	kind VARCHAR(16) NOT NULL,
	mrn VARCHAR(35),
	lrn VARCHAR(35),
	document TEXT NOT NULL,
	source VARCHAR NOT NULL,
	original BLOB NOT NULL,
	received_at VARCHAR NOT NULL,
	applied_to VARCHAR(36),
	applied_at VARCHAR,
	PRIMARY KEY (id)
)""",
    """CREATE INDEX ix_pending_amendment_mrn ON pending_amendment (mrn)""",
    """CREATE INDEX ix_pending_amendment_lrn ON pending_amendment (lrn)""",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("Comptoir never downgrades a profile")
