"""Comparing two DMS documents as the single window reads them.

Both sides are reduced to one canonical form — exclusive XML canonicalisation (C14N 1.0)
after dropping comments, processing instructions, whitespace-only text and the spaces
around values, schema hints (``xsi:*``), choosing the same namespace prefixes, and putting
differently named siblings in the schema's order — and then compared.  What remains is a
difference the receiver would see: a value changed, an element missing or added, or
same-named siblings in another order; :func:`differences` lists them by path.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from client.interchange.dms.spec import ENVELOPE, INDEX, NS_DEC, NS_DS, NS_MD
from client.interchange.safexml import local, parse_xml

_PREFIXES = {NS_MD: "md", NS_DEC: "dec", NS_DS: "ds"}
_XSI = "{http://www.w3.org/2001/XMLSchema-instance}"


@dataclass(frozen=True)
class Difference:
    """One difference between two documents: ``kind`` is changed, missing, added,
    reordered or attribute; ``path`` an element path with 1-based [n] among siblings."""

    kind: str
    path: str
    before: str = ""
    after: str = ""

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "path": self.path, "before": self.before, "after": self.after}


def message_root(root: etree._Element) -> etree._Element:
    """The MetaData element (or a bare Declaration) inside any envelope."""
    if local(root) in ("MetaData", "Declaration"):
        return root
    for el in root.iter():
        if local(el) == "MetaData" and any(local(c) == "Declaration" for c in el):
            return el
    return root


def _rank(path: tuple[str, ...], tag: str) -> int:
    if not path:
        return 0
    if path[0] == "MetaData":
        if len(path) == 1:
            return ENVELOPE.index(tag) if tag in ENVELOPE else len(ENVELOPE)
        path = path[1:]
    node = INDEX.nodes.get(path)
    if node is None:
        return 0
    return node.rank.get(tag, len(node.children))


def normalise(root: etree._Element) -> etree._Element:
    """A fresh tree in canonical shape (see the module docstring)."""

    def build(src: etree._Element, path: tuple[str, ...]) -> etree._Element:
        qn = etree.QName(src)
        ns = qn.namespace
        tag = f"{{{ns}}}{qn.localname}" if ns else qn.localname
        out = etree.Element(tag, nsmap={p: u for u, p in _PREFIXES.items()})
        for key, value in sorted(src.attrib.items()):
            if not key.startswith(_XSI):
                out.set(key, value.strip())
        kids = [c for c in src if isinstance(c.tag, str)]
        here = path + (qn.localname,)
        ranked = sorted(enumerate(kids), key=lambda p: (_rank(here, local(p[1])), p[0]))
        for _, c in ranked:
            out.append(build(c, here))
        if not kids:
            out.text = (src.text or "").strip()
        return out

    return build(root, ())


def canonical(data: bytes | etree._Element) -> bytes:
    """Exclusive C14N of the normalised message (MetaData, or a bare Declaration)."""
    root = parse_xml(data, source="<canonical>") if isinstance(data, bytes) else data
    tree = normalise(message_root(root))
    return etree.tostring(tree, method="c14n", exclusive=True, with_comments=False)


def differences(before: bytes | etree._Element, after: bytes | etree._Element,
                *, limit: int = 200) -> list[Difference]:
    """What a receiver would see changed from ``before`` to ``after`` (at most ``limit``)."""
    a = normalise(message_root(
        parse_xml(before, source="<before>") if isinstance(before, bytes) else before))
    b = normalise(message_root(
        parse_xml(after, source="<after>") if isinstance(after, bytes) else after))
    out: list[Difference] = []
    _diff(a, b, "/" + local(a), out, limit)
    return out


def _key(el: etree._Element) -> bytes:
    return etree.tostring(el, method="c14n", exclusive=True)


def _diff(a: etree._Element, b: etree._Element, path: str, out: list[Difference],
          limit: int) -> None:
    if len(out) >= limit:
        return
    if dict(a.attrib) != dict(b.attrib):
        for key in sorted(set(a.attrib) | set(b.attrib)):
            if a.get(key) != b.get(key):
                out.append(Difference("attribute", f"{path}/@{key.rsplit('}', 1)[-1]}",
                                      a.get(key) or "", b.get(key) or ""))
    ka, kb = list(a), list(b)
    if not ka and not kb:
        if (a.text or "") != (b.text or ""):
            out.append(Difference("changed", path, a.text or "", b.text or ""))
        return
    names = list(dict.fromkeys([local(c) for c in ka] + [local(c) for c in kb]))
    for name in names:
        xa = [c for c in ka if local(c) == name]
        xb = [c for c in kb if local(c) == name]
        if len(xa) > 1 and sorted(map(_key, xa)) == sorted(map(_key, xb)) \
                and list(map(_key, xa)) != list(map(_key, xb)):
            out.append(Difference("reordered", f"{path}/{name}"))
            continue
        for i in range(max(len(xa), len(xb))):
            step = f"{path}/{name}[{i + 1}]" if max(len(xa), len(xb)) > 1 else f"{path}/{name}"
            if i >= len(xb):
                out.append(Difference("missing", step))
            elif i >= len(xa):
                out.append(Difference("added", step))
            elif _key(xa[i]) != _key(xb[i]):
                _diff(xa[i], xb[i], step, out, limit)
            if len(out) >= limit:
                return
