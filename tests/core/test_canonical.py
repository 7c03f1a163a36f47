"""RFC 8785 canonical form: every published vector, and the fast path equals rfc8785."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from client.common.i18n import ComptoirError
from client.seal.canonical import canonicalize, parse_canonical, sha256_hex


def _vectors(conformance: Path) -> list[Path]:
    files = sorted((conformance / "jcs" / "input").glob("*.json"))
    assert files, "no JCS vectors found"
    return files


def test_every_jcs_vector_bytes_exact(conformance: Path) -> None:
    files = _vectors(conformance)
    for path in files:
        expected = (conformance / "jcs" / "output" / path.name).read_bytes()
        value = json.loads(path.read_bytes())
        assert canonicalize(value) == expected, path.name
    assert len(files) >= 6


def test_sorting_by_utf16_code_units() -> None:
    # U+1F602 (surrogates D83D DE02) sorts before U+FB33 in UTF-16, after it by code point.
    value = {"\ufb33": 1, "\U0001f602": 2}
    assert canonicalize(value) == '{"\U0001f602":2,"\ufb33":1}'.encode()


def test_numbers_in_es6_form() -> None:
    assert canonicalize([56.0, 1e30, 4.50, 2e-3]) == b"[56,1e+30,4.5,0.002]"


def test_unrepresentable_values_refused() -> None:
    for bad in (float("nan"), 2**60, {1: 2}, "\ud800", object()):
        with pytest.raises(ComptoirError) as info:
            canonicalize(bad)
        assert info.value.code == "canonical.invalid"
        assert info.value.exit_code == 2


def test_sha256_hex() -> None:
    assert sha256_hex(b"abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(_json)
def test_fast_path_equals_rfc8785(value: object) -> None:
    try:
        expected = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        with pytest.raises(ComptoirError):
            canonicalize(value)
        return
    assert canonicalize(value) == expected


def test_parse_canonical_accepts_only_canonical_bytes(conformance: Path) -> None:
    for path in _vectors(conformance):
        expected = (conformance / "jcs" / "output" / path.name).read_bytes()
        assert parse_canonical(expected) == json.loads(expected)
        with pytest.raises(ComptoirError) as info:
            parse_canonical(path.read_bytes())  # the pretty-printed inputs
        assert info.value.code == "canonical.not_canonical"
    for bad in (
        b'{"b":1,"a":2}',
        b'{"a":1,"a":1}',
        b"[1.0]",
        b'{"a" :1}',
        b"[NaN]",
        b"[9007199254740993]",
        b"[1E30]",
    ):
        with pytest.raises(ComptoirError):
            parse_canonical(bad)
    with pytest.raises(ComptoirError) as info:
        parse_canonical(b"{not json")
    assert info.value.code == "canonical.invalid"


@settings(max_examples=300, deadline=None)
@given(_json)
def test_parse_canonical_round_trip(value: object) -> None:
    try:
        data = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        return
    assert canonicalize(parse_canonical(data)) == data
    loose = json.dumps(value, ensure_ascii=True).encode()
    if loose != data:
        with pytest.raises(ComptoirError):
            parse_canonical(loose)
    else:
        parse_canonical(loose)


def test_cyclic_value_refused() -> None:
    a: list[object] = []
    a.append(a)
    with pytest.raises(ComptoirError):
        canonicalize(a)


def test_parse_canonical_sorts_keys_beyond_the_bmp_as_jcs_does() -> None:
    """Keys with a character beyond the BMP sort by UTF-16 code units: the JCS order is
    canonical, Python's code-point order is not (in a key and in a nested object)."""
    for value in ({"\ufb33": 1, "\U0001f602": 2}, {"a": {"\ufb33": "é", "\U0001f602": [1]}}):
        jcs = canonicalize(value)
        assert parse_canonical(jcs) == value
        python_order = json.dumps(value, sort_keys=True, separators=(",", ":"),
                                  ensure_ascii=False).encode()
        assert python_order != jcs
        with pytest.raises(ComptoirError):
            parse_canonical(python_order)
