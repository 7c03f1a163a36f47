"""Real processes for the outbox tests: the sandbox as a separate HTTPS server, the
client as ``comptoir`` subprocesses, and a TCP proxy that can swallow answers."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.servers import REPO, ServerProcess, ok

TRADER = "GB123456789000"


def comptoir(home: Path, *args: str, timeout: float = 600,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    e = dict(os.environ, COMPTOIR_HOME=str(home), COMPTOIR_LANG="en",
             PYTHONDONTWRITEBYTECODE="1")
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "client.cli", *args], capture_output=True,
                          text=True, env=e, cwd=REPO, timeout=timeout)


class SandboxProcess(ServerProcess):
    """``comptoir sandbox serve`` in its own process; restartable on the same port."""

    name = "sandbox"

    def __init__(self, home: Path, *, lane: str = "green", port: int = 0,
                 seed: int = 0, db_url: str | None = None, workers: int = 1,
                 clock_speed: float | None = None) -> None:
        super().__init__(home, port=port)
        self.lane = lane
        self.seed = seed
        self.db_url = db_url
        self.workers = workers
        self.clock_speed = clock_speed
        self.banner = ""

    @property
    def db_args(self) -> list[str]:
        return ["--db", self.db_url] if self.db_url else []

    def start(self, extra_env: dict[str, str] | None = None) -> SandboxProcess:
        speed = [] if self.clock_speed is None else ["--clock-speed", str(self.clock_speed)]
        self._launch(["sandbox", "serve", "--home", str(self.home), "--lane", self.lane,
                      "--seed", str(self.seed), "--workers", str(self.workers),
                      *self.db_args, *speed], extra_env, attempts=20)
        assert self.proc is not None and self.proc.stdout is not None
        self.banner = self.proc.stdout.readline().strip()
        return self

    def code(self, trader: str = TRADER, role: str = "trader") -> str:
        p = ok(comptoir(self.home, "sandbox", "enrolment", "--home", str(self.home),
                        "--trader", trader, "--role", role, "--json", *self.db_args))
        return json.loads(p.stdout)["code"]

    def stats(self) -> dict[str, Any]:
        p = ok(comptoir(self.home, "sandbox", "stats", "--home", str(self.home), "--json",
                        *self.db_args))
        return json.loads(p.stdout)


def enrolled_profile(home: Path, sandbox: SandboxProcess, *, url: str | None = None,
                     trader: str = TRADER) -> None:
    ok(comptoir(home, "init", "--declarant", trader))
    ok(comptoir(home, "enrol", "--server", url or sandbox.url, "--code", sandbox.code(trader),
                "--ca", str(sandbox.ca)))


@contextmanager
def in_thread_world(tmp_path: Path) -> Iterator[tuple[Any, Any, Any, Any]]:
    """A green-lane sandbox in this process and an enrolled profile beside it, in-process
    (handle, profile, secrets, open store): the engine's tests drive both directly."""
    from client.seal.keys import create_key
    from client.seal.profile import init_profile, open_store, secret_store
    from sync.enrolment import enrol
    from sync.sandbox.server import start_in_thread

    handle = start_in_thread(tmp_path / "sbx", lane="green")
    try:
        profile = init_profile(tmp_path / "client", declarant_id=TRADER)
        secrets = secret_store(profile)
        create_key(profile.home, secrets)
        enrol(profile, secrets, server_url=handle.url,
              code=handle.new_enrolment_code(TRADER), ca_pem_path=handle.ca_pem_path,
              trader_id=TRADER)
        store = open_store(profile, secrets=secrets)
        try:
            yield handle, profile, secrets, store
        finally:
            store.close()
    finally:
        handle.stop()


def seal_ready(profile: Any, secrets: Any, store: Any, n: int, tag: str,
               seed: int | str | None = None) -> None:
    """``n`` one-item sample declarations (LRNs ``tag`` + number) created ready and sealed."""
    import random

    from client.declaration import states
    from client.declaration.samples import sample_declaration
    from client.seal.sealing import Sealer

    rng = random.Random(tag if seed is None else seed)
    decls = []
    for i in range(n):
        d = sample_declaration(rng, n_items=1, declarant_id=TRADER)
        d.lrn = f"{tag}{i:08d}"
        decls.append(d)
    store.create_many(decls, "test", status=states.READY)
    sealer = Sealer(profile, store, secrets)
    for d in decls:
        sealer.seal(d.id)


def list_json(home: Path) -> list[dict[str, Any]]:
    return json.loads(ok(comptoir(home, "list", "--json")).stdout)


class DropProxy:
    """A loopback TCP proxy that, on demand, lets a request through and swallows the
    answer: the server commits, the client never hears back (then the connection is cut).

    TLS stays end to end; a connection is "carrying a batch" once the client has sent
    more than ``batch_bytes`` — its answer is then dropped while ``drops`` remain.
    """

    def __init__(self, target_port: int, *, drops: int = 0, batch_bytes: int = 20_000) -> None:
        self.target_port = target_port
        self.drops = drops
        self.dropped = 0
        self.batch_bytes = batch_bytes
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
        except OSError:
            client.close()
            return
        sent = 0
        try:
            while not self._stop.is_set():
                r, _, _ = select.select([client, upstream], [], [], 0.5)
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        return
                    if s is client:
                        sent += len(data)
                        upstream.sendall(data)
                    else:
                        with self._lock:
                            drop = sent > self.batch_bytes and self.dropped < self.drops
                            if drop:
                                self.dropped += 1
                        if drop:
                            time.sleep(0.2)  # let the server finish writing its answer
                            return
                        client.sendall(data)
        except OSError:
            return
        finally:
            client.close()
            upstream.close()

    def close(self) -> None:
        self._stop.set()
        self.sock.close()


def sandbox_db_text(db: Path) -> list[str]:
    """Every value of every row of every table of a sandbox's SQLite database, as text,
    and the decoded members of every stored envelope (base64url hides their text): what
    a test searches to prove something never reached the single window."""
    import sqlite3

    from client.common.b64 import b64u_decode_lenient

    con = sqlite3.connect(db)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        cells = [v.decode("latin-1") if isinstance(v, bytes) else str(v)
                 for table in tables for row in con.execute(f'SELECT * FROM "{table}"')
                 for v in row if v is not None]
    finally:
        con.close()
    decoded = []
    for c in cells:
        if c.startswith('{"protected"'):
            env = json.loads(c)
            decoded += [b64u_decode_lenient(env[k]).decode("utf-8", "replace")
                        for k in ("protected", "payload")]
    assert decoded, "no stored envelope found: the scan would prove nothing"
    return cells + decoded
