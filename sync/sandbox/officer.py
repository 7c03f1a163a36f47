"""Field officers at the sandbox single window (#8): trust material and control decisions.

* ``GET /v1/trust`` (officer tokens): the CA, revoked certificates and every enrolled
  device with its role, certificate serials and last chain position, plus the hashes
  of its recent envelopes — what an officer needs to verify a seal with no link.
* A decision envelope (``knd`` = decision, signed with an officer certificate, lodged
  with an officer token) goes through the same intake as a declaration: signature,
  chain to the CA, revocation, idempotency, the officer device's own journal chain.
  It is then kept whole and applied to its declaration: the status changes and the
  trader is notified with the officer's signed decision.  If the declaration has not
  arrived yet (the trader is still offline), the decision waits and is applied when it
  does — before the simulated pipeline, which it supersedes.  If the single window had
  already decided otherwise (released online, another officer's decision), nothing is
  overwritten: the decision is kept, flagged ``DECISION_CONFLICT`` for a supervisor,
  and both the trader and the officer are told.
"""

from __future__ import annotations

import json
from typing import Any

from client.common.b64 import b64u_decode_lenient
from client.common.i18n import tr
from sync.sandbox.checks import Checked
from sync.sandbox.store import BatchTx, Decision, Principal, StoredEnvelope

OUTCOME_STATUS = {"release": "released", "hold": "under_control", "refuse": "release_refused",
                  "documents_checked": "under_control", "physical_inspection": "under_control"}
NEEDS_REASON = frozenset({"hold", "refuse"})
FINAL = frozenset({"released", "rejected", "invalidated", "release_refused"})
CONFLICT = "DECISION_CONFLICT"


def _err(code: str, pointer: str = "", **params: Any) -> dict[str, str]:
    return {"code": code, "pointer": pointer, "detail": tr(f"sandbox.code.{code}", "en", **params)}


# --------------------------------------------------------------------------- trust


def trust_document(store: Any, ca_pem: str, now: str) -> dict[str, Any]:
    """The ``TrustResponse`` document."""
    revoked, devices = store.trust_snapshot()
    return {"generated_at": now, "ca_pems": [ca_pem], "revoked": revoked, "devices": devices}


# --------------------------------------------------------------------------- decisions


def _payload(env: dict[str, Any]) -> dict[str, Any]:
    raw = str(env.get("payload", ""))
    try:
        doc = json.loads(b64u_decode_lenient(raw))
    except (ValueError, TypeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def role_for_kind(kind: str) -> str:
    """Who may sign and lodge an envelope of this kind."""
    return "officer" if kind == "decision" else "trader"


def _problem(doc: dict[str, Any], principal: Principal, header: dict[str, Any],
             signer_role: str | None) -> str | None:
    if signer_role != "officer" or principal.role != "officer":
        return "officer certificate"
    if doc.get("id") != header.get("did"):
        return "id"
    if not isinstance(doc.get("declaration_id"), str) or not doc["declaration_id"]:
        return "declaration_id"
    if type(doc.get("declaration_version")) is not int or doc["declaration_version"] < 1:
        return "declaration_version"
    if doc.get("outcome") not in OUTCOME_STATUS:
        return "outcome"
    if doc["outcome"] in NEEDS_REASON and not str(doc.get("reason") or "").strip():
        return "reason"
    if doc.get("officer_id") not in (None, principal.trader_id):
        return "officer_id"
    if not isinstance(doc.get("declaration_envelope_hash"), str):
        return "declaration_envelope_hash"
    return None


def lodge_decision(tx: BatchTx, receipt_jwk: dict[str, Any], principal: Principal,
                   se: StoredEnvelope, checked: Checked, env: dict[str, Any],
                   at: str) -> None:
    """Decide a decision envelope that is next in its officer device's chain.

    Sets ``se``'s status, errors and receipt as the intake does for a declaration.
    """
    doc = _payload(env)
    header = checked.header
    problem = _problem(doc, principal, header, checked.signer_role)
    if problem is not None:
        se.status = "rejected"
        se.errors = [_err("DECISION_INVALID", "/payload", reason=problem)]
        return
    token = f"{env['protected']}.{env['payload']}.{env['signature']}"
    row = tx.add_decision(
        decision_id=str(doc["id"]), declaration_id=str(doc["declaration_id"])[:36],
        version=int(doc["declaration_version"]), officer_id=principal.trader_id,
        officer_device=se.device_id, envelope_hash=se.envelope_hash,
        declaration_envelope_hash=str(doc["declaration_envelope_hash"]),
        outcome=str(doc["outcome"]), reason=doc.get("reason"),
        decided_at=str(doc.get("decided_at", "")), state="pending", verified=True,
        token=token, raw=se.raw, received_at=se.received_at)
    decl = _decided(tx, row)
    flags: list[str] = []
    if decl is not None and decl.status in ("accepted", "rejected"):
        if apply_decision(tx, row, decl, at):
            flags.append(CONFLICT)
    se.status = "accepted"
    se.errors = [_err(CONFLICT, "/payload/outcome")] if flags else []
    claims = {"declaration_id": se.declaration_id, "version": se.version,
              "envelope_hash": se.envelope_hash, "received_at": se.received_at, "mrn": None,
              "device_id": se.device_id, "seq": se.seq, "trader_id": se.trader_id,
              "kind": "decision", "subject": row.declaration_id, "flags": flags}
    se.claims = claims  # its receipt: a leaf of the log, like a declaration's


def _decided(tx: BatchTx, row: Decision) -> StoredEnvelope | None:
    """The declaration a decision is about: ids are per trader, so the envelope hash it
    names picks among traders; with no match, the only candidate (its conflict is then
    flagged) or none yet."""
    candidates = tx.envelopes_of(row.declaration_id, row.version)
    for env in candidates:
        if env.envelope_hash == row.declaration_envelope_hash:
            return env
    return candidates[0] if len(candidates) == 1 else None


def apply_decision(tx: BatchTx, row: Decision, decl: StoredEnvelope, at: str) -> bool:
    """Apply one kept decision to its lodged declaration; True when it conflicts."""
    target = OUTCOME_STATUS[row.outcome]
    trader = decl.trader_id
    row.trader_id = trader
    current = tx.current_status(trader, row.declaration_id, row.version)
    if decl.status == "rejected":
        current = "rejected"
    previous: str | None = None
    if decl.envelope_hash != row.declaration_envelope_hash:
        previous = "another envelope"
    elif current in FINAL and current != target:
        previous = current
    else:
        for other in tx.decisions_for(row.declaration_id, row.version, state="applied"):
            if other.id != row.id and other.officer_id != row.officer_id \
                    and OUTCOME_STATUS.get(other.outcome) != target:
                previous = f"{other.outcome} ({other.officer_id})"
                break
    if previous is not None:
        row.state, row.flagged = "conflict", True
        detail = tr("sandbox.conflict_detail", "en", officer=row.officer_id,
                    outcome=row.outcome, previous=previous)
        # Ids are per trader (#12): a decision naming another envelope than this trader's
        # may be about another trader's declaration, so only the officer is told of it.
        told = (row.officer_id,) if previous == "another envelope" else (trader, row.officer_id)
        for who in told:
            tx.notify(who, row.declaration_id, row.version, "decision_conflict", at,
                      mrn=decl.mrn, detail=detail, decision=row.token,
                      errors=[_err(CONFLICT, "/payload/outcome")])
        tx.save_decision(row)
        return True
    row.state = "applied"
    tx.cancel_scheduled(row.declaration_id, row.version)
    tx.notify(trader, row.declaration_id, row.version, target, at, mrn=decl.mrn,
              detail=tr("sandbox.decision_detail", "en", officer=row.officer_id,
                        outcome=row.outcome),
              decision=row.token)
    tx.save_decision(row)
    return False


def apply_pending(tx: BatchTx, decl: StoredEnvelope, at: str) -> bool:
    """A declaration was just decided by the intake: apply the decisions that waited for
    it.  True when one was applied (the simulated pipeline then stays out of it)."""
    applied = False
    if not tx.has_pending_decisions(decl.declaration_id, decl.version):
        return False
    for row in tx.decisions_for(decl.declaration_id, decl.version, state="pending"):
        if row.declaration_envelope_hash != decl.envelope_hash:
            continue  # waits for the envelope it names (ids are per trader: maybe another's)
        if not apply_decision(tx, row, decl, at):
            applied = True
    return applied
