"""The sandbox single window's own store (SQLModel; SQLite with WAL by default, or
PostgreSQL shared by several worker processes).

All SQL of the sandbox lives here.  A batch of envelopes is applied in one
transaction through :class:`BatchTx`, which keeps an in-memory view of what the batch
has already written so that chain checks and held envelopes see it, then writes
everything with bulk inserts at commit: one fsync per batch.

Concurrency: every transaction that lodges envelopes or adds to the feed takes the
*intake lock* first (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-scoped
advisory lock), so MRN serials, device chains, idempotency and the feed cursor (the
notification ids, allocated under the lock and so committed in cursor order) stay
exact whatever the number of worker processes.  What can run outside it (signatures,
business rules) runs before it is taken.  Reads use their own engine and never wait
for it.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Index, UniqueConstraint, delete, event, func, text, tuple_, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import registry
from sqlmodel import Field, Session, SQLModel, create_engine, select

GENESIS_HASH = "0" * 64


class _SandboxModel(SQLModel, registry=registry()):
    """Own metadata, so the sandbox's tables never clash with the client's store."""


CRASH_IN_COMMIT_ENV = "COMPTOIR_SANDBOX_CRASH_IN_COMMIT"  # tests only: see crash_in_commit
_commits_seen = [0]


def crash_in_commit() -> None:
    """Fault injection for the chaos harness (#12): with ``COMPTOIR_SANDBOX_CRASH_IN_COMMIT=N``
    in its environment, the sandbox process SIGKILLs itself on its N-th batch, everything
    written but the COMMIT not yet issued.  Unset (always, outside tests): nothing."""
    at = os.environ.get(CRASH_IN_COMMIT_ENV)
    if not at:
        return
    _commits_seen[0] += 1
    if _commits_seen[0] >= int(at):
        os.kill(os.getpid(), signal.SIGKILL)


def normal_serial(serial: str) -> str:
    """A certificate serial as stored: lower-case hex, no 0x, no leading zeros."""
    return serial.strip().lower().removeprefix("0x").replace(":", "").lstrip("0") or "0"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Trader(_SandboxModel, table=True):
    __tablename__ = "traders"
    trader_id: str = Field(primary_key=True, max_length=35)
    created_at: float = Field(default_factory=time.time)


class Device(_SandboxModel, table=True):
    """A device's position in its journal chain (last accepted-or-rejected envelope)."""

    __tablename__ = "devices"
    trader_id: str = Field(primary_key=True, max_length=35)
    device_id: str = Field(primary_key=True, max_length=64)
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    last_sig_time: str = ""  # sigT of the last envelope: the next may not be earlier


class Authorisation(_SandboxModel, table=True):
    """A declarant (DE 3/18) lets a representative (DE 3/20) lodge in its name."""

    __tablename__ = "authorisations"
    declarant_id: str = Field(primary_key=True, max_length=35)
    representative_id: str = Field(primary_key=True, max_length=35)
    created_at: float = Field(default_factory=time.time)


class EnrolmentCode(_SandboxModel, table=True):
    __tablename__ = "enrolment_codes"
    code_hash: str = Field(primary_key=True)
    trader_id: str = Field(max_length=35)
    role: str = "trader"
    created_at: float = Field(default_factory=time.time)
    used_at: float | None = None


class Token(_SandboxModel, table=True):
    """API tokens, stored as SHA-256 hashes only."""

    __tablename__ = "tokens"
    token_hash: str = Field(primary_key=True)
    trader_id: str = Field(index=True, max_length=35)
    device_id: str = Field(max_length=64)
    role: str = "trader"
    created_at: float = Field(default_factory=time.time)
    cert_serial: str | None = None  # the certificate issued with it: the token dies with it
    expires_at: float | None = None  # None (before #12): created_at + the lifetime
    replaces: str | None = None  # a refreshed token's predecessor, dropped at first use


class Certificate(_SandboxModel, table=True):
    __tablename__ = "certificates"
    serial: str = Field(primary_key=True)
    trader_id: str = Field(index=True, max_length=35)
    device_id: str = Field(max_length=64)
    role: str = "trader"
    pem: str
    revoked: bool = False
    revoked_at: str | None = None


class EnvelopeRow(_SandboxModel, table=True):
    """One lodged envelope: accepted, rejected (still in the chain) or held."""

    __tablename__ = "envelopes"
    # Declaration ids are namespaced per trader (#12): B lodging under an id A uses is
    # B's own declaration, and can neither pre-claim A's ids nor learn that they exist.
    __table_args__ = (UniqueConstraint("trader_id", "declaration_id", "version"),
                      Index("ix_envelopes_chain", "trader_id", "device_id", "seq"),
                      Index("ix_envelopes_lrn", "declarant_id", "lrn"),
                      # Held envelopes are few: a partial index finds them without a scan.
                      Index("ix_envelopes_held", "trader_id", "device_id", "seq",
                            sqlite_where=text("status = 'held'"),
                            postgresql_where=text("status = 'held'")))
    id: int | None = Field(default=None, primary_key=True)
    declaration_id: str = Field(max_length=36)
    version: int
    envelope_hash: str = Field(index=True)
    trader_id: str = Field(max_length=35)
    device_id: str = Field(max_length=64)
    seq: int
    prev: str
    status: str  # accepted | rejected | held
    lane: str | None = None
    mrn: str | None = None
    receipt: str | None = None
    errors: str = "[]"
    received_at: str
    declarant_id: str | None = Field(default=None, max_length=35)  # DE 3/18
    lrn: str | None = Field(default=None, max_length=35)  # DE 2/5
    raw: str
    # A held envelope's verified content (header fields, slim document, rule errors),
    # so that it is not verified again when its turn comes.
    checked: str | None = None
    log_index: int | None = None  # its receipt's position in the Merkle log (#16)


class ChainLinkRow(_SandboxModel, table=True):
    """A device chain position whose envelope the declarant withdrew before lodging (a
    transit ended on paper, #14): its hash and its place only, never the envelope, so
    that nothing of the declaration is held here.  ``withdrawn`` once in chain order,
    ``held`` while a gap before it is open, ``rejected`` when it did not fit the chain."""

    __tablename__ = "chain_links"
    trader_id: str = Field(primary_key=True, max_length=35)
    device_id: str = Field(primary_key=True, max_length=64)
    seq: int = Field(primary_key=True)
    prev: str = Field(max_length=64)
    envelope_hash: str = Field(max_length=64)
    status: str  # withdrawn | held | rejected
    received_at: str


class LogNode(_SandboxModel, table=True):
    """A complete subtree of the receipts' Merkle log (RFC 9162): level 0 are the leaf
    hashes, a node at ``level`` covers leaves ``idx * 2**level`` onwards.  Immutable."""

    __tablename__ = "log_nodes"
    level: int = Field(primary_key=True)
    idx: int = Field(primary_key=True)
    hash: bytes


class TreeHeadRow(_SandboxModel, table=True):
    """Every signed tree head the log gave out (one per batch that added entries)."""

    __tablename__ = "tree_heads"
    size: int = Field(primary_key=True)
    root: bytes
    token: str
    time: str


class LrnClaim(_SandboxModel, table=True):
    """Which declaration an LRN of a declarant (DE 3/18, DE 2/5) is registered to."""

    __tablename__ = "lrn_claims"
    declarant_id: str = Field(primary_key=True, max_length=35)
    lrn: str = Field(primary_key=True, max_length=35)
    declaration_id: str = Field(max_length=36)


class IdempotencyRecord(_SandboxModel, table=True):
    """Batch-level Idempotency-Key records, kept without expiry."""

    __tablename__ = "idempotency"
    trader_id: str = Field(primary_key=True, max_length=35)
    key: str = Field(primary_key=True, max_length=255)
    fingerprint: str
    response: str
    created_at: float = Field(default_factory=time.time)


class NotificationRow(_SandboxModel, table=True):
    """The feed; the autoincrement id is the cursor."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_feed", "trader_id", "id"),
                      Index("ix_notifications_declaration", "declaration_id", "version"))
    id: int | None = Field(default=None, primary_key=True)
    trader_id: str = Field(max_length=35)
    declaration_id: str = Field(max_length=36)
    version: int
    mrn: str | None = None
    status: str
    at: str
    errors: str = "[]"
    detail: str | None = None
    decision: str | None = None  # an officer's signed decision (compact JWS), #8


class ScheduledEvent(_SandboxModel, table=True):
    """A pipeline step due later (real time); materialised into the feed when due."""

    __tablename__ = "scheduled_events"
    __table_args__ = (Index("ix_scheduled_declaration", "declaration_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    due_at: float = Field(index=True)
    trader_id: str = Field(max_length=35)
    declaration_id: str = Field(max_length=36)
    version: int
    mrn: str | None = None
    status: str
    detail: str | None = None


class Decision(_SandboxModel, table=True):
    """An officer's control decision (#8): kept whole, whatever happens to it.

    ``state``: pending (its declaration not yet lodged), applied, conflict (the single
    window had already decided otherwise: kept and flagged for a supervisor).
    """

    __tablename__ = "decisions"
    id: int | None = Field(default=None, primary_key=True)
    decision_id: str = Field(default="", index=True, max_length=36)
    declaration_id: str = Field(index=True, max_length=36)
    version: int
    officer_id: str = Field(max_length=35)
    officer_device: str = Field(default="", max_length=64)
    envelope_hash: str
    declaration_envelope_hash: str = ""
    outcome: str = ""
    reason: str | None = None
    decided_at: str = ""
    state: str = "pending"
    flagged: bool = False
    verified: bool = True
    trader_id: str | None = Field(default=None, max_length=35)
    token: str = ""
    raw: str
    received_at: str


class Counter(_SandboxModel, table=True):
    __tablename__ = "counters"
    name: str = Field(primary_key=True)
    value: int = 0


class RefdataList(_SandboxModel, table=True):
    __tablename__ = "refdata_lists"
    name: str = Field(primary_key=True)
    sha256: str
    version: int


TOKEN_LIFETIME = 30 * 86400.0  # seconds; POST /v1/token refreshes before the end


@dataclass
class Principal:
    trader_id: str
    device_id: str
    role: str
    serial: str | None = None  # the certificate bound to the token (None: before #12)
    expires_at: float = 0.0


@dataclass
class DeviceState:
    last_seq: int
    last_hash: str
    exists: bool
    last_sig_time: str = ""


@dataclass
class StoredEnvelope:
    declaration_id: str
    version: int
    envelope_hash: str
    trader_id: str
    device_id: str
    seq: int
    prev: str
    status: str
    mrn: str | None
    receipt: str | None
    errors: list[dict[str, str]]
    raw: str
    received_at: str
    lane: str | None = None
    id: int | None = None
    declarant_id: str | None = None
    lrn: str | None = None
    checked: dict[str, Any] | None = None
    log_index: int | None = None
    claims: dict[str, Any] | None = None  # its receipt's claims: a leaf of the log


@dataclass
class StoredLink:
    """A withdrawn chain position (``ChainLinkRow``) as the intake handles it."""

    trader_id: str
    device_id: str
    seq: int
    prev: str
    envelope_hash: str
    status: str
    received_at: str
    new: bool = False  # not yet in the database


def _stored(row: Any) -> StoredEnvelope:
    return StoredEnvelope(row.declaration_id, row.version, row.envelope_hash, row.trader_id,
                          row.device_id, row.seq, row.prev, row.status, row.mrn, row.receipt,
                          json.loads(row.errors), row.raw, row.received_at, row.lane, row.id,
                          row.declarant_id, row.lrn,
                          json.loads(row.checked) if row.checked else None, row.log_index)


INTAKE_LOCK_KEY = 0x436F6D70  # PostgreSQL advisory lock of the intake ("Comp")


def _kind(url: Any) -> str:
    name = url if isinstance(url, str) else url.drivername
    return "sqlite" if name.startswith("sqlite") else \
        "postgresql" if name.startswith(("postgresql", "postgres")) else "other"


def make_engine(url: Any, *, writer: bool = True) -> Engine:
    """An engine; SQLite gets WAL, FULL sync and a busy timeout (the CLI writes too).

    ``url`` is text or a SQLAlchemy URL (SQLCipher's raw key does not survive quoting).
    The SQLite *writer* engine opens every transaction with ``BEGIN IMMEDIATE``: the
    write lock is taken at the start, so two processes never both read a device chain
    and then both write it.  Readers (``writer=False``) never take it.
    """
    if _kind(url) == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            if writer:
                dbapi_conn.isolation_level = None  # SQLAlchemy's BEGIN below, not the driver's

        if writer:
            @event.listens_for(engine, "begin")
            def _begin(conn: Connection) -> None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if isinstance(url, str) and url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]  # psycopg 3
    return create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=8)


class SandboxStore:
    """The sandbox's persistent state."""

    def __init__(self, url: Any) -> None:
        self.url = url
        self.kind = _kind(url)
        self.engine = make_engine(url)
        self.read_engine = make_engine(url, writer=False) if self.kind == "sqlite" \
            else self.engine
        self._migrate()
        self._namespace_envelope_key()
        self.write_lock = threading.RLock()

    def close(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()

    def lock_intake(self, conn: Connection) -> None:
        """Serialise lodging and the feed across processes (see the module docstring)."""
        if self.kind == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": INTAKE_LOCK_KEY})

    def _migrate(self) -> None:
        """Create what is missing: tables, columns added since (#8, #16), indexes; fill
        the LRN claims of a database from before they had their own table.  Serialised
        across processes (worker processes may start together)."""
        from sqlalchemy import inspect

        with self.engine.begin() as conn:
            if self.kind == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                             {"k": INTAKE_LOCK_KEY + 1})
            insp = inspect(conn)
            existing = set(insp.get_table_names())
            _SandboxModel.metadata.create_all(conn)
            for table in _SandboxModel.metadata.sorted_tables:
                if table.name not in existing:
                    continue
                have = {c["name"] for c in insp.get_columns(table.name)}
                for col in table.columns:
                    if col.name in have:
                        continue
                    ctype = col.type.compile(dialect=conn.dialect)
                    default = col.default.arg if col.default is not None and \
                        not callable(col.default.arg) else None
                    clause = ""
                    if isinstance(default, bool):
                        clause = f" DEFAULT {int(default)}"
                    elif isinstance(default, int | float):
                        clause = f" DEFAULT {default}"
                    elif isinstance(default, str):
                        clause = " DEFAULT '" + default.replace("'", "''") + "'"
                    conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{col.name}" '
                                      f"{ctype}{clause}"))
                for index in table.indexes:
                    index.create(conn, checkfirst=True)
            if "envelopes" in existing and "lrn_claims" not in existing:
                conn.execute(text(
                    "INSERT INTO lrn_claims (declarant_id, lrn, declaration_id) "
                    "SELECT declarant_id, lrn, MIN(declaration_id) FROM envelopes "
                    "WHERE status = 'accepted' AND declarant_id IS NOT NULL AND lrn IS NOT NULL "
                    "GROUP BY declarant_id, lrn"))

    def _namespace_envelope_key(self) -> None:
        """A SQLite database from before #12 keeps (declaration id, version) unique across
        traders: rebuild the envelopes table with the per-trader key, rows kept."""
        from sqlalchemy import inspect, text

        if self.engine.dialect.name != "sqlite":
            return
        uniques = inspect(self.engine).get_unique_constraints("envelopes")
        if not any(u["column_names"] == ["declaration_id", "version"] for u in uniques):
            return
        table = _table(EnvelopeRow)
        cols = ", ".join(f'"{c.name}"' for c in table.columns)
        with self.engine.begin() as conn:
            conn.execute(text("ALTER TABLE envelopes RENAME TO envelopes_before_12"))
            for index in table.indexes:
                conn.execute(text(f'DROP INDEX IF EXISTS "{index.name}"'))
            table.create(conn)
            conn.execute(text(f"INSERT INTO envelopes ({cols}) SELECT {cols} "
                              "FROM envelopes_before_12"))
            conn.execute(text("DROP TABLE envelopes_before_12"))

    # -- enrolment ---------------------------------------------------------------
    def add_enrolment_code(self, code: str, trader_id: str, role: str) -> None:
        with self.write_lock, Session(self.engine) as s:
            s.add(EnrolmentCode(code_hash=token_hash(code), trader_id=trader_id, role=role))
            s.commit()

    def enrolment_code(self, code: str, trader_id: str | None = None,
                       role: str | None = None) -> tuple[str, str | None, str | None]:
        """What a one-time code would give, nothing consumed: ``(outcome, trader id, role)``
        with the outcomes of :meth:`consume_enrolment_code` (the CSR is checked between)."""
        with Session(self.engine) as s:
            row = s.get(EnrolmentCode, token_hash(code))
            if row is None or row.used_at is not None:
                return "refused", None, None
            if trader_id and row.trader_id != trader_id:
                return "trader_mismatch", row.trader_id, row.role
            if role and row.role != role:
                return "role_mismatch", row.trader_id, row.role
            return "ok", row.trader_id, row.role

    def consume_enrolment_code(self, code: str, trader_id: str | None = None,
                               role: str | None = None) -> tuple[str, str | None, str | None]:
        """Spend a one-time code: ``(outcome, trader id, role)``.

        The code itself names the trader and role it was issued for, so a device needs nothing
        else.  A device that states what it expects (``trader_id``/``role``) and is wrong gets
        ``trader_mismatch``/``role_mismatch`` and the code stays unused: the mistake is the
        device's, the code is still good for the right one.  ``refused``: unknown or used.
        """
        with self.write_lock, Session(self.engine) as s:
            row = s.get(EnrolmentCode, token_hash(code))
            if row is None or row.used_at is not None:
                return "refused", None, None
            if trader_id and row.trader_id != trader_id:
                return "trader_mismatch", row.trader_id, row.role
            if role and row.role != role:
                return "role_mismatch", row.trader_id, row.role
            res = s.execute(update(EnrolmentCode)
                            .where(EnrolmentCode.code_hash == row.code_hash)  # type: ignore[arg-type]
                            .where(EnrolmentCode.used_at.is_(None))  # type: ignore[union-attr]
                            .values(used_at=time.time()))
            if res.rowcount != 1:  # type: ignore[attr-defined]
                return "refused", None, None
            s.commit()
            return "ok", row.trader_id, row.role

    def register_enrolment(self, *, trader_id: str, device_id: str, role: str, token: str,
                           serial: str, cert_pem: str, lifetime: float = TOKEN_LIFETIME,
                           chain_seq: int = 0, chain_head: str = GENESIS_HASH) -> float:
        """Bind trader, device, certificate and token together; the token's expiry.

        A new device's chain starts where its journal stood at enrolment: what it sealed
        before (self-signed, never delivered) is re-sealed after that point.
        """
        expires = time.time() + lifetime
        serial = normal_serial(serial)
        with self.write_lock, Session(self.engine) as s:
            if s.get(Trader, trader_id) is None:
                s.add(Trader(trader_id=trader_id))
            if s.get(Device, (trader_id, device_id)) is None:
                s.add(Device(trader_id=trader_id, device_id=device_id, last_seq=chain_seq,
                             last_hash=chain_head))
            s.add(Token(token_hash=token_hash(token), trader_id=trader_id, device_id=device_id,
                        role=role, cert_serial=serial, expires_at=expires))
            s.add(Certificate(serial=serial, trader_id=trader_id, device_id=device_id,
                              role=role, pem=cert_pem))
            s.commit()
        return expires

    def principal_or_reason(self, token: str,
                            lifetime: float = TOKEN_LIFETIME) -> tuple[Principal | None, str]:
        """(the token's principal, "") or (None, unknown | expired | revoked).

        Checked on every request: expiry, and the revocation of the token's certificate
        (the CLI revokes from another process, so nothing is cached).
        """
        h = token_hash(token)
        with Session(self.read_engine) as s:
            row = s.get(Token, h)
            if row is None:
                return None, "unknown"
            expires = row.expires_at if row.expires_at is not None else row.created_at + lifetime
            if time.time() >= expires:
                return None, "expired"
            q = select(Certificate.revoked).where(Certificate.device_id == row.device_id,
                                                  Certificate.trader_id == row.trader_id)
            if row.cert_serial is not None:
                q = q.where(Certificate.serial == row.cert_serial)
            states = list(s.exec(q).all())
            if states and all(states):
                return None, "revoked"
            if row.replaces is not None:  # first use of a refreshed token: the old one dies
                self._drop_predecessor(h, row.replaces)
            return Principal(row.trader_id, row.device_id, row.role, row.cert_serial,
                             expires), ""

    def principal(self, token: str) -> Principal | None:
        return self.principal_or_reason(token)[0]

    def refresh_token(self, old: str, new: str, lifetime: float = TOKEN_LIFETIME) -> float:
        """A new token bound to the same device and certificate.

        The old one keeps working until the new one is first used, so a refresh whose
        answer was lost never locks the device out.
        """
        with self.write_lock, Session(self.engine) as s:
            row = s.get(Token, token_hash(old))
            assert row is not None
            expires = time.time() + lifetime
            s.add(Token(token_hash=token_hash(new), trader_id=row.trader_id,
                        device_id=row.device_id, role=row.role, cert_serial=row.cert_serial,
                        expires_at=expires, replaces=row.token_hash))
            s.commit()
            return expires

    def _drop_predecessor(self, new_hash: str, old_hash: str) -> None:
        with self.write_lock, Session(self.engine) as s:
            old = s.get(Token, old_hash)
            if old is not None:
                s.delete(old)
            s.execute(update(Token).where(Token.token_hash == new_hash)  # type: ignore[arg-type]
                      .values(replaces=None))
            s.commit()

    def add_authorisation(self, declarant_id: str, representative_id: str) -> None:
        """The declarant lets the representative lodge in its name (DE 3/19-3/21)."""
        with self.write_lock, Session(self.engine) as s:
            if s.get(Authorisation, (declarant_id, representative_id)) is None:
                s.add(Authorisation(declarant_id=declarant_id,
                                    representative_id=representative_id))
                s.commit()

    def revoked_serials(self) -> set[int]:
        """Serial numbers (as integers) of revoked certificates."""
        with Session(self.read_engine) as s:
            return {int(x, 16) for x in s.exec(
                select(Certificate.serial).where(Certificate.revoked == True))}  # noqa: E712

    def revoke(self, serial: str, at: str | None = None) -> None:
        self.revoke_matching(serial=serial, at=at)

    def revoke_matching(self, *, serial: str | None = None, device_id: str | None = None,
                        at: str | None = None) -> list[str]:
        """Revoke certificates by hex serial or by device; the serials newly revoked."""
        from datetime import UTC, datetime

        when = at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self.write_lock, Session(self.engine) as s:
            q = select(Certificate).where(Certificate.revoked == False)  # noqa: E712
            if serial is not None:
                q = q.where(Certificate.serial == normal_serial(serial))
            if device_id is not None:
                q = q.where(Certificate.device_id == device_id)
            rows = s.exec(q).all()
            for r in rows:
                r.revoked, r.revoked_at = True, when
                s.add(r)
            s.commit()
            return [r.serial for r in rows]

    # -- trust material (#8) -------------------------------------------------------
    def trust_snapshot(self, recent: int = 200) -> tuple[list[dict[str, Any]],
                                                         list[dict[str, Any]]]:
        """(revoked certificates, enrolled devices with their chain position)."""
        with Session(self.read_engine) as s:
            certs = s.exec(select(Certificate)).all()
            revoked = [{"serial": c.serial, "revoked_at": c.revoked_at or "",
                        "trader_id": c.trader_id, "device_id": c.device_id}
                       for c in certs if c.revoked]
            devices: dict[tuple[str, str], dict[str, Any]] = {}
            for c in certs:
                d = devices.setdefault((c.trader_id, c.device_id), {
                    "trader_id": c.trader_id, "device_id": c.device_id, "role": c.role,
                    "serials": [], "last_seq": 0, "last_hash": GENESIS_HASH,
                    "recent_hashes": {}})
                d["serials"].append(c.serial)
            for (t, dev), d in devices.items():
                row = s.get(Device, (t, dev))
                if row is not None:
                    d["last_seq"], d["last_hash"] = row.last_seq, row.last_hash
                hashes = s.exec(select(EnvelopeRow.envelope_hash, EnvelopeRow.seq).where(
                    EnvelopeRow.trader_id == t, EnvelopeRow.device_id == dev,
                    EnvelopeRow.status != "held")
                    .order_by(EnvelopeRow.seq.desc()).limit(recent)).all()  # type: ignore[attr-defined]
                # withdrawn links hold their chain position as before (#14): an officer
                # checking a paper transit's seal must not see the chain jump back
                links = s.exec(select(ChainLinkRow.envelope_hash, ChainLinkRow.seq).where(
                    ChainLinkRow.trader_id == t, ChainLinkRow.device_id == dev,
                    ChainLinkRow.status == "withdrawn")
                    .order_by(ChainLinkRow.seq.desc()).limit(recent)).all()  # type: ignore[attr-defined]
                newest = sorted([*hashes, *links], key=lambda r: -int(r[1]))[:recent]
                d["recent_hashes"] = {h: int(q) for h, q in newest}
            return revoked, list(devices.values())

    def decision_stats(self) -> dict[str, int]:
        with Session(self.read_engine) as s:
            rows = s.exec(select(Decision.state, Decision.flagged, Decision.verified)).all()
        return {"decisions": len(rows), "decisions_verified": sum(1 for r in rows if r[2]),
                "decisions_flagged": sum(1 for r in rows if r[1]),
                "decisions_pending": sum(1 for r in rows if r[0] == "pending"),
                "decisions_applied": sum(1 for r in rows if r[0] == "applied")}

    def decisions(self, declaration_id: str | None = None) -> list[dict[str, Any]]:
        with Session(self.read_engine) as s:
            q = select(Decision)
            if declaration_id is not None:
                q = q.where(Decision.declaration_id == declaration_id)
            return [r.model_dump(exclude={"raw"}) for r in s.exec(q.order_by(Decision.id)).all()]  # type: ignore[arg-type]

    # -- idempotency -------------------------------------------------------------
    def idempotency_record(self, trader_id: str, key: str) -> tuple[str, str] | None:
        with Session(self.read_engine) as s:
            row = s.get(IdempotencyRecord, (trader_id, key))
            return None if row is None else (row.fingerprint, row.response)

    # -- batches -----------------------------------------------------------------
    def lodged_by_hash(self, trader_id: str, hashes: list[str]) -> dict[str, StoredEnvelope]:
        """This trader's envelopes already decided (accepted or rejected), by hash: a
        resend is answered from them before any verification (read only, no lock)."""
        out: dict[str, StoredEnvelope] = {}
        wanted = sorted({h for h in hashes if h})
        t = _table(EnvelopeRow)
        with self.read_engine.connect() as conn:
            for i in range(0, len(wanted), 500):
                for row in conn.execute(t.select().where(
                        t.c.envelope_hash.in_(wanted[i:i + 500]), t.c.trader_id == trader_id,
                        t.c.status.in_(("accepted", "rejected")))):
                    out[row.envelope_hash] = _stored(row)
        return out

    # -- the receipts' Merkle log (#16), read side -----------------------------------
    def latest_tree_head(self) -> tuple[int, bytes, str] | None:
        """(size, root, token) of the last head given out (no lock: heads are immutable)."""
        t = _table(TreeHeadRow)
        with self.read_engine.connect() as conn:
            row = conn.execute(select(t.c.size, t.c.root, t.c.token)
                               .order_by(t.c.size.desc()).limit(1)).first()
        return None if row is None else (row.size, bytes(row.root), row.token)

    def tree_head(self, size: int) -> tuple[bytes, str] | None:
        """(root, token) of the head given out at this size."""
        t = _table(TreeHeadRow)
        with self.read_engine.connect() as conn:
            row = conn.execute(select(t.c.root, t.c.token).where(t.c.size == size)).first()
        return None if row is None else (bytes(row.root), row.token)

    def read_log_nodes(self, keys: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        with self.read_engine.connect() as conn:
            return fetch_log_nodes(conn, keys)

    @contextmanager
    def batch(self) -> Iterator[BatchTx]:
        """One transaction for one batch, under the write lock and the intake lock."""
        with self.write_lock, Session(self.engine) as s:
            self.lock_intake(s.connection())
            tx = BatchTx(s)
            yield tx
            tx.flush()
            crash_in_commit()
            s.commit()
        for fn in tx.after_commit:
            fn()

    # -- feed --------------------------------------------------------------------
    def notifications(self, trader_id: str, after: int, limit: int) -> list[dict[str, Any]]:
        t = _table(NotificationRow)
        with self.read_engine.connect() as conn:
            rows = conn.execute(select(t.c.id, t.c.declaration_id, t.c.version, t.c.mrn,
                                       t.c.status, t.c.at, t.c.errors, t.c.detail, t.c.decision)
                                .where(t.c.trader_id == trader_id, t.c.id > after)
                                .order_by(t.c.id).limit(limit)).all()
        return [{"cursor": r.id, "declaration_id": r.declaration_id, "version": r.version,
                 "mrn": r.mrn, "status": r.status, "at": r.at,
                 "errors": [] if r.errors == "[]" else json.loads(r.errors), "detail": r.detail,
                 "decision": r.decision} for r in rows]

    def materialise_due(self, now: float, at_text: str) -> int:
        """Move due pipeline events into the feed, oldest first, in one transaction.

        Called on every feed poll: a lock-free indexed look at the earliest due time
        first, so that a poll with nothing due writes nothing.
        """
        ev = _table(ScheduledEvent)
        with self.read_engine.connect() as conn:
            first = conn.execute(select(func.min(ev.c.due_at))).scalar()
        if first is None or first > now:
            return 0
        with self.write_lock, self.engine.begin() as conn:
            self.lock_intake(conn)
            due = conn.execute(ev.select().where(ev.c.due_at <= now)
                               .order_by(ev.c.due_at, ev.c.id)).all()
            if not due:
                return 0
            insert_many(conn, NotificationRow, [
                {"trader_id": e.trader_id, "declaration_id": e.declaration_id,
                 "version": e.version, "mrn": e.mrn, "status": e.status, "at": at_text,
                 "errors": "[]", "detail": e.detail, "decision": None} for e in due])
            ids = [e.id for e in due]
            for i in range(0, len(ids), 500):
                conn.execute(delete(ev).where(ev.c.id.in_(ids[i:i + 500])))
            return len(due)

    # -- reference data versions ---------------------------------------------------
    def refdata_versions(self, digests: dict[str, str]) -> dict[str, int]:
        """A version per list, bumped whenever a list's content changed since last start."""
        with self.write_lock, Session(self.engine) as s:
            known = {r.name: r for r in s.exec(select(RefdataList)).all()}
            top = max((r.version for r in known.values()), default=0)
            out: dict[str, int] = {}
            for name in sorted(digests):
                row = known.get(name)
                if row is None:
                    top += 1
                    row = RefdataList(name=name, sha256=digests[name], version=top)
                    s.add(row)
                elif row.sha256 != digests[name]:
                    top += 1
                    row.sha256, row.version = digests[name], top
                    s.add(row)
                out[name] = row.version
            s.commit()
            return out

    # -- statistics ----------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        with Session(self.read_engine) as s:
            declarations = s.exec(select(func.count()).select_from(EnvelopeRow)).one()
            distinct = s.exec(select(func.count(func.distinct(EnvelopeRow.declaration_id)))).one()
            by_status = dict(s.exec(select(EnvelopeRow.status, func.count())
                                    .group_by(EnvelopeRow.status)).all())
            sub = s.get(Counter, "submissions")
            links = dict(s.exec(select(ChainLinkRow.status, func.count())
                                 .group_by(ChainLinkRow.status)).all())
            for status in ("withdrawn", "held"):  # a chain position, lodged or not
                if links.get(status):
                    by_status[status] = by_status.get(status, 0) + links[status]
            out = {"declarations": int(declarations), "distinct_ids": int(distinct),
                   "submissions": sub.value if sub else 0,
                   "by_status": {k: int(v) for k, v in by_status.items()}}
        out.update(self.decision_stats())
        return out


_HELD = text("status = 'held'")  # a literal, so that the partial index applies


def held_query(dialect: str, trader_id: str, device_id: str) -> Any:
    """A device's held envelopes, through the partial index (SQLite is told to: without
    statistics it would walk the device's whole chain through ``ix_envelopes_chain``)."""
    if dialect == "sqlite":
        return text("SELECT * FROM envelopes INDEXED BY ix_envelopes_held WHERE trader_id = :t "
                    "AND device_id = :d AND status = 'held'").bindparams(t=trader_id, d=device_id)
    t = _table(EnvelopeRow)
    return t.select().where(t.c.trader_id == trader_id, t.c.device_id == device_id, _HELD)


@dataclass
class BatchTx:
    """The writes of one batch, with an in-memory view of what it already did.

    Reads and writes go through SQLAlchemy Core on the session's connection (no ORM
    objects per envelope); the officers' decisions, which are rare, use the ORM.
    """

    session: Session
    _envelopes: dict[tuple[str, str, int], StoredEnvelope] = field(default_factory=dict)
    _devices: dict[tuple[str, str], DeviceState] = field(default_factory=dict)
    _new_envelopes: list[StoredEnvelope] = field(default_factory=list)
    _updated: dict[int, StoredEnvelope] = field(default_factory=dict)
    _notifications: list[dict[str, Any]] = field(default_factory=list)
    _events: list[dict[str, Any]] = field(default_factory=list)
    _held: dict[tuple[str, str, int], StoredEnvelope] = field(default_factory=dict)
    _links: dict[tuple[str, str, int], StoredLink | None] = field(default_factory=dict)
    _links_changed: dict[tuple[str, str, int], StoredLink] = field(default_factory=dict)
    _held_links: dict[tuple[str, str], int] = field(default_factory=dict)
    _dropped: list[int] = field(default_factory=list)  # held envelope rows withdrawn
    _counters: dict[str, int] = field(default_factory=dict)
    _counters_known: set[str] = field(default_factory=set)
    _idempotency: dict[str, Any] | None = None
    _lrns: dict[tuple[str, str], str] = field(default_factory=dict)
    _new_claims: dict[tuple[str, str], str] = field(default_factory=dict)
    _looked_up: set[tuple[str, int]] = field(default_factory=set)
    _held_loaded: set[tuple[str, str]] = field(default_factory=set)
    _lrn_looked: set[tuple[str, str]] = field(default_factory=set)
    _pending: set[tuple[str, int]] = field(default_factory=set)
    _pending_looked: set[str] = field(default_factory=set)
    _log_nodes: dict[tuple[int, int], bytes] = field(default_factory=dict)
    _tree_head: dict[str, Any] | None = None
    after_commit: list[Callable[[], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.conn = self.session.connection()

    # -- the receipts' Merkle log (#16) ---------------------------------------------
    def log_size(self) -> int:
        """Entries in the log (read under the intake lock: exact across processes)."""
        return self._counter("log_size")

    def add_log_nodes(self, nodes: dict[tuple[int, int], bytes], size: int) -> None:
        self._log_nodes.update(nodes)
        self._counters["log_size"] = size

    def add_tree_head(self, size: int, root: bytes, token: str, time_text: str) -> None:
        self._tree_head = {"size": size, "root": root, "token": token, "time": time_text}

    def fetch_log_nodes(self, keys: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        return fetch_log_nodes(self.conn, keys)

    def tree_head(self, size: int) -> tuple[bytes, str] | None:
        """(root, signed token) of the head given out at this size."""
        t = _table(TreeHeadRow)
        row = self.conn.execute(select(t.c.root, t.c.token).where(t.c.size == size)).first()
        return None if row is None else (bytes(row.root), row.token)

    def preload(self, keys: list[tuple[str, int]]) -> None:
        """Fetch the existing envelopes (and pending officer decisions) for these
        (declaration id, version) in bulk."""
        wanted = [k for k in set(keys) if k not in self._looked_up]
        self._looked_up.update(wanted)
        ids = sorted({d for d, _ in wanted})
        t, dt_ = _table(EnvelopeRow), _table(Decision)
        for i in range(0, len(ids), 400):
            chunk = ids[i:i + 400]
            for r in self.conn.execute(t.select().where(t.c.declaration_id.in_(chunk))):
                # ids are per trader (#12): every trader's rows, keyed with the trader
                self._envelopes.setdefault((r.trader_id, r.declaration_id, r.version),
                                           _stored(r))
                self._looked_up.add((r.declaration_id, r.version))
            self._pending.update((d, v) for d, v in self.conn.execute(
                select(dt_.c.declaration_id, dt_.c.version).where(
                    dt_.c.state == "pending", dt_.c.declaration_id.in_(chunk))))
        self._pending_looked.update(ids)

    def envelopes_of(self, declaration_id: str, version: int) -> list[StoredEnvelope]:
        """Every trader's envelope under this (declaration id, version): an officer's
        decision names the id, version and envelope hash, not the trader."""
        if (declaration_id, version) not in self._looked_up:
            self.preload([(declaration_id, version)])
        return [e for (_, d, v), e in self._envelopes.items()
                if d == declaration_id and v == version]

    def authorised(self, declarant_id: str, representative_id: str) -> bool:
        a = _table(Authorisation)
        return self.conn.execute(select(a.c.declarant_id).where(
            a.c.declarant_id == declarant_id,
            a.c.representative_id == representative_id)).first() is not None

    def held_count(self, trader_id: str, device_id: str) -> int:
        """Envelopes and withdrawn links waiting behind a gap of this device's chain."""
        self.held(trader_id, device_id, 0)
        return sum(1 for (t, d, _) in self._held if t == trader_id and d == device_id) \
            + self._held_link_count(trader_id, device_id)

    def _held_link_count(self, trader_id: str, device_id: str) -> int:
        key = (trader_id, device_id)
        if key not in self._held_links:
            t = _table(ChainLinkRow)
            self._held_links[key] = int(self.conn.execute(
                select(func.count()).select_from(t).where(
                    t.c.trader_id == trader_id, t.c.device_id == device_id,
                    t.c.status == "held")).scalar_one())
        return self._held_links[key]

    def link(self, trader_id: str, device_id: str, seq: int) -> StoredLink | None:
        """The withdrawn link recorded at this chain position, if any."""
        key = (trader_id, device_id, seq)
        if key not in self._links:
            t = _table(ChainLinkRow)
            row = self.conn.execute(t.select().where(
                t.c.trader_id == trader_id, t.c.device_id == device_id,
                t.c.seq == seq)).first()
            self._links[key] = None if row is None else StoredLink(
                row.trader_id, row.device_id, row.seq, row.prev, row.envelope_hash,
                row.status, row.received_at)
        return self._links[key]

    def save_link(self, link: StoredLink, was: str | None = None) -> None:
        """Record a new link, or a held one's new status (``was``: its status before)."""
        key = (link.trader_id, link.device_id, link.seq)
        self._held_link_count(link.trader_id, link.device_id)
        delta = (link.status == "held") - (was == "held")
        self._held_links[(link.trader_id, link.device_id)] += delta
        self._links[key] = link
        self._links_changed[key] = link

    def envelope(self, trader_id: str, declaration_id: str,
                 version: int) -> StoredEnvelope | None:
        """This trader's envelope under (declaration id, version): ids are per trader."""
        if (declaration_id, version) not in self._looked_up:
            self.preload([(declaration_id, version)])
        return self._envelopes.get((trader_id, declaration_id, version))

    def device(self, trader_id: str, device_id: str) -> DeviceState:
        key = (trader_id, device_id)
        st = self._devices.get(key)
        if st is None:
            d = _table(Device)
            row = self.conn.execute(select(d.c.last_seq, d.c.last_hash, d.c.last_sig_time).where(
                d.c.trader_id == trader_id, d.c.device_id == device_id)).first()
            st = (DeviceState(row.last_seq, row.last_hash, True, row.last_sig_time or "") if row
                  else DeviceState(0, GENESIS_HASH, False))
            self._devices[key] = st
        return st

    def advance_device(self, trader_id: str, device_id: str, seq: int, env_hash: str,
                       sig_time: str | None = None) -> None:
        st = self.device(trader_id, device_id)
        st.last_seq, st.last_hash = seq, env_hash
        if sig_time is not None:
            st.last_sig_time = sig_time

    def held(self, trader_id: str, device_id: str, seq: int) -> StoredEnvelope | None:
        """A held envelope waiting at this position (this batch's or an earlier one)."""
        if (trader_id, device_id) not in self._held_loaded:
            self._held_loaded.add((trader_id, device_id))
            rows = self.conn.execute(held_query(self.conn.dialect.name, trader_id,
                                                device_id)).all()
            for row in rows:
                st = self._envelopes.setdefault(
                    (row.trader_id, row.declaration_id, row.version), _stored(row))
                self._looked_up.add((row.declaration_id, row.version))
                if st.status == "held":
                    self._held.setdefault((trader_id, device_id, row.seq), st)
        return self._held.get((trader_id, device_id, seq))

    def preload_lrns(self, pairs: list[tuple[str, str]]) -> None:
        """Fetch in bulk which (declarant, LRN) pairs are already registered."""
        wanted = sorted(p for p in set(pairs) if p not in self._lrn_looked)
        self._lrn_looked.update(wanted)
        c = _table(LrnClaim)
        for i in range(0, len(wanted), 400):
            rows = self.conn.execute(select(c.c.declarant_id, c.c.lrn, c.c.declaration_id).where(
                tuple_(c.c.declarant_id, c.c.lrn).in_(wanted[i:i + 400])))
            for declarant, lrn, did in rows:
                self._lrns.setdefault((declarant, lrn), did)

    def lrn_owner(self, declarant_id: str, lrn: str) -> str | None:
        """The declaration id already registered (accepted) under this LRN, if any."""
        key = (declarant_id, lrn)
        if key not in self._lrn_looked:
            self.preload_lrns([key])
        return self._lrns.get(key)

    def claim_lrn(self, declarant_id: str, lrn: str, declaration_id: str) -> None:
        key = (declarant_id, lrn)
        if self.lrn_owner(declarant_id, lrn) is None:
            self._lrns[key] = declaration_id
            self._new_claims[key] = declaration_id

    def add_envelope(self, env: StoredEnvelope) -> None:
        self._envelopes[(env.trader_id, env.declaration_id, env.version)] = env
        self._looked_up.add((env.declaration_id, env.version))
        self._new_envelopes.append(env)
        if env.status == "held":
            self._held[(env.trader_id, env.device_id, env.seq)] = env

    def drop_held(self, env: StoredEnvelope) -> None:
        """A held envelope withdrawn before its turn came: deleted, never applied."""
        self._held.pop((env.trader_id, env.device_id, env.seq), None)
        self._envelopes.pop((env.trader_id, env.declaration_id, env.version), None)
        self._new_envelopes = [e for e in self._new_envelopes if e is not env]
        if env.id is not None:
            self._updated.pop(env.id, None)
            self._dropped.append(env.id)

    def drop_superseded(self, trader_id: str, device_id: str, first: int, stop: int) -> int:
        """Forget a device's held envelopes at seq ``first`` to ``stop`` - 1: the device
        re-sealed that tail (#12) and the envelope at ``stop`` replaces them.  Held
        envelopes were never lodged (no MRN, no receipt, nothing in the feed)."""
        self.held(trader_id, device_id, 0)
        gone = [k for k in self._held
                if k[0] == trader_id and k[1] == device_id and first <= k[2] < stop]
        for k in gone:
            self.drop_held(self._held[k])
        return len(gone)

    def resolve_held(self, env: StoredEnvelope) -> None:
        """A held envelope was applied: its new status/MRN/receipt are written at flush."""
        self._held.pop((env.trader_id, env.device_id, env.seq), None)
        if env.id is not None:
            self._updated[env.id] = env

    def notify(self, trader_id: str, declaration_id: str, version: int, status: str, at: str,
               *, mrn: str | None = None, errors: list[dict[str, str]] | None = None,
               detail: str | None = None, decision: str | None = None) -> None:
        self._notifications.append({
            "trader_id": trader_id, "declaration_id": declaration_id, "version": version,
            "mrn": mrn, "status": status, "at": at,
            "errors": json.dumps(errors) if errors else "[]",
            "detail": detail, "decision": decision})

    def schedule(self, due_at: float, trader_id: str, declaration_id: str, version: int,
                 status: str, *, mrn: str | None = None, detail: str | None = None) -> None:
        self._events.append({"due_at": due_at, "trader_id": trader_id,
                             "declaration_id": declaration_id, "version": version,
                             "mrn": mrn, "status": status, "detail": detail})

    def _counter(self, name: str) -> int:
        if name not in self._counters:
            c = _table(Counter)
            value = self.conn.execute(select(c.c.value).where(c.c.name == name)).scalar()
            if value is not None:
                self._counters_known.add(name)
            self._counters[name] = int(value or 0)
        return self._counters[name]

    def next_counter(self, name: str) -> int:
        """The next value of a persistent counter (MRN serials)."""
        self._counters[name] = self._counter(name) + 1
        return self._counters[name]

    def bump_counter(self, name: str, by: int) -> None:
        self._counters[name] = self._counter(name) + by

    # -- control decisions (#8) ----------------------------------------------------
    def add_decision(self, **values: Any) -> Decision:
        row = Decision(**values)
        self.session.add(row)
        self.session.flush()
        return row

    def save_decision(self, row: Decision) -> None:
        self.session.add(row)
        self.session.flush()

    def has_pending_decisions(self, declaration_id: str, version: int) -> bool:
        """Cheap per declaration: the pending keys of the batch are read with it."""
        if declaration_id not in self._pending_looked:
            self.preload([(declaration_id, version)])
        return (declaration_id, version) in self._pending

    def decisions_for(self, declaration_id: str, version: int | None = None,
                      state: str | None = None) -> list[Decision]:
        q = select(Decision).where(Decision.declaration_id == declaration_id)
        if version is not None:
            q = q.where(Decision.version == version)
        if state is not None:
            q = q.where(Decision.state == state)
        return list(self.session.exec(q.order_by(Decision.id)).all())  # type: ignore[arg-type]

    def current_status(self, trader_id: str, declaration_id: str, version: int) -> str | None:
        """The declaration's latest status in the feed (this batch's included)."""
        for n in reversed(self._notifications):
            if n["declaration_id"] == declaration_id and n["version"] == version \
                    and n["trader_id"] == trader_id and n["status"] != "decision_conflict":
                return str(n["status"])
        row = self.session.exec(
            select(NotificationRow.status).where(
                NotificationRow.trader_id == trader_id,
                NotificationRow.declaration_id == declaration_id,
                NotificationRow.version == version,
                NotificationRow.status != "decision_conflict")
            .order_by(NotificationRow.id.desc()).limit(1)).first()  # type: ignore[union-attr]
        return str(row) if row is not None else None

    def cancel_scheduled(self, declaration_id: str, version: int) -> None:
        """An officer decided: the simulated pipeline's later steps no longer apply."""
        self._events = [e for e in self._events if not (
            e["declaration_id"] == declaration_id and e["version"] == version)]
        ev = _table(ScheduledEvent)
        self.conn.execute(delete(ev).where(ev.c.declaration_id == declaration_id,
                                           ev.c.version == version))

    def idempotency_record(self, trader_id: str, key: str) -> tuple[str, str] | None:
        """The stored answer to this key, read under the intake lock (another worker
        process may have answered it since the lock-free look)."""
        t = _table(IdempotencyRecord)
        row = self.conn.execute(select(t.c.fingerprint, t.c.response).where(
            t.c.trader_id == trader_id, t.c.key == key)).first()
        return None if row is None else (row.fingerprint, row.response)

    def save_idempotency(self, trader_id: str, key: str, fingerprint: str, response: str) -> None:
        self._idempotency = {"trader_id": trader_id, "key": key, "fingerprint": fingerprint,
                             "response": response, "created_at": time.time()}

    def flush(self) -> None:
        conn = self.conn  # Core executemany: one statement per table, not per row
        t = _table(EnvelopeRow)
        if self._dropped:  # first: a re-seal (#12) takes the (id, version) of what it drops
            conn.execute(delete(t).where(t.c.id.in_(self._dropped)))
        if self._new_envelopes:
            insert_many(conn, EnvelopeRow, [_row(e) for e in self._new_envelopes])
        for rid, e in self._updated.items():
            conn.execute(update(t).where(t.c.id == rid).values(
                status=e.status, mrn=e.mrn, receipt=e.receipt, lane=e.lane,
                errors=json.dumps(e.errors), received_at=e.received_at,
                declarant_id=e.declarant_id, lrn=e.lrn, checked=None, log_index=e.log_index))
        # Held envelopes of this same batch that got applied are inserted with their
        # final state (they were in _new_envelopes and mutated in place).
        d = _table(Device)
        new_devices = []
        for (tid, did), st in self._devices.items():
            if st.exists:
                conn.execute(update(d).where(d.c.trader_id == tid, d.c.device_id == did)
                             .values(last_seq=st.last_seq, last_hash=st.last_hash,
                                     last_sig_time=st.last_sig_time))
            elif st.last_seq > 0:
                new_devices.append({"trader_id": tid, "device_id": did,
                                    "last_seq": st.last_seq, "last_hash": st.last_hash,
                                    "last_sig_time": st.last_sig_time})
        if new_devices:
            conn.execute(d.insert(), new_devices)
        lt = _table(ChainLinkRow)
        for lk in self._links_changed.values():
            if lk.new:
                conn.execute(lt.insert(), {
                    "trader_id": lk.trader_id, "device_id": lk.device_id, "seq": lk.seq,
                    "prev": lk.prev, "envelope_hash": lk.envelope_hash, "status": lk.status,
                    "received_at": lk.received_at})
            else:
                conn.execute(update(lt).where(
                    lt.c.trader_id == lk.trader_id, lt.c.device_id == lk.device_id,
                    lt.c.seq == lk.seq).values(status=lk.status, prev=lk.prev,
                                               envelope_hash=lk.envelope_hash,
                                               received_at=lk.received_at))
        if self._new_claims:
            conn.execute(_table(LrnClaim).insert(), [
                {"declarant_id": k[0], "lrn": k[1], "declaration_id": v}
                for k, v in self._new_claims.items()])
        insert_many(conn, NotificationRow, self._notifications)
        insert_many(conn, ScheduledEvent, self._events)
        c = _table(Counter)
        for name, value in self._counters.items():
            if name in self._counters_known:
                conn.execute(update(c).where(c.c.name == name).values(value=value))
            else:
                conn.execute(c.insert(), {"name": name, "value": value})
        if self._idempotency:
            conn.execute(_table(IdempotencyRecord).insert(), self._idempotency)
        if self._log_nodes:
            insert_many(conn, LogNode, [{"level": lv, "idx": i, "hash": h}
                                        for (lv, i), h in self._log_nodes.items()])
        if self._tree_head:
            conn.execute(_table(TreeHeadRow).insert(), self._tree_head)


def _table(model: Any) -> Any:
    return model.__table__


def fetch_log_nodes(conn: Connection, keys: list[tuple[int, int]]
                    ) -> dict[tuple[int, int], bytes]:
    """Stored log nodes by (level, index), in bulk."""
    t = _table(LogNode)
    out: dict[tuple[int, int], bytes] = {}
    wanted = sorted(set(keys))
    for i in range(0, len(wanted), 400):
        for lv, idx, h in conn.execute(select(t.c.level, t.c.idx, t.c.hash).where(
                tuple_(t.c.level, t.c.idx).in_(wanted[i:i + 400]))):
            out[(lv, idx)] = bytes(h)
    return out


_insert_sql: dict[tuple[str, str, tuple[str, ...]], str] = {}


def insert_many(conn: Connection, model: Any, rows: list[dict[str, Any]]) -> None:
    """One executemany straight to the driver: SQLAlchemy's per-row parameter handling
    costs more than SQLite's insert itself at a few thousand rows per second."""
    if not rows:
        return
    cols = tuple(rows[0])
    table = _table(model).name
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = _insert_sql.get((conn.dialect.name, table, cols))
    if sql is None:
        sql = (f'INSERT INTO {table} ({", ".join(chr(34) + c + chr(34) for c in cols)}) '
               f'VALUES ({", ".join([mark] * len(cols))})')
        _insert_sql[(conn.dialect.name, table, cols)] = sql
    conn.exec_driver_sql(sql, [tuple(r[c] for c in cols) for r in rows])


def _row(e: StoredEnvelope) -> dict[str, Any]:
    return {"declaration_id": e.declaration_id, "version": e.version,
            "envelope_hash": e.envelope_hash, "trader_id": e.trader_id,
            "device_id": e.device_id, "seq": e.seq, "prev": e.prev, "status": e.status,
            "lane": e.lane, "mrn": e.mrn, "receipt": e.receipt, "errors": json.dumps(e.errors),
            "received_at": e.received_at, "declarant_id": e.declarant_id, "lrn": e.lrn,
            "raw": e.raw,
            "checked": json.dumps(e.checked) if e.checked is not None and e.status == "held"
            else None, "log_index": e.log_index}
