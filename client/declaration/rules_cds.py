"""Validation rules on the rest of the UK CDS declaration (#18): authorisations (DE 3/39),
additional information (2/2), valuation (4/9, 4/13), guarantees (8/2-8/3), warehouse (2/7),
routing (5/18), seals (7/18), quotas (8/1), additional codes (6/16-6/17), the currencies of
amounts, means of transport (7/7-7/14) and amendments.

Registered by :mod:`client.declaration.validation` in the order they appear here; each
check takes the validation context (``ctx.decl``, ``ctx.ref``) and yields ``(path,
params)`` per problem, like the rules there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from client.declaration.model import Declaration, GoodsItem

Check = Callable[[Any], Iterable[tuple[str, dict[str, Any]]]]
Hit = tuple[str, dict[str, Any]]
CDS_RULES: list[tuple[str, str, str, Check]] = []


def cds_rule(code: str, severity: str, de: str) -> Callable[[Check], Check]:
    def register(func: Check) -> Check:
        CDS_RULES.append((code, severity, de, func))
        return func

    return register


def _items(decl: Declaration) -> Iterator[tuple[str, GoodsItem]]:
    for i, item in enumerate(decl.goods_items):
        yield f"goods_items[{i}]", item


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@cds_rule("V-ADDITIONAL-TYPE-UNKNOWN", "error", "1/2")
def _additional_type(ctx: Any) -> Iterator[Hit]:
    """DE 1/2 is one of the codes CDS takes (A-F, J, K, X-Z)."""
    value = ctx.decl.additional_type
    if not _blank(value) and not ctx.ref.is_additional_type(value):
        yield "additional_type", {"value": str(value)[:60]}


_PARTIES = ("declarant", "exporter", "consignee", "importer", "representative", "seller",
            "buyer", "submitter", "carrier", "consignor", "shipment_consignor", "payer", "surety")
_ITEM_PARTIES = ("buyer", "seller", "consignee", "consignor")


def country_fields(d: Declaration) -> Iterator[tuple[str, Any]]:
    """Every country code of the declaration, by path (V-COUNTRY-UNKNOWN checks them)."""
    yield "country_of_dispatch", d.country_of_dispatch
    yield "country_of_destination", d.country_of_destination
    for name in _PARTIES:
        party = getattr(d, name)
        if party is not None and party.address is not None:
            yield f"{name}.address.country", party.address.country
    if d.transport is not None:
        yield "transport.border_means_nationality", d.transport.border_means_nationality
    for j, r in enumerate(d.routing):
        yield f"routing[{j}].country", r.country  # DE 5/18
    for base, item in _items(d):
        yield f"{base}.country_of_origin", item.country_of_origin
        yield f"{base}.country_of_destination", item.country_of_destination
        yield f"{base}.country_of_dispatch", item.country_of_dispatch
        for name in _ITEM_PARTIES:
            party = getattr(item, name)
            if party is not None and party.address is not None:
                yield f"{base}.{name}.address.country", party.address.country
        pref = item.preferential_origin
        # DE 5/16 also takes numeric country-group codes (e.g. 1013): check countries only.
        if isinstance(pref, str) and pref.isalpha():
            yield f"{base}.preferential_origin", pref


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_EORI = re.compile(r"[A-Z]{2}[A-Z0-9]{1,15}")
_AUTHORISATION_TYPE = re.compile(r"[A-Z]{3,4}")


@cds_rule("V-AUTHORISATION", "error", "3/39")
def _authorisations(ctx: Any) -> Iterator[Hit]:
    for j, a in enumerate(ctx.decl.authorisations):
        if _blank(a.id) or not _EORI.fullmatch(a.id):
            yield f"authorisations[{j}].id", {"value": _short(a.id or "")}
        if _blank(a.category) or not _AUTHORISATION_TYPE.fullmatch(a.category):
            yield f"authorisations[{j}].category", {"value": _short(a.category or "")}


_STATEMENT = re.compile(r"[A-Z0-9]{5}")


@cds_rule("V-ADDITIONAL-INFORMATION", "error", "2/2")
def _additional_information(ctx: Any) -> Iterator[Hit]:
    """A statement has a 5-character code or a text (an amendment's statement, AES)."""
    d = ctx.decl
    blocks = [("", d.additional_information)] + [
        (f"{base}.", item.additional_information) for base, item in _items(d)]
    for prefix, infos in blocks:
        for j, info in enumerate(infos):
            path = f"{prefix}additional_information[{j}]"
            if not _blank(info.code) and not _STATEMENT.fullmatch(info.code):
                yield f"{path}.code", {"value": _short(info.code)}
            elif _blank(info.code) and _blank(info.text):
                yield f"{path}.code", {"value": ""}


_INDICATORS = re.compile(r"[0-9]{4}")


@cds_rule("V-VALUATION-INDICATORS", "error", "4/13")
def _valuation_indicators(ctx: Any) -> Iterator[Hit]:
    for base, item in _items(ctx.decl):
        v = item.valuation_indicators
        if not _blank(v) and not _INDICATORS.fullmatch(v):
            yield f"{base}.valuation_indicators", {"value": _short(v)}


_CHARGE = re.compile(r"[A-Z]{2}")


@cds_rule("V-CHARGE-DEDUCTION", "error", "4/9")
def _charges(ctx: Any) -> Iterator[Hit]:
    """An addition or deduction has a 2-letter code and an amount."""
    d = ctx.decl
    blocks = [("", d.charges)] + [(f"{base}.", item.charges) for base, item in _items(d)]
    for prefix, charges in blocks:
        for j, c in enumerate(charges):
            if _blank(c.type) or not _CHARGE.fullmatch(c.type):
                yield f"{prefix}charges[{j}].type", {"value": _short(c.type or "")}
            if c.amount is None:
                yield f"{prefix}charges[{j}].amount", {"value": ""}


_GUARANTEE_TYPE = re.compile(r"[0-9A-Z]")


@cds_rule("V-GUARANTEE", "error", "8/2")
def _guarantees(ctx: Any) -> Iterator[Hit]:
    """DE 8/2 is one character; a guarantee type other than 0 (waiver) or A (not
    required) needs its DE 8/3 reference."""
    for j, g in enumerate(ctx.decl.guarantees):
        if _blank(g.type) or not _GUARANTEE_TYPE.fullmatch(g.type):
            yield f"guarantees[{j}].type", {"value": _short(g.type or "")}
        elif g.type not in ("0", "A") and _blank(g.reference) and _blank(g.other_reference):
            yield f"guarantees[{j}].reference", {"value": g.type}


_WAREHOUSE_TYPES = frozenset("RSTUVYZ")


@cds_rule("V-WAREHOUSE", "error", "2/7")
def _warehouse(ctx: Any) -> Iterator[Hit]:
    """DE 2/7: a warehouse type (R, S, T public; U private; V, Y, Z) and its identifier."""
    w = ctx.decl.warehouse
    if w is None:
        return
    if _blank(w.type) or w.type not in _WAREHOUSE_TYPES:
        yield "warehouse.type", {"value": _short(w.type or "")}
    if _blank(w.id):
        yield "warehouse.id", {"value": ""}


@cds_rule("V-ROUTING-ORDER", "error", "5/18")
def _routing(ctx: Any) -> Iterator[Hit]:
    seqs = [r.sequence for r in ctx.decl.routing]
    for j, seq in enumerate(seqs):
        if seq is not None and j and seqs[j - 1] is not None and seq <= seqs[j - 1]:
            yield f"routing[{j}].sequence", {"value": seq, "previous": seqs[j - 1]}


@cds_rule("V-SEAL", "error", "7/18")
def _seals(ctx: Any) -> Iterator[Hit]:
    """A seal has a number and closes one of the declared containers (DE 7/10)."""
    t = ctx.decl.transport
    if t is None:
        return
    for j, seal in enumerate(t.seals):
        if _blank(seal.id):
            yield f"transport.seals[{j}].id", {"value": "", "containers": len(t.equipment_numbers)}
        elif seal.equipment not in range(1, len(t.equipment_numbers) + 1):
            yield f"transport.seals[{j}].equipment", {
                "value": _short(seal.equipment), "containers": len(t.equipment_numbers)}


_QUOTA = re.compile(r"[0-9]{6}")


@cds_rule("V-QUOTA-FORMAT", "error", "8/1")
def _quota(ctx: Any) -> Iterator[Hit]:
    for base, item in _items(ctx.decl):
        for j, line in enumerate(item.duty_tax_lines):
            if not _blank(line.quota) and not _QUOTA.fullmatch(line.quota):
                yield f"{base}.duty_tax_lines[{j}].quota", {"value": _short(line.quota)}


_ADDITIONAL_CODE = re.compile(r"[A-Z0-9]{4}")


@cds_rule("V-ADDITIONAL-CODE-FORMAT", "error", "6/16")
def _additional_codes(ctx: Any) -> Iterator[Hit]:
    """TARIC additional codes (DE 6/16) and national additional codes (DE 6/17): 4
    letters or digits."""
    for base, item in _items(ctx.decl):
        for name in ("additional_codes", "national_codes"):
            for j, code in enumerate(getattr(item, name)):
                if not _ADDITIONAL_CODE.fullmatch(code):
                    yield f"{base}.{name}[{j}]", {"value": _short(code)}


def _amount_currencies(d: Declaration) -> Iterator[tuple[str, str | None]]:
    for name in ("freight_charge_currency",):
        yield name, getattr(d, name)
    for j, c in enumerate(d.charges):
        yield f"charges[{j}].currency", c.currency
    for j, g in enumerate(d.guarantees):
        yield f"guarantees[{j}].currency", g.currency
    for base, item in _items(d):
        for name in ("item_price_currency", "statistical_value_currency",
                     "customs_value_currency"):
            yield f"{base}.{name}", getattr(item, name)
        for j, c in enumerate(item.charges):
            yield f"{base}.charges[{j}].currency", c.currency
        for j, line in enumerate(item.duty_tax_lines):
            for name in ("base_currency", "amount_currency", "deduction_currency",
                         "total_currency"):
                yield f"{base}.duty_tax_lines[{j}].{name}", getattr(line, name)
        for j, doc in enumerate(item.documents):
            yield f"{base}.documents[{j}].write_off_currency", doc.write_off_currency


@cds_rule("V-AMOUNT-CURRENCY-UNKNOWN", "error", "4/10")
def _amount_currency(ctx: Any) -> Iterator[Hit]:
    for path, value in _amount_currencies(ctx.decl):
        if not _blank(value) and not ctx.ref.is_currency(value):
            yield path, {"value": _short(value)}


_MEANS_ID_TYPE = re.compile(r"[0-9]{2}")


@cds_rule("V-MEANS-ID-TYPE", "error", "7/7")
def _means_id_type(ctx: Any) -> Iterator[Hit]:
    """The type of identification of a means of transport (DE 7/7, 7/9, 7/14) is a
    2-digit code, and comes with the identity it qualifies."""
    t = ctx.decl.transport
    if t is None:
        return
    for prefix in ("departure", "arrival", "border"):
        kind = getattr(t, f"{prefix}_means_id_type")
        ident = getattr(t, f"{prefix}_means_identity")
        if not _blank(kind) and not _MEANS_ID_TYPE.fullmatch(kind):
            yield f"transport.{prefix}_means_id_type", {"value": _short(kind)}
        elif not _blank(kind) and _blank(ident):
            yield f"transport.{prefix}_means_identity", {"value": kind}


@cds_rule("V-AMENDMENT-REASON", "error", "x")
def _amendment_reason(ctx: Any) -> Iterator[Hit]:
    """An amendment says why (change reason code) and where (pointers) for each change."""
    d = ctx.decl
    if d.function != "amendment":
        return
    for j, a in enumerate(d.amendments):
        if _blank(a.reason):
            yield f"amendments[{j}].reason", {"value": ""}
        if not a.pointers:
            yield f"amendments[{j}].pointers", {"value": ""}



# What DMS has room for in a header-level AdditionalDocument (WCO_DEC_2_DMS.xsd): the
# category, the identifier and the type.  The other fields of a document exist on the
# goods item's AdditionalDocument only; at header level they would be lost on export.
HEADER_DOCUMENT_ROOM = frozenset({"category", "type", "reference"})


@cds_rule("V-HEADER-DOCUMENT-FIELDS", "error", "2/3")
def _header_document_fields(ctx: Any) -> Iterator[Hit]:
    """A header-level document holds only what its DMS element can carry."""
    for j, doc in enumerate(ctx.decl.additional_documents):
        for name in type(doc).model_fields:
            value = getattr(doc, name)
            if name not in HEADER_DOCUMENT_ROOM and not _blank(value):
                yield f"additional_documents[{j}].{name}", {"value": _short(value)}


# DE 2/3 document status codes (LPCOExemptionCode of a goods item's document), as the UK
# CDS completion guide lists them (Appendix 5): two letters saying whether the document is
# attached, held, applied for, exhausted, not required...
DOCUMENT_STATUS_CODES = frozenset(
    "AC AE AF AG AP AS AT AU AV AW CC CE EA EE EL EP ES FP GE GP HP IA IE IF IP IS "
    "JA JE JP LE LP OP RE RJ RP SP TP UA UE UP US XB XF XU XW XX".split())


@cds_rule("V-DOCUMENT-STATUS", "error", "2/3")
def _document_status(ctx: Any) -> Iterator[Hit]:
    """A goods item's document status is one of the DE 2/3 status codes."""
    for prefix, item in _items(ctx.decl):
        for j, doc in enumerate(item.documents):
            if not _blank(doc.status) and doc.status not in DOCUMENT_STATUS_CODES:
                yield f"{prefix}.documents[{j}].status", {"value": _short(doc.status)}
