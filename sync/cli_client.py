"""``comptoir enrol`` and ``comptoir sync``: the client side of the single window."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any

from client.common.i18n import ComptoirError, tr


def cmd_enrol(args: argparse.Namespace) -> int:
    from client.seal.profile import load_or_init, secret_store
    from sync.enrolment import enrol

    profile = load_or_init(args.home)
    secrets = secret_store(profile)
    result = enrol(profile, secrets, server_url=args.server, code=args.code,
                   ca_pem_path=args.ca, pin_sha256=args.pin, trader_id=args.trader)
    print(tr("sync.enrolled", trader=result.trader_id, role=result.role, url=result.server_url))
    return 0


class _PrintListener:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def on_progress(self, done: int, total: int) -> None:
        if not self.quiet and total and sys.stderr.isatty():
            print(f"\r{tr('sync.progress', done=done, total=total)}", end="", file=sys.stderr)

    def on_connectivity(self, state: str) -> None: ...

    def on_changes(self, changes: Any) -> None: ...

    def on_statuses(self, statuses: list[tuple[str, str]]) -> None: ...


def cmd_sync(args: argparse.Namespace) -> int:
    from client.seal.profile import load_or_init, open_store, secret_store
    from sync.engine import SyncEngine

    profile = load_or_init(args.home)
    secrets = secret_store(profile)
    with open_store(profile, secrets=secrets) as store:
        engine = SyncEngine(profile, store, secrets, listener=_PrintListener(args.quiet),
                            batch_size=args.batch)
        try:
            if not args.once:
                stop = threading.Event()
                try:
                    engine.run_forever(stop)
                except KeyboardInterrupt:
                    stop.set()
                return 0
            report = engine.sync_once()
        finally:
            engine.close()
    if sys.stderr.isatty() and not args.quiet:
        print(file=sys.stderr)
    summary = tr("sync.summary", accepted=report.accepted, duplicates=report.duplicates,
                 rejected=report.rejected, held=report.held, notifications=report.notifications,
                 remaining=report.remaining)
    if report.error is not None:
        print(f"comptoir: {report.error.render()}", file=sys.stderr)
        print(summary, file=sys.stderr)
        return 3 if report.remaining else 0 if report.reachable else 3
    print(summary)
    return 0 if report.remaining == 0 else 3


def cmd_receipt(args: argparse.Namespace) -> int:
    """Write a declaration's latest receipt (a standalone proof of lodging) to a file or
    standard output, for ``comptoir verify`` here or anywhere else."""
    from client.seal.profile import load_or_init, open_store, secret_store

    profile = load_or_init(args.home)
    with open_store(profile, secrets=secret_store(profile)) as store:
        if not store.exists(args.id):
            raise ComptoirError("error.not_found", 2, id=args.id)
        receipts = store.receipts(args.id)
    if not receipts:
        raise ComptoirError("sync.no_receipt_yet", 1, id=args.id)
    token = str(receipts[-1]["token"])
    if args.out is None:
        print(token)
    else:
        args.out.write_text(token + "\n", encoding="utf-8")
        print(tr("sync.receipt_written", path=str(args.out)))
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("enrol", help=tr("help.enrol"), description=tr("help.enrol"))
    p.add_argument("--server", required=True, help="https://host:port")
    p.add_argument("--code", required=True)
    p.add_argument("--ca", type=Path, help=tr("help.enrol_ca"))
    p.add_argument("--pin", help=tr("help.enrol_pin"))
    p.add_argument("--trader", help=tr("help.declarant"))
    p.set_defaults(func=cmd_enrol)

    p = sub.add_parser("receipt", help=tr("help.receipt"), description=tr("help.receipt"))
    p.add_argument("id")
    p.add_argument("--out", type=Path, default=None)
    p.set_defaults(func=cmd_receipt)

    p = sub.add_parser("sync", help=tr("help.sync"), description=tr("help.sync"))
    p.add_argument("--once", action="store_true", help=tr("help.sync_once"))
    p.add_argument("--batch", type=int, default=250)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_sync)


__all__ = ["register", "ComptoirError"]
