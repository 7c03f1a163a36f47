"""An amendment or cancellation request applied onto the declaration it refers to.

A DMS amendment (function code 13, type COR) carries only what changes, placed where it
sits in the declaration (the goods item by its sequence number, the document it replaces…)
and says why in its ``Amendment`` entries.  Applied onto the stored declaration, it gives
the amended declaration in full: the next version, to be checked and sent as an
amendment.  A cancellation (13, INV) is applied the same way: the declaration, now a
cancellation request, with who asks and why.

Matching rules (what an element of the amendment replaces):

- a field given replaces the field; a party or other sub-object is amended field by field;
- goods items, packages, countries of routing, consignment items and containers match by
  their sequence number (a package's is its position when not given);
- documents match by category and type when one document of the declaration has them,
  else by category, type and reference; holders of authorisations by type of
  authorisation; other lists by their code or role; an element matching none is added;
- a list of plain codes (additional procedures, additional codes) is replaced whole;
- the earlier amendment's own statements (AES) and change records are replaced by this
  amendment's.
"""

from __future__ import annotations

from typing import Any

from client.common.i18n import Message
from client.declaration.model import Declaration
from client.declaration.validation import Finding, validate

# List fields matched by sequence number; the key of other object lists.
_BY_SEQUENCE = frozenset({"goods_items", "packages", "routing", "consignment_items",
                          "equipment"})
_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "documents": (("category", "type"), ("category", "type", "reference")),
    "additional_documents": (("category", "type"), ("category", "type", "reference")),
    "previous_documents": (("category", "type", "reference"),),
    "authorisations": (("category",), ("category", "id")),
    "additional_information": (("code",), ("code", "text")),
    "charges": (("type",),),
    "guarantees": (("type",), ("type", "reference")),
    "supply_chain_actors": (("role",), ("role", "id")),
    "fiscal_references": (("role",), ("role", "id")),
    "duty_tax_lines": (("tax_type",),),
    "seals": (("equipment", "sequence"),),
}
_NEVER = frozenset({"id", "version", "amends"})


def apply_amendment(original: Declaration, amendment: Declaration) -> Declaration:
    """``original`` with ``amendment``'s elements applied (see the module docstring); its
    function becomes the amendment's, its MRN the one the amendment names."""
    base = original.model_dump(mode="python")
    change = amendment.model_dump(mode="python", exclude_unset=True)
    base["additional_information"] = [
        a for a in base.get("additional_information", []) if a.get("type") != "AES"]
    base["amendments"] = []
    _merge(base, change)
    base["function"] = amendment.function
    base["mrn"] = amendment.mrn or original.mrn
    base["id"], base["version"] = original.id, original.version
    return Declaration.model_validate(base)


def _merge(base: dict[str, Any], change: dict[str, Any]) -> None:
    for key, value in change.items():
        if key in _NEVER:
            continue
        if key == "dms":
            base[key] = _merge_extra(base.get(key), value)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            base[key] = _merge_list(key, list(base.get(key) or []), value)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _sequence(item: dict[str, Any], position: int) -> Any:
    seq = item.get("sequence")
    return seq if seq is not None else position


def _merge_list(key: str, base: list[dict[str, Any]],
                change: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for pos, item in enumerate(change, start=1):
        hit = _find(key, base, item, pos)
        if hit is None:
            base.append(item)
        else:
            _merge(base[hit], item)
    return base


def _find(key: str, base: list[dict[str, Any]], item: dict[str, Any], pos: int) -> int | None:
    if key in _BY_SEQUENCE:
        want = _sequence(item, pos)
        return next((i for i, b in enumerate(base) if _sequence(b, i + 1) == want), None)
    for fields in _KEYS.get(key, ()):
        if any(item.get(f) is None for f in fields):
            continue
        hits = [i for i, b in enumerate(base) if all(b.get(f) == item.get(f) for f in fields)]
        if len(hits) == 1:
            return hits[0]
    return None


def _merge_extra(base: dict[str, Any] | None, change: dict[str, Any]) -> dict[str, Any]:
    out = dict(base or {})
    out["carried"] = list(out.get("carried") or []) + list(change.get("carried") or [])
    attrs = dict(out.get("attrs") or {})
    attrs.update(change.get("attrs") or {})
    out["attrs"] = attrs
    order = dict(out.get("order") or {})
    order.update(change.get("order") or {})
    out["order"] = order
    if change.get("envelope") is not None:
        out["envelope"] = change["envelope"]
    return out


# What an amendment as received cannot be asked for: it carries only what changes.
_WHOLE_DECLARATION = frozenset({"V-MANDATORY", "V-TOTAL-ITEMS", "V-TOTAL-PACKAGES",
                                "V-TOTAL-GROSS-MASS", "V-SEQUENCE", "V-EXCHANGE-RATE-MISSING",
                                "V-LRN-TAKEN"})


def validate_received(amendment: Declaration) -> list[Finding]:
    """An amendment or cancellation as received, checked as one: the rules on a whole
    declaration are left out (it holds only the changes), and it must name the
    declaration it amends by its MRN.  Applied, the result is checked in full."""
    found = [f for f in validate(amendment) if f.code not in _WHOLE_DECLARATION]
    if not (amendment.mrn or "").strip():
        found.insert(0, Finding("V-MANDATORY", "error", "2/x", "mrn", Message(
            "validation.V-MANDATORY", {"field": "mrn", "kind": amendment.function})))
    return found
