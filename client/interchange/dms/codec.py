"""Reading and writing DEC-DMS elements by walking the profile tree (:mod:`.spec`).

Reading builds plain dicts in the shape of the model (pydantic validates them afterwards).
Whatever an object's element holds that the tree does not bind — an element the model has
no field for, a second occurrence of a single element, a value the model refuses, an
attribute without a field — is kept in that object's ``dms`` member: attributes by field,
whole elements verbatim with where they stood.  Writing puts every element back in the
schema's order, the kept ones at their place among their same-named siblings.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from lxml import etree

from client.common.i18n import ComptoirError
from client.interchange.dms.spec import NS_DEC, Node
from client.interchange.safexml import local, parse_xml

XSI = "http://www.w3.org/2001/XMLSchema-instance"


@dataclass
class Item:
    """A child element with its place: index among same-named siblings, position among all."""

    tag: str
    index: int
    position: int
    el: etree._Element


@dataclass
class Origin:
    """Where a value read into a dict came from, so that it can be kept verbatim instead."""

    owner: dict[str, Any]
    parent: str
    items: tuple[Item, ...]


@dataclass
class ReadContext:
    """State of one import: the declaration type (DE 7/5's place depends on it), the
    currency amounts default to, and everything kept verbatim (for the unmapped list)."""

    decl_type: str = "IM"
    kind: str = "declaration"
    invoice_currency: str | None = None
    kept_elements: list[etree._Element] = field(default_factory=list)
    kept_attrs: list[tuple[etree._Element, str]] = field(default_factory=list)
    dropped_attrs: list[tuple[etree._Element, str]] = field(default_factory=list)
    origins: dict[tuple[int, Any], Origin] = field(default_factory=dict)
    refused: list[tuple[etree._Element, str]] = field(default_factory=list)

    def keep(self, owner: dict[str, Any], parent: str, item: Item) -> None:
        """Carry ``item`` verbatim in ``owner``'s ``dms`` member."""
        xml = etree.tostring(item.el, method="c14n", exclusive=True).decode("utf-8")
        extra = owner.setdefault("dms", {})
        extra.setdefault("carried", []).append(
            {"parent": parent, "index": item.index, "position": item.position, "xml": xml})
        self.kept_elements.append(item.el)

    def origin(self, container: Any, key: Any, owner: dict[str, Any], parent: str,
               *items: Item) -> None:
        """Remember which elements gave ``container[key]`` (kept instead if refused)."""
        self.origins[(id(container), key)] = Origin(owner, parent, items)


def ns_ok(el: etree._Element, expected: str) -> bool:
    """In the expected namespace, or in none (hand-written files often omit it)."""
    ns = etree.QName(el).namespace
    return ns is None or ns == expected


@dataclass
class WriteContext:
    invoice_currency: str | None = None
    decl_type: str = "IM"
    placed: set[int] = field(default_factory=set)  # kept elements put back (or superseded)


# --------------------------------------------------------------------------- paths

def get_path(obj: Any, path: str) -> Any:
    """Value at a dotted field path of a model object (None where a step is absent)."""
    cur = obj
    for step in path.split("."):
        if cur is None:
            return None
        cur = cur.get(step) if isinstance(cur, dict) else getattr(cur, step, None)
    return cur


def set_path(obj: dict[str, Any], path: str, value: Any) -> tuple[dict[str, Any], str]:
    """Set a dotted path in a dict, creating the intermediate objects; returns the dict
    holding the last step and its key."""
    steps = path.split(".")
    cur = obj
    for step in steps[:-1]:
        cur = cur.setdefault(step, {})
    cur[steps[-1]] = value
    return cur, steps[-1]


def children(el: etree._Element) -> list[Item]:
    out: list[Item] = []
    seen: Counter[str] = Counter()
    for pos, c in enumerate(e for e in el if isinstance(e.tag, str)):
        tag = local(c)
        out.append(Item(tag, seen[tag], pos, c))
        seen[tag] += 1
    return out


def same_tree(a: etree._Element, b: etree._Element) -> bool:
    """Equal after dropping comments, insignificant whitespace and prefix choices (an
    element without a namespace matches its namespaced twin)."""
    qa, qb = etree.QName(a), etree.QName(b)
    if qa.localname != qb.localname or (qa.namespace and qb.namespace
                                        and qa.namespace != qb.namespace):
        return False
    if (a.text or "").strip() != (b.text or "").strip():
        return False
    if dict(a.attrib) != dict(b.attrib):
        return False
    ka = [c for c in a if isinstance(c.tag, str)]
    kb = [c for c in b if isinstance(c.tag, str)]
    return len(ka) == len(kb) and all(same_tree(x, y) for x, y in zip(ka, kb, strict=True))


# --------------------------------------------------------------------------- reading

Codec = Any  # see client.interchange.dms.codecs
_CODECS: dict[str, Codec] = {}
_HOOKS: dict[str, Any] = {}


def register(codecs: dict[str, Codec], hooks: dict[str, Any]) -> None:
    _CODECS.update(codecs)
    _HOOKS.update(hooks)


def _leaf_field(node: Node, decl_type: str) -> str | None:
    if node.when == "export" and decl_type != "EX":
        return None
    if node.when == "import" and decl_type == "EX":
        return None
    return node.field or None


def read_object(node: Node, el: etree._Element, ctx: ReadContext, *,
                parent: dict[str, Any] | None = None, first: bool = True,
                position: int = 1) -> dict[str, Any]:
    """The dict of a ``one`` / ``many`` element."""
    obj: dict[str, Any] = {}
    read_into(node, el, obj, "", ctx, parent=parent, first=first, position=position)
    return obj


def read_into(node: Node, el: etree._Element, owner: dict[str, Any], parent_path: str,
              ctx: ReadContext, *, parent: dict[str, Any] | None = None, first: bool = True,
              position: int = 1) -> None:
    """Bind ``el``'s children (``node``'s) to ``owner``; keep the rest verbatim."""
    _container_attrs(el, owner, parent_path, ctx)
    by_codec: dict[str, list[Item]] = {}
    for item in children(el):
        sub = node.by_tag.get(item.tag)
        if sub is None or not ns_ok(item.el, sub.ns):
            ctx.keep(owner, parent_path, item)
            continue
        if sub.kind == "codec":
            by_codec.setdefault(sub.codec or "", []).append(item)
            continue
        if item.index > 0 and sub.kind != "many":
            ctx.keep(owner, parent_path, item)
            continue
        here = f"{parent_path}/{item.tag}" if parent_path else item.tag
        if sub.kind == "leaf":
            if not _read_leaf(sub, item, owner, parent_path, ctx, parent, first, position):
                ctx.keep(owner, parent_path, item)
        elif sub.kind == "group":
            if not any(isinstance(c.tag, str) for c in item.el) and not item.el.attrib:
                owner.setdefault("dms", {}).setdefault("empty", []).append(here)
            read_into(sub, item.el, owner, here, ctx, parent=parent, first=first,
                      position=position)
        elif sub.kind == "one":
            value = read_object(sub, item.el, ctx, parent=owner)
            container, key = set_path(owner, sub.field or "", value)
            ctx.origin(container, key, owner, parent_path, item)
        else:
            _read_many(sub, item, owner, parent_path, ctx)
    for name, items in by_codec.items():
        _CODECS[name].read(items, owner, parent_path, ctx)
    for sub in node.children:
        if sub.kind == "many" and sub.hook:
            _HOOKS[sub.hook].after_read(owner, ctx)
        elif sub.index_default and sub.field not in owner:  # no default on the way out
            owner.setdefault("dms", {}).setdefault("absent", []).append(sub.field)


def _read_many(sub: Node, item: Item, owner: dict[str, Any], parent_path: str,
               ctx: ReadContext) -> None:
    lst = owner.setdefault(sub.field or "", [])
    limit = sub.limit if sub.limit is not None else 999
    if len(lst) >= limit:
        ctx.keep(owner, parent_path, item)
        return
    scalar = len(sub.children) == 1 and sub.children[0].kind == "leaf" \
        and sub.children[0].field == ""
    if scalar:
        kids = children(item.el)
        if (len(kids) != 1 or kids[0].tag != sub.children[0].tag or len(kids[0].el)
                or item.el.attrib or kids[0].el.attrib):
            ctx.keep(owner, parent_path, item)
            return
        lst.append((kids[0].el.text or "").strip())
    else:
        lst.append(read_object(sub, item.el, ctx, parent=owner, first=not lst,
                               position=len(lst) + 1))
    ctx.origin(lst, len(lst) - 1, owner, parent_path, item)


def _container_attrs(el: etree._Element, owner: dict[str, Any], parent_path: str,
                     ctx: ReadContext) -> None:
    """Attributes on an element with children: none in the profile, kept if present."""
    extra: dict[str, str] = {}
    for key, value in el.attrib.items():
        if key.startswith("{" + XSI + "}"):
            ctx.dropped_attrs.append((el, key))
            continue
        extra[key] = value
        ctx.kept_attrs.append((el, key))
    if extra:
        owner.setdefault("dms", {}).setdefault("attrs", {})["/" + parent_path] = extra


def _read_leaf(node: Node, item: Item, owner: dict[str, Any], parent_path: str,
               ctx: ReadContext, parent: dict[str, Any] | None, first: bool,
               position: int) -> bool:
    name = _leaf_field(node, ctx.decl_type)
    if name is None or any(isinstance(c.tag, str) for c in item.el):
        return False
    target = owner
    if name.startswith("^"):  # bound on the enclosing object, from the first element only
        if parent is not None and first:
            target, name = parent, name[1:]
        elif node.own:
            name = node.own
        else:
            return False
    value: Any = (item.el.text or "").strip()
    if node.transform == "bool01":
        if value not in ("0", "1"):
            return False
        value = value == "1"
    if node.index_default and value == str(position):
        value = None
    mapped = dict(node.attrs)
    extra: dict[str, str] = {}
    attr_values: dict[str, str] = {}
    for key, raw in item.el.attrib.items():
        if key.startswith("{" + XSI + "}"):
            ctx.dropped_attrs.append((item.el, key))
            continue
        if key in mapped:
            attr_values[key] = raw.strip()
        else:
            extra[key] = raw
            ctx.kept_attrs.append((item.el, key))
    if node.default_currency:
        cur = attr_values.pop("currencyID", None)
        if cur is None:
            if ctx.invoice_currency:
                extra["currencyID"] = ""  # absent: no invoice currency on the way out
        elif cur != ctx.invoice_currency:
            attr_values["currencyID"] = cur
    container, key = set_path(target, name, value)
    ctx.origin(container, key, owner, parent_path, item)
    for attr, attr_value in attr_values.items():
        set_path(target, mapped[attr], attr_value)
    if extra:
        target.setdefault("dms", {}).setdefault("attrs", {})[name] = extra
    if isinstance(value, str) and node.fmt and node.fmt[0] in "amqn":
        plain = _plain_number(value)
        if plain is not None and (plain != value or value.startswith("-0")):  # 007, -0
            target.setdefault("dms", {}).setdefault("lexical", {})[name] = value
    return True


def _plain_number(text: str) -> str | None:
    """How the export writes the number ``text`` (None if it is no number)."""
    try:
        number = Decimal(text)
    except ArithmeticError:
        return None
    if not number.is_finite():
        return None
    return _text(number)


# --------------------------------------------------------------------------- writing

def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def qname(node: Node) -> str:
    return node.qname


def _get(obj: Any, path: str) -> Any:
    """``get_path`` for model objects, the common one-step case first."""
    if "." not in path:
        return getattr(obj, path, None) if obj is not None else None
    return get_path(obj, path)


def write_object(node: Node, obj: Any, ctx: WriteContext, *, parent: Any = None,
                 first: bool = True, position: int = 1) -> etree._Element:
    el = etree.Element(node.qname)
    extra = getattr(obj, "dms", None)
    write_into(node, el, obj, "", ctx, extra, parent=parent, first=first, position=position)
    _place_leftovers(el, extra, ctx)
    return el


def write_into(node: Node, el: etree._Element, obj: Any, parent_path: str, ctx: WriteContext,
               extra: Any, *, parent: Any = None, first: bool = True, position: int = 1) -> None:
    """Append ``node``'s children for ``obj`` to ``el`` in schema order, kept ones included."""
    for child in _made(node, obj, parent_path, ctx, extra, parent, first, position):
        el.append(child)
    if extra is not None and extra.attrs:
        for key, value in extra.attrs.get("/" + parent_path, {}).items():
            el.set(key, value)


def _made(node: Node, obj: Any, parent_path: str, ctx: WriteContext, extra: Any,
          parent: Any, first: bool, position: int) -> list[etree._Element]:
    made: list[tuple[int, etree._Element]] = []
    for rank, sub in enumerate(node.children):
        for child in _write_child(sub, obj, parent_path, ctx, extra, parent, first, position):
            made.append((rank, child))
    if extra is not None and extra.carried:
        carried = [c for c in extra.carried if c.parent == parent_path]
        if carried:
            made = _merge_carried(node, made, carried)
            ctx.placed.update(id(c) for c in carried)
    return [child for _, child in made]


def _write_child(sub: Node, obj: Any, parent_path: str, ctx: WriteContext, extra: Any,
                 parent: Any, first: bool, position: int) -> list[etree._Element]:
    kind = sub.kind
    if kind == "leaf":
        e = _write_leaf(sub, obj, ctx, parent, first, position)
        return [e] if e is not None else []
    if kind == "group":
        here = f"{parent_path}/{sub.tag}" if parent_path else sub.tag
        kids = _made(sub, obj, here, ctx, extra, parent, first, position)
        attrs = extra.attrs.get("/" + here) if extra is not None and extra.attrs else None
        if not kids and not attrs and (extra is None or here not in extra.empty):
            return []
        g = etree.Element(sub.qname)
        for k in kids:
            g.append(k)
        for key, value in (attrs or {}).items():
            g.set(key, value)
        return [g]
    if kind == "one":
        value = _get(obj, sub.field or "")
        return [write_object(sub, value, ctx, parent=obj)] if value is not None else []
    if kind == "many":
        values = list(_get(obj, sub.field or "") or [])
        if sub.hook:
            values = _HOOKS[sub.hook].before_write(obj, values)
        if not values:
            return []
        leaf = sub.children[0] if len(sub.children) == 1 else None
        if leaf is not None and leaf.kind == "leaf" and leaf.field == "":
            out = []
            for v in values:
                e = etree.Element(sub.qname)
                etree.SubElement(e, leaf.qname).text = _text(v)
                out.append(e)
            return out
        return [write_object(sub, v, ctx, parent=obj, first=i == 0, position=i + 1)
                for i, v in enumerate(values)]
    codec = _CODECS[sub.codec or ""]
    return [e for e in codec.write(obj, ctx) if local(e) == sub.tag]


def _write_leaf(node: Node, obj: Any, ctx: WriteContext, parent: Any, first: bool,
                position: int) -> etree._Element | None:
    name = _leaf_field(node, ctx.decl_type)
    if name is None:
        return None
    target = obj
    if name[0] == "^":
        if parent is not None and first and _get(parent, name[1:]) is not None:
            target, name = parent, name[1:]
        elif node.own:
            name = node.own
        else:
            return None
    value = _get(target, name)
    if value is None:
        if not node.index_default:
            return None
        extra = getattr(target, "dms", None)
        if extra is not None and name in extra.absent:
            return None
        value = position
    e = etree.Element(node.qname)
    e.text = _text(value)
    extra = getattr(target, "dms", None)
    if extra is not None and extra.lexical and name in extra.lexical:
        written = extra.lexical[name]
        if _plain_number(written) is not None and Decimal(written) == value:
            e.text = written  # the number as it came, while its value is unchanged
    kept = extra.attrs.get(name, {}) if extra is not None and extra.attrs else {}
    for attr, fname in node.attrs:
        v = _get(target, fname)
        if v is None and node.default_currency and attr == "currencyID":
            v = None if kept.get(attr) == "" else ctx.invoice_currency
        if v:
            e.set(attr, v)
    for attr, v in kept.items():
        if v != "":
            e.set(attr, v)
    return e


def parse_carried(xml: str) -> etree._Element:
    """A kept element, back as an element; one that came without a namespace (a lenient
    import of a file that had none) goes out in the declaration's, like the rest."""
    try:
        el = parse_xml(xml.encode("utf-8"), source="<kept element>")
    except ComptoirError:
        raise ComptoirError("dms.kept_unreadable", 2) from None
    for e in el.iter():
        if isinstance(e.tag, str) and not e.tag.startswith("{"):
            e.tag = f"{{{NS_DEC}}}{e.tag}"
    return el


def _merge_carried(node: Node, made: list[tuple[int, etree._Element]],
                   carried: list[Any]) -> list[tuple[int, etree._Element]]:
    """Insert kept elements: a known tag at its schema rank and same-tag index (a single
    element the model now writes itself supersedes the kept one); an unknown tag at its
    old position."""
    out = list(made)
    for c in sorted(carried, key=lambda c: (c.position, c.index)):
        el = parse_carried(c.xml)
        tag = local(el)
        rank = node.rank.get(tag)
        if rank is None:
            out.insert(min(c.position, len(out)), (-1, el))
            continue
        sub = node.children[rank]
        same = [i for i, (r, _) in enumerate(out) if r == rank]
        if same and c.index == 0 and not sub.repeated and sub.kind != "many":
            continue  # superseded: the model holds this element now
        if c.index < len(same):
            out.insert(same[c.index], (rank, el))
        else:
            after = [i for i, (r, _) in enumerate(out) if 0 <= r <= rank]
            out.insert(after[-1] + 1 if after else _first_above(out, rank), (rank, el))
    return out


def _first_above(out: list[tuple[int, etree._Element]], rank: int) -> int:
    for i, (r, _) in enumerate(out):
        if r > rank:
            return i
    return len(out)


def _place_leftovers(el: etree._Element, extra: Any, ctx: WriteContext) -> None:
    """Kept elements no group of the profile took (their parent path names none) still go
    out, under the object's own element: never dropped."""
    if extra is None or not extra.carried:
        return
    for c in extra.carried:
        if id(c) not in ctx.placed and c.parent != "^":  # "^": the MetaData's (writer.py)
            el.append(parse_carried(c.xml))
