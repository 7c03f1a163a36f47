"""JWS (RFC 7515) signing and verification for declarations and receipts.

Built on ``cryptography`` directly: sealing must stay well under a millisecond of
signing, and the rules that matter for a legal signature are few and explicit here:

- the algorithm is pinned by the key type (EC P-256 -> ES256 only; OKP Ed25519 ->
  ``Ed25519`` per RFC 9864, with the older ``EdDSA`` name of RFC 8037 still verified);
  ``none``, HMAC and any other name are refused, so no algorithm confusion;
- ``crit`` is honoured: a critical parameter not understood by the caller is refused;
- the protected header and the token are size-bounded, base64url is strict (no padding,
  no stray characters, no non-canonical trailing bits) so that any altered byte is seen.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from client.common.b64 import Base64Error, b64u_encode
from client.common.b64 import b64u_decode as _b64u_decode
from client.common.i18n import ComptoirError

MAX_HEADER_BYTES = 64 * 1024  # encoded protected header
MAX_TOKEN_BYTES = 16 * 1024 * 1024  # a whole token or flattened envelope

ES256 = "ES256"
ED25519 = "Ed25519"  # RFC 9864 fully-specified name
EDDSA = "EdDSA"  # RFC 8037 polymorphic name, verified for interoperability

# Header parameters defined by RFC 7515 itself: they may not appear in "crit".
_REGISTERED = frozenset(
    {"alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit"}
)
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
# The order of P-256: a signature (r, s) and (r, n - s) both verify, so the signer always
# emits the low one and a single window can refuse the other (one content, one hash).
P256_ORDER = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


class SignatureError(ComptoirError):
    """A JWS could not be made or did not verify (message code says why)."""

    exit_code = 2


# --------------------------------------------------------------------------- base64url


def b64u_decode(text: Any, what: str = "value") -> bytes:
    """Strict base64url (:mod:`client.common.b64`), refused as a malformed JWS ``what``."""
    try:
        return _b64u_decode(text)
    except Base64Error as exc:
        raise SignatureError("signing.malformed", part=what) from exc


# --------------------------------------------------------------------------- keys and JWK


def _int_bytes(value: int, size: int) -> bytes:
    return value.to_bytes(size, "big")


def jwk_from_public_key(key: PublicKey) -> dict[str, str]:
    """The public JWK (RFC 7517/8037) of a P-256 or Ed25519 public key."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise SignatureError("signing.key_unsupported", kind=f"EC {key.curve.name}")
        nums = key.public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64u_encode(_int_bytes(nums.x, 32)),
            "y": b64u_encode(_int_bytes(nums.y, 32)),
        }
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64u_encode(raw)}
    raise SignatureError("signing.key_unsupported", kind=type(key).__name__)


def jwk_from_private_key(key: PrivateKey) -> dict[str, str]:
    """The private JWK of a P-256 or Ed25519 private key, ``alg`` set to its default."""
    jwk = jwk_from_public_key(key.public_key())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        jwk["d"] = b64u_encode(_int_bytes(key.private_numbers().private_value, 32))
        jwk["alg"] = ES256
    else:
        jwk["d"] = b64u_encode(
            key.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
        )
        jwk["alg"] = ED25519
    return jwk


_PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def public_jwk(jwk: dict[str, Any]) -> dict[str, Any]:
    """The JWK without its private members (safe to publish)."""
    return {k: v for k, v in jwk.items() if k not in _PRIVATE_MEMBERS}


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint, base64url: the key id (``kid``) used everywhere."""
    kty = jwk.get("kty")
    if kty == "EC":
        members = ("crv", "kty", "x", "y")
    elif kty == "OKP":
        members = ("crv", "kty", "x")
    else:
        raise SignatureError("signing.key_unsupported", kind=str(kty))
    try:
        required = {m: jwk[m] for m in members}
    except KeyError as exc:
        raise SignatureError("signing.key_invalid", reason=f"missing {exc.args[0]}") from exc
    data = json.dumps(required, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return b64u_encode(hashlib.sha256(data).digest())


def allowed_algs(key: PublicKey | PrivateKey) -> frozenset[str]:
    """The algorithm names a key may be used with: the pin that stops alg confusion."""
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        if isinstance(key.curve, ec.SECP256R1):
            return frozenset({ES256})
        return frozenset()
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return frozenset({ED25519, EDDSA})
    return frozenset()


_key_cache: dict[tuple[Any, ...], Any] = {}


def _cache_put(k: tuple[Any, ...], v: Any) -> Any:
    if len(_key_cache) > 256:
        _key_cache.clear()
    _key_cache[k] = v
    return v


def key_from_jwk(jwk: dict[str, Any], private: bool) -> PrivateKey | PublicKey:
    """A ``cryptography`` key object from a JWK (cached: parsing costs more than signing)."""
    if not isinstance(jwk, dict):
        raise SignatureError("signing.key_invalid", reason="not a JSON object")
    kty, crv = jwk.get("kty"), jwk.get("crv")
    ck = (private, kty, crv, jwk.get("x"), jwk.get("y"), jwk.get("d") if private else None)
    cached = _key_cache.get(ck)
    if cached is not None:
        return cached
    try:
        if kty == "EC" and crv == "P-256":
            x = int.from_bytes(b64u_decode(jwk.get("x"), "x"), "big")
            y = int.from_bytes(b64u_decode(jwk.get("y"), "y"), "big")
            pub = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1())
            if private:
                d = int.from_bytes(b64u_decode(jwk.get("d"), "d"), "big")
                key: Any = ec.EllipticCurvePrivateNumbers(d, pub).private_key()
            else:
                key = pub.public_key()
        elif kty == "OKP" and crv == "Ed25519":
            x_raw = b64u_decode(jwk.get("x"), "x")
            if private:
                key = ed25519.Ed25519PrivateKey.from_private_bytes(b64u_decode(jwk.get("d"), "d"))
                raw = key.public_key().public_bytes(
                    serialization.Encoding.Raw, serialization.PublicFormat.Raw
                )
                if raw != x_raw:
                    raise SignatureError("signing.key_invalid", reason="x does not match d")
            else:
                key = ed25519.Ed25519PublicKey.from_public_bytes(x_raw)
        else:
            raise SignatureError("signing.key_unsupported", kind=f"{kty} {crv}")
    except SignatureError:
        raise
    except (ValueError, TypeError) as exc:
        raise SignatureError("signing.key_invalid", reason=str(exc)) from exc
    return _cache_put(ck, key)


def signing_alg(jwk: dict[str, Any], key: PrivateKey | PublicKey) -> str:
    """The algorithm to sign with: the JWK's ``alg`` when present (checked), else the default."""
    allowed = allowed_algs(key)
    alg = jwk.get("alg")
    if alg is None:
        return ES256 if ES256 in allowed else ED25519
    if alg not in allowed:
        raise SignatureError("signing.alg_refused", alg=str(alg))
    return alg


def _verify_algs(jwk: dict[str, Any], key: PublicKey) -> frozenset[str]:
    allowed = allowed_algs(key)
    alg = jwk.get("alg")
    if alg is None:
        return allowed
    if alg not in allowed:
        raise SignatureError("signing.alg_refused", alg=str(alg))
    # Ed25519 and EdDSA name the same algorithm for an Ed25519 key.
    return allowed if alg in (ED25519, EDDSA) else frozenset({alg})


# --------------------------------------------------------------------------- raw sign/verify


def raw_sign(key: PrivateKey, alg: str, signing_input: bytes) -> bytes:
    """The JWS signature bytes (ES256: raw r||s, 64 bytes)."""
    if alg == ES256 and isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(signing_input, _ECDSA_SHA256))
        if s > P256_ORDER // 2:
            s = P256_ORDER - s
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if alg in (ED25519, EDDSA) and isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(signing_input)
    raise SignatureError("signing.alg_refused", alg=alg)


def raw_verify(key: PublicKey, alg: str, signing_input: bytes, signature: bytes) -> None:
    """Raise SignatureError unless ``signature`` is valid for ``alg`` and ``key``."""
    if alg not in allowed_algs(key):
        raise SignatureError("signing.alg_refused", alg=alg)
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            if len(signature) != 64:
                raise SignatureError("signing.bad_signature")
            der = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            key.verify(der, signing_input, _ECDSA_SHA256)
        else:
            key.verify(signature, signing_input)
    except InvalidSignature as exc:
        raise SignatureError("signing.bad_signature") from exc


# --------------------------------------------------------------------------- headers


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise SignatureError("signing.header_invalid", reason=f"duplicate member {k}")
        out[k] = v
    return out


def parse_json_object(data: bytes, what: str) -> dict[str, Any]:
    """A JSON object from UTF-8 bytes; duplicate member names refused (RFC 7515 §5.2)."""
    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except SignatureError:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise SignatureError("signing.malformed", part=what) from exc
    if not isinstance(value, dict):
        raise SignatureError("signing.malformed", part=what)
    return value


def decode_protected(encoded: Any) -> dict[str, Any]:
    """The protected header from its base64url form (size-bounded)."""
    if not isinstance(encoded, str):
        raise SignatureError("signing.malformed", part="protected")
    if len(encoded) > MAX_HEADER_BYTES:
        raise SignatureError("signing.header_too_large", limit=MAX_HEADER_BYTES)
    return parse_json_object(b64u_decode(encoded, "protected"), "protected")


def check_header(
    header: dict[str, Any], allowed: Iterable[str], understood_crit: Iterable[str] = ()
) -> str:
    """Check ``alg`` against the key's pin and honour ``crit``; returns the alg."""
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in allowed:
        raise SignatureError("signing.alg_refused", alg=str(alg))
    if "b64" in header and header["b64"] is not True:  # RFC 7797 unencoded payloads
        raise SignatureError("signing.crit_unsupported", param="b64")
    if "crit" in header:
        crit = header["crit"]
        if (
            not isinstance(crit, list)
            or not crit
            or not all(isinstance(c, str) for c in crit)
            or len(set(crit)) != len(crit)
        ):
            raise SignatureError("signing.header_invalid", reason="crit")
        understood = set(understood_crit)
        for name in crit:
            if name in _REGISTERED or name not in understood:
                raise SignatureError("signing.crit_unsupported", param=name)
            if name not in header:
                raise SignatureError("signing.header_invalid", reason=f"crit names absent {name}")
    return alg


# --------------------------------------------------------------------------- compact


def _header_bytes(header: dict[str, Any]) -> bytes:
    return json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign_compact(
    payload: bytes, private_jwk: dict[str, Any], extra_header: dict[str, Any] | None = None
) -> str:
    """A compact JWS of ``payload``; header ``{"alg": ...}`` (+ ``extra_header``)."""
    key = key_from_jwk(private_jwk, private=True)
    alg = signing_alg(private_jwk, key)
    header: dict[str, Any] = {"alg": alg}
    if extra_header:
        header.update(extra_header)
        header["alg"] = alg
    signing_input = b64u_encode(_header_bytes(header)) + "." + b64u_encode(payload)
    sig = raw_sign(key, alg, signing_input.encode("ascii"))  # type: ignore[arg-type]
    return signing_input + "." + b64u_encode(sig)


def verify_compact_header(
    token: str, public_jwk: dict[str, Any], understood_crit: Iterable[str] = ()
) -> tuple[dict[str, Any], bytes]:
    """Verify a compact JWS; returns (protected header, payload)."""
    if not isinstance(token, str):
        raise SignatureError("signing.malformed", part="token")
    if len(token) > MAX_TOKEN_BYTES:
        raise SignatureError("signing.token_too_large", limit=MAX_TOKEN_BYTES)
    parts = token.split(".")
    if len(parts) != 3:
        raise SignatureError("signing.malformed", part="token")
    enc_header, enc_payload, enc_sig = parts
    key = key_from_jwk(public_jwk, private=False)
    if isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        key = key.public_key()
    header = decode_protected(enc_header)
    alg = check_header(header, _verify_algs(public_jwk, key), understood_crit)  # type: ignore[arg-type]
    payload = b64u_decode(enc_payload, "payload")
    sig = b64u_decode(enc_sig, "signature")
    raw_verify(key, alg, (enc_header + "." + enc_payload).encode("ascii"), sig)  # type: ignore[arg-type]
    return header, payload


def verify_compact(
    token: str, public_jwk: dict[str, Any], understood_crit: Iterable[str] = ()
) -> bytes:
    """The payload of a compact JWS after full verification; SignatureError otherwise."""
    return verify_compact_header(token, public_jwk, understood_crit)[1]


# --------------------------------------------------------------------------- flattened JSON


def sign_flattened_with_key(
    payload: bytes, protected: dict[str, Any], key: PrivateKey, alg: str
) -> dict[str, str]:
    """Flattened JWS JSON with an already-parsed key (the sealing hot path)."""
    header = dict(protected)
    header["alg"] = alg
    enc_header = b64u_encode(_header_bytes(header))
    enc_payload = b64u_encode(payload)
    sig = raw_sign(key, alg, (enc_header + "." + enc_payload).encode("ascii"))
    return {"protected": enc_header, "payload": enc_payload, "signature": b64u_encode(sig)}


def sign_flattened(
    payload: bytes, protected: dict[str, Any], private_jwk: dict[str, Any]
) -> dict[str, str]:
    """JWS JSON flattened serialization ``{"protected","payload","signature"}`` (RFC 7515 §7.2.2)."""
    key = key_from_jwk(private_jwk, private=True)
    return sign_flattened_with_key(payload, protected, key, signing_alg(private_jwk, key))  # type: ignore[arg-type]


_FLAT_MEMBERS = frozenset({"protected", "payload", "signature"})


def split_flattened(env: Any) -> tuple[str, str, str]:
    """The three base64url members of a flattened JWS, structure checked."""
    if not isinstance(env, dict) or set(env) != _FLAT_MEMBERS:
        raise SignatureError("signing.malformed", part="envelope")
    p, pl, s = env["protected"], env["payload"], env["signature"]
    if not (isinstance(p, str) and isinstance(pl, str) and isinstance(s, str)):
        raise SignatureError("signing.malformed", part="envelope")
    if len(p) + len(pl) + len(s) > MAX_TOKEN_BYTES:
        raise SignatureError("signing.token_too_large", limit=MAX_TOKEN_BYTES)
    return p, pl, s


def verify_flattened_with_key(
    env: Any, key: PublicKey, allowed: Iterable[str], understood_crit: Iterable[str]
) -> tuple[dict[str, Any], bytes]:
    """Verify a flattened JWS with a parsed public key; returns (header, payload)."""
    enc_header, enc_payload, enc_sig = split_flattened(env)
    header = decode_protected(enc_header)
    alg = check_header(header, allowed, understood_crit)
    payload = b64u_decode(enc_payload, "payload")
    sig = b64u_decode(enc_sig, "signature")
    raw_verify(key, alg, (enc_header + "." + enc_payload).encode("ascii"), sig)
    return header, payload


def verify_flattened(
    env: dict[str, Any], public_jwk: dict[str, Any], understood_crit: set[str] | frozenset[str]
) -> tuple[dict[str, Any], bytes]:
    """Verify a flattened JWS against a public JWK; returns (protected header, payload)."""
    key = key_from_jwk(public_jwk, private=False)
    if isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        key = key.public_key()
    return verify_flattened_with_key(env, key, _verify_algs(public_jwk, key), understood_crit)  # type: ignore[arg-type]
