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
    if report.unresolved:  # connectors without idempotency keys (CDS): the user decides
        print(f"comptoir: {tr('sync.unresolved', count=report.unresolved)}", file=sys.stderr)
    if report.error is not None:
        print(f"comptoir: {report.error.render()}", file=sys.stderr)
        print(summary, file=sys.stderr)
        return 3 if report.remaining else 0 if report.reachable else 3
    print(summary)
    if report.remaining:
        return 3
    return 4 if report.unresolved else 0


def enrolment_status(profile: Any, store: Any) -> dict[str, Any]:
    """Whether the device is enrolled, and what waits in its outbox (for status lines)."""
    queued, oldest = store.outbox_stats()
    server = profile.server or {}
    enrolled = bool(server.get("url"))
    # Before enrolment every queued envelope is self-signed: all are re-sealed at enrolment.
    to_reseal = 0 if enrolled else queued
    return {"home": str(profile.home), "role": profile.role, "enrolled": enrolled,
            "server": server.get("url"), "trader_id": server.get("trader_id"),
            "enrolled_at": server.get("enrolled_at"), "queued": queued,
            "oldest_queued_at": oldest, "to_reseal_at_enrolment": to_reseal,
            "lodgings_due": [{"id": r.id, "lrn": r.lrn, "lodge_by": r.lodge_by}
                             for r in store.lodgings_due()]}


def status_lines(st: dict[str, Any]) -> list[str]:
    """The status in the user's language: enrolled or not, what will happen, and the
    fallback documents whose electronic lodging is due (the nearest deadline)."""
    from client.declaration.continuity import countdown

    if st["enrolled"]:
        lines = [tr("sync.status_enrolled", url=st["server"], trader=st["trader_id"] or "?",
                    at=st["enrolled_at"] or "?"),
                 tr("sync.status_queued", queued=st["queued"])]
    else:
        lines = [tr("sync.status_not_enrolled", home=st["home"]),
                 tr("sync.status_not_enrolled_outbox", queued=st["queued"])]
    due = st.get("lodgings_due") or []
    if due:
        lines.append(tr("fallback.due", count=len(due), countdown=countdown(due[0]["lodge_by"])))
    return lines


def cmd_status(args: argparse.Namespace) -> int:
    import json

    from client.seal.profile import load_or_init, open_store, secret_store

    profile = load_or_init(args.home)
    secrets = secret_store(profile)
    store = open_store(profile, secrets=secrets)
    try:
        st = enrolment_status(profile, store)
    finally:
        store.close()
    if args.json:
        print(json.dumps(st, ensure_ascii=False))
    else:
        print("\n".join(status_lines(st)))
    return 0


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
    p = sub.add_parser("status", help=tr("help.status"), description=tr("help.status"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

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
