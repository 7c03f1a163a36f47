"""Defused XML parsing for files that come from outside (declarations, notifications).

Untrusted XML can exhaust memory (billion laughs, huge files, deep nesting) or leak
local files (external entities).  Every XML byte Comptoir reads goes through
:func:`parse_xml`, which refuses before parsing what is too large, never resolves
entities, loads no DTD, touches no network, refuses any DOCTYPE outright and bounds the
nesting depth.  Errors are :class:`~client.common.i18n.ComptoirError` with exit code 2.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from client.common import files
from client.common.i18n import ComptoirError

MAX_BYTES = 20 << 20
MAX_DEPTH = 64

# libxml2's own limit with huge_tree=False is 256 levels; ours is lower and checked after.
_PARSER_KW = dict(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    huge_tree=False,
    dtd_validation=False,
    remove_pis=False,
    remove_comments=False,
)


def _parser() -> etree.XMLParser:
    # A fresh parser per call: lxml parsers are not thread-safe.
    return etree.XMLParser(**_PARSER_KW)


def read_bounded(path: Path, *, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of ``path``, refusing from its size alone (no read) when too large."""
    return files.read_bounded(path, max_bytes, unreadable="xml.unreadable",
                              too_large="xml.too_large")


def _has_doctype_prolog(data: bytes) -> bool:
    """A DOCTYPE in the prolog (before the root element): refused before any parsing.

    Only the prolog is scanned, so "<!DOCTYPE" quoted in a comment of the body is no
    false alarm.  UTF-16 input is decoded for the scan; anything the scan misses is
    caught after parsing from the document info (entities are never resolved anyway).
    """
    head = data[:65536]
    enc = None
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        enc = "utf-16"
    elif head[:1] == b"\x00":
        enc = "utf-16-be"
    elif head[1:2] == b"\x00":
        enc = "utf-16-le"
    if enc is not None:
        head = head[: len(head) // 2 * 2].decode(enc, errors="ignore").encode("utf-8")
    pos, n = 0, len(head)
    if head.startswith(b"\xef\xbb\xbf"):
        pos = 3
    while pos < n:
        while pos < n and head[pos : pos + 1] in (b" ", b"\t", b"\r", b"\n"):
            pos += 1
        if head.startswith(b"<?", pos):
            end = head.find(b"?>", pos)
            pos = n if end < 0 else end + 2
        elif head.startswith(b"<!--", pos):
            end = head.find(b"-->", pos + 4)
            pos = n if end < 0 else end + 3
        else:
            return head.startswith(b"<!DOCTYPE", pos) or head.startswith(b"<!ENTITY", pos)
    return False


def parse_xml(
    data: bytes | Path, *, source: str, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH
) -> etree._Element:
    """Parse untrusted XML into its root element, or raise a clear ComptoirError (exit 2)."""
    if isinstance(data, Path):
        data = read_bounded(data, max_bytes=max_bytes)
    if len(data) > max_bytes:
        raise ComptoirError("xml.too_large", 2, path=source, size=len(data), limit=max_bytes)
    if _has_doctype_prolog(data):
        raise ComptoirError("xml.doctype_refused", 2, path=source)
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (exc.lineno or 0, 0)
        reason = exc.msg or str(exc)
        if "depth" in reason.lower():
            raise ComptoirError("xml.too_deep", 2, path=source, limit=max_depth) from None
        raise ComptoirError(
            "xml.malformed", 2, path=source, line=line, column=column, reason=reason
        ) from None
    except ValueError as exc:  # e.g. unicode strings with an encoding declaration
        raise ComptoirError(
            "xml.malformed", 2, path=source, line=0, column=0, reason=str(exc)
        ) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise ComptoirError("xml.doctype_refused", 2, path=source)
    depth = 0
    for event, _el in etree.iterwalk(root, events=("start", "end")):
        if event == "start":
            depth += 1
            if depth > max_depth:
                raise ComptoirError("xml.too_deep", 2, path=source, limit=max_depth)
        else:
            depth -= 1
    return root


def local(el: etree._Element) -> str:
    """The element's name without its namespace (comments/PIs give '')."""
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]
