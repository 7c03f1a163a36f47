"""``comptoir sandbox serve | enrolment | stats``: run and administer the sandbox."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from client.common.i18n import ComptoirError, tr


def _home(args: argparse.Namespace) -> Path:
    """--home after the subcommand; else the sandbox folder of the profile."""
    if args.sandbox_home is not None:
        return Path(args.sandbox_home).expanduser().resolve()
    return Path(args.home) / "sandbox"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--home", dest="sandbox_home", type=Path, default=None,
                   help=tr("sandbox.cli.home_help"))
    p.add_argument("--db", default=None, help=tr("sandbox.cli.db_help"))


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sandbox = sub.add_parser("sandbox", help=tr("sandbox.cli.help"))
    ssub = sandbox.add_subparsers(dest="sandbox_command", parser_class=type(sandbox))
    sandbox.set_defaults(func=_missing)

    serve = ssub.add_parser("serve", help=tr("sandbox.cli.serve_help"))
    _common(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8443)
    serve.add_argument("--seed", type=int, default=0)
    serve.add_argument("--refdata", type=Path, default=None, help=tr("sandbox.cli.refdata_help"))
    serve.add_argument("--lane", choices=("auto", "green"), default="auto")
    serve.add_argument("--clock-speed", type=float, default=None,
                       help=tr("sandbox.cli.clock_help"))
    serve.add_argument("--country", default="GB")
    serve.add_argument("--workers", type=int, default=1, help=tr("sandbox.cli.workers_help"))
    serve.add_argument("--check-processes", type=int, default=None,
                       help=tr("sandbox.cli.check_processes_help"))
    serve.set_defaults(func=_serve)

    enrol = ssub.add_parser("enrolment", help=tr("sandbox.cli.enrolment_help"))
    _common(enrol)
    enrol.add_argument("--trader", required=True)
    enrol.add_argument("--role", choices=("trader", "officer"), default="trader")
    enrol.add_argument("--json", action="store_true")
    enrol.set_defaults(func=_enrolment)

    revoke = ssub.add_parser("revoke", help=tr("sandbox.cli.revoke_help"))
    _common(revoke)
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--serial", help="HEX")
    which.add_argument("--device", help="ID")
    revoke.set_defaults(func=_revoke)

    authorise = ssub.add_parser("authorise", help=tr("sandbox.cli.authorise_help"))
    _common(authorise)
    authorise.add_argument("--declarant", required=True, help="DE 3/18")
    authorise.add_argument("--representative", required=True, help="DE 3/20")
    authorise.set_defaults(func=_authorise)

    stats = ssub.add_parser("stats", help=tr("sandbox.cli.stats_help"))
    _common(stats)
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(func=_stats)


def _missing(args: argparse.Namespace) -> int:
    raise ComptoirError("error.usage", 2, detail="comptoir sandbox {serve,enrolment,stats}")


def _serve(args: argparse.Namespace) -> int:
    from sync.sandbox.app import SandboxSettings
    from sync.sandbox.pipeline import DEFAULT_CLOCK_SPEED
    from sync.sandbox.server import serve

    if args.refdata is not None and not args.refdata.is_dir():
        raise ComptoirError("sandbox.refdata_missing", 2, path=str(args.refdata))
    country = str(args.country).upper()
    if len(country) != 2 or not country.isalpha():
        raise ComptoirError("error.usage", 2, detail=f"--country {args.country}")
    settings = SandboxSettings(home=_home(args), db_url=args.db, seed=args.seed, lane=args.lane,
                               country=country, refdata_dir=args.refdata,
                               clock_speed=args.clock_speed or DEFAULT_CLOCK_SPEED,
                               check_processes=_check_processes(args.check_processes,
                                                                args.workers))
    if not 1 <= args.workers <= 64:
        raise ComptoirError("error.usage", 2, detail=f"--workers {args.workers}")
    serve(settings, host=args.host, port=args.port, workers=args.workers)
    return 0


def _check_processes(requested: int | None, workers: int) -> int:
    """Extra processes checking large batches: none unless asked.  Measured on a 2-core
    machine with the client beside it, shipping batches to them cost about what they
    saved (same drain rate, 10 % more CPU per envelope); several workers spread the
    checks anyway."""
    if requested is not None:
        return max(0, min(requested, 32))
    return 0


def _enrolment(args: argparse.Namespace) -> int:
    from sync.sandbox.app import new_enrolment_code, open_store
    from sync.sandbox.ca import SandboxPKI

    home = _home(args)
    pki = SandboxPKI(home).ensure()
    store = open_store(home, args.db)
    try:
        code = new_enrolment_code(store, args.trader, args.role)
    finally:
        store.close()
    if args.json:
        print(json.dumps({"code": code, "ca_pem_path": str(pki.ca_pem_path)}))
    else:
        print(tr("sandbox.cli.enrolment_done", code=code, trader=args.trader,
                 ca=str(pki.ca_pem_path)))
    return 0


def _authorise(args: argparse.Namespace) -> int:
    """Let a representative lodge in a declarant's name (DE 3/19-3/21), #12."""
    from sync.sandbox.app import open_store

    store = open_store(_home(args), args.db)
    try:
        store.add_authorisation(args.declarant[:35], args.representative[:35])
    finally:
        store.close()
    print(tr("sandbox.cli.authorised", declarant=args.declarant,
             representative=args.representative))
    return 0


def _revoke(args: argparse.Namespace) -> int:
    """Revoke device certificates (#8): refused at intake, listed in the trust material."""
    from sync.sandbox.app import open_store

    store = open_store(_home(args), args.db)
    try:
        serials = store.revoke_matching(serial=args.serial, device_id=args.device)
    finally:
        store.close()
    if not serials:
        raise ComptoirError("sandbox.revoke_none", 1, what=args.serial or args.device)
    print(tr("sandbox.cli.revoked", count=len(serials), serials=", ".join(serials)))
    return 0


def _stats(args: argparse.Namespace) -> int:
    from sync.sandbox.app import open_store

    store = open_store(_home(args), args.db)
    try:
        stats = store.stats()
    finally:
        store.close()
    if args.json:
        print(json.dumps(stats, sort_keys=True))
    else:
        print(tr("sandbox.cli.stats_line", declarations=stats["declarations"],
                 distinct=stats["distinct_ids"], submissions=stats["submissions"]))
        print(tr("sandbox.cli.stats_decisions", decisions=stats.get("decisions", 0),
                 verified=stats.get("decisions_verified", 0),
                 flagged=stats.get("decisions_flagged", 0),
                 pending=stats.get("decisions_pending", 0)))
    return 0
