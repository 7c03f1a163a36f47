"""Request bodies as CDS takes them: the ``md:MetaData`` wrapper around one Declaration.

Declarations and amendments are :func:`client.interchange.dms.export_dms` of the sealed
declaration, as is.  A cancellation request (invalidation, UCC Art. 174) has a schema of
its own (``CANCEL.xsd``: the MRN, the INV type, the submitter, a statement and the change
reason, nothing of the goods), which the generic export does not write; it is built
here from the same sealed declaration.
"""

from __future__ import annotations

from lxml import etree

from client.declaration.model import Declaration
from client.interchange.dms import NS_DEC, NS_MD, export_dms

# AdditionalInformation/StatementDescription is required; the model holds no reason.
CANCEL_STATEMENT = "Cancellation requested by the declarant"
CANCEL_REASON = "1"  # Amendment/ChangeReasonCode 1: the declaration is to be cancelled


def request_body(decl: Declaration) -> bytes:
    return cancellation_body(decl) if decl.function == "cancellation" else export_dms(decl)


def cancellation_body(decl: Declaration) -> bytes:
    meta = etree.Element(f"{{{NS_MD}}}MetaData", nsmap={"md": NS_MD, None: NS_DEC})
    for name, value in (("WCODataModelVersionCode", "3.6"), ("WCOTypeName", "DEC"),
                        ("ResponsibleCountryCode", "GB"), ("ResponsibleAgencyName", "HMRC"),
                        ("AgencyAssignedCustomizationVersionCode", "v2.1")):
        etree.SubElement(meta, f"{{{NS_MD}}}{name}").text = value

    def el(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
        e = etree.SubElement(parent, f"{{{NS_DEC}}}{name}")
        if text is not None:
            e.text = text
        return e

    d = el(meta, "Declaration")
    el(d, "FunctionCode", "13")
    if decl.lrn:
        el(d, "FunctionalReferenceID", decl.lrn)
    el(d, "ID", decl.mrn or "")
    el(d, "TypeCode", "INV")
    if decl.declarant is not None and decl.declarant.id:
        el(el(d, "Submitter"), "ID", decl.declarant.id)
    info = el(d, "AdditionalInformation")
    el(info, "StatementDescription", CANCEL_STATEMENT)
    el(info, "StatementTypeCode", "AES")
    el(el(d, "Amendment"), "ChangeReasonCode", CANCEL_REASON)
    return etree.tostring(meta, xml_declaration=True, encoding="UTF-8", pretty_print=True)
