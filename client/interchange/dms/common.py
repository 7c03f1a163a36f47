"""Namespaces, the import result and the generic child reader shared by the DMS modules."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from lxml import etree

from client.common.i18n import Message
from client.declaration.model import Declaration
from client.interchange.safexml import local

NS_MD = "urn:wco:datamodel:WCO:DocumentMetaData-DMS:2"
NS_DEC = "urn:wco:datamodel:WCO:DEC-DMS:2"

Kind = Literal["declaration", "amendment", "cancellation", "notification", "wrapped", "unknown"]

# Attributes that carry no declaration data.
_IGNORED_ATTR_NS = ("http://www.w3.org/2001/XMLSchema-instance",)
# MetaData envelope elements regenerated on export (not declaration data).
_ENVELOPE = {
    "WCODataModelVersionCode",
    "WCOTypeName",
    "ResponsibleCountryCode",
    "ResponsibleAgencyName",
    "AgencyAssignedCustomizationCode",
    "AgencyAssignedCustomizationVersionCode",
}


@dataclass
class StatusChange:
    """One status change of a lodged declaration, in the shape of the sync feed."""

    declaration_mrn: str | None
    lrn: str | None
    function_code: str | None
    status: str
    at: str | None
    errors: list[dict[str, str]] = field(default_factory=list)
    version: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "declaration_mrn": self.declaration_mrn,
            "lrn": self.lrn,
            "function_code": self.function_code,
            "status": self.status,
            "at": self.at,
            "errors": self.errors,
            "version": self.version,
        }


@dataclass
class DmsImport:
    """What one XML file turned out to be, and what of it the model holds."""

    kind: Kind
    function_code: str | None
    declaration: Declaration | None
    unmapped: list[str]
    original: bytes
    notification: list[StatusChange] | None
    message: Message

    @property
    def importable(self) -> bool:
        """True when there is a declaration to store (original, amendment, cancellation, unwrapped)."""
        return self.declaration is not None

    def to_json(self) -> dict[str, Any]:
        d = self.declaration
        return {
            "id": d.id if d else None,
            "kind": self.kind,
            "lrn": d.lrn if d else None,
            "function_code": self.function_code,
            "unmapped": self.unmapped,
            "message": self.message.to_json(),
        }



class _Reader:
    """Reads children by local name and remembers what it consumed."""

    def __init__(self) -> None:
        self.used: set[etree._Element] = set()
        self.used_attrs: set[tuple[etree._Element, str]] = set()

    def kids(self, el: etree._Element | None, name: str) -> list[etree._Element]:
        if el is None:
            return []
        out = [c for c in el if local(c) == name]
        self.used.update(out)
        return out

    def kid(self, el: etree._Element | None, name: str) -> etree._Element | None:
        if el is None:
            return None
        for c in el:
            if local(c) == name:
                return c
        return None

    def peek(self, el: etree._Element | None, name: str) -> str:
        """Text of a child without consuming it ("" if absent)."""
        node = self.kid(el, name)
        return (node.text or "").strip() if node is not None else ""

    def take(self, el: etree._Element | None, name: str) -> etree._Element | None:
        """The first child called ``name``, marked consumed."""
        c = self.kid(el, name)
        if c is not None:
            self.used.add(c)
        return c

    def leaf(self, el: etree._Element | None, path: tuple[str, ...]) -> etree._Element | None:
        """The element at a child path (not marked consumed), None where a step is absent."""
        cur = el
        for step in path:
            cur = self.kid(cur, step)
            if cur is None:
                return None
        return cur

    def text(self, el: etree._Element | None, *path: str) -> str | None:
        """Text at a child path, marking the leaf consumed; None if absent or empty."""
        cur = self.leaf(el, path)
        if cur is None:
            return None
        value = (cur.text or "").strip()
        if not value:
            return None
        self.used.add(cur)
        return value

    def dec(self, el: etree._Element | None, *path: str) -> Decimal | None:
        """A decimal at a child path; unparseable numbers stay unmapped."""
        cur = self.leaf(el, path)
        if cur is None:
            return None
        raw = (cur.text or "").strip()
        try:
            value = Decimal(raw)
        except InvalidOperation:
            return None
        if not value.is_finite():
            return None
        self.used.add(cur)
        return value

    def int(self, el: etree._Element | None, *path: str) -> int | None:
        v = self.dec(el, *path)
        if v is None or v != v.to_integral_value():
            return None
        return int(v)

    def attr(self, el: etree._Element | None, name: str) -> str | None:
        if el is None:
            return None
        for key, value in el.attrib.items():
            if key.rsplit("}", 1)[-1] == name:
                self.used_attrs.add((el, key))
                return value.strip()
        return None

    def unused_attr(self, el: etree._Element | None, name: str) -> None:
        """Un-mark an attribute the mapping could not keep (e.g. a foreign currency)."""
        if el is None:
            return
        self.used_attrs = {
            (e, k) for (e, k) in self.used_attrs if not (e is el and k.rsplit("}", 1)[-1] == name)
        }

    def unmapped(self, root: etree._Element) -> list[str]:
        """XPath-like paths of every data leaf and attribute not consumed."""
        out: list[str] = []

        def walk(el: etree._Element, path: str) -> None:
            for key in el.attrib:
                if key.startswith("{") and key[1:].split("}")[0] in _IGNORED_ATTR_NS:
                    continue
                if (el, key) not in self.used_attrs:
                    out.append(f"{path}/@{key.rsplit('}', 1)[-1]}")
            children = [c for c in el if isinstance(c.tag, str)]
            if not children:
                if el not in self.used:
                    out.append(path)
                return
            counts: dict[str, int] = {}
            for c in children:
                counts[local(c)] = counts.get(local(c), 0) + 1
            seen: dict[str, int] = {}
            for c in children:
                n = local(c)
                seen[n] = seen.get(n, 0) + 1
                step = f"{n}[{seen[n]}]" if counts[n] > 1 else n
                walk(c, f"{path}/{step}")

        walk(root, "/" + local(root))
        return out


