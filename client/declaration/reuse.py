"""What of a declaration carries over to the next shipment: templates and "new from previous".

A small trader declares the same parties, route and goods again and again; what changes
is the shipment: its references (DE 2/4, 2/5), quantities and masses (DE 6/1, 6/5, 6/10,
6/18), prices and totals (DE 4/11, 4/14), the means of transport (DE 7/7, 7/9, 7/15),
containers and seals (DE 7/10, 7/18), the document references (DE 2/3) and the previous
documents (DE 2/1).  :func:`reusable` keeps the rest: who, where, how, which goods.
"""

from __future__ import annotations

import copy
from typing import Any

from client.declaration.model import Declaration

# Header data of one shipment (and what the single window or the sealing gives it).
_HEADER_SHIPMENT = frozenset({
    "id", "version", "function", "amends", "lrn", "mrn", "ucr", "invoice_total",
    "exchange_rate", "total_items", "total_packages", "total_gross_mass",
    "previous_documents", "acceptance_date", "issue_date", "loading_lists", "dms",
})
_TRANSPORT_SHIPMENT = frozenset({
    "equipment_numbers", "border_means_identity", "departure_means_identity",
    "departure_means_name", "arrival_means_identity", "arrival_means_name",
    "border_means_name", "seals",
})
_ITEM_SHIPMENT = frozenset({
    "gross_mass", "net_mass", "supplementary_units", "item_price", "statistical_value",
    "previous_documents", "duty_tax_lines", "customs_value", "equipment", "ucr", "ucr_id",
    "dms",
})
_PACKAGE_SHIPMENT = frozenset({"number", "marks", "sequence"})
_DOCUMENT_SHIPMENT = frozenset({
    "reference", "line", "effective_date", "write_off_quantity", "write_off_amount",
})


def _documents(docs: Any) -> list[dict[str, Any]]:
    out = []
    for d in docs if isinstance(docs, list) else []:
        if isinstance(d, dict):
            kept = {k: v for k, v in d.items() if k not in _DOCUMENT_SHIPMENT}
            if kept:
                out.append(kept)
    return out


def reusable(doc: dict[str, Any]) -> dict[str, Any]:
    """The part of a declaration (its JSON shape) worth keeping for the next shipment."""
    out = {k: copy.deepcopy(v) for k, v in doc.items() if k not in _HEADER_SHIPMENT}
    transport = out.get("transport")
    if isinstance(transport, dict):
        out["transport"] = {k: v for k, v in transport.items() if k not in _TRANSPORT_SHIPMENT}
    out["additional_documents"] = _documents(out.get("additional_documents"))
    items = []
    for i, item in enumerate(out.get("goods_items") or []):
        if not isinstance(item, dict):
            continue
        kept = {k: v for k, v in item.items() if k not in _ITEM_SHIPMENT}
        kept["sequence"] = i + 1
        kept["packages"] = [{k: v for k, v in p.items() if k not in _PACKAGE_SHIPMENT}
                            for p in kept.get("packages") or [] if isinstance(p, dict)]
        kept["packages"] = [p for p in kept["packages"] if p]
        kept["documents"] = _documents(kept.get("documents"))
        items.append(kept)
    out["goods_items"] = items
    return {k: v for k, v in out.items() if v not in (None, [], {})}


def from_reusable(part: dict[str, Any], *, lrn: str) -> Declaration:
    """A new original declaration (fresh id, version 1) from a reusable part."""
    data = {k: v for k, v in part.items() if k not in _HEADER_SHIPMENT}
    return Declaration.model_validate({**copy.deepcopy(data), "lrn": lrn})
