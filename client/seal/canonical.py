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

from client.common.i18n import ComptoirError

# RFC 8785 section 3.2.2.3: integers outside the IEEE 754 exact range are not portable.
_MAX_SAFE = 2**53 - 1
_BMP_MAX = "\uffff"

_encode = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
).encode


_MAX_NODES = 1_000_000  # a cyclic or absurd structure goes to rfc8785, which refuses it
_NON_BMP_LEADS = (b"\xf0", b"\xf1", b"\xf2", b"\xf3", b"\xf4")  # UTF-8 of U+10000 and up


def _has_non_bmp(data: bytes) -> bool:
    """A character beyond the BMP (JCS and Python sort such keys differently): five byte
    searches, far cheaper than a regular expression's scan of a whole payload."""
    return not data.isascii() and any(lead in data for lead in _NON_BMP_LEADS)


def _simple(value: Any) -> bool:
    """True when the C encoder's output is already the RFC 8785 form for ``value``."""
    stack = [value]
    pop, extend = stack.pop, stack.extend
    budget = _MAX_NODES
    while stack:
        budget -= 1
        if budget < 0:
            return False
        v = pop()
        t = type(v)
        if t is str or t is bool or v is None:
            continue
        if t is int:
            if not -_MAX_SAFE <= v <= _MAX_SAFE:
                return False
            continue
        if t is dict:
            for k in v:
                # JCS sorts keys by UTF-16 code units, Python by code points: they differ
                # only for characters beyond the BMP.
                if type(k) is not str or (not k.isascii() and k and max(k) > _BMP_MAX):
                    return False
            extend(v.values())
            continue
        if t is list:
            extend(v)
            continue
        return False
    return True


def canonicalize(value: Any) -> bytes:
    """RFC 8785 canonical UTF-8 bytes of ``value`` (a parsed JSON value)."""
    if _simple(value):
        try:
            return _encode(value).encode("utf-8")
        except (UnicodeEncodeError, RecursionError):  # let rfc8785 say what is wrong
            pass
    try:
        return rfc8785.dumps(value)
    except (
        rfc8785.CanonicalizationError,
        TypeError,
        ValueError,
        UnicodeError,
        RecursionError,
    ) as exc:
        raise ComptoirError("canonical.invalid", 2, reason=str(exc)) from exc


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_canonical(data: bytes) -> Any:
    """Parse JSON bytes that must already be in RFC 8785 form (a signed payload).

    Raises ComptoirError ``canonical.not_canonical`` when the bytes are valid JSON but not
    canonical, ``canonical.invalid`` when they are not JSON at all.  Cheaper than
    ``canonicalize(json.loads(data)) == data`` for float-free documents.
    """
    slow = False

    def _float(text: str) -> float:
        nonlocal slow
        slow = True
        return float(text)

    def _int(text: str) -> int | float:
        nonlocal slow
        v = int(text)
        if not -_MAX_SAFE <= v <= _MAX_SAFE:
            slow = True  # an IEEE 754 double that happens to print as an integer
            return float(text)
        return v

    try:
        value = json.loads(
            data.decode("utf-8"),
            parse_float=_float,
            parse_int=_int,
            parse_constant=_refuse_constant,
        )
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ComptoirError("canonical.invalid", 2, reason=str(exc)) from exc
    if not slow and not _has_non_bmp(data):
        try:
            ok = _encode(value).encode("utf-8") == data
        except (UnicodeEncodeError, RecursionError):
            ok = False
    else:
        try:
            ok = canonicalize(value) == data
        except ComptoirError:
            ok = False
    if not ok:
        raise ComptoirError("canonical.not_canonical", 2)
    return value


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256, the hash used for envelope chaining and receipts."""
    return hashlib.sha256(data).hexdigest()
