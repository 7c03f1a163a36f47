"""Property (#18): any declaration the CDS schema accepts goes through Comptoir unchanged.

Declarations are generated from the published schema's own element tree (read in place
from the conformance folder): every optional element may or may not be there, repeated
ones occur up to three times, every value is drawn to fit its type's facets (length,
digits, decimals, character class, code list, date/time pattern), attributes come and go.
Values are either realistic (codes the model folds into its own fields: classifications,
procedures, origins, goods locations, containers…) or arbitrary within the schema, so
that both the mapped and the kept-verbatim paths are taken.  Each generated file must be
valid for the schema, import without --lenient, and export back to itself after
canonicalisation, schema-valid again.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from client.interchange.dms import export_dms, import_dms_bytes
from client.interchange.dms.canonical import canonical, differences
from client.interchange.dms.spec import NS_DEC, NS_DS, NS_MD
from client.interchange.dms.writer import dms_schema
from tests.conftest import conformance_dir

XS = "{http://www.w3.org/2001/XMLSchema}"
_ENVELOPE = ("WCODataModelVersionCode", "WCOTypeName", "ResponsibleCountryCode",
             "ResponsibleAgencyName", "AgencyAssignedCustomizationCode",
             "AgencyAssignedCustomizationVersionCode")
# Realistic values by element name (parent/name where the name alone is ambiguous).
HINTS: dict[str, list[str]] = {
    "Declaration/TypeCode": ["IMA", "IMZ", "EXD", "EXA", "COZ", "IM"],
    "IdentificationTypeCode": ["TSP", "TRC", "TRA", "GN", "CV"],
    "Classification/ID": ["85109000", "00", "4099", "VATZ", "1234567"],
    "CurrentCode": ["40", "10", "000", "1CS", "C07"],
    "PreviousCode": ["00", "71"],
    "Origin/TypeCode": ["1", "2"],
    "Origin/CountryCode": ["US", "CN", "FR"],
    "GoodsLocation/Name": ["WLALONBTW", "FXTFXTFXT", "DVR"],
    "GoodsLocation/TypeCode": ["A", "B"],
    "Address/TypeCode": ["U", "Y"],
    "CountryCode": ["GB", "FR", "US"],
    "SequenceNumeric": ["1", "2", "3"],
    "DutyRegimeCode": ["100", "120"],
    "FunctionCode": ["1", "2", "3"],
    "ModeCode": ["1", "3", "4"],
}
CURRENCIES = ["GBP", "EUR", "USD"]
CHARS = list("ABCXYZabcxyz0189-/.&<>'\"éç€")


@cache
def _schema_tree(conf: str) -> tuple[dict[str, Any], dict[str, Any]]:
    base = Path(conf) / "hmrc-dms" / "schemas" / "declaration"
    dec = etree.parse(str(base / "WCO_DEC_2_DMS.xsd")).getroot()
    ds = etree.parse(str(base / "WCO_DS" / "WCO_DEC_DS_2_DMS.xsd")).getroot()
    types = {ct.get("name"): ct for ct in dec.findall(XS + "complexType")}
    dstypes = {t.get("name"): t for t in ds.findall(XS + "complexType") + ds.findall(XS + "simpleType")}
    return types, dstypes


class Generator:
    """Draws one schema-valid DMS document, decision by decision (so hypothesis shrinks it)."""

    def __init__(self, data: st.DataObject, conf: Path) -> None:
        self.data = data
        self.types, self.dstypes = _schema_tree(str(conf))

    def draw(self, strategy: st.SearchStrategy[Any]) -> Any:
        return self.data.draw(strategy)

    def document(self) -> bytes:
        meta = etree.Element(f"{{{NS_MD}}}MetaData", nsmap={"md": NS_MD, None: NS_DEC,
                                                            "p1": NS_DS})
        for name in _ENVELOPE:
            if self.draw(st.booleans()):
                etree.SubElement(meta, f"{{{NS_MD}}}{name}").text = self.draw(
                    st.sampled_from(["", "3.6", "DEC", "GB", "HMRC", "v2.1"]))
        decl = etree.SubElement(meta, f"{{{NS_DEC}}}Declaration")
        self.sequence(self.types["Declaration"], decl)
        return etree.tostring(meta, xml_declaration=True, encoding="UTF-8")

    def sequence(self, ct: etree._Element, parent: etree._Element) -> None:
        for e in ct.find(XS + "sequence").findall(XS + "element"):
            name = e.get("name")
            low = int(e.get("minOccurs", "1"))
            high = e.get("maxOccurs", "1")
            top = 1 if high == "1" else 3
            structure = not (e.get("type") or "").startswith("ds:")
            if name == "FunctionCode":
                count = 1
            elif low == 0 and top > 1:
                count = self.draw(st.integers(0, top))
            elif low == 0:  # structures more often than values: deeper documents
                count = int(self.draw(st.integers(0, 9)) < (7 if structure else 5))
            else:
                count = self.draw(st.integers(low, max(low, top)))
            for i in range(count):
                child = etree.SubElement(parent, f"{{{NS_DEC}}}{name}")
                t = e.get("type")
                shape = SHAPES.get(name)
                if shape is not None and self.draw(st.booleans()):
                    shape(self, child, i)  # a shape the model folds into its own fields
                elif t and t.startswith("ds:"):
                    self.value(self.dstypes[t[3:]], child, i)
                else:
                    self.sequence(self.types[t] if t else e.find(XS + "complexType"), child)
            if parent.tag == f"{{{NS_DEC}}}Declaration" and name == "FunctionCode":
                parent[-1].text = self.draw(st.sampled_from(["9", "13"]))

    def _hint(self, el: etree._Element) -> list[str] | None:
        name = etree.QName(el).localname
        parent = etree.QName(el.getparent()).localname
        return HINTS.get(f"{parent}/{name}") or HINTS.get(name)

    def value(self, t: etree._Element, el: etree._Element, index: int) -> None:
        if t.find(".//" + XS + "element") is not None:  # a DateTimeString
            fmt = self.draw(st.sampled_from(["102", "304"]))
            ds = etree.SubElement(el, f"{{{NS_DS}}}DateTimeString", formatCode=fmt)
            digits = st.text(alphabet="0123456789", min_size=6, max_size=6)
            text = "20" + self.draw(digits)
            if fmt == "304":
                text += self.draw(digits) + self.draw(st.sampled_from(["Z", "+01", "-05"]))
            ds.text = text
            return
        r = t.find(".//" + XS + "restriction")
        base = r.get("base").split(":")[1]
        facets = {etree.QName(c).localname: c.get("value") for c in r if isinstance(c.tag, str)}
        enums = [c.get("value") for c in r.findall(XS + "enumeration")]
        if enums:
            el.text = self.draw(st.sampled_from(enums))
        elif base in ("CodeType", "IDType", "TextType"):
            el.text = self.text(el, facets, base)
        else:
            el.text = self.number(el, facets)
        self.attributes(el, base)

    def text(self, el: etree._Element, facets: dict[str, str], base: str) -> str:
        length = int(facets["length"]) if "length" in facets else None
        top = int(facets.get("maxLength", length or 40))
        pattern = facets.get("pattern", "")
        hint = [h for h in (self._hint(el) or [])
                if (length is None or len(h) == length) and len(h) <= top]
        if hint and self.draw(st.booleans()):
            return self.draw(st.sampled_from(hint))
        lo, hi = (length, length) if length is not None else (1, min(top, 24))
        if pattern == "([a-zA-Z])*":
            return self.draw(st.text(alphabet="ABCDEFGHXYZ", min_size=lo, max_size=hi))
        if pattern == "([0-9])*":
            return self.draw(st.text(alphabet="0123456789", min_size=lo, max_size=hi))
        value = self.draw(st.text(alphabet=st.sampled_from(CHARS), min_size=lo, max_size=hi))
        if len(value) >= 3 and self.draw(st.booleans()):  # a space inside, never at the ends
            middle = len(value) // 2
            value = value[:middle] + " " + value[middle + 1:]
        return value

    def number(self, el: etree._Element, facets: dict[str, str]) -> str:
        hint = self._hint(el)
        if hint and self.draw(st.booleans()):
            return self.draw(st.sampled_from(hint))
        total = int(facets.get("totalDigits", "12"))
        fraction = int(facets.get("fractionDigits", min(total - 1, 4)))
        whole = self.draw(st.integers(1, max(1, total - fraction)))
        frac = self.draw(st.integers(0, min(fraction, total - whole)))
        digits = st.text(alphabet="0123456789", min_size=1, max_size=1)
        text = "".join(self.draw(digits) for _ in range(whole))
        if frac:
            text += "." + "".join(self.draw(digits) for _ in range(frac))
        # the ways of writing a number the schema accepts: signs, leading zeros…
        return self.draw(st.sampled_from(["", "", "", "-", "+"])) + text

    def attributes(self, el: etree._Element, base: str) -> None:
        if base == "AmountType" and self.draw(st.integers(0, 3)):
            el.set("currencyID", self.draw(st.sampled_from(CURRENCIES)))
        elif base in ("MeasureType", "QuantityType") and self.draw(st.booleans()):
            el.set("unitCode", self.draw(st.sampled_from(["KGM", "KGM#G", "LTR", "NAR"])))
        elif base == "CodeType" and not self.draw(st.integers(0, 9)):
            el.set("listID", self.draw(st.sampled_from(["CDS", "x"])))
        elif base == "IDType" and not self.draw(st.integers(0, 9)):
            el.set("schemeID", "EORI")
        elif base == "TextType" and not self.draw(st.integers(0, 9)):
            el.set("languageID", self.draw(st.sampled_from(["en", "fr-CA"])))


def _leaf(parent: etree._Element, name: str, text: str) -> None:
    etree.SubElement(parent, f"{{{NS_DEC}}}{name}").text = text


def _digits(g: Generator, n: int) -> str:
    return g.draw(st.text(alphabet="0123456789", min_size=n, max_size=n))


def _classification(g: Generator, el: etree._Element, index: int) -> None:
    kind = g.draw(st.sampled_from(["TSP", "TRC", "TRA", "GN", "CV"]))
    size = {"TSP": 8, "TRC": 2, "TRA": 4, "GN": 4, "CV": 8}[kind]
    _leaf(el, "ID", _digits(g, size))
    _leaf(el, "IdentificationTypeCode", kind)


def _procedure(g: Generator, el: etree._Element, index: int) -> None:
    if g.draw(st.booleans()):
        _leaf(el, "CurrentCode", _digits(g, 2))
        if g.draw(st.booleans()):
            _leaf(el, "PreviousCode", _digits(g, 2))
    else:
        _leaf(el, "CurrentCode", g.draw(st.sampled_from(["000", "1CS", "C07"])))


def _origin(g: Generator, el: etree._Element, index: int) -> None:
    _leaf(el, "CountryCode", g.draw(st.sampled_from(["US", "CN", "FR"])))
    _leaf(el, "TypeCode", g.draw(st.sampled_from(["1", "2"])))


def _location(g: Generator, el: etree._Element, index: int) -> None:
    _leaf(el, "Name", g.draw(st.sampled_from(["WLALONBTW", "FXTFXTFXT", "DVR"])))
    if g.draw(st.booleans()):
        _leaf(el, "TypeCode", g.draw(st.sampled_from(["A", "B"])))
        address = etree.SubElement(el, f"{{{NS_DEC}}}Address")
        _leaf(address, "TypeCode", g.draw(st.sampled_from(["U", "Y"])))
        _leaf(address, "CountryCode", "GB")


def _equipment(g: Generator, el: etree._Element, index: int) -> None:
    _leaf(el, "SequenceNumeric", str(index + 1))
    _leaf(el, "ID", g.draw(st.sampled_from(["CONU1234567", "AD12345"])))
    sealed = etree.QName(el.getparent()).localname == "Consignment"  # not an item's
    for n in range(g.draw(st.integers(0, 2)) if sealed else 0):
        seal = etree.SubElement(el, f"{{{NS_DEC}}}Seal")
        _leaf(seal, "SequenceNumeric", str(n + 1))
        _leaf(seal, "ID", _digits(g, 5))


SHAPES = {"Classification": _classification, "GovernmentProcedure": _procedure,
          "Origin": _origin, "GoodsLocation": _location}
SHAPES["TransportEquipment"] = _equipment


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_any_schema_valid_declaration_goes_through_unchanged(data: st.DataObject) -> None:
    conf = conformance_dir()
    if conf is None:
        pytest.skip("conformance material absent: no schema to generate from")
    schema = dms_schema(conf / "hmrc-dms" / "schemas" / "declaration")
    xml = Generator(data, conf).document()
    doc = etree.fromstring(xml)
    assert schema.validate(etree.ElementTree(copy.deepcopy(doc))), [
        f"line {e.line}: {e.message}" for e in schema.error_log][:3]
    imp = import_dms_bytes(xml, "generated.xml")  # valid: imports without --lenient
    assert imp.schema_errors == [] and imp.declaration is not None
    out = export_dms(imp.declaration)
    assert canonical(out) == canonical(xml), differences(xml, out)[:5]
    assert schema.validate(etree.ElementTree(etree.fromstring(out))), [
        f"line {e.line}: {e.message}" for e in schema.error_log][:3]
    again = import_dms_bytes(out, "exported.xml").declaration
    assert again.model_dump(exclude={"id"}) == imp.declaration.model_dump(exclude={"id"})
