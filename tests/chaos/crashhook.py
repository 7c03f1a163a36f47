"""Crash points for child processes only: SIGKILL at a named step of seal or sync.

Installed by ``tests/chaos/hook/sitecustomize.py`` when the child's environment has
``COMPTOIR_CRASH_POINT`` (and optionally ``COMPTOIR_CRASH_AT``, the n-th time the point
is reached, default 1).  It monkeypatches the product's classes in that process only;
nothing of this exists in product code.

Points:
- ``seal.before_commit``  inside the seal transaction, envelope signed, not committed
- ``seal.after_commit``   the seal committed, before the CLI says so
- ``sync.before_send``    a batch about to be sent
- ``sync.after_send``     the server committed and answered; nothing stored yet
- ``sync.in_record``      receipts written inside the transaction, not committed
- ``sync.after_record``   receipts and outbox committed
- ``feed.after_apply``    a page of the feed applied and committed
- ``reseal.in_migration`` a high-S tail being re-sealed (#12): the n-th new envelope made
                          inside the one transaction, not committed
"""

from __future__ import annotations

import functools
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

POINTS = ("seal.before_commit", "seal.after_commit", "sync.before_send", "sync.after_send",
          "sync.in_record", "sync.after_record", "feed.after_apply", "reseal.in_migration")

_hits: dict[str, int] = {}
_armed = threading.local()


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def hit(point: str) -> None:
    """Count a pass through ``point``; SIGKILL this process on the chosen pass."""
    if os.environ.get("COMPTOIR_CRASH_POINT") != point:
        return
    _hits[point] = _hits.get(point, 0) + 1
    if _hits[point] >= int(os.environ.get("COMPTOIR_CRASH_AT", "1")):
        _die()


def _wrap_after(fn: Callable[..., Any], point: str) -> Callable[..., Any]:
    @functools.wraps(fn)
    def inner(*a: Any, **kw: Any) -> Any:
        out = fn(*a, **kw)
        hit(point)
        return out
    return inner


def install() -> None:
    point = os.environ.get("COMPTOIR_CRASH_POINT")
    if not point:
        return
    if point not in POINTS:
        raise SystemExit(f"unknown crash point {point}")
    from client.store import Store
    from sync.transport import SingleWindowClient

    seal = Store.seal

    @functools.wraps(seal)
    def seal_hooked(self: Store, decl_id: str, actor: str, sealer: Any, check: Any = None) -> Any:
        def signing(*args: Any) -> Any:  # the store's SealFn arguments, passed through
            env = sealer(*args)
            hit("seal.before_commit")  # still inside BEGIN IMMEDIATE … COMMIT
            return env
        out = seal(self, decl_id, actor, signing, check)
        hit("seal.after_commit")
        return out

    Store.seal = seal_hooked  # type: ignore[method-assign]

    submit = SingleWindowClient.submit

    @functools.wraps(submit)
    def submit_hooked(self: SingleWindowClient, *a: Any, **kw: Any) -> Any:
        hit("sync.before_send")
        out = submit(self, *a, **kw)
        hit("sync.after_send")
        return out

    SingleWindowClient.submit = submit_hooked  # type: ignore[method-assign]

    tx = Store._tx

    @contextmanager
    def tx_hooked(self: Store) -> Iterator[Any]:
        with tx(self) as conn:
            yield conn
            if getattr(_armed, "record", False):
                hit("sync.in_record")  # the body ran; COMMIT has not

    Store._tx = tx_hooked  # type: ignore[method-assign]

    record = Store.record_deliveries

    @functools.wraps(record)
    def record_hooked(self: Store, *a: Any, **kw: Any) -> Any:
        _armed.record = True
        try:
            out = record(self, *a, **kw)
        finally:
            _armed.record = False
        hit("sync.after_record")
        return out

    Store.record_deliveries = record_hooked  # type: ignore[method-assign]
    Store.apply_notifications = _wrap_after(  # type: ignore[method-assign]
        Store.apply_notifications, "feed.after_apply")
    from client.seal import reseal

    reseal._resealed = _wrap_after(reseal._resealed, "reseal.in_migration")  # type: ignore[attr-defined]
