"""This officer's sealed decisions read back from the journal, with their delivery state."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from client.common.b64 import b64u_decode_lenient

OUTCOMES = ("documents_checked", "physical_inspection", "release", "hold", "refuse")
NEEDS_REASON = frozenset({"hold", "refuse"})
# Outcome -> declaration status at the single window (client.declaration.states names).
# "refuse" is a refusal of release (UCC Art. 198), never a lodging rejection ("rejected").
OUTCOME_STATUS = {"release": "released", "hold": "under_control", "refuse": "release_refused",
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



def _receipt_claims(home: Path, token: str) -> dict[str, Any] | None:
    """The receipt's claims, verified with the single window's receipt certificate."""
    from cryptography import x509

    from client.seal.envelope import EnvelopeError, verify_receipt

    try:
        cert = x509.load_pem_x509_certificate((home / "trust" / "receipt.pem").read_bytes())
        return verify_receipt(token, cert)
    except (OSError, ValueError, EnvelopeError):
        return None


def _payload(env: dict[str, Any]) -> dict[str, Any]:
    raw = env.get("payload", "")
    try:
        doc = json.loads(b64u_decode_lenient(raw))
    except (ValueError, TypeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def list_decisions(home: Path, store: Any = None) -> list[DecisionRecord]:
    """This device's decisions, newest last, each with its delivery state and flags."""
    from client.seal.profile import load_profile, open_store

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
