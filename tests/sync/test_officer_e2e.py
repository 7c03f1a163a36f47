"""Issue #8 acceptance: a field officer verifies seals and records decisions offline.

The sandbox single window runs as its own HTTPS process; trader and officer are
``comptoir`` subprocesses on their own profiles, exactly as used.  "Offline" means the
sandbox process is stopped: nothing the officer does then can reach it.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from client.seal.canonical import canonicalize
from client.seal.profile import load_profile, open_store, secret_store
from client.seal.sealing import fallback_qr_payload

from .helpers import SandboxProcess, comptoir, enrolled_profile, list_json, ok

pytestmark = pytest.mark.slow

OFFICER = "OFFICER-0001"
OFFICER2 = "OFFICER-0002"
TRADER2 = "GB987654321000"


def _officer(home: Path, sb: SandboxProcess, officer_id: str = OFFICER) -> None:
    ok(comptoir(home, "init", "--role", "officer", "--declarant", officer_id))
    ok(comptoir(home, "enrol", "--server", sb.url, "--code", sb.code(officer_id, role="officer"),
                "--ca", str(sb.ca)))
    ok(comptoir(home, "sync", "--once"))  # the trust material comes with every sync


def _seal_one(home: Path, seed: int) -> str:
    before = {r["id"] for r in list_json(home)}
    ok(comptoir(home, "demo", "seed", "--count", "1", "--seed", str(seed)))
    ok(comptoir(home, "seal", "--all-ready"))
    (new,) = [r["id"] for r in list_json(home) if r["id"] not in before]
    return new


def _export(home: Path, decl_id: str, out: Path) -> dict[str, Any]:
    ok(comptoir(home, "export", decl_id, "--format", "envelope", "-o", str(out)))
    return json.loads(out.read_text())


def _did(env: dict[str, Any]) -> str:
    return json.loads(base64.urlsafe_b64decode(env["protected"] + "=="))["did"]


def _decisions(home: Path) -> list[dict[str, Any]]:
    return json.loads(ok(comptoir(home, "decisions", "--json")).stdout)


@pytest.fixture
def world(tmp_path: Path):
    sb = SandboxProcess(tmp_path / "sw", lane="green").start()
    trader, officer = tmp_path / "trader", tmp_path / "officer"
    enrolled_profile(trader, sb)
    _officer(officer, sb)
    yield sb, trader, officer, tmp_path
    sb.stop()


def test_offline_release_reaches_the_trader_with_the_signed_decision(world):
    sb, trader, officer, tmp = world
    decl_id = _seal_one(trader, 5)
    env = _export(trader, decl_id, tmp / "env.json")
    pdf = tmp / "fallback.pdf"
    ok(comptoir(trader, "export", decl_id, "--format", "fallback-pdf", "-o", str(pdf)))
    assert pdf.read_bytes().startswith(b"%PDF")
    trust = json.loads(ok(comptoir(officer, "trust", "show", "--json")).stdout)
    assert trust["age_days"] == 0 and trust["devices"]["total"] >= 2

    sb.stop()  # no link from here on
    p = ok(comptoir(officer, "verify", str(tmp / "env.json")))
    assert p.stdout.startswith("VALID: signature, certificate and chain check out"), p.stdout
    assert "Not yet lodged" in p.stdout and "Trust data of" in p.stdout
    assert "Item 1:" in p.stdout and "Totals:" in p.stdout
    qr = fallback_qr_payload(env)
    assert qr.startswith("CPT1:"), "the QR code carries the whole sealed envelope"
    q = comptoir(officer, "verify", qr)
    assert q.returncode == 0 and q.stdout.startswith("VALID"), q.stderr
    assert "Not yet lodged" in q.stdout
    d = ok(comptoir(officer, "decide", str(tmp / "env.json"), "--outcome", "release", "--json"))
    decision = json.loads(d.stdout)["decision"]
    assert decision["declaration_id"] == decl_id and decision["officer_id"] == OFFICER
    (rec,) = _decisions(officer)
    assert rec["state"] == "queued" and rec["outcome"] == "release"
    assert comptoir(officer, "sync", "--once").returncode == 3  # still offline: kept

    sb.start()
    ok(comptoir(officer, "sync", "--once"))  # the officer's link comes back first
    (rec,) = _decisions(officer)
    assert rec["state"] == "delivered" and rec["flags"] == []
    assert sb.stats()["decisions_pending"] == 1  # kept until the declaration arrives
    ok(comptoir(trader, "sync", "--once"))
    show = json.loads(ok(comptoir(trader, "show", decl_id, "--json")).stdout)
    assert show["status"] == "released"
    hist = json.loads(ok(comptoir(trader, "history", decl_id, "--json")).stdout)
    released = [h for h in hist if h["to_status"] == "released"]
    assert len(released) == 1 and released[0]["detail"]["decision"]
    got = json.loads(ok(comptoir(trader, "decisions", "--id", decl_id, "--json")).stdout)
    assert len(got) == 1
    assert got[0]["verified"] is True and got[0]["outcome"] == "release"
    assert got[0]["officer_id"] == OFFICER and got[0]["decision_id"] == decision["id"]
    stats = sb.stats()
    assert stats["decisions"] == 1 and stats["decisions_verified"] == 1
    assert stats["decisions_applied"] == 1 and stats["decisions_flagged"] == 0


def _seal_raw(home: Path, doc: dict[str, Any], seq: int, prev: str) -> dict[str, Any]:
    """An envelope signed with the device's real key at a chosen position (an attack)."""
    from client.seal.envelope import seal_envelope
    from client.seal.keys import load_private_jwk, require_active_key, x5c

    profile = load_profile(home)
    info = require_active_key(home)
    jwk = load_private_jwk(secret_store(profile), info)
    return seal_envelope(canonicalize(doc), jwk, x5c(info), kind="declaration",
                         declaration_id=doc["id"], version=1, device_id=profile.device_id,
                         seq=seq, prev=prev)


def test_refused_offline_with_a_clear_reason(world):
    sb, trader, officer, tmp = world
    lodged = [_seal_one(trader, s) for s in (21, 22)]
    ok(comptoir(trader, "sync", "--once"))
    other = tmp / "trader2"
    enrolled_profile(other, sb, trader=TRADER2)
    _export(other, _seal_one(other, 23), tmp / "revoked.json")
    device2 = load_profile(other).device_id
    ok(comptoir(sb.home, "sandbox", "revoke", "--home", str(sb.home), "--device", device2))
    fresh = _export(trader, _seal_one(trader, 24), tmp / "fresh.json")
    ok(comptoir(officer, "sync", "--once"))  # trust material: revocation, chain positions
    first = _export(trader, lodged[0], tmp / "first.json")
    with open_store(load_profile(trader)) as store:
        seq1 = store.journal_entry(declaration_id=lodged[0]).seq
        hash1 = store.journal_entry(declaration_id=lodged[0]).envelope_hash
    sb.stop()

    def refused(path: Path) -> str:
        p = comptoir(officer, "verify", str(path))
        assert p.returncode == 1, (p.stdout, p.stderr)
        assert p.stderr.startswith("INVALID: "), p.stderr
        return p.stderr

    # tampered: one figure changed after sealing
    doc = json.loads(base64.urlsafe_b64decode(fresh["payload"] + "=="))
    doc["invoice_total"] = "1.00"
    tampered = dict(fresh, payload=base64.urlsafe_b64encode(canonicalize(doc)).rstrip(b"=")
                    .decode())
    (tmp / "tampered.json").write_text(json.dumps(tampered))
    assert "signature" in refused(tmp / "tampered.json").lower()
    # revoked: the single window revoked the second trader's device certificate
    assert "was revoked on" in refused(tmp / "revoked.json")
    # an unknown CA: a certificate from another authority, same trader name
    rogue = _rogue_envelope(tmp, doc)
    assert "does not end at a trusted authority" in refused(rogue)
    # the device chain jumps back: a second envelope at a position already lodged
    twin = json.loads(base64.urlsafe_b64decode(first["payload"] + "=="))
    twin["id"] = "01900000-0000-7000-8000-00000000beef"
    twin["lrn"] = "BACKDATED0001"
    back = _seal_raw(trader, twin, seq=seq1 + 1, prev=hash1)
    (tmp / "back.json").write_text(json.dumps(back))
    assert "The device chain jumps back" in refused(tmp / "back.json")
    # the genuine, already lodged one is recognised as such (never lodged twice)
    p = ok(comptoir(officer, "verify", str(tmp / "first.json")))
    assert "Already lodged" in p.stdout
    # no decision on an invalid envelope
    d = comptoir(officer, "decide", str(tmp / "tampered.json"), "--outcome", "release")
    assert d.returncode == 1 and "No decision recorded" in d.stderr
    assert _decisions(officer) == []
    # hold and refuse need a reason
    h = comptoir(officer, "decide", str(tmp / "fresh.json"), "--outcome", "hold")
    assert h.returncode == 2 and "needs a reason" in h.stderr
    # a trader profile cannot decide
    t = comptoir(trader, "decide", str(tmp / "fresh.json"), "--outcome", "release")
    assert t.returncode == 2 and "not an officer's" in t.stderr


def _rogue_envelope(tmp: Path, doc: dict[str, Any]) -> Path:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from client.seal.envelope import GENESIS, seal_envelope
    from client.seal.jws import jwk_from_private_key
    from sync.sandbox.ca import SandboxPKI

    pki = SandboxPKI(tmp / "rogue-ca").ensure()
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
           .sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode())
    cert, _ = pki.issue_leaf(csr, trader_id="GB123456789000", role="trader",
                             device_id="rogue-device")
    chain = [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()
             for c in (cert, pki.ca_cert)]
    env = seal_envelope(canonicalize(doc), jwk_from_private_key(key), chain,
                        kind="declaration", declaration_id=doc["id"], version=1,
                        device_id="rogue-device", seq=1, prev=GENESIS)
    path = tmp / "rogue.json"
    path.write_text(json.dumps(env))
    return path


def test_conflicting_decision_is_kept_flagged_and_never_applied_twice(world):
    from sync.transport import SingleWindowClient

    sb, trader, officer, tmp = world
    decl_id = _seal_one(trader, 31)
    _export(trader, decl_id, tmp / "env.json")
    ok(comptoir(trader, "sync", "--once"))  # released online by the pipeline (green lane)
    assert json.loads(ok(comptoir(trader, "show", decl_id, "--json")).stdout)["status"] \
        == "released"
    ok(comptoir(officer, "sync", "--once"))
    sb.stop()
    p = ok(comptoir(officer, "verify", str(tmp / "env.json")))
    assert "Already lodged" in p.stdout
    ok(comptoir(officer, "decide", str(tmp / "env.json"), "--outcome", "hold",
                "--reason", "container seal broken"))
    sb.start()
    ok(comptoir(officer, "sync", "--once"))
    (rec,) = _decisions(officer)
    assert rec["state"] == "delivered" and rec["flags"] == ["DECISION_CONFLICT"]
    human = ok(comptoir(officer, "decisions")).stdout
    assert "FLAGGED: DECISION_CONFLICT" in human

    # the same decision again (a resend after a lost answer): the original result
    profile = load_profile(officer)
    token = secret_store(profile).get("api-token")
    with open_store(profile) as store:
        (entry,) = [e for e in store.journal() if e.kind == "decision"]
    with SingleWindowClient(sb.url, ca_pem_path=sb.ca, token=token) as client:
        again = client.submit([entry.envelope], "resend-1").results[0]
    assert again.status == "duplicate" and again.leaf["kind"] == "decision"
    assert again.leaf["flags"] == ["DECISION_CONFLICT"] and again.path is not None
    # and a trader's token cannot lodge a decision at all
    t_token = secret_store(load_profile(trader)).get("api-token")
    with SingleWindowClient(sb.url, ca_pem_path=sb.ca, token=t_token) as client:
        refused = client.submit([entry.envelope], "trader-tries").results[0]
    assert refused.status == "rejected"
    stats = sb.stats()
    assert stats["decisions"] == 1 and stats["decisions_flagged"] == 1
    assert stats["decisions_applied"] == 0

    ok(comptoir(trader, "sync", "--once"))
    show = json.loads(ok(comptoir(trader, "show", decl_id, "--json")).stdout)
    assert show["status"] == "released"  # nothing overwritten
    got = json.loads(ok(comptoir(trader, "decisions", "--id", decl_id, "--json")).stdout)
    assert [(g["conflict"], g["outcome"], g["verified"]) for g in got] == [(True, "hold", True)]
    text = ok(comptoir(trader, "decisions", "--id", decl_id)).stdout
    assert "CONFLICT flagged for a supervisor" in text and "container seal broken" in text
    # the trader's own history and declaration view show it too, without a state change
    hist = json.loads(ok(comptoir(trader, "history", decl_id, "--json")).stdout)
    flagged = [h for h in hist if h["note"] == "history.note.notification"
               and h["detail"]["status"] == "decision_conflict"]
    assert len(flagged) == 1 and flagged[0]["from_status"] == flagged[0]["to_status"] == "released"
    assert flagged[0]["detail"]["decision"]
    assert [d["conflict"] for d in show["decisions"]] == [True]
    assert "CONFLICT flagged for a supervisor" in ok(comptoir(trader, "show", decl_id)).stdout


def test_trust_endpoint_is_for_officers_only(world):
    from sync.transport import SingleWindowClient, TransportError

    sb, trader, officer, tmp = world
    t_token = secret_store(load_profile(trader)).get("api-token")
    with SingleWindowClient(sb.url, ca_pem_path=sb.ca, token=t_token) as client:
        with pytest.raises(TransportError) as exc:
            client.trust()
    assert getattr(exc.value, "status", None) == 403
    o_token = secret_store(load_profile(officer)).get("api-token")
    with SingleWindowClient(sb.url, ca_pem_path=sb.ca, token=o_token) as client:
        snap = client.trust()
    roles = {d.device_id: d.role for d in snap.devices}
    assert roles[load_profile(officer).device_id] == "officer"
    assert roles[load_profile(trader).device_id] == "trader"
    # an officer's token cannot lodge a declaration (not even a genuine trader's)
    env = _export(trader, _seal_one(trader, 51), tmp / "decl.json")
    with SingleWindowClient(sb.url, ca_pem_path=sb.ca, token=o_token) as client:
        res = client.submit([env], "officer-tries").results[0]
    assert res.status == "rejected" and res.errors[0].code == "CERT_NOT_OWNED"
    assert sb.stats()["declarations"] == 0


def test_two_officers_offline_the_later_decision_is_flagged_for_its_officer(world):
    sb, trader, officer, tmp = world
    second = tmp / "officer2"
    _officer(second, sb, OFFICER2)
    decl_id = _seal_one(trader, 41)
    _export(trader, decl_id, tmp / "env.json")
    sb.stop()
    ok(comptoir(officer, "decide", str(tmp / "env.json"), "--outcome", "release"))
    ok(comptoir(second, "decide", str(tmp / "env.json"), "--outcome", "refuse",
                "--reason", "goods do not match the description"))
    sb.start()
    ok(comptoir(officer, "sync", "--once"))
    ok(comptoir(second, "sync", "--once"))
    assert sb.stats()["decisions_pending"] == 2  # both wait for the declaration
    ok(comptoir(trader, "sync", "--once"))  # it arrives: the first applies, the second conflicts
    stats = sb.stats()
    assert (stats["decisions"], stats["decisions_applied"], stats["decisions_flagged"]) == (2, 1, 1)
    assert json.loads(ok(comptoir(trader, "show", decl_id, "--json")).stdout)["status"] \
        == "released"
    got = json.loads(ok(comptoir(trader, "decisions", "--id", decl_id, "--json")).stdout)
    assert sorted((g["officer_id"], g["conflict"]) for g in got) == [
        (OFFICER, False), (OFFICER2, True)]
    ok(comptoir(second, "sync", "--once"))  # the flag reaches the second officer's feed
    (rec,) = _decisions(second)
    assert rec["outcome"] == "refuse" and rec["flags"] == ["DECISION_CONFLICT"]
    (first,) = _decisions(officer)
    assert first["flags"] == []
