"""App-wide signals, declared in one place (Anki's ``gui_hooks.operation_did_execute``).

One :class:`AppSignals` object is created by the application and passed to every
view (no global singleton).  After any operation the op runner emits
``operation_did_execute(changes, initiator)``; each view refreshes only what concerns
it and may skip changes it initiated itself.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class AppSignals(QObject):
    """Typed, documented broadcasts between the parts of the desktop app."""

    #: (client.store.Changes, initiator: object | None) after an op committed.
    operation_did_execute = Signal(object, object)
    #: "online" | "degraded" | "offline", from the sync engine's probe.
    connectivity_changed = Signal(str)
    #: (done, total) while the outbox drains; (0, 0) when idle.
    sync_progress = Signal(int, int)
    #: a sync round finished: the SyncReport (or None when no engine is available).
    sync_finished = Signal(object)
    #: [(declaration id, new status)] reported by the single window.
    statuses_reported = Signal(list)
    #: the GUI language changed ("en" | "fr"): retranslate.
    language_changed = Signal(str)
