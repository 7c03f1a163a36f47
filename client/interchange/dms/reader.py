"""Reading a DEC-DMS declaration into the model; unmapped elements are listed, never dropped."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from lxml import etree
from pydantic import ValidationError

from client.common.i18n import ComptoirError, Message
from client.declaration.model import Declaration
from client.interchange.dms.common import (
    _ENVELOPE,
    DmsImport,
    Kind,
    _Reader,
)
from client.interchange.dms.notifications import parse_notification_root
from client.interchange.safexml import MAX_BYTES, local, parse_xml, read_bounded


def _party(r: _Reader, el: etree._Element | None, *, rep: bool = False) -> dict[str, Any] | None:
    """Name (3/x), EORI (3/x) and address of a trader element."""
    if el is None:
        return None
    r.used.add(el)
    out: dict[str, Any] = {"id": r.text(el, "ID"), "name": r.text(el, "Name")}
    addr = r.take(el, "Address")
    if addr is not None:
        a = {
            "street": r.text(addr, "Line"),
            "city": r.text(addr, "CityName"),
            "postcode": r.text(addr, "PostcodeID"),
            "country": r.text(addr, "CountryCode"),
        }
        if any(v is not None for v in a.values()):
            out["address"] = a
    if rep:
        out["status"] = r.text(el, "FunctionCode")
    return out if any(v is not None for v in out.values()) else None


def _documents(r: _Reader, el: etree._Element | None, name: str) -> list[dict[str, Any]]:
    """Previous documents (DE 2/1) or additional documents (DE 2/3) under ``el``."""
    docs = []
    for d in r.kids(el, name):
        doc = {
            "category": r.text(d, "CategoryCode"),
            "type": r.text(d, "TypeCode"),
            "reference": r.text(d, "ID"),
        }
        if name == "PreviousDocument":
            doc["line"] = r.text(d, "LineNumeric")
        else:
            doc["status"] = r.text(d, "LPCOExemptionCode")
        docs.append(doc)
    return docs


def _amount(
    r: _Reader,
    el: etree._Element | None,
    name: str,
    currency: str | None,
) -> Decimal | None:
    """An amount whose currencyID is mapped only when it is the invoice currency (DE 4/10)."""
    node = r.kid(el, name)
    value = r.dec(el, name)
    if node is not None and value is not None:
        cur = r.attr(node, "currencyID")
        if cur is not None and cur != currency:
            r.unused_attr(node, "currencyID")
    return value


def _mass(r: _Reader, el: etree._Element | None, name: str) -> Decimal | None:
    """A mass in kg: a unitCode other than KGM stays unmapped."""
    node = r.kid(el, name)
    value = r.dec(el, name)
    if node is not None and value is not None:
        unit = r.attr(node, "unitCode")
        if unit is not None and unit != "KGM":
            r.unused_attr(node, "unitCode")
    return value


def _goods_item(r: _Reader, gi: etree._Element, currency: str | None) -> dict[str, Any]:
    r.used.add(gi)
    item: dict[str, Any] = {"sequence": r.int(gi, "SequenceNumeric")}
    com = r.take(gi, "Commodity")
    item["description"] = r.text(com, "Description")
    # DE 6/14 (TSP: CN 8 digits) + DE 6/15 (TRC: TARIC 2 digits) -> one 10-digit code;
    # DE 6/16 (TRA) -> additional codes; national codes (GN, DE 6/17) are not in the model.
    classes = [
        (cl, r.peek(cl, "IdentificationTypeCode"), r.peek(cl, "ID"))
        for cl in (com if com is not None else [])
        if local(cl) == "Classification"
    ]

    def use(cl: etree._Element) -> None:
        r.used.add(cl)
        r.text(cl, "ID")
        r.text(cl, "IdentificationTypeCode")

    tsp = next(((cl, v) for cl, k, v in classes if k == "TSP" and v), None)
    trc = next(((cl, v) for cl, k, v in classes if k == "TRC" and v), None)
    if tsp is not None:
        use(tsp[0])
        item["commodity_code"] = tsp[1]
        if trc is not None and len(tsp[1]) == 8:
            use(trc[0])
            item["commodity_code"] = tsp[1] + trc[1]
    item["additional_codes"] = []
    for cl, k, v in classes:
        if k == "TRA" and v:
            use(cl)
            item["additional_codes"].append(v)
    # DE 4/3-4/8 duties and taxes; DE 4/17 preference rides on DutyTaxFee/DutyRegimeCode.
    lines = []
    preference = None
    for dtf in r.kids(com, "DutyTaxFee"):
        regime = r.peek(dtf, "DutyRegimeCode")
        if regime and (preference is None or preference == regime):
            preference = regime
            r.text(dtf, "DutyRegimeCode")
        pay = r.take(dtf, "Payment")
        line = {
            "tax_type": r.text(dtf, "TypeCode"),
            "base": _amount(r, dtf, "AdValoremTaxBaseAmount", currency),
            "rate": r.dec(dtf, "TaxRateNumeric"),
            "amount": _amount(r, pay, "TaxAssessedAmount", currency),
            "payment_method": r.text(pay, "MethodCode"),
        }
        if any(v is not None for v in line.values()):
            lines.append(line)
    item["preference"] = preference
    item["duty_tax_lines"] = lines
    gm = r.take(com, "GoodsMeasure")
    item["gross_mass"] = _mass(r, gm, "GrossMassMeasure")
    item["net_mass"] = _mass(r, gm, "NetNetWeightMeasure")
    item["supplementary_units"] = r.dec(gm, "TariffQuantity")
    inv = r.take(com, "InvoiceLine")
    item["item_price"] = _amount(r, inv, "ItemChargeAmount", currency)
    item["statistical_value"] = _amount(r, gi, "StatisticalValueAmount", currency)
    cv = r.take(gi, "CustomsValuation")
    item["valuation_method"] = r.text(cv, "MethodCode")
    # DE 1/10 procedure (current 2 + previous 2) and DE 1/11 additional procedures (3 chars).
    extra_proc = []
    for gp in [c for c in gi if local(c) == "GovernmentProcedure"]:
        cur, prev = r.peek(gp, "CurrentCode"), r.peek(gp, "PreviousCode")
        if len(cur) == 2 and len(prev) in (0, 2) and item.get("procedure_code") is None:
            item["procedure_code"] = cur + prev
            if prev:
                r.text(gp, "PreviousCode")
        elif len(cur) == 3 and not prev:
            extra_proc.append(cur)
        else:
            continue
        r.text(gp, "CurrentCode")
        r.used.add(gp)
    item["additional_procedure_codes"] = extra_proc
    # DE 5/15 origin (TypeCode 1 or absent) and DE 5/16 preferential origin (TypeCode 2).
    for org in [c for c in gi if local(c) == "Origin"]:
        t = r.peek(org, "TypeCode")
        target = {
            "": "country_of_origin",
            "1": "country_of_origin",
            "2": "preferential_origin",
        }.get(t)
        if target is None or item.get(target) is not None:
            continue
        value = r.text(org, "CountryCode")
        if value is None:
            continue
        item[target] = value
        r.used.add(org)
        if t:
            r.text(org, "TypeCode")
    item["packages"] = [
        {
            "kind": r.text(p, "TypeCode"),
            "number": r.int(p, "QuantityQuantity"),
            "marks": r.text(p, "MarksNumbersID"),
            "_seq": r.text(p, "SequenceNumeric"),
        }
        for p in r.kids(gi, "Packaging")
    ]
    for p in item["packages"]:
        p.pop("_seq")
    item["documents"] = _documents(r, gi, "AdditionalDocument")
    item["previous_documents"] = _documents(r, gi, "PreviousDocument")
    return item


def _declaration_dict(r: _Reader, d: etree._Element, kind: Kind) -> dict[str, Any]:
    """The model's fields from a DEC-DMS ``Declaration`` element."""
    r.used.add(d)
    out: dict[str, Any] = {
        "function": {"declaration": "original", "wrapped": "original"}.get(kind, kind)
    }
    r.text(d, "FunctionCode")
    out["lrn"] = r.text(d, "FunctionalReferenceID")  # DE 2/5
    out["mrn"] = r.text(d, "ID")
    type_code = r.peek(d, "TypeCode")
    # DE 1/1 + DE 1/2, e.g. IMZ -> IM + Z (COR / INV were consumed by the classification).
    if kind in ("declaration", "wrapped") and type_code[:2] in ("IM", "EX", "CO"):
        out["type"] = type_code[:2]
        out["additional_type"] = type_code[2:] or None
        r.text(d, "TypeCode")
    out["total_items"] = r.int(d, "GoodsItemQuantity")  # DE 1/9
    out["total_packages"] = r.int(d, "TotalPackageQuantity")  # DE 6/18
    out["total_gross_mass"] = _mass(r, d, "TotalGrossMassMeasure")  # DE 6/5
    inv = r.kid(d, "InvoiceAmount")  # DE 4/10 + 4/11
    if inv is not None:
        out["invoice_total"] = r.dec(d, "InvoiceAmount")
        out["invoice_currency"] = r.attr(inv, "currencyID")
    currency = out.get("invoice_currency")
    if currency is None:  # DE 4/10 without 4/11: the one currency of the item prices
        found = {
            (n.get("currencyID") or "").strip() for n in d.iter() if local(n) == "ItemChargeAmount"
        }
        if len(found) == 1 and "" not in found:
            currency = out["invoice_currency"] = found.pop()
    for ce in r.kids(d, "CurrencyExchange")[:1]:  # DE 4/15
        out["exchange_rate"] = r.dec(ce, "RateNumeric")
        if out["exchange_rate"] is None:
            r.used.discard(ce)
    out["additional_documents"] = _documents(r, d, "AdditionalDocument")
    out["representative"] = _party(r, r.take(d, "Agent"), rep=True)  # DE 3/19-3/21
    out["declarant"] = _party(r, r.take(d, "Declarant"))  # DE 3/17-3/18
    if kind == "cancellation" and out["declarant"] is None:
        out["declarant"] = _party(r, r.take(d, "Submitter"))
    out["exporter"] = _party(r, r.take(d, "Exporter"))  # DE 3/1-3/2
    out["exit_office"] = r.text(d, "ExitOffice", "ID")  # DE 5/12
    if out["exit_office"]:
        r.used.add(r.kid(d, "ExitOffice"))
    out["customs_office"] = r.text(d, "PresentationOffice", "ID")  # DE 5/26
    out["supervising_office"] = r.text(d, "SupervisingOffice", "ID")  # DE 5/27
    transport: dict[str, Any] = {}
    btm = r.take(d, "BorderTransportMeans")  # DE 7/4, 7/15
    transport["mode_at_border"] = r.text(btm, "ModeCode")
    transport["border_means_identity"] = r.text(btm, "ID")
    transport["border_means_nationality"] = r.text(btm, "RegistrationNationalityCode")
    gs = r.take(d, "GoodsShipment")
    if gs is not None:
        out["nature_of_transaction"] = r.text(gs, "TransactionNatureCode")  # DE 8/5
        out["buyer"] = _party(r, r.take(gs, "Buyer"))
        out["seller"] = _party(r, r.take(gs, "Seller"))
        out["consignee"] = _party(r, r.take(gs, "Consignee"))  # DE 3/9-3/10
        out["importer"] = _party(r, r.take(gs, "Importer"))  # DE 3/15-3/16
        cons = r.take(gs, "Consignment")
        container = r.text(cons, "ContainerCode")  # DE 7/2
        if container in ("0", "1"):
            transport["container"] = container == "1"
        elif container is not None:
            r.used.discard(r.kid(cons, "ContainerCode"))
        dep = r.take(cons, "DepartureTransportMeans")
        arr = r.take(cons, "ArrivalTransportMeans")
        transport["departure_means_identity"] = r.text(dep, "ID")  # DE 7/7
        # DE 7/5 inland mode: on the departure means for exports, arrival for imports.
        first, second = (dep, arr) if out.get("type") == "EX" else (arr, dep)
        transport["mode_inland"] = r.text(first, "ModeCode") or r.text(second, "ModeCode")
        loc = r.take(cons, "GoodsLocation")  # DE 5/23: country + type + qualifier + id
        if loc is not None:
            addr = r.kid(loc, "Address")
            parts = [(addr, "CountryCode"), (loc, "TypeCode"), (addr, "TypeCode")]
            vals = [r.peek(p, n) for p, n in parts]
            name_v = r.peek(loc, "Name")
            if name_v and len(vals[0]) == 2 and len(vals[1]) == 1 and len(vals[2]) == 1:
                out["goods_location"] = "".join(vals) + name_v
                for p, n in parts:
                    r.text(p, n)
                r.text(loc, "Name")
                r.used.add(addr)
            elif name_v and not any(vals):
                out["goods_location"] = r.text(loc, "Name")
        transport["equipment_numbers"] = [
            e for e in (r.text(te, "ID") for te in r.kids(cons, "TransportEquipment")) if e
        ]
        for te in r.kids(cons, "TransportEquipment"):
            r.text(te, "SequenceNumeric")
        out["country_of_destination"] = r.text(gs, "Destination", "CountryCode")  # DE 5/8
        if out["country_of_destination"]:
            r.used.add(r.kid(gs, "Destination"))
        out["country_of_dispatch"] = r.text(gs, "ExportCountry", "ID")  # DE 5/14
        if out["country_of_dispatch"]:
            r.used.add(r.kid(gs, "ExportCountry"))
        tt = r.take(gs, "TradeTerms")  # DE 4/1
        if tt is not None:
            terms = {"incoterm": r.text(tt, "ConditionCode"), "place": r.text(tt, "LocationID")}
            if any(terms.values()):
                out["delivery_terms"] = terms
        ucr = r.take(gs, "UCR")  # DE 2/4
        out["ucr"] = r.text(ucr, "TraderAssignedReferenceID")
        out["previous_documents"] = _documents(r, gs, "PreviousDocument")  # DE 2/1
        items = [_goods_item(r, gi, currency) for gi in r.kids(gs, "GovernmentAgencyGoodsItem")]
        # DE 8/5 at item level: the model keeps it once, so only when every item agrees.
        if out.get("nature_of_transaction") is None and items:
            nodes = [
                r.kid(gi, "TransactionNatureCode")
                for gi in gs
                if local(gi) == "GovernmentAgencyGoodsItem"
            ]
            values = {(n.text or "").strip() for n in nodes if n is not None}
            if len(values) == 1 and all(n is not None for n in nodes):
                out["nature_of_transaction"] = values.pop()
                r.used.update(nodes)
        out["goods_items"] = items
    out["transport"] = transport if any(v not in (None, []) for v in transport.values()) else None
    if out["transport"] is not None:
        out["transport"] = {k: v for k, v in transport.items() if v not in (None, [])}
    return {k: v for k, v in out.items() if v is not None}


def _find_declaration(root: etree._Element) -> tuple[etree._Element | None, etree._Element | None]:
    """(MetaData, Declaration) at the root, or (None, None)."""
    if local(root) == "MetaData":
        return root, next((c for c in root if local(c) == "Declaration"), None)
    if local(root) == "Declaration":
        return None, root
    return None, None


def import_dms_bytes(data: bytes, source: str) -> DmsImport:
    """Classify and map one DMS XML document (raises ComptoirError for unreadable XML)."""
    root = parse_xml(data, source=source)
    r = _Reader()
    meta, decl_el = _find_declaration(root)
    if meta is not None and decl_el is None and any(local(c) == "Response" for c in meta):
        changes = parse_notification_root(root, source)
        first = changes[0] if changes else None
        return DmsImport(
            "notification",
            first.function_code if first else None,
            None,
            [],
            data,
            changes,
            Message(
                "dms.notification",
                {
                    "path": source,
                    "status": first.status if first else "",
                    "mrn": (first.declaration_mrn if first else None) or "",
                },
            ),
        )
    wrapped = False
    if decl_el is None:  # a declaration inside some other envelope: unwrap it
        inner = next(
            (
                el
                for el in root.iter()
                if local(el) == "MetaData" and any(local(c) == "Declaration" for c in el)
            ),
            None,
        )
        if inner is None:
            return DmsImport(
                "unknown",
                None,
                None,
                [],
                data,
                None,
                Message("dms.unknown_document", {"path": source, "root": local(root)}),
            )
        meta, decl_el = inner, next(c for c in inner if local(c) == "Declaration")
        wrapped = True
    fc = r.text(decl_el, "FunctionCode")
    type_code = r.peek(decl_el, "TypeCode")
    kind: Kind
    if fc == "9":
        kind = "wrapped" if wrapped else "declaration"
    elif fc == "13" and not wrapped:
        # 13 with TypeCode INV is an invalidation (cancellation) request, else an amendment (COR).
        kind = "cancellation" if type_code == "INV" else "amendment"
        if type_code in ("INV", "COR"):
            r.text(decl_el, "TypeCode")
    elif wrapped:
        return DmsImport(
            "wrapped",
            fc,
            None,
            [],
            data,
            None,
            Message("dms.wrapped_refused", {"path": source, "envelope": local(root)}),
        )
    else:
        return DmsImport(
            "unknown",
            fc,
            None,
            [],
            data,
            None,
            Message("dms.unknown_function", {"path": source, "code": fc or ""}),
        )
    if meta is not None:
        r.used.add(meta)
        for c in meta:
            if local(c) in _ENVELOPE:
                r.used.add(c)
    fields = _declaration_dict(r, decl_el, kind)
    try:
        decl = Declaration.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ComptoirError(
            "dms.invalid_value",
            2,
            path=source,
            field=".".join(str(p) for p in err["loc"]),
            reason=err["msg"],
        ) from None
    unmapped = r.unmapped(root)
    params = {
        "path": source,
        "lrn": decl.lrn or "",
        "mrn": decl.mrn or "",
        "items": len(decl.goods_items),
        "unmapped": len(unmapped),
    }
    if kind == "wrapped":
        params["envelope"] = local(root)
    return DmsImport(kind, fc, decl, unmapped, data, None, Message(f"dms.imported_{kind}", params))


def import_dms_file(path: Path, *, max_bytes: int = MAX_BYTES) -> DmsImport:
    """Import one file (size checked before reading)."""
    data = read_bounded(Path(path), max_bytes=max_bytes)
    return import_dms_bytes(data, str(path))


