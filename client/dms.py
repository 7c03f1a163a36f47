"""WCO DEC-DMS 2 XML (UK CDS profile): import, export and DMS notifications.

Real single windows speak the WCO Data Model in XML.  The importer reads a declaration
into :class:`client.model.Declaration`, tells an original (FunctionCode 9) from an
amendment or a cancellation (13) and from a DMS notification, and lists every element
and attribute of the file it did not map (never dropping anything silently: the original
bytes travel with the import).  The exporter writes the model back as a MetaData-wrapped
``Declaration`` that validates against WCO_DEC_2_DMS; import -> export -> import keeps
every mapped field.

Matching is by local name (namespaces vary between the published samples and the
notifications).  Data-element numbers (DE n/m) follow the UCC / CDS tariff.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from lxml import etree
from pydantic import ValidationError

from client.i18n import ComptoirError, Message
from client.model import Declaration
from client.safexml import MAX_BYTES, local, parse_xml, read_bounded

NS_MD = "urn:wco:datamodel:WCO:DocumentMetaData-DMS:2"
NS_DEC = "urn:wco:datamodel:WCO:DEC-DMS:2"

Kind = Literal["declaration", "amendment", "cancellation", "notification", "wrapped", "unknown"]

# Attributes that carry no declaration data.
_IGNORED_ATTR_NS = ("http://www.w3.org/2001/XMLSchema-instance",)
# MetaData envelope elements regenerated on export (not declaration data).
_ENVELOPE = {
    "WCODataModelVersionCode",
    "WCOTypeName",
    "ResponsibleCountryCode",
    "ResponsibleAgencyName",
    "AgencyAssignedCustomizationCode",
    "AgencyAssignedCustomizationVersionCode",
}


@dataclass
class StatusChange:
    """One status change of a lodged declaration, in the shape of the sync feed."""

    declaration_mrn: str | None
    lrn: str | None
    function_code: str | None
    status: str
    at: str | None
    errors: list[dict[str, str]] = field(default_factory=list)
    version: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "declaration_mrn": self.declaration_mrn,
            "lrn": self.lrn,
            "function_code": self.function_code,
            "status": self.status,
            "at": self.at,
            "errors": self.errors,
            "version": self.version,
        }


@dataclass
class DmsImport:
    """What one XML file turned out to be, and what of it the model holds."""

    kind: Kind
    function_code: str | None
    declaration: Declaration | None
    unmapped: list[str]
    original: bytes
    notification: list[StatusChange] | None
    message: Message

    @property
    def importable(self) -> bool:
        """True when there is a declaration to store (original, amendment, cancellation, unwrapped)."""
        return self.declaration is not None

    def to_json(self) -> dict[str, Any]:
        d = self.declaration
        return {
            "id": d.id if d else None,
            "kind": self.kind,
            "lrn": d.lrn if d else None,
            "function_code": self.function_code,
            "unmapped": self.unmapped,
            "message": self.message.to_json(),
        }


# ---------------------------------------------------------------------------- reading


class _Reader:
    """Reads children by local name and remembers what it consumed."""

    def __init__(self) -> None:
        self.used: set[etree._Element] = set()
        self.used_attrs: set[tuple[etree._Element, str]] = set()

    def kids(self, el: etree._Element | None, name: str) -> list[etree._Element]:
        if el is None:
            return []
        out = [c for c in el if local(c) == name]
        self.used.update(out)
        return out

    def kid(self, el: etree._Element | None, name: str) -> etree._Element | None:
        if el is None:
            return None
        for c in el:
            if local(c) == name:
                return c
        return None

    def peek(self, el: etree._Element | None, name: str) -> str:
        """Text of a child without consuming it ("" if absent)."""
        node = self.kid(el, name)
        return (node.text or "").strip() if node is not None else ""

    def take(self, el: etree._Element | None, name: str) -> etree._Element | None:
        """The first child called ``name``, marked consumed."""
        c = self.kid(el, name)
        if c is not None:
            self.used.add(c)
        return c

    def leaf(self, el: etree._Element | None, path: tuple[str, ...]) -> etree._Element | None:
        """The element at a child path (not marked consumed), None where a step is absent."""
        cur = el
        for step in path:
            cur = self.kid(cur, step)
            if cur is None:
                return None
        return cur

    def text(self, el: etree._Element | None, *path: str) -> str | None:
        """Text at a child path, marking the leaf consumed; None if absent or empty."""
        cur = self.leaf(el, path)
        if cur is None:
            return None
        value = (cur.text or "").strip()
        if not value:
            return None
        self.used.add(cur)
        return value

    def dec(self, el: etree._Element | None, *path: str) -> Decimal | None:
        """A decimal at a child path; unparseable numbers stay unmapped."""
        cur = self.leaf(el, path)
        if cur is None:
            return None
        raw = (cur.text or "").strip()
        try:
            value = Decimal(raw)
        except InvalidOperation:
            return None
        if not value.is_finite():
            return None
        self.used.add(cur)
        return value

    def int(self, el: etree._Element | None, *path: str) -> int | None:
        v = self.dec(el, *path)
        if v is None or v != v.to_integral_value():
            return None
        return int(v)

    def attr(self, el: etree._Element | None, name: str) -> str | None:
        if el is None:
            return None
        for key, value in el.attrib.items():
            if key.rsplit("}", 1)[-1] == name:
                self.used_attrs.add((el, key))
                return value.strip()
        return None

    def unused_attr(self, el: etree._Element | None, name: str) -> None:
        """Un-mark an attribute the mapping could not keep (e.g. a foreign currency)."""
        if el is None:
            return
        self.used_attrs = {
            (e, k) for (e, k) in self.used_attrs if not (e is el and k.rsplit("}", 1)[-1] == name)
        }

    def unmapped(self, root: etree._Element) -> list[str]:
        """XPath-like paths of every data leaf and attribute not consumed."""
        out: list[str] = []

        def walk(el: etree._Element, path: str) -> None:
            for key in el.attrib:
                if key.startswith("{") and key[1:].split("}")[0] in _IGNORED_ATTR_NS:
                    continue
                if (el, key) not in self.used_attrs:
                    out.append(f"{path}/@{key.rsplit('}', 1)[-1]}")
            children = [c for c in el if isinstance(c.tag, str)]
            if not children:
                if el not in self.used:
                    out.append(path)
                return
            counts: dict[str, int] = {}
            for c in children:
                counts[local(c)] = counts.get(local(c), 0) + 1
            seen: dict[str, int] = {}
            for c in children:
                n = local(c)
                seen[n] = seen.get(n, 0) + 1
                step = f"{n}[{seen[n]}]" if counts[n] > 1 else n
                walk(c, f"{path}/{step}")

        walk(root, "/" + local(root))
        return out


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


# ---------------------------------------------------------------------------- export


def _num(value: Decimal | int) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


class _Writer:
    def __init__(self) -> None:
        self.ns = NS_DEC

    def el(
        self, parent: etree._Element, name: str, text: Any = None, **attrs: str
    ) -> etree._Element:
        e = etree.SubElement(
            parent, f"{{{self.ns}}}{name}", **{k: v for k, v in attrs.items() if v}
        )
        if text is not None:
            e.text = (
                _num(text)
                if isinstance(text, Decimal | int) and not isinstance(text, bool)
                else str(text)
            )
        return e

    def opt(self, parent: etree._Element, name: str, value: Any, **attrs: str) -> None:
        if value is not None and value != "":
            self.el(parent, name, value, **attrs)


def _w_party(
    w: _Writer, parent: etree._Element, name: str, party: Any, *, rep: bool = False
) -> None:
    if party is None:
        return
    p = w.el(parent, name)
    w.opt(p, "Name", party.name)
    w.opt(p, "ID", party.id)
    if rep:
        w.opt(p, "FunctionCode", party.status)
    a = party.address
    if a is not None and any(v is not None for v in (a.city, a.country, a.street, a.postcode)):
        ae = w.el(p, "Address")
        w.opt(ae, "CityName", a.city)
        w.opt(ae, "CountryCode", a.country)
        w.opt(ae, "Line", a.street)
        w.opt(ae, "PostcodeID", a.postcode)


def _w_docs(w: _Writer, parent: etree._Element, name: str, docs: list[Any]) -> None:
    for doc in docs:
        e = w.el(parent, name)
        w.opt(e, "CategoryCode", doc.category)
        w.opt(e, "ID", doc.reference)
        w.opt(e, "TypeCode", doc.type)
        if name == "PreviousDocument":
            w.opt(e, "LineNumeric", doc.line)
        else:
            w.opt(e, "LPCOExemptionCode", doc.status)


def _w_item(w: _Writer, gs: etree._Element, item: Any, cur: str | None) -> None:
    gi = w.el(gs, "GovernmentAgencyGoodsItem")
    w.opt(gi, "SequenceNumeric", item.sequence)
    w.opt(gi, "StatisticalValueAmount", item.statistical_value, currencyID=cur or "")
    _w_docs(w, gi, "AdditionalDocument", item.documents)
    com = w.el(gi, "Commodity")
    w.opt(com, "Description", item.description)
    code = item.commodity_code
    if code:
        parts = [(code[:8], "TSP")] + ([(code[8:], "TRC")] if len(code) > 8 else [])
        for value, kind in parts:
            cl = w.el(com, "Classification")
            w.el(cl, "ID", value)
            w.el(cl, "IdentificationTypeCode", kind)
    for extra in item.additional_codes:
        cl = w.el(com, "Classification")
        w.el(cl, "ID", extra)
        w.el(cl, "IdentificationTypeCode", "TRA")
    lines = list(item.duty_tax_lines) or ([None] if item.preference else [])
    for i, line in enumerate(lines):
        dtf = w.el(com, "DutyTaxFee")
        if line is not None:
            w.opt(dtf, "AdValoremTaxBaseAmount", line.base, currencyID=cur or "")
        if i == 0:
            w.opt(dtf, "DutyRegimeCode", item.preference)
        if line is not None:
            w.opt(dtf, "TaxRateNumeric", line.rate)
            w.opt(dtf, "TypeCode", line.tax_type)
            if line.payment_method is not None or line.amount is not None:
                pay = w.el(dtf, "Payment")
                w.opt(pay, "MethodCode", line.payment_method)
                w.opt(pay, "TaxAssessedAmount", line.amount, currencyID=cur or "")
    if any(v is not None for v in (item.gross_mass, item.net_mass, item.supplementary_units)):
        gm = w.el(com, "GoodsMeasure")
        w.opt(gm, "GrossMassMeasure", item.gross_mass)
        w.opt(gm, "NetNetWeightMeasure", item.net_mass)
        w.opt(gm, "TariffQuantity", item.supplementary_units)
    if item.item_price is not None:
        il = w.el(com, "InvoiceLine")
        w.el(il, "ItemChargeAmount", item.item_price, currencyID=cur or "")
    if len(com) == 0:
        gi.remove(com)
    if item.valuation_method is not None:
        cv = w.el(gi, "CustomsValuation")
        w.el(cv, "MethodCode", item.valuation_method)
    if item.procedure_code:
        gp = w.el(gi, "GovernmentProcedure")
        w.el(gp, "CurrentCode", item.procedure_code[:2])
        w.opt(gp, "PreviousCode", item.procedure_code[2:] or None)
    for apc in item.additional_procedure_codes:
        gp = w.el(gi, "GovernmentProcedure")
        w.el(gp, "CurrentCode", apc)
    for country, t in ((item.country_of_origin, "1"), (item.preferential_origin, "2")):
        if country:
            o = w.el(gi, "Origin")
            w.el(o, "CountryCode", country)
            w.el(o, "TypeCode", t)
    for n, p in enumerate(item.packages, start=1):
        pe = w.el(gi, "Packaging")
        w.el(pe, "SequenceNumeric", n)
        w.opt(pe, "MarksNumbersID", p.marks)
        w.opt(pe, "QuantityQuantity", p.number)
        w.opt(pe, "TypeCode", p.kind)
    _w_docs(w, gi, "PreviousDocument", item.previous_documents)


def export_dms(decl: Declaration) -> bytes:
    """WCO DEC-DMS 2 XML (MetaData + Declaration, element order of WCO_DEC_2_DMS)."""
    nsmap = {"md": NS_MD, None: NS_DEC}
    meta = etree.Element(f"{{{NS_MD}}}MetaData", nsmap=nsmap)
    for name, value in (
        ("WCODataModelVersionCode", "3.6"),
        ("WCOTypeName", "DEC"),
        ("ResponsibleCountryCode", "GB"),
        ("ResponsibleAgencyName", "HMRC"),
        ("AgencyAssignedCustomizationVersionCode", "v2.1"),
    ):
        etree.SubElement(meta, f"{{{NS_MD}}}{name}").text = value
    w = _Writer()
    d = w.el(meta, "Declaration")
    fc = "9" if decl.function == "original" else "13"
    w.el(d, "FunctionCode", fc)
    w.opt(d, "FunctionalReferenceID", decl.lrn)
    w.opt(d, "ID", decl.mrn)
    if decl.function == "amendment":
        w.el(d, "TypeCode", "COR")
    elif decl.function == "cancellation":
        w.el(d, "TypeCode", "INV")
    else:
        w.el(d, "TypeCode", decl.type + (decl.additional_type or ""))
    w.opt(d, "GoodsItemQuantity", decl.total_items)
    w.opt(d, "InvoiceAmount", decl.invoice_total, currencyID=decl.invoice_currency or "")
    w.opt(d, "TotalGrossMassMeasure", decl.total_gross_mass)
    w.opt(d, "TotalPackageQuantity", decl.total_packages)
    if decl.function == "cancellation":
        _w_party(w, d, "Submitter", decl.declarant)
    _w_docs(w, d, "AdditionalDocument", decl.additional_documents)
    _w_party(w, d, "Agent", decl.representative, rep=True)
    t = decl.transport
    if t is not None and any(
        v is not None
        for v in (t.border_means_identity, t.border_means_nationality, t.mode_at_border)
    ):
        btm = w.el(d, "BorderTransportMeans")
        w.opt(btm, "ID", t.border_means_identity)
        w.opt(btm, "RegistrationNationalityCode", t.border_means_nationality)
        w.opt(btm, "ModeCode", t.mode_at_border)
    if decl.exchange_rate is not None:
        ce = w.el(d, "CurrencyExchange")
        w.el(ce, "RateNumeric", decl.exchange_rate)
    if decl.function != "cancellation":
        _w_party(w, d, "Declarant", decl.declarant)
    if decl.exit_office:
        w.el(w.el(d, "ExitOffice"), "ID", decl.exit_office)
    _w_party(w, d, "Exporter", decl.exporter)
    gs = w.el(d, "GoodsShipment")
    cur = decl.invoice_currency
    w.opt(gs, "TransactionNatureCode", decl.nature_of_transaction)
    _w_party(w, gs, "Buyer", decl.buyer)
    _w_party(w, gs, "Consignee", decl.consignee)
    cons = w.el(gs, "Consignment")
    if t is not None and t.container is not None:
        w.el(cons, "ContainerCode", "1" if t.container else "0")
    inland_on_departure = decl.type == "EX"
    if t is not None and t.mode_inland is not None and not inland_on_departure:
        w.el(w.el(cons, "ArrivalTransportMeans"), "ModeCode", t.mode_inland)
    if t is not None and (
        t.departure_means_identity is not None
        or (t.mode_inland is not None and inland_on_departure)
    ):
        dep = w.el(cons, "DepartureTransportMeans")
        w.opt(dep, "ID", t.departure_means_identity)
        if inland_on_departure:
            w.opt(dep, "ModeCode", t.mode_inland)
    loc = decl.goods_location
    if loc:
        gl = w.el(cons, "GoodsLocation")
        if len(loc) > 4 and loc[:2].isalpha():
            w.el(gl, "Name", loc[4:])
            w.el(gl, "TypeCode", loc[2])
            addr = w.el(gl, "Address")
            w.el(addr, "TypeCode", loc[3])
            w.el(addr, "CountryCode", loc[:2])
        else:
            w.el(gl, "Name", loc)
    if t is not None:
        for n, eq in enumerate(t.equipment_numbers, start=1):
            te = w.el(cons, "TransportEquipment")
            w.el(te, "SequenceNumeric", n)
            w.el(te, "ID", eq)
    if len(cons) == 0:
        gs.remove(cons)
    if decl.country_of_destination:
        w.el(w.el(gs, "Destination"), "CountryCode", decl.country_of_destination)
    if decl.country_of_dispatch:
        w.el(w.el(gs, "ExportCountry"), "ID", decl.country_of_dispatch)
    for item in decl.goods_items:
        _w_item(w, gs, item, cur)
    _w_party(w, gs, "Importer", decl.importer)
    _w_docs(w, gs, "PreviousDocument", decl.previous_documents)
    _w_party(w, gs, "Seller", decl.seller)
    if decl.delivery_terms is not None and (
        decl.delivery_terms.incoterm or decl.delivery_terms.place
    ):
        tt = w.el(gs, "TradeTerms")
        w.opt(tt, "ConditionCode", decl.delivery_terms.incoterm)
        w.opt(tt, "LocationID", decl.delivery_terms.place)
    if decl.ucr:
        w.el(w.el(gs, "UCR"), "TraderAssignedReferenceID", decl.ucr)
    if len(gs) == 0:
        d.remove(gs)
    if decl.customs_office:
        w.el(w.el(d, "PresentationOffice"), "ID", decl.customs_office)
    if decl.supervising_office:
        w.el(w.el(d, "SupervisingOffice"), "ID", decl.supervising_office)
    return etree.tostring(meta, xml_declaration=True, encoding="UTF-8", pretty_print=True)


_SCHEMAS: dict[str, etree.XMLSchema] = {}


def dms_schema(schema_dir: Path) -> etree.XMLSchema:
    """MetaData + DEC-DMS schemas through one wrapper (cached per folder)."""
    key = str(Path(schema_dir).resolve())
    if key not in _SCHEMAS:
        base = Path(key)
        wrapper = (
            '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
            f'<xs:import namespace="{NS_MD}" schemaLocation="{(base / "DocumentMetaData_2_DMS.xsd").as_uri()}"/>'
            f'<xs:import namespace="{NS_DEC}" schemaLocation="{(base / "WCO_DEC_2_DMS.xsd").as_uri()}"/>'
            "</xs:schema>"
        )
        _SCHEMAS[key] = etree.XMLSchema(etree.fromstring(wrapper.encode()))
    return _SCHEMAS[key]


def validate_dms(xml: bytes, schema_dir: Path) -> list[str]:
    """Schema errors of a DMS document ("line N: message"), empty when valid."""
    schema = dms_schema(schema_dir)
    doc = parse_xml(xml, source="<export>").getroottree()
    if schema.validate(doc):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]


# ---------------------------------------------------------------------------- notifications

# DMS response FunctionCode -> status (HMRC CDS notification names in comments).
NOTIFICATION_STATUS: dict[str, str] = {
    "01": "accepted",  # DMSACC
    "02": "received",  # DMSRCV
    "03": "rejected",  # DMSREJ
    "05": "under_control",  # DMSCTL: physical / documentary check
    "06": "documents_requested",  # DMSDOC
    "07": "amended",  # DMSRES: amendment accepted
    "08": "released",  # DMSROG: release of goods
    "09": "cleared",  # DMSCLE
    "10": "invalidated",  # DMSINV: cancelled
    "11": "cancellation_decided",  # DMSREQ: refined by Status/NameCode below
    "13": "tax_assessed",  # DMSTAX
    "14": "insufficient_balance",  # DMSCPI: deferment balance insufficient
    "15": "payment_reminder",  # DMSCPR
    "16": "exited",  # DMSEOG: goods have exited
    "17": "handled_externally",  # DMSEXT
    "18": "awaiting_exit_results",  # DMSGER
    "50": "goods_arrived",  # DMSALV
    "51": "query",  # DMSQRY
}
# DMSREQ (11): Status/NameCode 39 granted, 41 denied.
CANCELLATION_STATUS = {"39": "cancellation_granted", "41": "cancellation_denied"}


def _datetime(r: _Reader, el: etree._Element | None, name: str) -> str | None:
    """A WCO DateTimeString (format 304: YYYYMMDDhhmmssZ) as ISO 8601, else as given."""
    raw = r.text(el, name, "DateTimeString")
    if raw is None:
        return None
    if len(raw) == 15 and raw[:14].isdigit() and raw.endswith("Z"):
        return f"{raw[0:4]}-{raw[4:6]}-{raw[6:8]}T{raw[8:10]}:{raw[10:12]}:{raw[12:14]}Z"
    return raw


def parse_notification_root(root: etree._Element, source: str) -> list[StatusChange]:
    r = _Reader()
    responses = (
        [c for c in root if local(c) == "Response"]
        if local(root) == "MetaData"
        else ([root] if local(root) == "Response" else [])
    )
    if not responses:
        raise ComptoirError("dms.not_a_notification", 2, path=source, root=local(root))
    out = []
    for resp in responses:
        fc = r.text(resp, "FunctionCode")
        code = (fc or "").zfill(2)
        status = NOTIFICATION_STATUS.get(code, "unknown")
        name_code = r.text(resp, "Status", "NameCode")
        if code == "11" and name_code in CANCELLATION_STATUS:
            status = CANCELLATION_STATUS[name_code]
        decl = r.kid(resp, "Declaration")
        errors = []
        for err in [c for c in resp if local(c) == "Error"]:
            pointers = []
            for p in [c for c in err if local(c) == "Pointer"]:
                section = r.text(p, "DocumentSectionCode")
                seq = r.text(p, "SequenceNumeric")
                tag = r.text(p, "TagID")
                step = (section or "") + (f"[{seq}]" if seq else "") + (f"/{tag}" if tag else "")
                pointers.append(step)
            # The sync feed's ErrorItem shape: code, pointer, detail (strings, "" when absent).
            # The pointer keeps the DMS form: section codes (with sequence) joined by ".",
            # then "/TagID" (e.g. 42A.67A.68A[1]/R144).
            errors.append(
                {
                    "code": r.text(err, "ValidationCode") or "",
                    "pointer": ".".join(pointers),
                    "detail": r.text(err, "Description") or "",
                }
            )
        version = r.text(decl, "VersionID")
        out.append(
            StatusChange(
                declaration_mrn=r.text(decl, "ID"),
                lrn=r.text(decl, "FunctionalReferenceID"),
                function_code=fc,
                status=status,
                at=_datetime(r, resp, "IssueDateTime"),
                errors=errors,
                version=int(version) if version and version.isdigit() else None,
            )
        )
    return out


def parse_notification(data: bytes, source: str) -> list[StatusChange]:
    """Status changes carried by one DMS response message (RES-DMS 2)."""
    return parse_notification_root(parse_xml(data, source=source), source)
