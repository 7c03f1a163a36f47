"""The sync engine's drain (#16): never an envelope sent twice in one pass, answers
stored in order, progress told only once the receipts are stored (the herd benchmark
reads it as "holds its receipts"), a failed store stops the pass with nothing lost; the
feed's pages are applied in order while the next one is fetched, and during a drain on
a connection of its own, never ahead of the receipts (#15)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from client.store import history_notes as notes
from client.store import settings_keys as keys
from sync.engine import SyncEngine, SyncListener
from tests.sync.helpers import in_thread_world, seal_ready


@pytest.fixture
def drained(tmp_path: Path):  # type: ignore[no-untyped-def]
    with in_thread_world(tmp_path) as (_handle, profile, secrets, store):
        seal_ready(profile, secrets, store, 23, "PIPE", seed=4)
        yield profile, secrets, store


def test_answers_are_stored_behind_the_next_batch_in_order_and_progress_waits_for_them(
        drained) -> None:
    profile, secrets, store = drained
    sent: list[list[int]] = []
    stored: list[list[int]] = []
    progress: list[tuple[int, int]] = []
    real_record = store.record_deliveries

    def slow_record(results):  # type: ignore[no-untyped-def]
        time.sleep(0.05)  # a slow disk
        out = real_record(results)
        stored.append([r.seq for r in results])
        return out

    store.record_deliveries = slow_record  # type: ignore[method-assign]

    class Listener(SyncListener):
        def on_progress(self, done: int, total: int) -> None:
            progress.append((done, store.receipt_count()))

    engine = SyncEngine(profile, store, secrets, batch_size=5, listener=Listener())
    real_send = engine._send

    def recording_send(items, log_size):  # type: ignore[no-untyped-def]
        sent.append([it.seq for it in items])
        return real_send(items, log_size)

    engine._send = recording_send  # type: ignore[method-assign]
    report = engine.sync_once()
    engine.close()
    assert report.error is None and report.accepted == 23 and report.remaining == 0
    flat = [s for batch in sent for s in batch]
    assert flat == list(range(1, 24))  # each envelope sent once, in device order
    assert stored == sent  # answers stored in the order they came
    assert progress[-1] == (23, 23)
    assert all(done <= receipts for done, receipts in progress)  # told only once stored
    assert store.receipt_count() == 23


def test_the_next_batch_is_on_the_wire_while_the_answer_before_is_stored(drained) -> None:
    """A batch's answer is stored while the next batch is sent: each store waits (up to
    a minute) for the next batch to leave; a drain that stored before sending would
    only ever see its wait run out."""
    profile, secrets, store = drained
    sent: list[int] = []
    overlapped: list[bool] = []
    next_sent = threading.Condition()
    real_record = store.record_deliveries

    def waiting_record(results):  # type: ignore[no-untyped-def]
        last = results[-1].seq
        if last < 23:  # a later batch exists: it must leave before this store ends
            with next_sent:
                overlapped.append(next_sent.wait_for(lambda: max(sent) > last, timeout=60))
        return real_record(results)

    store.record_deliveries = waiting_record  # type: ignore[method-assign]
    engine = SyncEngine(profile, store, secrets, batch_size=5)
    real_send = engine._send

    def recording_send(items, log_size):  # type: ignore[no-untyped-def]
        with next_sent:
            sent.extend(it.seq for it in items)
            next_sent.notify_all()
        return real_send(items, log_size)

    engine._send = recording_send  # type: ignore[method-assign]
    report = engine.sync_once()
    engine.close()
    assert report.error is None and report.accepted == 23 and report.remaining == 0
    assert sent == list(range(1, 24))
    assert overlapped == [True] * 4  # batches 1-4 stored behind batches 2-5
    assert store.receipt_count() == 23


def _receipt_and_first_status(store) -> dict[str, tuple[int | None, int | None]]:  # type: ignore[no-untyped-def]
    """Per declaration the history ids of its receipt and of its first feed status."""
    out: dict[str, tuple[int | None, int | None]] = {}
    for e in store.journal():
        rows = store.history(e.declaration_id)
        receipt = next((h.id for h in rows if h.note == notes.RECEIPT.code), None)
        status = next((h.id for h in rows if h.note == notes.NOTIFICATION.code), None)
        out[e.declaration_id] = (receipt, status)
    return out


def test_the_feed_comes_in_during_the_drain_never_ahead_of_a_receipt(drained) -> None:
    """Five batches, each sent a moment after the one before is stored: the statuses of
    the first ones are applied before the last receipts are in, and no declaration's
    status is ever applied before its receipt.  With the feed pulled only after the
    drain, every status would come after every receipt."""
    profile, secrets, store = drained
    engine = SyncEngine(profile, store, secrets, batch_size=5)
    real_send = engine._send

    def paced_send(items, log_size):  # type: ignore[no-untyped-def]
        if items[0].seq > 1:
            time.sleep(0.2)  # a slow link: the feed's connection has time to answer
        return real_send(items, log_size)

    engine._send = paced_send  # type: ignore[method-assign]
    report = engine.sync_once()
    engine.close()
    assert report.error is None and report.accepted == 23 and report.remaining == 0
    assert report.notifications == 69  # received, accepted, released: each counted once
    ids = _receipt_and_first_status(store)
    assert all(r is not None and s is not None and r < s for r, s in ids.values()), ids
    last_receipt = max(r for r, _ in ids.values() if r is not None)
    assert min(s for _, s in ids.values() if s is not None) < last_receipt


def test_a_store_that_fails_stops_the_pass_and_nothing_is_lost(drained) -> None:
    profile, secrets, store = drained
    calls = {"n": 0}
    real_record = store.record_deliveries

    def failing_record(results):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real_record(results)

    store.record_deliveries = failing_record  # type: ignore[method-assign]
    engine = SyncEngine(profile, store, secrets, batch_size=5)
    with pytest.raises(OSError):
        engine.sync_once()
    engine.close()
    assert threading.active_count() < 50  # no store thread left behind
    assert store.receipt_count() == 5  # the first batch only
    # a page of the feed fetched meanwhile is dropped, not applied ahead of receipts
    assert all(s is None or (r is not None and r < s)
               for r, s in _receipt_and_first_status(store).values())
    store.record_deliveries = real_record  # type: ignore[method-assign]
    engine = SyncEngine(profile, store, secrets, batch_size=5)
    report = engine.sync_once()  # the rest, again: the single window answers duplicates
    engine.close()
    assert report.error is None and report.remaining == 0
    assert report.accepted + report.duplicates == 18
    assert store.receipt_count() == 23


def test_feed_pages_are_applied_in_order_while_the_next_is_fetched(drained) -> None:
    profile, secrets, store = drained
    engine = SyncEngine(profile, store, secrets, batch_size=50)
    assert engine.sync_once().error is None  # 23 lodged: 69 notifications
    store.set_setting(keys.FEED_CURSOR, 0)
    applied: list[tuple[int, int]] = []
    real_apply = store.apply_notifications

    def slow_apply(batch, cursor):  # type: ignore[no-untyped-def]
        time.sleep(0.05)
        applied.append((batch[0]["cursor"], cursor))
        return real_apply(batch, cursor)

    store.apply_notifications = slow_apply  # type: ignore[method-assign]
    import sync.engine as engine_mod

    old_page = engine_mod.FEED_PAGE
    engine_mod.FEED_PAGE = 10
    try:
        report = engine.sync_once()
    finally:
        engine_mod.FEED_PAGE = old_page
        engine.close()
    assert report.error is None and report.notifications == 69
    assert [a for a, _ in applied] == sorted(a for a, _ in applied)
    assert all(b[0] > a[1] for a, b in zip(applied, applied[1:], strict=False))  # no overlap
    assert store.get_setting(keys.FEED_CURSOR) == applied[-1][1]


def test_with_the_apps_one_writer_answers_and_feed_overlap_and_every_write_is_its(
        drained) -> None:
    """The desktop app hands every write to its one writer thread: the drain still
    stores each answer behind the next batch and pulls the feed during the drain (the
    background threads only wait for the writer), and no write runs anywhere else."""
    import concurrent.futures

    profile, secrets, store = drained
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="app-writer")
    writers: set[str] = set()
    for name in ("record_deliveries", "apply_notifications", "set_setting",
                 "outbox_note_attempt"):
        real = getattr(store, name)

        def on_writer(*a, _real=real, _name=name, **kw):  # type: ignore[no-untyped-def]
            writers.add(threading.current_thread().name.split("_")[0])
            if _name == "record_deliveries":
                time.sleep(0.1)  # a store that takes a while: the next batch goes meanwhile
            return _real(*a, **kw)

        setattr(store, name, on_writer)
    engine = SyncEngine(profile, store, secrets, batch_size=5,
                        writer=lambda fn: pool.submit(fn).result(timeout=60))
    real_send = engine._send
    overlapped: list[bool] = []

    def paced_send(items, log_size):  # type: ignore[no-untyped-def]
        if items[0].seq > 1:
            overlapped.append(any(t.name == "comptoir-sync-store" and t.is_alive()
                                  for t in threading.enumerate()))
            time.sleep(0.2)  # a slow link: the feed's connection has time to answer
        return real_send(items, log_size)

    engine._send = paced_send  # type: ignore[method-assign]
    report = engine.sync_once()
    engine.close()
    pool.shutdown()
    assert report.error is None and report.accepted == 23 and report.remaining == 0
    assert report.notifications == 69
    assert writers == {"app-writer"}, writers
    assert overlapped == [True] * 4, overlapped  # batches 1-4 stored behind 2-5
    ids = _receipt_and_first_status(store)
    assert all(r is not None and s is not None and r < s for r, s in ids.values()), ids
    last_receipt = max(r for r, _ in ids.values() if r is not None)
    assert min(s for _, s in ids.values() if s is not None) < last_receipt
