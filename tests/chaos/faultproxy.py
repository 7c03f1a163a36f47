"""A loopback TCP fault proxy between the client and the sandbox single window.

TLS stays end to end (the proxy forwards bytes, it never terminates TLS), so what the
client sees is what a border-post link does to a real HTTPS session: added latency, a
bandwidth cap (down to 64 kbit/s), connections reset with an RST (``SO_LINGER 0``),
half-open connections (forwarding stops, nothing is closed), accepted connections that
never answer, and answers swallowed after the server committed.

Faults apply to new connections: ``set_fault(mode, count=n)`` hits the next ``n``
connections (``None``: every connection until :meth:`clear`).
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from dataclasses import dataclass

MODES = ("pass", "reset", "reset_mid", "blackhole", "half_open", "drop_response")


def rst_close(sock: socket.socket) -> None:
    """Close with an RST instead of a FIN: SO_LINGER on, timeout 0."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class TokenBucket:
    """A shared link of ``bits_per_s`` in one direction: callers sleep for their bytes."""

    def __init__(self, bits_per_s: int) -> None:
        self.rate = bits_per_s / 8.0
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def take(self, n: int) -> None:
        with self._lock:
            now = time.monotonic()
            self._next = max(self._next, now) + n / self.rate
            wait = self._next - now
        if wait > 0:
            time.sleep(wait)


@dataclass
class ProxyStats:
    connections: int = 0
    faulted: int = 0
    bytes_up: int = 0  # client -> server
    bytes_down: int = 0  # server -> client
    delayed_chunks: int = 0  # chunks held back by the added latency
    shaped_bytes: int = 0  # bytes that waited for the bandwidth cap


class FaultProxy:
    """A threaded TCP proxy on 127.0.0.1 with switchable faults."""

    def __init__(self, target_port: int, *, port: int = 0) -> None:
        self.target_port = target_port
        self.mode = "pass"
        self.fault_count: int | None = None
        self.latency_s = 0.0
        self.kbit: int | None = None
        self._up: TokenBucket | None = None
        self._down: TokenBucket | None = None
        # an answer is "to a batch" when the client sent more than this since the last
        # answer (a GET of the feed is ~400 bytes; a batch of one declaration > 1,000)
        self.batch_bytes = 900
        self.reset_after = 2_000  # reset_mid: cut after this many upstream bytes
        self.stats = ProxyStats()
        self._lock = threading.Lock()
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True, name="faultproxy")
        self._thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    # -- control ------------------------------------------------------------------
    def set_fault(self, mode: str, *, count: int | None = None) -> None:
        if mode not in MODES:
            raise ValueError(mode)
        with self._lock:
            self.mode = mode
            self.fault_count = count

    def set_link(self, *, latency_s: float = 0.0, kbit: int | None = None) -> None:
        """Shape every connection: one-way latency per chunk and a per-direction cap."""
        with self._lock:
            self.latency_s = latency_s
            self.kbit = kbit
            self._up = TokenBucket(kbit * 1000) if kbit else None
            self._down = TokenBucket(kbit * 1000) if kbit else None

    def clear(self) -> None:
        """The link is back: no fault, no shaping; held connections are cut."""
        with self._lock:
            self.mode = "pass"
            self.fault_count = None
            held, self._held = self._held, []
        self.set_link()
        for s in held:
            rst_close(s)

    def close(self) -> None:
        self._stop.set()
        self.clear()
        try:
            self.sock.close()
        except OSError:
            pass
        self._thread.join(timeout=2)

    # -- plumbing -----------------------------------------------------------------
    def _take_fault(self) -> str:
        with self._lock:
            self.stats.connections += 1
            if self.mode == "pass":
                return "pass"
            if self.fault_count is not None:
                if self.fault_count <= 0:
                    return "pass"
                self.fault_count -= 1
            self.stats.faulted += 1
            return self.mode

    def _hold(self, *socks: socket.socket) -> None:
        with self._lock:
            self._held.extend(socks)

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            mode = self._take_fault()
            if mode == "reset":  # the request never reaches the server
                rst_close(client)
                continue
            if mode == "blackhole":  # accepted, never read, never answered
                self._hold(client)
                continue
            threading.Thread(target=self._pipe, args=(client, mode), daemon=True).start()

    def _pipe(self, client: socket.socket, mode: str) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
        except OSError:
            rst_close(client)  # the server is down: the client sees a reset
            return
        up = down = 0
        request = 0  # upstream bytes since the last downstream chunk
        try:
            while not self._stop.is_set():
                r, _, _ = select.select([client, upstream], [], [], 0.5)
                for s in r:
                    limit = 4096 if self.kbit else 65536
                    data = s.recv(limit)
                    if not data:
                        return
                    if self.latency_s:
                        time.sleep(self.latency_s)
                        with self._lock:
                            self.stats.delayed_chunks += 1
                    if s is client:
                        if self._up is not None:
                            self._up.take(len(data))
                            with self._lock:
                                self.stats.shaped_bytes += len(data)
                        up += len(data)
                        request += len(data)
                        if mode == "reset_mid" and up > self.reset_after:
                            # part of the request was forwarded: the server never sees it whole
                            rst_close(upstream)
                            rst_close(client)
                            return
                        upstream.sendall(data)
                        with self._lock:
                            self.stats.bytes_up += len(data)
                    else:
                        if mode == "drop_response" and request > self.batch_bytes:
                            time.sleep(0.1)  # let the server finish writing its answer
                            rst_close(client)
                            return
                        if mode == "half_open" and request > self.batch_bytes:
                            self._hold(client, upstream)  # stop forwarding, close nothing
                            client = upstream = None  # type: ignore[assignment]
                            return
                        if self._down is not None:
                            self._down.take(len(data))
                            with self._lock:
                                self.stats.shaped_bytes += len(data)
                        down += len(data)
                        request = 0
                        client.sendall(data)
                        with self._lock:
                            self.stats.bytes_down += len(data)
        except OSError:
            return
        finally:
            if client is not None:
                try:
                    client.close()
                except OSError:
                    pass
            if upstream is not None:
                try:
                    upstream.close()
                except OSError:
                    pass
