"""Continuity per procedure (issue #14): the rule table, the transit paper procedure that
the outbox can never send, the withdrawal of a transit already lodged, and import/export
fallback documents lodged once after recovery.

A real profile (SQLCipher store, keys in the real keyring), real PDF files read back
with pypdf.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from pypdf import PdfReader

from client.common.i18n import ComptoirError
from client.declaration import states
from client.declaration.continuity import procedure_of, rule_for, rule_table
from client.declaration.mrn import allocate_mrn
from client.declaration.samples import sample_declaration
from client.interchange import printing
from client.seal.profile import init_profile
from client.seal.sealing import fallback_qr_payload
from client.services import continuity, declarations, sealing
from client.services.session import Session
from client.store import DeliveryResult

DECLARANT = "GB123456789000"


@pytest.fixture
def session(home: Path):
    init_profile(home, declarant_id=DECLARANT, key_alg="ES256")
    s = Session(home)
    yield s
    s.close()


def _decl(seed: int, *, transit: bool = False, items: int = 2):
    d = sample_declaration(random.Random(seed), n_items=items, declarant_id=DECLARANT)
    if transit:
        d.type, d.transit_type, d.importer = "IM", "T1", None
    return d


def _sealed(s: Session, seed: int, **kw) -> str:
    d = _decl(seed, **kw)
    s.store.create(d, s.actor())
    declarations.mark_ready(s.store, s.actor(), [d.id])
    report = sealing.seal_declarations(s.sealer(), [d.id])
    assert report.sealed, [o.refused.message.render("en") for o in report.refused]
    return d.id


def _pending(s: Session) -> set[str]:
    return {i.declaration_id for i in s.store.outbox_pending()}


def _text(pdf: bytes) -> tuple[int, list[str]]:
    reader = PdfReader(io.BytesIO(pdf))
    return len(reader.pages), [p.extract_text() for p in reader.pages]


def test_the_rule_table_as_shipped() -> None:
    table = rule_table()
    assert set(table) == {"import", "export", "fiscal", "simplified", "supplementary",
                          "transit"}
    for proc in ("import", "export", "fiscal", "simplified"):
        r = table[proc]
        assert (r.paper_document, r.lodge_after, r.deadline_days, r.withdraw) == \
            ("fallback_sad", "must", 7, "none"), proc
    t = table["transit"]
    assert (t.paper_document, t.lodge_after, t.deadline_days, t.withdraw) == \
        ("transit_accompanying_document", "never", None, "lodged_lrn")
    assert t.paper_procedure and not table["import"].paper_procedure
    assert table["supplementary"].paper_document == "none"
    assert table["import"].deadline("2026-12-01T08:00:00.000000Z") == "2026-12-08T08:00:00Z"
    assert t.deadline("2026-12-01T08:00:00Z") is None
    assert procedure_of({"type": "IM", "transit_type": "T2"}) == "transit"
    assert procedure_of({"type": "EX"}) == "export"
    assert procedure_of({"type": "IM", "additional_type": "Y"}) == "supplementary"
    assert procedure_of({"type": "EX", "additional_type": "C"}) == "simplified"
    assert procedure_of({"type": "CO"}) == "fiscal"


def test_a_queued_transit_goes_to_the_paper_procedure_and_is_never_sent(
        session: Session, tmp_path: Path) -> None:
    s = session
    transit = _sealed(s, 1, transit=True)
    imp = _sealed(s, 2)
    assert _pending(s) == {transit, imp}
    out = continuity.print_fallback_documents(s.store, s.actor(), tmp_path / "paper")
    assert set(out.declaration_ids) == {transit, imp}
    # transit: ends on paper, out of the outbox for good; import: still queued, to lodge
    assert s.store.get(transit).status == states.PAPER_PROCEDURE
    assert s.store.get(imp).status == states.SEALED and s.store.get(imp).fallback_printed_at
    assert _pending(s) == {imp}
    assert s.store.outbox_stats()[0] == 1
    last = s.store.history(transit)[-1]
    assert last.note == "history.note.paper_procedure" and last.detail["withdrawn"] == 1
    # a late answer of the single window changes nothing
    s.store.apply_notifications([{"cursor": 1, "declaration_id": transit, "version": 1,
                                  "status": "accepted", "mrn": allocate_mrn("GB", 26, 1, "J")}],
                                1)
    assert s.store.get(transit).status == states.PAPER_PROCEDURE
    with pytest.raises(ComptoirError):
        s.store.new_version(transit, s.actor())
    # the paper documents are the ones the rule names
    pdfs = {p.name: p.read_bytes() for p in out.paths}
    texts = {name: " ".join(_text(b)[1]) for name, b in pdfs.items()}
    lrn_t = s.store.get(transit).declaration.lrn
    assert any("OFFLINE TRANSIT ACCOMPANYING DOCUMENT" in t for n, t in texts.items()
               if n.startswith(lrn_t))
    assert any("FALLBACK DOCUMENT" in t and "7 days" in t for n, t in texts.items()
               if not n.startswith(lrn_t))


def test_every_page_of_the_transit_list_of_items_carries_the_qr_code(session: Session,
                                                                     tmp_path: Path) -> None:
    s = session
    d = _decl(3, transit=True, items=40)
    s.store.create(d, s.actor())
    declarations.mark_ready(s.store, s.actor(), [d.id])
    sealing.seal_declarations(s.sealer(), [d.id], stop_on_refusal=True)
    out = continuity.print_fallback_documents(s.store, s.actor(), tmp_path, lang="fr")
    reader = PdfReader(io.BytesIO(out.paths[0].read_bytes()))
    assert len(reader.pages) >= 2
    assert "DOCUMENT D'ACCOMPAGNEMENT TRANSIT" in reader.pages[0].extract_text()
    # The same declaration as a fallback SAD: a QR code only on its first page.  The QR is
    # drawn as vector modules (one filled rectangle each): every transit page has hundreds
    # more rectangles than the SAD's page of the same number beyond the first.
    st = s.store.get(d.id)
    entry = s.store.journal_entry(declaration_id=d.id)
    sad = PdfReader(io.BytesIO(printing.render_fallback_pdf(
        st.declaration, envelope_hash=entry.envelope_hash, signature_fingerprint="f",
        sealed_at=entry.sealed_at, lang="fr", qr_payload=fallback_qr_payload(entry.envelope),
        document="fallback_sad")))

    def rects(page) -> int:
        return page.get_contents().get_data().count(b" re")

    for n, page in enumerate(reader.pages[1:], 1):
        plain = rects(sad.pages[min(n, len(sad.pages) - 1)]) if len(sad.pages) > 1 else 0
        assert rects(page) > plain + 200, (n, rects(page), plain)


def test_a_lodged_transit_gets_its_withdrawal_queued(session: Session) -> None:
    s = session
    decl_id = _sealed(s, 4, transit=True)
    seq = s.store.journal_entry(declaration_id=decl_id).seq
    mrn = allocate_mrn("GB", 2026, 77, "J")
    s.store.record_deliveries([DeliveryResult(seq, "accepted", mrn=mrn, receipt="r")])
    out = continuity.send_to_paper_procedure(s.store, s.sealer(), s.actor(), decl_id)
    assert out.withdrawal is not None
    st = s.store.get(decl_id)
    assert st.status == states.REGISTERED and st.mrn == mrn
    assert st.declaration.function == "cancellation" and st.declaration.mrn == mrn
    assert _pending(s) == {decl_id}
    assert s.store.history(decl_id)[-1].note == "history.note.withdrawal_queued"
    s.store.apply_notifications([{"cursor": 5, "declaration_id": decl_id, "version": 2,
                                  "status": "invalidated", "mrn": mrn}], 5)
    assert s.store.get(decl_id).status == states.INVALIDATED


def test_an_import_is_not_sent_to_the_paper_procedure(session: Session) -> None:
    s = session
    decl_id = _sealed(s, 5)
    with pytest.raises(ComptoirError) as e:
        continuity.send_to_paper_procedure(s.store, s.sealer(), s.actor(), decl_id)
    assert e.value.code == "continuity.not_paper_procedure"
    assert "lodge it electronically" in e.value.render("en")
    assert "voie électronique" in e.value.render("fr")
    assert s.store.get(decl_id).status == states.SEALED and _pending(s) == {decl_id}


def test_an_import_fallback_is_lodged_once_and_linked_to_its_paper(session: Session,
                                                                   tmp_path: Path) -> None:
    s = session
    decl_id = _sealed(s, 6)
    continuity.print_fallback_documents(s.store, s.actor(), tmp_path)
    seq = s.store.journal_entry(declaration_id=decl_id).seq
    mrn = allocate_mrn("GB", 2026, 78, "R")
    s.store.record_deliveries([DeliveryResult(seq, "accepted", mrn=mrn, receipt="r")])
    s.store.record_deliveries([DeliveryResult(seq, "duplicate", mrn=mrn, receipt="r")])
    st = s.store.get(decl_id)
    assert st.lodged_after_fallback_at and st.mrn == mrn
    linked = [h for h in s.store.history(decl_id) if h.note == "history.note.fallback_linked"]
    assert len(linked) == 1 and rule_for(st.declaration).deadline_days == 7


def test_cli_refuses_a_forbidden_request_in_one_line_and_sends_transit_to_paper(
        home: Path, tmp_path: Path) -> None:
    from tests.sync.helpers import comptoir, ok

    init_profile(home, declarant_id=DECLARANT, key_alg="ES256")
    s = Session(home)
    try:
        registered = _sealed(s, 7)
        seq = s.store.journal_entry(declaration_id=registered).seq
        s.store.record_deliveries([DeliveryResult(seq, "accepted", receipt="r",
                                                  mrn=allocate_mrn("GB", 2026, 9, "R"))])
        transit = _sealed(s, 8, transit=True)
    finally:
        s.close()
    for lang, needle in (("en", "Art. 173(3)"), ("fr", "art. 173, paragraphe 3")):
        p = comptoir(home, "amend", registered, "--post-release", env={"COMPTOIR_LANG": lang})
        assert p.returncode == 2 and needle in p.stderr, p.stderr
        assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr
    pdf = tmp_path / "tad.pdf"
    p = ok(comptoir(home, "fallback", transit, "-o", str(pdf)))
    assert "paper procedure" in p.stdout and pdf.read_bytes().startswith(b"%PDF")
    s = Session(home)
    try:
        assert s.store.get(transit).status == states.PAPER_PROCEDURE
        assert s.store.get(registered).status == states.REGISTERED
        assert transit not in _pending(s)
    finally:
        s.close()


# --------------------------------------------------------------------------- fallback ID

def test_the_countdown_counts_whole_days_and_says_overdue() -> None:
    from datetime import UTC, datetime

    from client.declaration.continuity import countdown, lodge_by

    printed = "2026-12-01T08:00:00.000000Z"
    due = lodge_by({"type": "IM"}, states.SEALED, printed, None)
    assert due == "2026-12-08T08:00:00Z"
    for status, lodged, doc in ((states.SEALED, "2026-12-02T00:00:00Z", {"type": "IM"}),
                                (states.PAPER_PROCEDURE, None, {"type": "IM"}),
                                (states.SEALED, None, {"type": "IM", "transit_type": "T1"})):
        assert lodge_by(doc, status, printed, lodged) is None
    assert lodge_by({"type": "EX"}, states.SEALED, None, None) is None
    at = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)  # 4 days and 23 hours left
    msg = countdown(due, at)
    assert msg is not None and msg.render("en") == "lodge within 5 day(s) (by 2026-12-08)"
    assert msg.render("fr") == "à déposer sous 5 jour(s) (avant le 2026-12-08)"
    late = countdown(due, datetime(2026, 12, 9, 9, 0, tzinfo=UTC))
    assert late is not None and late.code == "continuity.countdown.overdue"
    assert late.params["days"] == 2 and "overdue" in late.render("en")
    assert "retard" in late.render("fr")
    assert countdown(None) is None


def test_fallback_id_prints_an_import_counts_down_and_links_it_once(home: Path,
                                                                    tmp_path: Path) -> None:
    """``comptoir fallback ID -o FILE.pdf`` on a queued import: the fallback SAD, the print
    recorded, the declaration still queued; ``list`` and ``status`` count down to the
    lodging deadline, in English and French, until the lodging is linked to its paper."""
    import json

    from tests.sync.helpers import comptoir, ok

    init_profile(home, declarant_id=DECLARANT, key_alg="ES256")
    s = Session(home)
    try:
        decl_id = _sealed(s, 11)
        other = _sealed(s, 12)
    finally:
        s.close()
    pdf = tmp_path / "sad.pdf"
    p = ok(comptoir(home, "fallback", decl_id, "-o", str(pdf)))
    assert "lodge within 7 day(s)" in p.stdout and "never lodged twice" in p.stdout
    assert "FALLBACK DOCUMENT" in " ".join(_text(pdf.read_bytes())[1])
    rows = {r["id"]: r for r in json.loads(ok(comptoir(home, "list", "--json")).stdout)}
    s = Session(home)
    try:
        st = s.store.get(decl_id)
        assert st.status == states.SEALED and st.fallback_printed_at
        assert _pending(s) == {decl_id, other}
        assert rows[decl_id]["lodge_by"] == rule_for(st.declaration).deadline(
            st.fallback_printed_at)
        assert rows[other]["lodge_by"] is None
        assert [h.note for h in s.store.history(decl_id)].count(
            "history.note.fallback_printed") == 1
    finally:
        s.close()
    line = [x for x in ok(comptoir(home, "list")).stdout.splitlines() if x.startswith(decl_id)]
    assert line and "lodge within 7 day(s)" in line[0]
    fr = ok(comptoir(home, "list", env={"COMPTOIR_LANG": "fr"})).stdout
    assert "à déposer sous 7 jour(s)" in fr
    status = ok(comptoir(home, "status")).stdout
    assert "1 fallback document(s) still to lodge electronically" in status
    assert json.loads(ok(comptoir(home, "status", "--json")).stdout)["lodgings_due"][0][
        "id"] == decl_id
    # lodged after recovery: linked to its paper copy, nothing more is due
    s = Session(home)
    try:
        seq = s.store.journal_entry(declaration_id=decl_id).seq
        s.store.record_deliveries([DeliveryResult(seq, "accepted", receipt="r",
                                                  mrn=allocate_mrn("GB", 2026, 80, "R"))])
        assert s.store.get(decl_id).lodged_after_fallback_at
        assert s.store.lodgings_due() == []
    finally:
        s.close()
    assert "day(s)" not in ok(comptoir(home, "list")).stdout
    assert "still to lodge" not in ok(comptoir(home, "status")).stdout
    # and once lodged, no second fallback document for it
    p = comptoir(home, "fallback", decl_id, "-o", str(tmp_path / "again.pdf"))
    assert p.returncode == 2 and "already lodged" in p.stderr
    assert not (tmp_path / "again.pdf").exists()


def test_fallback_refusals_are_one_line_and_change_nothing(home: Path, tmp_path: Path) -> None:
    from tests.sync.helpers import comptoir

    init_profile(home, declarant_id=DECLARANT, key_alg="ES256")
    s = Session(home)
    try:
        draft = _decl(13)
        s.store.create(draft, s.actor())
        supplementary = _decl(14)
        supplementary.additional_type = "Y"
        s.store.create(supplementary, s.actor())
        released = _sealed(s, 15, transit=True)
        seq = s.store.journal_entry(declaration_id=released).seq
        mrn = allocate_mrn("GB", 2026, 81, "J")
        s.store.record_deliveries([DeliveryResult(seq, "accepted", mrn=mrn, receipt="r")])
        s.store.apply_notifications([{"cursor": 1, "declaration_id": released, "version": 1,
                                      "status": "released", "mrn": mrn}], 1)
        assert s.store.get(released).status == states.RELEASED
        rejected = _sealed(s, 18)
        s.store.record_deliveries([DeliveryResult(
            s.store.journal_entry(declaration_id=rejected).seq, "rejected")])
        assert s.store.get(rejected).status == states.REJECTED
        before = {i: len(s.store.history(i))
                  for i in (draft.id, supplementary.id, released, rejected)}
    finally:
        s.close()
    out = tmp_path / "x.pdf"
    cases = [((draft.id, "-o", str(out)), "seal it first", "scellez-la d'abord"),
             ((supplementary.id, "-o", str(out)), "no paper document", "aucun document papier"),
             ((released, "-o", str(out)), "Art. 174", "174"),
             ((rejected, "-o", str(out)), "only a sealed declaration", "seule une déclaration"),
             ((draft.id, "--all-queued"), "not both", "pas les deux"),
             ((), "not both", "pas les deux")]
    for args, en, fr in cases:
        for lang, needle in (("en", en), ("fr", fr)):
            p = comptoir(home, "fallback", *args, env={"COMPTOIR_LANG": lang})
            assert p.returncode == 2, (args, p.stdout, p.stderr)
            assert needle in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
            assert "Traceback" not in p.stderr
    assert not out.exists()
    s = Session(home)
    try:
        assert {i: len(s.store.history(i)) for i in before} == before
        assert s.store.get(released).status == states.RELEASED
        assert s.store.get(released).declaration.version == 1
    finally:
        s.close()


def test_fallback_id_writes_lrn_fallback_pdf_by_default(session: Session, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    s = session
    decl_id = _sealed(s, 16, transit=True)
    monkeypatch.chdir(tmp_path)
    done = continuity.fallback_declaration(s.store, s.sealer(), s.actor(), decl_id, None)
    decl = s.store.get(decl_id).declaration
    assert done.path == Path(continuity.fallback_file_name(decl))
    assert done.path.name.endswith("-fallback.pdf") and decl.lrn[:3] in done.path.name
    assert (tmp_path / done.path).read_bytes().startswith(b"%PDF")
    assert done.paper_procedure and done.withdrawal is None
    assert s.store.get(decl_id).status == states.PAPER_PROCEDURE and not _pending(s)
    with pytest.raises(ComptoirError) as e:
        continuity.fallback_declaration(s.store, s.sealer(), s.actor(), decl_id, None)
    assert e.value.code == "fallback.already_paper"


def test_a_paper_transit_stays_owed_to_the_chain_as_a_link_only(session: Session) -> None:
    """Its envelope leaves the outbox's queue but not the device chain: only a chained
    connector asks for it, it stays a link while the single window holds it, and its
    answer "withdrawn" closes it without touching the declaration."""
    from client.store import CHAIN_LINK

    s = session
    transit = _sealed(s, 17, transit=True)
    seq = s.store.journal_entry(declaration_id=transit).seq
    s.store.to_paper_procedure(transit, s.actor(), procedure="transit")
    assert s.store.outbox_pending() == [] and s.store.outbox_stats()[0] == 0
    (link,) = s.store.outbox_pending(links=True)
    assert (link.seq, link.state) == (seq, CHAIN_LINK)
    s.store.record_deliveries([DeliveryResult(seq, "held")])
    assert [i.state for i in s.store.outbox_pending(links=True)] == [CHAIN_LINK]
    s.store.record_deliveries([DeliveryResult(seq, "withdrawn")])
    assert s.store.outbox_pending(links=True) == []
    assert s.store.get(transit).status == states.PAPER_PROCEDURE
    assert s.store.receipts(transit) == [] and s.store.get(transit).mrn is None


def test_a_paper_transit_answered_as_lodged_is_registered_and_its_withdrawal_owed(
        session: Session) -> None:
    """The single window had lodged it (its answer lost) before it went on paper: its
    link comes back "duplicate".  It is registered with its MRN, its withdrawal is owed
    once, and queued once."""
    s = session
    transit = _sealed(s, 18, transit=True)
    seq = s.store.journal_entry(declaration_id=transit).seq
    s.store.to_paper_procedure(transit, s.actor(), procedure="transit")
    assert s.store.withdrawals_owed() == []
    mrn = allocate_mrn("GB", 2026, 78, "J")
    s.store.record_deliveries([DeliveryResult(seq, "duplicate", mrn=mrn, receipt="r")])
    st = s.store.get(transit)
    assert st.status == states.REGISTERED and st.mrn == mrn
    assert s.store.history(transit)[-1].note == "history.note.lodged_before_paper"
    assert s.store.outbox_pending(links=True) == [] and len(s.store.receipts(transit)) == 1
    assert s.store.withdrawals_owed() == [transit]
    (done,) = continuity.queue_owed_withdrawals(s.store, s.sealer, s.actor())
    assert done.withdrawal is not None and _pending(s) == {transit}
    assert s.store.get(transit).declaration.function == "cancellation"
    assert s.store.withdrawals_owed() == []
    assert continuity.queue_owed_withdrawals(s.store, s.sealer, s.actor()) == []
