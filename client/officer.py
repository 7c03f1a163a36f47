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

import base64
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from client.i18n import ComptoirError, Message
from client.model import new_declaration_id, now_utc

OUTCOMES = ("documents_checked", "physical_inspection", "release", "hold", "refuse")
NEEDS_REASON = frozenset({"hold", "refuse"})
# Outcome -> declaration status at the single window (client.states names).
OUTCOME_STATUS = {"release": "released", "hold": "under_control", "refuse": "rejected",
                  "documents_checked": "under_control", "physical_inspection": "under_control"}
MAX_REASON = 500
DOC_KIND = "control_decision"


@dataclass
class DecisionRecord:
    """One decision of this officer and where its delivery stands."""

    seq: int
    decision_id: str
    declaration_id: str
    declaration_version: int
    declaration_envelope_hash: str
    lrn: str | None
    outcome: str
    reason: str | None
    officer_id: str
    decided_at: str
    envelope_hash: str
    state: str  # queued | held | delivered | rejected
    flags: list[str] = field(default_factory=list)
    received_at: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


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
    from client.profile import load_profile, open_store, secret_store
    from client.sealing import Sealer
    from client.verify import parse_envelope_input, verify_input

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


def _receipt_claims(home: Path, token: str) -> dict[str, Any] | None:
    """The receipt's claims, verified with the single window's receipt certificate."""
    from cryptography import x509

    from client.envelope import EnvelopeError, verify_receipt

    try:
        cert = x509.load_pem_x509_certificate((home / "trust" / "receipt.pem").read_bytes())
        return verify_receipt(token, cert)
    except (OSError, ValueError, EnvelopeError):
        return None


def _payload(env: dict[str, Any]) -> dict[str, Any]:
    raw = env.get("payload", "")
    try:
        doc = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, TypeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def list_decisions(home: Path, store: Any = None) -> list[DecisionRecord]:
    """This device's decisions, newest last, each with its delivery state and flags."""
    from client.profile import load_profile, open_store

    if store is not None:
        return _collect(home, store)
    with open_store(load_profile(home)) as own:
        return _collect(home, own)


def _collect(home: Path, store: Any) -> list[DecisionRecord]:
    out: list[DecisionRecord] = []
    pending = {it.seq: it.state for it in store.outbox_pending(limit=1_000_000)}
    for entry in store.journal():
        if entry.kind != "decision":
            continue
        doc = _payload(entry.envelope)
        rec = DecisionRecord(
            seq=entry.seq, decision_id=entry.declaration_id,
            declaration_id=str(doc.get("declaration_id", "")),
            declaration_version=int(doc.get("declaration_version") or 0),
            declaration_envelope_hash=str(doc.get("declaration_envelope_hash", "")),
            lrn=doc.get("lrn"), outcome=str(doc.get("outcome", "")),
            reason=doc.get("reason"), officer_id=str(doc.get("officer_id", "")),
            decided_at=str(doc.get("decided_at", entry.sealed_at)),
            envelope_hash=entry.envelope_hash, state="queued")
        if entry.seq in pending:
            rec.state = pending[entry.seq]
        else:
            receipts = [r for r in store.receipts(entry.declaration_id) if r["seq"] == entry.seq]
            if receipts:
                rec.state = "delivered"
                rec.received_at = receipts[0]["received_at"]
                claims = _receipt_claims(home, receipts[0]["token"]) or {}
                rec.flags = [str(f) for f in claims.get("flags") or []]
            else:
                rec.state = "rejected"
        # A decision kept waiting for its declaration may be flagged later: the single
        # window then tells the officer in the feed, with the decision itself.
        env = entry.envelope
        token = f"{env['protected']}.{env['payload']}.{env['signature']}"
        if rec.declaration_id and "DECISION_CONFLICT" not in rec.flags and any(
                n.get("status") == "decision_conflict" and n.get("decision") == token
                for n in store.notifications(rec.declaration_id)):
            rec.flags.append("DECISION_CONFLICT")
        out.append(rec)
    return out


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
    from client.envelope import EnvelopeError, verify_envelope
    from client.verify import _ou, parse_envelope_input, trust_roots

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
    from client.profile import load_profile, open_store

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
