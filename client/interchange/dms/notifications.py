"""DMS response messages (DMSACC, DMSREJ, DMSROG …) as status changes."""

from __future__ import annotations

from lxml import etree

from client.common.i18n import ComptoirError
from client.interchange.dms.common import StatusChange, _Reader
from client.interchange.safexml import local, parse_xml

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

