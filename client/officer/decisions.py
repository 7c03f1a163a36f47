"""Field officer mode: control decisions recorded offline, sealed, queued, delivered later.

A decision is a small signed document about one lodged (or still to be lodged)
declaration envelope: which declaration, version and envelope hash the officer saw,
the outcome (documents checked, physical inspection, release, hold, refusal), a reason
where the outcome needs one, who decided and when.  It is sealed with the officer's key
on the officer device's own journal — the same chain, outbox and delivery as a
declaration — under its own id (UUIDv7), so that it is idempotent on its own and never
collides with the declaration's (id, version).

The single window answers with a signed receipt whose claims may carry a flag
(``DECISION_CONFLICT``: it already decided otherwise; kept for a supervisor).  The
trader receives the officer's signed decision in the notification feed; the functions
at the end read it back and verify it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from client.common.i18n import ComptoirError, Message
from client.declaration.model import new_declaration_id, now_utc
from client.officer.records import (
    DOC_KIND,
    MAX_REASON,
    NEEDS_REASON,
    OUTCOME_STATUS,
    OUTCOMES,
    DecisionRecord,
    _payload,
    list_decisions,
)

__all__ = ["DOC_KIND", "MAX_REASON", "NEEDS_REASON", "OUTCOME_STATUS", "OUTCOMES", "DecisionRecord",
           "list_decisions"]


def build_decision(verified: Any, outcome: str, reason: str | None, officer_id: str, *,
                   decided_at: str | None = None, decision_id: str | None = None
                   ) -> dict[str, Any]:
    """The decision document (canonicalised and signed by :func:`record_decision`)."""
    if outcome not in OUTCOMES:
        raise ComptoirError("officer.bad_outcome", 2, outcome=outcome, known=", ".join(OUTCOMES))
    reason = (reason or "").strip() or None
    if outcome in NEEDS_REASON and not reason:
        raise ComptoirError("officer.reason_required", 2,
                            outcome=Message(f"officer.outcome.{outcome}"))
    if reason is not None and len(reason) > MAX_REASON:
        raise ComptoirError("officer.reason_too_long", 2, limit=MAX_REASON)
    doc = verified.document if isinstance(verified.document, dict) else {}
    out: dict[str, Any] = {
        "id": decision_id or new_declaration_id(),
        "kind": DOC_KIND,
        "declaration_id": verified.declaration_id,
        "declaration_version": verified.version,
        "declaration_envelope_hash": verified.hash,
        "declaration_device": verified.device_id,
        "declaration_seq": verified.seq,
        "outcome": outcome,
        "officer_id": officer_id,
        "decided_at": decided_at or now_utc(),
    }
    if isinstance(doc.get("lrn"), str):
        out["lrn"] = doc["lrn"]  # DE 2/5
    if reason is not None:
        out["reason"] = reason
    return out


def record_decision(home: Path, target: str, outcome: str, reason: str | None, *,
                    now: Any = None, store: Any = None, secrets: Any = None
                    ) -> tuple[Any, Any, dict[str, Any]]:
    """Verify ``target`` offline, then seal and queue the decision on this officer device.

    Returns (verify outcome, journal entry, decision document).  Refuses on a trader
    profile, on an envelope that does not verify, and on anything but a declaration.
    """
    from client.officer.verify import parse_envelope_input, verify_input
    from client.seal.profile import load_profile, open_store, secret_store
    from client.seal.sealing import Sealer

    profile = load_profile(home)
    if profile.role != "officer":
        raise ComptoirError("officer.not_officer", 2, home=str(home))
    if outcome not in OUTCOMES:
        raise ComptoirError("officer.bad_outcome", 2, outcome=outcome, known=", ".join(OUTCOMES))
    if outcome in NEEDS_REASON and not (reason or "").strip():
        raise ComptoirError("officer.reason_required", 2,
                            outcome=Message(f"officer.outcome.{outcome}"))
    if target.strip().startswith("comptoir-ref:"):
        raise ComptoirError("officer.needs_envelope", 2)
    parse_envelope_input(target)  # unreadable input: exit 2 before anything else
    result = verify_input(home, target, now=now)
    if not result.ok or result.verified is None:
        raise ComptoirError("officer.refused_invalid", 1,
                            reason=result.reason or (result.lines[0] if result.lines else "-"))
    if result.verified.kind != "declaration":
        raise ComptoirError("officer.not_declaration", 2)
    officer_id = profile.declarant_id or (profile.server or {}).get("trader_id") or profile.actor()
    document = build_decision(result.verified, outcome, reason, officer_id)
    if store is not None:  # the app's open store and secrets
        entry = Sealer(profile, store, secrets or secret_store(profile)).seal_document(
            "decision", document["id"], 1, document)
        return result, entry, document
    secrets = secrets or secret_store(profile)
    with open_store(profile, secrets=secrets) as own:
        entry = Sealer(profile, own, secrets).seal_document(
            "decision", document["id"], 1, document)
    return result, entry, document


# --------------------------------------------------------------------------- trader side


@dataclass
class ReceivedDecision:
    """An officer's decision as the trader received it with a notification."""

    declaration_id: str
    status: str  # the notification's status (released, under_control, decision_conflict…)
    at: str
    outcome: str
    reason: str | None
    officer_id: str
    decided_at: str
    decision_id: str
    verified: bool
    conflict: bool
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def read_decision_token(token: str, home: Path | None) -> tuple[dict[str, Any], bool, str | None]:
    """The decision document of a compact token, whether it verifies (officer certificate
    chaining to the single window's CA kept in ``home/trust``), and why not."""
    from client.officer.verify import _ou, parse_envelope_input, trust_roots
    from client.seal.envelope import EnvelopeError, verify_envelope

    try:
        env = parse_envelope_input(token)
    except ComptoirError as exc:
        return {}, False, exc.render()
    roots = trust_roots(home) if home is not None else None
    try:
        v = verify_envelope(env, trust_roots=roots)
    except EnvelopeError as exc:
        return _payload(env), False, exc.render()
    if v.kind != "decision" or _ou(v.certificate) != "officer":
        return v.document, False, Message("verify.wrong_role", {
            "role": _ou(v.certificate) or "-", "kind": Message(f"envelope.kind.{v.kind}"),
            "expected": "officer"}).render()
    if not v.trusted:
        return v.document, False, Message("verify.self_signed", {}).render()
    return v.document, True, None


def received_decisions(home: Path, declaration_id: str) -> list[ReceivedDecision]:
    """Officers' decisions about one of this trader's declarations, from the feed."""
    from client.seal.profile import load_profile, open_store

    profile = load_profile(home)
    with open_store(profile) as store:
        decl_id = store.resolve_id(declaration_id)
        notes = store.notifications(decl_id)
    out = []
    for n in notes:
        token = n.get("decision")
        if not token:
            continue
        doc, ok, problem = read_decision_token(str(token), home)
        out.append(ReceivedDecision(
            declaration_id=decl_id, status=str(n.get("status", "")), at=str(n.get("at", "")),
            outcome=str(doc.get("outcome", "")), reason=doc.get("reason"),
            officer_id=str(doc.get("officer_id", "")), decided_at=str(doc.get("decided_at", "")),
            decision_id=str(doc.get("id", "")), verified=ok,
            conflict=n.get("status") == "decision_conflict", problem=problem))
    return out
