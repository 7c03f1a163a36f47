"""DMS responses pulled from CDS, read into what the store applies to a lodging.

Each response (RES-DMS 2) becomes one note: its lifecycle target (accepted -> registered,
received -> submitted, rejected, control, documents requested, cleared / released,
invalidated, tax assessed …; others are kept in the history without a move), the MRN only
when its check digit is right, and rejection errors with their pointer shown as the
model's field and DE number.  A rejection whose only code is CDS12003 (an LRN reused
within 48 hours) is flagged: on a resend it proves that an earlier attempt was taken.
"""

from __future__ import annotations

from typing import Any

from client.common.i18n import ComptoirError
from client.declaration import states
from client.declaration.mrn import mrn_problem
from client.interchange.dms import parse_notification
from sync.cds.pointers import explain_pointer
from sync.cds.wco import WcoIndex

# The DMSREQ answer (FunctionCode 11) is the "customs position" on an amendment or a
# cancellation request; the parser names it after cancellations.
_RENAME = {"cancellation_granted": "customs_position_granted",
           "cancellation_denied": "customs_position_denied",
           "cancellation_decided": "customs_position"}


def read_notification(nid: str, data: bytes, *, conversation_id: str | None,
                      index: WcoIndex | None) -> list[dict[str, Any]]:
    """The notes of one pulled notification (a message may hold several responses)."""
    try:
        changes = parse_notification(data, f"notification {nid}")
    except ComptoirError as exc:
        return [{"id": nid, "conversation_id": conversation_id, "lrn": None,
                 "function_code": None, "status": "unreadable", "target": None, "mrn": None,
                 "detail": {"problem": exc.message.to_json()},
                 "payload": data.decode("utf-8", "replace")}]
    out = []
    for k, ch in enumerate(changes):
        status = _RENAME.get(ch.status, ch.status)
        detail: dict[str, Any] = {}
        mrn = ch.declaration_mrn
        if mrn is not None:
            problem = mrn_problem(mrn)
            if problem is not None:
                detail["mrn_refused"] = {"mrn": mrn, "problem": problem.to_json()}
                mrn = None
        errors = []
        for err in ch.errors:
            where = explain_pointer(err.get("pointer", ""), index)
            errors.append({"code": err.get("code", ""),
                           "pointer": where.model_path if where and where.model_path else "",
                           "dms_pointer": err.get("pointer", ""),
                           "xml_path": where.xml_path if where else "",
                           "de": where.de if where else None,
                           "detail": err.get("detail", "")})
        if errors:
            detail["errors"] = errors
        codes = {e["code"] for e in errors}
        out.append({"id": nid if k == 0 else f"{nid}#{k}", "conversation_id": conversation_id,
                    "lrn": ch.lrn, "function_code": ch.function_code, "status": status,
                    "target": states.FROM_SERVER.get(status), "mrn": mrn, "detail": detail,
                    "duplicate_lrn": status == "rejected" and codes == {"CDS12003"},
                    "issued_at": ch.at, "payload": data.decode("utf-8", "replace")})
    return out
