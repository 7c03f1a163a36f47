"""Running the sandbox: HTTPS on loopback with uvicorn, standalone or in a thread.

The listening socket is bound before uvicorn starts so that ``port=0`` gives an
ephemeral port that is known at once; ``server.json`` in the home tells other
processes (tests, the desktop app) where to connect and which CA to trust.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from client.common.i18n import ComptoirError
from sync.sandbox.app import SandboxSettings, SandboxState, create_app


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ComptoirError("sandbox.bind_failed", 2, host=host, port=port,
                            reason=exc.strerror or str(exc)) from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def url_for(host: str, port: int) -> str:
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


def _server(state: SandboxState, sock: socket.socket) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(state), ssl_certfile=str(state.pki.tls_cert_path),
        ssl_keyfile=str(state.pki.tls_key_path), log_level="warning", access_log=False,
        timeout_keep_alive=30, lifespan="on", limit_concurrency=4096,
        timeout_graceful_shutdown=3)
    return uvicorn.Server(config)


def write_server_json(state: SandboxState, url: str, port: int) -> Path:
    path = state.settings.home / "server.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"url": url, "port": port, "pid": os.getpid(),
                               "ca_pem_path": str(state.pki.ca_pem_path)}))
    os.replace(tmp, path)
    return path


def serve(settings: SandboxSettings, host: str = "127.0.0.1", port: int = 0,
          announce: bool = True) -> None:
    """Run in the foreground until interrupted (``comptoir sandbox serve``)."""
    state = SandboxState.open(settings)
    state.checker.start()
    sock = bind_socket(host, port)
    real_port = sock.getsockname()[1]
    url = url_for(host, real_port)
    server = _server(state, sock)
    write_server_json(state, url, real_port)
    if announce:
        print(url, flush=True)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it: end with exit 0.
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        server.run(sockets=[sock])
    except _Stopped:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        (state.settings.home / "server.json").unlink(missing_ok=True)
        state.close()
        sock.close()


class _Stopped(Exception):
    pass


def _stop(_signum: int, _frame: object) -> None:
    raise _Stopped


@dataclass
class SandboxHandle:
    """A sandbox running in a thread of this process (desktop training mode, tests)."""

    url: str
    port: int
    ca_pem_path: Path
    state: SandboxState
    _server: uvicorn.Server
    _thread: threading.Thread
    _sock: socket.socket

    def new_enrolment_code(self, trader_id: str, role: str = "trader") -> str:
        return self.state.new_enrolment_code(trader_id, role)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
        self._sock.close()
        self.state.close()


def start_in_thread(home: Path, *, port: int = 0, seed: int = 0, lane: str = "auto",
                    host: str = "127.0.0.1", db_url: str | None = None,
                    refdata_dir: Path | None = None,
                    clock_speed: float | None = None, check_processes: int = 0,
                    max_pending_batches: int = 64) -> SandboxHandle:
    """Start the sandbox in a daemon thread and wait until it accepts connections."""
    settings = SandboxSettings(home=Path(home), db_url=db_url, seed=seed,
                               lane="green" if lane == "green" else "auto",
                               refdata_dir=refdata_dir, check_processes=check_processes,
                               max_pending_batches=max_pending_batches)
    if clock_speed is not None:
        settings.clock_speed = clock_speed
    state = SandboxState.open(settings)
    sock = bind_socket(host, port)
    real_port = sock.getsockname()[1]
    url = url_for(host, real_port)
    server = _server(state, sock)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name="comptoir-sandbox", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise ComptoirError("sandbox.start_failed", 2, url=url)
        time.sleep(0.01)
    write_server_json(state, url, real_port)
    return SandboxHandle(url, real_port, state.pki.ca_pem_path, state, server, thread, sock)
