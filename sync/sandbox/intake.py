"""Lodging a batch of sealed envelopes: verify, order by device chain, decide, receipt.

Per envelope, in this order: signature and certificate chain to the sandbox CA (not
revoked); the signer is the token's trader; (declaration id, version) idempotency
(same hash -> the original result, other hash -> IDEMPOTENCY_CONFLICT); the device
chain (seq = last + 1 and prev = hash of last -> apply; further ahead -> held until the
gap fills; behind or wrong prev -> CHAIN_FORK); then business validation and the risk
lane.  A rejected envelope still advances the chain: it was lodged.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from client.envelope import EnvelopeError, envelope_hash, sign_receipt, verify_envelope
from client.i18n import ComptoirError, tr
from client.mrn import allocate_mrn
from client.validation import validate
from sync.protocol import BatchResponse
from sync.sandbox.pipeline import Clock, LaneMode, lane_for, rejection_rule, schedule
from sync.sandbox.store import BatchTx, Principal, StoredEnvelope

# Procedure category letter at MRN position 17, by declaration type (DE 1/1).
_PROCEDURE_LETTER = {"IM": "J", "EX": "A", "CO": "J"}


def now_iso(t: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if t is None else t, UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


def _err(code: str, pointer: str = "", **params: Any) -> dict[str, str]:
    return {"code": code, "pointer": pointer, "detail": tr(f"sandbox.code.{code}", "en", **params)}


def _subject_cn(cert: x509.Certificate) -> str | None:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else None


def _business_errors(tx: BatchTx, se: StoredEnvelope,
                     document: dict[str, Any]) -> list[dict[str, str]]:
    """Server-side validation: the client's rules (errors only) plus DMS uniqueness."""
    errors = [{"code": f.code, "pointer": f.path, "detail": f.message.render("en")}
              for f in validate(document) if f.severity == "error"]
    declarant = document.get("declarant") if isinstance(document.get("declarant"), dict) else {}
    declarant_id, lrn = declarant.get("id"), document.get("lrn")
    if isinstance(declarant_id, str) and isinstance(lrn, str) and declarant_id and lrn:
        se.declarant_id, se.lrn = declarant_id[:35], lrn[:35]
        owner = tx.lrn_owner(se.declarant_id, se.lrn)
        if owner is not None and owner != se.declaration_id:
            errors.append({"code": "CDS12003", "pointer": "lrn",
                           "detail": tr("sandbox.lrn_reused", "en", lrn=lrn)})
    return errors


@dataclass
class IntakeContext:
    """What the intake needs from the running sandbox."""

    ca_cert: x509.Certificate
    receipt_jwk: dict[str, Any]
    country: str
    seed: int
    lane_mode: LaneMode
    clock: Clock
    revoked: set[int]


def process_batch(tx: BatchTx, ctx: IntakeContext, principal: Principal,
                  envelopes: list[dict[str, Any]]) -> BatchResponse:
    """Decide every envelope of one batch inside one store transaction."""
    results: list[dict[str, Any]] = []
    by_key: dict[tuple[str, int], int] = {}
    now = time.time()
    at = now_iso(now)
    verified: list[Any] = []
    keys: list[tuple[str, int]] = []
    for env in envelopes:
        try:
            v = verify_envelope(env, trust_roots=[ctx.ca_cert], revoked_serials=ctx.revoked)
        except EnvelopeError as exc:
            v = exc
        except (ComptoirError, ValueError, TypeError, KeyError) as exc:  # defensive
            v = exc
        verified.append(v)
        if not isinstance(v, Exception):
            keys.append((str(v.header.get("did")), int(v.header.get("ver", 0))))
    tx.preload(keys)
    lrns = []
    for v in verified:
        doc = getattr(v, "document", None)
        if isinstance(doc, dict) and isinstance(doc.get("declarant"), dict):
            declarant, lrn = doc["declarant"].get("id"), doc.get("lrn")
            if isinstance(declarant, str) and isinstance(lrn, str):
                lrns.append((declarant[:35], lrn[:35]))
    tx.preload_lrns(lrns)
    tx.bump_counter("submissions", len(envelopes))

    def result(index: int, status: str, h: str, did: str | None, ver: int | None, *,
               mrn: str | None = None, receipt: str | None = None,
               errors: list[dict[str, str]] | None = None) -> None:
        results.append({"index": index, "declaration_id": did, "version": ver,
                        "envelope_hash": h, "status": status, "mrn": mrn, "receipt": receipt,
                        "errors": errors or []})

    def apply(se: StoredEnvelope, document: dict[str, Any]) -> None:
        """Decide a lodged envelope that is next in its device chain."""
        errors = _business_errors(tx, se, document)
        lane = lane_for(ctx.seed, se.declaration_id, ctx.lane_mode)
        if not errors and lane == "rejected":
            code, pointer = rejection_rule(ctx.seed, se.declaration_id)
            errors = [{"code": code, "pointer": pointer,
                       "detail": tr("sandbox.risk_rejected", "en", code=code)}]
        tx.notify(principal.trader_id, se.declaration_id, se.version, "received", at)
        if errors:
            se.status, se.errors, se.lane = "rejected", errors, lane
            tx.notify(principal.trader_id, se.declaration_id, se.version, "rejected", at,
                      errors=errors)
        else:
            serial = tx.next_counter("mrn_serial")
            letter = _PROCEDURE_LETTER.get(str(document.get("type", "IM")), "")
            se.mrn = allocate_mrn(ctx.country, datetime.now(UTC).year, serial, letter)
            se.status, se.lane = "accepted", lane
            if se.declarant_id and se.lrn:
                tx.claim_lrn(se.declarant_id, se.lrn, se.declaration_id)
            claims = {"declaration_id": se.declaration_id, "version": se.version,
                      "envelope_hash": se.envelope_hash, "received_at": se.received_at,
                      "mrn": se.mrn, "device_id": se.device_id, "seq": se.seq,
                      "trader_id": se.trader_id}
            se.receipt = sign_receipt(claims, ctx.receipt_jwk)
            tx.notify(principal.trader_id, se.declaration_id, se.version, "accepted", at,
                      mrn=se.mrn)
            for due, status in schedule(lane, now, ctx.clock):
                if due <= now:
                    tx.notify(principal.trader_id, se.declaration_id, se.version, status, at,
                              mrn=se.mrn)
                else:
                    tx.schedule(due, principal.trader_id, se.declaration_id, se.version,
                                status, mrn=se.mrn)
        tx.advance_device(se.trader_id, se.device_id, se.seq, se.envelope_hash)

    def apply_and_release(se: StoredEnvelope, document: dict[str, Any]) -> None:
        """Apply, then every held successor whose turn has come (iteratively)."""
        apply(se, document)
        last = se
        while (nxt := tx.held(last.trader_id, last.device_id, last.seq + 1)) is not None:
            tx.resolve_held(nxt)
            try:
                nv = verify_envelope(json.loads(nxt.raw), trust_roots=[ctx.ca_cert],
                                     revoked_serials=ctx.revoked)
                doc = nv.document if isinstance(getattr(nv, "document", None), dict) else {}
            except (ComptoirError, ValueError, TypeError, KeyError):
                doc = None
            if doc is None or nxt.prev != last.envelope_hash:
                nxt.status = "rejected"
                nxt.errors = [_err("CHAIN_FORK", "/protected/prev")]
                tx.notify(principal.trader_id, nxt.declaration_id, nxt.version, "rejected",
                          at, errors=nxt.errors)
            else:
                apply(nxt, doc)
            idx = by_key.get((nxt.declaration_id, nxt.version))
            if idx is not None:
                results[idx].update(status=nxt.status, mrn=nxt.mrn, receipt=nxt.receipt,
                                    errors=nxt.errors)
            if nxt.status == "rejected" and nxt.errors and nxt.errors[0]["code"] == "CHAIN_FORK":
                break
            last = nxt

    for index, (env, v) in enumerate(zip(envelopes, verified, strict=True)):
        if isinstance(v, Exception):
            try:
                h = envelope_hash(env)
            except (ComptoirError, ValueError, TypeError):
                h = ""
            code = getattr(v, "code", "SIGNATURE_INVALID")
            detail = v.render("en") if isinstance(v, ComptoirError) else str(v)[:200]
            result(index, "rejected", h, None, None,
                   errors=[{"code": code, "pointer": f"/envelopes/{index}", "detail": detail}])
            continue
        header, h = v.header, v.hash
        did, ver = str(header.get("did")), int(header.get("ver", 0))
        cert = getattr(v, "certificate", None)
        cn = _subject_cn(cert) if isinstance(cert, x509.Certificate) else getattr(
            v, "signer_subject", None)
        if cn != principal.trader_id or principal.role != "trader":
            result(index, "rejected", h, did, ver,
                   errors=[_err("CERT_NOT_OWNED", "/protected/x5c")])
            continue
        if header.get("knd", "declaration") != "declaration":
            result(index, "rejected", h, did, ver,
                   errors=[_err("KIND_NOT_SUPPORTED", "/protected/knd")])
            continue
        document = v.document if isinstance(getattr(v, "document", None), dict) else {}
        if document.get("id", did) != did or int(document.get("version", ver)) != ver:
            result(index, "rejected", h, did, ver,
                   errors=[_err("HEADER_MISMATCH", "/payload/id")])
            continue
        existing = tx.envelope(did, ver)
        if existing is not None:
            if existing.envelope_hash != h:
                result(index, "rejected", h, did, ver,
                       errors=[_err("IDEMPOTENCY_CONFLICT", "/protected/did")])
            elif existing.status == "accepted":
                result(index, "duplicate", h, did, ver, mrn=existing.mrn,
                       receipt=existing.receipt)
            else:
                result(index, existing.status, h, did, ver, mrn=existing.mrn,
                       receipt=existing.receipt, errors=existing.errors)
                by_key[(did, ver)] = index
            continue
        dev, seq, prev = str(header.get("dev")), int(header.get("seq", 0)), str(header.get("prev"))
        state = tx.device(principal.trader_id, dev)
        se = StoredEnvelope(
            declaration_id=did, version=ver, envelope_hash=h, trader_id=principal.trader_id,
            device_id=dev, seq=seq, prev=prev, status="held", mrn=None, receipt=None,
            errors=[], raw=json.dumps(env, separators=(",", ":")), received_at=at)
        if seq == state.last_seq + 1 and prev == state.last_hash:
            tx.add_envelope(se)
            apply_and_release(se, document)
            result(index, se.status, h, did, ver, mrn=se.mrn, receipt=se.receipt,
                   errors=se.errors)
        elif seq > state.last_seq + 1 and tx.held(principal.trader_id, dev, seq) is None:
            tx.add_envelope(se)
            by_key[(did, ver)] = index
            result(index, "held", h, did, ver)
        else:
            result(index, "rejected", h, did, ver,
                   errors=[_err("CHAIN_FORK", "/protected/seq")])
    return BatchResponse.model_validate({"results": results})
