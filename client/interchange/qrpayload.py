"""The sealed envelope in a fallback document's QR code, self-contained.

A sealed envelope with its certificate chain is about 4–6 KB as a compact JWS: too
much for one QR code.  Like the EU digital COVID certificate (``HC1:`` + zlib +
Base45), the envelope's three parts are decoded to bytes, length-prefixed,
deflated and written in Base45 (RFC 9285), whose alphabet is exactly the QR
alphanumeric set: a version-40 code holds 4,296 such characters.  The
transformation is lossless: the officer's ``comptoir verify`` rebuilds the very JWS
that was signed.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

from client.common.b64 import b64u_decode_lenient, b64u_encode
from client.common.i18n import ComptoirError

PREFIX = "CPT1:"
QR_ALNUM_CAPACITY = 4296  # version 40, error correction L, alphanumeric mode
MAX_INFLATED = 1 << 20
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}


def b45encode(data: bytes) -> str:
    """RFC 9285 Base45."""
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        c, n = n % 45, n // 45
        d, e = n % 45, n // 45
        out.append(_ALPHABET[c] + _ALPHABET[d] + _ALPHABET[e])
    if len(data) % 2:
        n = data[-1]
        out.append(_ALPHABET[n % 45] + _ALPHABET[n // 45])
    return "".join(out)


def b45decode(text: str) -> bytes:
    try:
        values = [_INDEX[c] for c in text]
    except KeyError as exc:
        raise ValueError("not Base45") from exc
    out = bytearray()
    for i in range(0, len(values), 3):
        chunk = values[i:i + 3]
        if len(chunk) == 3:
            n = chunk[0] + chunk[1] * 45 + chunk[2] * 45 * 45
            if n > 0xFFFF:
                raise ValueError("not Base45")
            out += bytes((n >> 8, n & 0xFF))
        elif len(chunk) == 2:
            n = chunk[0] + chunk[1] * 45
            if n > 0xFF:
                raise ValueError("not Base45")
            out.append(n)
        else:
            raise ValueError("not Base45")
    return bytes(out)


_b64d = b64u_decode_lenient
_b64e = b64u_encode


def encode_envelope(envelope: dict[str, Any]) -> str:
    """``CPT1:`` + Base45(deflate(len-prefixed protected, payload, signature))."""
    parts = [_b64d(envelope[k]) for k in ("protected", "payload", "signature")]
    raw = b"".join(struct.pack(">I", len(p)) + p for p in parts)
    return PREFIX + b45encode(zlib.compress(raw, 9))


def decode_envelope(text: str) -> dict[str, str]:
    """The sealed envelope back from a QR payload; a clear error when it is not one."""
    try:
        body = b45decode(text.strip()[len(PREFIX):])
        inflater = zlib.decompressobj()
        raw = inflater.decompress(body, MAX_INFLATED)
        if inflater.unconsumed_tail:
            raise ValueError("too large")
        if not inflater.eof or inflater.unused_data:  # cut short, or trailing junk
            raise ValueError("truncated")
        parts = []
        pos = 0
        for _ in range(3):
            (n,) = struct.unpack_from(">I", raw, pos)
            pos += 4
            if pos + n > len(raw):
                raise ValueError("truncated")
            parts.append(raw[pos:pos + n])
            pos += n
        if pos != len(raw):
            raise ValueError("trailing bytes")
    except (ValueError, struct.error, zlib.error) as exc:
        raise ComptoirError("verify.bad_qr", 2, reason=str(exc)) from exc
    return dict(zip(("protected", "payload", "signature"), map(_b64e, parts), strict=True))


def fits_qr(text: str) -> bool:
    return text.startswith(PREFIX) and len(text) <= QR_ALNUM_CAPACITY
