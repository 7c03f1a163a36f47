"""The emulator's durable state: one SQLite file in its home, shared with its CLI."""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DB_FILE = "emulator.db"
LRN_WINDOW_S = 48 * 3600  # CDS12003: reuse of an LRN within 48 hours
RETENTION_S = 14 * 24 * 3600  # pull queue: notifications kept 14 days
ACCESS_TTL_S = 4 * 3600  # HMRC access tokens: 4 hours
REFRESH_TTL_S = 18 * 30 * 24 * 3600  # refresh tokens: 18 months
CODE_TTL_S = 600

SCHEMA = """
CREATE TABLE IF NOT EXISTS config (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS request (id INTEGER PRIMARY KEY, at REAL NOT NULL, method TEXT,
  path TEXT, headers TEXT, body BLOB, status INTEGER);
CREATE TABLE IF NOT EXISTS submission (id INTEGER PRIMARY KEY, conversation_id TEXT UNIQUE,
  client_id TEXT, endpoint TEXT, lrn TEXT, function_code TEXT, at REAL, outcome TEXT, mrn TEXT);
CREATE INDEX IF NOT EXISTS ix_submission_lrn ON submission (lrn);
CREATE TABLE IF NOT EXISTS notification (id TEXT PRIMARY KEY, conversation_id TEXT,
  client_id TEXT, lrn TEXT, created_at REAL, available_at REAL, pulled_at REAL, payload BLOB);
CREATE INDEX IF NOT EXISTS ix_notification_conv ON notification (conversation_id);
CREATE TABLE IF NOT EXISTS grant_code (code TEXT PRIMARY KEY, client_id TEXT, redirect_uri TEXT,
  challenge TEXT, scope TEXT, expires_at REAL, used INTEGER DEFAULT 0);
CREATE TABLE IF NOT EXISTS consent (id TEXT PRIMARY KEY, client_id TEXT, redirect_uri TEXT,
  state TEXT, challenge TEXT, scope TEXT, created_at REAL, decided TEXT);
CREATE TABLE IF NOT EXISTS token (token TEXT PRIMARY KEY, kind TEXT, client_id TEXT,
  scope TEXT, expires_at REAL, revoked INTEGER DEFAULT 0);
"""

DEFAULTS: dict[str, Any] = {
    "clock_offset": 0.0,
    "rate_limit": 3.0,  # requests per second (HMRC's published default); None: off
    "delay_scale": 1.0,
    "token_ttl": ACCESS_TTL_S,
    "auto_consent": False,
    "clients": {},  # client_id -> client secret (confidential clients)
    "faults": {},
    "serial": 0,
}


@dataclass(frozen=True)
class Token:
    token: str
    kind: str
    client_id: str
    scope: str
    expires_at: float
    revoked: bool


class EmulatorState:
    """Every table behind one lock; the emulator's clock is real time plus an offset."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.home / DB_FILE, check_same_thread=False,
                                     isolation_level=None, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a killed emulator (only an OS crash may lose the
        # last commits): the tests SIGKILL it, nobody pulls its power cord.
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)
        self._lock = threading.RLock()
        self._config: dict[str, Any] = {}
        self.reload_config()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            cur = self._conn.execute(sql, args)
            cur.row_factory = sqlite3.Row
            return cur.fetchall()

    # -- configuration and clock ----------------------------------------------------------

    def reload_config(self) -> None:
        rows = self.query("SELECT key, value FROM config")
        self._config = dict(DEFAULTS) | {r["key"]: json.loads(r["value"]) for r in rows}

    def get(self, key: str) -> Any:
        return self._config.get(key, DEFAULTS.get(key))

    def set(self, key: str, value: Any) -> None:
        with self.tx() as c:
            c.execute("INSERT INTO config (key, value) VALUES (?, ?) ON CONFLICT(key) DO "
                      "UPDATE SET value = excluded.value", (key, json.dumps(value)))
        self._config[key] = value

    def now(self) -> float:
        """The emulator's clock (what CDS12003, expiry and retention are judged by)."""
        return time.time() + float(self.get("clock_offset") or 0.0)

    def advance_clock(self, seconds: float) -> float:
        self.set("clock_offset", float(self.get("clock_offset") or 0.0) + seconds)
        return self.now()

    def take_fault(self, name: str) -> Any:
        """Consume one firing of a switchable fault (``None`` when it is not armed)."""
        with self._lock:
            faults = dict(self.get("faults") or {})
            spec = faults.get(name)
            if not spec:
                return None
            count = spec.get("count", 1) if isinstance(spec, dict) else int(spec)
            if count <= 0:
                return None
            if isinstance(spec, dict):
                faults[name] = dict(spec, count=count - 1)
            else:
                faults[name] = count - 1
            self.set("faults", faults)
            return spec

    def next_serial(self) -> int:
        with self._lock:
            n = int(self.get("serial") or 0) + 1
            self.set("serial", n)
            return n

    # -- requests -------------------------------------------------------------------------

    def log_request(self, method: str, path: str, headers: dict[str, str], body: bytes) -> int:
        with self.tx() as c:
            cur = c.execute("INSERT INTO request (at, method, path, headers, body) "
                            "VALUES (?, ?, ?, ?, ?)",
                            (self.now(), method, path, json.dumps(headers), body))
            return int(cur.lastrowid or 0)

    def log_status(self, request_id: int, status: int | None) -> None:
        with self.tx() as c:
            c.execute("UPDATE request SET status = ? WHERE id = ?", (status, request_id))

    def requests(self) -> list[dict[str, Any]]:
        return [{"method": r["method"], "path": r["path"],
                 "headers": json.loads(r["headers"]),
                 "body": (r["body"] or b"").decode("utf-8", "replace"),
                 "status": r["status"], "at": r["at"]}
                for r in self.query("SELECT * FROM request ORDER BY id")]

    # -- OAuth ----------------------------------------------------------------------------

    def new_consent(self, client_id: str, redirect_uri: str, state: str | None,
                    challenge: str, scope: str) -> str:
        cid = secrets.token_urlsafe(16)
        with self.tx() as c:
            c.execute("INSERT INTO consent VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                      (cid, client_id, redirect_uri, state, challenge, scope, self.now()))
        return cid

    def consent(self, cid: str) -> sqlite3.Row | None:
        rows = self.query("SELECT * FROM consent WHERE id = ? AND decided IS NULL", (cid,))
        return rows[0] if rows else None

    def pending_consents(self) -> list[str]:
        return [r["id"] for r in self.query(
            "SELECT id FROM consent WHERE decided IS NULL ORDER BY created_at")]

    def decide_consent(self, cid: str, decision: str) -> None:
        with self.tx() as c:
            c.execute("UPDATE consent SET decided = ? WHERE id = ?", (decision, cid))

    def new_code(self, client_id: str, redirect_uri: str, challenge: str, scope: str) -> str:
        code = secrets.token_urlsafe(24)
        with self.tx() as c:
            c.execute("INSERT INTO grant_code VALUES (?, ?, ?, ?, ?, ?, 0)",
                      (code, client_id, redirect_uri, challenge, scope, self.now() + CODE_TTL_S))
        return code

    def take_code(self, code: str) -> sqlite3.Row | None:
        """A grant code, once (a second use fails, as OAuth 2.0 requires)."""
        with self.tx() as c:
            cur = c.execute("SELECT * FROM grant_code WHERE code = ?", (code,))
            cur.row_factory = sqlite3.Row
            row = cur.fetchone()
            if row is None or row["used"] or row["expires_at"] < self.now():
                return None
            c.execute("UPDATE grant_code SET used = 1 WHERE code = ?", (code,))
            return row

    def issue_tokens(self, client_id: str, scope: str, *, refresh: bool = True
                     ) -> dict[str, Any]:
        ttl = float(self.get("token_ttl") or ACCESS_TTL_S)
        access = secrets.token_hex(16)
        out: dict[str, Any] = {"access_token": access, "token_type": "bearer",
                               "expires_in": int(ttl), "scope": scope}
        with self.tx() as c:
            c.execute("INSERT INTO token VALUES (?, 'access', ?, ?, ?, 0)",
                      (access, client_id, scope, self.now() + ttl))
            if refresh:
                rt = secrets.token_hex(16)
                c.execute("INSERT INTO token VALUES (?, 'refresh', ?, ?, ?, 0)",
                          (rt, client_id, scope, self.now() + REFRESH_TTL_S))
                out["refresh_token"] = rt
        return out

    def token(self, value: str) -> Token | None:
        rows = self.query("SELECT * FROM token WHERE token = ?", (value,))
        if not rows:
            return None
        r = rows[0]
        return Token(r["token"], r["kind"], r["client_id"], r["scope"], r["expires_at"],
                     bool(r["revoked"]))

    def revoke(self, value: str) -> None:
        with self.tx() as c:
            c.execute("UPDATE token SET revoked = 1 WHERE token = ?", (value,))

    def revoke_all(self, kind: str | None = None) -> int:
        with self.tx() as c:
            if kind:
                cur = c.execute("UPDATE token SET revoked = 1 WHERE kind = ? AND revoked = 0",
                                (kind,))
            else:
                cur = c.execute("UPDATE token SET revoked = 1 WHERE revoked = 0")
            return cur.rowcount

    def expire_access(self) -> int:
        with self.tx() as c:
            return c.execute("UPDATE token SET expires_at = ? WHERE kind = 'access' AND "
                             "expires_at > ?", (self.now() - 1, self.now())).rowcount

    # -- submissions and DMS --------------------------------------------------------------

    def lrn_accepted_since(self, lrn: str, since: float) -> bool:
        return bool(self.query(
            "SELECT 1 FROM submission WHERE lrn = ? AND function_code = '9' AND "
            "outcome = 'accepted' AND at >= ? LIMIT 1", (lrn, since)))

    def mrn_of(self, lrn: str) -> str | None:
        rows = self.query("SELECT mrn FROM submission WHERE lrn = ? AND outcome = 'accepted' "
                          "AND mrn IS NOT NULL ORDER BY id DESC LIMIT 1", (lrn,))
        return rows[0]["mrn"] if rows else None

    def record_submission(self, *, client_id: str, endpoint: str, lrn: str | None,
                          function_code: str | None, outcome: str, mrn: str | None,
                          notifications: list[tuple[float, bytes]]) -> str:
        """The submission and the notifications it will produce, in one transaction."""
        conv = str(uuid.uuid4())
        now = self.now()
        with self.tx() as c:
            c.execute("INSERT INTO submission (conversation_id, client_id, endpoint, lrn, "
                      "function_code, at, outcome, mrn) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                      (conv, client_id, endpoint, lrn, function_code, now, outcome, mrn))
            for delay, payload in notifications:
                c.execute("INSERT INTO notification VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
                          (str(uuid.uuid4()), conv, client_id, lrn, now, now + delay, payload))
        return conv

    def _visible(self) -> str:
        return "available_at <= ? AND created_at >= ?"

    def notification_ids(self, client_id: str, *, conversation_id: str | None = None,
                         pulled: bool | None = None) -> list[tuple[str, bool]]:
        now = self.now()
        sql = f"SELECT id, pulled_at FROM notification WHERE client_id = ? AND {self._visible()}"
        args: list[Any] = [client_id, now, now - RETENTION_S]
        if conversation_id is not None:
            sql += " AND conversation_id = ?"
            args.append(conversation_id)
        if pulled is True:
            sql += " AND pulled_at IS NOT NULL"
        elif pulled is False:
            sql += " AND pulled_at IS NULL"
        rows = self.query(sql + " ORDER BY available_at, rowid LIMIT 60000", tuple(args))
        return [(r["id"], r["pulled_at"] is not None) for r in rows]

    def conversation_known(self, client_id: str, conversation_id: str) -> bool:
        return bool(self.query("SELECT 1 FROM submission WHERE client_id = ? AND "
                               "conversation_id = ?", (client_id, conversation_id)))

    def fetch_notification(self, client_id: str, nid: str, *, pulled: bool
                           ) -> tuple[str, sqlite3.Row | None]:
        """("ok" | "unknown" | "unpulled" | "pulled", row); an unpulled fetch moves it."""
        now = self.now()
        with self.tx() as c:
            cur = c.execute(f"SELECT * FROM notification WHERE id = ? AND client_id = ? AND "
                            f"{self._visible()}", (nid, client_id, now, now - RETENTION_S))
            cur.row_factory = sqlite3.Row
            row = cur.fetchone()
            if row is None:
                return "unknown", None
            if pulled and row["pulled_at"] is None:
                return "unpulled", row
            if not pulled:
                if row["pulled_at"] is not None:
                    return "pulled", row
                c.execute("UPDATE notification SET pulled_at = ? WHERE id = ?", (now, nid))
            return "ok", row

    def stats(self) -> dict[str, Any]:
        lrns = {r["lrn"]: r["n"] for r in self.query(
            "SELECT lrn, COUNT(*) AS n FROM submission WHERE outcome = 'accepted' AND "
            "function_code = '9' AND lrn IS NOT NULL GROUP BY lrn ORDER BY lrn")}
        conversations = self.query("SELECT COUNT(*) AS n FROM submission")[0]["n"]
        notifications = self.query("SELECT COUNT(*) AS n FROM notification")[0]["n"]
        duplicates = self.query("SELECT COUNT(*) AS n FROM submission "
                                "WHERE outcome = 'duplicate'")[0]["n"]
        return {"lrns": lrns, "conversations": conversations, "notifications": notifications,
                "duplicates_caught": duplicates}
