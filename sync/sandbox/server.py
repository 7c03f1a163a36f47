"""Running the sandbox: HTTPS on loopback with uvicorn, standalone or in a thread.

The listening socket is bound before uvicorn starts so that ``port=0`` gives an
ephemeral port that is known at once; ``server.json`` in the home tells other
processes (tests, the desktop app) where to connect and which CA to trust.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from client.common.files import atomic_write
from client.common.i18n import ComptoirError, tr
from sync.sandbox.app import SandboxSettings, SandboxState, create_app
from sync.sandbox.checks import watch_parent


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
        ssl_keyfile_password=(state.pki.key_password.decode("ascii")
                              if state.pki.key_password else None),
        timeout_keep_alive=30, lifespan="on", limit_concurrency=4096,
        timeout_graceful_shutdown=3)
    return uvicorn.Server(config)


def write_server_json(state: SandboxState, url: str, port: int) -> Path:
    path = state.settings.home / "server.json"
    atomic_write(path, json.dumps({"url": url, "port": port, "pid": os.getpid(),
                                   "ca_pem_path": str(state.pki.ca_pem_path)}).encode("utf-8"))
    return path


def describe_db(url: str) -> str:
    """The database URL as printed at start: the password masked."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is refused later, by the engine
        return url.split("@")[-1]


def serve(settings: SandboxSettings, host: str = "127.0.0.1", port: int = 0,
          announce: bool = True, workers: int = 1) -> None:
    """Run in the foreground until interrupted (``comptoir sandbox serve``).

    With ``workers`` > 1 that many processes share the listening socket and the
    database (meant for PostgreSQL; on SQLite they take turns at its write lock): each
    lodges whole batches, the intake lock keeping MRNs, device chains, idempotency and
    the feed cursor exact.  They die with this process, even when it is killed.
    """
    from sync.sandbox.app import open_store
    from sync.sandbox.ca import SandboxPKI

    SandboxPKI(settings.home).ensure()
    open_store(settings.home, settings.db_url).close()  # schema made once, before forking
    sock = bind_socket(host, port)
    real_port = sock.getsockname()[1]
    url = url_for(host, real_port)
    db = describe_db(settings.db_url or f"sqlite:///{settings.home / 'sandbox.db'}")
    if workers <= 1:
        state = SandboxState.open(settings)
        state.checker.start()
        _run_one(state, sock, url, real_port, announce, db, 1)
        return
    children = [_fork_worker(settings, sock) for _ in range(workers)]
    state = SandboxState.open(settings)  # for server.json and the PKI paths only
    write_server_json(state, url, real_port)
    if announce:
        print(url, flush=True)
        print(tr("sandbox.cli.serving", db=db, workers=workers), flush=True)
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    previous = signal.signal(signal.SIGTERM, stop)
    previous_int = signal.signal(signal.SIGINT, stop)
    try:
        while children:
            try:
                pid, _status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            if pid in children:
                children.remove(pid)
                if not stopping:  # a worker died: start another in its place
                    children.append(_fork_worker(settings, sock))
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
        (settings.home / "server.json").unlink(missing_ok=True)
        state.close()
        sock.close()


def _fork_worker(settings: SandboxSettings, sock: socket.socket) -> int:
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        _die_with_parent(parent)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us with SIGTERM
        state = SandboxState.open(settings)
        server = _server(state, sock)
        signal.signal(signal.SIGTERM, _stop)
        try:
            server.run(sockets=[sock])
        except _Stopped:
            pass
        finally:
            state.close()
    except BaseException:  # noqa: BLE001 - a worker never returns into the parent's code
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        os._exit(code)


def _die_with_parent(parent: int) -> None:
    """A worker ends when the server process ``parent`` (its pid taken before the fork)
    does, however it ended (Linux: the kernel sends it SIGKILL; elsewhere a watcher
    thread notices the new parent).  A parent killed between the fork and the kernel's
    arming is seen by the check after it: read in the child, the parent's pid could
    already be the reaper's, and that worker would hold the port for ever."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

    watch_parent(parent)
    if os.getppid() != parent:
        os._exit(0)


def _run_one(state: SandboxState, sock: socket.socket, url: str, port: int, announce: bool,
             db: str, workers: int) -> None:
    server = _server(state, sock)
    write_server_json(state, url, port)
    if announce:
        print(url, flush=True)
        print(tr("sandbox.cli.serving", db=db, workers=workers), flush=True)
    # What was loaded to serve (the app, its models and schemas, the store) lives as long
    # as the process: kept out of the collector's sight, a full collection no longer walks
    # it every few batches (measured: about 90 us of collector time per envelope, then 20).
    gc.collect()
    gc.freeze()
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
                    max_pending_batches: int = 64, training: bool = False,
                    secret_key: str | None = None) -> SandboxHandle:
    """Start the sandbox in a daemon thread and wait until it accepts connections."""
    settings = SandboxSettings(home=Path(home), db_url=db_url, seed=seed,
                               lane="green" if lane == "green" else "auto",
                               refdata_dir=refdata_dir, check_processes=check_processes,
                               max_pending_batches=max_pending_batches, training=training,
                               secret_key=secret_key)
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
