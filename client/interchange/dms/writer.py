"""Writing the model as a MetaData-wrapped DEC-DMS declaration, valid against WCO_DEC_2_DMS."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from lxml import etree

from client.declaration.model import Declaration
from client.interchange.dms.common import NS_DEC, NS_MD
from client.interchange.safexml import parse_xml

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
    if decl.function in ("amendment", "post_release_amendment"):
        w.el(d, "TypeCode", "COR")  # CDS takes a post-release amendment as a COR as well
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


