"""Headless commands of the field officer mode (#8): decide, decisions, trust show.

``comptoir verify`` (client.cli.decl) verifies; these record and list control
decisions and show the age of the offline trust material.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from client.cli.render import dumps, render
from client.common.i18n import ComptoirError, Message, tr
from client.officer.decisions import OUTCOMES
from client.services.officer import decide, officer_decisions, received, trust_summary


def cmd_decide(args: argparse.Namespace) -> int:
    decision = decide(args.home, args.target, args.outcome, args.reason)
    result, entry, doc = decision.verify, decision.entry, decision.document
    if args.json:
        print(dumps({"decision": doc, "seq": entry.seq, "envelope_hash": entry.envelope_hash,
                      "verify": result.to_json(), "state": "queued"}))
        return 0
    for line in result.lines[:4]:
        print(render(line))
    print(tr("officer.decided", outcome=Message(f"officer.outcome.{doc['outcome']}"),
             id=doc["declaration_id"], version=doc["declaration_version"], seq=entry.seq,
             decision=doc["id"]))
    return 0


def cmd_decisions(args: argparse.Namespace) -> int:
    if args.id:
        got = received(args.home, args.id)
        if args.json:
            print(dumps([d.to_json() for d in got]))
            return 0
        for d in got:
            key = "officer.received_conflict" if d.conflict else "officer.received_line"
            print(tr(key, at=d.at, outcome=Message(f"officer.outcome.{d.outcome}"),
                     officer=d.officer_id, decided_at=d.decided_at, reason=d.reason or "-",
                     verified=tr("officer.verified" if d.verified else "officer.not_verified",
                                 problem=d.problem or "")))
        if not got:
            print(tr("officer.none"))
        return 0
    records = officer_decisions(args.home)
    if args.json:
        print(dumps([r.to_json() for r in records]))
        return 0
    for r in records:
        flags = tr("officer.flagged", flags=", ".join(r.flags)) if r.flags else ""
        print(tr("officer.decision_line", decided_at=r.decided_at,
                 outcome=Message(f"officer.outcome.{r.outcome}"), id=r.declaration_id,
                 version=r.declaration_version, lrn=r.lrn or "-",
                 state=tr(f"officer.state.{r.state}"), flags=flags).rstrip())
    if not records:
        print(tr("officer.none"))
    return 0


def cmd_trust_show(args: argparse.Namespace) -> int:
    summary = trust_summary(args.home)
    if summary is None:
        if args.json:
            print(dumps({"fetched_at": None}))
            return 1
        print(tr("trust.none"), file=sys.stderr)
        return 1
    if args.json:
        print(dumps(summary))
        return 0
    key = "trust.show_stale" if summary["stale"] else "trust.show"
    print(tr(key, date=summary["fetched_at"], days=summary["age_days"]))
    print(tr("trust.show_counts", cas=len(summary["ca_certificates"]),
             revoked=len(summary["revoked"]), devices=summary["devices"]["total"],
             officers=summary["devices"]["officers"]))
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("decide", help=tr("help.decide"), description=tr("help.decide"))
    p.set_defaults(func=cmd_decide)
    p.add_argument("target", help="FILE|TOKEN")
    p.add_argument("--outcome", required=True, choices=list(OUTCOMES))
    p.add_argument("--reason", help=tr("help.decide_reason"))
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("decisions", help=tr("help.decisions"), description=tr("help.decisions"))
    p.set_defaults(func=cmd_decisions)
    p.add_argument("--id", help=tr("help.decisions_id"))
    p.add_argument("--json", action="store_true")

    trust = sub.add_parser("trust", help=tr("help.trust"), description=tr("help.trust"))
    trust.set_defaults(func=lambda a: (_ for _ in ()).throw(
        ComptoirError("error.usage", 2, detail="comptoir trust show [--json]")))
    tsub = trust.add_subparsers(dest="trust_command", parser_class=type(trust))
    p = tsub.add_parser("show", help=tr("help.trust_show"))
    p.set_defaults(func=cmd_trust_show)
    p.add_argument("--json", action="store_true")
