"""The sandbox single window's HTTP API (FastAPI): protocol v1 under /v1.

Every error is RFC 9457 ``application/problem+json`` with a stable ``code`` (FastAPI's
own 404/405/422 included).  Request bodies may be gzip- or zstd-compressed (the codings
and zstd dictionaries on offer are in ``/v1/health``); the decompressed size is bounded
(a bomb stops at the bound, it is never inflated in full).  Answers come in zstd to a
client that asks for it (``Accept-Encoding: zstd``, as a client on a thin link does),
else gzip.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import json
import logging
import math
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from client.common.i18n import ComptoirError, tr
from client.seal import translog as tl
from sync.protocol import (
    API_PREFIX,
    LOG_SIZE_HEADER,
    MAX_BODY_BYTES,
    MAX_FEED_LIMIT,
    PROBLEM_CONTENT_TYPE,
    PROTOCOL_VERSION,
    RESULTS_HEADER,
    BatchResponse,
    ConsistencyResponse,
    EnrolRequest,
    EnrolResponse,
    HealthResponse,
    NotificationPage,
    Problem,
    RefdataResponse,
    RefList,
    SubmitRequest,
    TokenResponse,
    TreeHeadResponse,
    TrustResponse,
    WireFormError,
    WithdrawnLink,
    check_chains,
    thin_results,
)
from sync.sandbox import authz
from sync.sandbox import officer as officer_mod
from sync.sandbox import refdata as refdata_mod
from sync.sandbox.ca import SandboxPKI, cert_serial
from sync.sandbox.checks import Checker, Prepared
from sync.sandbox.intake import (
    IntakeContext,
    check_batch,
    now_iso,
    prepare_batch,
    process_batch,
)
from sync.sandbox.pipeline import DEFAULT_CLOCK_SPEED, Clock, LaneMode
from sync.sandbox.store import TOKEN_LIFETIME, Principal, SandboxStore
from sync.sandbox.translog import MerkleLog
from sync.wire import (
    ZSTD_RESPONSE_MIN_BYTES,
    BodyError,
    accepts_zstd,
    encode_response,
    inflate,
    server_offer,
)

FINGERPRINT_KEY = "comptoir.body_sha256"

_log = logging.getLogger("comptoir.sandbox")


@dataclass
class SandboxSettings:
    home: Path
    db_url: str | None = None
    seed: int = 0
    lane: LaneMode = "auto"
    country: str = "GB"
    clock_speed: float = DEFAULT_CLOCK_SPEED
    refdata_dir: Path | None = None
    tick_seconds: float = 0.2
    check_processes: int = 0  # extra processes checking signatures and rules of big batches
    max_pending_batches: int = 64  # batches running or waiting; past that: 503 + Retry-After
    running_batches: int = 2  # batches worked on at once by one worker process
    max_held_per_device: int = 256  # envelopes waiting for a gap in one device's chain
    token_lifetime: float = TOKEN_LIFETIME  # seconds
    training: bool = False  # the desktop's training mode: says so, enrols training profiles only
    secret_key: str | None = None  # 64 hex: DB under SQLCipher and PKI keys encrypted (training)
    thin_link: bool = True  # offer zstd and the chain once per batch (False: as before #15)


@dataclass
class SandboxState:
    """Everything the running app shares between requests."""

    settings: SandboxSettings
    pki: SandboxPKI
    store: SandboxStore
    lists: dict[str, dict[str, dict[str, str]]]
    versions: dict[str, int]
    checker: Checker
    log: MerkleLog
    gate: FairGate | None = None
    in_flight: set[tuple[str, str]] = field(default_factory=set)
    in_flight_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, settings: SandboxSettings) -> SandboxState:
        password = settings.secret_key.encode("ascii") if settings.secret_key else None
        pki = SandboxPKI(settings.home, password).ensure()
        db_url = settings.db_url
        if db_url is None and settings.secret_key:
            from sqlalchemy.engine import URL

            db_url = URL.create("sqlite+pysqlcipher", password=f"x'{settings.secret_key}'",
                                database=str(settings.home / "sandbox.db"))
        store = open_store(settings.home, db_url)
        lists = refdata_mod.load_lists(settings.refdata_dir, settings.country)
        versions = store.refdata_versions({k: refdata_mod.digest(v) for k, v in lists.items()})
        checker = Checker(pki.ca_cert, pki.ca_pem.encode(), settings.check_processes)
        jwk = pki.receipt_private_jwk
        log = MerkleLog(f"comptoir-sandbox:{jwk['kid']}", jwk)
        return cls(settings, pki, store, lists, versions, checker, log)

    @property
    def refdata_version(self) -> int:
        """The newest list's version: what ``/refdata`` and each feed page name."""
        return max(self.versions.values(), default=0)

    def close(self) -> None:
        self.checker.close()
        self.store.close()

    def new_enrolment_code(self, trader_id: str, role: str = "trader") -> str:
        return new_enrolment_code(self.store, trader_id, role)


def open_store(home: Path, db_url: Any = None) -> SandboxStore:
    home.mkdir(parents=True, exist_ok=True)
    return SandboxStore(db_url or f"sqlite:///{home / 'sandbox.db'}")


def new_enrolment_code(store: SandboxStore, trader_id: str, role: str = "trader") -> str:
    """A one-time code, 4 groups of 4 unambiguous characters (read over the phone)."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    raw = "".join(secrets.choice(alphabet) for _ in range(16))
    code = "-".join(raw[i:i + 4] for i in range(0, 16, 4))
    store.add_enrolment_code(code, trader_id, role)
    return code


class ProblemException(Exception):
    def __init__(self, status: int, code: str, detail: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(code)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers


def problem_response(status: int, code: str, detail: str | None, instance: str | None,
                     headers: dict[str, str] | None = None) -> JSONResponse:
    body = Problem(type=f"urn:comptoir:problem:{code}", title=tr(code, "en"), status=status,
                   detail=detail, instance=instance, code=code)
    return JSONResponse(body.model_dump(), status_code=status, headers=headers,
                        media_type=PROBLEM_CONTENT_TYPE)


class ZstdResponseMiddleware:
    """Answers in zstd to a client that asks for it (a client on a thin link does: on a
    64 kbit/s line a feed page of 180 statuses came down in 1.9 kB instead of gzip's
    2.6 kB, the link's upload side idle meanwhile).  Inside the gzip middleware, which
    leaves a response alone once it has a Content-Encoding."""

    def __init__(self, app: ASGIApp, enabled: Callable[[], bool]) -> None:
        self.app, self.enabled = app, enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.enabled() or not accepts_zstd(
                _header(scope, b"accept-encoding")):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def coded(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            headers = [(k, v) for k, v in start.get("headers", [])]
            names = {k.lower() for k, _ in headers}
            if len(body) >= ZSTD_RESPONSE_MIN_BYTES and b"content-encoding" not in names:
                body = encode_response(body)
                headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
                headers += [(b"content-encoding", b"zstd"), (b"vary", b"Accept-Encoding"),
                            (b"content-length", str(len(body)).encode())]
            await send(dict(start, headers=headers))
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app(scope, receive, coded)


def _header(scope: Scope, name: bytes) -> str:
    for k, v in scope.get("headers", []):
        if k.lower() == name:
            return str(v.decode("latin-1"))
    return ""


class BodyLimitMiddleware:
    """Inflate gzip or zstd request bodies with a hard bound; fingerprint the
    decompressed body."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES,
                 codings: Callable[[], tuple[str, ...]] | None = None) -> None:
        self.app, self.limit = app, limit
        self.codings = codings or (lambda: ("identity", "gzip", "zstd"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        encoding = headers.get("content-encoding", "identity").strip().lower()
        path = scope.get("path", "")
        if encoding not in ("", *self.codings()):
            await problem_response(415, "sandbox.bad_encoding", encoding[:40], path)(
                scope, receive, send)
            return
        try:
            declared = int(headers.get("content-length", "0") or 0)
        except ValueError:
            declared = 0
        if declared > self.limit:
            await problem_response(413, "sandbox.body_too_large", None, path)(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await problem_response(413, "sandbox.body_too_large", None, path)(
                    scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        try:
            body = inflate(b"".join(chunks), encoding, self.limit)
        except BodyError as exc:
            status, code = {"too_large": (413, "sandbox.body_too_large"),
                            "unsupported": (415, "sandbox.bad_encoding")}.get(
                                exc.reason, (400, "sandbox.bad_encoding"))
            await problem_response(status, code, exc.detail if status != 413 else None,
                                   path)(scope, receive, send)
            return
        scope.setdefault("state", {})
        scope[FINGERPRINT_KEY] = hashlib.sha256(body).hexdigest()
        new_headers = [(k, v) for k, v in scope.get("headers", [])
                       if k.lower() not in (b"content-encoding", b"content-length")]
        new_headers.append((b"content-length", str(len(body)).encode()))
        scope = dict(scope, headers=new_headers)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


class FairGate:
    """Batches admitted in fair order across devices, with a bounded wait.

    After an outage every post drains at once.  At most ``capacity`` batches are worked
    on at a time and up to ``queue_max`` more wait, served in the order of their
    self-clocked fair queueing finish tag: a batch starts at the later of the virtual
    time and the end of its device's previous batch, and its size (bytes) is added, so a
    post with three declarations goes ahead of a neighbour's backlog of thousands.  When
    the queue is full a newcomer with an earlier tag takes the place of the latest one,
    which is refused; so is a batch that would wait more than ``max_wait_s`` behind the
    work queued ahead of it (measured as it goes, per KB).  A refused batch gets 503 at
    once with a Retry-After worked out from the work queued — nothing waits unbounded.
    """

    def __init__(self, capacity: int = 2, queue_max: int = 64, max_retry_after: int = 30,
                 max_wait_s: float = 2.0) -> None:
        self.capacity, self.queue_max = max(1, capacity), max(0, queue_max)
        self.max_retry_after = max_retry_after
        self.max_wait_s = max_wait_s
        self.running = 0
        self.virtual = 0.0
        self.finish: dict[str, float] = {}
        self.waiting: list[tuple[float, int, str, float, asyncio.Future[bool]]] = []
        self._seq = 0
        self.service_s = 0.2  # moving average of one batch's time in the intake
        self.s_per_cost = 0.002  # moving average of that time per KB sent
        self.shed = 0
        self.admitted = 0

    def expected_wait(self, finish: float) -> float:
        """Seconds a batch with this finish tag would wait: the work queued ahead of it
        and the batches running, spread over the capacity."""
        ahead = sum(c for f, _, _, c, _ in self.waiting if f < finish)
        return (ahead * self.s_per_cost + self.running * self.service_s / 2) / self.capacity

    def _tags(self, device: str, cost: float) -> tuple[float, float]:
        previous = self.finish.get(device, 0.0)
        finish = max(self.virtual, previous) + cost
        self.finish[device] = finish
        if len(self.finish) > 100_000:  # devices long idle start again from the virtual time
            self.finish = {k: v for k, v in self.finish.items() if v > self.virtual}
        return finish, previous

    def _admit(self, finish: float) -> None:
        self.running += 1
        self.admitted += 1
        self.virtual = max(self.virtual, finish)

    async def acquire(self, device: str, cost: float) -> bool:
        """Wait for this batch's turn; False when it is refused (shed)."""
        if self.running < self.capacity and not self.waiting:
            self._admit(self._tags(device, cost)[0])
            return True
        finish, previous = self._tags(device, cost)
        if self.expected_wait(finish) > self.max_wait_s:  # better told when to come back
            self.finish[device] = previous
            self.shed += 1
            return False
        if len(self.waiting) >= self.queue_max:
            latest = max(self.waiting, default=None)
            if latest is None or latest[0] <= finish:
                self.finish[device] = previous  # refused: it used nothing
                self.shed += 1
                return False
            self.waiting.remove(latest)
            heapq.heapify(self.waiting)
            self.finish[latest[2]] -= latest[3]
            self.shed += 1
            latest[4].set_result(False)
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self.waiting, (finish, self._seq, device, cost, fut))
        try:
            return await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled() and fut.result():
                self.release(0.0)  # admitted just as its client went away: pass it on
            raise

    def release(self, elapsed: float, cost: float = 0.0) -> None:
        if elapsed > 0:
            self.service_s = 0.8 * self.service_s + 0.2 * elapsed
            if cost > 0:
                self.s_per_cost = 0.8 * self.s_per_cost + 0.2 * elapsed / cost
        self.running -= 1
        while self.waiting and self.running < self.capacity:
            finish, _, _, _, fut = heapq.heappop(self.waiting)
            if fut.done():
                continue  # its client went away
            self._admit(finish)
            fut.set_result(True)

    def retry_after(self) -> int:
        """Seconds until the work queued now is likely done."""
        return max(1, min(self.max_retry_after, math.ceil(self.expected_wait(math.inf))))


class OverloadMiddleware:
    """Admit envelope batches through a :class:`FairGate` keyed by the API token (one per
    enrolled device); refuse with 503 + Retry-After what it cannot take."""

    def __init__(self, app: ASGIApp, gate: FairGate) -> None:
        self.app, self.gate = app, gate

    @property
    def pending(self) -> int:
        return self.gate.running + len(self.gate.waiting)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or \
                not scope.get("path", "").endswith("/envelopes"):
            await self.app(scope, receive, send)
            return
        device, cost = _device_and_cost(scope)
        if not await self.gate.acquire(device, cost):
            await _drain(receive)
            await problem_response(503, "sandbox.overloaded", None, scope.get("path"),
                                   {"Retry-After": str(self.gate.retry_after()),
                                    "Connection": "close"})(scope, receive, send)
            return
        started = time.monotonic()
        try:
            await self.app(scope, receive, send)
        finally:
            self.gate.release(time.monotonic() - started, cost)


def _device_and_cost(scope: Scope) -> tuple[str, float]:
    """Whose batch (a hash of the bearer token: one per device) and how big (its bytes
    as sent, in KB) — known before the body is read."""
    auth, size = b"", 0
    for k, v in scope.get("headers", []):
        if k == b"authorization":
            auth = v
        elif k == b"content-length":
            with contextlib.suppress(ValueError):
                size = int(v)
    return hashlib.sha256(auth).hexdigest()[:24], 1.0 + size / 1024


async def _drain(receive: Receive, limit: int = MAX_BODY_BYTES) -> None:
    """Read and drop a request body we refuse, so the connection ends cleanly."""
    seen = 0
    while seen <= limit:
        message = await receive()
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def content_fingerprint(items: list[Prepared | WithdrawnLink]) -> str:
    """SHA-256 of a batch's content: each envelope's hash (its chain link, over the three
    members as signed) or withdrawn link, in order."""
    h = hashlib.sha256(b"comptoir-batch-v2")
    for item in items:
        if isinstance(item, WithdrawnLink):
            h.update(b"w" + json.dumps(item.model_dump(), sort_keys=True).encode("utf-8"))
        elif item.hash:
            h.update(b"e" + item.hash.encode("ascii"))
        else:  # not even an envelope's shape: its members, refused later
            h.update(b"m" + json.dumps(item.envelope, sort_keys=True).encode("utf-8"))
    return h.hexdigest()


_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: {"description": "Problem details (RFC 9457)", "model": Problem} for c in codes}


bearer = HTTPBearer(auto_error=False, description="API token from POST /v1/enrol")


def create_app(state: SandboxState | None) -> FastAPI:
    """The FastAPI application over one sandbox state (None: only for its OpenAPI)."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async def ticker() -> None:
            while True:
                await asyncio.sleep(state.settings.tick_seconds)
                with contextlib.suppress(Exception):
                    await run_in_threadpool(state.store.materialise_due, time.time(), now_iso())

        task = asyncio.create_task(ticker())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = FastAPI(title="Comptoir single window", version=PROTOCOL_VERSION,
                  description="Protocol v1 between Comptoir and a customs single window "
                              "(the sandbox implements it)." + authz.openapi_description(),
                  lifespan=lifespan)
    app.state.sandbox = state
    def thin_link() -> bool:
        return state is None or state.settings.thin_link

    app.add_middleware(ZstdResponseMiddleware, enabled=thin_link)
    app.add_middleware(GZipMiddleware, minimum_size=2048, compresslevel=5)

    app.add_middleware(BodyLimitMiddleware, codings=lambda: (
        ("identity", "gzip", "zstd") if thin_link() else ("identity", "gzip")))
    pending = state.settings.max_pending_batches if state else 64
    running = max(1, min(state.settings.running_batches if state else 2, pending))
    gate = FairGate(running, pending - running)
    if state is not None:
        state.gate = gate
    app.add_middleware(OverloadMiddleware, gate=gate)

    @app.exception_handler(ProblemException)
    async def _problem(request: Request, exc: ProblemException) -> JSONResponse:
        return problem_response(exc.status, exc.code, exc.detail, request.url.path, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "sandbox.not_found", 405: "sandbox.method_not_allowed"}.get(
            exc.status_code, "sandbox.http_error")
        return problem_response(exc.status_code, code, str(exc.detail)[:300], request.url.path,
                                dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for e in exc.errors()[:10]:
            loc = "/".join(str(x) for x in e.get("loc", ()))
            parts.append(f"{loc}: {e.get('msg', '')}")
        return problem_response(422, "sandbox.request_invalid", "; ".join(parts)[:1000],
                                request.url.path)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        # The client hears only the error's kind; the operator's log gets the traceback.
        _log.error("internal error on %s %s", request.method, request.url.path,
                   exc_info=(type(exc), exc, exc.__traceback__))
        return problem_response(500, "sandbox.internal", type(exc).__name__, request.url.path)

    def principal(creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
        """The token's principal, checked on every request: known, unexpired, and its
        certificate not revoked (each failure its own problem code)."""
        if creds is None or creds.scheme.lower() != "bearer":
            raise ProblemException(401, "sandbox.unauthorized", None,
                                   {"WWW-Authenticate": "Bearer"})
        p, reason = state.store.principal_or_reason(creds.credentials,
                                                    state.settings.token_lifetime)
        if p is None:
            code = {"expired": "sandbox.token_expired",
                    "revoked": "sandbox.token_revoked"}.get(reason, "sandbox.unauthorized")
            raise ProblemException(401, code, None, {"WWW-Authenticate": "Bearer"})
        return p

    @app.get(f"{API_PREFIX}/health", response_model=HealthResponse, tags=["health"])
    def health() -> HealthResponse:
        """Connectivity probe: cheap, no authentication."""
        if not thin_link():  # as a build before #15 said it
            return HealthResponse(status="ok", version=PROTOCOL_VERSION, time=now_iso(),
                                  training=bool(state and state.settings.training))
        encodings, dictionaries = server_offer()
        return HealthResponse(status="ok", version=PROTOCOL_VERSION, time=now_iso(),
                              training=bool(state and state.settings.training),
                              request_encodings=encodings, zstd_dictionaries=dictionaries,
                              thin_headers=True, thin_results=True)

    @app.post(f"{API_PREFIX}/enrol", response_model=EnrolResponse, tags=["enrolment"],
              responses=_problems(400, 403, 413, 415, 422))
    def enrol(req: EnrolRequest) -> EnrolResponse:
        """Exchange a one-time code and a CSR for a certificate chain and an API token.

        The code names its trader and role, so a device needs nothing else.  It is consumed
        only once the CSR checked out: a bad CSR leaves it usable.  Device, certificate and
        token are bound together here and checked on every request.
        """
        outcome, trader_id, role = state.store.enrolment_code(req.code, req.trader_id, req.role)
        if outcome in ("trader_mismatch", "role_mismatch"):
            # Only the holder of the code gets here: naming its trader tells them nothing new.
            raise ProblemException(403, f"sandbox.enrol_{outcome}", f"{trader_id} {role}")
        if outcome != "ok" or trader_id is None or role is None:
            raise ProblemException(403, "sandbox.enrol_refused", None)
        try:
            cert, pem = state.pki.issue_leaf(req.csr_pem, trader_id=trader_id, role=role,
                                             device_id=req.device_id)
        except ComptoirError as exc:
            raise ProblemException(400, "sandbox.csr_invalid", exc.render("en")) from exc
        if state.store.consume_enrolment_code(req.code, req.trader_id, req.role)[0] != "ok":
            raise ProblemException(403, "sandbox.enrol_refused", None)  # used meanwhile
        token = secrets.token_urlsafe(32)
        expires = state.store.register_enrolment(
            trader_id=trader_id, device_id=req.device_id, role=role, token=token,
            serial=cert_serial(cert), cert_pem=pem, lifetime=state.settings.token_lifetime,
            chain_seq=req.chain_seq, chain_head=req.chain_head)
        return EnrolResponse(trader_id=trader_id, device_id=req.device_id, role=role,  # type: ignore[arg-type]
                             certificate_chain_pem=[pem, state.pki.ca_pem],
                             ca_pem=state.pki.ca_pem,
                             receipt_certificate_pem=state.pki.receipt_cert_pem, token=token,
                             token_expires_at=now_iso(expires),
                             training=state.settings.training)

    @app.post(f"{API_PREFIX}/token", response_model=TokenResponse, tags=["enrolment"],
              responses=_problems(401))
    def refresh_token(creds: HTTPAuthorizationCredentials | None = Depends(bearer),
                      who: Principal = Depends(principal)) -> TokenResponse:
        """Swap a valid API token for a fresh one (same device and certificate)."""
        assert creds is not None
        token = secrets.token_urlsafe(32)
        expires = state.store.refresh_token(creds.credentials, token,
                                            state.settings.token_lifetime)
        return TokenResponse(token=token, expires_at=now_iso(expires))

    @app.post(f"{API_PREFIX}/envelopes", response_model=BatchResponse, tags=["submission"],
              responses=_problems(400, 401, 409, 413, 415, 422, 503))
    def submit(request: Request, body: SubmitRequest,
               idempotency_key: str | None = Header(default=None, alias="Idempotency-Key",
                                                    max_length=255),
               log_size: int = Header(default=0, alias=LOG_SIZE_HEADER, ge=0, le=2**62,
                                      description="The receipts log's tree size the client "
                                                  "last verified: the answer proves its "
                                                  "head extends it"),
               who: Principal = Depends(principal)) -> Any:
        """Lodge a batch of sealed envelopes; one result per envelope, in order."""
        if not idempotency_key:
            raise ProblemException(400, "sandbox.idempotency_key_missing", None)
        if not thin_link() and (body.chains or any(
                getattr(e, "protected_json", None) is not None for e in body.envelopes)):
            raise ProblemException(422, "sandbox.request_invalid", "protected_json")
        try:  # the envelopes as signed, whatever form they travelled in
            check_chains(body.chains)
            items = prepare_batch(body.envelopes, body.chains)
        except WireFormError as exc:
            raise ProblemException(422, exc.code, exc.pointer) from exc
        # A request is the same request in any of its wire forms (thin or fat, gzip or
        # zstd): the fingerprint is of the envelopes.  The raw body's digest (what the
        # records of older builds hold) still answers for a replay.
        fingerprint = content_fingerprint(items)
        fingerprints = (fingerprint, request.scope.get(FINGERPRINT_KEY) or "")
        slot = (who.trader_id, idempotency_key)
        with state.in_flight_lock:
            if slot in state.in_flight:
                raise ProblemException(409, "sandbox.idempotency_in_flight", None,
                                       {"Retry-After": "1"})
            state.in_flight.add(slot)
        try:
            # Thin results (what the sender knows left out) only where thin is offered.
            thin = thin_link() and request.headers.get(RESULTS_HEADER) == "thin"
            record = state.store.idempotency_record(*slot)
            if record is not None:
                return _replay(record, fingerprints, thin)
            ctx = IntakeContext(
                ca_cert=state.pki.ca_cert, receipt_jwk=state.pki.receipt_private_jwk,
                country=state.settings.country, seed=state.settings.seed,
                lane_mode=state.settings.lane,
                clock=Clock(state.settings.clock_speed, instant=state.settings.lane == "green"),
                revoked=state.store.revoked_serials(), checker=state.checker,
                max_held=state.settings.max_held_per_device,
                log=state.log, known_log_size=log_size)
            incoming = check_batch(state.store, ctx, who, items)
            with state.store.batch() as tx:
                record = tx.idempotency_record(*slot)  # another worker may have answered
                if record is not None:
                    return _replay(record, fingerprints, thin)
                payload = process_batch(tx, ctx, who, incoming)
                text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
                tx.save_idempotency(who.trader_id, idempotency_key, fingerprint, text)
            return _thin_answer(payload) if thin else Response(text.encode("utf-8"),
                                                               media_type="application/json")
        finally:
            with state.in_flight_lock:
                state.in_flight.discard(slot)

    def _replay(record: tuple[str, str], fingerprints: tuple[str, str], thin: bool
                ) -> Response:
        """The stored answer (always in full) again, in the form this request asked."""
        if record[0] not in fingerprints:
            raise ProblemException(422, "sandbox.idempotency_mismatch", None)
        if not thin:
            return Response(record[1].encode("utf-8"), media_type="application/json")
        return _thin_answer(json.loads(record[1]))

    def _thin_answer(payload: dict[str, Any]) -> Response:
        text = json.dumps(thin_results(payload), separators=(",", ":"), ensure_ascii=False)
        return Response(text.encode("utf-8"), media_type="application/json")

    @app.get(f"{API_PREFIX}/notifications", response_model=NotificationPage,
             tags=["notifications"], responses=_problems(401, 422))
    def notifications(after: int = Query(default=0, ge=0, le=2**62),
                      limit: int = Query(default=500, ge=1, le=MAX_FEED_LIMIT),
                      who: Principal = Depends(principal)) -> Any:
        """Status changes of this trader's declarations after a cursor."""
        state.store.materialise_due(time.time(), now_iso())
        rows = state.store.notifications(who.trader_id, after, limit)
        nxt = rows[-1]["cursor"] if rows else after
        # Written straight to JSON: the rows are the store's own, of the model's shape
        # (a page of a thousand would otherwise be validated and encoded twice).
        text = json.dumps({"notifications": rows, "next": nxt,
                           "refdata": state.refdata_version},
                          separators=(",", ":"), ensure_ascii=False)
        return Response(text.encode("utf-8"), media_type="application/json")

    @app.get(f"{API_PREFIX}/log/head", response_model=TreeHeadResponse, tags=["log"],
             responses=_problems(401))
    def log_head(_who: Principal = Depends(principal)) -> TreeHeadResponse:
        """The receipts log's latest signed tree head."""
        latest = state.store.latest_tree_head()
        return TreeHeadResponse(tree_head=latest[2] if latest else None)

    @app.get(f"{API_PREFIX}/log/consistency", response_model=ConsistencyResponse,
             tags=["log"], responses=_problems(401, 404, 422))
    def log_consistency(first: int = Query(ge=1, le=2**62), second: int = Query(ge=1, le=2**62),
                        _who: Principal = Depends(principal)) -> ConsistencyResponse:
        """RFC 9162 consistency proof from the tree of `first` entries to the head of
        `second` (a size the log gave out a head for)."""
        latest = state.store.latest_tree_head()
        head = state.store.tree_head(second) if latest and second <= latest[0] else None
        if first > second or head is None:
            raise ProblemException(404, "sandbox.log_size_unknown", f"{first}..{second}")
        mth = state.log.subtree(state.store.read_log_nodes)
        return ConsistencyResponse(first=first, second=second, tree_head=head[1],
                                   proof=tl.encode_hashes(tl.consistency_proof(first, second,
                                                                               mth)))

    @app.get(f"{API_PREFIX}/refdata", response_model=RefdataResponse, tags=["refdata"],
             responses=_problems(422))
    def refdata(since: int = Query(default=0, ge=0, le=2**62)) -> RefdataResponse:
        """Code lists, validation profile and rejection-code explanations newer than `since`."""
        lists = [RefList(list=name, version=state.versions[name], entries=entries)
                 for name, entries in sorted(state.lists.items())
                 if state.versions[name] > since]
        return RefdataResponse(version=state.refdata_version, lists=lists)

    @app.get(f"{API_PREFIX}/trust", response_model=TrustResponse, tags=["trust"],
             responses=_problems(401, 403))
    def trust(who: Principal = Depends(principal)) -> TrustResponse:
        """Trust material for verifying seals offline: CA certificates, revoked
        certificates, enrolled devices with their chain position (officer tokens)."""
        if who.role != "officer":
            raise ProblemException(403, "sandbox.officer_only", None)
        doc = officer_mod.trust_document(state.store, state.pki.ca_pem, now_iso())
        latest = state.store.latest_tree_head()
        doc["tree_head"] = latest[2] if latest else None
        return TrustResponse.model_validate(doc)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, openapi_version="3.1.0",
                             description=app.description, routes=app.routes)
        for item in schema.get("paths", {}).values():
            for op in item.values():
                for status, resp in op.get("responses", {}).items():
                    if status.isdigit() and int(status) >= 400:
                        resp["content"] = {PROBLEM_CONTENT_TYPE: {"schema": dict(_PROBLEM_REF)}}
                        resp["description"] = "Problem details (RFC 9457)"
        comps = schema.setdefault("components", {}).setdefault("schemas", {})
        comps.pop("HTTPValidationError", None)
        comps.pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of protocol v1 (committed as sync/openapi.json)."""
    return create_app(None).openapi()


def openapi_text() -> str:
    return json.dumps(openapi_document(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


if __name__ == "__main__":  # python -m sync.sandbox.app > sync/openapi.json
    import sys

    sys.stdout.write(openapi_text())
