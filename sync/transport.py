"""The client's HTTP side of protocol v1: one keep-alive HTTPS session, bounded and strict.

What the single window sends is untrusted: a response is read with a hard size bound
and a total deadline (a server that trickles bytes cannot hold a sync forever), parsed
as JSON with bounded depth and validated against the protocol models; anything else is
a :class:`TransportError` (``transport.bad_response``), never a crash and never half a
result.  TLS verification is always on; the server certificate can also be pinned by
its SHA-256.  Errors say whether a retry can help (``retryable``, ``retry_after``) so
the outbox engine can back off.

A batch goes in the thinnest form the server offers (``/v1/health``, asked once per
client): each certificate chain once per batch, and zstd with the shipped dictionary;
gzip and the full headers against a server that offers neither.
"""

from __future__ import annotations

import email.utils
import gzip
import json
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import requests
from pydantic import BaseModel, ValidationError
from requests.adapters import HTTPAdapter

from client.common.closing import Closing
from client.common.i18n import ComptoirError
from client.common.jsonguard import too_deep
from sync.protocol import (
    API_PREFIX,
    LOG_SIZE_HEADER,
    PROBLEM_CONTENT_TYPE,
    RESULTS_HEADER,
    BatchResponse,
    ConsistencyResponse,
    EnrolRequest,
    EnrolResponse,
    HealthResponse,
    NotificationPage,
    Problem,
    RefdataResponse,
    TokenResponse,
    TreeHeadResponse,
    TrustResponse,
    fill_results,
    thin_batch,
)
from sync.wire import FAST_LINK_BPS, BodyError, encode_body, inflate

M = TypeVar("M", bound=BaseModel)

MAX_JSON_DEPTH = 64
_READ_CHUNK = 64 * 1024
_USER_AGENT = "comptoir-sync/1"


class TransportError(ComptoirError):
    """The single window could not be reached or answered something unusable.

    ``retryable`` says whether the same request may succeed later (connection errors,
    timeouts, 5xx, 429, 409); ``retry_after`` carries the server's Retry-After in seconds.
    Exit code 3: the server is unreachable and work stays queued.
    """

    exit_code = 3

    def __init__(self, code: str, /, *, retryable: bool = True,
                 retry_after: float | None = None, **params: Any) -> None:
        super().__init__(code, **params)
        self.retryable = retryable
        self.retry_after = retry_after


class ProblemError(TransportError):
    """The server answered with RFC 9457 problem details."""

    def __init__(self, status: int, problem_code: str, title: str, detail: str | None,
                 retry_after: float | None) -> None:
        retryable = status >= 500 or status in (409, 429)
        super().__init__("transport.problem", retryable=retryable, retry_after=retry_after,
                         status=status, title=title, detail=detail or "",
                         problem_code=problem_code)
        self.status = status
        self.problem_code = problem_code
        self.title = title
        self.detail = detail
        if not retryable:
            self.exit_code = 2

    @property
    def code(self) -> str:  # type: ignore[override]
        """The server's problem code (``sandbox.idempotency_mismatch`` …)."""
        return self.problem_code


def read_bounded(resp: requests.Response, *, limit: int, read_timeout: float, url: str,
                 error: type[TransportError],
                 broken: Callable[[Exception], TransportError],
                 decode: bool = False) -> bytes:
    """A response body of at most ``limit`` bytes, read within ``read_timeout`` in total.

    Both connectors read hostile servers' bodies through this one function: a declared or
    actual size over the limit, or a body that trickles past the deadline, is refused with
    ``error``; a connection broken mid-body becomes what ``broken`` makes of it.
    ``decode`` lets urllib3 undo the Content-Encoding (CDS answers are small XML); the
    Comptoir protocol keeps the raw bytes and inflates them under its own bound.
    """
    try:
        declared = int(resp.headers.get("Content-Length", "0") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise error("transport.response_too_large", limit=limit)
    deadline = time.monotonic() + read_timeout
    chunks: list[bytes] = []
    size = 0
    raw = resp.raw
    reader = getattr(raw, "read1", None)
    try:
        while True:
            if time.monotonic() > deadline:
                raise error("transport.timeout", url=url)
            chunk = (reader(_READ_CHUNK, decode_content=decode) if reader
                     else raw.read(4096, decode_content=decode))
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise error("transport.response_too_large", limit=limit)
            chunks.append(chunk)
    except TransportError:
        raise
    except Exception as exc:  # noqa: BLE001 - urllib3/socket errors mid-body
        raise broken(exc) from exc
    return b"".join(chunks)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date), None when absent/invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(min(int(value), 86400))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, min(when.timestamp() - time.time(), 86400.0))


class _PinnedAdapter(HTTPAdapter):
    """Pass the expected certificate fingerprint to urllib3, checked on every connect."""

    def __init__(self, fingerprint: str | None, **kw: Any) -> None:
        self._fingerprint = fingerprint
        super().__init__(**kw)

    def init_poolmanager(self, *args: Any, **kw: Any) -> None:
        if self._fingerprint:
            kw["assert_fingerprint"] = self._fingerprint
        super().init_poolmanager(*args, **kw)


class SingleWindowClient(Closing):
    """Protocol v1 over one keep-alive ``requests`` session."""

    def __init__(self, base_url: str, *, ca_pem_path: Path | None, token: str | None = None,
                 pin_sha256: str | None = None, timeout: tuple[float, float] = (5, 30),
                 max_response_bytes: int = 32 << 20) -> None:
        self.base_url = base_url.rstrip("/")
        if not self.base_url.startswith("https://"):
            raise TransportError("transport.https_required", retryable=False,
                                 url=self.base_url)
        self.token = token
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self.bytes_sent = 0
        self.bytes_received = 0
        self.offer: HealthResponse | None = None  # what the server takes (health, cached)
        self.link_bps: float | None = None  # upload rate seen by the last batch
        self.last_coding = ""  # Content-Encoding of the last request body sent
        pin = None
        if pin_sha256:
            pin = pin_sha256.replace(":", "").strip().lower()
            if len(pin) != 64 or any(c not in "0123456789abcdef" for c in pin):
                raise TransportError("transport.bad_pin", retryable=False)
        self.pin_sha256 = pin
        self._verify: str | bool = str(ca_pem_path) if ca_pem_path else True
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy or CA bundle from the environment
        adapter = _PinnedAdapter(pin, pool_connections=1, pool_maxsize=4, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.headers.update({"User-Agent": _USER_AGENT,
                                     "Accept": f"application/json, {PROBLEM_CONTENT_TYPE}",
                                     "Accept-Encoding": "gzip"})

    # -- public API --------------------------------------------------------------
    def health(self) -> HealthResponse:
        self.offer = self._call("GET", "/health", HealthResponse, auth=False)
        return self.offer

    def enrol(self, req: EnrolRequest) -> EnrolResponse:
        return self._call("POST", "/enrol", EnrolResponse, body=req.model_dump(mode="json"),
                          auth=False)

    def submit(self, envelopes: list[dict[str, Any]], idempotency_key: str,
               log_size: int = 0, known: Sequence[dict[str, Any]] | None = None
               ) -> BatchResponse:
        """POST one batch.  ``known``: per envelope what the sender holds of it
        (``SENDER_KNOWS_LEAF``'s members): its chain link spares the thin form hashing
        it again, and a server that offers thin results is asked for them."""
        kept = self.offer is not None
        try:
            return self._submit(envelopes, idempotency_key, log_size, known)
        except ProblemError as exc:
            if exc.status != 415 or not kept:
                raise
        # A coding the server no longer takes (an upgrade dropped a dictionary while this
        # client kept its offer): nothing was processed, so ask again and resend once.
        self.offer = None
        return self._submit(envelopes, idempotency_key, log_size, known)

    def _submit(self, envelopes: list[dict[str, Any]], idempotency_key: str, log_size: int,
                known: Sequence[dict[str, Any]] | None) -> BatchResponse:
        headers = {"Idempotency-Key": idempotency_key}
        if log_size:
            headers[LOG_SIZE_HEADER] = str(log_size)
        offer = self.offer or self._probe_offer()
        hashes = [k["envelope_hash"] for k in known] if known is not None else None
        body = thin_batch(envelopes, hashes) if offer.thin_headers else {"envelopes": envelopes}
        fill = None
        if known is not None and offer.thin_results:
            headers[RESULTS_HEADER] = "thin"
            fill = partial(fill_results, known=known)
        resp = self._call("POST", "/envelopes", BatchResponse, body=body, headers=headers,
                          fill=fill)
        if len(resp.results) != len(envelopes) or any(
                r.index != i for i, r in enumerate(resp.results)):
            raise TransportError("transport.bad_response", reason="results do not match batch")
        return resp

    def warm_offer(self) -> None:
        """Ask what the server takes now, while nothing waits on the answer, so that the
        next drain's first batch goes out at once (on a 64 kbit/s line the probe's round
        trip left the upload idle for 75 ms at the start of every drain)."""
        if self.offer is None:
            try:
                self._probe_offer()
            except TransportError:
                pass  # best effort: the next drain asks before its first batch

    def _probe_offer(self) -> HealthResponse:
        """What the server takes, asked once; a probe that fails (an older or odd server,
        a blip) means the plain form for this client: gzip and full headers, which every
        server of protocol v1 takes.  The batch itself then says what is wrong, if
        anything.  A probe that reached no server (refused, reset, timed out) ends the
        round as the batch would have: one connection, no second try inside a round."""
        try:
            return self.health()
        except TransportError as exc:
            if getattr(exc, "status", None) is None:
                raise
            self.offer = HealthResponse(status="ok", version="1", time="")
            return self.offer

    def notifications(self, after: int, limit: int = 500) -> NotificationPage:
        return self._call("GET", "/notifications", NotificationPage,
                          params={"after": after, "limit": limit})

    def refdata(self, since: int) -> RefdataResponse:
        return self._call("GET", "/refdata", RefdataResponse, params={"since": since},
                          auth=False)

    def log_head(self) -> TreeHeadResponse:
        """The receipts log's latest signed tree head."""
        return self._call("GET", "/log/head", TreeHeadResponse)

    def log_consistency(self, first: int, second: int) -> ConsistencyResponse:
        """RFC 9162 consistency proof between two sizes of the receipts log."""
        return self._call("GET", "/log/consistency", ConsistencyResponse,
                          params={"first": first, "second": second})
    def refresh_token(self) -> TokenResponse:
        """A fresh API token for this device (the current one dies at the new one's use)."""
        return self._call("POST", "/token", TokenResponse, body={})

    def trust(self) -> TrustResponse:
        """Trust material for offline verification (officer tokens only)."""
        return self._call("GET", "/trust", TrustResponse)

    def close(self) -> None:
        self.session.close()

    # -- the one request path ----------------------------------------------------
    def _call(self, method: str, path: str, model: type[M], *, body: Any = None,
              params: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
              auth: bool = True, fill: Callable[[Any], None] | None = None) -> M:
        url = f"{self.base_url}{API_PREFIX}{path}"
        hdrs = dict(headers or {})
        data: bytes | None = None
        if body is not None:
            raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            if self.offer is not None:
                data, coding = encode_body(raw, self.offer.request_encodings,
                                           self.offer.zstd_dictionaries, self.link_bps)
            else:
                data, coding = gzip.compress(raw, compresslevel=6, mtime=0), "gzip"
            hdrs["Content-Type"] = "application/json"
            hdrs["Content-Encoding"] = self.last_coding = coding
        if self._thin_answers():
            hdrs["Accept-Encoding"] = "zstd, gzip"
        if auth:
            if not self.token:
                raise TransportError("transport.no_token", retryable=False)
            hdrs["Authorization"] = f"Bearer {self.token}"
        try:
            resp = self.session.request(method, url, data=data, params=params, headers=hdrs,
                                        timeout=self.timeout, verify=self._verify,
                                        stream=True, allow_redirects=False)
        except requests.exceptions.SSLError as exc:
            if "fingerprint" in str(exc).lower():
                raise TransportError("transport.pin_mismatch", retryable=False,
                                     url=self.base_url) from exc
            raise TransportError("transport.tls_failed", retryable=True, url=self.base_url,
                                 reason=_short(exc)) from exc
        except requests.exceptions.Timeout as exc:
            raise TransportError("transport.timeout", url=self.base_url) from exc
        except requests.exceptions.RequestException as exc:
            raise TransportError("transport.unreachable", url=self.base_url,
                                 reason=_short(exc)) from exc
        if data and len(data) > 4096 and resp.elapsed.total_seconds() > 0:
            self.link_bps = len(data) * 8 / resp.elapsed.total_seconds()
        try:
            self.bytes_sent += len(data or b"") + _request_overhead(resp.request)
            payload = self._read_bounded(resp)
        finally:
            resp.close()
        self.bytes_received += len(payload) + sum(len(k) + len(v) + 4
                                                  for k, v in resp.headers.items()) + 17
        payload = self._inflate(payload, resp.headers.get("Content-Encoding", ""))
        status = resp.status_code
        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        if status >= 400:
            raise self._problem(status, payload, resp.headers.get("Content-Type", ""),
                                retry_after)
        if status != 200:
            raise TransportError("transport.bad_response", retryable=status >= 300,
                                 reason=f"HTTP {status}")
        doc = self._json(payload)
        if fill is not None:
            fill(doc)
        try:
            return model.model_validate(doc)
        except ValidationError as exc:
            raise TransportError("transport.bad_response",
                                 reason=_short(exc.errors()[0].get("msg", exc))) from exc

    def _read_bounded(self, resp: requests.Response) -> bytes:
        """The raw body (still compressed: ``_inflate`` bounds the inflation itself)."""

        def broken(exc: Exception) -> TransportError:
            if isinstance(exc, requests.exceptions.RequestException):
                return TransportError("transport.unreachable", url=self.base_url,
                                      reason=_short(exc))
            code = "transport.timeout" if "timeout" in type(exc).__name__.lower() \
                else "transport.unreachable"
            return TransportError(code, url=self.base_url, reason=_short(exc))

        return read_bounded(resp, limit=self.max_response_bytes, read_timeout=self.timeout[1],
                            error=TransportError, url=self.base_url, broken=broken)

    def _thin_answers(self) -> bool:
        """Ask for answers in zstd: the single window takes zstd (its offer says so) and
        the link is thin or not yet measured, as for what this client sends
        (:func:`sync.wire.encode_body`)."""
        if self.offer is None or "zstd" not in self.offer.request_encodings:
            return False
        return self.link_bps is None or self.link_bps <= FAST_LINK_BPS

    def _inflate(self, payload: bytes, encoding: str) -> bytes:
        """The body decoded, bounded by ``max_response_bytes`` (a zstd or gzip bomb is
        refused as too large, without inflating it whole)."""
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            return payload
        if encoding not in ("gzip", "zstd"):
            raise TransportError("transport.bad_response", reason=f"encoding {encoding[:20]}")
        try:
            return inflate(payload, encoding, self.max_response_bytes)
        except BodyError as exc:
            if exc.reason == "too_large":
                raise TransportError("transport.response_too_large",
                                     limit=self.max_response_bytes) from exc
            raise TransportError("transport.bad_response",
                                 reason=f"{exc.reason} {encoding}") from exc

    def _json(self, payload: bytes) -> Any:
        try:
            doc = json.loads(payload)
        except (ValueError, RecursionError) as exc:
            raise TransportError("transport.bad_response", reason="not JSON") from exc
        if too_deep(doc, MAX_JSON_DEPTH):
            raise TransportError("transport.bad_response", reason="JSON nested too deeply")
        return doc

    def _problem(self, status: int, payload: bytes, content_type: str,
                 retry_after: float | None) -> TransportError:
        problem: Problem | None = None
        if "json" in content_type.lower():
            try:
                problem = Problem.model_validate(self._json(payload))
            except (TransportError, ValidationError):
                problem = None
        if problem is None:
            problem = Problem(title=f"HTTP {status}", status=status, code=f"http.{status}")
        return ProblemError(status, problem.code, problem.title, problem.detail, retry_after)


def _short(exc: Any) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _request_overhead(req: requests.PreparedRequest | None) -> int:
    """Approximate bytes of the request line and headers (for wire-byte figures)."""
    if req is None:
        return 0
    line = len(req.method or "") + len(req.path_url or "") + 11
    return line + sum(len(k) + len(str(v)) + 4 for k, v in req.headers.items()) + 2
