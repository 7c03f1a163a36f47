"""The local store: the one door to the profile's database.

SQLModel tables over SQLite (SQLCipher-encrypted when a key is given), WAL with
``synchronous=FULL`` so that everything the user was told is saved survives a kill -9,
foreign keys on, Alembic migrations applied on open.  No SQL lives anywhere else: the
UI, the CLI and the sync engine call the methods of :class:`Store`, grouped by topic
(declarations, history, journal + outbox, receipts, notifications, settings).

Hot paths (autosave, seal, outbox) use SQLAlchemy Core on one connection per
transaction; the ORM classes only declare the schema (and drive Alembic).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Index,
    LargeBinary,
    Text,
    and_,
    create_engine,
    event,
    func,
    insert,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.engine import URL
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.pool import QueuePool
from sqlmodel import Field, SQLModel

from client import states
from client.i18n import ComptoirError
from client.model import Declaration, now_utc

SCHEMA_VERSION = "0001"  # the Alembic head this code writes; see client/migrations/


# --------------------------------------------------------------------------- schema

class DeclarationRow(SQLModel, table=True):
    __tablename__ = "declaration"
    id: str = Field(primary_key=True, max_length=36)
    version: int = 1
    type: str = Field(max_length=2)
    status: str = Field(max_length=24, index=True)
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
    __table_args__ = (
        Index("ix_declaration_declarant_lrn", "declarant_id", "lrn"),
        Index("ix_declaration_status_updated", "status", "updated_at"),
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


T_DECL = DeclarationRow.__table__
T_DOC = DocumentRow.__table__
T_HIST = HistoryRow.__table__
T_JOURNAL = JournalRow.__table__
T_OUTBOX = OutboxRow.__table__
T_RECEIPT = ReceiptRow.__table__
T_NOTIF = NotificationRow.__table__
T_SETTING = SettingRow.__table__
T_ATTACH = AttachmentRow.__table__

APPEND_ONLY_TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS {t}_no_{op.lower()} BEFORE {op} ON {t} "
    f"BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END"
    for t in ("history", "journal") for op in ("UPDATE", "DELETE")
]


# --------------------------------------------------------------------------- values

@dataclass(frozen=True)
class Summary:
    """One row of a declaration list: what the table and `list --json` show."""

    id: str
    lrn: str | None
    type: str
    status: str
    mrn: str | None
    version: int
    declarant: str | None
    items: int
    updated_at: str
    created_at: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "lrn": self.lrn, "type": self.type, "status": self.status,
                "mrn": self.mrn, "version": self.version, "declarant": self.declarant,
                "items": self.items, "updated_at": self.updated_at,
                "created_at": self.created_at}


@dataclass(frozen=True)
class Stored:
    """A declaration as held locally: the document plus its lifecycle facts."""

    declaration: Declaration
    status: str
    mrn: str | None
    created_at: str
    updated_at: str
    sealed_at: str | None
    envelope_hash: str | None
    fallback_printed_at: str | None
    lodged_after_fallback_at: str | None = None


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    version: int
    at: str
    actor: str
    from_status: str | None
    to_status: str
    note: str | None
    detail: dict[str, Any] | None
    has_document: bool


@dataclass(frozen=True)
class JournalEntry:
    seq: int
    kind: str
    declaration_id: str
    version: int
    envelope_hash: str
    prev_hash: str
    sealed_at: str
    envelope: dict[str, Any]


@dataclass(frozen=True)
class OutboxItem:
    seq: int
    declaration_id: str
    version: int
    kind: str
    envelope_hash: str
    envelope: dict[str, Any]
    attempts: int
    state: str


@dataclass(frozen=True)
class DeliveryResult:
    """What the single window said about one envelope (from the sync engine)."""

    seq: int
    outcome: str  # accepted | duplicate | rejected | held | conflict
    mrn: str | None = None
    receipt: str | None = None
    received_at: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Changes:
    """What an operation changed, for views to refresh only what concerns them."""

    declarations: tuple[str, ...] = ()
    outbox: bool = False
    statuses: bool = False
    settings: bool = False


SealFn = Callable[[Declaration, dict[str, Any], int, str], dict[str, Any]]
"""(declaration, its canonical JSON form, seq, prev_hash) -> envelope dict; called inside
the seal transaction."""


# --------------------------------------------------------------------------- store

class StoreError(ComptoirError):
    pass


def _connect_url(path: Path, key_hex: str | None) -> URL:
    if key_hex is None:
        return URL.create("sqlite", database=str(path))
    # A raw 256-bit key ("x'…'") skips SQLCipher's per-connection PBKDF2.
    return URL.create("sqlite+pysqlcipher", password=f"x'{key_hex}'", database=str(path))


class Store:
    """The profile's database.  Thread-safe for readers; writers are serialised.

    The desktop app funnels every write through one executor thread; the lock here
    makes the CLI and tests safe as well.
    """

    def __init__(self, engine: Engine, path: Path) -> None:
        self.engine = engine
        self.path = path
        self._write_lock = threading.RLock()

    # ---- opening -----------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, key_hex: str | None = None, *, migrate: bool = True) -> Store:
        """Open (creating if needed) and migrate; a wrong key is a clear error."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(_connect_url(path, key_hex), poolclass=QueuePool,
                               pool_size=4, max_overflow=8,
                               connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            if key_hex is not None:  # SQLCipher would print wrong-key noise on stderr
                cur.execute("PRAGMA cipher_log_level=NONE")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            # Let SQLAlchemy issue BEGIN itself (IMMEDIATE for writes, see _tx).
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql(conn.info.pop("begin_sql", "BEGIN"))

        store = cls(engine, path)
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar()
        except DatabaseError as exc:
            engine.dispose()
            raise StoreError("store.cannot_open", 2, path=str(path),
                             reason=_db_reason(exc)) from exc
        if migrate:
            store.migrate()
        return store

    def migrate(self) -> None:
        """Bring the schema to head; skip Alembic entirely when already there."""
        with self.engine.connect() as conn:
            has = conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE name='alembic_version'").first()
            current = conn.exec_driver_sql(
                "SELECT version_num FROM alembic_version").scalar() if has else None
        if current == SCHEMA_VERSION:
            return
        from client.migrations import upgrade

        with self._write_lock, self.engine.begin() as conn:
            upgrade(conn)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        """One write transaction, BEGIN IMMEDIATE so writers never deadlock on upgrade."""
        with self._write_lock, self.engine.connect() as conn:
            conn.info["begin_sql"] = "BEGIN IMMEDIATE"
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    # ---- declarations --------------------------------------------------------------

    def create(self, decl: Declaration, actor: str, *, status: str = states.DRAFT,
               note: str | None = None) -> Changes:
        """Store a new declaration (a draft may hold nothing but its type)."""
        now = now_utc()
        doc = _doc_json(decl)
        with self._tx() as conn:
            if conn.execute(select(T_DECL.c.id).where(T_DECL.c.id == decl.id)).first():
                raise StoreError("store.duplicate_id", 2, id=decl.id)
            conn.execute(insert(T_DECL).values(**_row_values(decl), status=status,
                                               created_at=now, updated_at=now))
            conn.execute(insert(T_DOC).values(id=decl.id, document=doc))
            conn.execute(insert(T_HIST).values(
                declaration_id=decl.id, version=decl.version, at=now, actor=actor,
                from_status=None, to_status=status, note=note or "created", document=doc))
        return Changes(declarations=(decl.id,))

    def create_many(self, decls: Sequence[Declaration], actor: str, *,
                    status: str = states.DRAFT, note: str | None = None) -> Changes:
        """Store many declarations in one transaction (demo seed, bulk import)."""
        now = now_utc()
        with self._tx() as conn:
            for decl in decls:
                doc = _doc_json(decl)
                conn.execute(insert(T_DECL).values(**_row_values(decl), status=status,
                                                   created_at=now, updated_at=now))
                conn.execute(insert(T_DOC).values(id=decl.id, document=doc))
                conn.execute(insert(T_HIST).values(
                    declaration_id=decl.id, version=decl.version, at=now, actor=actor,
                    from_status=None, to_status=status, note=note or "created", document=doc))
        return Changes(declarations=tuple(d.id for d in decls))

    def save_draft(self, decl: Declaration, actor: str) -> Changes:
        """Autosave: replace the working copy of an editable declaration.

        A ready declaration that is edited goes back to draft (it must be checked
        again); sealed and later ones are immutable: change them through a new version.
        """
        now = now_utc()
        doc = _doc_json(decl)
        with self._tx() as conn:
            row = conn.execute(select(T_DECL.c.status, T_DECL.c.version, T_DOC.c.document)
                               .join(T_DOC, T_DOC.c.id == T_DECL.c.id)
                               .where(T_DECL.c.id == decl.id)).first()
            if row is None:
                raise StoreError("error.not_found", 2, id=decl.id)
            if row.status not in states.EDITABLE:
                raise StoreError("store.immutable", 2, id=decl.id, status=row.status)
            if decl.version != row.version:
                raise StoreError("store.version_mismatch", 2, id=decl.id,
                                 expected=row.version, got=decl.version)
            if row.document == doc:
                return Changes()
            status = states.DRAFT
            conn.execute(update(T_DECL).where(T_DECL.c.id == decl.id).values(
                **_row_values(decl), status=status, updated_at=now))
            conn.execute(update(T_DOC).where(T_DOC.c.id == decl.id).values(document=doc))
            if row.status != status:
                conn.execute(insert(T_HIST).values(
                    declaration_id=decl.id, version=decl.version, at=now, actor=actor,
                    from_status=row.status, to_status=status, note="edited", document=doc))
        return Changes(declarations=(decl.id,))

    def get(self, decl_id: str) -> Stored:
        with self._read() as conn:
            row = conn.execute(select(T_DECL, T_DOC.c.document)
                               .join(T_DOC, T_DOC.c.id == T_DECL.c.id)
                               .where(T_DECL.c.id == decl_id)).first()
        if row is None:
            raise StoreError("error.not_found", 2, id=decl_id)
        return Stored(declaration=Declaration.model_validate_json(row.document),
                      status=row.status, mrn=row.mrn, created_at=row.created_at,
                      updated_at=row.updated_at, sealed_at=row.sealed_at,
                      envelope_hash=row.envelope_hash,
                      fallback_printed_at=row.fallback_printed_at,
                      lodged_after_fallback_at=row.lodged_after_fallback_at)

    def exists(self, decl_id: str) -> bool:
        with self._read() as conn:
            return conn.execute(select(T_DECL.c.id).where(T_DECL.c.id == decl_id)).first() is not None

    def resolve_id(self, ref: str) -> str:
        """A full id, a unique id prefix (≥ 4 chars), an LRN or an MRN -> the id."""
        ref = ref.strip()
        with self._read() as conn:
            if conn.execute(select(T_DECL.c.id).where(T_DECL.c.id == ref)).first():
                return ref
            for col in (T_DECL.c.lrn, T_DECL.c.mrn):
                ids = conn.execute(select(T_DECL.c.id).where(col == ref).limit(2)).scalars().all()
                if len(ids) == 1:
                    return ids[0]
                if len(ids) > 1:
                    raise StoreError("error.ambiguous_id", 2, id=ref)
            if len(ref) >= 4:
                ids = conn.execute(select(T_DECL.c.id).where(T_DECL.c.id.like(_like_prefix(ref)))
                                   .limit(2)).scalars().all()
                if len(ids) == 1:
                    return ids[0]
                if len(ids) > 1:
                    raise StoreError("error.ambiguous_id", 2, id=ref)
        raise StoreError("error.not_found", 2, id=ref)

    def _filters(self, statuses: Iterable[str] | None, search: str | None) -> list[Any]:
        where: list[Any] = []
        if statuses:
            where.append(T_DECL.c.status.in_(list(statuses)))
        if search:
            pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append(or_(T_DECL.c.lrn.like(pattern, escape="\\"),
                             T_DECL.c.mrn.like(pattern, escape="\\"),
                             T_DECL.c.declarant_name.like(pattern, escape="\\"),
                             T_DECL.c.declarant_id.like(pattern, escape="\\"),
                             T_DECL.c.id.like(pattern, escape="\\")))
        return where

    SORTABLE = ("updated_at", "created_at", "lrn", "mrn", "status", "type", "items",
                "declarant_name", "version")

    def list_ids(self, *, statuses: Iterable[str] | None = None, search: str | None = None,
                 order_by: str = "updated_at", descending: bool = True,
                 limit: int | None = None, offset: int = 0) -> list[str]:
        """Ids only, sorted and filtered in SQL: the backbone of the lazy table model."""
        col = T_DECL.c[order_by if order_by in self.SORTABLE else "updated_at"]
        q = select(T_DECL.c.id).where(and_(true(), *self._filters(statuses, search)))
        q = q.order_by(col.desc() if descending else col.asc(),
                       T_DECL.c.id.desc() if descending else T_DECL.c.id.asc())
        if limit is not None:
            q = q.limit(limit).offset(offset)
        with self._read() as conn:
            return list(conn.execute(q).scalars())

    def summaries(self, ids: Sequence[str]) -> dict[str, Summary]:
        """Rows for a window of ids (the table's row cache fills from here)."""
        out: dict[str, Summary] = {}
        with self._read() as conn:
            for i in range(0, len(ids), 500):
                chunk = list(ids[i:i + 500])
                for r in conn.execute(select(
                        T_DECL.c.id, T_DECL.c.lrn, T_DECL.c.type, T_DECL.c.status, T_DECL.c.mrn,
                        T_DECL.c.version, T_DECL.c.declarant_name, T_DECL.c["items"],
                        T_DECL.c.updated_at, T_DECL.c.created_at).where(T_DECL.c.id.in_(chunk))):
                    out[r.id] = Summary(r.id, r.lrn, r.type, r.status, r.mrn, r.version,
                                        r.declarant_name, r.items, r.updated_at, r.created_at)
        return out

    def list(self, *, statuses: Iterable[str] | None = None, search: str | None = None,
             order_by: str = "updated_at", descending: bool = True,
             limit: int | None = None, offset: int = 0) -> list[Summary]:
        ids = self.list_ids(statuses=statuses, search=search, order_by=order_by,
                            descending=descending, limit=limit, offset=offset)
        rows = self.summaries(ids)
        return [rows[i] for i in ids if i in rows]

    def count(self, *, statuses: Iterable[str] | None = None, search: str | None = None) -> int:
        q = select(func.count()).select_from(T_DECL).where(and_(true(), *self._filters(statuses, search)))
        with self._read() as conn:
            return int(conn.execute(q).scalar() or 0)

    def counts_by_status(self) -> dict[str, int]:
        with self._read() as conn:
            return {r[0]: r[1] for r in conn.execute(
                select(T_DECL.c.status, func.count()).group_by(T_DECL.c.status))}

    def lrn_taken(self, declarant_id: str | None, lrn: str, exclude_id: str | None = None) -> bool:
        """LRN (DE 2/5) uniqueness per declarant."""
        q = select(T_DECL.c.id).where(T_DECL.c.lrn == lrn)
        q = q.where(T_DECL.c.declarant_id == declarant_id) if declarant_id else \
            q.where(T_DECL.c.declarant_id.is_(None))
        if exclude_id:
            q = q.where(T_DECL.c.id != exclude_id)
        with self._read() as conn:
            return conn.execute(q.limit(1)).first() is not None

    def transition(self, decl_id: str, to_status: str, actor: str, *,
                   note: str | None = None, detail: dict[str, Any] | None = None) -> Changes:
        """A local, user-driven move (draft <-> ready)."""
        now = now_utc()
        with self._tx() as conn:
            row = conn.execute(select(T_DECL.c.status, T_DECL.c.version)
                               .where(T_DECL.c.id == decl_id)).first()
            if row is None:
                raise StoreError("error.not_found", 2, id=decl_id)
            if row.status == to_status:
                return Changes()
            if not states.local_move_allowed(row.status, to_status):
                raise StoreError("store.bad_transition", 2, id=decl_id, current=row.status,
                                 target=to_status)
            conn.execute(update(T_DECL).where(T_DECL.c.id == decl_id)
                         .values(status=to_status, updated_at=now))
            conn.execute(insert(T_HIST).values(
                declaration_id=decl_id, version=row.version, at=now, actor=actor,
                from_status=row.status, to_status=to_status, note=note,
                detail=json.dumps(detail) if detail else None))
        return Changes(declarations=(decl_id,), statuses=True)

    def new_version(self, decl_id: str, actor: str, *, function: str | None = None) -> Declaration:
        """A sealed declaration is immutable: changing it starts version n+1 as a draft.

        After a rejection the new version resubmits the original; once registered it
        is an amendment (or a cancellation request) referencing the MRN.
        """
        now = now_utc()
        with self._tx() as conn:
            row = conn.execute(select(T_DECL, T_DOC.c.document)
                               .join(T_DOC, T_DOC.c.id == T_DECL.c.id)
                               .where(T_DECL.c.id == decl_id)).first()
            if row is None:
                raise StoreError("error.not_found", 2, id=decl_id)
            if row.status in states.EDITABLE:
                raise StoreError("store.still_editable", 2, id=decl_id)
            if row.status == states.SEALED:
                raise StoreError("store.still_queued", 2, id=decl_id)
            decl = Declaration.model_validate_json(row.document)
            fn = function or ("original" if row.status == states.REJECTED else "amendment")
            decl = decl.model_copy(update={"version": row.version + 1, "function": fn,
                                           "mrn": row.mrn if fn != "original" else None})
            doc = _doc_json(decl)
            conn.execute(update(T_DECL).where(T_DECL.c.id == decl_id).values(
                **_row_values(decl), status=states.DRAFT, updated_at=now,
                mrn=row.mrn, sealed_at=None, envelope_hash=None))
            conn.execute(update(T_DOC).where(T_DOC.c.id == decl_id).values(document=doc))
            conn.execute(insert(T_HIST).values(
                declaration_id=decl_id, version=decl.version, at=now, actor=actor,
                from_status=row.status, to_status=states.DRAFT, note=f"new version ({fn})",
                document=doc))
        return decl

    # ---- history ---------------------------------------------------------------------

    def history(self, decl_id: str) -> list[HistoryEntry]:
        with self._read() as conn:
            rows = conn.execute(select(
                T_HIST.c.id, T_HIST.c.version, T_HIST.c.at, T_HIST.c.actor,
                T_HIST.c.from_status, T_HIST.c.to_status, T_HIST.c.note, T_HIST.c.detail,
                T_HIST.c.document.isnot(None).label("has_doc"))
                .where(T_HIST.c.declaration_id == decl_id).order_by(T_HIST.c.id)).all()
        return [HistoryEntry(r.id, r.version, r.at, r.actor, r.from_status, r.to_status, r.note,
                             json.loads(r.detail) if r.detail else None, bool(r.has_doc))
                for r in rows]

    def version_document(self, decl_id: str, version: int) -> Declaration | None:
        """An earlier version as it was last recorded in the history."""
        with self._read() as conn:
            doc = conn.execute(select(T_HIST.c.document).where(and_(
                T_HIST.c.declaration_id == decl_id, T_HIST.c.version == version,
                T_HIST.c.document.isnot(None))).order_by(T_HIST.c.id.desc()).limit(1)).scalar()
        return Declaration.model_validate_json(doc) if doc else None

    # ---- seal: journal + outbox in one transaction ------------------------------------

    def seal(self, decl_id: str, actor: str, sealer: SealFn,
             check: Callable[[Declaration], None] | None = None) -> JournalEntry:
        """Sign and queue: journal append, outbox entry and the move to sealed, atomically.

        ``check`` (validation) runs first, on a snapshot; ``sealer`` (canonicalise +
        sign) runs inside the write transaction, after the snapshot is confirmed
        unchanged, so the sequence number and chain link it signs are the ones
        committed — a crash anywhere leaves either nothing or everything.  The
        document itself is not copied into the history: the journal holds it, signed.
        """
        with self._read() as conn:
            snap = conn.execute(select(T_DECL.c.status, T_DOC.c.document)
                                .join(T_DOC, T_DOC.c.id == T_DECL.c.id)
                                .where(T_DECL.c.id == decl_id)).first()
        if snap is None:
            raise StoreError("error.not_found", 2, id=decl_id)
        if snap.status not in states.EDITABLE:
            raise StoreError("store.already_sealed", 2, id=decl_id, status=snap.status)
        decl = Declaration.model_validate_json(snap.document)
        if check is not None:
            check(decl)
        now = now_utc()
        with self._tx() as conn:
            row = conn.exec_driver_sql(
                "SELECT d.status, c.document FROM declaration d JOIN declaration_document c "
                "ON c.id = d.id WHERE d.id = ?", (decl_id,)).first()
            if row is None or row.status not in states.EDITABLE or row.document != snap.document:
                raise StoreError("store.changed_while_sealing", 2, id=decl_id)
            document = json.loads(snap.document)  # stored as Declaration.to_json_dict()
            entry = self._append_journal(conn, "declaration", decl.id, decl.version,
                                         lambda seq, prev: sealer(decl, document, seq, prev),
                                         now)
            conn.exec_driver_sql(
                "UPDATE declaration SET status = ?, updated_at = ?, sealed_at = ?, "
                "envelope_hash = ? WHERE id = ?",
                (states.SEALED, now, now, entry.envelope_hash, decl_id))
            conn.exec_driver_sql(
                "INSERT INTO history (declaration_id, version, at, actor, from_status, "
                "to_status, note, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (decl_id, decl.version, now, actor, row.status, states.SEALED,
                 f"sealed #{entry.seq}",
                 json.dumps({"seq": entry.seq, "hash": entry.envelope_hash})))
        return entry

    def append_journal(self, kind: str, subject_id: str, version: int,
                       make: Callable[[int, str], dict[str, Any]]) -> JournalEntry:
        """Seal something other than a declaration (an officer's decision, #8)."""
        with self._tx() as conn:
            return self._append_journal(conn, kind, subject_id, version, make, now_utc())

    def _append_journal(self, conn: Connection, kind: str, subject_id: str, version: int,
                        make: Callable[[int, str], dict[str, Any]], now: str) -> JournalEntry:
        from client.envelope import GENESIS, envelope_hash

        last = conn.exec_driver_sql(
            "SELECT seq, envelope_hash FROM journal ORDER BY seq DESC LIMIT 1").first()
        seq = (last.seq + 1) if last else 1
        prev = last.envelope_hash if last else GENESIS
        env = make(seq, prev)
        h = envelope_hash(env)
        raw = json.dumps(env, separators=(",", ":"))
        conn.exec_driver_sql(
            "INSERT INTO journal (seq, kind, declaration_id, version, envelope_hash, prev_hash, "
            "sealed_at, envelope) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, kind, subject_id, version, h, prev, now, raw))
        conn.exec_driver_sql("INSERT INTO outbox (seq, state, attempts, queued_at) "
                             "VALUES (?, 'queued', 0, ?)", (seq, now))
        return JournalEntry(seq, kind, subject_id, version, h, prev, now, env)

    def journal(self, *, after: int = 0, limit: int | None = None) -> Iterator[JournalEntry]:
        """The device journal in order (streams: the chain may be long)."""
        batch = 1000 if limit is None else min(limit, 1000)
        seen = 0
        while True:
            with self._read() as conn:
                rows = conn.execute(select(T_JOURNAL).where(T_JOURNAL.c.seq > after)
                                    .order_by(T_JOURNAL.c.seq).limit(batch)).all()
            if not rows:
                return
            for r in rows:
                yield JournalEntry(r.seq, r.kind, r.declaration_id, r.version, r.envelope_hash,
                                   r.prev_hash, r.sealed_at, json.loads(r.envelope))
                seen += 1
                if limit is not None and seen >= limit:
                    return
            after = rows[-1].seq

    def journal_entry(self, *, seq: int | None = None, declaration_id: str | None = None,
                      version: int | None = None) -> JournalEntry | None:
        q = select(T_JOURNAL)
        if seq is not None:
            q = q.where(T_JOURNAL.c.seq == seq)
        if declaration_id is not None:
            q = q.where(T_JOURNAL.c.declaration_id == declaration_id)
        if version is not None:
            q = q.where(T_JOURNAL.c.version == version)
        with self._read() as conn:
            r = conn.execute(q.order_by(T_JOURNAL.c.seq.desc()).limit(1)).first()
        if r is None:
            return None
        return JournalEntry(r.seq, r.kind, r.declaration_id, r.version, r.envelope_hash,
                            r.prev_hash, r.sealed_at, json.loads(r.envelope))

    # ---- outbox ------------------------------------------------------------------------

    def outbox_pending(self, limit: int = 500) -> list[OutboxItem]:
        """Queued (and held) envelopes in device order: what the next batch carries."""
        with self._read() as conn:
            rows = conn.execute(
                select(T_OUTBOX.c.seq, T_OUTBOX.c.attempts, T_OUTBOX.c.state,
                       T_JOURNAL.c.declaration_id, T_JOURNAL.c.version, T_JOURNAL.c.kind,
                       T_JOURNAL.c.envelope_hash, T_JOURNAL.c.envelope)
                .join(T_JOURNAL, T_JOURNAL.c.seq == T_OUTBOX.c.seq)
                .where(T_OUTBOX.c.state.in_(("queued", "held")))
                .order_by(T_OUTBOX.c.seq).limit(limit)).all()
        return [OutboxItem(r.seq, r.declaration_id, r.version, r.kind, r.envelope_hash,
                           json.loads(r.envelope), r.attempts, r.state) for r in rows]

    def outbox_stats(self) -> tuple[int, str | None]:
        """(queued count, sealed_at of the oldest queued envelope)."""
        with self._read() as conn:
            r = conn.execute(select(func.count(), func.min(T_OUTBOX.c.queued_at))
                             .where(T_OUTBOX.c.state.in_(("queued", "held")))).first()
        return int(r[0] or 0), r[1]

    def outbox_note_attempt(self, seqs: Sequence[int], error: str | None) -> None:
        """Count a failed delivery attempt (the engine retries forever)."""
        if not seqs:
            return
        with self._tx() as conn:
            conn.execute(update(T_OUTBOX).where(T_OUTBOX.c.seq.in_(list(seqs))).values(
                attempts=T_OUTBOX.c.attempts + 1, last_error=error))

    def record_deliveries(self, results: Sequence[DeliveryResult], actor: str = "single-window"
                          ) -> Changes:
        """Store receipts and outcomes of one batch in one transaction.

        An outbox entry is marked done only together with its verified receipt, so a
        crash between sending and this commit simply resends (and the server answers
        "duplicate" with the original receipt).  A batch is a few bulk statements, not
        a few per envelope: a backlog of thousands drains at network speed.
        """
        now = now_utc()
        seqs = [r.seq for r in results]
        with self._tx() as conn:
            journal = {r.seq: r for r in _in_chunks(conn, select(
                T_JOURNAL.c.seq, T_JOURNAL.c.declaration_id, T_JOURNAL.c.version,
                T_JOURNAL.c.kind), T_JOURNAL.c.seq, seqs)}
            have_receipt = {r.seq for r in _in_chunks(conn, select(T_RECEIPT.c.seq),
                                                        T_RECEIPT.c.seq, seqs)}
            moves = _Moves(conn, [j.declaration_id for j in journal.values()
                                  if j.kind == "declaration"])
            receipts: list[dict[str, Any]] = []
            held: list[tuple[int]] = []
            done: list[tuple[Any, ...]] = []
            for res in results:
                j = journal.get(res.seq)
                if j is None:
                    continue
                if res.outcome == "held":
                    held.append((res.seq,))
                    continue
                if res.outcome in ("accepted", "duplicate") and res.receipt \
                        and res.seq not in have_receipt:
                    have_receipt.add(res.seq)
                    receipts.append(dict(seq=res.seq, declaration_id=j.declaration_id,
                                         version=j.version, mrn=res.mrn,
                                         received_at=res.received_at or now,
                                         token=res.receipt, stored_at=now))
                done.append((now, "accepted" if res.outcome == "duplicate" else res.outcome,
                             json.dumps(res.errors) if res.errors else None, res.seq))
                if j.kind != "declaration":
                    continue
                registered = res.outcome in ("accepted", "duplicate")
                detail: dict[str, Any] = {"seq": res.seq}
                if res.mrn:
                    detail["mrn"] = res.mrn
                if res.errors:
                    detail["errors"] = res.errors
                moves.move(j.declaration_id, j.version,
                           states.REGISTERED if registered else states.REJECTED, actor, now,
                           note="receipt" if registered else "rejected", detail=detail,
                           mrn=res.mrn)
                if registered:
                    moves.link_fallback(j.declaration_id, res.mrn, actor, now)
            if receipts:
                conn.execute(insert(T_RECEIPT), receipts)
            if held:
                conn.exec_driver_sql("UPDATE outbox SET state = 'held', attempts = attempts + 1 "
                                     "WHERE seq = ?", held)
            if done:
                conn.exec_driver_sql("UPDATE outbox SET state = 'done', delivered_at = ?, "
                                     "outcome = ?, last_error = ? WHERE seq = ?", done)
            touched = moves.flush(conn)
        return Changes(declarations=touched, outbox=True, statuses=bool(touched))

    # ---- receipts ---------------------------------------------------------------------

    def receipts(self, decl_id: str) -> list[dict[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(select(T_RECEIPT).where(T_RECEIPT.c.declaration_id == decl_id)
                                .order_by(T_RECEIPT.c.seq)).all()
        return [dict(r._mapping) for r in rows]

    def receipt_count(self) -> int:
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(T_RECEIPT)).scalar() or 0)

    # ---- notifications (status feed) --------------------------------------------------

    def apply_notifications(self, notifications: Sequence[dict[str, Any]], cursor: int,
                            actor: str = "single-window") -> Changes:
        """Apply one page of the feed and advance the cursor in the same transaction."""
        now = now_utc()
        with self._tx() as conn:
            moves = _Moves(conn, [n["declaration_id"] for n in notifications])
            rows = []
            for n in notifications:
                status = n.get("status", "")
                rows.append(dict(cursor=int(n.get("cursor", cursor)),
                                 declaration_id=n["declaration_id"], version=n.get("version"),
                                 status=status, mrn=n.get("mrn"), at=n.get("at") or now,
                                 payload=json.dumps(n, default=str), applied=True))
                detail = {k: n[k] for k in ("errors", "detail", "decision", "cursor")
                          if n.get(k)}
                target = states.FROM_SERVER.get(status)
                moved = target is not None and moves.move(
                    n["declaration_id"], n.get("version"), target, actor, now,
                    note=f"notification: {status}", detail=detail or None, mrn=n.get("mrn"))
                if not moved and (n.get("decision") or status == "decision_conflict"):
                    # an officer's decision that changes nothing (it agrees, or it
                    # conflicts and is flagged): kept in the history all the same
                    moves.note(n["declaration_id"], actor, now,
                               note=f"notification: {status}", detail=detail)
            if rows:
                conn.execute(insert(T_NOTIF), rows)
            touched = moves.flush(conn)
            self._set_setting(conn, "sync.feed_cursor", cursor)
        return Changes(declarations=touched, statuses=bool(touched))

    def notifications(self, decl_id: str) -> list[dict[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(select(T_NOTIF.c.payload).where(
                T_NOTIF.c.declaration_id == decl_id).order_by(T_NOTIF.c.id)).scalars().all()
        return [json.loads(p) for p in rows]

    # ---- settings -------------------------------------------------------------------------

    def get_setting(self, key: str, default: Any = None) -> Any:
        with self._read() as conn:
            v = conn.execute(select(T_SETTING.c.value).where(T_SETTING.c.key == key)).scalar()
        return json.loads(v) if v is not None else default

    def set_setting(self, key: str, value: Any) -> Changes:
        with self._tx() as conn:
            self._set_setting(conn, key, value)
        return Changes(settings=True)

    def _set_setting(self, conn: Connection, key: str, value: Any) -> None:
        raw = json.dumps(value)
        if conn.execute(select(T_SETTING.c.key).where(T_SETTING.c.key == key)).first():
            conn.execute(update(T_SETTING).where(T_SETTING.c.key == key).values(value=raw))
        else:
            conn.execute(insert(T_SETTING).values(key=key, value=raw))

    # ---- attachments (the original file of an import) --------------------------------

    def add_attachment(self, decl_id: str, name: str, content_type: str, data: bytes) -> int:
        with self._tx() as conn:
            r = conn.execute(insert(T_ATTACH).values(declaration_id=decl_id, name=name,
                                                     content_type=content_type, data=data,
                                                     created_at=now_utc()))
            return int(r.inserted_primary_key[0])

    def attachments(self, decl_id: str) -> list[tuple[int, str, str, bytes]]:
        with self._read() as conn:
            return [(r.id, r.name, r.content_type, r.data) for r in conn.execute(
                select(T_ATTACH).where(T_ATTACH.c.declaration_id == decl_id)
                .order_by(T_ATTACH.c.id))]

    # ---- continuity (fallback documents) -------------------------------------------------

    def mark_fallback_printed(self, decl_id: str, actor: str) -> Changes:
        now = now_utc()
        with self._tx() as conn:
            row = conn.execute(select(T_DECL.c.status, T_DECL.c.version, T_DECL.c.fallback_printed_at)
                               .where(T_DECL.c.id == decl_id)).first()
            if row is None:
                raise StoreError("error.not_found", 2, id=decl_id)
            if row.fallback_printed_at:
                return Changes()
            conn.execute(update(T_DECL).where(T_DECL.c.id == decl_id)
                         .values(fallback_printed_at=now))
            conn.execute(insert(T_HIST).values(
                declaration_id=decl_id, version=row.version, at=now, actor=actor,
                from_status=row.status, to_status=row.status, note="fallback document printed"))
        return Changes(declarations=(decl_id,))

    # ---- maintenance ------------------------------------------------------------------------

    def rekey(self, new_key_hex: str) -> None:
        """Re-encrypt the database under a new key (SQLCipher ``PRAGMA rekey``).

        Runs on a raw connection outside any transaction, with every pooled
        connection closed first; the journal mode is switched out of WAL for the
        re-encryption and back afterwards.
        """
        with self._write_lock:
            self.engine.dispose()
            raw = self.engine.raw_connection()
            try:
                cur = raw.driver_connection.cursor()
                cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                cur.execute("PRAGMA journal_mode=DELETE")
                cur.execute(f"PRAGMA rekey=\"x'{new_key_hex}'\"")
                cur.execute("PRAGMA journal_mode=WAL")
                cur.close()
            finally:
                raw.invalidate()
            self.engine.dispose()

    def integrity_check(self) -> str:
        with self._read() as conn:
            return str(conn.exec_driver_sql("PRAGMA integrity_check").scalar())

    def execute_raw_for_tests(self, sql: str) -> Any:  # pragma: no cover - test helper
        """Tamper with the database in tests (e.g. delete a journal row)."""
        with self._write_lock, self.engine.connect() as conn:
            conn.info["begin_sql"] = "BEGIN IMMEDIATE"
            with conn.begin():
                return conn.execute(text(sql)).rowcount


def _in_chunks(conn: Connection, query: Any, column: Any, values: Sequence[Any],
               size: int = 500) -> Iterator[Any]:
    """Rows of ``query`` where ``column`` is in ``values``, a bounded IN list at a time."""
    for i in range(0, len(values), size):
        yield from conn.execute(query.where(column.in_(list(values[i:i + size]))))


class _Moves:
    """Lifecycle moves reported by the single window for many declarations at once.

    Reads the current rows once, decides every move in memory (so two notifications
    about one declaration in the same page chain correctly), then writes the history
    and the new states in two bulk statements.
    """

    def __init__(self, conn: Connection, ids: Sequence[str]) -> None:
        unique = list(dict.fromkeys(ids))
        self.rows: dict[str, dict[str, Any]] = {
            r.id: dict(r._mapping) for r in _in_chunks(conn, select(
                T_DECL.c.id, T_DECL.c.status, T_DECL.c.version, T_DECL.c.mrn,
                T_DECL.c.updated_at, T_DECL.c.fallback_printed_at,
                T_DECL.c.lodged_after_fallback_at), T_DECL.c.id, unique)}
        self.history: list[dict[str, Any]] = []
        self.dirty: dict[str, None] = {}

    def move(self, decl_id: str, version: int | None, target: str, actor: str, now: str, *,
             note: str, detail: dict[str, Any] | None, mrn: str | None) -> bool:
        row = self.rows.get(decl_id)
        if row is None or (version is not None and version != row["version"]):
            return False  # about an earlier version: kept in notifications, not applied
        current = row["status"]
        steps = [target]
        if current == states.SEALED and target != states.SUBMITTED:
            steps = [states.SUBMITTED, target]
        moved = False
        for step in steps:
            if not states.server_move_allowed(current, step):
                continue
            self.history.append(dict(
                declaration_id=decl_id, version=row["version"], at=now, actor=actor,
                from_status=current, to_status=step, note=note,
                detail=json.dumps(detail) if detail else None, document=None))
            current = step
            moved = True
        if moved:
            row["status"], row["updated_at"] = current, now
        if mrn and not row["mrn"]:
            row["mrn"] = mrn
            moved = True
        if moved:
            self.dirty[decl_id] = None
        return moved

    def note(self, decl_id: str, actor: str, now: str, *, note: str,
             detail: dict[str, Any] | None) -> None:
        """A history entry that records an event without a change of state."""
        row = self.rows.get(decl_id)
        if row is None:
            return
        self.history.append(dict(
            declaration_id=decl_id, version=row["version"], at=now, actor=actor,
            from_status=row["status"], to_status=row["status"], note=note,
            detail=json.dumps(detail) if detail else None, document=None))
        self.dirty.setdefault(decl_id, None)

    def link_fallback(self, decl_id: str, mrn: str | None, actor: str, now: str) -> None:
        """A fallback document printed during the outage is now lodged electronically:
        record the link once, so the paper copy is never lodged a second time."""
        row = self.rows.get(decl_id)
        if row is None or not row["fallback_printed_at"] or row["lodged_after_fallback_at"]:
            return
        row["lodged_after_fallback_at"] = now
        self.history.append(dict(
            declaration_id=decl_id, version=row["version"], at=now, actor=actor,
            from_status=row["status"], to_status=row["status"],
            note="fallback document linked to its electronic lodging",
            detail=json.dumps({"mrn": mrn, "fallback": True}), document=None))
        self.dirty[decl_id] = None

    def flush(self, conn: Connection) -> tuple[str, ...]:
        if self.history:
            conn.execute(insert(T_HIST), self.history)
        if self.dirty:
            conn.exec_driver_sql(
                "UPDATE declaration SET status = ?, updated_at = ?, mrn = ?, "
                "lodged_after_fallback_at = ? WHERE id = ?",
                [(r["status"], r["updated_at"], r["mrn"], r["lodged_after_fallback_at"], i)
                 for i in self.dirty for r in (self.rows[i],)])
        return tuple(self.dirty)


def _doc_json(decl: Declaration) -> str:
    return json.dumps(decl.to_json_dict(), ensure_ascii=False, separators=(",", ":"))


def _row_values(decl: Declaration) -> dict[str, Any]:
    declarant = decl.declarant
    return dict(id=decl.id, version=decl.version, type=decl.type, lrn=decl.lrn,
                declarant_id=declarant.id if declarant else None,
                declarant_name=(declarant.name if declarant else None),
                items=len(decl.goods_items))


def _like_prefix(ref: str) -> str:
    return ref.replace("\\", "").replace("%", "").replace("_", "") + "%"


def _db_reason(exc: Exception) -> str:
    msg = str(getattr(exc, "orig", exc))
    if "file is not a database" in msg or "encrypted" in msg:
        return "wrong key or not a Comptoir database"
    return msg.splitlines()[0][:200]


__all__ = [
    "Changes", "DeliveryResult", "HistoryEntry", "JournalEntry", "OutboxItem", "SCHEMA_VERSION",
    "Store", "StoreError", "Stored", "Summary", "OperationalError",
]
