"""The structural check of a DMS declaration (client/interchange/dms/check.py) says what the
published schema says: valid or not, and where — on the samples as published and on
samples damaged one way or another."""

from __future__ import annotations

import copy
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from client.common.i18n import ComptoirError
from client.interchange.dms import DmsSchemaError, check_document, import_dms_bytes
from client.interchange.dms.canonical import message_root
from client.interchange.dms.writer import dms_schema

S = "hmrc-dms/samples"


def _declarations(conformance: Path) -> list[tuple[str, etree._Element]]:
    out = []
    for f in sorted((conformance / S).glob("*.xml")):
        try:
            root = etree.parse(str(f)).getroot()
        except etree.XMLSyntaxError:
            continue
        meta = message_root(root)
        if any(etree.QName(c).localname == "Declaration" for c in meta):
            out.append((f.name, meta))
    return out


def _xsd_lines(conformance: Path, meta: etree._Element) -> list[int]:
    schema = dms_schema(conformance / "hmrc-dms" / "schemas" / "declaration")
    doc = etree.ElementTree(copy.deepcopy(meta))
    if schema.validate(doc):
        return []
    return [e.line for e in schema.error_log]


def test_the_published_declarations_are_valid_for_both(conformance: Path) -> None:
    found = _declarations(conformance)
    assert len(found) == 43
    for name, meta in found:
        assert _xsd_lines(conformance, meta) == [], name
        assert check_document(meta) == [], name


def _containers(root: etree._Element) -> list[etree._Element]:
    return [e for e in root.iter() if isinstance(e.tag, str) and len(e)
            and etree.QName(e).localname != "MetaData"]


def _leaves(root: etree._Element) -> list[etree._Element]:
    return [e for e in root.iter() if isinstance(e.tag, str) and not len(e)
            and etree.QName(e).namespace == "urn:wco:datamodel:WCO:DEC-DMS:2"]


def _damage(meta: etree._Element, rng: random.Random) -> str:
    """One schema error of one kind, at a random place (returns the kind)."""
    kind = rng.choice(["unknown", "repeat", "swap", "text", "attribute", "currency",
                       "drop_sequence"])
    if kind == "unknown":
        parent = rng.choice(_containers(meta))
        new = etree.Element(f"{{{etree.QName(parent).namespace}}}Unexpected")
        new.text = "x"
        parent.insert(rng.randrange(len(parent) + 1), new)
    elif kind == "repeat":
        leaf = rng.choice([e for e in _leaves(meta)
                           if etree.QName(e).localname in ("Name", "ID", "TypeCode",
                                                           "CountryCode", "Description")])
        leaf.addnext(copy.deepcopy(leaf))
    elif kind == "swap":
        parent = rng.choice([p for p in _containers(meta)
                             if len({etree.QName(c).localname for c in p
                                     if isinstance(c.tag, str)}) > 1])
        kids = [c for c in parent if isinstance(c.tag, str)]
        a = kids[0]
        b = next(c for c in reversed(kids)
                 if etree.QName(c).localname != etree.QName(a).localname)
        parent.remove(b)
        parent.insert(list(parent).index(a), b)
    elif kind == "text":
        leaf = rng.choice(_leaves(meta))
        leaf.text = rng.choice(["", "   ", "x" * 600, "1.23456789", "12345678901234567890",
                                "not a number", "-1"])
    elif kind == "attribute":
        rng.choice(_leaves(meta)).set("colour", "red")
    elif kind == "currency":
        amounts = [e for e in _leaves(meta) if e.get("currencyID")]
        if not amounts:
            return _damage(meta, rng)
        rng.choice(amounts).set("currencyID", rng.choice(["gbp", "POUND", "G1P"]))
    else:
        seqs = [e for e in _leaves(meta) if etree.QName(e).localname == "SequenceNumeric"]
        if not seqs:
            return _damage(meta, rng)
        seq = rng.choice(seqs)
        seq.getparent().remove(seq)
    return kind


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32))
def test_damaged_declarations_are_invalid_for_both_at_the_same_line(seed: int) -> None:
    from tests.conftest import conformance_dir

    conf = conformance_dir()
    if conf is None:
        pytest.skip("conformance material absent")
    rng = random.Random(seed)
    found = _declarations(conf)
    name, meta = found[rng.randrange(len(found))]
    meta = copy.deepcopy(meta)
    kind = _damage(meta, rng)
    # the damaged tree serialised and parsed again: both sides see the same lines
    meta = etree.fromstring(etree.tostring(meta))
    xsd = _xsd_lines(conf, meta)
    ours = [e.line for e in check_document(meta)]
    assert bool(xsd) == bool(ours), (name, kind, xsd, [e.render("en") for e in
                                                       check_document(meta)])
    if xsd:
        assert xsd[0] in ours, (name, kind, xsd, ours)


def test_a_schema_invalid_file_is_refused_with_its_errors_unless_lenient(
        conformance: Path) -> None:
    data = (conformance / S / "TT_IM001a__Step1_TT_IM001a.xml").read_bytes()
    bad = data.replace(b"<TotalPackageQuantity>50<", b"<TotalPackageQuantity>5O<")
    bad = bad.replace(b"<Declarant>", b"<Declarent><ID>x</ID></Declarent><Declarant>")
    with pytest.raises(DmsSchemaError) as info:
        import_dms_bytes(bad, "bad.xml")
    err = info.value
    assert err.exit_code == 2 and err.code == "dms.schema_invalid"
    assert [(e.message.code, e.element) for e in err.errors] == [
        ("dms.schema.format", "/MetaData/Declaration/TotalPackageQuantity"),
        ("dms.schema.unknown", "/MetaData/Declaration/Declarent")]
    assert all(e.line > 0 for e in err.errors)
    text = err.render("en")
    assert "line" in text and "--lenient" in text and err.render("fr") != text
    imp = import_dms_bytes(bad, "bad.xml", lenient=True)
    assert len(imp.schema_errors) == 2 and imp.declaration is not None
    assert imp.declaration.total_packages is None  # 5O is no number: kept verbatim
    assert "/MetaData/Declaration/TotalPackageQuantity" in imp.unmapped
    assert "/MetaData/Declaration/Declarent/ID" in imp.unmapped


def test_not_a_declaration_is_still_told_apart() -> None:
    with pytest.raises(ComptoirError):
        import_dms_bytes(b"<MetaData", "cut.xml")
    assert import_dms_bytes(b"<invoice/>", "inv.xml").kind == "unknown"


def test_the_command_line_refuses_or_imports_leniently(home: Path, conformance: Path,
                                                       tmp_path: Path) -> None:
    import json

    from tests.sync.helpers import comptoir as run
    from tests.sync.helpers import ok

    data = (conformance / S / "TT_IM001a__Step1_TT_IM001a.xml").read_bytes()
    bad = tmp_path / "bad.xml"
    bad.write_bytes(data.replace(b"<TotalPackageQuantity>50<", b"<TotalPackageQuantity>5O<")
                    .replace(b"<Declarant>", b"<Declarent>x</Declarent><Declarant>"))
    good = conformance / S / "TT_IM005a__TT_IM005a.xml"
    ok(run(home, "init"))
    p = run(home, "import", str(good), str(bad))
    assert p.returncode == 2 and "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 3 and "--lenient" in lines[-1]
    assert "TotalPackageQuantity" in lines[0] and "Declarent" in lines[1]
    assert all("line " in x for x in lines)
    assert json.loads(ok(run(home, "list", "--json")).stdout) == []  # nothing stored
    p = ok(run(home, "import", str(bad), "--lenient", "--json"))
    [entry] = json.loads(p.stdout)
    assert entry["id"] and len(entry["schema_errors"]) == 2
    assert entry["schema_errors"][0]["line"] > 0
    assert "TotalPackageQuantity" in "".join(entry["unmapped"])
    assert "DEC-DMS" in p.stderr


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32))
def test_a_damaged_declaration_imported_leniently_goes_back_as_it_came(seed: int) -> None:
    """Nothing the model cannot hold is lost: whatever a file holds, valid or not, goes
    back out (after canonicalisation)."""
    from client.interchange.dms import export_dms
    from client.interchange.dms.canonical import differences
    from tests.conftest import conformance_dir

    conf = conformance_dir()
    if conf is None:
        pytest.skip("conformance material absent")
    rng = random.Random(seed)
    found = _declarations(conf)
    name, meta = found[rng.randrange(len(found))]
    meta = copy.deepcopy(meta)
    kinds = [_damage(meta, rng) for _ in range(rng.randint(1, 3))]
    data = etree.tostring(meta)
    try:
        imp = import_dms_bytes(data, name, lenient=True)
    except ComptoirError as exc:
        pytest.fail(f"{name} {kinds}: refused: {exc.render('en')}")
    if imp.declaration is None:
        assert imp.kind == "unknown", (name, kinds)  # e.g. FunctionCode 9 made "x"
        return
    assert differences(data, export_dms(imp.declaration)) == [], (name, kinds)


@pytest.mark.parametrize("damage", [
    {"StatementTypeCode": "-1"},  # found by the property test above (seed 318)
    {"StatementTypeCode": "not a number", "DocumentSectionCode": ""},  # and with the pointer
])
def test_a_cancellation_whose_reason_came_damaged_keeps_its_reason(conformance: Path,
                                                                   damage: dict[str, str]) -> None:
    """A cancellation's free-text reason whose AES type code came damaged was taken for one
    of the original declaration's statements, dropped, and replaced by the default reason."""
    from client.interchange.dms import export_dms
    from client.interchange.dms.canonical import differences

    data = (conformance / S / "TT_IM011a__TT_IM011a_Cancellation.xml").read_bytes()
    meta = message_root(etree.fromstring(data))
    info = next(e for e in meta.iter() if isinstance(e.tag, str)
                and etree.QName(e).localname == "AdditionalInformation")
    for el in info.iter():
        name = etree.QName(el).localname if isinstance(el.tag, str) else ""
        if name in damage and (name != "DocumentSectionCode" or el.text == "06A"):
            el.text = damage[name]
    damaged = etree.tostring(meta)
    imp = import_dms_bytes(damaged, "damaged.xml", lenient=True)
    assert imp.declaration is not None
    out = export_dms(imp.declaration)
    assert differences(damaged, out) == []
    assert b"This is a duplicate declaration, please cancel" in out
    assert b"Cancellation requested by the declarant" not in out
