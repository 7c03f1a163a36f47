"""Initial schema: declarations, history, journal, outbox, receipts, notifications.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

Frozen DDL (not generated at run time from the models) so that this migration always
builds the same first schema, whatever the models become later.
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STATEMENTS = [
    """CREATE TABLE declaration (
	id VARCHAR(36) NOT NULL,
	version INTEGER NOT NULL,
	type VARCHAR(2) NOT NULL,
	status VARCHAR(24) NOT NULL,
	lrn VARCHAR(35),
	mrn VARCHAR(35),
	declarant_id VARCHAR(35),
	declarant_name VARCHAR,
	items INTEGER NOT NULL,
	created_at VARCHAR NOT NULL,
	updated_at VARCHAR NOT NULL,
	sealed_at VARCHAR,
	envelope_hash VARCHAR,
	fallback_printed_at VARCHAR,
	lodged_after_fallback_at VARCHAR,
	PRIMARY KEY (id)
)""",
    """CREATE INDEX ix_declaration_declarant_lrn ON declaration (declarant_id, lrn)""",
    """CREATE INDEX ix_declaration_lrn ON declaration (lrn)""",
    """CREATE INDEX ix_declaration_mrn ON declaration (mrn)""",
    """CREATE INDEX ix_declaration_status ON declaration (status)""",
    """CREATE INDEX ix_declaration_status_updated ON declaration (status, updated_at)""",
    """CREATE INDEX ix_declaration_updated_at ON declaration (updated_at)""",
    """CREATE TABLE journal (
	seq INTEGER NOT NULL,
	kind VARCHAR NOT NULL,
	declaration_id VARCHAR NOT NULL,
	version INTEGER NOT NULL,
	envelope_hash VARCHAR NOT NULL,
	prev_hash VARCHAR NOT NULL,
	sealed_at VARCHAR NOT NULL,
	envelope TEXT NOT NULL,
	PRIMARY KEY (seq),
	UNIQUE (envelope_hash)
)""",
    """CREATE INDEX ix_journal_declaration_id ON journal (declaration_id)""",
    """CREATE TABLE notification (
	id INTEGER NOT NULL,
	cursor INTEGER NOT NULL,
	declaration_id VARCHAR NOT NULL,
	version INTEGER,
	status VARCHAR NOT NULL,
	mrn VARCHAR,
	at VARCHAR NOT NULL,
	payload VARCHAR NOT NULL,
	applied BOOLEAN NOT NULL,
	PRIMARY KEY (id)
)""",
    """CREATE INDEX ix_notification_cursor ON notification (cursor)""",
    """CREATE INDEX ix_notification_declaration_id ON notification (declaration_id)""",
    """CREATE TABLE setting (
	"key" VARCHAR NOT NULL,
	value VARCHAR NOT NULL,
	PRIMARY KEY ("key")
)""",
    """CREATE TABLE attachment (
	id INTEGER NOT NULL,
	declaration_id VARCHAR NOT NULL,
	name VARCHAR NOT NULL,
	content_type VARCHAR NOT NULL,
	data BLOB NOT NULL,
	created_at VARCHAR NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(declaration_id) REFERENCES declaration (id)
)""",
    """CREATE INDEX ix_attachment_declaration_id ON attachment (declaration_id)""",
    """CREATE TABLE declaration_document (
	id VARCHAR(36) NOT NULL,
	document TEXT NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(id) REFERENCES declaration (id)
)""",
    """CREATE TABLE history (
	id INTEGER NOT NULL,
	declaration_id VARCHAR NOT NULL,
	version INTEGER NOT NULL,
	at VARCHAR NOT NULL,
	actor VARCHAR NOT NULL,
	from_status VARCHAR,
	to_status VARCHAR NOT NULL,
	note VARCHAR,
	detail VARCHAR,
	document TEXT,
	PRIMARY KEY (id),
	FOREIGN KEY(declaration_id) REFERENCES declaration (id)
)""",
    """CREATE INDEX ix_history_declaration_id ON history (declaration_id)""",
    """CREATE TABLE outbox (
	seq INTEGER NOT NULL,
	state VARCHAR NOT NULL,
	attempts INTEGER NOT NULL,
	last_error VARCHAR,
	queued_at VARCHAR NOT NULL,
	delivered_at VARCHAR,
	outcome VARCHAR,
	PRIMARY KEY (seq),
	FOREIGN KEY(seq) REFERENCES journal (seq)
)""",
    """CREATE INDEX ix_outbox_state ON outbox (state)""",
    """CREATE TABLE receipt (
	seq INTEGER NOT NULL,
	declaration_id VARCHAR NOT NULL,
	version INTEGER NOT NULL,
	mrn VARCHAR,
	received_at VARCHAR NOT NULL,
	token TEXT NOT NULL,
	stored_at VARCHAR NOT NULL,
	PRIMARY KEY (seq),
	FOREIGN KEY(seq) REFERENCES journal (seq)
)""",
    """CREATE INDEX ix_receipt_declaration_id ON receipt (declaration_id)""",
    """CREATE TRIGGER IF NOT EXISTS history_no_update BEFORE UPDATE ON history BEGIN SELECT RAISE(ABORT, 'history is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS history_no_delete BEFORE DELETE ON history BEGIN SELECT RAISE(ABORT, 'history is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS journal_no_update BEFORE UPDATE ON journal BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS journal_no_delete BEFORE DELETE ON journal BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END""",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("Comptoir never downgrades a profile")
