"""The sync engine, adapted to Qt (Electrum's EventListener -> QtEventListener).

``sync.engine.SyncEngine`` reports through plain callbacks on whatever thread it runs
on; :class:`QtSyncListener` turns each into a Qt signal, which Qt queues to the GUI
thread.  :class:`SyncController` runs ``sync_once`` on the network pool, never on
the GUI thread, and keeps what the status bar and continuity view show: connectivity,
the last successful sync, since when the link is down, the measured drain rate.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from client.declaration.model import now_utc
from client.store import settings_keys as keys
from ui.context import AppContext

DEFAULT_DRAIN_RATE = keys.DRAIN_RATE.default  # declarations/s, until one is measured
AUTO_SYNC_MS = 5000


class QtSyncListener(QObject):
    """The engine's listener protocol, re-emitted as signals (any thread -> GUI thread)."""

    progress = Signal(int, int)
    connectivity = Signal(str)
    changes = Signal(object)
    statuses = Signal(list)

    def on_progress(self, done: int, total: int) -> None:
        self.progress.emit(int(done), int(total))

    def on_connectivity(self, state: str) -> None:
        self.connectivity.emit(str(state))

    def on_changes(self, changes: Any) -> None:
        self.changes.emit(changes)

    def on_statuses(self, items: list[tuple[str, str]]) -> None:
        self.statuses.emit(list(items))


def sync_available() -> bool:
    """Whether the sync package is installed — found, not imported: the engine's import
    (HTTP, TLS, protocol) happens on the network pool with the first round, never on the
    GUI thread (it paused the window when a drain began, #15)."""
    from importlib.util import find_spec

    try:
        return find_spec("sync.engine") is not None
    except ImportError:  # no "sync" package at all
        return False


class SyncController(QObject):
    """Owns the engine; every call into it that may touch a socket runs on the pool."""

    state_changed = Signal()

    def __init__(self, ctx: AppContext, *, auto: bool = True) -> None:
        super().__init__()
        self.ctx = ctx
        self.listener = QtSyncListener()
        self.engine: Any = None
        self.running = False
        self.connectivity = "offline"
        self.offline = ctx.store.get_setting(keys.WORK_OFFLINE)
        self.last_sync_ok: str | None = ctx.store.get_setting(keys.LAST_SUCCESS)
        self.offline_since: str | None = ctx.store.get_setting(keys.OFFLINE_SINCE)
        self.drain_rate = ctx.store.get_setting(keys.DRAIN_RATE)
        self.last_error: Any = None
        self.rounds = 0
        self._reset_pending = False
        #: the last recovery: outage length, declarations carried through, time to drain
        self.last_recovery: dict[str, Any] | None = ctx.store.get_setting(
            keys.LAST_RECOVERY)
        self._recovering: dict[str, Any] | None = None
        sig = ctx.signals
        self.listener.progress.connect(sig.sync_progress)
        self.listener.connectivity.connect(self._on_connectivity)
        self.listener.changes.connect(lambda ch: sig.operation_did_execute.emit(ch, self))
        self.listener.statuses.connect(sig.statuses_reported)
        self._timer = QTimer(self)
        self._timer.setInterval(AUTO_SYNC_MS)
        self._timer.timeout.connect(self._tick)
        if auto:
            self._timer.start()

    # ---- engine --------------------------------------------------------------------------
    def configured(self) -> bool:
        server = self.ctx.profile.server or {}
        url = server.get("url") or (server.get("cds") or {}).get("url")  # CDS connector (#13)
        return bool(url) and sync_available()

    def _engine(self) -> Any:
        if self.engine is None:
            from sync.engine import SyncEngine

            self.engine = SyncEngine(self.ctx.profile, self.ctx.store, self.ctx.secrets,
                                     listener=self.listener,
                                     writer=self.ctx.writer.run_blocking)
            self.engine.set_offline(self.offline)
        return self.engine

    def reset_engine(self) -> None:
        """After enrolment or a server change: the next round builds a new engine."""
        if self.running:
            self._reset_pending = True
        else:
            self.close()

    # ---- rounds ------------------------------------------------------------------------------
    def _tick(self) -> None:
        if not self.running and not self.offline and self.configured():
            self.sync_now()

    def sync_now(self) -> bool:
        """Start one round on the network pool; False when one is already running."""
        if self.running:
            return False
        if not self.configured():
            self.last_error = "not_configured"
            self.ctx.signals.sync_finished.emit(None)
            return False
        self.running = True
        self.state_changed.emit()
        store = self.ctx.store

        def work() -> tuple[Any, float, int, str | None]:
            # The queue's size before and after, and the last success, read here on the
            # network pool: no statement on the GUI thread around a round (#15).
            queued_before = store.outbox_stats()[0]
            t0 = time.monotonic()
            report = self._engine().sync_once()
            elapsed = time.monotonic() - t0
            sent = queued_before - store.outbox_stats()[0]
            return report, elapsed, sent, store.get_setting(keys.LAST_SUCCESS)

        def done(result: tuple[Any, float, int, str | None]) -> None:
            report, elapsed, sent, last_success = result
            self.running = False
            if self._reset_pending:
                self._reset_pending = False
                self.close()
            self.rounds += 1
            reachable = bool(getattr(report, "reachable", True))
            self.last_error = getattr(report, "error", None)
            if getattr(report, "refdata_version", None):
                self.ctx.reload_refdata()
            if reachable and getattr(report, "error", None) is None:
                self.last_sync_ok = last_success or now_utc()
                if sent >= 50 and elapsed > 0:
                    self.drain_rate = sent / elapsed
                    self._remember({keys.DRAIN_RATE: self.drain_rate})
                if not self.offline:
                    self._on_connectivity(getattr(self.engine, "connectivity", None) or "online")
            elif not reachable:
                self._on_connectivity("offline")
            self.note_drained(int(getattr(report, "remaining", 0) or 0))
            self.ctx.signals.sync_progress.emit(0, 0)
            self.ctx.signals.sync_finished.emit(report)
            self.state_changed.emit()

        def failed(exc: BaseException) -> None:
            self.running = False
            if self._reset_pending:
                self._reset_pending = False
                self.close()
            self.last_error = exc
            self.ctx.signals.sync_progress.emit(0, 0)
            self.ctx.signals.sync_finished.emit(None)
            self.state_changed.emit()
            self.ctx.report_error(exc)

        self.ctx.network.submit(work, done, failed)
        return True

    def note_drained(self, remaining: int) -> None:
        """After a round: once the queue carried through an outage is empty, report it."""
        rec = self._recovering
        if rec is None or remaining > 0:
            return
        self._recovering = None
        self.last_recovery = {"outage_s": rec["outage_s"], "carried": rec["carried"],
                              "since": rec["since"], "recovered_at": now_utc(),
                              "drain_s": round(time.monotonic() - rec["t0"], 1)}
        self._remember({keys.LAST_RECOVERY: self.last_recovery})
        self.state_changed.emit()

    def set_offline(self, offline: bool) -> None:
        """The user's "work offline" switch: nothing leaves the machine while it is on."""
        self.offline = offline
        if self.engine is not None:
            self.engine.set_offline(offline)
        self._remember({keys.WORK_OFFLINE: offline})
        self._on_connectivity("offline" if offline else self.connectivity)
        if not offline:
            self.sync_now()

    # ---- state ------------------------------------------------------------------------------
    def _on_connectivity(self, state: str) -> None:
        if self.offline:
            state = "offline"
        changed = state != self.connectivity
        self.connectivity = state
        if state == "offline" and self.offline_since is None:
            self.offline_since = now_utc()
            self._remember({keys.OFFLINE_SINCE: self.offline_since})
        elif state == "online" and self.offline_since is not None:
            self._recovering = {"outage_s": round(self.outage_seconds()),
                                "carried": self.ctx.store.outbox_stats()[0],
                                "since": self.offline_since, "t0": time.monotonic()}
            self.offline_since = None
            self._remember({keys.OFFLINE_SINCE: None})
        if changed:
            self.ctx.signals.connectivity_changed.emit(state)
            self.state_changed.emit()

    def _remember(self, values: dict[keys.Setting[Any], Any]) -> None:
        store = self.ctx.store

        def write() -> None:
            for k, v in values.items():
                store.set_setting(k, v)

        self.ctx.writer.submit(write, None, lambda exc: None)

    def outage_seconds(self) -> float:
        if not self.offline_since:
            return 0.0
        return max(0.0, (datetime.now(UTC) - parse_time(self.offline_since)).total_seconds())

    def stop(self) -> None:
        """No more rounds; the engine's connections close unless a round still runs."""
        self._timer.stop()
        if not self.running:
            self.close()

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None


def parse_time(stamp: str) -> datetime:
    return datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)


def age_text(stamp: str | None) -> str:
    """``3 min``-style age of a UTC timestamp, for the status bar."""
    from ui.i18n import t

    if not stamp:
        return t("age.never")
    secs = max(0, int((datetime.now(UTC) - parse_time(stamp)).total_seconds()))
    return duration_text(secs)


def duration_text(secs: float) -> str:
    from ui.i18n import t

    secs = int(secs)
    if secs < 60:
        return t("age.seconds", n=secs)
    if secs < 3600:
        return t("age.minutes", n=secs // 60)
    if secs < 86400:
        return t("age.hours", n=secs // 3600, m=(secs % 3600) // 60)
    return t("age.days", n=secs // 86400, h=(secs % 86400) // 3600)
