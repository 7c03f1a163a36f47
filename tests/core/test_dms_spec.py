"""The profile tree in client/interchange/dms/spec.py against the published CDS schema.

The tree is the product's own statement of the DEC-DMS declaration (element order,
occurrences, formats); the schema files are not shipped.  This test reads the schema in
place and checks that the two agree element by element, and that every model field the
tree names exists.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from client.declaration.model import Declaration
from client.interchange.dms.spec import DECLARATION, NS_DS, Node

XS = "{http://www.w3.org/2001/XMLSchema}"
_BASES = {"CodeType": "c", "IDType": "i", "TextType": "t", "AmountType": "a",
          "MeasureType": "m", "QuantityType": "q", "NumericType": "n"}


def _schema(conformance: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    base = conformance / "hmrc-dms" / "schemas" / "declaration"
    dec = etree.parse(str(base / "WCO_DEC_2_DMS.xsd")).getroot()
    ds = etree.parse(str(base / "WCO_DS" / "WCO_DEC_DS_2_DMS.xsd")).getroot()
    types = {ct.get("name"): ct for ct in dec.findall(XS + "complexType")}
    dstypes = {ct.get("name"): ct
               for ct in ds.findall(XS + "complexType") + ds.findall(XS + "simpleType")}
    return types, dstypes


def _format(ds_type: etree._Element) -> str:
    """The schema's restriction in the tree's notation (c..3, c2, a16,3, n, dt…)."""
    if ds_type.find(".//" + XS + "element") is not None:
        return "dt"
    r = ds_type.find(".//" + XS + "restriction")
    if r is None:
        return "?"
    letter = _BASES[r.get("base").split(":")[1]]
    facets = {etree.QName(c).localname: c.get("value") for c in r if isinstance(c.tag, str)}
    chars = {"([a-zA-Z])*": ":A", "([0-9])*": ":9"}.get(facets.get("pattern", ""), "")
    if "length" in facets:
        return f"{letter}{facets['length']}{chars}"
    if "maxLength" in facets:
        return f"{letter}..{facets['maxLength']}{chars}"
    if "totalDigits" in facets:
        fraction = facets.get("fractionDigits")
        return f"{letter}{facets['totalDigits']}" + (f",{fraction}" if fraction else "")
    return letter


def _compare(node: Node, ct: etree._Element, types: dict, dstypes: dict, path: str,
             problems: list[str]) -> None:
    seq = ct.find(XS + "sequence")
    elements = seq.findall(XS + "element") if seq is not None else []
    names = [e.get("name") for e in elements]
    if [c.tag for c in node.children] != names:
        problems.append(f"{path}: children {[c.tag for c in node.children]} != {names}")
        return
    for child, e in zip(node.children, elements, strict=True):
        here = f"{path}/{child.tag}"
        mx = e.get("maxOccurs", "1")
        limit = None if mx == "unbounded" else int(mx)
        if child.limit != limit:
            problems.append(f"{here}: occurs at most {child.limit}, schema {limit}")
        if child.required != (e.get("minOccurs", "1") != "0"):
            problems.append(f"{here}: required={child.required}, schema minOccurs "
                            f"{e.get('minOccurs', '1')}")
        t = e.get("type")
        if t and t.startswith("ds:"):
            fmt = _format(dstypes[t[3:]])
            if fmt == "dt":
                ok = child.kind == "one" and child.children[0].tag == "DateTimeString" \
                    and child.children[0].ns == NS_DS
                if not ok:
                    problems.append(f"{here}: a date/time element, not mapped as one")
            elif child.fmt != fmt:
                problems.append(f"{here}: format {child.fmt}, schema {fmt}")
        else:
            inner = types[t] if t else e.find(XS + "complexType")
            if child.kind == "leaf":
                problems.append(f"{here}: a leaf in the tree, a structure in the schema")
            else:
                _compare(child, inner, types, dstypes, here, problems)


def test_tree_matches_the_published_schema(conformance: Path) -> None:
    types, dstypes = _schema(conformance)
    problems: list[str] = []
    _compare(DECLARATION, types["Declaration"], types, dstypes, "Declaration", problems)
    assert problems == []


def _model_of(annotation: Any) -> Any:
    from typing import get_args

    from pydantic import BaseModel

    stack = [annotation]
    while stack:
        a = stack.pop()
        if isinstance(a, type) and issubclass(a, BaseModel):
            return a
        stack.extend(get_args(a))
    return None


def _fields(node: Node, model: Any, path: str, problems: list[str], parent: Any = None) -> None:
    for child in node.children:
        here = f"{path}/{child.tag}"
        name = child.field
        if child.kind == "codec":
            continue
        if child.kind == "group":
            _fields(child, model, here, problems, parent)
            continue
        if name == "":
            continue
        target = model
        if name and name.startswith("^"):
            target, name = parent, name[1:]
            if child.own and child.own not in model.model_fields:
                problems.append(f"{here}: no field {child.own} on {model.__name__}")
        if name is None:
            continue
        steps = name.split(".")
        for step in steps[:-1]:
            target = _model_of(target.model_fields[step].annotation)
        if steps[-1] not in target.model_fields:
            problems.append(f"{here}: no field {name} on {target.__name__}")
            continue
        for _, attr_field in child.attrs:
            if attr_field not in target.model_fields:
                problems.append(f"{here}: no field {attr_field} on {target.__name__}")
        if child.kind in ("one", "many"):
            sub = _model_of(target.model_fields[steps[-1]].annotation)
            if sub is not None:
                _fields(child, sub, here, problems, parent=target)


def test_every_field_the_tree_names_exists() -> None:
    problems: list[str] = []
    _fields(DECLARATION, Declaration, "Declaration", problems)
    assert problems == []


def test_every_model_field_has_a_data_element_number() -> None:
    """Every field of the model says which WCO/UCC data element it holds (or x)."""
    from pydantic import BaseModel

    missing = []
    seen: set[type] = set()

    def walk(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, info in model.model_fields.items():
            if name in ("id", "version", "function", "amends", "dms", "type"):
                continue
            if not re.match(r"DE (\d+/\d+|\d+/x|x)", info.description or ""):
                missing.append(f"{model.__name__}.{name}")
            sub = _model_of(info.annotation)
            if sub is not None and sub.__name__ not in ("DmsExtra",):
                walk(sub)

    walk(Declaration)
    assert missing == []


@pytest.mark.parametrize("tag", ["Declaration"])
def test_tree_root(tag: str) -> None:
    assert DECLARATION.tag == tag and DECLARATION.kind == "group"
