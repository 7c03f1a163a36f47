"""#12: which signatures an older build made are found, and what a migration re-seal says."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from client.seal.canonical import canonicalize
from client.seal.envelope import GENESIS, seal_envelope
from client.seal.jws import P256_ORDER, b64u_decode, b64u_encode, jwk_from_private_key
from client.seal.reseal import is_high_s

PAYLOAD = canonicalize({"id": "D1", "version": 1})
X5C = ["AA=="]  # sealing does not parse the chain; verification is not under test here


def _seal(jwk: dict[str, str], **kw: object) -> dict[str, str]:
    args: dict = dict(kind="declaration", declaration_id="D1", version=1, device_id="dev-1",
                      seq=1, prev=GENESIS)
    args.update(kw)
    return seal_envelope(PAYLOAD, jwk, X5C, **args)


def _twin(env: dict[str, str]) -> dict[str, str]:
    sig = b64u_decode(env["signature"])
    s = int.from_bytes(sig[32:], "big")
    return dict(env, signature=b64u_encode(sig[:32] + (P256_ORDER - s).to_bytes(32, "big")))


def test_an_es256_high_s_twin_is_found_and_the_low_s_original_is_not() -> None:
    jwk = jwk_from_private_key(ec.generate_private_key(ec.SECP256R1()))
    for _ in range(20):
        env = _seal(jwk)
        assert not is_high_s(env["protected"], env["signature"])
        twin = _twin(env)
        assert is_high_s(twin["protected"], twin["signature"])


def test_an_ed25519_signature_is_never_taken_for_a_high_s() -> None:
    jwk = jwk_from_private_key(ed25519.Ed25519PrivateKey.generate())
    upper = 0
    for i in range(40):
        env = _seal(jwk, seq=i + 1)
        upper += int.from_bytes(b64u_decode(env["signature"])[32:], "big") > P256_ORDER // 2
        assert not is_high_s(env["protected"], env["signature"])
    assert upper > 0  # some of these bytes did read as a "high S": the header decided


@pytest.mark.parametrize(("protected", "signature"), [("", ""), ("!!", "AA"), ("e30", "AA")])
def test_malformed_envelopes_are_left_to_the_single_window(protected: str,
                                                           signature: str) -> None:
    assert not is_high_s(protected, signature)


def test_sup_is_signed_into_the_protected_header() -> None:
    import json

    jwk = jwk_from_private_key(ec.generate_private_key(ec.SECP256R1()))
    header = json.loads(b64u_decode(_seal(jwk, seq=5, superseded_from=3,
                                          original=("a" * 64, "t"))["protected"]))
    assert (header["sup"], header["orig"]) == (3, "a" * 64)
    assert "sup" not in json.loads(b64u_decode(_seal(jwk, seq=5)["protected"]))
