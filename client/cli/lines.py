"""``comptoir lines ID FILE``: goods items from an invoice (CSV or XLSX).

A preview first (which column feeds which field, each item, every bad row with its
reason); ``--apply`` adds the good rows to the draft as goods items.  The column
mapping is remembered per supplier, so the next invoice from the same supplier maps
itself; ``--map field=column`` corrects a guess.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from client.cli.render import warn
from client.common.i18n import tr
from client.interchange.invoice_lines import TARGETS
from client.services.declarations import find_declaration
from client.services.lines import apply_invoice_lines, plan_invoice_lines, read_invoice
from client.services.session import Session


def cmd_lines(args: argparse.Namespace) -> int:
    table = read_invoice(args.file)  # read and check before touching the store
    with Session(args.home, on_warning=warn) as s:
        decl_id = find_declaration(s.store, args.id)
        plan = plan_invoice_lines(s.store, decl_id, table, supplier=args.supplier,
                                  overrides=args.map or [])
        result, mapping = plan.preview, plan.mapping
        if args.json:
            print(json.dumps({
                "mapping": mapping,
                "items": [it.model_dump(mode="json", exclude_none=True) for it in result.items],
                "item_rows": result.item_rows,
                "row_errors": [{"row": r, "message": m.render()} for r, m in result.row_errors],
            }, ensure_ascii=False, indent=2))
        else:
            for target in TARGETS:
                print(tr("lines.mapping", field=target, column=mapping.get(target) or "-"))
            for row, item in zip(result.item_rows, result.items, strict=True):
                print(tr("lines.item", row=row, description=item.description or "-",
                         code=item.commodity_code or "-", origin=item.country_of_origin or "-"))
            for _, message in result.row_errors:
                print(message.render(), file=sys.stderr)
            print(tr("lines.summary", good=len(result.items), bad=len(result.row_errors)))
        if args.apply:
            count = apply_invoice_lines(s.store, s.actor(), plan).count
            print(tr("lines.applied", count=count, id=decl_id))
    return 1 if result.row_errors else 0


def register(sub: Any) -> None:
    p = sub.add_parser("lines", help=tr("help.lines"), description=tr("help.lines"))
    p.add_argument("id")
    p.add_argument("file", type=Path)
    p.add_argument("--supplier", help=tr("help.lines_supplier"))
    p.add_argument("--map", action="append", metavar="FIELD=COLUMN")
    p.add_argument("--apply", action="store_true", help=tr("help.lines_apply"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_lines)
