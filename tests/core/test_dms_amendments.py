"""DMS amendments and cancellations (#18): imported as what they are, applied onto the
declaration they refer to, or held as pending until it arrives."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from client.declaration import states
from client.declaration.amendment import apply_amendment, validate_received
from client.declaration.validation import validate
from client.interchange.dms import export_dms, import_dms_file, validate_dms
from client.store import Store
from tests.sync.helpers import comptoir as run
from tests.sync.helpers import ok

KEY = "cd" * 32
S = "hmrc-dms/samples"
# (original, amendment or cancellation) as the samples pair them by scenario
PAIRS = [
    ("TT_EX009a__TT_EX009a.xml", "TT_EX009a__Step5_TT_EX009a_Amendment.xml"),
    ("TT_EX010a__TT_EX010a.xml", "TT_EX010a__TT_EX010a_Cancellation.xml"),
    ("TT_IM002b__TT_IM002a.xml", "TT_IM002b__TT_IM002b_Amendment.xml"),
    ("TT_IM002c__TT_IM002a.xml", "TT_IM002c__TT_IM002c_Complex_Multi_Amendment.xml"),
    ("TT_IM003a__TT_IM003a.xml", "TT_IM003a__TT_IM003a_Amendment_(Step_3).xml"),
    ("TT_IM003b__TT_IM003a.xml", "TT_IM003b__TT_IM003b_Amendment_(Step_3).xml"),
    ("TT_IM005b__TT_IM005b.xml", "TT_IM005b__TT_IM005b_Amendment.xml"),
    ("TT_IM008b__TT_IM008b.xml", "TT_IM008b__TT_IM008b_Amendment.xml"),
    ("TT_IM011a__TT_IM011a.xml", "TT_IM011a__TT_IM011a_Amendment.xml"),
    ("TT_IM011a__TT_IM011a.xml", "TT_IM011a__TT_IM011a_Cancellation.xml"),
]


def _accepted(store: Store, decl_id: str, mrn: str) -> None:
    """The single window took the sealed declaration and gave it its MRN (the outbox's
    own bookkeeping of a delivery, as the sync engine records it)."""
    from client.store import DeliveryResult

    seq = store.journal_entry(declaration_id=decl_id).seq
    store.record_deliveries([DeliveryResult(seq, "accepted", mrn=mrn, receipt="r")])


def _pair(conformance: Path, original: str, change: str) -> tuple:
    return (import_dms_file(conformance / S / original).declaration,
            import_dms_file(conformance / S / change))


def test_the_samples_pair_every_amendment_and_cancellation(conformance: Path) -> None:
    changes = sorted(f.name for f in (conformance / S).glob("*.xml")
                     if "Amendment" in f.name or "Cancellation" in f.name)
    assert sorted(c for _, c in PAIRS) == changes


@pytest.mark.parametrize(("original", "change"), PAIRS)
def test_each_sample_applies_onto_its_original(conformance: Path, original: str,
                                               change: str) -> None:
    schema_dir = conformance / "hmrc-dms" / "schemas" / "declaration"
    base, imp = _pair(conformance, original, change)
    am = imp.declaration
    assert imp.kind == am.function and imp.unmapped == []
    # as received it holds only what changes: checked as an amendment, not a declaration
    assert [f.code for f in validate_received(am) if f.severity == "error"] == []
    assert any(f.code == "V-MANDATORY" for f in validate(am))
    result = apply_amendment(base, am)
    assert (result.id, result.function, result.mrn) == (base.id, am.function, am.mrn)
    assert len(result.goods_items) == len(base.goods_items)
    assert result.amendments == am.amendments
    for item in am.goods_items:  # what the amendment gives is what the result holds
        target = next(i for i in result.goods_items if i.sequence == item.sequence)
        for name in item.model_fields_set - {"sequence", "documents", "packages"}:
            assert getattr(target, name) == getattr(item, name), (change, name)
    # nothing else moved: the untouched items and parties are the original's
    assert result.importer == base.importer and result.declarant == base.declarant
    assert [e for e in validate(result) if e.severity == "error"] == [], change
    assert validate_dms(export_dms(result), schema_dir) == []


def test_what_the_changes_are(conformance: Path) -> None:
    base, imp = _pair(conformance, *PAIRS[3])  # IM002c: the complex multi-amendment
    r = apply_amendment(base, imp.declaration)
    assert r.exporter.name == "Detroit Cocoa Company" and r.exporter.address.city == "Detroit"
    assert r.total_packages == 53 and r.goods_items[0].packages[0].number == 53
    assert r.goods_items[0].packages[0].kind == base.goods_items[0].packages[0].kind
    assert [a.reason for a in r.amendments] == ["28", "29", "29", "29", "29", "28"]
    base, imp = _pair(conformance, *PAIRS[7])  # IM008b: a document replaced in its place
    r = apply_amendment(base, imp.declaration)
    docs = r.goods_items[0].documents
    assert (docs[0].reference, docs[0].status) == ("GBOIL1234567G-0001", "EE")
    assert docs[0].write_off_quantity == Decimal("4") and docs[1:] == \
        base.goods_items[0].documents[1:]
    base, imp = _pair(conformance, *PAIRS[9])  # IM011a cancellation
    r = apply_amendment(base, imp.declaration)
    assert r.function == "cancellation" and r.submitter.id == "GB427168118378"
    assert r.goods_items == base.goods_items


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "c.db", KEY)
    yield s
    s.close()


def test_store_applies_onto_the_original_by_lrn(store: Store, conformance: Path) -> None:
    base, imp = _pair(conformance, *PAIRS[8])  # IM011a: the amendment keeps the LRN
    store.create(base, "t")
    got = store.receive_amendment(imp.declaration, "t", source="am.xml", original=imp.original)
    assert (got.status, got.declaration_id, got.version) == ("applied", base.id, 2)
    stored = store.get(base.id)
    assert stored.status == states.DRAFT and stored.mrn == "24GBA4ZYBWXU1BSA00"
    assert stored.declaration.function == "amendment"
    assert stored.declaration.goods_items[0].net_mass == Decimal("62")
    assert store.version_document(base.id, 1).goods_items[0].net_mass == Decimal("59")
    assert [a[1] for a in store.attachments(base.id)] == ["am.xml"]
    from client.store import history_message

    last = store.history(base.id)[-1]
    assert history_message(last).render("en") == "amendment applied from am.xml"
    assert history_message(last).render("fr") == "rectification appliquée depuis am.xml"
    assert store.pending_amendments() == []


def test_store_holds_an_amendment_until_its_original_arrives(store: Store,
                                                             conformance: Path) -> None:
    base, imp = _pair(conformance, *PAIRS[0])  # EX009a
    got = store.receive_amendment(imp.declaration, "t", source="am.xml", original=imp.original)
    assert got.status == "pending" and got.declaration_id is None
    [pending] = store.pending_amendments()
    assert (pending.kind, pending.mrn, pending.lrn) == ("amendment", "24GB0YVJ3EXXES8AA0",
                                                        "7867523Y8OFA")
    assert store.pending_amendment(pending.id) == imp.declaration
    assert store.list() == []  # not a declaration of its own
    store.create(base, "t")
    [applied] = store.apply_pending(base.id, "t")
    assert (applied.declaration_id, applied.version, applied.pending_id) == (base.id, 2,
                                                                            pending.id)
    doc = store.get(base.id).declaration.goods_items[0].documents[0]
    assert doc.status == "EP"
    assert store.pending_amendments() == []
    assert store.pending_amendments(include_applied=True)[0].applied_to == base.id
    assert store.apply_pending(base.id, "t") == []  # once


def test_an_amendment_for_another_declaration_waits(store: Store, conformance: Path) -> None:
    base, _ = _pair(conformance, *PAIRS[8])
    _, other = _pair(conformance, *PAIRS[2])  # IM002b: another LRN, another MRN
    store.create(base, "t")
    got = store.receive_amendment(other.declaration, "t", source="x.xml", original=b"<x/>")
    assert got.status == "pending"
    assert store.apply_pending(base.id, "t") == []
    assert store.get(base.id).declaration.version == 1


def test_the_amendment_flow_from_the_command_line(home: Path, conformance: Path,
                                                  tmp_path: Path) -> None:
    """Lodged, registered with an MRN by the single window's feed, then amended by a DMS
    file that names it by that MRN alone (another LRN): applied as version 2."""
    ok(run(home, "init"))
    ok(run(home, "keys", "create"))
    original, change = PAIRS[2]  # IM002b: the amendment has its own LRN
    [entry] = json.loads(ok(run(home, "import", str(conformance / S / original),
                                "--json")).stdout)
    decl_id = entry["id"]
    ok(run(home, "seal", decl_id))
    amendment = import_dms_file(conformance / S / change).declaration
    from client.seal.profile import load_profile, open_store

    with open_store(load_profile(home)) as st:  # delivered, accepted with its MRN
        _accepted(st, decl_id, amendment.mrn)
        assert st.get(decl_id).status == states.REGISTERED
    p = ok(run(home, "import", str(conformance / S / change)))
    assert "version 2" in p.stdout and decl_id in p.stdout
    [entry] = json.loads(ok(run(home, "import", str(conformance / S / PAIRS[4][1]),
                                "--json")).stdout)
    assert entry["applied"] == "pending" and entry["pending"] and entry["errors"] == 0
    shown = json.loads(ok(run(home, "show", decl_id, "--json")).stdout)
    assert json.dumps(shown).count("999") >= 1
    out = tmp_path / "v2.xml"
    ok(run(home, "export", decl_id, "--format", "dms-xml", "-o", str(out)))
    xml = out.read_bytes()
    assert b"<FunctionCode>13</FunctionCode>" in xml and b"<TypeCode>COR</TypeCode>" in xml
    assert validate_dms(xml, conformance / "hmrc-dms" / "schemas" / "declaration") == []
    with open_store(load_profile(home)) as st:
        stored = st.get(decl_id)
        assert stored.declaration.version == 2 and stored.status == states.DRAFT
        assert stored.declaration.goods_items[0].item_price == Decimal("999")
        assert stored.mrn == amendment.mrn


def test_a_queued_declaration_is_not_amended_under_the_outbox(home: Path,
                                                              conformance: Path) -> None:
    ok(run(home, "init"))
    ok(run(home, "keys", "create"))
    original, change = PAIRS[8]
    [entry] = json.loads(ok(run(home, "import", str(conformance / S / original),
                                "--json")).stdout)
    ok(run(home, "seal", entry["id"]))
    p = run(home, "import", str(conformance / S / change))
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    from client.seal.profile import load_profile, open_store

    with open_store(load_profile(home)) as st:
        assert st.get(entry["id"]).status == states.SEALED
        assert st.get(entry["id"]).declaration.version == 1
        assert st.pending_amendments() == []


def test_after_release_it_is_a_post_release_amendment_and_the_code_is_applied(
        home: Path, conformance: Path) -> None:
    """UCC Art. 173: a released declaration is amended by a post-release amendment (CDS
    takes it as a COR all the same); an invalidated one is not amended at all."""
    ok(run(home, "init"))
    ok(run(home, "keys", "create"))
    original, change = PAIRS[6]  # IM005b
    [entry] = json.loads(ok(run(home, "import", str(conformance / S / original),
                                "--json")).stdout)
    decl_id = entry["id"]
    ok(run(home, "seal", decl_id))
    mrn = import_dms_file(conformance / S / change).declaration.mrn
    from client.seal.profile import load_profile, open_store

    with open_store(load_profile(home)) as st:
        _accepted(st, decl_id, mrn)
        st.apply_notifications([{"declaration_id": decl_id, "version": 1,
                                 "status": "released", "cursor": 2}], 2)
        assert st.get(decl_id).status == states.RELEASED
    ok(run(home, "import", str(conformance / S / change)))
    with open_store(load_profile(home)) as st:
        d = st.get(decl_id).declaration
        assert (d.version, d.function, d.amends) == (2, "post_release_amendment", decl_id)
        assert d.goods_items[0].net_mass == Decimal("89")
    xml = ok(run(home, "export", decl_id, "--format", "dms-xml")).stdout
    assert "<TypeCode>COR</TypeCode>" in xml


def test_an_amendment_the_code_refuses_is_refused_and_changes_nothing(
        store: Store, conformance: Path) -> None:
    base, imp = _pair(conformance, *PAIRS[8])
    store.create(base, "t")
    with store.engine.begin() as conn:  # as the feed leaves it after an invalidation
        conn.exec_driver_sql("UPDATE declaration SET status = 'invalidated', mrn = ? "
                             "WHERE id = ?", (imp.declaration.mrn, base.id))
    from client.store import StoreError

    with pytest.raises(StoreError) as info:
        store.receive_amendment(imp.declaration, "t", source="am.xml", original=b"<x/>")
    assert info.value.code == "store.request_refused"
    assert store.get(base.id).declaration.version == 1 and store.pending_amendments() == []
