"""Requests about a lodged declaration at the sandbox single window (issue #14).

An amendment (UCC Art. 173(1)), a post-release amendment (Art. 173(3)) or an invalidation
request (Art. 174, "cancellation" in DMS) is a later version of a declaration already
accepted.  It does not go through the risk lanes again: it is decided against the state
of the lodged declaration by the same rule the client applies
(:func:`client.declaration.states.request_refusal`), so a client that forces a forbidden
request through is refused here too.  The answers are the DMS response types:

* amendment accepted -> ``amended`` (DMSRES, 07); refused -> ``rejected`` (DMSREJ, 03)
  about the request's version, the declaration itself unchanged;
* invalidation granted -> ``cancellation_granted`` (DMSREQ 11, status 39) then
  ``invalidated`` (DMSINV, 10), and the pipeline's later steps are cancelled; denied ->
  ``cancellation_denied`` (DMSREQ 11, status 41).

An original (function 9) for a declaration that already has an MRN is refused
(``ALREADY_LODGED``): the same goods are never lodged twice under one id, and an MRN is
never re-attached silently.
"""

from __future__ import annotations

from typing import Any

from client.common.i18n import tr
from client.declaration import states
from sync.sandbox.store import BatchTx, StoredEnvelope


def _err(code: str, pointer: str = "", **params: Any) -> dict[str, str]:
    return {"code": code, "pointer": pointer, "detail": tr(f"sandbox.code.{code}", "en", **params)}


def lodged(tx: BatchTx, trader_id: str, declaration_id: str,
           version: int) -> StoredEnvelope | None:
    """The trader's accepted original this declaration's later versions are about (lowest
    version accepted with an MRN), or None."""
    for v in range(1, version):
        env = tx.envelope(trader_id, declaration_id, v)
        if env is not None and env.status == "accepted" and env.mrn:
            return env
    return None


def lodged_state(tx: BatchTx, trader_id: str, declaration_id: str, version: int,
                 original: StoredEnvelope) -> str:
    """The lodged declaration's state, in the client's names: the original's latest
    status in the feed, unless a request since invalidated it."""
    for v in range(original.version + 1, version):
        if tx.current_status(trader_id, declaration_id, v) == "invalidated":
            return states.INVALIDATED
    status = tx.current_status(trader_id, declaration_id, original.version) or "accepted"
    return states.FROM_SERVER.get(status, states.REGISTERED)


def decide_request(tx: BatchTx, se: StoredEnvelope, document: dict[str, Any], at: str
                   ) -> list[tuple[str, dict[str, Any]]]:
    """Decide a request envelope next in its device chain.

    Sets ``se``'s status, MRN and errors; returns the notifications to emit after
    "received", as (status, extra) pairs.
    """
    function = str(document.get("function"))
    original = lodged(tx, se.trader_id, se.declaration_id, se.version)
    code = "INVALIDATION_DENIED" if function == states.INVALIDATION else "AMENDMENT_REFUSED"
    refused = "cancellation_denied" if function == states.INVALIDATION else "rejected"
    if original is None:
        se.status, se.errors = "rejected", [_err("REQUEST_NOT_LODGED", "/payload/mrn")]
        return [(refused, {"errors": se.errors})]
    if document.get("mrn") != original.mrn:
        se.status = "rejected"
        se.errors = [_err("REQUEST_MRN_MISMATCH", "/payload/mrn",
                          found=str(document.get("mrn") or "-")[:40], mrn=original.mrn)]
        return [(refused, {"errors": se.errors, "mrn": original.mrn})]
    state = lodged_state(tx, se.trader_id, se.declaration_id, se.version, original)
    refusal = states.request_refusal(state, function, original.mrn)
    se.mrn = original.mrn
    if refusal is not None:
        se.status = "rejected"
        se.errors = [{"code": code, "pointer": "/payload/function",
                      "detail": refusal.render("en")}]
        return [(refused, {"errors": se.errors, "mrn": se.mrn})]
    se.status = "accepted"
    if function == states.INVALIDATION:
        tx.cancel_scheduled(se.declaration_id, original.version)
        return [("cancellation_granted", {"mrn": se.mrn}), ("invalidated", {"mrn": se.mrn})]
    return [("amended", {"mrn": se.mrn})]
