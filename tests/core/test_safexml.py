"""Defused XML: bombs, external entities, huge and deep files are refused, cleanly.

"Before any harm" is proven by what was refused (the DOCTYPE itself, so no entity is
ever expanded) and by the bytes read (a huge file is refused on its size), not by a
clock: timings are figures for bench/run.py, never assertions here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from client.common.i18n import ComptoirError
from client.interchange.safexml import parse_xml, read_bounded

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "interchange"


def _refused(fn, code: str) -> ComptoirError:
    with pytest.raises(ComptoirError) as info:
        fn()
    assert info.value.code == code
    assert info.value.exit_code == 2
    return info.value


def test_billion_laughs_refused_before_expansion() -> None:
    data = (FIX / "billion_laughs.xml").read_bytes()
    err = _refused(lambda: parse_xml(data, source="bomb.xml"), "xml.doctype_refused")
    assert "bomb.xml" in err.render("en")


def test_external_entity_refused_and_file_not_read() -> None:
    data = (FIX / "external_entity.xml").read_bytes()
    err = _refused(lambda: parse_xml(data, source="xxe.xml"), "xml.doctype_refused")
    assert "root:" not in err.render("en")


def test_doctype_after_bom_and_without_entities_refused() -> None:
    data = (
        b'\xef\xbb\xbf<?xml version="1.0"?><!DOCTYPE a SYSTEM "http://example.invalid/a.dtd"><a/>'
    )
    _refused(lambda: parse_xml(data, source="dtd.xml"), "xml.doctype_refused")


def test_200_mb_file_refused_without_reading(tmp_path: Path,
                                            bytes_read: Callable[[], int]) -> None:
    big = tmp_path / "big.xml"
    with open(big, "wb") as fh:  # sparse: 200 MB on paper, no disk used
        fh.write(b"<a>")
        fh.truncate(200 << 20)
    err = _refused(lambda: parse_xml(big, source=str(big)), "xml.too_large")
    assert err.message.params["size"] == 200 << 20
    _refused(lambda: read_bounded(big), "xml.too_large")
    assert bytes_read() < 1 << 20  # refused on its size: the 200 MB were never read


def test_oversized_bytes_refused() -> None:
    _refused(
        lambda: parse_xml(b"<a>" + b" " * 2000 + b"</a>", source="s", max_bytes=1000),
        "xml.too_large",
    )


def test_depth_bounded() -> None:
    deep = b"<a>" * 100 + b"</a>" * 100
    _refused(lambda: parse_xml(deep, source="deep.xml"), "xml.too_deep")
    assert parse_xml(b"<a>" * 60 + b"</a>" * 60, source="ok.xml") is not None
    very_deep = b"<a>" * 5000 + b"</a>" * 5000  # beyond libxml2's own limit
    _refused(lambda: parse_xml(very_deep, source="deeper.xml"), "xml.too_deep")


def test_malformed_reports_line_and_column() -> None:
    data = b"<a>\n  <b>text</c>\n</a>"
    err = _refused(lambda: parse_xml(data, source="bad.xml"), "xml.malformed")
    assert err.message.params["line"] == 2
    assert err.message.params["column"] > 0
    text = err.render("en")
    assert "line 2" in text and "bad.xml" in text
    assert "ligne 2" in err.render("fr")


def test_well_formed_parses() -> None:
    root = parse_xml(b"<r><x>1</x><!-- c --></r>", source="ok.xml")
    assert root.findtext("x") == "1"


def test_doctype_quoted_in_a_body_comment_is_no_false_alarm() -> None:
    root = parse_xml(
        b"<?xml version='1.0'?><!-- head --><r><!-- <!DOCTYPE x> --><a/></r>", source="c.xml"
    )
    assert root.tag == "r"


def test_utf16_doctype_refused() -> None:
    data = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>'.encode(
        "utf-16"
    )
    _refused(lambda: parse_xml(data, source="u16.xml"), "xml.doctype_refused")
