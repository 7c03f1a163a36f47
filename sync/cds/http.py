"""HTTPS to CDS: one keep-alive session, bounded answers, and an honest account of what
a failure means for exactly-once.

Every failure is one of two kinds, because the connector's whole design turns on it:

- :class:`NotSent` — the request certainly never reached CDS (no connection could be
  made, the TLS handshake failed, the connect timed out): sending again can never
  duplicate anything;
- :class:`AnswerLost` — the request may have been taken (the connection broke after the
  body went out, the answer timed out, it was cut mid-way): only reconciliation may
  decide what happens next.

CDS's clock is read from every answer's ``Date`` header (:attr:`CdsHttp.server_offset`):
the CDS12003 window is CDS's, not ours.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from sync.cds.config import ACCEPT, CONTENT_TYPE, CdsConfig
from sync.cds.limits import CircuitBreaker, RateLimiter, backoff
from sync.transport import TransportError, read_bounded

MAX_RESPONSE_BYTES = 8 << 20
_USER_AGENT = "comptoir-cds/1"
_HANDSHAKE = ("certificate", "handshake", "wrong_version", "wrong version", "unknown ca",
              "hostname")


class NotSent(TransportError):
    """The request never reached CDS."""


class AnswerLost(TransportError):
    """The request may have reached CDS; its answer did not reach us."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: CaseInsensitiveDict[str]
    body: bytes


def _never_connected(exc: BaseException) -> bool:
    """True when a requests ConnectionError happened before any byte was sent."""
    from urllib3.exceptions import NewConnectionError

    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, NewConnectionError | ConnectionRefusedError):
            return True
        stack += [getattr(e, "reason", None), e.__cause__, e.__context__,
                  *[a for a in getattr(e, "args", ()) if isinstance(a, BaseException)]]
    return False


class CdsHttp:
    """Requests to one CDS environment, rate-limited, behind a circuit breaker."""

    def __init__(self, cfg: CdsConfig, tokens: Any, *, limiter: RateLimiter | None = None,
                 breaker: CircuitBreaker | None = None,
                 max_response_bytes: int = MAX_RESPONSE_BYTES,
                 max_breaker_wait: float = 60.0) -> None:
        if not cfg.url.startswith("https://"):
            raise NotSent("transport.https_required", retryable=False, url=cfg.url)
        self.cfg = cfg
        self.tokens = tokens
        self.limiter = limiter or RateLimiter(cfg.rate)
        self.breaker = breaker or CircuitBreaker()
        self.max_response_bytes = max_response_bytes
        self.server_offset: float | None = None
        self.requests_sent = 0
        self.max_breaker_wait = max_breaker_wait
        self._breaker_waited = 0.0
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.mount("https://", HTTPAdapter(pool_connections=1, pool_maxsize=2,
                                                   max_retries=0))
        self.session.headers.update({"User-Agent": _USER_AGENT})
        self._verify: str | bool = str(cfg.ca_pem_path) if cfg.ca_pem_path else True

    def close(self) -> None:
        self.session.close()

    def server_now(self) -> float | None:
        """CDS's time as last seen in a ``Date`` header (None before any answer)."""
        return None if self.server_offset is None else time.time() + self.server_offset

    # -- one request ----------------------------------------------------------------------

    def request(self, method: str, path: str, *, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Answer:
        """One request (plus one retry after a 401 and a token refresh)."""
        token = self.tokens.access_token()
        answer = self._once(method, path, body, headers, token)
        if answer.status == 401:
            fresh = self.tokens.refresh_after_401(token)
            answer = self._once(method, path, body, headers, fresh)
        return answer

    def new_pass(self) -> None:
        """A sync pass starts: its budget for waiting on an open breaker is whole again."""
        self._breaker_waited = 0.0

    def _wait_for_breaker(self) -> None:
        """While the breaker is open, wait for its trial request — within the pass's
        budget; past it, the pass ends and the engine's backoff takes over."""
        while True:
            try:
                self.breaker.check()
                return
            except TransportError as exc:
                wait = float(exc.retry_after or 1.0)
                if self._breaker_waited + wait > self.max_breaker_wait:
                    raise
                self._breaker_waited += wait
                time.sleep(wait)

    def _once(self, method: str, path: str, body: bytes | None,
              headers: dict[str, str] | None, token: str) -> Answer:
        self._wait_for_breaker()
        self.limiter.acquire()
        hdrs = {"Accept": ACCEPT, "Authorization": f"Bearer {token}"}
        if body is not None:
            hdrs["Content-Type"] = CONTENT_TYPE
        hdrs.update(headers or {})
        url = f"{self.cfg.url}{path}"
        self.requests_sent += 1
        try:
            resp = self.session.request(method, url, data=body, headers=hdrs,
                                        timeout=(self.cfg.connect_timeout,
                                                 self.cfg.read_timeout),
                                        verify=self._verify, stream=True,
                                        allow_redirects=False)
        except requests.exceptions.ConnectTimeout as exc:
            self.breaker.failure()
            raise NotSent("transport.timeout", url=self.cfg.url) from exc
        except requests.exceptions.SSLError as exc:
            self.breaker.failure()
            text = str(exc).lower()
            if any(h in text for h in _HANDSHAKE):
                raise NotSent("transport.tls_failed", url=self.cfg.url,
                              reason=_short(exc)) from exc
            raise AnswerLost("cds.answer_lost", url=self.cfg.url, reason=_short(exc)) from exc
        except requests.exceptions.ConnectionError as exc:
            self.breaker.failure()
            if _never_connected(exc):
                raise NotSent("transport.unreachable", url=self.cfg.url,
                              reason=_short(exc)) from exc
            raise AnswerLost("cds.answer_lost", url=self.cfg.url, reason=_short(exc)) from exc
        except requests.exceptions.RequestException as exc:  # read timeout and the rest
            self.breaker.failure()
            raise AnswerLost("cds.answer_lost", url=self.cfg.url, reason=_short(exc)) from exc
        try:
            self._note_date(resp.headers.get("Date"))
            try:
                payload = self._read(resp)
            except TransportError:
                if resp.status_code == 202 and resp.headers.get("X-Conversation-ID"):
                    payload = b""  # the answer that matters arrived whole: its headers
                else:
                    self.breaker.failure()
                    raise
        finally:
            resp.close()
        if resp.status_code >= 500:
            self.breaker.failure()
        else:
            self.breaker.success()
        return Answer(resp.status_code, CaseInsensitiveDict(resp.headers), payload)

    def _note_date(self, value: str | None) -> None:
        if not value:
            return
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return
        if when is not None and when.tzinfo is not None:
            self.server_offset = when.timestamp() - time.time()

    def _read(self, resp: requests.Response) -> bytes:
        """The body, bounded like every answer from a server (sync.transport.read_bounded)."""

        def broken(exc: Exception) -> TransportError:
            return AnswerLost("cds.answer_lost", url=self.cfg.url, reason=_short(exc))

        return read_bounded(resp, limit=self.max_response_bytes,
                            read_timeout=self.cfg.read_timeout, url=self.cfg.url,
                            error=AnswerLost, broken=broken, decode=True)

    # -- idempotent reads -----------------------------------------------------------------

    def get(self, path: str, *, attempts: int = 5, ok: tuple[int, ...] = (200,)) -> Answer:
        """A GET, retried on 429 / 5xx / a lost answer with backoff and full jitter."""
        failures = 0
        while True:
            try:
                answer = self.request("GET", path)
            except AnswerLost:
                answer = None
            if answer is not None and (answer.status in ok or
                                       (answer.status < 500 and answer.status != 429)):
                return answer
            failures += 1
            retry_after = None
            if answer is not None:
                from sync.transport import parse_retry_after

                retry_after = parse_retry_after(answer.headers.get("Retry-After"))
            if failures >= attempts:
                status = answer.status if answer is not None else None
                raise TransportError("cds.unavailable", url=self.cfg.url,
                                     status=status or "-", retry_after=retry_after)
            time.sleep(backoff(failures, retry_after, cap=10.0))


def _short(exc: Any) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
