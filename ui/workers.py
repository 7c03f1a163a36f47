"""Background work: one writer for the store, a reader pool, a pool for the network.

Anki's pattern: every store write runs on a single worker thread (SQLite has one
writer; the GUI thread never waits on an fsync), reads and rendering run on a small
reader pool (never queued behind an autosave), network work runs on a separate pool
(the GUI thread never waits on a socket), and results come back to the GUI thread
through a queued Qt signal.  An operation is a small object with ``success`` and
``failure`` callbacks: :class:`Op` for writes (Anki's ``CollectionOp``), :class:`QueryOp`
for reads (Anki's ``QueryOp``); its background function never touches a widget.  Unit
tests swap in :class:`ImmediateRunner` to run synchronously.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from client.store import Changes

Success = Callable[[Any], None]
Failure = Callable[[BaseException], None]


class Runner(Protocol):
    """Runs ``fn`` somewhere, then calls back on the GUI thread."""

    def submit(self, fn: Callable[[], Any], on_success: Success | None = None,
               on_failure: Failure | None = None) -> None: ...


class _Relay(QObject):
    """Carries a callable from a worker thread to the thread that owns this object."""

    deliver = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.deliver.connect(self._run)

    @Slot(object)
    def _run(self, fn: Callable[[], None]) -> None:
        fn()


def _default_failure(exc: BaseException) -> None:
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)


def _finish(result: Any, exc: BaseException | None, on_success: Success | None,
            on_failure: Failure | None) -> None:
    if exc is not None:
        (on_failure or _default_failure)(exc)
    elif on_success is not None:
        on_success(result)


class WriterExecutor:
    """The one thread that writes to the store: ordered, one job at a time."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="comptoir-writer")
        self._relay = _Relay()
        self._pending = 0
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        return self._pending

    def submit(self, fn: Callable[[], Any], on_success: Success | None = None,
               on_failure: Failure | None = None) -> None:
        with self._lock:
            self._pending += 1

        def done(fut: Future[Any]) -> None:
            with self._lock:
                self._pending -= 1
            exc = fut.exception()
            result = None if exc is not None else fut.result()
            self._relay.deliver.emit(lambda: _finish(result, exc, on_success, on_failure))

        self._pool.submit(fn).add_done_callback(done)

    def run_blocking(self, fn: Callable[[], Any], timeout: float = 30.0) -> Any:
        """Run ``fn`` on the writer and wait (only at shutdown: the last autosave)."""
        return self._pool.submit(fn).result(timeout=timeout)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay, on_success: Success | None,
                 on_failure: Failure | None) -> None:
        super().__init__()
        self.fn, self.relay = fn, relay
        self.on_success, self.on_failure = on_success, on_failure

    def run(self) -> None:
        try:
            result, exc = self.fn(), None
        except BaseException as e:  # noqa: BLE001 - reported on the GUI thread
            result, exc = None, e
        s, f = self.on_success, self.on_failure
        try:
            self.relay.deliver.emit(lambda: _finish(result, exc, s, f))
        except RuntimeError:  # the app is gone (shutdown): nobody is left to tell
            pass


class NetworkPool:
    """The pool for HTTP work (sync, enrolment, probes); never the store writer."""

    def __init__(self, max_threads: int = 2) -> None:
        self._pool = QThreadPool()
        self._pool.setMaxThreadCount(max_threads)
        self._relay = _Relay()

    def submit(self, fn: Callable[[], Any], on_success: Success | None = None,
               on_failure: Failure | None = None) -> None:
        self._pool.start(_Job(fn, self._relay, on_success, on_failure))

    def active(self) -> int:
        return self._pool.activeThreadCount()

    def wait_idle(self, timeout_ms: int = 30000) -> bool:
        """Block until every job has run; their answers are then queued for the GUI
        thread (delivered at its next event-loop turn).  False on timeout."""
        return bool(self._pool.waitForDone(timeout_ms))

    def shutdown(self, timeout_ms: int = 15000) -> None:
        self._pool.clear()
        self._pool.waitForDone(timeout_ms)


class ReaderPool(NetworkPool):
    """Threads for store reads and rendering (a 100,000-row id list, a detail pane, a
    PDF): never writes the store.  Two, so that a long render does not hold up the
    detail pane; SQLite in WAL mode serves readers side by side."""

    def __init__(self, max_threads: int = 2) -> None:
        super().__init__(max_threads=max_threads)


class ImmediateRunner:
    """Runs jobs at once on the calling thread (unit tests; Picard's FakeThreadPool)."""

    def __init__(self) -> None:
        self.pending = 0

    def submit(self, fn: Callable[[], Any], on_success: Success | None = None,
               on_failure: Failure | None = None) -> None:
        try:
            result, exc = fn(), None
        except Exception as e:  # noqa: BLE001
            result, exc = None, e
        _finish(result, exc, on_success, on_failure)

    def run_blocking(self, fn: Callable[[], Any], timeout: float = 30.0) -> Any:
        return fn()

    def shutdown(self) -> None:
        pass


def changes_of(result: Any) -> Changes | None:
    """The Changes an op produced: the result itself or its ``changes`` attribute."""
    if isinstance(result, Changes):
        return result
    got = getattr(result, "changes", None)
    return got if isinstance(got, Changes) else None


class Op:
    """One background operation with success / failure callbacks (Anki's CollectionOp).

    ``Op(ctx, fn).success(cb).failure(cb).run()`` runs ``fn`` on the writer (or
    ``network=True``: on the network pool), then on the GUI thread calls ``cb`` and
    broadcasts ``operation_did_execute(changes, initiator)`` when something changed.
    """

    def __init__(self, ctx: Any, fn: Callable[[], Any], *, initiator: object | None = None,
                 network: bool = False) -> None:
        self.ctx, self.fn, self.initiator, self.network = ctx, fn, initiator, network
        self._success: Success | None = None
        self._failure: Failure | None = None

    def success(self, cb: Success) -> Op:
        self._success = cb
        return self

    def failure(self, cb: Failure) -> Op:
        self._failure = cb
        return self

    def run(self) -> None:
        def ok(result: Any) -> None:
            ch = changes_of(result)
            if ch is not None and ch != Changes():
                self.ctx.signals.operation_did_execute.emit(ch, self.initiator)
            if self._success is not None:
                self._success(result)

        def bad(exc: BaseException) -> None:
            if self._failure is not None:
                self._failure(exc)
            else:
                self.ctx.report_error(exc)

        runner = self.ctx.network if self.network else self.ctx.writer
        runner.submit(self.fn, ok, bad)


class LatestOnly:
    """A lane of queries in which a newer one supersedes the older ones.

    The detail pane asks for the row under the cursor; a user holding the down arrow
    asks for twenty.  Only the last answer is shown: older ones still queued are not
    run, and older ones that finish late (the reader pool has two threads, so answers
    may arrive out of order) are dropped.  Tickets are taken on the GUI thread; a
    reader thread only reads the current one (an int: no lock needed to compare).
    """

    def __init__(self) -> None:
        self._ticket = 0

    def take(self) -> int:
        """A ticket for a new query; every earlier ticket is now stale."""
        self._ticket += 1
        return self._ticket

    def current(self, ticket: int) -> bool:
        return ticket == self._ticket

    def cancel(self) -> None:
        """Drop whatever is in flight (the pane now shows nothing)."""
        self._ticket += 1


class _Superseded(Exception):
    """A queued query whose answer nobody wants any more: never started."""


_INLINE = ImmediateRunner()


class QueryOp:
    """A read-only background operation (Anki's ``QueryOp``, beside :class:`Op`).

    ``QueryOp(ctx, fn).success(cb).failure(cb).run()`` runs ``fn`` on the reader pool,
    never on the writer (so a read never waits for an autosave, and an autosave never
    waits for a PDF), then calls ``cb`` with its result on the GUI thread.  ``fn`` must
    not write the store; it broadcasts nothing.  With ``latest=`` a :class:`LatestOnly`
    lane, a result arrives only if no newer query of that lane was run meanwhile.  A
    context without a reader pool (unit tests) runs ``fn`` at once, inline.
    """

    def __init__(self, ctx: Any, fn: Callable[[], Any], *,
                 latest: LatestOnly | None = None) -> None:
        self.ctx, self.fn, self.latest = ctx, fn, latest
        self._success: Success | None = None
        self._failure: Failure | None = None

    def success(self, cb: Success) -> QueryOp:
        self._success = cb
        return self

    def failure(self, cb: Failure) -> QueryOp:
        self._failure = cb
        return self

    def run(self) -> None:
        lane = self.latest
        ticket = lane.take() if lane is not None else 0
        fn = self.fn

        def stale() -> bool:
            return lane is not None and not lane.current(ticket)

        def job() -> Any:
            if stale():  # a newer query was asked for while this one waited
                raise _Superseded
            return fn()

        def ok(result: Any) -> None:
            if not stale() and self._success is not None:
                self._success(result)

        def bad(exc: BaseException) -> None:
            if isinstance(exc, _Superseded) or stale():
                return
            if self._failure is not None:
                self._failure(exc)
            else:
                self.ctx.report_error(exc)

        runner = self.ctx.reader if self.ctx.reader is not None else _INLINE
        runner.submit(job, ok, bad)
