"""Elements the model holds in another shape than the XML's, read and written as a pair.

Each codec maps only what it can write back identically (checked element by element);
anything else stays in the object's ``dms`` member, verbatim, where it was.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from client.interchange.dms.codec import (
    Item,
    ReadContext,
    WriteContext,
    ns_ok,
    register,
    same_tree,
)
from client.interchange.dms.spec import NS_DEC
from client.interchange.safexml import local

CODE_MAX = 35  # the model's codes (client.declaration.model.Code)


def _el(tag: str, text: Any = None, *kids: etree._Element) -> etree._Element:
    e = etree.Element(f"{{{NS_DEC}}}{tag}")
    if text is not None:
        e.text = str(text)
    for k in kids:
        e.append(k)
    return e


def _plain(item: Item, *allowed: str) -> dict[str, str] | None:
    """The texts of an element made only of distinct, attribute-free leaves in ``allowed``."""
    if item.el.attrib or (item.el.text or "").strip():
        return None
    out: dict[str, str] = {}
    for c in item.el:
        if not isinstance(c.tag, str):
            continue
        name = local(c)
        if name not in allowed or name in out or c.attrib or len(c) or not ns_ok(c, NS_DEC):
            return None
        out[name] = (c.text or "").strip()
    return out


def _check(item: Item, rebuilt: etree._Element) -> bool:
    return same_tree(item.el, rebuilt)


def _remember_order(owner: dict[str, Any], tag: str, found: list[str], default: list[str]) -> None:
    """Keep the order of mapped elements (by key) where it is not the export's own."""
    if found != default:
        owner.setdefault("dms", {}).setdefault("order", {})[tag] = found


def _in_order(obj: Any, tag: str, made: list[tuple[str, etree._Element]]) -> list[etree._Element]:
    """The elements in the order an import kept (keys matched in turn), else as made."""
    extra = getattr(obj, "dms", None)
    order = extra.order.get(tag) if extra is not None else None
    if not order:
        return [e for _, e in made]
    rest = list(made)
    out = []
    for key in order:
        hit = next((i for i, (k, _) in enumerate(rest) if k == key), None)
        if hit is not None:
            out.append(rest.pop(hit)[1])
    return out + [e for _, e in rest]


class FunctionType:
    """FunctionCode 9/13 and TypeCode: the function, DE 1/1 type and DE 1/2 additional type.

    13 with INV is a cancellation (invalidation) request, 13 with COR an amendment.
    """

    def read(self, items: list[Item], owner: dict[str, Any], parent: str,
             ctx: ReadContext) -> None:
        # what the document is was decided from these two elements already (classify)
        owner["function"] = {"declaration": "original", "wrapped": "original"}.get(
            ctx.kind, ctx.kind)
        for item in items:
            text = (item.el.text or "").strip()
            plain = not item.el.attrib and not len(item.el) and item.index == 0
            if item.tag == "TypeCode" and item.index == 0 \
                    and ctx.kind in ("declaration", "wrapped") \
                    and text[:2] in ("IM", "EX", "CO") and len(text) in (2, 3):
                owner["type"] = text[:2]  # known even when the element is kept as it came
                owner["additional_type"] = text[2:] or None
                if plain:
                    continue
            elif plain and item.tag == "FunctionCode" and text in ("9", "13"):
                continue
            elif plain and (ctx.kind, text) in (("amendment", "COR"), ("cancellation", "INV")):
                continue
            ctx.keep(owner, parent, item)
            if item.index == 0:  # kept as it came: the export writes no default for it
                owner.setdefault("dms", {}).setdefault("absent", []).append(item.tag)
        if not any(item.tag == "TypeCode" for item in items):  # none: none made up
            owner.setdefault("dms", {}).setdefault("absent", []).append("TypeCode")

    def write(self, obj: Any, ctx: WriteContext) -> list[etree._Element]:
        fc = "9" if obj.function == "original" else "13"
        if obj.function in ("amendment", "post_release_amendment"):
            tc = "COR"  # CDS takes a post-release amendment as a COR as well
        elif obj.function == "cancellation":
            tc = "INV"
        else:
            tc = obj.type + (obj.additional_type or "")
        absent = obj.dms.absent if obj.dms is not None else []
        return [_el(tag, text) for tag, text in (("FunctionCode", fc), ("TypeCode", tc))
                if tag not in absent]


class Classification:
    """DE 6/14 (TSP: CN, 8 digits) + DE 6/15 (TRC: TARIC, 2) as one commodity code,
    DE 6/16 (TRA) additional codes, DE 6/17 (GN) national codes, DE 6/13 (CV) CUS code."""

    ORDER = ("TSP", "TRC", "TRA", "GN", "CV")

    def read(self, items: list[Item], owner: dict[str, Any], parent: str,
             ctx: ReadContext) -> None:
        found: list[tuple[Item, str, str]] = []
        for item in items:
            kv = _plain(item, "ID", "IdentificationTypeCode")
            kind = (kv or {}).get("IdentificationTypeCode", "")
            value = (kv or {}).get("ID", "")
            if kv is None or kind not in self.ORDER or not value or len(value) > CODE_MAX:
                ctx.keep(owner, parent, item)
                continue
            found.append((item, kind, value))
        tsp = next(((i, v) for i, k, v in found if k == "TSP"), None)
        trc = next(((i, v) for i, k, v in found if k == "TRC"), None)
        cv = next(((i, v) for i, k, v in found if k == "CV"), None)
        used: set[int] = set()
        if tsp is not None and len(tsp[1]) <= 8:
            owner["commodity_code"] = tsp[1]
            used.add(id(tsp[0]))
            ctx.origin(owner, "commodity_code", owner, parent, tsp[0])
            if trc is not None and len(tsp[1]) == 8 and len(trc[1]) == 2:
                owner["commodity_code"] = tsp[1] + trc[1]
                used.add(id(trc[0]))
                ctx.origin(owner, "commodity_code", owner, parent, tsp[0], trc[0])
        if cv is not None:
            owner["cus_code"] = cv[1]
            used.add(id(cv[0]))
            ctx.origin(owner, "cus_code", owner, parent, cv[0])
        for item, kind, value in found:
            if kind in ("TRA", "GN"):
                key = "additional_codes" if kind == "TRA" else "national_codes"
                codes = owner.setdefault(key, [])
                codes.append(value)
                ctx.origin(codes, len(codes) - 1, owner, parent, item)
                used.add(id(item))
        kinds = []
        for item, kind, _ in found:
            if id(item) not in used:
                ctx.keep(owner, parent, item)
            else:
                kinds.append(kind)
        _remember_order(owner, "Classification", kinds,
                        sorted(kinds, key=self.ORDER.index))

    def write(self, obj: Any, ctx: WriteContext) -> list[etree._Element]:
        pairs: list[tuple[str, str]] = []
        code = obj.commodity_code
        if code:
            pairs.append((code[:8], "TSP"))
            if len(code) > 8:
                pairs.append((code[8:], "TRC"))
        pairs += [(c, "TRA") for c in obj.additional_codes]
        pairs += [(c, "GN") for c in obj.national_codes]
        if obj.cus_code:
            pairs.append((obj.cus_code, "CV"))
        return _in_order(obj, "Classification", [
            (k, _el("Classification", None, _el("ID", v), _el("IdentificationTypeCode", k)))
            for v, k in pairs])


class Procedure:
    """DE 1/10 procedure (requested 2 + previous 2) and DE 1/11 additional procedures."""

    def read(self, items: list[Item], owner: dict[str, Any], parent: str,
             ctx: ReadContext) -> None:
        found = []
        for item in items:
            kv = _plain(item, "CurrentCode", "PreviousCode")
            cur, prev = (kv or {}).get("CurrentCode", ""), (kv or {}).get("PreviousCode")
            if kv is not None and len(cur) == 2 and (prev is None or len(prev) == 2) \
                    and "procedure_code" not in owner:
                owner["procedure_code"] = cur + (prev or "")
                ctx.origin(owner, "procedure_code", owner, parent, item)
                found.append("p")
            elif kv is not None and len(cur) == 3 and "PreviousCode" not in kv:
                codes = owner.setdefault("additional_procedure_codes", [])
                codes.append(cur)
                ctx.origin(codes, len(codes) - 1, owner, parent, item)
                found.append("a")
            else:
                ctx.keep(owner, parent, item)
        _remember_order(owner, "GovernmentProcedure", found, sorted(found, reverse=True))

    def write(self, obj: Any, ctx: WriteContext) -> list[etree._Element]:
        out = []
        if obj.procedure_code:
            kids = [_el("CurrentCode", obj.procedure_code[:2])]
            if obj.procedure_code[2:]:
                kids.append(_el("PreviousCode", obj.procedure_code[2:]))
            out.append(("p", _el("GovernmentProcedure", None, *kids)))
        out += [("a", _el("GovernmentProcedure", None, _el("CurrentCode", c)))
                for c in obj.additional_procedure_codes]
        return _in_order(obj, "GovernmentProcedure", out)


class Origin:
    """DE 5/15 country of origin (TypeCode 1) and DE 5/16 preferential origin (2)."""

    FIELDS = {"1": "country_of_origin", "2": "preferential_origin"}

    def read(self, items: list[Item], owner: dict[str, Any], parent: str,
             ctx: ReadContext) -> None:
        found = []
        for item in items:
            kv = _plain(item, "CountryCode", "TypeCode")
            kind = (kv or {}).get("TypeCode", "")
            target = self.FIELDS.get(kind)
            if kv is None or target is None or target in owner or not kv.get("CountryCode") \
                    or len(kv["CountryCode"]) > CODE_MAX:
                ctx.keep(owner, parent, item)
                continue
            owner[target] = kv["CountryCode"]
            ctx.origin(owner, target, owner, parent, item)
            found.append(kind)
        _remember_order(owner, "Origin", found, sorted(found))

    def write(self, obj: Any, ctx: WriteContext) -> list[etree._Element]:
        return _in_order(obj, "Origin", [
            (t, _el("Origin", None, _el("CountryCode", c), _el("TypeCode", t)))
            for c, t in ((obj.country_of_origin, "1"), (obj.preferential_origin, "2")) if c])


class GoodsLocation:
    """DE 5/23 as one code: country (2) + type of location (1) + qualifier (1) + identifier,
    e.g. GBAUWLALONBTW; or an identifier alone."""

    def read(self, items: list[Item], owner: dict[str, Any], parent: str,
             ctx: ReadContext) -> None:
        for item in items:
            value = self._value(item) if item.index == 0 else None
            if value is None:
                ctx.keep(owner, parent, item)
            else:
                owner["goods_location"] = value
                ctx.origin(owner, "goods_location", owner, parent, item)

    def _value(self, item: Item) -> str | None:
        kids = [c for c in item.el if isinstance(c.tag, str)]
        if item.el.attrib or not kids or local(kids[0]) != "Name":
            return None
        name = (kids[0].text or "").strip()
        if len(kids) == 1:
            value = name
        else:
            if len(kids) != 3 or local(kids[1]) != "TypeCode" or local(kids[2]) != "Address":
                return None
            addr = Item("Address", 0, 2, kids[2])
            kv = _plain(addr, "TypeCode", "CountryCode")
            if kv is None or len(kv) != 2:
                return None
            value = kv["CountryCode"] + (kids[1].text or "").strip() + kv["TypeCode"] + name
        rebuilt = self._build(value)
        return value if rebuilt is not None and _check(item, rebuilt) else None

    def _build(self, loc: str | None) -> etree._Element | None:
        if not loc:
            return None
        if len(loc) > 4 and loc[:2].isalpha():
            return _el("GoodsLocation", None, _el("Name", loc[4:]), _el("TypeCode", loc[2]),
                       _el("Address", None, _el("TypeCode", loc[3]), _el("CountryCode", loc[:2])))
        return _el("GoodsLocation", None, _el("Name", loc))

    def write(self, obj: Any, ctx: WriteContext) -> list[etree._Element]:
        e = self._build(obj.goods_location)
        return [e] if e is not None else []


class Equipment:
    """DE 7/10 container numbers (sequence 1, 2…) with their DE 7/18 seals."""

    def read(self, items: list[Item], owner: dict[str, Any], parent: str,
             ctx: ReadContext) -> None:
        transport = owner.setdefault("transport", {})
        for item in items:
            mapped = self._read(item, len(transport.get("equipment_numbers", [])) + 1)
            if mapped is None:
                ctx.keep(owner, parent, item)
                continue
            number, seals = mapped
            transport.setdefault("equipment_numbers", []).append(number)
            if seals:
                transport.setdefault("seals", []).extend(seals)

    def _read(self, item: Item, n: int) -> tuple[str, list[dict[str, Any]]] | None:
        kids = [c for c in item.el if isinstance(c.tag, str)]
        if item.el.attrib or len(kids) < 2 or local(kids[0]) != "SequenceNumeric" \
                or local(kids[1]) != "ID":
            return None
        seq, number = _leaf_text(kids[0]), _leaf_text(kids[1])
        if seq != str(n) or not number or len(number) > CODE_MAX:
            return None
        seals = []
        for s in kids[2:]:
            kv = _plain(Item("Seal", 0, 0, s), "SequenceNumeric", "ID") \
                if local(s) == "Seal" else None
            if kv is None or set(kv) != {"SequenceNumeric", "ID"} \
                    or not kv["SequenceNumeric"].isdigit() or len(kv["SequenceNumeric"]) > 5 \
                    or len(kv["ID"]) > CODE_MAX:
                return None
            seals.append({"equipment": n, "sequence": int(kv["SequenceNumeric"]), "id": kv["ID"]})
        rebuilt = self._build(n, number, seals)
        return (number, seals) if _check(item, rebuilt) else None

    def _build(self, n: int, number: str | None, seals: list[Any]) -> etree._Element:
        e = _el("TransportEquipment", None, _el("SequenceNumeric", n))
        if number is not None:
            e.append(_el("ID", number))
        for i, s in enumerate(seals, start=1):
            seq = s["sequence"] if isinstance(s, dict) else s.sequence
            sid = s["id"] if isinstance(s, dict) else s.id
            seal = _el("Seal", None, _el("SequenceNumeric", seq if seq is not None else i))
            if sid is not None:
                seal.append(_el("ID", sid))
            e.append(seal)
        return e

    def write(self, obj: Any, ctx: WriteContext) -> list[etree._Element]:
        t = obj.transport
        if t is None:
            return []
        out = []
        for n, number in enumerate(t.equipment_numbers, start=1):
            out.append(self._build(n, number, [s for s in t.seals if s.equipment == n]))
        orphans = sorted({s.equipment for s in t.seals
                          if not (s.equipment and 1 <= s.equipment <= len(t.equipment_numbers))},
                         key=lambda v: -1 if v is None else v)
        for n in orphans:  # seals on a container the list does not name: still sent
            out.append(self._build(n or 0, None, [s for s in t.seals if s.equipment == n]))
        return out


def _leaf_text(e: etree._Element) -> str | None:
    """The text of an attribute-free leaf of the declaration namespace, else None."""
    if e.attrib or len(e) or not ns_ok(e, NS_DEC):
        return None
    return (e.text or "").strip()


class DutyHook:
    """DE 4/17 preference rides on the first DutyTaxFee; an item with a preference and no
    duty lines is one DutyTaxFee holding only it."""

    def after_read(self, owner: dict[str, Any], ctx: ReadContext) -> None:
        lines = owner.get("duty_tax_lines")
        if lines == [{}] and "preference" in owner:
            owner["duty_tax_lines"] = []

    def before_write(self, obj: Any, values: list[Any]) -> list[Any]:
        if not values and obj.preference is not None:
            from client.declaration.model import DutyTaxLine

            return [DutyTaxLine()]
        return values


register(
    {"function_type": FunctionType(), "classification": Classification(),
     "procedure": Procedure(), "origin": Origin(), "goods_location": GoodsLocation(),
     "equipment": Equipment()},
    {"duty": DutyHook()},
)
