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

from client.common.i18n import ComptoirError, tr


def cmd_lines(args: argparse.Namespace) -> int:
    from client.cli.decl import Session
    from client.interchange.invoice_lines import (
        TARGETS,
        MappingMemory,
        apply_to_declaration,
        preview,
        read_invoice_table,
    )
    from client.store import settings_keys as keys

    table = read_invoice_table(args.file)  # read and check before touching the store
    with Session(args.home) as s:
        decl_id = s.store.resolve_id(args.id)
        decl = s.store.get(decl_id).declaration
        memory = MappingMemory(lambda k: s.store.get_setting(keys.INVOICE_MAPPING(k)),
                               lambda k, v: s.store.set_setting(keys.INVOICE_MAPPING(k), v))
        supplier = args.supplier or (decl.seller.name if decl.seller and decl.seller.name
                                     else (decl.exporter.name if decl.exporter else None)) or ""
        mapping = memory.suggest(supplier, table.columns) if supplier else None
        if mapping is None:
            from client.interchange.invoice_lines import suggest_mapping

            mapping = suggest_mapping(table.columns)
        for pair in args.map or []:
            target, _, column = pair.partition("=")
            if target not in TARGETS or column not in table.columns:
                raise ComptoirError("lines.bad_map", 2, pair=pair, targets=", ".join(TARGETS),
                                    columns=", ".join(table.columns))
            mapping[target] = column
        result = preview(table, mapping)
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
            if not result.items:
                raise ComptoirError("lines.nothing", 1)
            s.store.save_draft(apply_to_declaration(decl, result.items), s.profile.actor())
            if supplier:
                memory.remember(supplier, mapping)
            print(tr("lines.applied", count=len(result.items), id=decl_id))
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
