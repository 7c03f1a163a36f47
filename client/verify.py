"""Offline verification of a sealed envelope, for ``comptoir verify`` and the app.

Input: an exported envelope file (JWS JSON), or a compact token as pasted or read
from a fallback document's QR code.  Checks the signature, the certificate (and its
chain to the single window's CA when this profile holds trust material), and the
chain link against this device's own journal when the envelope is ours.  The
outcome is a list of messages in words.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from client.i18n import ComptoirError, Message

MAX_TOKEN = 1 << 20


@dataclass
class VerifyOutcome:
    ok: bool
    lines: list[Message] = field(default_factory=list)
    verified: Any = None


def parse_envelope_input(target: str) -> dict[str, Any]:
    """An envelope dict from a file path or a compact ``header.payload.signature`` token."""
    path = Path(target)
    token: str | None = None
    if path.is_file():
        from client.cli_decl import read_json_file

        try:
            value = read_json_file(path)
        except ComptoirError:
            raw = path.read_bytes()[:MAX_TOKEN].decode("ascii", "replace").strip()
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


def verify_input(home: Path, target: str) -> VerifyOutcome:
    from client.envelope import describe, verify_envelope

    env = parse_envelope_input(target)
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
    return VerifyOutcome(ok, lines, verified)


def _check_local_link(home: Path, env: dict[str, Any], header: dict[str, Any]) -> Message | None:
    """When the envelope was sealed on this device, it must be in our journal as is."""
    from client.envelope import envelope_hash
    from client.profile import load_profile, open_store, profile_exists

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
