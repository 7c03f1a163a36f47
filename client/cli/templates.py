"""``comptoir template save|list|new|delete``: declarations started from a saved template.

``save NAME --from ID`` keeps the parties, route and usual goods of a declaration under a
name; ``new NAME`` starts a draft from it (prints its id); ``list`` shows what is held.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from client.cli.render import warn
from client.common.i18n import ComptoirError, tr
from client.services.declarations import find_declaration
from client.services.session import Session
from client.services.templates import (
    delete_template,
    list_templates,
    new_from_template,
    save_template,
)


def cmd_template_save(args: argparse.Namespace) -> int:
    with Session(args.home, on_warning=warn) as s:
        name, _ = save_template(s.store, args.name, find_declaration(s.store, args.source))
        print(tr("template.saved", name=name))
    return 0


def cmd_template_list(args: argparse.Namespace) -> int:
    with Session(args.home, on_warning=warn) as s:
        held = list_templates(s.store)
    if args.json:
        print(json.dumps([t.__dict__ for t in held], ensure_ascii=False, indent=2))
    elif not held:
        print(tr("template.none"))
    for t in [] if args.json else held:
        print(tr("template.line", name=t.name, type=t.type, parties=t.parties,
                 items=t.goods_items, saved=t.saved_at[:19]))
    return 0


def cmd_template_new(args: argparse.Namespace) -> int:
    with Session(args.home, on_warning=warn) as s:
        made = new_from_template(s.store, s.actor(), args.name, lrn=args.lrn,
                                 declarant_id=s.profile.declarant_id)
        print(made.id)
    return 0


def cmd_template_delete(args: argparse.Namespace) -> int:
    with Session(args.home, on_warning=warn) as s:
        delete_template(s.store, args.name)
        print(tr("template.deleted", name=args.name))
    return 0


def _usage(args: argparse.Namespace) -> int:
    raise ComptoirError("error.usage", 2, detail="comptoir template save|list|new|delete")


def register(sub: Any) -> None:
    group = sub.add_parser("template", help=tr("help.template"), description=tr("help.template"))
    group.set_defaults(func=_usage)
    tsub = group.add_subparsers(dest="template_command", parser_class=type(group))
    p = tsub.add_parser("save", help=tr("help.template_save"))
    p.add_argument("name")
    p.add_argument("--from", dest="source", required=True, metavar="ID")
    p.set_defaults(func=cmd_template_save)
    p = tsub.add_parser("list", help=tr("help.template_list"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_template_list)
    p = tsub.add_parser("new", help=tr("help.template_new"))
    p.add_argument("name")
    p.add_argument("--lrn")
    p.set_defaults(func=cmd_template_new)
    p = tsub.add_parser("delete", help=tr("help.template_delete"))
    p.add_argument("name")
    p.set_defaults(func=cmd_template_delete)
