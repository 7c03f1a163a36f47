"""The sealed envelope: round trips, every flipped byte detected, chains, journal links."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import random

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from client.common.i18n import set_language
from client.seal.canonical import canonicalize
from client.seal.envelope import (
    GENESIS,
    EnvelopeError,
    check_chain_link,
    describe,
    envelope_hash,
    seal_envelope,
    sign_receipt,
    verify_envelope,
    verify_receipt,
)
from client.seal.jws import b64u_decode, b64u_encode, jwk_from_private_key, public_jwk

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
DOC = {
    "lrn": "LRN-2026-000123",
    "type": "IM",
    "declarant": {"name": "Société Générale d'Import", "eori": "FR123456789000"},
    "items": [{"seq": 1, "hs": "090111", "description": "Café vert", "net_mass": "1250.5"}],
}
PAYLOAD = canonicalize(DOC)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    key,
    subject: str,
    issuer_key=None,
    issuer: str | None = None,
    ca: bool = False,
    serial: int | None = None,
    not_before: dt.datetime | None = None,
    days: int = 365,
) -> x509.Certificate:
    issuer_key = issuer_key or key
    algo = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    start = not_before or NOW - dt.timedelta(days=400 if ca else 1)
    days = 3650 if ca else days
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer or subject))
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, algo)
    )


def _b64(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


@pytest.fixture(scope="module")
def pki():
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _cert(root_key, "Test Customs Root CA", ca=True)
    inter_key = ec.generate_private_key(ec.SECP256R1())
    inter = _cert(
        inter_key, "Test Customs Issuing CA", root_key, root.subject.rfc4514_string()[3:], ca=True
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _cert(
        leaf_key, "Jeanne Dupont, declarant", inter_key, "Test Customs Issuing CA", serial=4242
    )
    ed_key = ed25519.Ed25519PrivateKey.generate()
    ed_leaf = _cert(ed_key, "Ed Declarant", inter_key, "Test Customs Issuing CA")
    return {
        "root": root,
        "root_key": root_key,
        "inter": inter,
        "inter_key": inter_key,
        "leaf": leaf,
        "leaf_jwk": jwk_from_private_key(leaf_key),
        "x5c": [_b64(leaf), _b64(inter)],
        "ed_jwk": jwk_from_private_key(ed_key),
        "ed_x5c": [_b64(ed_leaf), _b64(inter)],
    }


def _seal(jwk, x5c, seq=1, prev=GENESIS, payload=PAYLOAD, **kw):
    args = dict(
        kind="declaration",
        declaration_id="0192f3a4-0000-7000-8000-000000000001",
        version=1,
        device_id="dev-A",
        seq=seq,
        prev=prev,
    )
    args.update(kw)
    return seal_envelope(payload, jwk, x5c, **args)


def _header(env) -> dict:
    return json.loads(b64u_decode(env["protected"]))


def test_es256_round_trip_trusted(pki) -> None:
    env = _seal(pki["leaf_jwk"], pki["x5c"], sig_time=NOW)
    v = verify_envelope(env, trust_roots=[pki["root"]])
    assert v.trusted
    assert v.document == DOC and v.payload == PAYLOAD
    assert v.signer_subject == "Jeanne Dupont, declarant"
    assert v.sig_time == NOW
    assert v.hash == envelope_hash(env)
    h = v.header
    assert h["alg"] == "ES256" and h["typ"] == "comptoir-envelope+jws"
    assert h["crit"] == ["sigT", "knd", "did", "ver", "dev", "seq", "prev"]
    assert (h["knd"], h["ver"], h["dev"], h["seq"], h["prev"]) == (
        "declaration",
        1,
        "dev-A",
        1,
        GENESIS,
    )
    assert len(b64u_decode(env["signature"])) == 64
    text = describe(v).render("en")
    assert text.startswith("Signed by Jeanne Dupont, declarant (")
    assert "declaration 0192f3a4-0000-7000-8000-000000000001 v1, device dev-A #1" in text
    set_language("fr")  # nested messages render in the process language
    try:
        assert "Signé par" in describe(v).render() and " : déclaration " in describe(v).render()
    finally:
        set_language(None)


def test_ed25519_round_trip(pki) -> None:
    env = _seal(pki["ed_jwk"], pki["ed_x5c"], kind="decision")
    v = verify_envelope(env, trust_roots=[pki["root"]])
    assert v.header["alg"] == "Ed25519" and v.kind == "decision" and v.trusted


def test_self_signed_accepted_untrusted(pki) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _cert(key, "Sandbox Trader")
    env = _seal(jwk_from_private_key(key), [_b64(cert)])
    v = verify_envelope(env)
    assert not v.trusted
    with pytest.raises(EnvelopeError) as info:
        verify_envelope(env, trust_roots=[pki["root"]])
    assert info.value.code == "envelope.untrusted_chain"


def test_envelope_hash_is_canonical_json_of_three_members(pki) -> None:
    env = _seal(pki["leaf_jwk"], pki["x5c"])
    import hashlib

    expected = hashlib.sha256(
        (
            '{{"payload":"{}","protected":"{}","signature":"{}"}}'.format(
                env["payload"], env["protected"], env["signature"]
            )
        ).encode()
    ).hexdigest()
    assert envelope_hash(env) == expected
    assert envelope_hash({**env, "extra": 1}) == expected


@pytest.mark.parametrize("odd", ["a+b", "a/b=", "é", 'a"b', "a\\b", "", "a\u2028b", "a b"])
def test_envelope_hash_of_members_outside_base64url_is_still_their_canonical_json(
        odd: str) -> None:
    """The quick form (base64url text needs no escaping) is taken only where it is the
    canonical JSON; any other member goes through the canonicalisation."""
    for env in ({"protected": odd, "payload": "eyJ9", "signature": "AA"},
                {"protected": "eyJ9", "payload": odd, "signature": odd}):
        assert envelope_hash(env) == hashlib.sha256(canonicalize(env)).hexdigest()


def test_every_flipped_byte_detected(pki) -> None:
    for jwk, x5c in ((pki["leaf_jwk"], pki["x5c"]), (pki["ed_jwk"], pki["ed_x5c"])):
        env = _seal(jwk, x5c)
        text = json.dumps(env)
        rng = random.Random(1234)
        # Every position of the payload and signature and of the start of the header, plus a
        # random sample of the (long, x5c-carrying) rest of the header.
        starts = {k: text.index(f'"{k}": "') + len(k) + 5 for k in env}
        positions = set(range(0, 40))
        positions |= set(range(starts["payload"], starts["payload"] + len(env["payload"]) + 1))
        positions |= set(
            range(starts["signature"], starts["signature"] + len(env["signature"]) + 1)
        )
        positions |= set(range(starts["protected"], starts["protected"] + 200))
        positions |= set(rng.sample(range(len(text)), 300))
        positions = sorted(p for p in positions if p < len(text))
        assert len(positions) > 400
        accepted = []
        for pos in positions:
            original = text[pos]
            for repl in (chr(ord(original) ^ 1), chr(ord(original) ^ 0x20)):
                bad = text[:pos] + repl + text[pos + 1 :]
                try:
                    parsed = json.loads(bad)
                except ValueError:
                    continue
                if parsed == env:  # e.g. a flip inside JSON whitespace between members
                    continue
                try:
                    verify_envelope(parsed, trust_roots=[pki["root"]])
                except EnvelopeError:
                    continue
                accepted.append((pos, repl))
        assert accepted == []


def test_header_fields_checked(pki) -> None:
    key = pki["leaf_jwk"]
    with pytest.raises(EnvelopeError):
        _seal(key, pki["x5c"], seq=0)
    with pytest.raises(EnvelopeError):
        _seal(key, pki["x5c"], prev="abc")
    with pytest.raises(EnvelopeError):
        _seal(key, pki["x5c"], kind="other")
    # Re-sign a header with a bad field with the right key: verification names the field.
    from client.seal.jws import sign_flattened

    good = _header(_seal(key, pki["x5c"]))
    for field, value in (
        ("typ", "JWT"),
        ("seq", "1"),
        ("ver", True),
        ("prev", "0" * 63),
        ("kid", "x"),
        ("sigT", "2026-01-01 00:00:00"),
        ("crit", ["sigT"]),
    ):
        env = sign_flattened(PAYLOAD, {**good, field: value}, key)
        with pytest.raises(EnvelopeError) as info:
            verify_envelope(env)
        assert info.value.code == "envelope.header_invalid", field
    # An extra critical parameter nobody understands is refused.
    env = sign_flattened(PAYLOAD, {**good, "zzz": 1, "crit": good["crit"] + ["zzz"]}, key)
    with pytest.raises(EnvelopeError):
        verify_envelope(env)


def test_alg_pinned_to_certificate(pki) -> None:
    # An Ed25519 key's envelope claiming the ES256 leaf certificate: kid/alg/signature refuse it.
    env = _seal(pki["ed_jwk"], pki["x5c"])
    with pytest.raises(EnvelopeError) as info:
        verify_envelope(env)
    assert info.value.code in ("envelope.alg_refused", "envelope.header_invalid")
    from client.seal.jws import sign_flattened

    good = _header(_seal(pki["leaf_jwk"], pki["x5c"]))
    for alg in ("none", "HS256", "EdDSA", "ES384"):
        forged = {
            "protected": b64u_encode(json.dumps({**good, "alg": alg}).encode()),
            "payload": b64u_encode(PAYLOAD),
            "signature": "",
        }
        with pytest.raises(EnvelopeError) as info:
            verify_envelope(forged)
        assert info.value.code in ("envelope.alg_refused", "envelope.malformed")
    env = sign_flattened(PAYLOAD, good, pki["leaf_jwk"])
    assert verify_envelope(env).signer_kid == good["kid"]


def test_not_canonical_payload_refused(pki) -> None:
    env = _seal(pki["leaf_jwk"], pki["x5c"], payload=json.dumps(DOC).encode())
    with pytest.raises(EnvelopeError) as info:
        verify_envelope(env)
    assert info.value.code == "envelope.not_canonical"


def test_broken_chain_refused(pki) -> None:
    other_key = ec.generate_private_key(ec.SECP256R1())
    other_inter = _cert(other_key, "Test Customs Issuing CA", ca=True)
    env = _seal(pki["leaf_jwk"], [pki["x5c"][0], _b64(other_inter)])
    with pytest.raises(EnvelopeError) as info:
        verify_envelope(env)
    assert info.value.code == "envelope.untrusted_chain"
    # A leaf used as an issuer (not a CA) is refused too.
    env = _seal(pki["leaf_jwk"], [pki["x5c"][0], pki["x5c"][0]])
    with pytest.raises(EnvelopeError):
        verify_envelope(env)


def test_expired_and_future_and_revoked(pki) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    old = _cert(
        key,
        "Old",
        pki["inter_key"],
        "Test Customs Issuing CA",
        not_before=NOW - dt.timedelta(days=30),
        days=10,
    )
    jwk = jwk_from_private_key(key)
    x5c = [_b64(old), pki["x5c"][1]]
    with pytest.raises(EnvelopeError) as info:
        verify_envelope(_seal(jwk, x5c, sig_time=NOW), trust_roots=[pki["root"]])
    assert info.value.code == "envelope.expired"
    # Signed while valid: still good later (what counts is validity at sigT).
    v = verify_envelope(
        _seal(jwk, x5c, sig_time=NOW - dt.timedelta(days=25)), trust_roots=[pki["root"]]
    )
    assert v.trusted
    with pytest.raises(EnvelopeError) as info:
        verify_envelope(_seal(pki["leaf_jwk"], pki["x5c"], sig_time=NOW + dt.timedelta(days=2)))
    assert info.value.code == "envelope.sig_time_future"
    env = _seal(pki["leaf_jwk"], pki["x5c"], sig_time=NOW + dt.timedelta(days=2))
    assert verify_envelope(env, at=NOW + dt.timedelta(days=2)).sig_time > NOW
    with pytest.raises(EnvelopeError) as info:
        verify_envelope(_seal(pki["leaf_jwk"], pki["x5c"]), revoked_serials={4242})
    assert info.value.code == "envelope.revoked"
    assert (
        verify_envelope(_seal(pki["leaf_jwk"], pki["x5c"]), revoked_serials={1, 2}).trusted is False
    )


def test_structure_and_size(pki) -> None:
    env = _seal(pki["leaf_jwk"], pki["x5c"])
    for bad in (
        [],
        {},
        {**env, "header": {"kid": "x"}},
        {"payload": env["payload"]},
        {**env, "signature": None},
    ):
        with pytest.raises(EnvelopeError) as info:
            verify_envelope(bad)  # type: ignore[arg-type]
        assert info.value.code == "envelope.malformed"
    huge = {**env, "payload": "A" * (16 * 1024 * 1024)}
    with pytest.raises(EnvelopeError) as info:
        verify_envelope(huge)
    assert info.value.code == "envelope.too_large"


def test_check_chain_link(pki) -> None:
    e1 = _seal(pki["leaf_jwk"], pki["x5c"], seq=1, prev=GENESIS)
    h1 = envelope_hash(e1)
    e2 = _seal(pki["leaf_jwk"], pki["x5c"], seq=2, prev=h1)
    e3 = _seal(pki["leaf_jwk"], pki["x5c"], seq=3, prev=envelope_hash(e2))
    check_chain_link(None, None, _header(e1))
    check_chain_link(h1, 1, _header(e2))
    check_chain_link(envelope_hash(e2), 2, _header(e3))
    # Removing e2 from the middle: e3 no longer links to e1.
    with pytest.raises(EnvelopeError) as info:
        check_chain_link(h1, 1, _header(e3))
    assert info.value.code == "envelope.chain_seq"
    # Right seq, wrong predecessor (a substituted envelope).
    forged = _seal(pki["leaf_jwk"], pki["x5c"], seq=2, prev="f" * 64)
    with pytest.raises(EnvelopeError) as info:
        check_chain_link(h1, 1, _header(forged))
    assert info.value.code == "envelope.chain_prev"
    with pytest.raises(EnvelopeError):
        check_chain_link(None, None, _header(e2))


def test_receipts(pki) -> None:
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _cert(server_key, "Sandbox Single Window")
    jwk = jwk_from_private_key(server_key)
    receipt = {
        "declaration_id": "d1",
        "envelope_hash": "a" * 64,
        "received_at": "2026-11-26T10:00:00Z",
        "mrn": "26FR0000000000001X",
    }
    token = sign_receipt(receipt, jwk)
    assert verify_receipt(token, public_jwk(jwk)) == receipt
    assert verify_receipt(token, server_cert) == receipt
    head, payload, sig = token.split(".")
    assert b64u_decode(payload) == canonicalize(receipt)
    forged = (
        head + "." + b64u_encode(canonicalize({**receipt, "mrn": "26FR0000000000002X"})) + "." + sig
    )
    with pytest.raises(EnvelopeError) as info:
        verify_receipt(forged, server_cert)
    assert info.value.code == "envelope.receipt_invalid"
    with pytest.raises(EnvelopeError):
        verify_receipt(token, pki["leaf"])  # another key
    # A compact JWS that is not a receipt (no typ) is refused.
    from client.seal.jws import sign_compact

    with pytest.raises(EnvelopeError):
        verify_receipt(sign_compact(canonicalize(receipt), jwk), server_cert)
