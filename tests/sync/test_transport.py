"""sync.transport against the real sandbox and against a small hostile TLS server."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from client.declaration.mrn import is_valid_mrn
from client.seal.envelope import verify_receipt
from sync.protocol import EnrolRequest
from sync.transport import ProblemError, SingleWindowClient, TransportError
from tests.sync.conftest import batch_receipts


def _client(handle, token: str | None = None, **kw) -> SingleWindowClient:
    return SingleWindowClient(handle.url, ca_pem_path=handle.ca_pem_path, token=token, **kw)


def _pin(handle) -> str:
    tls = x509.load_pem_x509_certificate((handle.ca_pem_path.parent / "tls.pem").read_bytes())
    return hashlib.sha256(tls.public_bytes(serialization.Encoding.DER)).hexdigest()


# -- against the real sandbox --------------------------------------------------------

def test_enrol_submit_feed_and_refdata_through_the_transport(green_sandbox, Traders):
    t = Traders(green_sandbox, enrol=False)
    with _client(green_sandbox, pin_sha256=_pin(green_sandbox)) as c:
        assert c.health().status == "ok"
        resp = c.enrol(EnrolRequest.model_validate(t.enrol_request()))
        assert resp.trader_id == t.trader_id and resp.token
        assert c.refdata(0).lists and c.refdata(c.refdata(0).version).lists == []
    t.token = resp.token
    t.enrolment = resp.model_dump()
    t.x5c = [base64.b64encode(x509.load_pem_x509_certificate(p.encode())
             .public_bytes(serialization.Encoding.DER)).decode()
             for p in resp.certificate_chain_pem]
    c = _client(green_sandbox, token=resp.token)
    envs = [t.seal() for _ in range(20)]
    key = str(uuid.uuid4())
    batch = c.submit(envs, key)
    assert [r.status for r in batch.results] == ["accepted"] * 20
    receipt_cert = x509.load_pem_x509_certificate(resp.receipt_certificate_pem.encode())
    receipts = batch_receipts(batch.model_dump(mode="json"), receipt_cert)
    for r, rc in zip(batch.results, receipts, strict=True):
        assert is_valid_mrn(r.mrn)
        assert verify_receipt(rc, receipt_cert)["envelope_hash"] == r.envelope_hash
    assert c.submit(envs, key) == batch  # replayed
    page = c.notifications(0, limit=1000)
    assert len(page.notifications) == 60 and page.next == page.notifications[-1].cursor
    # Bodies go compressed: far fewer bytes sent than the JSON of the envelopes.
    raw = len(json.dumps({"envelopes": envs}).encode())
    assert 0 < c.bytes_sent < raw and c.bytes_received > 0
    c.close()


def test_answers_come_in_zstd_on_a_thin_link_and_gzip_on_a_fast_one(green_sandbox, Traders):
    """A client on a thin (or not yet measured) link asks for zstd and gets it, the same
    page as a fast client's gzip one, in fewer bytes; a fast client never asks."""
    t = Traders(green_sandbox)
    answer = t.post([t.seal() for _ in range(20)]).json()
    assert [r["status"] for r in answer["results"]] == ["accepted"] * 20
    pages, codings, sizes = {}, {}, {}
    for name, bps in (("thin", 64_000.0), ("unmeasured", None), ("fast", 50e6)):
        c = _client(green_sandbox, token=t.token)
        c.health()
        c.link_bps = bps
        seen: list[tuple[str | None, str | None]] = []
        c.session.hooks["response"].append(lambda r, *_a, seen=seen, **_k: seen.append(
            (r.request.headers.get("Accept-Encoding"), r.headers.get("Content-Encoding"))))
        before = c.bytes_received
        pages[name] = c.notifications(0, limit=1000)
        sizes[name] = c.bytes_received - before
        codings[name] = seen[-1]
        c.close()
    assert len(pages["fast"].notifications) == 60
    assert pages["thin"] == pages["unmeasured"] == pages["fast"]
    assert codings == {"thin": ("zstd, gzip", "zstd"), "unmeasured": ("zstd, gzip", "zstd"),
                       "fast": ("gzip", "gzip")}
    assert sizes["thin"] < sizes["fast"]


def test_problems_map_to_problem_errors_with_retryability(green_sandbox, Traders):
    t = Traders(green_sandbox)
    c = _client(green_sandbox, token=t.token)
    envs = [t.seal()]
    key = str(uuid.uuid4())
    c.submit(envs, key)
    with pytest.raises(ProblemError) as exc:
        c.submit([t.seal()], key)  # same key, other body
    e = exc.value
    assert e.status == 422 and e.code == "sandbox.idempotency_mismatch" and not e.retryable
    assert "422" in e.render("en")
    with pytest.raises(ProblemError) as exc:
        _client(green_sandbox, token="wrong").notifications(0)
    assert exc.value.status == 401 and not exc.value.retryable
    with pytest.raises(TransportError) as exc2:
        _client(green_sandbox).notifications(0)  # no token at all: not even sent
    assert exc2.value.code == "transport.no_token"


def test_wrong_pin_is_refused_and_unreachable_is_retryable(green_sandbox):
    with pytest.raises(TransportError) as exc:
        _client(green_sandbox, pin_sha256="00" * 32).health()
    assert exc.value.code == "transport.pin_mismatch" and not exc.value.retryable
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    c = SingleWindowClient(f"https://127.0.0.1:{port}", ca_pem_path=green_sandbox.ca_pem_path,
                           timeout=(1, 1))
    with pytest.raises(TransportError) as exc:
        c.health()
    assert exc.value.code == "transport.unreachable" and exc.value.retryable
    assert exc.value.exit_code == 3
    with pytest.raises(TransportError):
        SingleWindowClient("http://127.0.0.1:1", ca_pem_path=None)


def test_the_system_trust_store_does_not_know_the_sandbox(green_sandbox):
    c = SingleWindowClient(green_sandbox.url, ca_pem_path=None, timeout=(2, 2))
    with pytest.raises(TransportError) as exc:
        c.health()
    assert exc.value.code == "transport.tls_failed"


# -- a hostile server ------------------------------------------------------------------

class Hostile:
    """A raw TLS server on loopback (sandbox CA's certificate) that misbehaves on demand."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.mode = "malformed"
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(cert), str(key))
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"https://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stopping = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, raw: socket.socket) -> None:
        try:
            conn = self.ctx.wrap_socket(raw, server_side=True)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            while len(body) < length:
                body += conn.recv(65536)
            self._respond(conn)
        except (OSError, ssl.SSLError):
            pass
        finally:
            raw.close()

    def _send(self, conn, status: str, body: bytes, headers: dict[str, str] | None = None,
              length: bool = True) -> None:
        h = {"Content-Type": "application/json", "Connection": "close", **(headers or {})}
        if length:
            h["Content-Length"] = str(len(body))
        head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items())
        conn.sendall(head.encode() + b"\r\n" + body)

    def _respond(self, conn) -> None:
        m = self.mode
        if m == "malformed":
            self._send(conn, "200 OK", b'{"status": "ok", "version": ')
        elif m == "500":
            self._send(conn, "500 Internal Server Error", b"<html>boom</html>",
                       {"Content-Type": "text/html"})
        elif m == "503":
            body = json.dumps({"type": "about:blank", "title": "Busy", "status": 503,
                               "code": "busy"}).encode()
            self._send(conn, "503 Service Unavailable", body,
                       {"Content-Type": "application/problem+json", "Retry-After": "7"})
        elif m == "schema":
            self._send(conn, "200 OK", json.dumps({"status": "fine", "version": 1}).encode())
        elif m == "deep":
            self._send(conn, "200 OK", b"[" * 5000 + b"]" * 5000)
        elif m == "oversized":
            self._send(conn, "200 OK", b" " * (3 << 20), length=False)
        elif m == "oversized_declared":
            head = "HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n"
            conn.sendall(head.encode() + b"{")
        elif m == "gzip_bomb":
            self._send(conn, "200 OK", gzip.compress(b" " * (50 << 20)),
                       {"Content-Encoding": "gzip"})
        elif m.startswith("zstd_"):
            self._send(conn, "200 OK", self._zstd(m[5:]), {"Content-Encoding": "zstd"})
        elif m == "brotli":
            self._send(conn, "200 OK", b"\x0b\x02\x80{}\x03", {"Content-Encoding": "br"})
        elif m == "trickle":
            body = json.dumps({"status": "ok", "version": "1", "time": "x" * 500}).encode()
            conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n"
                         "Content-Type: application/json\r\n\r\n".encode())
            for b in body:
                if self.stopping:
                    return
                conn.sendall(bytes([b]))
                time.sleep(0.05)

    @staticmethod
    def _zstd(kind: str) -> bytes:
        """zstd bodies a hostile server might send: 50 MiB of spaces with or without
        the size in the frame's header, garbage, a cut frame, a dictionary nobody has."""
        ok = json.dumps({"status": "ok", "version": "1", "time": "x" * 4000}).encode()
        if kind == "bomb":
            return zstandard.ZstdCompressor(write_content_size=False).compress(b" " * (50 << 20))
        if kind == "bomb_declared":
            return zstandard.ZstdCompressor().compress(b" " * (50 << 20))
        if kind == "corrupt":
            return b"\x28\xb5\x2f\xfd" + b"\x00garbage" * 20
        if kind == "truncated":
            return zstandard.ZstdCompressor().compress(ok)[:-8]
        samples = [json.dumps({"status": "ok", "n": i, "note": f"sample {i * 7919}"}).encode()
                   for i in range(2000)]
        zdict = zstandard.train_dictionary(2048, samples, dict_id=4242)
        return zstandard.ZstdCompressor(dict_data=zdict).compress(ok)

    def close(self) -> None:
        self.stopping = True
        self.sock.close()


@pytest.fixture(scope="module")
def hostile(green_sandbox) -> Iterator[Hostile]:
    home = green_sandbox.ca_pem_path.parent
    h = Hostile(home / "tls.pem", home / "tls.key")
    yield h
    h.close()


def _hostile_client(hostile: Hostile, green_sandbox, **kw) -> SingleWindowClient:
    kw.setdefault("timeout", (2, 2))
    return SingleWindowClient(hostile.url, ca_pem_path=green_sandbox.ca_pem_path,
                              token="t", **kw)


@pytest.mark.parametrize("mode,code,retryable", [
    ("malformed", "transport.bad_response", True),
    ("schema", "transport.bad_response", True),
    ("deep", "transport.bad_response", True),
    ("oversized", "transport.response_too_large", True),
    ("oversized_declared", "transport.response_too_large", True),
    ("gzip_bomb", "transport.response_too_large", True),
    ("zstd_bomb", "transport.response_too_large", True),
    ("zstd_bomb_declared", "transport.response_too_large", True),
    ("zstd_corrupt", "transport.bad_response", True),
    ("zstd_truncated", "transport.bad_response", True),
    ("zstd_unknown_dictionary", "transport.bad_response", True),
    ("brotli", "transport.bad_response", True),
])
def test_hostile_bodies_are_clear_errors_never_crashes(hostile, green_sandbox, mode, code,
                                                       retryable):
    hostile.mode = mode
    c = _hostile_client(hostile, green_sandbox, max_response_bytes=1 << 20)
    with pytest.raises(TransportError) as exc:
        c.health()
    assert exc.value.code == code and exc.value.retryable is retryable
    assert exc.value.render("fr") and exc.value.render("en")


def test_server_errors_are_retryable_problems_with_retry_after(hostile, green_sandbox):
    hostile.mode = "500"
    with pytest.raises(ProblemError) as exc:
        _hostile_client(hostile, green_sandbox).notifications(0)
    assert exc.value.status == 500 and exc.value.retryable and exc.value.code == "http.500"
    hostile.mode = "503"
    with pytest.raises(ProblemError) as exc:
        _hostile_client(hostile, green_sandbox).submit([{"protected": "", "payload": "",
                                                          "signature": ""}], "k")
    assert exc.value.status == 503 and exc.value.retryable and exc.value.retry_after == 7.0


def test_a_trickling_body_hits_the_total_deadline(hostile, green_sandbox):
    hostile.mode = "trickle"
    c = _hostile_client(hostile, green_sandbox, timeout=(2, 1.5))
    with pytest.raises(TransportError) as exc:
        c.health()
    # a byte arrives every 50 ms, far inside the 1.5 s read timeout, so no single read
    # ever times out: a timeout here can only be the total deadline's
    assert exc.value.code == "transport.timeout" and exc.value.retryable


def test_a_hostile_server_with_the_wrong_pin_is_refused_before_any_request(hostile,
                                                                            green_sandbox):
    hostile.mode = "malformed"
    c = _hostile_client(hostile, green_sandbox, pin_sha256="ab" * 32)
    with pytest.raises(TransportError) as exc:
        c.health()
    assert exc.value.code == "transport.pin_mismatch"
