"""A cancellation (invalidation, UCC Art. 174) as CDS takes it at ``/cancellation-requests``.

A cancellation request is the declaration it cancels, turned into function 13 / type INV
(:mod:`client.declaration.amendment`), so the model still holds the goods, parties and
transport of the original.  HMRC's ``CANCEL.xsd`` allows none of that: the MRN, the LRN,
the type, the submitter, why (``AdditionalInformation``, AES) and the change reason
(``Amendment``, code 1), nothing else.  The published cancellation samples hold exactly
that and validate against both ``CANCEL.xsd`` and ``WCO_DEC_2_DMS.xsd``; this module cuts
the generic export down to that common subset, so that the exported file and the body
the connector sends are one and the same.
"""

from __future__ import annotations

from lxml import etree
from pydantic import BaseModel

from client.declaration.model import Declaration, DmsExtra
from client.interchange.dms.codec import parse_carried
from client.interchange.dms.spec import NS_DEC

# The Declaration's children in CANCEL.xsd, in its order, and what each may hold.
KEPT = ("FunctionCode", "FunctionalReferenceID", "ID", "TypeCode", "Submitter",
        "AdditionalInformation", "Amendment")
INSIDE = {"Submitter": ("ID",),
          "AdditionalInformation": ("StatementCode", "StatementDescription",
                                    "StatementTypeCode", "Pointer"),
          "Pointer": ("SequenceNumeric", "DocumentSectionCode"),
          "Amendment": ("ChangeReasonCode",)}
# AdditionalInformation/StatementDescription is required; a request without a reason says so.
DEFAULT_STATEMENT = "Cancellation requested by the declarant"
STATEMENT_TYPE = "AES"  # the statement type of amendments and cancellations
AMENDMENT_SECTION = "06A"  # a Pointer's DocumentSectionCode for the Amendment (change reason)
CANCEL_REASON = "1"  # Amendment/ChangeReasonCode 1: the declaration is to be cancelled


def _q(name: str) -> str:
    return f"{{{NS_DEC}}}{name}"


def _carried_names(obj: object, out: set[str]) -> set[str]:
    """The names of the elements an import carried verbatim anywhere in ``obj``: a file
    that came with them goes back with them (nothing imported is dropped), and the
    schema check before sending says whether CDS would take it."""
    if isinstance(obj, DmsExtra):
        for kept in obj.carried:
            out.add(etree.QName(parse_carried(kept.xml)).localname)
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            _carried_names(getattr(obj, name), out)
    elif isinstance(obj, list | tuple):
        for item in obj:
            _carried_names(item, out)
    return out


def _prune(el: etree._Element, allowed: tuple[str, ...], carried: set[str]) -> None:
    for kid in list(el):
        name = etree.QName(kid).localname if isinstance(kid.tag, str) else None
        if name in carried:
            continue
        if name not in allowed:
            el.remove(kid)
        elif name in INSIDE:
            _prune(kid, INSIDE[name], carried)


def _add(parent: etree._Element, name: str, text: str | None = None, *,
         before: tuple[str, ...] = ()) -> etree._Element:
    """A child ``name`` put before the first of ``before`` (the schema's order)."""
    e = etree.Element(_q(name))
    if text is not None:
        e.text = text
    at = next((i for i, k in enumerate(parent) if isinstance(k.tag, str)
               and etree.QName(k).localname in before), None)
    if at is None:
        parent.append(e)
    else:
        parent.insert(at, e)
    return e


def _is_request_reason(info: etree._Element) -> bool:
    """A statement that says why the request is made: its type is AES, or (a file whose
    type code came damaged or otherwise) it has no StatementCode — every statement of a
    declaration (DE 2/2) is identified by its code; in the published samples only the
    requests' free-text reasons go without — or it points at the request's change reason
    (DocumentSectionCode 06A, the Amendment), which no statement of the original does."""
    if info.find(_q("StatementDescription")) is None:
        return False
    if info.findtext(_q("StatementTypeCode")) == STATEMENT_TYPE:
        return True
    if info.find(_q("StatementCode")) is None:
        return True
    return any((p.findtext(_q("DocumentSectionCode")) or "").strip() == AMENDMENT_SECTION
               for p in info.findall(_q("Pointer")))


def cancellation_request(declaration: etree._Element, decl: Declaration) -> None:
    """Cut a written ``Declaration`` element down to a CANCEL.xsd request, in place."""
    _prune(declaration, KEPT, _carried_names(decl, set()))
    for info in declaration.findall(_q("AdditionalInformation")):
        if not _is_request_reason(info):
            declaration.remove(info)  # the original's statements, not this request's reason
    sub = declaration.find(_q("Submitter"))
    if sub is not None and sub.find(_q("ID")) is None:
        declaration.remove(sub)  # a name without an identifier: CANCEL.xsd needs the ID
    if declaration.find(_q("Submitter")) is None and decl.declarant is not None \
            and decl.declarant.id:
        sub = _add(declaration, "Submitter", before=("AdditionalInformation", "Amendment"))
        _add(sub, "ID", decl.declarant.id)
    if declaration.find(_q("AdditionalInformation")) is None:
        info = _add(declaration, "AdditionalInformation", before=("Amendment",))
        _add(info, "StatementDescription", DEFAULT_STATEMENT)
        _add(info, "StatementTypeCode", STATEMENT_TYPE)
    for amendment in declaration.findall(_q("Amendment")):
        if amendment.find(_q("ChangeReasonCode")) is None:
            declaration.remove(amendment)
    if declaration.find(_q("Amendment")) is None:
        _add(_add(declaration, "Amendment"), "ChangeReasonCode", CANCEL_REASON)
