"""The canonical bytes of a JSON value: RFC 8785 (JSON Canonicalization Scheme).

A sealed declaration is signed over these bytes, so every party (client, single window,
a field officer's offline verifier) must produce exactly the same ones.  The reference
implementation is the ``rfc8785`` package.  Declarations carry amounts as strings (never
binary floats), so for values made only of objects, arrays, strings, safe integers,
booleans and null a fast path through the C JSON encoder gives the same bytes (checked
against ``rfc8785`` by the tests); anything else goes to ``rfc8785``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import rfc8785

from client.i18n import ComptoirError

# RFC 8785 section 3.2.2.3: integers outside the IEEE 754 exact range are not portable.
_MAX_SAFE = 2**53 - 1
_BMP_MAX = "\uffff"

_encode = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
).encode


def _simple(value: Any, depth: int = 0) -> bool:
    """True when the C encoder's output is already the RFC 8785 form for ``value``."""
    if depth > 200:
        return False
    t = type(value)
    if t is str or value is None or t is bool:
        return True
    if t is int:
        return -_MAX_SAFE <= value <= _MAX_SAFE
    if t is dict:
        for k, v in value.items():
            if type(k) is not str:
                return False
            # JCS sorts keys by UTF-16 code units, Python by code points: they differ
            # only for characters beyond the BMP.
            if not k.isascii() and k and max(k) > _BMP_MAX:
                return False
            if not _simple(v, depth + 1):
                return False
        return True
    if t is list:
        return all(_simple(v, depth + 1) for v in value)
    return False


def canonicalize(value: Any) -> bytes:
    """RFC 8785 canonical UTF-8 bytes of ``value`` (a parsed JSON value)."""
    if _simple(value):
        try:
            return _encode(value).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: let rfc8785 say what is wrong
            pass
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError, UnicodeError) as exc:
        raise ComptoirError("canonical.invalid", 2, reason=str(exc)) from exc


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256, the hash used for envelope chaining and receipts."""
    return hashlib.sha256(data).hexdigest()
