"""The UK CDS connector: the outbox lodged exactly once through an API without an
idempotency key.

One pass (:meth:`CdsConnector.deliver`, then :meth:`pull`):

1. **Recover**: an attempt still ``started`` belongs to a process that died between
   sending and recording — its answer is lost, so its lodging is *uncertain*.
2. **Pull** notifications (the application-wide unpulled list; the pulled list too after
   a fetch that may not have been recorded, or while a lodging is uncertain; conversations
   that stay silent, one by one) and apply them: a notification naming an uncertain
   lodging's LRN proves it was taken.
3. **Reconcile** what is still uncertain: resend with the same LRN while CDS12003 still
   protects it (48 h on CDS's clock, less a margin, judged on both clocks); past that,
   never on its own: the lodging becomes *unresolved* and the user decides.
4. **Submit** what is queued: every body exported from the sealed envelope's own payload,
   validated against the WCO schemas, its attempt committed before the request leaves.
   202 -> lodged with its conversation id; 400 / 403 / 501 -> refused, never resent;
   429 -> waited and resent (certainly not taken); 5xx and lost answers -> uncertain.

The reasoning is written down in ARCHITECTURE.md ("Exactly once without an idempotency
key").  Every store write goes through the engine's writer (the desktop's one writer
thread).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
from functools import partial
from typing import Any

from client.common.i18n import ComptoirError
from client.declaration.model import Declaration, now_utc
from client.interchange.safexml import local, parse_xml
from client.seal.canonical import parse_canonical
from client.seal.jws import b64u_decode
from client.store import CdsLodging, OutboxItem
from client.store import settings_keys as keys
from sync.cds.bodies import request_body
from sync.cds.config import ENDPOINTS, CdsConfig, CdsConfigError
from sync.cds.http import AnswerLost, CdsHttp
from sync.cds.limits import backoff
from sync.cds.notifications import read_notification
from sync.cds.oauth import TokenKeeper
from sync.cds.wco import WcoIndex, find_schema_dir, validate_body, wco_index
from sync.connectors.base import ConnectorError, ConnectorInfo
from sync.transport import TransportError, parse_retry_after

BATCH = 200
PENDING_LIMIT = 50_000
THROTTLE_RETRIES = 6
STALE_AFTER_S = 600.0  # a lodged conversation silent this long is asked about directly
FETCH_MARK = keys.CDS_FETCHING  # set while notifications are fetched but not yet recorded
CONVERSATION = re.compile(r"[0-9A-Za-z-]{8,64}")
ROUNDS = 3


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ts(iso: str) -> float:
    return dt.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=dt.UTC).timestamp()


def error_response(payload: bytes) -> list[dict[str, Any]]:
    """HMRC's ``errorResponse`` as the lifecycle's error items (code, pointer, detail)."""
    try:
        root = parse_xml(payload, source="errorResponse")
    except ComptoirError:
        return [{"code": "BAD_REQUEST", "pointer": "", "detail": payload[:300].decode(
            "utf-8", "replace")}]

    def text(el: Any, name: str) -> str:
        kid = next((c for c in el if local(c) == name), None)
        return (kid.text or "").strip() if kid is not None else ""

    out = [{"code": text(root, "code") or "BAD_REQUEST", "pointer": "",
            "detail": text(root, "message")}]
    errors = next((c for c in root if local(c) == "errors"), None)
    for err in (errors if errors is not None else [])[:50]:
        out.append({"code": text(err, "code"), "pointer": "", "detail": text(err, "message")})
    return out


class CdsConnector:
    name = "cds"

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.profile = engine.profile
        self.store = engine.store
        self.write = engine._write
        self.listener = engine.listener
        self.cfg = CdsConfig.from_profile(self.profile)
        self.tokens = TokenKeeper(self.cfg, engine.secrets)
        self._http: CdsHttp | None = None
        self._schema_dir: Any = None
        self._index: WcoIndex | None = None
        self._recovered = False

    # -- the seam ---------------------------------------------------------------------------

    @property
    def http(self) -> CdsHttp:
        if self._http is None:
            self._http = CdsHttp(self.cfg, self.tokens)
        return self._http

    def info(self) -> ConnectorInfo:
        counts = self.store.cds_counts()
        return ConnectorInfo("cds", environment=self.cfg.environment, url=self.cfg.url,
                             credentials=self.tokens.status(),
                             details={"client_id": self.cfg.client_id,
                                      "badge": self.cfg.badge, "submitter": self.cfg.submitter,
                                      "lodgings": counts})

    def probe(self) -> None:
        self.http.get("/notifications/unpulled", attempts=1)

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def deliver(self, report: Any) -> None:
        self.http.new_pass()
        if not self._recovered:
            self._recover()
        for _ in range(ROUNDS):
            self._pull(report)
            self._reconcile(report)
            self._submit_queued(report)
            if not self.store.cds_lodgings(states_in=["uncertain"]):
                break
        report.unresolved = self.store.cds_counts().get("unresolved", 0)

    def pull(self, report: Any) -> None:
        self._pull(report)
        report.unresolved = self.store.cds_counts().get("unresolved", 0)

    # -- schemas ----------------------------------------------------------------------------

    @property
    def schema_dir(self) -> Any:
        if self._schema_dir is None:
            self._schema_dir = find_schema_dir(self.cfg.schema_dir)
        return self._schema_dir

    @property
    def index(self) -> WcoIndex:
        if self._index is None:
            self._index = wco_index(str(self.schema_dir))
        return self._index

    # -- 1. recover ---------------------------------------------------------------------------

    def _recover(self) -> None:
        """Attempts left ``started`` by a process that died: their answers are lost."""
        stuck = [lg.seq for lg in self.store.cds_lodgings(states_in=["open", "uncertain"])
                 if any(a.outcome == "started" for a in self.store.cds_attempts(lg.seq))]
        if stuck:
            self.write(partial(self.store.cds_mark_uncertain, stuck))
        self._recovered = True

    # -- 2. pull ------------------------------------------------------------------------------

    def _pull(self, report: Any) -> None:
        known = self.store.cds_notification_ids()
        wanted: dict[str, str] = {}  # notification id -> path to fetch it

        def links(resource: bytes) -> None:
            for m in re.finditer(rb'href="(/notifications/(unpulled|pulled)/([0-9A-Za-z-]+))"',
                                 resource[: 16 << 20]):
                nid = m.group(3).decode()
                if nid not in known:
                    wanted.setdefault(nid, m.group(1).decode())

        links(self._list("/notifications/unpulled"))
        uncertain = bool(self.store.cds_lodgings(states_in=["uncertain", "unresolved"]))
        if uncertain or self.store.get_setting(FETCH_MARK):
            links(self._list("/notifications/pulled"))
        for conv in self.store.cds_stale_conversations(_iso(time.time() - STALE_AFTER_S)):
            answer = self.http.get(f"/notifications/conversationId/{conv}", ok=(200, 404))
            if answer.status == 200:
                links(answer.body)
        if not wanted:
            return
        self.write(partial(self.store.set_setting, FETCH_MARK, True))
        notes: list[dict[str, Any]] = []
        for nid, path in wanted.items():
            answer = self.http.get(path, ok=(200, 400, 404))
            if answer.status != 200:
                continue  # gone (14 days), or moved between listing and fetching
            notes += read_notification(nid, answer.body,
                                       conversation_id=answer.headers.get("X-Conversation-ID"),
                                       index=self._index_or_none())
            if len(notes) >= BATCH:
                self._record(notes, report)
                notes = []
        if notes:
            self._record(notes, report)
        self.write(partial(self.store.set_setting, FETCH_MARK, False))

    def _index_or_none(self) -> WcoIndex | None:
        try:
            return self.index
        except ComptoirError:
            return None

    def _list(self, path: str) -> bytes:
        answer = self.http.get(path)
        if answer.status != 200:
            raise TransportError("cds.unexpected_status", status=answer.status, path=path)
        return answer.body

    def _record(self, notes: list[dict[str, Any]], report: Any) -> None:
        changes = self.write(partial(self.store.cds_record_notifications, notes))
        report.notifications += len(notes)
        if changes.declarations:
            now = self.store.summaries(list(changes.declarations))
            statuses = [(d, now[d].status) for d in changes.declarations if d in now]
            report.statuses.extend(statuses)
            self.listener.on_changes(changes)
            self.listener.on_statuses(statuses)

    # -- 3. reconcile -------------------------------------------------------------------------

    def _age(self, lodging: CdsLodging) -> float | None:
        """Age of the earliest attempt that may have been taken, on both clocks (the
        larger wins), counting only attempts after the user's last decision."""
        attempts = self.store.cds_attempts(lodging.seq)
        if lodging.decided_at:
            attempts = [a for a in attempts if a.started_at >= lodging.decided_at]
        maybe = [a for a in attempts if a.outcome in ("started", "ambiguous", "accepted",
                                                      "duplicate")]
        if not maybe:
            return None
        first = min(maybe, key=lambda a: a.started_at)
        age = time.time() - _ts(first.started_at)
        server_now = self.http.server_now()
        if server_now is not None and first.started_at_server:
            age = max(age, server_now - _ts(first.started_at_server))
        elif server_now is not None:
            age = max(age, server_now - _ts(first.started_at))
        return age

    def _reconcile(self, report: Any) -> None:
        uncertain = self.store.cds_lodgings(states_in=["uncertain"])
        if not uncertain:
            return
        items = {it.seq: it for it in self.store.outbox_pending(PENDING_LIMIT)}
        for lodging in uncertain:
            age = self._age(lodging)
            item = items.get(lodging.seq)
            if item is None:
                continue
            if age is None:  # nothing could have been taken: send again freely
                self._send(item, report)
                continue
            protected = lodging.endpoint == "submit" and age < self.cfg.window_s
            if protected:
                self._send(item, report)
            elif lodging.endpoint != "submit" and age < STALE_AFTER_S:
                continue  # amendments and cancellations have no CDS12003: wait for news
            else:
                detail = {"since": lodging.updated_at, "age_h": round(age / 3600, 1),
                          "attempts": lodging.attempts, "lrn": lodging.lrn,
                          "endpoint": lodging.endpoint,
                          "notifications": len(self.store.cds_notifications(lodging.seq))}
                changes = self.write(partial(self.store.cds_mark_unresolved, lodging.seq,
                                             detail))
                if changes.declarations:
                    self.listener.on_changes(changes)

    # -- 4. submit ----------------------------------------------------------------------------

    def _submit_queued(self, report: Any) -> None:
        items = self.store.outbox_pending(PENDING_LIMIT)
        lodgings = {lg.seq: lg for lg in self.store.cds_lodgings([i.seq for i in items])}
        todo = [it for it in items if it.kind == "declaration"
                and (it.seq not in lodgings or lodgings[it.seq].state == "open")]
        total = len(todo)
        for done, item in enumerate(todo, start=1):
            self._send(item, report)
            self.listener.on_progress(done, total)

    def _declaration(self, item: OutboxItem) -> Declaration:
        """The declaration exactly as sealed: the envelope's own payload."""
        payload = parse_canonical(b64u_decode(item.envelope["payload"]))
        return Declaration.model_validate(payload)

    def _send(self, item: OutboxItem, report: Any) -> None:
        """One lodging's request(s): the attempt committed first, then its answer."""
        decl = self._declaration(item)
        endpoint, path = ENDPOINTS[decl.function]
        lrn = decl.lrn or ""
        body = request_body(decl)
        local_errors: list[dict[str, Any]] = []
        if not lrn:
            local_errors = [{"code": "cds.lrn_missing", "pointer": "lrn", "detail": ""}]
        else:
            problems = validate_body(body, self.schema_dir, cancellation=endpoint == "cancel")
            local_errors = [{"code": "xml_validation_error", "pointer": "",
                             "detail": p.text()} for p in problems]
        headers = self.cfg.identity_headers()
        sha = hashlib.sha256(body).hexdigest()
        throttled = 0
        while True:
            server_now = self.http.server_now()
            attempt = self.write(partial(
                self.store.cds_begin_attempt, item.seq, lrn=lrn or "-", endpoint=endpoint,
                body_sha256=sha, started_at=now_utc(),
                started_at_server=_iso(server_now) if server_now is not None else None))
            if local_errors:  # never leaves: recorded as refused before any request
                self._settle(attempt, "refused", errors=local_errors, detail={"local": True})
                report.rejected += 1
                report.statuses.append((item.declaration_id, "rejected"))
                return
            try:
                answer = self.http.request("POST", path, body=body, headers=headers)
            except AnswerLost as exc:
                self._settle(attempt, "ambiguous", detail={"reason": exc.code})
                return  # reconciled before anything is sent again
            except TransportError:  # certainly not sent (no connection, breaker open)
                self._settle(attempt, "not_sent")
                raise
            except ConnectorError:
                self._settle(attempt, "failed", detail={"reason": "not signed in"})
                raise
            status = answer.status
            if status == 202:
                conv = answer.headers.get("X-Conversation-ID")
                if conv is not None and not CONVERSATION.fullmatch(conv):
                    conv = None
                self._settle(attempt, "accepted", http_status=202, conversation_id=conv)
                report.accepted += 1
                return
            if status in (400, 403, 501):  # definite, and never worth resending
                self._settle(attempt, "refused", http_status=status,
                             errors=error_response(answer.body))
                report.rejected += 1
                report.statuses.append((item.declaration_id, "rejected"))
                return
            retry_after = parse_retry_after(answer.headers.get("Retry-After"))
            if status == 429:  # the limiter in front of CDS: certainly not taken
                self._settle(attempt, "throttled", http_status=429)
                throttled += 1
                if throttled > THROTTLE_RETRIES:
                    raise TransportError("cds.unavailable", url=self.cfg.url, status=429,
                                         retry_after=retry_after)
                time.sleep(backoff(throttled, retry_after, cap=10.0))
                continue
            if status >= 500:  # it may have been taken: uncertain, reconciled later
                self._settle(attempt, "ambiguous", http_status=status)
                time.sleep(backoff(self.http.breaker.failures, retry_after, cap=10.0))
                return
            errors = error_response(answer.body)
            self._settle(attempt, "failed", http_status=status, errors=errors)
            if status == 401:
                raise ConnectorError("cds.unauthorized", 3)
            raise CdsConfigError("cds.refused_request", 2, status=status,
                                 detail=errors[0]["detail"][:200])

    def _settle(self, attempt: int, outcome: str, **kw: Any) -> None:
        changes = self.write(partial(self.store.cds_settle_attempt, attempt, outcome, **kw))
        if changes.declarations:
            self.listener.on_changes(changes)
