"""The outbox engine: deliver every sealed envelope exactly once, in order, and bring
status back.

One pass (:meth:`SyncEngine.sync_once`):

1. **Drain** the outbox in device order, in batches over one keep-alive HTTPS session.
   The batch's Idempotency-Key is derived from its envelope hashes, so a resent batch
   (after a lost response or a crash) is recognised by the single window and answered
   with the original results.  Every result is checked against what was sent and every
   receipt is verified with the single window's receipt certificate *before* anything
   is stored; only then is the outbox entry marked done, in the same transaction as
   the receipt.  A hostile or broken answer changes nothing locally: it is an error,
   and the batch is retried later.
2. **Pull the feed** from the stored cursor; each page is applied with the cursor in
   one transaction.  During a drain of more than one batch the feed is already pulled
   on a second connection (:class:`_FeedAhead`), each page applied once the receipts
   it can speak of are stored.
3. **Reference data**: deltas since the version held, written where
   :func:`client.declaration.refdata.load_reference_data` finds them.

:meth:`SyncEngine.run_forever` repeats passes with exponential backoff and full jitter
(honouring Retry-After) while the single window is unreachable, and never waits for a
new local write to retry.  Progress goes to a plain-callback :class:`SyncListener`
(the desktop app adapts it to Qt signals).

Steps 1-3 are the Comptoir protocol connector's; a profile may name another connector
(:mod:`sync.connectors`, e.g. UK CDS), which then does the delivering and the pulling
while this engine keeps the pass, the offline switch, connectivity and the backoff.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from client.common.b64 import b64u_decode_lenient
from client.common.i18n import ComptoirError, Message
from client.declaration.model import now_utc
from client.seal.profile import Profile
from client.seal.translog import TreeHead
from client.store import CHAIN_LINK, Changes, DeliveryResult, OutboxItem, Store
from client.store import settings_keys as keys
from sync.connectors.base import Connector, ConnectorError
from sync.protocol import BatchResponse, wire_envelope
from sync.receipts import LogKeeper
from sync.transport import SingleWindowClient, TransportError

log = logging.getLogger(__name__)

BATCH_SIZE = 250
# On a thin link, the feed is pulled during a drain only with this many batches to go.
AHEAD_THIN_BATCHES = 2
FIRST_BATCH_UNMEASURED = 50  # envelopes in a first batch on a link of unknown speed
TOKEN_REFRESH_MARGIN = dt.timedelta(days=10)  # refresh the API token this long before its end
FEED_PAGE = 500
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 300.0
IDLE_POLL_S = 30.0
DEGRADED_LATENCY_S = 2.0


class SyncListener:
    """Plain callbacks (no Qt here); override what you need."""

    def on_progress(self, done: int, total: int) -> None: ...

    def on_connectivity(self, state: str) -> None: ...

    def on_changes(self, changes: Changes) -> None: ...

    def on_statuses(self, statuses: list[tuple[str, str]]) -> None: ...


@dataclass
class SyncReport:
    reachable: bool = True
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    held: int = 0
    notifications: int = 0
    remaining: int = 0
    unresolved: int = 0  # lodgings only the user can settle (connectors without idempotency)
    refdata_version: int | None = None
    error: Message | None = None
    retry_after: float | None = None
    statuses: list[tuple[str, str]] = field(default_factory=list)

    @property
    def delivered(self) -> int:
        return self.accepted + self.duplicates + self.rejected


class SyncError(ConnectorError):
    """A problem that retrying will not fix (not enrolled, bad configuration)."""


def wire_item(item: OutboxItem) -> dict[str, Any]:
    """The batch form of an outbox row: its envelope, or for a chain link (a transit ended
    on paper, #14) only its place in the device chain and its hash, never the envelope,
    so that nothing of the declaration reaches the single window."""
    if item.state != CHAIN_LINK:
        return wire_envelope(item.envelope)
    header = json.loads(b64u_decode_lenient(item.envelope["protected"]))
    return {"withdrawn": "paper_procedure", "device_id": header["dev"], "seq": header["seq"],
            "prev": header["prev"], "envelope_hash": item.envelope_hash}


def batch_key(items: Sequence[OutboxItem], wire: Sequence[dict[str, Any]] | None = None) -> str:
    """Idempotency-Key of a batch: a function of the request's content, so that a
    resend after a lost answer replays the original answer — and a resend whose wire
    form changed in between (a newer build) is a new request, not a 422 mismatch.

    An envelope the single window answered "held" (waiting for its predecessor) is
    asked about again under a new key — one per round of holding, counted by its
    attempts — or the stored "held" answer would be replayed forever.  Exactly-once
    does not rest on this key: each envelope is idempotent by its id, version and hash.
    """
    if wire is None:
        wire = [wire_item(it) for it in items]
    h = hashlib.sha256(json.dumps({"envelopes": list(wire)}, separators=(",", ":"),
                                  ensure_ascii=False).encode("utf-8"))
    for it in items:
        if it.state == "held":
            h.update(f":held:{it.seq}:{it.attempts}".encode("ascii"))
    return "batch-" + h.hexdigest()


class SyncEngine:
    def __init__(self, profile: Profile, store: Store, secrets: Any, *,
                 listener: SyncListener | None = None, batch_size: int = BATCH_SIZE,
                 timeout: tuple[float, float] = (5, 30),
                 writer: Callable[[Callable[[], Any]], Any] | None = None) -> None:
        self.profile = profile
        self.store = store
        # Every store write goes through ``writer``: the desktop app passes its one
        # writer thread, so the network thread never writes to SQLite itself.
        self._write = writer or (lambda fn: fn())
        self.secrets = secrets
        self.listener = listener or SyncListener()
        self.batch_size = batch_size
        self.timeout = timeout
        self._client: SingleWindowClient | None = None
        self._connector: Connector | None = None
        self._receipt_cert: Any = None
        self._offline = False
        self._lock = threading.Lock()
        self.connectivity = "offline"
        self.bytes_sent = 0
        # The receipts log (#16): heads and proofs checked before anything is stored.
        self.log = LogKeeper(profile.home, self.client, self.receipt_certificate)

    # ---- configuration ---------------------------------------------------------------

    @property
    def server(self) -> dict[str, Any]:
        return self.profile.server or {}

    def _tls_ca(self) -> Path | None:
        ca = self.server.get("ca_pem_path")
        if not ca:
            return None
        p = Path(ca)
        return p if p.is_absolute() else self.profile.home / p

    def client(self) -> SingleWindowClient:
        if self._client is None:
            url = self.server.get("url")
            if not url:
                raise SyncError("sync.not_enrolled", 2, home=str(self.profile.home))
            token = self.secrets.get("api-token")
            if not token:
                raise SyncError("sync.not_enrolled", 2, home=str(self.profile.home))
            self._client = self._new_client(url, token)
            self._refresh_token_if_due(self._client)
        return self._client

    def _new_client(self, url: str, token: str) -> SingleWindowClient:
        """A connection to the single window with this profile's trust settings."""
        return SingleWindowClient(url, ca_pem_path=self._tls_ca(), token=token,
                                  pin_sha256=self.server.get("pin_sha256"),
                                  timeout=self.timeout)

    def _refresh_token_if_due(self, client: SingleWindowClient) -> None:
        """Swap the API token for a fresh one when it ends within TOKEN_REFRESH_MARGIN.

        The old token stays valid until the new one is used, so a crash anywhere here
        leaves a working token behind; a failure (offline) is retried next time.
        """

        text = self.server.get("token_expires_at")
        if not text:
            return
        try:
            ends = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
        except ValueError:
            return
        if ends - dt.datetime.now(dt.UTC) > TOKEN_REFRESH_MARGIN:
            return
        try:
            fresh = client.refresh_token()
        except TransportError:
            return
        self.secrets.set("api-token", fresh.token)
        client.token = fresh.token
        self.profile.server = dict(self.server, token_expires_at=fresh.expires_at)
        self.profile.save()

    def receipt_certificate(self) -> Any:
        if self._receipt_cert is None:
            from cryptography import x509

            path = self.profile.home / "trust" / "receipt.pem"
            try:
                self._receipt_cert = x509.load_pem_x509_certificate(path.read_bytes())
            except (OSError, ValueError) as exc:
                raise SyncError("sync.no_receipt_certificate", 2, path=str(path)) from exc
        return self._receipt_cert

    @property
    def connector(self) -> Connector:
        """The profile's connector (:mod:`sync.connectors`): Comptoir protocol or CDS."""
        if self._connector is None:
            from sync.connectors import connector_for

            self._connector = connector_for(self)
        return self._connector

    def close_client(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def close(self) -> None:
        if self._connector is not None and self._connector.name != "comptoir":
            self._connector.close()
        self.close_client()

    def set_offline(self, offline: bool) -> None:
        """The user's "work offline" switch: no network at all while set."""
        self._offline = offline
        self._set_connectivity("offline" if offline else self.connectivity)

    @property
    def offline(self) -> bool:
        return self._offline

    def _set_connectivity(self, state: str) -> None:
        if state != self.connectivity:
            self.connectivity = state
            self.listener.on_connectivity(state)

    # ---- connectivity ------------------------------------------------------------------

    def probe(self) -> str:
        """A cheap health request: online, degraded (slow or overloaded) or offline."""
        if self._offline:
            self._set_connectivity("offline")
            return "offline"
        start = time.monotonic()
        try:
            self.connector.probe()
        except TransportError as exc:
            state = "degraded" if getattr(exc, "status", None) else "offline"
        except ConnectorError:
            state = "offline"
        else:
            state = "degraded" if time.monotonic() - start > DEGRADED_LATENCY_S else "online"
        self._set_connectivity(state)
        return state

    # ---- one pass ------------------------------------------------------------------------

    def sync_once(self) -> SyncReport:
        """Drain, pull the feed, refresh reference data. Never raises for network trouble."""
        with self._lock:
            report = SyncReport()
            if self._offline:
                report.reachable = False
                report.error = Message("sync.offline_mode", {})
                report.remaining = self.store.outbox_stats()[0]
                return report
            try:
                self.connector.deliver(report)
                self.connector.pull(report)
            except TransportError as exc:
                report.reachable = getattr(exc, "status", None) is not None
                report.error = exc.message
                report.retry_after = exc.retry_after
                self._set_connectivity("degraded" if getattr(exc, "status", None) else "offline")
                if not getattr(exc, "status", None):
                    self.connector.close()  # a fresh connection next time
            else:
                self._set_connectivity("online")
                self._write(lambda: self.store.set_setting(keys.LAST_SUCCESS, now_utc()))
            report.remaining = self.store.outbox_stats()[0]
            return report

    def _drain(self, report: SyncReport) -> None:
        """Batches in device order, each answer stored (receipts and outbox together)
        and its tree head kept before the next answer is checked.  A batch's answer is
        stored in the background while the next batch is on the wire (the feed's
        pattern): the single window's work on one batch and the store's on the one before
        overlap.  The background thread only waits when writes go to the app's one writer
        thread (the desktop app: its drain of 2,000 was 3.27-3.96 s with each answer
        stored in turn, 2.69-3.58 s so).  A crash then loses at most the answers
        to the batch being stored and the one on the wire, which a resend replays (the
        single window answers duplicates, with their receipts)."""
        total = self.store.outbox_stats()[0]
        done = 0
        if total:
            self.listener.on_progress(0, total)
        writer = _Background()

        def told(items: list[OutboxItem], results: list[DeliveryResult],
                 changes: Changes) -> None:
            nonlocal done
            done += self._tally(report, items, results)
            self.listener.on_progress(done, max(total, done))
            if changes.declarations or changes.outbox:
                self.listener.on_changes(changes)

        # The feed of the statuses of what is lodged, pulled on a second connection
        # while the next batches go out (a backlog of more than one batch).
        ahead: _FeedAhead | None = None
        want_ahead = total > self.batch_size
        sent = 0

        def store(results: list[DeliveryResult], head: TreeHead | None) -> Changes:
            changes = self._store_answer(results, head)
            if ahead is not None:
                ahead.stored()
            return changes

        # The tree head the next answer is checked against: the last one checked (its
        # batch may still be being stored), so the single window proves consistency
        # from there without a second request.
        log_size = self.log.size()
        try:
            items = self.store.outbox_pending(self._first_batch_size(), links=True)
            while items:
                if ahead is not None:
                    ahead.dispatched()
                resp = self._send(items, log_size)
                sent += len(items)
                if ahead is None and want_ahead and self._ahead_pays(total - sent):
                    ahead = _FeedAhead(self)
                    ahead.dispatched()  # the batch just answered, stored below
                    ahead.start()
                writer.wait()  # the answer before this one stored, its head kept
                results, head = self._accept(items, resp)
                log_size = head.size if head is not None else log_size
                writer.start(partial(store, results, head), partial(told, items, results))
                if all(r.outcome == "held" for r in results):
                    break  # everything left is held by the single window: wait for the feed
                items = self.store.outbox_pending(self.batch_size, links=True,
                                                  after=items[-1].seq)
        finally:
            try:
                writer.wait()
            finally:
                if ahead is not None:
                    ahead.finish(report)

    def _link_bps(self) -> float | None:
        """The link's rate as the last batch measured it (None: not yet)."""
        return self._client.link_bps if self._client is not None else None

    def _thin_link(self) -> bool:
        """The last batch measured a link slower than the fast one of :mod:`sync.wire`."""
        from sync.wire import FAST_LINK_BPS

        bps = self._link_bps()
        return bps is not None and bps <= FAST_LINK_BPS

    def _ahead_pays(self, left: int) -> bool:
        """Whether the feed's own connection is worth opening with ``left`` envelopes
        still to send.  On a thin link its handshake (0.6 kB up) cost more than the
        overlap saved when one short batch was left (64 kbit/s, 60 declarations:
        wire_bytes_ratio 0.218 -> 0.226), but with two batches or more to go the feed
        comes down while they go up (200 declarations: the 1.5 s pull after the drain)."""
        return not self._thin_link() or left >= AHEAD_THIN_BATCHES * self.batch_size

    def _first_batch_size(self) -> int:
        """A link not yet measured gets zstd's slowest level (right for a border post's
        line) on a small first batch: its upload measures the link for the rest.  A
        first batch of 250 at that level cost 0.3 s of CPU on a fast line (each device
        of a reconnecting herd paying it)."""
        if self._link_bps() is not None:
            return self.batch_size
        return min(self.batch_size, FIRST_BATCH_UNMEASURED)

    def _store_answer(self, results: list[DeliveryResult], head: TreeHead | None) -> Changes:
        changes = self._write(partial(self.store.record_deliveries, results))
        self.log.keep(head)  # only once the receipts it proves are stored
        return changes

    @staticmethod
    def _tally(report: SyncReport, items: Sequence[OutboxItem],
               results: Sequence[DeliveryResult]) -> int:
        """Count one stored answer into the report; how many envelopes it decided."""
        progressed = 0
        for r in results:
            if r.outcome == "accepted":
                report.accepted += 1
            elif r.outcome == "duplicate":
                report.duplicates += 1
            elif r.outcome == "rejected":
                report.rejected += 1
                report.statuses.append((SyncEngine._did(items, r.seq), "rejected"))
            elif r.outcome == "held":
                report.held += 1
            if r.outcome != "held":
                progressed += 1
        return progressed

    @staticmethod
    def _did(items: Sequence[OutboxItem], seq: int) -> str:
        return next((i.declaration_id for i in items if i.seq == seq), "")

    def _submit(self, items: list[OutboxItem]) -> list[DeliveryResult]:
        """One batch sent and its answer checked (nothing stored)."""
        return self._accept(items, self._send(items, self.log.size()))[0]

    def _send(self, items: list[OutboxItem], log_size: int) -> BatchResponse:
        client = self.client()
        before = client.bytes_sent
        try:
            wire = [wire_item(it) for it in items]
            known = [{"declaration_id": it.declaration_id, "version": it.version,
                      "envelope_hash": it.envelope_hash, "device_id": self.profile.device_id,
                      "seq": it.seq} for it in items]
            return client.submit(wire, batch_key(items, wire), log_size=log_size, known=known)
        except TransportError as exc:
            self._note_attempt(items, exc.code)
            raise
        finally:
            self.bytes_sent += client.bytes_sent - before

    def _accept(self, items: list[OutboxItem], resp: BatchResponse
                ) -> tuple[list[DeliveryResult], TreeHead | None]:
        """The batch's results, trusted only once proven; and the tree head to keep."""
        try:
            receipts, head = self.log.check_batch(resp)
            return [self._check_result(it, r, rc)
                    for it, r, rc in zip(items, resp.results, receipts, strict=True)], head
        except ComptoirError as exc:
            self._note_attempt(items, exc.code)
            raise TransportError("transport.bad_response", reason=exc.render()) from exc

    def _note_attempt(self, items: Sequence[OutboxItem], code: str) -> None:
        seqs = [it.seq for it in items]
        self._write(lambda: self.store.outbox_note_attempt(seqs, code))

    def _check_result(self, item: OutboxItem, r: Any, receipt: str | None = None
                      ) -> DeliveryResult:
        """Trust nothing the server says until it matches what was sent and is proven:
        ``receipt`` is its receipt rebuilt from the log's proofs (already checked against
        the signed tree head); an older receipt signed on its own is verified here."""
        from client.seal.envelope import verify_receipt

        if r.envelope_hash != item.envelope_hash:
            raise SyncError("sync.result_mismatch", 2, seq=item.seq)
        errors = [e.model_dump() for e in r.errors]
        if r.status in ("accepted", "duplicate"):
            if receipt is not None:
                claims = dict(r.leaf)
            elif r.receipt:
                receipt = r.receipt
                claims = verify_receipt(r.receipt, self.receipt_certificate())
            else:
                raise SyncError("sync.receipt_missing", 2, seq=item.seq)
            expected = {"declaration_id": item.declaration_id, "version": item.version,
                        "envelope_hash": item.envelope_hash, "device_id": self.profile.device_id,
                        "seq": item.seq}
            for k, v in expected.items():
                if claims.get(k) != v:
                    raise SyncError("sync.receipt_mismatch", 2, seq=item.seq, field=k)
            mrn = claims.get("mrn")
            if r.mrn and mrn and r.mrn != mrn:
                raise SyncError("sync.receipt_mismatch", 2, seq=item.seq, field="mrn")
            if mrn is not None:
                from client.declaration.mrn import is_valid_mrn

                if not is_valid_mrn(str(mrn)):
                    raise SyncError("sync.receipt_mismatch", 2, seq=item.seq, field="mrn")
            return DeliveryResult(item.seq, r.status, mrn=mrn, receipt=receipt,
                                  received_at=claims.get("received_at"), errors=errors)
        if r.status == "rejected":
            return DeliveryResult(item.seq, "rejected", errors=errors)
        if r.status == "held":
            return DeliveryResult(item.seq, "held")
        if r.status == "withdrawn" and item.state == CHAIN_LINK:
            return DeliveryResult(item.seq, "withdrawn")
        raise SyncError("sync.result_mismatch", 2, seq=item.seq)

    def _pull_feed(self, report: SyncReport) -> int | None:
        """Pages from the stored cursor, each applied with its cursor in one transaction,
        in the background while the next one is fetched (applied in order; a crash
        re-fetches what was not).  Returns the reference-data version the last page
        named (None: a single window that does not say)."""
        client = self.client()
        after = self.store.get_setting(keys.FEED_CURSOR)
        writer = _Background()
        named: int | None = None

        def applied(changes: Changes) -> None:
            if changes.declarations:
                self.listener.on_changes(changes)

        try:
            while True:
                page = client.notifications(after, FEED_PAGE)
                named = page.refdata
                if not page.notifications:
                    break
                if _cursor_went_back(page, after):
                    raise TransportError("transport.bad_response", reason="feed cursor went back")
                batch = [n.model_dump(mode="json") for n in page.notifications]
                apply = partial(self._write, partial(self.store.apply_notifications, batch,
                                                     page.next))
                writer.wait()
                writer.start(apply, applied)
                report.notifications += len(batch)
                report.statuses.extend((n.declaration_id, n.status) for n in page.notifications)
                after = page.next
                if len(batch) < FEED_PAGE:
                    break
        finally:
            writer.wait()
        if report.statuses:
            self.listener.on_statuses(list(report.statuses))
        return named

    def _pull_refdata(self, report: SyncReport, named: int | None = None) -> None:
        """Newer code lists into ``home/refdata``; not asked when the feed ``named`` a
        version this profile already holds."""
        since = self.store.get_setting(keys.REFDATA_VERSION)
        if named is not None and named <= since:
            return
        resp = self.client().refdata(since)
        if resp.version <= since or not resp.lists:
            return
        folder = self.profile.home / "refdata"
        folder.mkdir(parents=True, exist_ok=True)
        for lst in resp.lists:
            safe = "".join(c for c in lst.list if c.isalnum() or c in "-_")[:64]
            if not safe:
                continue
            data = json.dumps({"list": lst.list, "version": lst.version,
                               "entries": lst.entries}, ensure_ascii=False)
            tmp = folder / f".{safe}.json.tmp"
            tmp.write_text(data, encoding="utf-8")
            tmp.replace(folder / f"{safe}.json")
        self._write(lambda: self.store.set_setting(keys.REFDATA_VERSION, resp.version))
        report.refdata_version = resp.version

    # ---- forever ---------------------------------------------------------------------------

    def run_forever(self, stop: threading.Event, wake: threading.Event | None = None,
                    *, idle_poll_s: float = IDLE_POLL_S) -> None:
        """Sync until ``stop``: back off while unreachable, poll when idle.

        ``wake`` (set after a local seal) shortens an idle wait; a retry after a
        failure happens on its own timer and never waits for a new local write.
        """
        failures = 0
        while not stop.is_set():
            try:
                report = self.sync_once()
            except ConnectorError as exc:
                report = SyncReport(reachable=False, error=exc.message)
            if report.error is None:
                failures = 0
                delay = idle_poll_s if report.remaining == 0 else 0.0
            else:
                failures += 1
                delay = backoff_delay(failures, report.retry_after)
            if delay <= 0:
                continue
            if wake is not None and report.error is None:
                wake.wait(delay)
                wake.clear()
            else:
                stop.wait(delay)


def _cursor_went_back(page: Any, after: int) -> bool:
    """A feed page that repeats or skips back behind the cursor it was asked from."""
    cursors = [n.cursor for n in page.notifications]
    return any(c <= after for c in cursors) or page.next < max(cursors)


class _FeedAhead:
    """The status feed pulled during a drain, on a connection of its own (#15).

    After each stored answer, one page is fetched while the next batch is on the wire
    (on a thin link the download direction is idle then; on a fast one the single
    window answers it between batches).  A page is applied only once every batch sent
    before it arrived has its answer stored: whatever the single window lodged before
    answering the feed was sent by then, so no status ever overtakes its receipt.  When
    the drain fails, a page not yet applied is dropped (the cursor stays, the next pass
    fetches it again).  Any trouble here only stops it: the pass's own pull follows."""

    def __init__(self, engine: SyncEngine) -> None:
        self.engine = engine
        self._cond = threading.Condition()
        self._dispatched = self._stored = 0
        self._done = False
        self._client: SingleWindowClient | None = None
        self.notifications = 0
        self.statuses: list[tuple[str, str]] = []
        self._thread = threading.Thread(target=self._run, name="comptoir-sync-feed",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def dispatched(self) -> None:
        """A batch is about to go out."""
        with self._cond:
            self._dispatched += 1

    def stored(self) -> None:
        """A batch's answer is committed."""
        with self._cond:
            self._stored += 1
            self._cond.notify_all()

    def finish(self, report: SyncReport) -> None:
        """The drain is over: wait, and count what was applied into ``report`` (a page
        whose answers were not all stored is dropped by the counts)."""
        with self._cond:
            self._done = True
            self._cond.notify_all()
        self._thread.join()
        if self._client is not None:
            self._client.close()
        report.notifications += self.notifications
        report.statuses.extend(self.statuses)

    def _wait_stored(self, count: int) -> bool:
        """Wait until ``count`` answers are stored or the drain is over; whether they are."""
        with self._cond:
            self._cond.wait_for(lambda: self._done or self._stored >= count)
            return self._stored >= count

    def _run(self) -> None:
        engine = self.engine
        try:
            main = engine.client()
            self._client = client = engine._new_client(main.base_url, str(main.token))
            after = engine.store.get_setting(keys.FEED_CURSOR)
            seen = 0
            while True:
                if not self._wait_stored(seen + 1) or self._done:
                    return  # once the drain is over, the pass's own pull goes on
                seen = self._stored
                page = client.notifications(after, FEED_PAGE)
                if not page.notifications:
                    continue
                if _cursor_went_back(page, after):
                    return  # said by the pass's own pull, which checks the same
                with self._cond:
                    sent = self._dispatched
                if not self._wait_stored(sent):
                    return  # the drain failed before that answer was stored: dropped
                batch = [n.model_dump(mode="json") for n in page.notifications]
                changes = engine._write(partial(engine.store.apply_notifications, batch,
                                                page.next))
                if changes.declarations:
                    engine.listener.on_changes(changes)
                self.notifications += len(batch)
                self.statuses.extend((n.declaration_id, n.status) for n in page.notifications)
                after = page.next
                if len(batch) == FEED_PAGE:
                    seen -= 1  # more waiting: the next page at once
        except Exception as exc:  # noqa: BLE001 - the pass's own pull says what is wrong
            log.info("feed during the drain stopped: %s",
                     getattr(exc, "code", type(exc).__name__))


class _Background:
    """One store write at a time on a thread of its own: started, then waited for (its
    error, if any, raised there), so that writes keep their order."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._outcome: tuple[Any, BaseException | None] = (None, None)
        self._then: Callable[[Any], None] | None = None

    def start(self, fn: Callable[[], Any], then: Callable[[Any], None]) -> None:
        def run() -> None:
            try:
                self._outcome = (fn(), None)
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                self._outcome = (None, exc)

        self._then = then
        self._thread = threading.Thread(target=run, name="comptoir-sync-store", daemon=True)
        self._thread.start()

    def wait(self) -> None:
        if self._thread is None:
            return
        self._thread.join()
        self._thread = None
        value, error = self._outcome
        then, self._then = self._then, None
        if error is not None:
            raise error
        if then is not None:
            then(value)


def backoff_delay(failures: int, retry_after: float | None = None,
                  base: float = BACKOFF_BASE_S, cap: float = BACKOFF_CAP_S,
                  rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter while the single window is unreachable.

    When it answered with a Retry-After (an overloaded single window shedding load),
    that is the wait — never sooner — plus a jitter of up to as much again, so that the
    posts it turned away do not all come back in the same instant; it does not grow
    with the failures, since the single window said when to come back.
    """
    r = rng or random
    if retry_after is not None:
        wait = min(max(retry_after, 0.25), cap)
        return wait + r.uniform(0, min(wait, cap - wait))
    return r.uniform(0, min(cap, base * (2 ** min(failures, 20))))
