"""``comptoir connect cds`` and ``comptoir cds status | unresolved | decide``."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from client.common.i18n import ComptoirError, tr


def register(sub: Any) -> None:
    """Add the CDS connector's subcommands."""
    connect = sub.add_parser("connect", help=tr("cds.connect_help"),
                             description=tr("cds.connect_help"))
    csub = connect.add_subparsers(dest="connect_target", parser_class=type(connect))
    connect.set_defaults(func=_usage("comptoir connect cds --environment … --client-id …"))
    p = csub.add_parser("cds", help=tr("cds.connect_cds_help"),
                        description=tr("cds.connect_cds_help"))
    p.add_argument("--environment", required=True, metavar="sandbox|production|URL")
    p.add_argument("--client-id", required=True)
    p.add_argument("--client-secret-from-keyring", action="store_true",
                   help=tr("cds.client_secret_help"))
    p.add_argument("--ca", type=Path, help=tr("cds.ca_help"))
    p.add_argument("--no-browser", action="store_true", help=tr("cds.no_browser_help"))
    p.add_argument("--badge", help=tr("cds.badge_help"))
    p.add_argument("--submitter", help=tr("cds.submitter_help"))
    p.add_argument("--schemas", type=Path, help=tr("cds_emulator.schemas_help"))
    p.add_argument("--rate", type=float, default=3.0, help=tr("cds.rate_help"))
    p.add_argument("--wait", type=float, default=300.0, help=tr("cds.wait_help"))
    p.set_defaults(func=cmd_connect_cds)

    cds = sub.add_parser("cds", help=tr("cds.help"), description=tr("cds.help"))
    dsub = cds.add_subparsers(dest="cds_command", parser_class=type(cds))
    cds.set_defaults(func=_usage("comptoir cds {status,unresolved,decide}"))
    p = dsub.add_parser("status", help=tr("cds.status_help"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)
    p = dsub.add_parser("unresolved", help=tr("cds.unresolved_help"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_unresolved)
    p = dsub.add_parser("decide", help=tr("cds.decide_help"))
    p.add_argument("id")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--resend", action="store_true", help=tr("cds.decide_resend_help"))
    which.add_argument("--lodged", metavar="MRN", help=tr("cds.decide_lodged_help"))
    which.add_argument("--withdraw", action="store_true", help=tr("cds.decide_withdraw_help"))
    p.set_defaults(func=cmd_decide)


def _usage(detail: str) -> Any:
    def handler(args: argparse.Namespace) -> int:
        raise ComptoirError("error.usage", 2, detail=detail)
    return handler


def cmd_connect_cds(args: argparse.Namespace) -> int:
    from client.seal.profile import load_or_init, secret_store
    from sync.cds.connect import connect_cds
    from sync.cds.oauth import CLIENT_SECRET

    profile = load_or_init(args.home)
    secrets = secret_store(profile)
    client_secret = None
    if args.client_secret_from_keyring and secrets.get(CLIENT_SECRET) is None:
        if not sys.stdin.isatty():
            raise ComptoirError("cds.client_secret_missing", 2)
        client_secret = getpass.getpass(tr("cds.client_secret_prompt"))

    def show(authorize_url: str) -> None:
        print(tr("cds.open_url" if args.no_browser else "cds.opening_browser"), flush=True)
        print(authorize_url, flush=True)

    token = connect_cds(profile, secrets, environment=args.environment,
                        client_id=args.client_id, ca=args.ca, badge=args.badge,
                        submitter=args.submitter, schemas=args.schemas, rate=args.rate,
                        confidential=bool(args.client_secret_from_keyring),
                        client_secret=client_secret, open_browser=not args.no_browser,
                        show_url=show, timeout=args.wait)
    until = token.get("expires_at")
    when = dt.datetime.fromtimestamp(until, dt.UTC).strftime("%Y-%m-%d %H:%M UTC") \
        if until else "-"
    print(tr("cds.connected", environment=(profile.server or {})["cds"]["environment"],
             client=args.client_id, until=when))
    return 0


def _session(args: argparse.Namespace) -> Any:
    from client.seal.profile import load_profile, open_store, secret_store

    profile = load_profile(args.home)
    secrets = secret_store(profile)
    return profile, secrets, open_store(profile, secrets=secrets)


def cmd_status(args: argparse.Namespace) -> int:
    from sync.cds.config import CdsConfig
    from sync.cds.oauth import TokenKeeper

    profile, secrets, store = _session(args)
    try:
        cfg = CdsConfig.from_profile(profile)
        counts = store.cds_counts()
        credentials = TokenKeeper(cfg, secrets).status()
    finally:
        store.close()
    doc = {"connector": (profile.server or {}).get("connector", "comptoir"),
           "environment": cfg.environment, "url": cfg.url, "client_id": cfg.client_id,
           "credentials": credentials, "badge": cfg.badge, "submitter": cfg.submitter,
           "lodgings": counts}
    if args.json:
        print(json.dumps(doc, sort_keys=True))
        return 0
    print(tr("cds.status_line", environment=cfg.environment, url=cfg.url,
             client=cfg.client_id, credentials=tr(f"cds.credentials.{credentials}")))
    print(tr("cds.status_counts", lodged=counts.get("lodged", 0),
             uncertain=counts.get("uncertain", 0), unresolved=counts.get("unresolved", 0),
             refused=counts.get("refused", 0), orphans=counts.get("orphan_notifications", 0)))
    return 0


def cmd_unresolved(args: argparse.Namespace) -> int:
    from client.services.lodgings import unresolved_lodgings
    from sync.cds.config import window_of

    profile, _, store = _session(args)
    try:
        rows = unresolved_lodgings(store, window_of(profile))
    finally:
        store.close()
    if args.json:
        print(json.dumps([r.to_json() for r in rows], sort_keys=True))
        return 0
    for r in rows:
        first = r.attempts[0]["started_at"] if r.attempts else "-"
        print(tr("cds.unresolved_line", id=r.declaration_id, lrn=r.lrn, first=first,
                 attempts=len(r.attempts), notifications=r.notifications))
    if rows:
        print(tr("cds.unresolved_options"))
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    from client.services.lodgings import decide_lodging

    profile, _, store = _session(args)
    decision = "resend" if args.resend else "lodged" if args.lodged else "withdraw"
    try:
        decide_lodging(store, args.id, decision, profile.actor(), mrn=args.lodged)
    finally:
        store.close()
    print(tr(f"cds.decided_{decision}", id=args.id, mrn=args.lodged or "-"))
    return 0
