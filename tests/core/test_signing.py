"""JWS: the RFC examples, tampering, alg none, algorithm confusion, crit, size bounds."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from client.seal.jws import (
    MAX_HEADER_BYTES,
    SignatureError,
    b64u_decode,
    b64u_encode,
    jwk_from_private_key,
    jwk_thumbprint,
    public_jwk,
    sign_compact,
    sign_flattened,
    verify_compact,
    verify_compact_header,
    verify_flattened,
)

# RFC 8037 appendix A.1 (Ed25519 private key) and A.4 (the JWS of "Example of Ed25519 signing").
RFC8037_JWK = {
    "kty": "OKP",
    "crv": "Ed25519",
    "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
}
RFC8037_PAYLOAD = b"Example of Ed25519 signing"
RFC8037_TOKEN = (
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)
# RFC 8037 A.3: the thumbprint of that key.
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"

# RFC 7515 appendix A.3 (ES256).
RFC7515_A3_JWK = {
    "kty": "EC",
    "crv": "P-256",
    "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
    "d": "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI",
}
RFC7515_A3_TOKEN = (
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
)
RFC7515_A3_PAYLOAD = b'{"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}'


def _forge(header: dict, payload: bytes, sig: bytes = b"") -> str:
    return ".".join(
        [b64u_encode(json.dumps(header).encode()), b64u_encode(payload), b64u_encode(sig)]
    )


def test_rfc8037_a4_exact_token() -> None:
    token = sign_compact(RFC8037_PAYLOAD, {**RFC8037_JWK, "alg": "EdDSA"})
    assert token == RFC8037_TOKEN
    assert verify_compact(RFC8037_TOKEN, public_jwk(RFC8037_JWK)) == RFC8037_PAYLOAD


def test_rfc8037_thumbprint() -> None:
    assert jwk_thumbprint(RFC8037_JWK) == RFC8037_THUMBPRINT


def test_ed25519_signs_with_fully_specified_name_by_default() -> None:
    token = sign_compact(RFC8037_PAYLOAD, RFC8037_JWK)
    header, payload = verify_compact_header(token, public_jwk(RFC8037_JWK))
    assert header == {"alg": "Ed25519"}
    assert payload == RFC8037_PAYLOAD
    # A different header, so a different signature than the RFC's EdDSA token.
    assert token.split(".")[2] != RFC8037_TOKEN.split(".")[2]


def test_rfc7515_a3_verifies() -> None:
    assert verify_compact(RFC7515_A3_TOKEN, public_jwk(RFC7515_A3_JWK)) == RFC7515_A3_PAYLOAD


def test_es256_round_trip_and_raw_signature() -> None:
    token = sign_compact(b"hello", RFC7515_A3_JWK)
    header_b64, _, sig_b64 = token.split(".")
    assert json.loads(b64u_decode(header_b64)) == {"alg": "ES256"}
    assert len(b64u_decode(sig_b64)) == 64  # raw r||s, not DER
    assert verify_compact(token, public_jwk(RFC7515_A3_JWK)) == b"hello"


def test_tampered_tokens_refused() -> None:
    pub = public_jwk(RFC8037_JWK)
    for i in range(len(RFC8037_TOKEN)):
        ch = RFC8037_TOKEN[i]
        if ch == ".":
            continue
        for repl in ("A", "B", "-", "g"):
            if repl == ch:
                continue
            bad = RFC8037_TOKEN[:i] + repl + RFC8037_TOKEN[i + 1 :]
            with pytest.raises(SignatureError):
                verify_compact(bad, pub)
            break


def test_non_canonical_base64_refused() -> None:
    # 'g' ends the signature: the last char carries 2 unused bits; 'h' decodes to the same
    # bytes in a lenient decoder.
    sig = RFC8037_TOKEN.rsplit(".", 1)[1]
    assert sig.endswith("g")
    bad = RFC8037_TOKEN[:-1] + "h"
    with pytest.raises(SignatureError) as info:
        verify_compact(bad, public_jwk(RFC8037_JWK))
    assert info.value.code == "signing.malformed"
    for text in ("ab=", "a+b/", "a b", "a"):
        with pytest.raises(SignatureError):
            b64u_decode(text)


def test_alg_none_refused() -> None:
    token = _forge({"alg": "none"}, b"x")
    for key in (public_jwk(RFC8037_JWK), public_jwk(RFC7515_A3_JWK)):
        with pytest.raises(SignatureError) as info:
            verify_compact(token, key)
        assert info.value.code == "signing.alg_refused"
    with pytest.raises(SignatureError):
        sign_compact(b"x", {**RFC7515_A3_JWK, "alg": "none"})


def test_hs256_with_public_key_as_secret_refused() -> None:
    pub = public_jwk(RFC7515_A3_JWK)
    secret = json.dumps(pub).encode()
    head = b64u_encode(b'{"alg":"HS256"}') + "." + b64u_encode(b"forged")
    mac = hmac.new(secret, head.encode(), hashlib.sha256).digest()
    with pytest.raises(SignatureError) as info:
        verify_compact(head + "." + b64u_encode(mac), pub)
    assert info.value.code == "signing.alg_refused"


def test_es256_token_against_ed25519_key_refused() -> None:
    es_token = sign_compact(b"x", RFC7515_A3_JWK)
    with pytest.raises(SignatureError) as info:
        verify_compact(es_token, public_jwk(RFC8037_JWK))
    assert info.value.code == "signing.alg_refused"
    ed_token = sign_compact(b"x", RFC8037_JWK)
    with pytest.raises(SignatureError):
        verify_compact(ed_token, public_jwk(RFC7515_A3_JWK))


def test_jwk_alg_pins_and_mismatch_refused() -> None:
    with pytest.raises(SignatureError):
        sign_compact(b"x", {**RFC8037_JWK, "alg": "ES256"})
    token = sign_compact(b"x", RFC7515_A3_JWK)
    with pytest.raises(SignatureError):
        verify_compact(token, {**public_jwk(RFC7515_A3_JWK), "alg": "ES384"})
    # EdDSA and Ed25519 name the same algorithm for an Ed25519 key.
    assert verify_compact(RFC8037_TOKEN, {**public_jwk(RFC8037_JWK), "alg": "Ed25519"}) == (
        RFC8037_PAYLOAD
    )


def test_crit_honoured() -> None:
    key = RFC7515_A3_JWK
    pub = public_jwk(key)
    env = sign_flattened(b"p", {"crit": ["exp2"], "exp2": 1}, key)
    with pytest.raises(SignatureError) as info:
        verify_flattened(env, pub, set())
    assert info.value.code == "signing.crit_unsupported"
    header, payload = verify_flattened(env, pub, {"exp2"})
    assert header["exp2"] == 1 and payload == b"p"
    # crit naming an absent parameter, a registered one, or not a list
    for protected in (
        {"crit": ["zz"]},
        {"crit": ["kid"], "kid": "a"},
        {"crit": "exp2"},
        {"crit": []},
    ):
        env = sign_flattened(b"p", protected, key)
        with pytest.raises(SignatureError):
            verify_flattened(env, pub, {"zz", "kid", "exp2"})


def test_b64_false_refused() -> None:
    env = sign_flattened(b"p", {"b64": False}, RFC7515_A3_JWK)
    with pytest.raises(SignatureError):
        verify_flattened(env, public_jwk(RFC7515_A3_JWK), set())


def test_size_bounds() -> None:
    pub = public_jwk(RFC7515_A3_JWK)
    big = sign_compact(b"x", RFC7515_A3_JWK, {"pad": "a" * MAX_HEADER_BYTES})
    with pytest.raises(SignatureError) as info:
        verify_compact(big, pub)
    assert info.value.code == "signing.header_too_large"
    with pytest.raises(SignatureError) as info:
        verify_compact("a" * (16 * 1024 * 1024 + 1), pub)
    assert info.value.code == "signing.token_too_large"


def test_duplicate_header_members_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = jwk_from_private_key(key)
    head = b64u_encode(b'{"alg":"ES256","alg":"ES256"}')
    token = sign_compact(b"x", jwk)
    forged = head + "." + token.split(".", 1)[1]
    with pytest.raises(SignatureError):
        verify_compact(forged, public_jwk(jwk))


def test_flattened_round_trip_and_structure() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    jwk = jwk_from_private_key(key)
    assert jwk["alg"] == "Ed25519"
    env = sign_flattened(b'{"a":1}', {"typ": "t"}, jwk)
    assert set(env) == {"protected", "payload", "signature"}
    assert all("=" not in v for v in env.values())
    header, payload = verify_flattened(env, public_jwk(jwk), set())
    assert header == {"typ": "t", "alg": "Ed25519"} and payload == b'{"a":1}'
    for bad in (
        {**env, "header": {}},
        {"protected": env["protected"]},
        [env],
        {**env, "payload": 5},
    ):
        with pytest.raises(SignatureError):
            verify_flattened(bad, public_jwk(jwk), set())  # type: ignore[arg-type]


def test_malformed_inputs_are_typed_errors() -> None:
    pub = public_jwk(RFC7515_A3_JWK)
    for token in ("", "a.b", "a.b.c.d", "!!!.a.b", _forge({"alg": "ES256"}, b"x")[:-3] + "..."):
        with pytest.raises(SignatureError) as info:
            verify_compact(token, pub)
        assert info.value.exit_code == 2
    not_json = b64u_encode(b"[1]") + ".eA." + b64u_encode(b"s" * 64)
    with pytest.raises(SignatureError):
        verify_compact(not_json, pub)
    with pytest.raises(SignatureError):
        verify_compact(RFC7515_A3_TOKEN, {"kty": "oct", "k": base64.b64encode(b"k").decode()})


def test_compact_crit_and_extra_header() -> None:
    token = sign_compact(b"r", RFC7515_A3_JWK, {"typ": "x+jws", "crit": ["rcv"], "rcv": 1})
    pub = public_jwk(RFC7515_A3_JWK)
    with pytest.raises(SignatureError) as info:
        verify_compact(token, pub)
    assert info.value.code == "signing.crit_unsupported"
    header, payload = verify_compact_header(token, pub, understood_crit={"rcv"})
    assert header == {"alg": "ES256", "typ": "x+jws", "crit": ["rcv"], "rcv": 1}
    # The extra header cannot override the pinned algorithm.
    token = sign_compact(b"r", RFC7515_A3_JWK, {"alg": "none"})
    assert verify_compact_header(token, pub)[0]["alg"] == "ES256"


def test_private_members_never_in_public_jwk() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = jwk_from_private_key(key)
    assert "d" in jwk and "d" not in public_jwk(jwk)
    assert jwk_thumbprint(jwk) == jwk_thumbprint(public_jwk(jwk))
    # A private JWK whose d does not match x is refused.
    other = jwk_from_private_key(ed25519.Ed25519PrivateKey.generate())
    mixed = {**RFC8037_JWK, "d": other["d"]}
    with pytest.raises(SignatureError) as info:
        sign_compact(b"x", mixed)
    assert info.value.code == "signing.key_invalid"
