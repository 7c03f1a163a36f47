"""The published WCO DEC-DMS 2 schemas: finding them, validating a body, reading pointers.

CDS checks every body against the WCO schemas (HMRC publishes them; Comptoir does not
ship copies).  Two wrappers, as HMRC's own ``wrapper_submit.xsd`` and
``wrapper_cancel.xsd`` do: MetaData + ``WCO_DEC_2_DMS`` for declarations and amendments,
``CANCEL_METADATA`` + ``CANCEL`` for cancellation requests.

A DMS rejection points at the faulty element with WCO identifiers (a ``Pointer`` per
section, ``42A`` Declaration, ``67A`` GoodsShipment, ``68A`` goods item …, and a
``TagID`` for the element itself, ``D026`` the LRN).  :class:`WcoIndex` reads those
identifiers from the schema's annotations, so pointers resolve to XML paths (and back)
without a hand-copied table.
"""

from __future__ import annotations

import os
import re
from collections import deque
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from lxml import etree

from client.common.i18n import ComptoirError
from client.interchange.safexml import parse_xml

XS = "{http://www.w3.org/2001/XMLSchema}"
NS_MD = "urn:wco:datamodel:WCO:DocumentMetaData-DMS:2"
NS_DEC = "urn:wco:datamodel:WCO:DEC-DMS:2"
SECTION = re.compile(r"\d\d[A-Z]")
ENV_SCHEMAS = "COMPTOIR_CDS_SCHEMAS"
ENV_CONFORMANCE = "COMPTOIR_CONFORMANCE_DIR"
DEC_FILES = ("DocumentMetaData_2_DMS.xsd", "WCO_DEC_2_DMS.xsd")
CANCEL_FILES = ("CANCEL_METADATA.xsd", "CANCEL.xsd")


class SchemaError(ComptoirError):
    """The WCO schemas cannot be found or read."""


def find_schema_dir(configured: str | Path | None = None, *, base: Path | None = None) -> Path:
    """The folder holding ``WCO_DEC_2_DMS.xsd``: the configured one, else
    ``$COMPTOIR_CDS_SCHEMAS``, else ``$COMPTOIR_CONFORMANCE_DIR/hmrc-dms/schemas/declaration``,
    else ``../shared/conformance/...`` next to ``base`` (the working directory)."""
    candidates: list[Path] = []
    if configured:
        candidates.append(Path(configured).expanduser())
    if os.environ.get(ENV_SCHEMAS):
        candidates.append(Path(os.environ[ENV_SCHEMAS]))
    tail = Path("hmrc-dms") / "schemas" / "declaration"
    if os.environ.get(ENV_CONFORMANCE):
        candidates.append(Path(os.environ[ENV_CONFORMANCE]) / tail)
    here = base or Path.cwd()
    candidates += [here.parent / "shared" / "conformance" / tail,
                   here.parent.parent / "shared" / "conformance" / tail]
    for c in candidates:
        if (c / DEC_FILES[1]).is_file():
            return c.resolve()
    raise SchemaError("cds.schemas_missing", 2, tried=", ".join(str(c) for c in candidates[:3]))


@cache
def _schema(folder: str, files: tuple[str, str]) -> etree.XMLSchema:
    base = Path(folder)
    meta, body = files
    missing = [f for f in files if not (base / f).is_file()]
    if missing:
        raise SchemaError("cds.schemas_missing", 2, tried=str(base / missing[0]))
    wrapper = (
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
        f'<xs:import namespace="{NS_MD}" schemaLocation="{(base / meta).as_uri()}"/>'
        f'<xs:import namespace="{NS_DEC}" schemaLocation="{(base / body).as_uri()}"/>'
        "</xs:schema>")
    try:
        return etree.XMLSchema(etree.fromstring(wrapper.encode()))
    except etree.XMLSchemaParseError as exc:
        raise SchemaError("cds.schemas_unreadable", 2, path=str(base), reason=str(exc)[:200]) \
            from exc


@dataclass(frozen=True)
class SchemaProblem:
    line: int
    column: int
    message: str

    def text(self) -> str:
        """HMRC's wording in ``errorResponse`` (``Error at line 13, column 13: …``)."""
        return f"Error at line {self.line}, column {self.column}: {self.message}"


def validate_body(xml: bytes, schema_dir: Path, *, cancellation: bool = False
                  ) -> list[SchemaProblem]:
    """Schema problems of a request body (empty when valid); unreadable XML is one problem."""
    schema = _schema(str(schema_dir), CANCEL_FILES if cancellation else DEC_FILES)
    try:
        doc = parse_xml(xml, source="<body>").getroottree()
    except ComptoirError as exc:
        return [SchemaProblem(1, 1, exc.render("en"))]
    if schema.validate(doc):
        return []
    return [SchemaProblem(e.line, e.column, e.message) for e in schema.error_log][:50]


# ------------------------------------------------------------------------------ pointers

@dataclass
class _Node:
    name: str
    wcoid: str | None
    parent: _Node | None = None
    children: list[_Node] = field(default_factory=list)

    def child(self, name: str) -> _Node | None:
        return next((c for c in self.children if c.name == name), None)


Step = tuple[str, int | None]  # element name, SequenceNumeric (None when not repeated)


class WcoIndex:
    """The element tree of ``WCO_DEC_2_DMS.xsd`` with each element's WCO identifier."""

    def __init__(self, schema_dir: Path) -> None:
        path = Path(schema_dir) / DEC_FILES[1]
        try:
            root = etree.parse(str(path)).getroot()
        except (OSError, etree.XMLSyntaxError) as exc:
            raise SchemaError("cds.schemas_unreadable", 2, path=str(path),
                              reason=str(exc)[:200]) from exc
        self._types = {e.get("name"): e for e in root if e.tag == XS + "complexType"}
        top = next(e for e in root if e.tag == XS + "element" and e.get("name") == "Declaration")
        self.root = self._build(top, None, 0)

    @staticmethod
    def _wcoid(el: etree._Element) -> str | None:
        ann = el.find(XS + "annotation")
        if ann is None:
            return None
        for x in ann.iter():
            if isinstance(x.tag, str) and x.tag.endswith("WCOID"):
                return (x.text or "").strip() or None
        return None

    def _build(self, el: etree._Element, parent: _Node | None, depth: int) -> _Node:
        node = _Node(el.get("name") or "", self._wcoid(el), parent)
        ct = el.find(XS + "complexType")
        if ct is None and el.get("type") in self._types:
            ct = self._types[el.get("type")]
        if ct is not None and depth < 12:
            for sub in ct.iter(XS + "element"):
                owner = sub.getparent()
                while owner is not None and owner.tag != XS + "complexType":
                    owner = owner.getparent()
                if owner is ct and sub.get("name"):
                    node.children.append(self._build(sub, node, depth + 1))
        return node

    @staticmethod
    def _nearest(start: _Node, wcoid: str) -> list[_Node] | None:
        """The shortest downward path from ``start`` to an element with ``wcoid``."""
        queue: deque[tuple[_Node, list[_Node]]] = deque([(start, [])])
        while queue:
            node, path = queue.popleft()
            for c in node.children:
                if c.wcoid == wcoid:
                    return [*path, c]
                queue.append((c, [*path, c]))
        return None

    def resolve(self, sections: list[Step], tag: str | None) -> list[Step] | None:
        """The XML path a DMS pointer designates, or None when it names nothing."""
        if not sections or sections[0][0] != (self.root.wcoid or "42A"):
            return None
        path: list[Step] = [(self.root.name, None)]
        cur = self.root
        for code, seq in sections[1:]:
            found = self._nearest(cur, code)
            if found is None:
                return None
            path += [(n.name, None) for n in found[:-1]] + [(found[-1].name, seq)]
            cur = found[-1]
        if tag:
            found = self._nearest(cur, tag)
            if found is None:
                return None
            path += [(n.name, None) for n in found]
        return path

    def pointer_for(self, path: list[Step]) -> tuple[list[Step], str | None]:
        """The DMS pointer (sections, TagID) of an XML path (the emulator's rejections)."""
        if not path or path[0][0] != self.root.name:
            raise ValueError("a pointer starts at Declaration")
        sections: list[Step] = [(self.root.wcoid or "42A", None)]
        cur = self.root
        for name, seq in path[1:]:
            nxt = cur.child(name)
            if nxt is None:
                raise ValueError(f"no element {name} under {cur.name}")
            cur = nxt
            if cur.wcoid and SECTION.fullmatch(cur.wcoid):
                sections.append((cur.wcoid, seq))
        tag = None if cur.wcoid and SECTION.fullmatch(cur.wcoid) else cur.wcoid
        return sections, tag


@cache
def wco_index(schema_dir: str) -> WcoIndex:
    return WcoIndex(Path(schema_dir))
