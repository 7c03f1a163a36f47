"""``comptoir keys …``: create, list, export, import and certify the declarant's keys."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from client.cli.render import warn
from client.common.i18n import ComptoirError, tr
from client.seal.keys import ALGS, ES256
from client.seal.secrets import SecretStore
from client.services.exports import write_file
from client.services.keys import (
    DEFAULT_SUBJECT,
    create_signing_key,
    describe_keys,
    export_public_key,
    import_key_file,
    key_request,
    open_key_store,
)

_warned: set[str] = set()


def open_store(home: Path) -> SecretStore:
    """Open the profile's secret store; print the fallback warning once per process."""
    store = open_key_store(home)
    warning = getattr(store, "last_warning", None)
    if warning is not None and warning.code not in _warned:
        _warned.add(warning.code)
        warn(warning)
    return store


def _write_or_print(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    write_file(output, text.encode("ascii"))
    print(tr("keys.written", path=str(output)))


def _create(args: argparse.Namespace) -> int:
    args.home.mkdir(parents=True, exist_ok=True)
    created = create_signing_key(args.home, open_store(args.home), alg=args.alg,
                                 subject=args.subject)
    info = created.info
    print(tr("keys.created", kid=info.kid, alg=info.alg, subject=info.subject,
             not_after=created.not_after))
    return 0


def _list(args: argparse.Namespace) -> int:
    keys = describe_keys(args.home)
    if args.json:
        print(json.dumps([k.to_json() for k in keys], indent=1, ensure_ascii=False))
        return 0
    if not keys:
        print(tr("keys.list_empty"))
        return 0
    for k in (d.info for d in keys):
        print(
            tr(
                "keys.list_row",
                marker="*" if k.active else " ",
                kid=k.kid,
                alg=k.alg,
                subject=k.subject,
                source=tr(f"keys.source.{k.source}"),
                enrolled=tr("keys.enrolled_flag") if k.enrolled else "",
                created_at=k.created_at,
            )
        )
    return 0


def _export(args: argparse.Namespace) -> int:
    _write_or_print(export_public_key(args.home, args.kid), args.output)
    return 0


def _import(args: argparse.Namespace) -> int:
    path: Path = args.file
    password: str | None
    if args.password_env:
        password = os.environ.get(args.password_env)
        if password is None:
            raise ComptoirError("error.usage", 2, detail=f"${args.password_env} is not set")
    elif sys.stdin is not None and sys.stdin.isatty():
        password = getpass.getpass(tr("keys.password_prompt", path=str(path))) or None
    else:
        password = None
    args.home.mkdir(parents=True, exist_ok=True)
    info = import_key_file(args.home, open_store(args.home), path, password)
    print(tr("keys.imported", kid=info.kid, alg=info.alg, subject=info.subject))
    return 0


def _csr(args: argparse.Namespace) -> int:
    csr = key_request(args.home, open_store(args.home), trader=args.trader, kid=args.kid,
                      subject=args.subject)
    _write_or_print(csr, args.output)
    return 0


def register(sub: Any) -> None:
    """Add ``comptoir keys`` and its subcommands."""
    keys = sub.add_parser("keys", help=tr("keys.help.keys"), description=tr("keys.help.keys"))
    ksub = keys.add_subparsers(dest="keys_command", required=True)

    p = ksub.add_parser("create", help=tr("keys.help.create"))
    p.add_argument("--alg", choices=list(ALGS), default=ES256, help=tr("keys.help.alg"))
    p.add_argument("--subject", default=DEFAULT_SUBJECT, help=tr("keys.help.subject"))
    p.set_defaults(func=_create)

    p = ksub.add_parser("list", help=tr("keys.help.list"))
    p.add_argument("--json", action="store_true", help=tr("keys.help.json"))
    p.set_defaults(func=_list)

    p = ksub.add_parser("export-public", help=tr("keys.help.export"))
    p.add_argument("--kid", default=None, help=tr("keys.help.kid"))
    p.add_argument("-o", "--output", type=Path, default=None, help=tr("keys.help.output"))
    p.set_defaults(func=_export)

    p = ksub.add_parser("import", help=tr("keys.help.import"))
    p.add_argument("file", type=Path, help=tr("keys.help.file"))
    p.add_argument("--password-env", default=None, help=tr("keys.help.password_env"))
    p.set_defaults(func=_import)

    p = ksub.add_parser("csr", help=tr("keys.help.csr"))
    p.add_argument("--trader", required=True, help=tr("keys.help.trader"))
    p.add_argument("--kid", default=None, help=tr("keys.help.kid"))
    p.add_argument("--subject", default=None, help=tr("keys.help.subject"))
    p.add_argument("-o", "--output", type=Path, default=None, help=tr("keys.help.output"))
    p.set_defaults(func=_csr)
