"""The shared helpers of client/common: one atomic write, one base64url codec, one depth guard."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from client.common.b64 import Base64Error, b64u_decode, b64u_decode_lenient, b64u_encode
from client.common.files import atomic_write
from client.common.jsonguard import MAX_JSON_DEPTH, json_depth, too_deep


def test_atomic_write_replaces_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_bytes(b"old")
    atomic_write(target, b"new content")
    assert target.read_bytes() == b"new content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_atomic_write_failure_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_bytes(b"old")

    with pytest.raises(TypeError):
        atomic_write(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_atomic_write_sets_the_mode_before_the_file_appears(tmp_path: Path) -> None:
    target = tmp_path / "secret"
    atomic_write(target, b"k", mode=0o600)
    assert os.stat(target).st_mode & 0o777 == 0o600


def test_atomic_write_into_a_missing_folder_is_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        atomic_write(tmp_path / "nope" / "x", b"1")


@pytest.mark.parametrize("data", [b"", b"\x00", b"\xff\xfe", bytes(range(256))])
def test_b64u_round_trips(data: bytes) -> None:
    text = b64u_encode(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert b64u_decode(text) == data
    assert b64u_decode_lenient(text) == data


@pytest.mark.parametrize("bad", ["a", "ab=", "a+b/", "AB", "ab c", 12, None])
def test_b64u_strict_refuses_other_spellings(bad: object) -> None:
    # "AB" leaves unused low bits set: a second spelling of the same byte
    with pytest.raises(Base64Error):
        b64u_decode(bad)


def test_depth_guard() -> None:
    deep: object = 1
    for _ in range(MAX_JSON_DEPTH + 5):
        deep = [deep]
    assert too_deep(deep)
    assert not too_deep({"a": [{"b": 1}]})
    assert json_depth({"a": [{"b": 1}]}) == 4
