"""base64url without padding (RFC 4648 section 5, as RFC 7515 uses it): one codec for the tree.

``b64u_decode`` is strict: only the URL-safe alphabet, no padding, canonical trailing bits —
so one value has exactly one spelling, which matters when a hash is taken over the text.
``b64u_decode_lenient`` is for reading back what this program wrote itself (display only).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

_B64U_RE = re.compile(r"[A-Za-z0-9_-]*")


class Base64Error(ValueError):
    """Not canonical unpadded base64url."""


def b64u_encode(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: Any) -> bytes:
    """Strict decoding; :class:`Base64Error` for anything but canonical unpadded base64url."""
    if not isinstance(text, str) or not _B64U_RE.fullmatch(text) or len(text) % 4 == 1:
        raise Base64Error("not base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise Base64Error("not base64url") from exc
    if b64u_encode(data) != text:  # unused low bits set: a second spelling of the bytes
        raise Base64Error("not canonical base64url")
    return data


def b64u_decode_lenient(text: str) -> bytes:
    """Decode base64url with or without padding (ValueError when it is not base64url)."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, TypeError) as exc:
        raise ValueError("not base64url") from exc
