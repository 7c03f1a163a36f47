"""base64url without padding (RFC 4648 section 5, as RFC 7515 uses it): one codec for the tree.

``b64u_decode`` is strict: only the URL-safe alphabet, no padding, canonical trailing bits —
so one value has exactly one spelling, which matters when a hash is taken over the text.
``b64u_decode_lenient`` is for reading back what this program wrote itself (display only).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any


class Base64Error(ValueError):
    """Not canonical unpadded base64url."""


def b64u_encode(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_B64U_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_B64U_VALUE = {c: i for i, c in enumerate(_B64U_ALPHABET)}
_B64U_TO_STD = bytes.maketrans(b"-_", b"+/")  # a byte table: one C pass, not per character


_B64U_BYTES = _B64U_ALPHABET.encode("ascii")


def is_b64u_text(v: Any) -> bool:
    """Only base64url characters (so no JSON escaping): one C pass deleting the alphabet,
    several times cheaper than a regular expression over a whole payload."""
    return type(v) is str and v.isascii() and not v.encode("ascii").translate(None, _B64U_BYTES)


def b64u_decode(text: Any) -> bytes:
    """Strict decoding; :class:`Base64Error` for anything but canonical unpadded base64url.

    One pass of the C decoder in strict mode (after refusing the standard alphabet's own
    ``+ / =``); canonical bits are a property of the last character alone, so no
    re-encoding of the whole text is needed to refuse a second spelling of the bytes.
    """
    if not isinstance(text, str):
        raise Base64Error("not base64url")
    rest = len(text) % 4
    if rest == 1 or "+" in text or "/" in text or "=" in text:
        raise Base64Error("not base64url")
    try:
        data = binascii.a2b_base64(
            text.encode("ascii").translate(_B64U_TO_STD) + b"=" * (-len(text) % 4),
            strict_mode=True)
    except (binascii.Error, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise Base64Error("not base64url") from exc
    if rest and _B64U_VALUE.get(text[-1], 0) & (0x0F if rest == 2 else 0x03):
        raise Base64Error("not canonical base64url")  # unused low bits: a second spelling
    return data


def b64u_decode_lenient(text: str) -> bytes:
    """Decode base64url with or without padding (ValueError when it is not base64url)."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, TypeError) as exc:
        raise ValueError("not base64url") from exc
