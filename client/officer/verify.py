"""Offline verification of a sealed envelope, for ``comptoir verify`` and the app.

Input: an exported envelope file (JWS JSON), or a compact token as pasted or read
from a fallback document's QR code.  Checks the signature, the certificate (and its
chain to the single window's CA when this profile holds trust material), and the
chain link against this device's own journal when the envelope is ours.  The
outcome is a list of messages in words.

With the single window's trust material (an officer profile after a sync, #8:
:mod:`client.seal.trust`) it also checks revocation as of the material's date, the
signer's role, the device chain position the single window knew, and says how old
that knowledge is; a fallback document's reference QR (``comptoir-ref:``) is matched
against the envelopes the single window held or this officer decided on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from client.common.i18n import ComptoirError, Message

MAX_TOKEN = 1 << 20


@dataclass
class VerifyOutcome:
    ok: bool
    lines: list[Message] = field(default_factory=list)
    verified: Any = None
    # With trust material (#8): valid | valid_stale | invalid | reference_lodged |
    # reference_unknown; without it "valid" / "invalid" as before.
    status: str = ""
    reason: Message | None = None
    age_days: int | None = None
    lodged: str = "unknown"
    envelope: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        v = self.verified
        return {"ok": self.ok, "status": self.status or ("valid" if self.ok else "invalid"),
                "reason": self.reason.render() if self.reason else None,
                "age_days": self.age_days, "lodged": self.lodged,
                "kind": getattr(v, "kind", None),
                "declaration_id": getattr(v, "declaration_id", None),
                "version": getattr(v, "version", None),
                "envelope_hash": getattr(v, "hash", None),
                "lines": [m.render() if isinstance(m, Message) else str(m) for m in self.lines]}


def parse_envelope_input(target: str) -> dict[str, Any]:
    """An envelope dict from a file path or a compact ``header.payload.signature`` token."""
    from client.interchange.qrpayload import PREFIX, decode_envelope

    if target.strip().startswith(PREFIX):
        return decode_envelope(target)
    path = Path(target)
    token: str | None = None
    try:
        is_file = len(target) < 4096 and path.is_file()
    except (OSError, ValueError):  # a pasted token longer than a file name may be
        is_file = False
    if is_file:
        from client.common.files import read_json_file

        try:
            value = read_json_file(path)
        except ComptoirError:
            raw = path.read_bytes()[:MAX_TOKEN].decode("ascii", "replace").strip()
            if raw.startswith(PREFIX):
                return decode_envelope(raw)
            if raw.count(".") == 2:
                token = raw
            else:
                raise
        else:
            if isinstance(value, dict) and {"protected", "payload", "signature"} <= value.keys():
                return {k: value[k] for k in ("protected", "payload", "signature")}
            raise ComptoirError("verify.not_envelope", 2, path=str(path))
    else:
        token = target.strip()
    if token is None or len(token) > MAX_TOKEN or token.count(".") != 2:
        raise ComptoirError("verify.not_envelope", 2, path=target[:80])
    protected, payload, signature = token.split(".")
    return {"protected": protected, "payload": payload, "signature": signature}


def trust_roots(home: Path) -> list[Any] | None:
    """The single window's CA certificates kept from the last sync, if any."""
    from cryptography import x509

    folder = home / "trust"
    pems = sorted(folder.glob("ca*.pem")) if folder.is_dir() else []
    certs = []
    for p in pems:
        try:
            certs.extend(x509.load_pem_x509_certificates(p.read_bytes()))
        except ValueError:
            continue
    return certs or None


REF_PREFIX = "comptoir-ref:"


def receipt_input(target: str) -> str | None:
    """The text of a receipt of the single window's log (a file or pasted), else None."""
    from client.seal.translog import MAX_RECEIPT_BYTES, RECEIPT_TYP

    text = target.strip()
    if not text.startswith("{"):
        try:
            path = Path(target)
            if len(target) >= 4096 or not path.is_file() or \
                    path.stat().st_size > MAX_RECEIPT_BYTES:
                return None
            text = path.read_text(encoding="utf-8", errors="replace").strip()
        except (OSError, ValueError):
            return None
    if not text.startswith("{") or RECEIPT_TYP not in text[:MAX_RECEIPT_BYTES]:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return text if isinstance(data, dict) and data.get("typ") == RECEIPT_TYP else None


def verify_receipt_input(home: Path, text: str) -> VerifyOutcome:
    """A receipt verified offline: the tree head's signature (the single window's receipt
    certificate kept at enrolment), the inclusion path, the heads this profile checked,
    and this device's journal when the receipt is for one of its envelopes."""
    from cryptography import x509

    from client.seal.translog import verify_receipt_offline

    cert_path = home / "trust" / "receipt.pem"
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ComptoirError("verify.receipt_no_certificate", 2, path=str(cert_path)) from exc
    verdict = verify_receipt_offline(text, cert, home / "trust")
    lines = list(verdict.lines)
    ok = verdict.ok
    if ok and verdict.receipt is not None:
        own = _receipt_in_journal(home, verdict.receipt.claims)
        if own is not None:
            lines.append(own)
            ok = own.code == "verify.receipt_journal_ok"
    return VerifyOutcome(ok, lines, status="valid" if ok else "invalid", reason=verdict.reason)


def _receipt_in_journal(home: Path, claims: dict[str, Any]) -> Message | None:
    from client.seal.profile import load_profile, open_store, profile_exists

    if not profile_exists(home):
        return None
    profile = load_profile(home)
    if claims.get("device_id") != profile.device_id or type(claims.get("seq")) is not int:
        return None
    with open_store(profile) as store:
        entry = store.journal_entry(seq=claims["seq"])
    seq = claims["seq"]
    if entry is None or entry.envelope_hash != claims.get("envelope_hash") \
            or entry.declaration_id != claims.get("declaration_id"):
        return Message("verify.receipt_journal_mismatch", {"seq": seq})
    return Message("verify.receipt_journal_ok", {"seq": seq})


def verify_input(home: Path, target: str, *, now: Any = None) -> VerifyOutcome:
    """Verify offline; with the single window's trust material when the profile has it."""
    from client.seal.envelope import describe, verify_envelope
    from client.seal.trust import load_trust

    receipt = receipt_input(target)
    if receipt is not None:
        return verify_receipt_input(home, receipt)
    tm = load_trust(home)
    if target.strip().startswith(REF_PREFIX):
        return _verify_reference(target.strip(), tm, now, home)
    env = parse_envelope_input(target)
    if tm is not None:
        return verify_with_trust(home, env, tm, now=now)
    roots = trust_roots(home)
    try:
        verified = verify_envelope(env, trust_roots=roots)
    except ComptoirError as exc:
        return VerifyOutcome(False, [Message("verify.invalid", {"reason": exc.render()})])
    lines = [Message("verify.valid", {}), describe(verified)]
    if not getattr(verified, "trusted", roots is not None):
        lines.append(Message("verify.self_signed", {}))
    ok = True
    link = _check_local_link(home, env, verified.header)
    if link is not None:
        lines.append(link)
        ok = link.code == "verify.link_ok"
    try:
        doc = json.loads(verified.payload)
        lines.append(Message("verify.content", {"lrn": doc.get("lrn") or "-",
                                                "type": doc.get("type") or "-",
                                                "items": len(doc.get("goods_items") or [])}))
    except (ValueError, AttributeError):
        pass
    return VerifyOutcome(ok, lines, verified, status="valid" if ok else "invalid", envelope=env)


def _verify_reference(target: str, tm: Any, now: Any, home: Path | None = None
                      ) -> VerifyOutcome:
    """A fallback document's QR code that carries only ``comptoir-ref:<id>:<hash>``:
    matched against the envelopes the single window held (trust material), then against
    the envelopes this officer verified in full and decided on."""
    parts = target.split(":")
    if len(parts) != 3 or len(parts[2]) != 64:
        raise ComptoirError("verify.not_envelope", 2, path=target[:80])
    decl_id, env_hash = parts[1], parts[2].lower()
    lines = [Message("verify.reference", {"id": decl_id, "hash": env_hash[:16]})]
    found = tm.find_hash(env_hash) if tm is not None else None
    decided = _decided_on(home, env_hash) if found is None and home is not None else None
    if decided is not None:
        lines.append(Message("verify.reference_decided", {
            "outcome": Message(f"officer.outcome.{decided.outcome}"),
            "at": decided.decided_at, "id": decided.declaration_id}))
        return VerifyOutcome(True, lines, status="reference_decided",
                             age_days=tm.age_days(now) if tm else None)
    if found is None:
        lines.append(Message("verify.reference_unknown", {}))
        return VerifyOutcome(False, lines, status="reference_unknown",
                             reason=Message("verify.reference_unknown", {}),
                             age_days=tm.age_days(now) if tm else None)
    dev, seq = found
    lines.append(Message("verify.reference_lodged", {"device": dev.device_id, "seq": seq,
                                                     "trader": dev.trader_id,
                                                     "date": tm.fetched_at}))
    return VerifyOutcome(True, lines, status="reference_lodged", age_days=tm.age_days(now),
                         lodged="already_lodged")


def _decided_on(home: Path, env_hash: str) -> Any:
    """This officer's decision on the envelope with this hash (verified before deciding)."""
    from client.seal.profile import load_profile, profile_exists

    if not profile_exists(home) or load_profile(home).role != "officer":
        return None
    from client.officer.records import list_decisions

    for rec in list_decisions(home):
        if rec.declaration_envelope_hash == env_hash:
            return rec
    return None


def _ou(cert: Any) -> str | None:
    from cryptography.x509.oid import NameOID

    attrs = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    return str(attrs[0].value) if attrs else None


_ROLE_FOR_KIND = {"declaration": "trader", "decision": "officer"}


def verify_with_trust(home: Path | None, env: dict[str, Any], tm: Any, *,
                      now: Any = None) -> VerifyOutcome:
    """Signature, chain to the single window's CA, revocation as of the trust data's date,
    the signer's role, and the chain link against what the single window knew of the
    device; the outcome and the content in words."""
    import datetime as dt

    from client.seal.envelope import EnvelopeError, describe, verify_envelope

    now = now or dt.datetime.now(dt.UTC)
    age = tm.age_days(now)
    age_line = Message("trust.age", {"date": tm.fetched_at, "days": age})

    def invalid(reason: Message, verified: Any = None) -> VerifyOutcome:
        return VerifyOutcome(False, [Message("verify.outcome_invalid", {"reason": reason}),
                                     age_line], verified, status="invalid", reason=reason,
                             age_days=age, envelope=env)

    try:
        verified = verify_envelope(env, trust_roots=tm.ca_certificates() or None, at=now)
    except EnvelopeError as exc:
        return invalid(exc.message)
    for cert in verified.chain:
        when = tm.revoked_at(cert.serial_number)
        if when is not None:
            return invalid(Message("verify.revoked", {
                "subject": cert.subject.rfc4514_string(),
                "serial": format(cert.serial_number, "x"), "revoked_at": when,
                "date": tm.fetched_at}), verified)
    expected = _ROLE_FOR_KIND.get(verified.kind)
    role = _ou(verified.certificate)
    if expected and role != expected:
        return invalid(Message("verify.wrong_role", {"role": role or "-",
                                                     "kind": Message(f"envelope.kind.{verified.kind}"),
                                                     "expected": expected}), verified)
    dev = tm.devices.get(verified.device_id)
    if dev is not None and dev.serials and \
            format(verified.certificate.serial_number, "x") not in dev.serials:
        return invalid(Message("verify.device_not_signer", {"device": verified.device_id}),
                       verified)
    link = tm.check_link(verified.device_id, verified.seq, verified.prev, verified.hash)
    if link.refused:
        return invalid(link.message, verified)
    stale = tm.stale(now)
    head = Message("verify.outcome_valid_stale", {"days": age, "date": tm.fetched_at}) if stale \
        else Message("verify.outcome_valid", {})
    lines = [head, describe(verified), link.message, age_line]
    if home is not None:
        own = _check_local_link(home, env, verified.header)
        if own is not None:
            lines.append(own)
            if own.code != "verify.link_ok":
                return invalid(own, verified)
    lines.extend(describe_content(verified.kind, verified.document))
    return VerifyOutcome(True, lines, verified, status="valid_stale" if stale else "valid",
                         age_days=age, lodged=link.lodged, envelope=env)


def _party(p: Any) -> str:
    if not isinstance(p, dict):
        return "-"
    bits = [str(p[k]) for k in ("id", "name") if p.get(k)]
    return " ".join(bits) or "-"


def describe_content(kind: str, doc: dict[str, Any]) -> list[Message]:
    """The signed document in words: a declaration's header, parties, items and totals
    (DE numbers as in the editor), or a control decision."""
    if not isinstance(doc, dict):
        return []
    if kind == "decision":
        return [Message("verify.decision_content", {
            "outcome": Message(f"officer.outcome.{doc.get('outcome')}"),
            "declaration_id": doc.get("declaration_id") or "-",
            "version": doc.get("declaration_version") or "-",
            "officer": doc.get("officer_id") or "-", "at": doc.get("decided_at") or "-",
            "reason": doc.get("reason") or "-"})]
    items = doc.get("goods_items") if isinstance(doc.get("goods_items"), list) else []
    out = [Message("verify.content", {"lrn": doc.get("lrn") or "-", "type": doc.get("type") or "-",
                                      "items": len(items)}),
           Message("verify.content_parties", {
               "declarant": _party(doc.get("declarant")), "exporter": _party(doc.get("exporter")),
               "importer": _party(doc.get("importer")), "office": doc.get("customs_office") or "-",
               "dispatch": doc.get("country_of_dispatch") or "-",
               "destination": doc.get("country_of_destination") or "-"})]
    gross = 0.0
    packages = 0
    for i, it in enumerate(items[:200]):
        if not isinstance(it, dict):
            continue
        try:
            gross += float(it.get("gross_mass") or 0)
        except (TypeError, ValueError):
            pass
        for pk in it.get("packages") or []:
            if isinstance(pk, dict) and isinstance(pk.get("number"), int):
                packages += pk["number"]
        out.append(Message("verify.content_item", {
            "n": it.get("sequence") or i + 1, "code": it.get("commodity_code") or "-",
            "description": str(it.get("description") or "-")[:80],
            "origin": it.get("country_of_origin") or "-",
            "procedure": it.get("procedure_code") or "-",
            "price": it.get("item_price") if it.get("item_price") is not None else "-"}))
    out.append(Message("verify.content_totals", {
        "total": doc.get("invoice_total") if doc.get("invoice_total") is not None else "-",
        "currency": doc.get("invoice_currency") or "", "gross": round(gross, 3),
        "packages": packages}))
    return out


def _check_local_link(home: Path, env: dict[str, Any], header: dict[str, Any]) -> Message | None:
    """When the envelope was sealed on this device, it must be in our journal as is."""
    from client.seal.envelope import envelope_hash
    from client.seal.profile import load_profile, open_store, profile_exists

    if not profile_exists(home):
        return None
    profile = load_profile(home)
    if header.get("dev") != profile.device_id:
        return None
    with open_store(profile) as store:
        entry = store.journal_entry(seq=int(header.get("seq", 0)))
    if entry is None:
        return Message("verify.link_unknown", {"seq": header.get("seq")})
    if entry.envelope_hash != envelope_hash(env) or entry.prev_hash != header.get("prev"):
        return Message("verify.link_mismatch", {"seq": header.get("seq")})
    return Message("verify.link_ok", {"seq": header.get("seq")})
