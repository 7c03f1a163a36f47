"""Who may lodge what: the identity bindings the intake checks on every envelope (#12).

A verified signature only says a key of the sandbox's PKI signed.  Before an envelope is
lodged, the sandbox binds everything to the API token's principal: the signer's
certificate is the token's own (trader, device, serial), the header's device is the
token's device, the certificate is still valid at reception, the role fits the kind,
declaration ids are namespaced per trader (B's envelope under an id A uses is B's own),
and the declarant (DE 3/18) is the signer or is represented by it (DE 3/19-3/21) under an
authorisation the sandbox holds.
Each refusal has its own code (``REFUSAL_CODES``, published in the OpenAPI document).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sync.sandbox.checks import Checked
from sync.sandbox.store import BatchTx, Principal

# Envelope-level codes (results[].errors[].code of POST /v1/envelopes).
REFUSAL_CODES: dict[str, str] = {
    "SIGNATURE_INVALID": "The signature or certificate chain does not verify.",
    "SIGNATURE_HIGH_S": "An ES256 signature with a high S value (a malleable twin): refused.",
    "CERT_NOT_OWNED": "The signer's certificate names another trader than the API token.",
    "CERT_NOT_BOUND": "The signer's certificate was not issued to this token's device.",
    "DEVICE_NOT_BOUND": "The header's device id is not the device this API token was issued to.",
    "CERT_EXPIRED": "The signer's certificate is not valid at reception (back-dating refused).",
    "SIG_TIME_BACKDATED": "sigT is earlier than the previous envelope of the same device chain "
                          "(lodged and rejected: the chain goes on).",
    "NOT_AN_OFFICER": "Only an officer's token and certificate may lodge a control decision.",
    "NOT_A_TRADER": "Only a trader's token and certificate may lodge a declaration.",
    "KIND_NOT_SUPPORTED": "This kind of envelope is not accepted.",
    "HEADER_MISMATCH": "Header and document disagree on the declaration id or version.",
    "DECLARANT_NOT_REPRESENTED": "The declarant (DE 3/18) is not the signer and has not "
                                 "authorised it as representative (DE 3/19-3/21) "
                                 "(lodged and rejected).",
    "IDEMPOTENCY_CONFLICT": "This trader lodged this declaration id and version with other "
                            "content (ids are per trader: another trader's never conflict).",
    "REQUEST_NOT_LODGED": "An amendment or invalidation names a declaration id this trader "
                          "has no accepted declaration under (another trader's id included: "
                          "the same answer, so its existence is not told).",
    "CHAIN_FORK": "The envelope does not follow the device's chain (seq or prev).",
    "HELD_LIMIT": "Too many envelopes held waiting for a gap in this device's chain, or "
                  "this one is too far ahead.",
}

# HTTP-level problem codes added by #12 (the ``code`` of application/problem+json).
PROBLEM_CODES: dict[str, str] = {
    "sandbox.unauthorized": "401: missing or unknown API token.",
    "sandbox.token_expired": "401: the API token has expired; enrol again.",
    "sandbox.token_revoked": "401: the certificate the token was issued with is revoked.",
    "sandbox.enrol_refused": "403: unknown, used, or foreign enrolment code.",
    "sandbox.csr_invalid": "400: the CSR is refused; the enrolment code stays usable.",
    "sandbox.chain_invalid": "422: a batch's `chains` entry is not a JSON array of strings "
                             "(the pointer names it).",
    "sandbox.chain_ref_invalid": "422: an envelope's `protected_json` refers to a chain the "
                                 "batch does not carry, or names its x5c twice.",
    "sandbox.bad_encoding": "415: a Content-Encoding (or zstd dictionary) not on offer in "
                            "`/v1/health`; 400: a corrupt body.",
}

REPRESENTATION_STATUSES = frozenset({"2", "3"})  # DE 3/21: direct, indirect


def refusal(checked: Checked, principal: Principal, kind: str,
            now: dt.datetime) -> tuple[str, str] | None:
    """(code, pointer) when the envelope may not be lodged under this principal."""
    header = checked.header
    if checked.high_s:
        return "SIGNATURE_HIGH_S", "/signature"
    if checked.signer_cn != principal.trader_id:
        return "CERT_NOT_OWNED", "/protected/x5c"
    wanted = "officer" if kind == "decision" else "trader"
    if principal.role != wanted or checked.signer_role not in (None, wanted):
        return ("NOT_AN_OFFICER" if kind == "decision" else "NOT_A_TRADER"), "/protected/knd"
    if str(header.get("dev")) != principal.device_id:
        return "DEVICE_NOT_BOUND", "/protected/dev"
    # Any unrevoked certificate the CA issued to this device will do, not only the token's
    # own: envelopes queued under the certificate of an expired token, then delivered after
    # a new enrolment, are the device's all the same (revocation is checked before this).
    if checked.signer_device != principal.device_id:
        return "CERT_NOT_BOUND", "/protected/x5c"
    if not checked.signer_not_before <= now.timestamp() <= checked.signer_not_after:
        return "CERT_EXPIRED", "/protected/x5c"
    return None


def declarant_allowed(tx: BatchTx, signer: str, document: dict[str, Any]) -> bool:
    """The declarant (DE 3/18) is the signer, or the signer represents it with authority."""
    declarant = document.get("declarant")
    declarant_id = declarant.get("id") if isinstance(declarant, dict) else None
    if not isinstance(declarant_id, str) or not declarant_id or declarant_id == signer:
        return True
    rep = document.get("representative")
    if not isinstance(rep, dict) or rep.get("id") != signer:
        return False
    if str(rep.get("status")) not in REPRESENTATION_STATUSES:
        return False
    return tx.authorised(declarant_id[:35], signer)


def backdated(last_sig_time: str, sig_time: str) -> bool:
    """sigT earlier than the previous envelope of the same device chain."""
    if not last_sig_time:
        return False
    from client.seal.envelope import parse_sig_time

    try:
        return parse_sig_time(sig_time) < parse_sig_time(last_sig_time)
    except Exception:  # noqa: BLE001 - an unparsable sigT never got past verification
        return True


def openapi_description() -> str:
    """The refusal codes as a Markdown list for the OpenAPI document."""
    lines = ["", "", "Envelope refusal codes (results[].errors[].code):", ""]
    lines += [f"- `{c}`: {d}" for c, d in REFUSAL_CODES.items()]
    lines += ["", "Problem codes (application/problem+json `code`):", ""]
    lines += [f"- `{c}`: {d}" for c, d in PROBLEM_CODES.items()]
    return "\n".join(lines)
