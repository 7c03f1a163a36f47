"""Offline verification against the single window's trust material (#8), in process.

Real certificates from the sandbox's own CA code (CN = trader/officer id, OU = role),
real ES256 envelopes; no network.  Each refusal names its reason.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import random

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from client.common.i18n import set_language
from client.declaration.samples import sample_declaration
from client.officer.decisions import build_decision
from client.officer.verify import describe_content, verify_input, verify_with_trust
from client.seal.canonical import canonicalize
from client.seal.envelope import GENESIS, envelope_hash, seal_envelope
from client.seal.jws import jwk_from_private_key
from client.seal.sealing import fallback_qr_payload
from client.seal.trust import from_wire, load_trust, save_trust
from sync.sandbox.ca import SandboxPKI, cert_serial

TRADER = "GB123456789000"
OFFICER = "OFFICER-0001"
NOW = dt.datetime.now(dt.UTC)


def _csr(key: ec.EllipticCurvePrivateKey) -> str:
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM).decode()


class Signer:
    def __init__(self, pki: SandboxPKI, who: str, role: str, device: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert, _ = pki.issue_leaf(_csr(self.key), trader_id=who, role=role, device_id=device)
        self.device = device
        self.x5c = [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()
                    for c in (self.cert, pki.ca_cert)]
        self.jwk = jwk_from_private_key(self.key)
        self.seq, self.prev = 0, GENESIS

    def seal(self, doc: dict, *, kind: str = "declaration", seq: int | None = None,
             prev: str | None = None) -> dict:
        seq = seq or self.seq + 1
        env = seal_envelope(canonicalize(doc), self.jwk, self.x5c, kind=kind,
                            declaration_id=doc["id"], version=doc.get("version", 1),
                            device_id=self.device, seq=seq, prev=prev or self.prev)
        self.seq, self.prev = seq, envelope_hash(env)
        return env


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    set_language("en")
    pki = SandboxPKI(tmp_path_factory.mktemp("sw")).ensure()
    other = SandboxPKI(tmp_path_factory.mktemp("rogue")).ensure()
    trader = Signer(pki, TRADER, "trader", "dev-trader-1")
    rogue = Signer(other, TRADER, "trader", "dev-trader-1")
    officer = Signer(pki, OFFICER, "officer", "dev-officer-1")
    rng = random.Random(8)
    lodged = [trader.seal(sample_declaration(rng).to_json_dict()) for _ in range(3)]
    yield {"pki": pki, "trader": trader, "rogue": rogue, "officer": officer, "lodged": lodged,
           "rng": rng}
    set_language(None)


def material(world, *, revoked=(), fetched=NOW) -> tuple[dict, str]:
    t, o = world["trader"], world["officer"]
    lodged = world["lodged"]
    data = {
        "generated_at": fetched.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ca_pems": [world["pki"].ca_pem],
        "revoked": [{"serial": s, "revoked_at": "2026-01-02T00:00:00Z"} for s in revoked],
        "devices": [
            {"trader_id": TRADER, "device_id": t.device, "role": "trader",
             "serials": [cert_serial(t.cert)], "last_seq": 3,
             "last_hash": envelope_hash(lodged[-1]),
             "recent_hashes": {envelope_hash(e): i + 1 for i, e in enumerate(lodged)}},
            {"trader_id": OFFICER, "device_id": o.device, "role": "officer",
             "serials": [cert_serial(o.cert)], "last_seq": 0, "last_hash": GENESIS,
             "recent_hashes": {}},
        ]}
    return data, fetched.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def env_did(env: dict) -> str:
    return json.loads(base64.urlsafe_b64decode(env["protected"] + "=="))["did"]


def tm_of(world, **kw):
    data, fetched = material(world, **kw)
    return from_wire(data, fetched)


def new_decl(world) -> dict:
    return world["trader"].seal(sample_declaration(world["rng"], n_items=2).to_json_dict())


def test_valid_not_yet_lodged_with_content_in_words(world):
    env = new_decl(world)
    out = verify_with_trust(None, env, tm_of(world))
    text = "\n".join(m.render() for m in out.lines)
    assert out.ok and out.status == "valid" and out.lodged == "not_yet_lodged", text
    assert text.startswith("VALID: signature, certificate and chain check out")
    assert "Not yet lodged: #4 follows the last position known" in text
    doc = out.verified.document
    assert f"LRN {doc['lrn']}" in text
    for item in doc["goods_items"]:
        assert item["commodity_code"] in text
    assert "Totals: invoice" in text and doc["declarant"]["id"] in text


def test_already_lodged_is_recognised(world):
    out = verify_with_trust(None, world["lodged"][1], tm_of(world))
    assert out.ok and out.lodged == "already_lodged"
    assert "Already lodged: envelope #2" in out.lines[2].render()


def test_stale_trust_data_is_said_in_the_outcome(world):
    env = new_decl(world)
    old = NOW - dt.timedelta(days=3, hours=1)
    out = verify_with_trust(None, env, tm_of(world, fetched=old))
    assert out.ok and out.status == "valid_stale" and out.age_days == 3
    assert out.lines[0].render().startswith("VALID, but the trust data is 3 day(s) old")


def test_tampered_envelope_is_refused(world):
    env = dict(new_decl(world))
    doc = json.loads(base64.urlsafe_b64decode(env["payload"] + "=="))
    doc["invoice_total"] = 1.0
    env["payload"] = base64.urlsafe_b64encode(canonicalize(doc)).rstrip(b"=").decode()
    out = verify_with_trust(None, env, tm_of(world))
    assert not out.ok and out.status == "invalid"
    assert "signature" in out.reason.render().lower()
    assert out.lines[0].render().startswith("INVALID:")


def test_revoked_certificate_is_refused_as_of_the_trust_date(world):
    env = new_decl(world)
    serial = cert_serial(world["trader"].cert)
    assert verify_with_trust(None, env, tm_of(world)).ok
    out = verify_with_trust(None, env, tm_of(world, revoked=[serial]))
    assert not out.ok
    assert f"serial {serial}) was revoked on 2026-01-02T00:00:00Z" in out.reason.render()


def test_unknown_ca_is_refused(world):
    rogue = world["rogue"]
    env = rogue.seal(sample_declaration(world["rng"]).to_json_dict(), seq=9, prev=GENESIS)
    out = verify_with_trust(None, env, tm_of(world))
    assert not out.ok
    assert "not end at a trusted authority" in out.reason.render()


def test_device_chain_jumping_back_is_refused(world):
    t = world["trader"]
    # a second, different envelope at position 2 (already taken by a lodged one)
    env = seal_envelope(canonicalize(sample_declaration(world["rng"]).to_json_dict()), t.jwk,
                        t.x5c, kind="declaration", declaration_id="0190aaaa-0000-7000-8000-0000000000aa",
                        version=1, device_id=t.device, seq=2,
                        prev=envelope_hash(world["lodged"][0]))
    out = verify_with_trust(None, env, tm_of(world))
    assert not out.ok
    assert out.reason.render().startswith("The device chain jumps back")


def test_fork_at_the_next_position_is_refused(world):
    t = world["trader"]
    env = seal_envelope(canonicalize(sample_declaration(world["rng"]).to_json_dict()), t.jwk,
                        t.x5c, kind="declaration", declaration_id="0190aaaa-0000-7000-8000-0000000000ab",
                        version=1, device_id=t.device, seq=4, prev="1" * 64)
    out = verify_with_trust(None, env, tm_of(world))
    assert not out.ok and "forks" in out.reason.render()


def test_declaration_signed_by_an_officer_is_refused(world):
    o = world["officer"]
    doc = sample_declaration(world["rng"]).to_json_dict()
    env = o.seal(doc)
    out = verify_with_trust(None, env, tm_of(world))
    assert not out.ok and "officer certificate" in out.reason.render()


def test_decision_document_and_its_words(world):
    env = new_decl(world)
    v = verify_with_trust(None, env, tm_of(world)).verified
    with pytest.raises(Exception) as exc:
        build_decision(v, "hold", "  ", OFFICER)
    assert "needs a reason" in exc.value.render()
    doc = build_decision(v, "hold", "seal broken on container", OFFICER)
    assert doc["declaration_envelope_hash"] == v.hash and doc["declaration_version"] == 1
    sealed = world["officer"].seal(doc, kind="decision")
    out = verify_with_trust(None, sealed, tm_of(world))
    assert out.ok, out.lines
    words = " ".join(m.render() for m in describe_content("decision", doc))
    assert "hold" in words and "seal broken on container" in words and OFFICER in words


def test_trust_files_qr_payload_and_reference(world, tmp_path):
    data, fetched = material(world)
    save_trust(tmp_path, data, fetched)
    assert load_trust(tmp_path).devices["dev-trader-1"].last_seq == 3
    assert (tmp_path / "trust" / "ca.pem").read_text().startswith("-----BEGIN CERTIFICATE")
    env = new_decl(world)
    # the compact token (what a QR code carries when it fits) verifies like the file
    token = f"{env['protected']}.{env['payload']}.{env['signature']}"
    out = verify_input(tmp_path, token)
    assert out.ok and out.status == "valid"
    # with an enrolled chain in x5c a real declaration does not fit: the QR falls back
    # to the reference form, which says what it is
    qr = fallback_qr_payload(env)
    if qr.startswith("comptoir-ref:"):
        said = verify_input(tmp_path, qr)
        assert not said.ok and said.status == "reference_unknown"
        assert env_did(env) in said.lines[0].render()
    lodged = world["lodged"][0]
    did = env_did(lodged)
    ref = verify_input(tmp_path, f"comptoir-ref:{did}:{envelope_hash(lodged)}")
    assert ref.ok and ref.status == "reference_lodged"
    unknown = verify_input(tmp_path, f"comptoir-ref:{did}:{'a' * 64}")
    assert not unknown.ok
    assert "full envelope" in " ".join(m.render() for m in unknown.lines)
