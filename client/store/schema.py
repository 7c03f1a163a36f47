"""The profile database's tables (SQLModel declares them; Alembic migrates them)."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Index,
    LargeBinary,
    Text,
    text,
)
from sqlmodel import Field, SQLModel

from client.store import history_notes as notes

SCHEMA_VERSION = "0011"  # the Alembic head this code writes; see client/migrations/



# --------------------------------------------------------------------------- schema

class DeclarationRow(SQLModel, table=True):
    __tablename__ = "declaration"
    id: str = Field(primary_key=True, max_length=36)
    version: int = 1
    type: str = Field(max_length=2)
    status: str = Field(max_length=24)  # indexed by ix_declaration_status_updated (0005)
    lrn: str | None = Field(default=None, max_length=35, index=True)
    mrn: str | None = Field(default=None, max_length=35, index=True)
    declarant_id: str | None = Field(default=None, max_length=35)
    declarant_name: str | None = None
    items: int = 0
    created_at: str
    updated_at: str = Field(index=True)
    sealed_at: str | None = None
    envelope_hash: str | None = None
    fallback_printed_at: str | None = None
    lodged_after_fallback_at: str | None = None
    # DE 1/2 of the current version as the document says it (triggers of 0010 keep it)
    function: str | None = Field(default=None, max_length=24)
    __table_args__ = (
        Index("ix_declaration_declarant_lrn", "declarant_id", "lrn"),
        Index("ix_declaration_status_updated", "status", "updated_at"),
        # Only the printed fallback documents still owing their lodging (0007).
        Index("ix_declaration_lodging_due", "fallback_printed_at",
              sqlite_where=text("fallback_printed_at IS NOT NULL "
                                "AND lodged_after_fallback_at IS NULL")),
    )


class DocumentRow(SQLModel, table=True):
    """The working copy of a declaration, apart from its lifecycle row so that a status
    change never rewrites (and re-encrypts) the whole document."""

    __tablename__ = "declaration_document"
    id: str = Field(primary_key=True, foreign_key="declaration.id", max_length=36)
    document: str = Field(sa_column=Column(Text, nullable=False))


class HistoryRow(SQLModel, table=True):
    """Append-only (triggers refuse UPDATE and DELETE): who moved what, when, from, to."""

    __tablename__ = "history"
    id: int | None = Field(default=None, primary_key=True)
    declaration_id: str = Field(foreign_key="declaration.id", index=True)
    version: int
    at: str
    actor: str
    from_status: str | None = None
    to_status: str
    note: str | None = None
    detail: str | None = None  # JSON: codes/params (rejection errors, MRN …)
    document: str | None = Field(default=None, sa_column=Column(Text))
    __table_args__ = (
        # Only the rows of the two notes ``withdrawals_owed`` asks about (0009).
        Index("ix_history_lodged_before_paper", "declaration_id", "id",
              sqlite_where=text(f"note = '{notes.LODGED_BEFORE_PAPER.code}'")),
        Index("ix_history_withdrawal_queued", "declaration_id", "id",
              sqlite_where=text(f"note = '{notes.WITHDRAWAL_QUEUED.code}'")),
    )


class JournalRow(SQLModel, table=True):
    """The device journal: every sealed envelope, chained by ``prev`` (append-only)."""

    __tablename__ = "journal"
    seq: int = Field(primary_key=True)
    kind: str = "declaration"
    declaration_id: str = Field(index=True)
    version: int
    envelope_hash: str = Field(unique=True)
    prev_hash: str
    sealed_at: str
    envelope: str = Field(sa_column=Column(Text, nullable=False))


class OutboxRow(SQLModel, table=True):
    __tablename__ = "outbox"
    seq: int = Field(primary_key=True, foreign_key="journal.seq")
    state: str = Field(default="queued", index=True)  # queued | held | done
    attempts: int = 0
    last_error: str | None = None
    queued_at: str
    delivered_at: str | None = None
    outcome: str | None = None  # accepted | duplicate | rejected


class ReceiptRow(SQLModel, table=True):
    __tablename__ = "receipt"
    seq: int = Field(primary_key=True, foreign_key="journal.seq")
    declaration_id: str = Field(index=True)
    version: int
    mrn: str | None = None
    received_at: str
    token: str = Field(sa_column=Column(Text, nullable=False))
    stored_at: str


class NotificationRow(SQLModel, table=True):
    __tablename__ = "notification"
    id: int | None = Field(default=None, primary_key=True)
    cursor: int = Field(index=True)
    declaration_id: str = Field(index=True)
    version: int | None = None
    status: str
    mrn: str | None = None
    at: str
    payload: str
    applied: bool = False


class SettingRow(SQLModel, table=True):
    __tablename__ = "setting"
    key: str = Field(primary_key=True)
    value: str


class AttachmentRow(SQLModel, table=True):
    __tablename__ = "attachment"
    id: int | None = Field(default=None, primary_key=True)
    declaration_id: str = Field(foreign_key="declaration.id", index=True)
    name: str
    content_type: str
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: str


class PendingAmendmentRow(SQLModel, table=True):
    """An amendment or cancellation received for a declaration not (yet) in the store:
    held until its original arrives, then applied onto it."""

    __tablename__ = "pending_amendment"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # amendment | cancellation
    mrn: str | None = Field(default=None, max_length=35, index=True)
    lrn: str | None = Field(default=None, max_length=35, index=True)
    document: str = Field(sa_column=Column(Text, nullable=False))
    source: str
    original: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    received_at: str
    applied_to: str | None = Field(default=None, max_length=36)
    applied_at: str | None = None


class CdsLodgingRow(SQLModel, table=True):
    """An envelope's lodging with UK CDS (connector "cds"): where its attempts stand.

    state: open (to send) | uncertain (an answer was lost) | lodged (202, or proven by a
    notification) | refused (400/403/501) | unresolved (past CDS12003's window, the user
    decides) | withdrawn (the user's decision)."""

    __tablename__ = "cds_lodging"
    seq: int = Field(primary_key=True, foreign_key="journal.seq")
    declaration_id: str = Field(index=True)
    version: int
    lrn: str = Field(index=True)
    endpoint: str
    state: str = Field(index=True)
    conversation_id: str | None = Field(default=None, index=True)
    attempts: int = 0
    decision: str | None = None
    decided_by: str | None = None
    decided_at: str | None = None
    updated_at: str


class CdsAttemptRow(SQLModel, table=True):
    """One request to CDS, written before it is sent (the exactly-once ledger).

    outcome: started (nothing known yet) | accepted | refused | not_sent | throttled |
    failed (a definite "not taken": 401, 406, 415) | ambiguous (5xx, timeout, connection
    lost after sending) | duplicate (CDS12003 proved an earlier attempt was taken)."""

    __tablename__ = "cds_attempt"
    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(foreign_key="journal.seq", index=True)
    started_at: str
    started_at_server: str | None = None
    body_sha256: str
    outcome: str
    http_status: int | None = None
    conversation_id: str | None = Field(default=None, index=True)
    finished_at: str | None = None
    detail: str | None = None


class CdsNotificationRow(SQLModel, table=True):
    """A DMS response pulled from CDS, kept whole (``payload``) whether or not it matched."""

    __tablename__ = "cds_notification"
    id: str = Field(primary_key=True, max_length=64)
    conversation_id: str | None = Field(default=None, index=True)
    lrn: str | None = Field(default=None, index=True)
    seq: int | None = Field(default=None, index=True)
    function_code: str | None = None
    status: str
    mrn: str | None = None
    issued_at: str | None = None
    received_at: str
    payload: str = Field(sa_column=Column(Text, nullable=False))


T_DECL = DeclarationRow.__table__
T_DOC = DocumentRow.__table__
T_HIST = HistoryRow.__table__
T_JOURNAL = JournalRow.__table__
T_OUTBOX = OutboxRow.__table__
T_RECEIPT = ReceiptRow.__table__
T_NOTIF = NotificationRow.__table__
T_SETTING = SettingRow.__table__
T_ATTACH = AttachmentRow.__table__
T_PENDING = PendingAmendmentRow.__table__
T_CDS_LODGING = CdsLodgingRow.__table__
T_CDS_ATTEMPT = CdsAttemptRow.__table__
T_CDS_NOTIF = CdsNotificationRow.__table__

APPEND_ONLY_TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS {t}_no_{op.lower()} BEFORE {op} ON {t} "
    f"BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END"
    for t in ("history", "journal") for op in ("UPDATE", "DELETE")
]


