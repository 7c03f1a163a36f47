"""Running the emulator: HTTPS on loopback with its own CA, standalone or in a thread.

``HOME/ca.pem`` is the CA to trust, ``HOME/admin-token`` (mode 0600) the secret of the
``/_emulator/*`` endpoints (faults, clock, revocation), ``HOME/server.json`` where it
listens.  Options given at start are stored, so a restart keeps its clock and setup.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from client.common.files import atomic_write
from client.common.i18n import ComptoirError
from sync.cds.wco import find_schema_dir
from sync.cds_emulator.app import Emulator, EmulatorHTTPServer
from sync.cds_emulator.state import EmulatorState
from sync.sandbox.ca import SandboxPKI
from sync.sandbox.server import bind_socket, url_for

ADMIN_FILE = "admin-token"


def admin_token(home: Path) -> str:
    path = Path(home) / ADMIN_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(24))
    return path.read_text().strip()


def configure(state: EmulatorState, **options: Any) -> None:
    """Store the start options that were given (None: keep what the home has)."""
    advance = options.pop("advance_clock", None)
    for key, value in options.items():
        if value is not None:
            state.set(key, value)
    if advance:
        state.advance_clock(float(advance))


def _context(pki: SandboxPKI) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(pki.tls_cert_path), str(pki.tls_key_path))
    return ctx


def _prepare(home: Path, host: str, port: int, schema_dir: Path | None,
             options: dict[str, Any]) -> tuple[EmulatorHTTPServer, EmulatorState, str, int]:
    home = Path(home)
    pki = SandboxPKI(home).ensure()
    state = EmulatorState(home)
    configure(state, **options)
    emulator = Emulator(state, find_schema_dir(schema_dir), admin_token(home))
    sock = bind_socket(host, port)
    real_port = sock.getsockname()[1]
    server = EmulatorHTTPServer(sock, emulator, _context(pki))
    url = url_for(host, real_port)
    atomic_write(home / "server.json", json.dumps(
        {"url": url, "port": real_port, "pid": os.getpid(),
         "ca_pem_path": str(pki.ca_pem_path)}).encode("utf-8"))
    return server, state, url, real_port


class _Stopped(Exception):
    pass


def _stop(_signum: int, _frame: object) -> None:
    raise _Stopped


def serve(home: Path, *, host: str = "127.0.0.1", port: int = 0,
          schema_dir: Path | None = None, announce: bool = True, **options: Any) -> None:
    """``comptoir cds-emulator serve``: in the foreground until SIGTERM or Ctrl-C."""
    server, state, url, _ = _prepare(home, host, port, schema_dir, options)
    if announce:
        print(url, flush=True)
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever(poll_interval=0.2)
    except (_Stopped, KeyboardInterrupt):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        (Path(home) / "server.json").unlink(missing_ok=True)
        server.server_close()
        state.close()


@dataclass
class EmulatorHandle:
    """An emulator running in a thread of this process (tests, benchmarks)."""

    url: str
    port: int
    home: Path
    state: EmulatorState
    _server: EmulatorHTTPServer
    _thread: threading.Thread

    @property
    def ca_pem_path(self) -> Path:
        return self.home / "ca.pem"

    @property
    def schema_dir(self) -> Path:
        return self._server.emulator.schema_dir

    def admin(self, path: str, doc: dict[str, Any] | None = None) -> Any:
        """Call an ``/_emulator/*`` endpoint (faults, clock, revoke …)."""
        return admin_call(self.home, path, doc, url=self.url)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        self.state.close()


def admin_call(home: Path, path: str, doc: dict[str, Any] | None = None, *,
               url: str | None = None) -> Any:
    home = Path(home)
    if url is None:
        url = json.loads((home / "server.json").read_text())["url"]
    method = "GET" if doc is None else "POST"
    r = requests.request(method, f"{url}/_emulator/{path.lstrip('/')}", json=doc,
                         headers={"X-Emulator-Admin": admin_token(home)},
                         verify=str(home / "ca.pem"), timeout=10)
    if r.status_code != 200:
        raise ComptoirError("cds_emulator.admin_failed", 2, path=path, status=r.status_code)
    return r.json()


def start_in_thread(home: Path, *, host: str = "127.0.0.1", port: int = 0,
                    schema_dir: Path | None = None, **options: Any) -> EmulatorHandle:
    server, state, url, real_port = _prepare(home, host, port, schema_dir, options)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name="cds-emulator", daemon=True)
    thread.start()
    time.sleep(0.05)
    return EmulatorHandle(url, real_port, Path(home), state, server, thread)
