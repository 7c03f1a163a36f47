"""Opening the database: SQLCipher key, WAL, synchronous=FULL, migrations, rekey."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import URL
from sqlalchemy.exc import DatabaseError
from sqlalchemy.pool import QueuePool

from client.common.closing import Closing
from client.store.helpers import _db_reason
from client.store.schema import SCHEMA_VERSION
from client.store.types import StoreError


def _connect_url(path: Path, key_hex: str | None) -> URL:
    if key_hex is None:
        return URL.create("sqlite", database=str(path))
    # A raw 256-bit key ("x'…'") skips SQLCipher's per-connection PBKDF2.
    return URL.create("sqlite+pysqlcipher", password=f"x'{key_hex}'", database=str(path))


PAGE_CACHE_KIB = 1024  # SQLite's page cache per pooled connection: see _pragmas


class StoreBase(Closing):
    """The profile's database.  Thread-safe for readers; writers are serialised.

    The desktop app funnels every write through one executor thread; the lock here
    makes the CLI and tests safe as well.
    """

    def __init__(self, engine: Engine, path: Path) -> None:
        self.engine = engine
        self.path = path
        self._write_lock = threading.RLock()
        self._deferred_search: bool | None = None  # schema has 0006's pending table

    # ---- opening -----------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, key_hex: str | None = None, *, migrate: bool = True) -> Self:
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
                # Measured (bench seal): wiping freed pages costs CPU on every statement
                # and protects nothing the process does not already hold; the key and
                # durability settings are unaffected.  Page size stays SQLCipher's 4096.
                cur.execute("PRAGMA cipher_memory_security=OFF")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # Measured (bench ui, 100,000 rows): SQLite's default 2 MB page cache on each
            # pooled connection held ~20 MB of the window's memory; 1 MiB gave the memory
            # back with the filter as fast as the bare Qt floor's (512 KiB slowed it).
            cur.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")
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
        from client.store.migrations import upgrade

        with self._write_lock, self.engine.begin() as conn:
            upgrade(conn)
        self._deferred_search = None

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        """One write transaction, BEGIN IMMEDIATE so writers never deadlock on upgrade."""
        with self._write_lock, self.engine.connect() as conn:
            conn.info["begin_sql"] = "BEGIN IMMEDIATE"
            with conn.begin():
                yield conn
                self._flush_search(conn)

    @contextmanager
    def _write_cursor(self) -> Iterator[Any]:
        """The same write transaction as :meth:`_tx` (write lock, BEGIN IMMEDIATE, the
        search index flushed before COMMIT) on a bare driver cursor, for the seal: the
        SQLAlchemy connection and transaction around it cost 50 us of CPU against 14."""
        with self._write_lock:
            raw = self.engine.raw_connection()
            try:
                driver = raw.driver_connection
                cur = driver.cursor()  # type: ignore[union-attr]
                try:
                    cur.execute("BEGIN IMMEDIATE")
                    try:
                        yield cur
                        self._flush_search_cur(cur)
                        driver.commit()  # type: ignore[union-attr]
                    except BaseException:
                        driver.rollback()  # type: ignore[union-attr]
                        raise
                finally:
                    cur.close()
            finally:
                raw.close()

    def _flush_search(self, conn: Connection) -> None:
        """Index what this transaction saved, before it commits (migration 0006)."""
        cur = conn.connection.cursor()
        try:
            self._flush_search_cur(cur)
        finally:
            cur.close()

    def _flush_search_cur(self, cur: Any) -> None:
        from client.store.search import flush_search

        if self._deferred_search is None:
            self._deferred_search = cur.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'declaration_search_pending'"
            ).fetchone() is not None
        if self._deferred_search:
            flush_search(cur)

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def _read_cursor(self) -> Iterator[Any]:
        """A driver cursor on a pooled connection, for the seal path's fixed lookups: the
        SQLAlchemy Connection around a one-row SELECT cost more than the SELECT (#15)."""
        raw = self.engine.raw_connection()
        try:
            cur = raw.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                yield cur
            finally:
                cur.close()
        finally:
            raw.close()

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
                n = conn.execute(text(sql)).rowcount
                self._flush_search(conn)
                return n

