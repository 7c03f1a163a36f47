"""UK CDS connector: lodgings, the attempts ledger, pulled notifications.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Frozen DDL, as in 0001.
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STATEMENTS = [
    """CREATE TABLE cds_lodging (
	seq INTEGER NOT NULL,
	declaration_id VARCHAR NOT NULL,
	version INTEGER NOT NULL,
	lrn VARCHAR NOT NULL,
	endpoint VARCHAR NOT NULL,
	state VARCHAR NOT NULL,
	conversation_id VARCHAR,
	attempts INTEGER NOT NULL,
	decision VARCHAR,
	decided_by VARCHAR,
	decided_at VARCHAR,
	updated_at VARCHAR NOT NULL,
	PRIMARY KEY (seq),
	FOREIGN KEY(seq) REFERENCES journal (seq)
)""",
    """CREATE INDEX ix_cds_lodging_declaration_id ON cds_lodging (declaration_id)""",
    """CREATE INDEX ix_cds_lodging_lrn ON cds_lodging (lrn)""",
    """CREATE INDEX ix_cds_lodging_state ON cds_lodging (state)""",
    """CREATE INDEX ix_cds_lodging_conversation_id ON cds_lodging (conversation_id)""",
    """CREATE TABLE cds_attempt (
	id INTEGER NOT NULL,
	seq INTEGER NOT NULL,
	started_at VARCHAR NOT NULL,
	started_at_server VARCHAR,
	body_sha256 VARCHAR NOT NULL,
	outcome VARCHAR NOT NULL,
	http_status INTEGER,
	conversation_id VARCHAR,
	finished_at VARCHAR,
	detail VARCHAR,
	PRIMARY KEY (id),
	FOREIGN KEY(seq) REFERENCES journal (seq)
)""",
    """CREATE INDEX ix_cds_attempt_seq ON cds_attempt (seq)""",
    """CREATE INDEX ix_cds_attempt_conversation_id ON cds_attempt (conversation_id)""",
    """CREATE TABLE cds_notification (
	id VARCHAR(64) NOT NULL,
	conversation_id VARCHAR,
	lrn VARCHAR,
	seq INTEGER,
	function_code VARCHAR,
	status VARCHAR NOT NULL,
	mrn VARCHAR,
	issued_at VARCHAR,
	received_at VARCHAR NOT NULL,
	payload TEXT NOT NULL,
	PRIMARY KEY (id)
)""",
    """CREATE INDEX ix_cds_notification_conversation_id ON cds_notification (conversation_id)""",
    """CREATE INDEX ix_cds_notification_lrn ON cds_notification (lrn)""",
    """CREATE INDEX ix_cds_notification_seq ON cds_notification (seq)""",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("Comptoir never downgrades a profile")
