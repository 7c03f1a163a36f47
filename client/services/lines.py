"""Goods items from a supplier's invoice (CSV or XLSX) into a draft declaration.

A plan first (which column feeds which field, each goods item, every bad row with its
reason) that changes nothing; applying it adds the good rows as goods items (DE 1/6
numbering and totals updated) and remembers the column mapping for that supplier, so the
next invoice from the same supplier maps itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from client.common.i18n import ComptoirError
from client.declaration.model import Declaration
from client.interchange.invoice_lines import (
    TARGETS,
    MappingMemory,
    Preview,
    Table,
    apply_to_declaration,
    preview,
    read_invoice_table,
    suggest_mapping,
)
from client.store import Changes, Store
from client.store import settings_keys as keys


@dataclass
class LinesPlan:
    """What applying an invoice would add to one declaration."""

    declaration_id: str
    declaration: Declaration
    supplier: str
    mapping: dict[str, str]
    preview: Preview


@dataclass(frozen=True)
class LinesApplied:
    count: int  # goods items added
    changes: Changes


def read_invoice(path: Path) -> Table:
    """Read and check the invoice table (size, rows, format) before the store is touched."""
    return read_invoice_table(path)


def _memory(store: Store) -> MappingMemory:
    return MappingMemory(lambda k: store.get_setting(keys.INVOICE_MAPPING(k)),
                         lambda k, v: store.set_setting(keys.INVOICE_MAPPING(k), v))


def supplier_of(decl: Declaration) -> str:
    """The supplier whose mapping to use: the seller (DE 3/24), else the exporter (DE 3/1)."""
    if decl.seller and decl.seller.name:
        return decl.seller.name
    return (decl.exporter.name if decl.exporter else None) or ""


def plan_invoice_lines(store: Store, decl_id: str, table: Table, *, supplier: str | None = None,
                       overrides: Sequence[str] = ()) -> LinesPlan:
    """Map the table's columns (the supplier's remembered mapping, else guesses from the
    headers in English or French, then each ``FIELD=COLUMN`` override) and preview the
    goods items.  Changes nothing."""
    decl = store.get(decl_id).declaration
    supplier = supplier or supplier_of(decl)
    mapping = _memory(store).suggest(supplier, table.columns) if supplier \
        else suggest_mapping(table.columns)
    for pair in overrides:
        target, _, column = pair.partition("=")
        if target not in TARGETS or column not in table.columns:
            raise ComptoirError("lines.bad_map", 2, pair=pair, targets=", ".join(TARGETS),
                                columns=", ".join(table.columns))
        mapping[target] = column
    return LinesPlan(decl_id, decl, supplier, mapping, preview(table, mapping))


def apply_invoice_lines(store: Store, actor: str, plan: LinesPlan) -> LinesApplied:
    """Add the plan's good rows to the draft and remember the supplier's mapping;
    refuses a plan without any."""
    items = plan.preview.items
    if not items:
        raise ComptoirError("lines.nothing", 1)
    changes = store.save_draft(apply_to_declaration(plan.declaration, items), actor)
    if plan.supplier:
        _memory(store).remember(plan.supplier, plan.mapping)
    return LinesApplied(len(items), changes)
