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
    p = ok(comptoir(home, "fallback", "paper", transit, "-o", str(pdf)))
    assert "paper procedure" in p.stdout and pdf.read_bytes().startswith(b"%PDF")
    s = Session(home)
    try:
        assert s.store.get(transit).status == states.PAPER_PROCEDURE
        assert s.store.get(registered).status == states.REGISTERED
        assert transit not in _pending(s)
    finally:
        s.close()
