"""What the emulated DMS answers: the stub's LRN-letter behaviours as RES-DMS 2 messages.

HMRC's stub (``customs-declarations-stub`` README): the first letter of the LRN chooses
the notifications, a digit in second place delays them by that many seconds, and
``BCDS`` + five digits chooses the rejection code.  Messages follow the RES-DMS 2 schema
(namespaced as in the Pull Notifications API's example) and carry the LRN (DE 2/5) in
``Declaration/FunctionalReferenceID`` and the MRN in ``Declaration/ID``.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from lxml import etree

NS_MD = "urn:wco:datamodel:WCO:DocumentMetaData-DMS:2"
NS_RES = "urn:wco:datamodel:WCO:RES-DMS:2"
NS_RDS = "urn:wco:datamodel:WCO:Response_DS:DMS:2"

# The stub's rejection codes; any other requested code gives CDS10020.
SUPPORTED_REJECTIONS = ("CDS10010", "CDS10020", "CDS12046", "CDS12056", "CDS12062",
                        "CDS12070", "CDS12075", "CDS12077", "CDS12119", "CDS12120")
GI = "GovernmentAgencyGoodsItem"
# Where each rejection points (an XML path of the declaration; SequenceNumeric on items).
REJECTION_PATHS: dict[str, list[tuple[str, int | None]]] = {
    "CDS10010": [("Declaration", None), ("GoodsShipment", None), (GI, 1), ("Commodity", None),
                 ("Classification", None), ("ID", None)],
    "CDS10020": [("Declaration", None), ("GoodsShipment", None), (GI, 1), ("Commodity", None),
                 ("Classification", None), ("ID", None)],
    "CDS12046": [("Declaration", None), ("TypeCode", None)],
    "CDS12056": [("Declaration", None), ("GoodsShipment", None), (GI, 1),
                 ("GovernmentProcedure", None), ("CurrentCode", None)],
    "CDS12062": [("Declaration", None), ("GoodsShipment", None), ("UCR", None),
                 ("TraderAssignedReferenceID", None)],
    "CDS12070": [("Declaration", None), ("GoodsShipment", None), (GI, 1),
                 ("GovernmentProcedure", None), ("CurrentCode", None)],
    "CDS12075": [("Declaration", None), ("GoodsShipment", None), (GI, 1),
                 ("GovernmentProcedure", None), ("CurrentCode", None)],
    "CDS12077": [("Declaration", None), ("GoodsShipment", None), (GI, 1),
                 ("GovernmentProcedure", None), ("CurrentCode", None)],
    "CDS12119": [("Declaration", None), ("GoodsShipment", None), (GI, 1),
                 ("AdditionalDocument", 1), ("TypeCode", None)],
    "CDS12120": [("Declaration", None), ("TypeCode", None)],
    "CDS12003": [("Declaration", None), ("FunctionalReferenceID", None)],
}
# First letter of the LRN -> DMS FunctionCodes sent (in order); "" sends nothing ('P').
LETTERS: dict[str, tuple[str, ...]] = {
    "B": ("03",), "C": ("09",), "D": ("01", "06"), "G": ("01",), "I": ("18",), "J": ("17",),
    "K": ("10",), "L": ("10",), "N": ("08",), "P": (), "Q": ("51",), "R": ("02",),
    "U": ("05",), "V": ("05",), "X": ("16",),
}
DEFAULT_CODES = ("01",)
AMEND_LETTERS = frozenset("BCDGQRUX")


@dataclass
class Planned:
    """One notification to send after ``delay`` seconds."""

    delay: float
    function_code: str
    errors: list[tuple[str, list[tuple[str, int | None]], str | None]] = field(
        default_factory=list)  # (code, sections, tag)
    status_code: str | None = None  # Status/NameCode (DMSREQ: 39 granted, 41 denied)


def delay_of(lrn: str, scale: float) -> float:
    return (int(lrn[1]) if len(lrn) > 1 and lrn[1].isdigit() else 0) * scale


def rejection_code(lrn: str) -> str:
    if lrn.upper().startswith("BCDS") and lrn[4:9].isdigit():
        wanted = f"CDS{lrn[4:9]}"
        return wanted if wanted in SUPPORTED_REJECTIONS else "CDS10020"
    return "CDS10020"


def _dt(parent: etree._Element, name: str, at: float) -> None:
    el = etree.SubElement(parent, f"{{{NS_RES}}}{name}")
    s = etree.SubElement(el, f"{{{NS_RDS}}}DateTimeString", formatCode="304")
    s.text = time.strftime("%Y%m%d%H%M%SZ", time.gmtime(at))


def response_xml(*, function_code: str, lrn: str | None, mrn: str | None, issued_at: float,
                 version: int = 1, errors: list[tuple[str, list[tuple[str, int | None]],
                                                      str | None]] = (),  # type: ignore[assignment]
                 status_code: str | None = None) -> bytes:
    """A RES-DMS 2 message inside its MetaData, element order as the schema wants."""
    meta = etree.Element(f"{{{NS_MD}}}MetaData", nsmap={"_2": NS_MD})
    for name, value in (("WCODataModelVersionCode", "3.6"), ("WCOTypeName", "RES"),
                        ("ResponsibleCountryCode", "GB"), ("ResponsibleAgencyName", "HMRC"),
                        ("AgencyAssignedCustomizationVersionCode", "v2.1")):
        etree.SubElement(meta, f"{{{NS_MD}}}{name}").text = value
    resp = etree.SubElement(meta, f"{{{NS_RES}}}Response", nsmap={"_2_1": NS_RES, "_2_2": NS_RDS})

    def el(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
        e = etree.SubElement(parent, f"{{{NS_RES}}}{name}")
        if text is not None:
            e.text = text
        return e

    el(resp, "FunctionCode", function_code)
    el(resp, "FunctionalReferenceID", uuid.uuid4().hex)
    _dt(resp, "IssueDateTime", issued_at)
    for code, sections, tag in errors:
        err = el(resp, "Error")
        el(err, "ValidationCode", code)
        for i, (section, seq) in enumerate(sections):
            p = el(err, "Pointer")
            if seq is not None:
                el(p, "SequenceNumeric", str(seq))
            el(p, "DocumentSectionCode", section)
            if tag and i == len(sections) - 1:
                el(p, "TagID", tag)
    if status_code:
        el(el(resp, "Status"), "NameCode", status_code)
    decl = el(resp, "Declaration")
    if function_code == "01":
        _dt(decl, "AcceptanceDateTime", issued_at)
    if function_code == "10":
        _dt(decl, "CancellationDateTime", issued_at)
    if lrn:
        el(decl, "FunctionalReferenceID", lrn)
    if mrn:
        el(decl, "ID", mrn)
    if function_code == "03":
        _dt(decl, "RejectionDateTime", issued_at)
    el(decl, "VersionID", str(version))
    return etree.tostring(meta, xml_declaration=True, encoding="UTF-8")
