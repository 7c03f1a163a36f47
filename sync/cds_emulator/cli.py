"""``comptoir cds-emulator serve | stats | requests``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from client.common.i18n import ComptoirError, tr


def _duration(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``15m``, ``49h`` or ``3d``."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    t = text.strip().lower()
    try:
        if t and t[-1] in units:
            return float(t[:-1]) * units[t[-1]]
        return float(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text}") from None


def _home(args: argparse.Namespace) -> Path:
    if args.emulator_home is None:
        raise ComptoirError("error.usage", 2, detail="comptoir cds-emulator … --home DIR")
    return Path(args.emulator_home).expanduser().resolve()


def register(sub: Any) -> None:
    top = sub.add_parser("cds-emulator", help=tr("cds_emulator.help"),
                         description=tr("cds_emulator.help"))
    esub = top.add_subparsers(dest="emulator_command", parser_class=type(top))
    top.set_defaults(func=_missing)

    serve = esub.add_parser("serve", help=tr("cds_emulator.serve_help"))
    serve.add_argument("--home", dest="emulator_home", type=Path, required=True)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--schemas", type=Path, default=None, help=tr("cds_emulator.schemas_help"))
    serve.add_argument("--auto-consent", action="store_true", default=None,
                       help=tr("cds_emulator.auto_consent_help"))
    serve.add_argument("--rate-limit", type=float, default=None,
                       help=tr("cds_emulator.rate_limit_help"))
    serve.add_argument("--no-rate-limit", action="store_true")
    serve.add_argument("--delay-scale", type=float, default=None,
                       help=tr("cds_emulator.delay_scale_help"))
    serve.add_argument("--token-ttl", type=_duration, default=None)
    serve.add_argument("--advance-clock", type=_duration, default=None,
                       help=tr("cds_emulator.advance_clock_help"))
    serve.add_argument("--client", action="append", default=[], metavar="ID:SECRET",
                       help=tr("cds_emulator.client_help"))
    serve.set_defaults(func=_serve)

    for name, func in (("stats", _stats), ("requests", _requests)):
        p = esub.add_parser(name, help=tr(f"cds_emulator.{name}_help"))
        p.add_argument("--home", dest="emulator_home", type=Path, required=True)
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=func)


def _missing(args: argparse.Namespace) -> int:
    raise ComptoirError("error.usage", 2, detail="comptoir cds-emulator {serve,stats,requests}")


def _serve(args: argparse.Namespace) -> int:
    from sync.cds_emulator.server import serve

    clients: dict[str, str] = {}
    for spec in args.client:
        cid, sep, secret = spec.partition(":")
        if not sep or not cid or not secret:
            raise ComptoirError("error.usage", 2, detail=f"--client {spec}: ID:SECRET")
        clients[cid] = secret
    rate = 0.0 if args.no_rate_limit else args.rate_limit
    serve(_home(args), host=args.host, port=args.port, schema_dir=args.schemas,
          auto_consent=args.auto_consent, rate_limit=rate, delay_scale=args.delay_scale,
          token_ttl=args.token_ttl, advance_clock=args.advance_clock,
          clients=clients or None)
    return 0


def _open(args: argparse.Namespace) -> Any:
    from sync.cds_emulator.state import DB_FILE, EmulatorState

    home = _home(args)
    if not (home / DB_FILE).exists():
        raise ComptoirError("cds_emulator.no_home", 2, home=str(home))
    return EmulatorState(home)


def _stats(args: argparse.Namespace) -> int:
    state = _open(args)
    try:
        stats = state.stats()
    finally:
        state.close()
    if args.json:
        print(json.dumps(stats, sort_keys=True))
    else:
        twice = sum(1 for n in stats["lrns"].values() if n > 1)
        print(tr("cds_emulator.stats_line", lrns=len(stats["lrns"]), twice=twice,
                 conversations=stats["conversations"], notifications=stats["notifications"]))
    return 0


def _requests(args: argparse.Namespace) -> int:
    state = _open(args)
    try:
        rows = state.requests()
    finally:
        state.close()
    if args.json:
        print(json.dumps([{k: r[k] for k in ("method", "path", "headers", "body", "status")}
                          for r in rows]))
    else:
        for r in rows:
            print(f"{r['method']} {r['path']} -> {r['status'] if r['status'] else '-'}")
    return 0
