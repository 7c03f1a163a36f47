"""Is a DMS declaration valid against the CDS profile's schema?  Which line is not?

The check walks the profile tree (:mod:`.spec`), which states the schema's element order,
occurrences and value formats: it needs no schema files at run time.  It reports, by
line and element path, an element that is not allowed where it stands, out of order,
repeated too often or missing; a value that does not fit its format (length, digits,
decimals, a date/time pattern, a code list of the schema); an attribute the type does not
allow or a value it does not accept.  tests/core/test_dms_check.py holds it against the
published schema files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from client.common.i18n import Message
from client.interchange.dms.spec import ATTRIBUTES, DECLARATION, ENVELOPE, NS_DEC, NS_MD, Node
from client.interchange.safexml import local

MAX_ERRORS = 200
_XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
_FMT = re.compile(r"(?P<base>[ctiamqn])(?:(?P<max>\.\.)?(?P<len>\d+)(?:,(?P<frac>\d+))?)?"
                  r"(?::(?P<chars>[A9]))?$")
_CHARS = {"A": re.compile(r"[a-zA-Z]*"), "9": re.compile(r"[0-9]*")}
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_DATETIME = re.compile(r"(20\d{6})(\d{6}(Z|[-+]\d\d))?")
_CURRENCY = re.compile(r"[A-Z]{3}")
# The schema's only enumerations besides formatCode.
_ENUMS = {("Declaration", "FunctionCode"): ("9", "13", "14"),
          ("Consignment", "ContainerCode"): ("0", "1")}


@dataclass(frozen=True)
class SchemaError:
    """One schema error: where (line, element path) and what (a translated message)."""

    line: int
    element: str
    message: Message

    def render(self, lang: str | None = None) -> str:
        return Message("dms.schema.at", {"line": self.line, "element": self.element,
                                         "reason": self.message.render(lang)}).render(lang)

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "element": self.element, "code": self.message.code,
                "message": self.message.render()}


def element_path(el: etree._Element) -> str:
    """The element's place in its document (``/MetaData/Declaration/GoodsShipment[2]``),
    for messages that name it: the index only where it has same-named siblings."""
    steps = []
    cur: etree._Element | None = el
    while cur is not None:
        name = local(cur)
        parent = cur.getparent()
        if parent is not None:
            same = [c for c in parent if local(c) == name]
            if len(same) > 1:
                name += f"[{same.index(cur) + 1}]"
        steps.append(name)
        cur = parent
    return "/" + "/".join(reversed(steps))


class _Check:
    def __init__(self) -> None:
        self.errors: list[SchemaError] = []

    def add(self, el: etree._Element, code: str, **params: Any) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(SchemaError(el.sourceline or 0, element_path(el),
                                           Message(f"dms.schema.{code}", params)))

    # ---- structure ---------------------------------------------------------------------

    def envelope(self, meta: etree._Element) -> None:
        self._attributes(meta, ())
        rank = -1
        seen: set[str] = set()
        declarations = 0
        for c in (e for e in meta if isinstance(e.tag, str)):
            name, ns = local(c), etree.QName(c).namespace
            if name == "Declaration" and ns == NS_DEC:
                declarations += 1
                if declarations > 1:
                    self.add(c, "too_many", name=name, limit=1)
                rank = len(ENVELOPE)
                self.element(DECLARATION, c)
                continue
            if ns != NS_MD or name not in ENVELOPE:
                self.add(c, "unknown", name=name)
                continue
            if name in seen:
                self.add(c, "too_many", name=name, limit=1)
            elif ENVELOPE.index(name) < rank:
                self.add(c, "order", name=name)
            seen.add(name)
            rank = max(rank, ENVELOPE.index(name))
            self._attributes(c, ())
            if len(c):
                self.add(c, "not_a_value", name=name)
        if declarations == 0:
            self.add(meta, "missing", name="Declaration")

    def element(self, node: Node, el: etree._Element) -> None:
        if etree.QName(el).namespace != node.ns:
            self.add(el, "namespace", name=node.tag, expected=node.ns)
        if node.kind == "leaf" or (node.kind == "codec" and not node.children):
            self.leaf(node, el)
            return
        self._attributes(el, ())
        text = el.text
        if (text and not text.isspace()) or any(c.tail and not c.tail.isspace() for c in el):
            self.add(el, "text_in_structure", name=node.tag)
        rank, counts, told = -1, {}, set()
        kids = [c for c in el if isinstance(c.tag, str)]
        required = [(node.rank[sub.tag], sub.tag) for sub in node.children if sub.required]
        for c in kids:
            name = local(c)
            sub = node.by_tag.get(name)
            if sub is None:
                self.add(c, "unknown", name=name)
                continue
            counts[name] = counts.get(name, 0) + 1
            here = node.rank[name]
            if sub.limit is not None and counts[name] > sub.limit:
                self.add(c, "too_many", name=name, limit=sub.limit)
            elif here < rank:
                self.add(c, "order", name=name)
            else:
                for r, tag in required:  # skipped over: the schema notices it here
                    if rank < r < here and tag not in counts and tag not in told:
                        told.add(tag)
                        self.add(c, "missing", name=tag)
                rank = here
            self.element(sub, c)
        for _, tag in required:
            if tag not in counts and tag not in told:
                self.add(el, "missing", name=tag)

    # ---- values ------------------------------------------------------------------------

    def leaf(self, node: Node, el: etree._Element) -> None:
        if any(isinstance(c.tag, str) for c in el):
            self.add(el, "not_a_value", name=node.tag)
            return
        fmt = node.fmt or "t"
        if fmt == "dt":
            self._attributes(el, ATTRIBUTES["d"])
            code = el.get("formatCode")
            if code is None:
                self.add(el, "attribute_missing", name="formatCode")
            elif code not in ("102", "304"):
                self.add(el, "attribute_value", name="formatCode", value=code[:40])
            value = el.text or ""
            if len(value) > 35 or not _DATETIME.fullmatch(value):
                self.add(el, "format", value=value[:40], format="CCYYMMDD[hhmmss(Z|±hh)]")
            return
        m = _FMT.match(fmt)
        assert m is not None, fmt
        base = m["base"]
        self._attributes(el, ATTRIBUTES[base])
        raw = el.text or ""
        if base in "cti":
            value = " ".join(raw.split()) if base == "c" else raw
            if m["chars"]:  # letters or digits only (an empty value passes)
                if not _CHARS[m["chars"]].fullmatch(value):
                    self.add(el, "format", value=value[:40], format=fmt)
                    return
            elif base != "c" and not re.fullmatch(r"[^\n\r]*[^ \t\n\r][^\n\r]*", value) or \
                    base == "c" and not value:
                self.add(el, "blank", name=node.tag)
                return
            if m["len"] and (len(value) > int(m["len"]) if m["max"]
                             else len(value) != int(m["len"])):
                self.add(el, "format", value=value[:40], format=fmt)
                return
            allowed = _ENUMS.get((local(el.getparent()), node.tag))
            if allowed is not None and value not in allowed:
                self.add(el, "enumeration", value=value[:40], allowed=", ".join(allowed))
            return
        value = raw.strip()
        if not _DECIMAL.fullmatch(value):
            self.add(el, "format", value=value[:40], format=fmt)
            return
        if m["len"]:
            try:
                number = Decimal(value)
            except InvalidOperation:  # pragma: no cover - the pattern rules it out
                self.add(el, "format", value=value[:40], format=fmt)
                return
            digits, fraction = _digits(number)
            too_many = digits > int(m["len"])
            too_fine = m["frac"] is not None and fraction > int(m["frac"])
            if too_many or too_fine:
                self.add(el, "format", value=value[:40], format=fmt)

    def _attributes(self, el: etree._Element, allowed: tuple[str, ...]) -> None:
        for key, value in el.attrib.items():
            if key.startswith(_XSI):
                continue
            if key not in allowed:
                self.add(el, "attribute", name=key.rsplit("}", 1)[-1])
            elif key == "currencyID" and not _CURRENCY.fullmatch(value):
                self.add(el, "attribute_value", name=key, value=value[:40])
            elif key == "unitCode" and not 1 <= len(value) <= 5:
                self.add(el, "attribute_value", name=key, value=value[:40])


def _digits(number: Decimal) -> tuple[int, int]:
    """(total digits, fraction digits) of a decimal's value (leading and trailing zeros
    do not count), as the schema's totalDigits and fractionDigits measure them."""
    if number.is_zero():
        return 1, 0
    t = number.normalize().as_tuple()
    exp = int(t.exponent)
    fraction = max(0, -exp)
    total = max(len(t.digits), fraction) if exp < 0 else len(t.digits) + exp
    return total, fraction


def check_document(root: etree._Element) -> list[SchemaError]:
    """Schema errors of a DMS message (MetaData, or a bare Declaration), in document order."""
    c = _Check()
    if local(root) == "MetaData" and etree.QName(root).namespace == NS_MD:
        c.envelope(root)
    elif local(root) == "Declaration":
        c.element(DECLARATION, root)
    else:
        c.add(root, "unknown", name=local(root))
    return c.errors
