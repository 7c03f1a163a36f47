"""The action layer (client/services) called directly, as both front ends call it.

A real profile in tmp_path (SQLCipher database, keys in the real keyring), real files,
real PDFs and DMS XML; failures are real too (a file-size limit that stops a write half
way, a process killed with SIGKILL in the middle of writes).  Every error path checks
that it is a typed error with a message code and that the store did not change.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from client.common.files import atomic_write
from client.common.i18n import ComptoirError, set_language
from client.declaration import states
from client.declaration.model import Declaration
from client.declaration.samples import sample_declaration
from client.seal.profile import init_profile
from client.seal.sealing import SealRefused
from client.services import (
    continuity,
    declarations,
    exports,
    imports,
    lines,
    officer,
    rejections,
    sealing,
    validation,
    views,
)
from client.services import keys as key_services
from client.services.session import Session, rotate_database_key, set_up_profile
from client.store import DeliveryResult, Store, history_notes

REPO = Path(__file__).resolve().parents[2]
DECLARANT = "GB123456789000"


# --------------------------------------------------------------------------- fixtures

@pytest.fixture
def session(home: Path):
    init_profile(home, declarant_id=DECLARANT, key_alg="ES256")
    s = Session(home)
    yield s
    s.close()


def _snapshot(store: Store) -> str:
    """Everything a user could see of the store: rows, history, journal, attachments."""
    rows = store.list()
    return json.dumps({
        "rows": [r.to_json() for r in rows],
        "docs": [store.get(r.id).declaration.to_json_dict() for r in rows],
        "history": [[e.__dict__ for e in store.history(r.id)] for r in rows],
        "journal": [e.seq for e in store.journal()],
        "outbox": list(store.outbox_stats()),
    }, default=str, sort_keys=True)


def _valid(store: Store, actor: str, *, status: str = states.DRAFT, seed: int = 1,
           lrn: str | None = None) -> Declaration:
    d = sample_declaration(random.Random(seed), n_items=2, declarant_id=DECLARANT)
    if lrn is not None:
        d.lrn = lrn
    store.create(d, actor, status=status)
    return d


def _sealed(s: Session, seed: int = 1, lrn: str | None = None) -> Declaration:
    d = _valid(s.store, s.actor(), status=states.READY, seed=seed, lrn=lrn)
    report = sealing.seal_declarations(s.sealer(), [d.id])
    assert [o.declaration_id for o in report.sealed] == [d.id]
    return d


def _reject(s: Session, decl_id: str, errors: list[dict[str, Any]]) -> None:
    """The single window's answer to a sealed envelope, as the sync engine records it."""
    seq = s.store.journal_entry(declaration_id=decl_id, version=1).seq
    s.store.record_deliveries([DeliveryResult(seq, "rejected", errors=errors)])


def _note(entry: Any) -> str:
    """A history row's note as an English reader sees it (notes are stored as codes)."""
    return history_notes.history_message(entry).render("en")


def _no_temp_files(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


# --------------------------------------------------------------------------- session

def test_session_opens_the_profile_and_set_up_is_idempotent(home: Path) -> None:
    first = set_up_profile(home, declarant_id=DECLARANT)
    assert first.created and first.profile is not None and first.profile.role == "trader"
    again = set_up_profile(home, role="officer")
    assert not again.created and again.profile is None
    with Session(home) as s:
        assert s.profile.profile_id == first.profile.profile_id
        assert s.actor().endswith(first.profile.device_id[-8:])
        d = declarations.create_declaration(s.store, s.actor())
    with Session(home) as s:  # the key rotation keeps every row readable
        rotate_database_key(s)
    with Session(home) as s:
        assert s.store.exists(d.id)


# --------------------------------------------------------------------------- declarations

def test_create_gives_a_fresh_lrn_and_the_declarant(session: Session) -> None:
    s = session
    made = declarations.create_declaration(s.store, s.actor(), type="EX",
                                           declarant_id=DECLARANT)
    assert made.changes.declarations == (made.id,)
    a = made.declaration
    b = declarations.create_declaration(s.store, s.actor()).declaration
    assert a.lrn and b.lrn and a.lrn != b.lrn
    st = s.store.get(a.id)
    assert st.status == states.DRAFT and st.declaration.type == "EX"
    assert st.declaration.declarant is not None and st.declaration.declarant.id == DECLARANT
    assert s.store.get(b.id).declaration.declarant is None
    assert declarations.find_declaration(s.store, a.lrn) == a.id
    c = declarations.create_declaration(s.store, s.actor(), lrn="MINE-1")
    assert s.store.get(c.id).declaration.lrn == "MINE-1"


def test_copy_is_a_new_original_and_leaves_the_source(session: Session) -> None:
    s = session
    src = _sealed(s)
    before = s.store.get(src.id).declaration.to_json_dict()
    copy = declarations.copy_declaration(s.store, s.actor(), src.id).declaration
    st = s.store.get(copy.id)
    assert copy.id != src.id and copy.lrn != src.lrn
    assert st.status == states.DRAFT and st.declaration.version == 1
    assert st.declaration.function == "original" and st.mrn is None
    assert [g.commodity_code for g in st.declaration.goods_items] == \
        [g.commodity_code for g in src.goods_items]
    assert _note(s.store.history(copy.id)[0]) == f"copied from {src.id}"
    assert s.store.get(src.id).declaration.to_json_dict() == before
    named = declarations.copy_declaration(s.store, s.actor(), src.id, lrn="COPY-LRN")
    assert s.store.get(named.id).declaration.lrn == "COPY-LRN"


def test_copy_of_an_unknown_id_is_a_typed_error(session: Session) -> None:
    before = _snapshot(session.store)
    with pytest.raises(ComptoirError) as e:
        declarations.copy_declaration(session.store, session.actor(), "no-such-id")
    assert e.value.code == "error.not_found" and e.value.exit_code == 2
    assert _snapshot(session.store) == before


def test_mark_ready_moves_all_or_none(session: Session) -> None:
    s = session
    good = _valid(s.store, s.actor())
    bad = declarations.create_declaration(s.store, s.actor()).declaration  # nothing in it
    before = _snapshot(s.store)
    with pytest.raises(declarations.ReadyRefused) as e:
        declarations.mark_ready(s.store, s.actor(), [good.id, bad.id], home=s.home)
    assert e.value.code == "ready.refused" and e.value.exit_code == 1
    assert e.value.declaration_id == bad.id
    assert any(f.severity == "error" for f in e.value.findings)
    assert _snapshot(s.store) == before  # the good one was not moved either
    moved = declarations.mark_ready(s.store, s.actor(), [good.id], home=s.home,
                                    note=history_notes.CHECKED())
    assert moved.ids == [good.id] and moved.changes.statuses
    assert s.store.get(good.id).status == states.READY
    assert s.store.history(good.id)[-1].note == history_notes.CHECKED.code
    assert _note(s.store.history(good.id)[-1]) == "checked"
    # a selection in the desktop passes over what is not a draft
    assert declarations.mark_ready(s.store, s.actor(), [good.id], drafts_only=True).ids == []
    sealed = _sealed(s, seed=2)
    assert declarations.mark_ready(s.store, s.actor(), [sealed.id], drafts_only=True).ids == []
    with pytest.raises(ComptoirError) as e2:  # the CLI's `ready` on a sealed one refuses
        declarations.mark_ready(s.store, s.actor(), [sealed.id])
    assert e2.value.code in ("store.bad_transition", "store.immutable")
    assert s.store.get(sealed.id).status == states.SEALED


def test_amend_starts_the_next_version_after_a_rejection(session: Session) -> None:
    s = session
    d = _sealed(s)
    with pytest.raises(ComptoirError) as e:  # still queued: nothing to amend yet
        declarations.amend_declaration(s.store, s.actor(), d.id)
    assert e.value.code == "store.still_queued"
    _reject(s, d.id, [{"code": "CDS10001", "pointer": "/goods_items/0/procedure_code"}])
    nxt = declarations.amend_declaration(s.store, s.actor(), d.id)
    assert nxt.declaration.version == 2 and nxt.changes.declarations == (d.id,) and s.store.get(d.id).status == states.DRAFT


def test_demo_seed_is_deterministic_and_checks_its_count(session: Session, tmp_path: Path
                                                         ) -> None:
    s = session
    seen: list[tuple[int, int]] = []
    assert declarations.seed_demo(s.store, s.actor(), 3, seed=9,
                                  on_progress=lambda d, t: seen.append((d, t))) == 3
    assert seen == [(3, 3)]
    rows = views.list_declarations(s.store, statuses=["ready"])
    assert len(rows) == 3
    other = tmp_path / "other"
    init_profile(other, key_alg=None)
    def content(store: Store) -> list[Any]:
        return sorted((d.type, [(g.commodity_code, str(g.net_mass)) for g in d.goods_items])
                      for d in (store.get(r.id).declaration for r in store.list()))

    with Session(other) as o:
        declarations.seed_demo(o.store, o.actor(), 3, seed=9)
        assert content(o.store) == content(s.store)
    before = _snapshot(s.store)
    for bad in (-1, declarations.MAX_DEMO_COUNT + 1):
        with pytest.raises(ComptoirError) as e:
            declarations.seed_demo(s.store, s.actor(), bad)
        assert e.value.code == "demo.bad_count"
    assert _snapshot(s.store) == before


# --------------------------------------------------------------------------- sealing

def test_seal_many_keeps_going_past_a_refusal(session: Session) -> None:
    s = session
    a = _valid(s.store, s.actor(), status=states.READY, seed=1)
    broken = Declaration(type="IM", lrn="BROKEN-1")  # ready in the store, invalid
    s.store.create(broken, s.actor(), status=states.READY)
    b = _valid(s.store, s.actor(), status=states.READY, seed=2)
    order = sealing.ready_to_seal(s.store)
    assert order == [a.id, broken.id, b.id]
    heard: list[str] = []
    report = sealing.seal_declarations(s.sealer(), order,
                                       on_outcome=lambda o: heard.append(o.declaration_id))
    assert heard == order
    assert [o.declaration_id for o in report.sealed] == [a.id, b.id]
    (refused,) = report.refused
    assert refused.declaration_id == broken.id and isinstance(refused.refused, SealRefused)
    assert refused.refused.code == "seal.refused" and refused.refused.findings
    assert s.store.get(broken.id).status == states.READY
    assert s.store.journal_entry(declaration_id=broken.id, version=1) is None
    assert [s.store.get(i).status for i in (a.id, b.id)] == [states.SEALED] * 2
    assert [e.seq for e in s.store.journal()] == [1, 2]
    assert report.changes.outbox and set(report.changes.declarations) == set(order)
    assert sealing.check_journal(s.store).ok and sealing.check_journal(s.store).count == 2


def test_seal_can_stop_at_the_first_refusal(session: Session) -> None:
    s = session
    broken = Declaration(type="IM", lrn="BROKEN-2")
    s.store.create(broken, s.actor(), status=states.READY)
    good = _valid(s.store, s.actor(), status=states.READY)
    before = _snapshot(s.store)
    with pytest.raises(SealRefused):
        sealing.seal_declarations(s.sealer(), [broken.id, good.id], stop_on_refusal=True)
    assert _snapshot(s.store) == before


# --------------------------------------------------------------------------- exports

@pytest.mark.parametrize("fmt", ["json", "envelope", "dms-xml", "pdf", "fallback-pdf"])
def test_every_export_format_renders_and_writes(session: Session, tmp_path: Path,
                                                fmt: str) -> None:
    s = session
    d = _sealed(s)
    data = exports.render_export(s.store, d.id, fmt)
    out = tmp_path / f"out.{fmt}"
    done = exports.export_to_file(s.store, d.id, fmt, out, actor=s.actor())
    assert done.path == out and done.size == len(out.read_bytes()) and done.format == fmt
    written = out.read_bytes()
    if fmt == "json":
        assert json.loads(written) == s.store.get(d.id).declaration.to_json_dict()
        assert written == data
    elif fmt == "envelope":
        env = json.loads(written)
        assert env == s.store.journal_entry(declaration_id=d.id, version=1).envelope
    elif fmt == "dms-xml":
        from client.interchange.dms import import_dms_bytes

        back = import_dms_bytes(written, str(out))
        assert back.declaration is not None and back.declaration.lrn == d.lrn
        assert written == data
    else:
        assert written.startswith(b"%PDF")
    printed = s.store.get(d.id).fallback_printed_at
    assert (printed is not None) == (fmt == "fallback-pdf")
    assert done.changes.declarations == ((d.id,) if fmt == "fallback-pdf" else ())
    assert _no_temp_files(tmp_path) == []


def test_export_refusals_are_typed_and_write_nothing(session: Session, tmp_path: Path) -> None:
    s = session
    draft = _valid(s.store, s.actor())
    before = _snapshot(s.store)
    for fmt in ("envelope", "fallback-pdf"):
        out = tmp_path / f"x.{fmt}"
        with pytest.raises(ComptoirError) as e:
            exports.export_to_file(s.store, draft.id, fmt, out, actor=s.actor())
        assert e.value.code == "export.not_sealed" and not out.exists()
    with pytest.raises(ComptoirError) as e:
        exports.render_export(s.store, draft.id, "docx")
    assert e.value.code == "export.bad_format"
    with pytest.raises(ComptoirError) as e:
        exports.export_to_file(s.store, draft.id, "json", tmp_path / "no" / "dir.json",
                               actor=s.actor())
    assert e.value.code == "error.file_unwritable" and e.value.exit_code == 2
    assert _snapshot(s.store) == before
    assert exports.export_format_for(Path("a.XML")) == "dms-xml"
    assert exports.export_format_for(Path("a.json")) == "json"


def test_print_is_the_declaration_pdf_in_the_chosen_language(session: Session,
                                                              tmp_path: Path) -> None:
    pypdf = pytest.importorskip("pypdf")
    s = session
    d = _valid(s.store, s.actor())
    texts = {}
    for lang in ("en", "fr"):
        out = tmp_path / f"print-{lang}.pdf"
        exports.print_declaration(s.store, d.id, out, actor=s.actor(), lang=lang)
        texts[lang] = "".join(p.extract_text() for p in pypdf.PdfReader(out).pages)
        assert d.lrn in texts[lang]
    assert texts["en"] != texts["fr"]


_LIMITED_WRITE = textwrap.dedent("""
    import resource, signal, sys
    from pathlib import Path
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a failed write, not a killed process
    from client.common.i18n import ComptoirError
    from client.services.session import Session
    from client.services.exports import export_to_file
    with Session(Path(sys.argv[1])) as s:
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), int(sys.argv[2])))
        try:
            export_to_file(s.store, sys.argv[3], sys.argv[4], Path(sys.argv[5]),
                           actor=s.actor())
        except ComptoirError as exc:
            print(exc.code)
            sys.exit(exc.exit_code)
    print("written")
""")


@pytest.mark.parametrize("fmt", ["pdf", "fallback-pdf"])
def test_an_export_that_fails_half_way_leaves_the_old_file_whole(session: Session,
                                                                 tmp_path: Path,
                                                                 fmt: str) -> None:
    """The file system refuses more bytes in the middle of writing the PDF (RLIMIT_FSIZE):
    the target still holds its previous content, no partial or temporary file is left, and
    a fallback document is not recorded as printed."""
    s = session
    d = _sealed(s)
    size = len(exports.render_export(s.store, d.id, fmt))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "doc.pdf"
    target.write_bytes(b"previous content\n")
    session.store.close()  # the child process opens the profile itself
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    limit = size // 2  # larger than the database's own writes, smaller than the PDF
    p = subprocess.run([sys.executable, "-c", _LIMITED_WRITE, str(s.home), str(limit), d.id,
                        fmt, str(target)], capture_output=True, text=True, cwd=REPO, env=env,
                       timeout=120)
    assert p.returncode == 2, p.stdout + p.stderr
    assert p.stdout.strip() == "error.file_unwritable"
    assert target.read_bytes() == b"previous content\n"
    assert sorted(x.name for x in out_dir.iterdir()) == ["doc.pdf"]
    with Session(s.home) as again:
        assert again.store.get(d.id).fallback_printed_at is None


# --------------------------------------------------------------------------- atomic write

def test_atomic_write_sets_the_mode_and_replaces_whole(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    atomic_write(target, b"one", mode=0o600)
    assert target.read_bytes() == b"one" and (target.stat().st_mode & 0o777) == 0o600
    old = os.umask(0o022)
    try:
        atomic_write(target, b"two")
    finally:
        os.umask(old)
    assert target.read_bytes() == b"two" and (target.stat().st_mode & 0o777) == 0o644
    with pytest.raises(OSError):
        atomic_write(tmp_path / "missing" / "f.bin", b"x")
    assert _no_temp_files(tmp_path) == []


_WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from client.common.files import atomic_write
    target, n = Path(sys.argv[1]), int(sys.argv[2])
    blocks = [bytes([65 + i]) * n for i in range(4)]
    i = 0
    while True:
        atomic_write(target, blocks[i % 4])
        i += 1
        if i == 3:
            print("writing", flush=True)
""")


def test_atomic_write_survives_sigkill_in_the_middle(tmp_path: Path) -> None:
    """A process rewriting a 4 MB file in a loop is killed with SIGKILL: the file holds one
    whole version, never a mixture or a truncated one."""
    n = 4 << 20
    target = tmp_path / "doc.pdf"
    target.write_bytes(b"Z" * n)
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(target), str(n)],
                                stdout=subprocess.PIPE, text=True, cwd=REPO)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "writing"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        data = target.read_bytes()
        assert len(data) == n and data == data[:1] * n, "a torn file"
    leftovers = [p for p in tmp_path.iterdir() if p.name != "doc.pdf"]
    assert all(p.name.startswith(".doc.pdf.") and p.name.endswith(".tmp") for p in leftovers)


# --------------------------------------------------------------------------- continuity

def test_fallback_documents_for_every_queued_declaration(session: Session,
                                                         tmp_path: Path) -> None:
    s = session
    a = _sealed(s, seed=1, lrn="../../escape")
    b = _sealed(s, seed=2, lrn="..-.-escape")  # the same name once cleaned
    draft = _valid(s.store, s.actor(), seed=3)
    folder = tmp_path / "fallback" / "today"
    progress: list[tuple[int, int]] = []
    result = continuity.print_fallback_documents(
        s.store, s.actor(), folder, on_progress=lambda d, t: progress.append((d, t)))
    assert result.declaration_ids == (a.id, b.id)
    assert progress == [(1, 2), (2, 2)]
    assert [p.parent for p in result.paths] == [folder, folder]
    assert len({p.name for p in result.paths}) == 2
    assert all(p.read_bytes().startswith(b"%PDF") for p in result.paths)
    assert sorted(p.name for p in (tmp_path / "fallback").rglob("*")) == \
        sorted(["today", *(p.name for p in result.paths)])
    assert s.store.get(a.id).fallback_printed_at and s.store.get(b.id).fallback_printed_at
    assert s.store.get(draft.id).fallback_printed_at is None
    assert result.changes.declarations == (a.id, b.id)


def test_fallback_into_an_unwritable_place_is_a_typed_error(session: Session,
                                                            tmp_path: Path) -> None:
    s = session
    _sealed(s)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    before = _snapshot(s.store)
    with pytest.raises(ComptoirError) as e:
        continuity.print_fallback_documents(s.store, s.actor(), blocker / "sub")
    assert e.value.code == "error.file_unwritable"
    assert _snapshot(s.store) == before


def test_fallback_documents_written_first_then_recorded(session: Session,
                                                      tmp_path: Path) -> None:
    """The desktop's two steps: the documents (nothing recorded), then the record; the
    same files, names and order as the one-call print."""
    s = session
    a = _sealed(s, seed=1, lrn="A/1")
    b = _sealed(s, seed=2, lrn="A:1")  # the same name once cleaned
    before = _snapshot(s.store)
    progress: list[tuple[int, int]] = []
    written = continuity.write_fallback_documents(
        s.store, tmp_path / "docs", on_progress=lambda d, t: progress.append((d, t)))
    assert written.declaration_ids == (a.id, b.id) and progress == [(1, 2), (2, 2)]
    assert [p.name for p in written.paths] == ["A_1-fallback.pdf", f"A_1-{b.id}-fallback.pdf"]
    assert all(p.read_bytes().startswith(b"%PDF") for p in written.paths)
    assert _snapshot(s.store) == before  # written, not recorded
    assert s.store.get(a.id).fallback_printed_at is None
    printed = continuity.record_fallback_printed(s.store, s.actor(), written)
    assert printed.paths == written.paths and printed.changes.declarations == (a.id, b.id)
    assert s.store.get(a.id).fallback_printed_at and s.store.get(b.id).fallback_printed_at
    again = continuity.print_fallback_documents(s.store, s.actor(), tmp_path / "again")
    assert [p.name for p in again.paths] == [p.name for p in written.paths]


# --------------------------------------------------------------------------- rejections

def test_rejection_reasons_explained_in_both_languages(session: Session) -> None:
    s = session
    d = _sealed(s)
    assert rejections.rejection_reasons_for(s.store, d.id, s.home) == []
    _reject(s, d.id, [{"code": "CDS10001", "pointer": "/goods_items/0/procedure_code",
                       "detail": "missing"},
                      {"code": "NOT-A-CODE", "detail": "free text"}])
    en = rejections.rejection_reasons_for(s.store, d.id, s.home, "en")
    fr = rejections.rejection_reasons_for(s.store, d.id, s.home, "fr")
    assert [r.code for r in en] == ["CDS10001", "NOT-A-CODE"]
    assert en[0].de == "1/10" and en[0].pointer == "/goods_items/0/procedure_code"
    assert en[0].explanation.startswith("Obligation Error")
    assert fr[0].explanation.startswith("Erreur d'obligation")
    assert en[1].explanation == "free text" and en[1].de is None
    assert list(en[0].to_json()) == ["code", "pointer", "de", "explanation", "detail"]
    detail = views.declaration_detail(s.store, d.id, s.home)
    assert detail.stored.status == states.REJECTED and detail.rejection[0].code == "CDS10001"
    declarations.amend_declaration(s.store, s.actor(), d.id)  # moved on: nothing to explain
    assert rejections.rejection_reasons_for(s.store, d.id, s.home) == []


@pytest.mark.parametrize("pointer,path", [
    ("/goods_items/0/procedure_code", "goods_items[0].procedure_code"),
    ("/lrn", "lrn"),
    ("/a~1b/c~0d", "a/b.c~d"),
    ("goods_items[1].net_mass", "goods_items[1].net_mass"),
])
def test_pointer_to_path(pointer: str, path: str) -> None:
    assert rejections.pointer_to_path(pointer) == path


# --------------------------------------------------------------------------- imports

def test_import_json_then_refuse_duplicates_and_bad_files(session: Session,
                                                          tmp_path: Path) -> None:
    s = session
    one = tmp_path / "one.json"
    one.write_text(json.dumps([{"type": "EX", "lrn": "IMP-1"}, {"type": "IM", "lrn": "IMP-2"}]))
    report = imports.import_files(s.store, s.actor(), [one])
    assert report.ok and report.exit_code == 0 and not report.xml
    assert sorted(i.lrn for i in report.items) == ["IMP-1", "IMP-2"]
    assert report.changes.declarations == tuple(i.declaration_id for i in report.items)
    assert all(_note(s.store.history(i.declaration_id)[0]) == "imported"
               for i in report.items)
    first_id = report.items[0].declaration_id
    before = _snapshot(s.store)
    again = tmp_path / "again.json"
    again.write_text(json.dumps([{"type": "EX", "lrn": "NEW-1"},
                                 {"id": first_id, "type": "EX", "lrn": "IMP-1"}]))
    twice = tmp_path / "twice.json"
    twice.write_text(json.dumps([{"id": "0190d0a0-0000-7000-8000-000000000001", "type": "EX"},
                                 {"id": "0190d0a0-0000-7000-8000-000000000001", "type": "IM"}]))
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "IM", "lrn": ')
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 5000 + "]" * 5000)
    for files, code in (([again], "import.duplicate_id"), ([twice], "import.duplicate_id"),
                        ([one, bad], "error.json_malformed"), ([deep], "error.json_too_deep"),
                        ([tmp_path / "absent.json"], "error.file_unreadable")):
        with pytest.raises(ComptoirError) as e:
            imports.import_files(s.store, s.actor(), files)
        assert e.value.code == code and e.value.exit_code == 2
        assert _snapshot(s.store) == before, code


def _dms_file(store: Store, decl_id: str, path: Path) -> Path:
    path.write_bytes(exports.render_export(store, decl_id, "dms-xml"))
    return path


def test_import_dms_xml_keeps_the_original_and_reads_every_file_first(
        session: Session, tmp_path: Path) -> None:
    s = session
    a = _valid(s.store, s.actor(), seed=4)
    b = _valid(s.store, s.actor(), seed=5)
    fa, fb = _dms_file(s.store, a.id, tmp_path / "a.xml"), _dms_file(s.store, b.id, tmp_path / "b.xml")
    other_home = tmp_path / "other"
    init_profile(other_home, key_alg=None)
    with Session(other_home) as o:
        report = imports.import_files(o.store, o.actor(), [fa])
        assert report.xml and report.ok
        (item,) = report.items
        assert item.lrn == a.lrn and item.kind
        assert _note(o.store.history(item.declaration_id)[0]) == "imported from a.xml"
        ((_n, name, ctype, data),) = o.store.attachments(item.declaration_id)
        assert (name, ctype, data) == ("a.xml", "application/xml", fa.read_bytes())
        before = _snapshot(o.store)
        broken = tmp_path / "broken.xml"
        broken.write_bytes(fb.read_bytes()[:200])
        with pytest.raises(ComptoirError) as e:  # b is good, broken is not: nothing stored
            imports.import_files(o.store, o.actor(), [fb, broken])
        assert e.value.exit_code == 2
        assert _snapshot(o.store) == before


def test_import_of_a_dms_notification_is_reported_not_stored(session: Session,
                                                             conformance: Path) -> None:
    s = session
    notes = sorted((conformance / "hmrc-dms" / "notifications").rglob("*.xml"))
    if not notes:
        pytest.skip("no DMS notification samples in the conformance material")
    before = _snapshot(s.store)
    report = imports.import_files(s.store, s.actor(), notes[:1])
    (item,) = report.items
    assert item.declaration_id is None and item.kind == "notification" and item.message
    assert report.exit_code == 1
    assert _snapshot(s.store) == before


# --------------------------------------------------------------------------- invoice lines

_INVOICE = ("Description;HS code;Origin;Gross mass (kg);Net mass (kg);Price\n"
            "Green tea;090210;CN;12,5;11,0;120,00\n"
            "Black tea;090230;IN;8,0;7,5;80,00\n"
            "Broken row;not-a-code;XX;heavy;;\n")


def test_invoice_lines_plan_changes_nothing_then_apply_and_remember(session: Session,
                                                                    tmp_path: Path) -> None:
    s = session
    d = declarations.create_declaration(s.store, s.actor(), declarant_id=DECLARANT)
    invoice = tmp_path / "inv.csv"
    invoice.write_text(_INVOICE, encoding="utf-8")
    table = lines.read_invoice(invoice)
    before = _snapshot(s.store)
    plan = lines.plan_invoice_lines(s.store, d.id, table, supplier="Tea Co")
    assert _snapshot(s.store) == before
    assert plan.mapping["commodity_code"] == "HS code"
    assert [i.commodity_code for i in plan.preview.items] == ["090210", "090230"]
    assert {r for r, _ in plan.preview.row_errors} == {4}
    applied = lines.apply_invoice_lines(s.store, s.actor(), plan)
    assert applied.count == 2 and applied.changes.declarations == (d.id,)
    stored = s.store.get(d.id).declaration
    assert [g.sequence for g in stored.goods_items] == [1, 2]
    # the supplier's mapping is remembered: renamed headers map themselves next time
    renamed = tmp_path / "inv2.csv"
    renamed.write_text(_INVOICE.replace("HS code", "Tariff"), encoding="utf-8")
    fixed = lines.plan_invoice_lines(s.store, d.id, lines.read_invoice(renamed),
                                     supplier="Tea Co", overrides=["commodity_code=Tariff"])
    assert fixed.mapping["commodity_code"] == "Tariff"


def test_invoice_lines_errors_are_typed_and_leave_the_store(session: Session,
                                                            tmp_path: Path) -> None:
    s = session
    d = declarations.create_declaration(s.store, s.actor())
    invoice = tmp_path / "inv.csv"
    invoice.write_text(_INVOICE, encoding="utf-8")
    table = lines.read_invoice(invoice)
    before = _snapshot(s.store)
    with pytest.raises(ComptoirError) as e:
        lines.plan_invoice_lines(s.store, d.id, table, overrides=["colour=Description"])
    assert e.value.code == "lines.bad_map" and e.value.exit_code == 2
    only_bad = tmp_path / "bad.csv"
    only_bad.write_text(_INVOICE.splitlines()[0] + "\n" + _INVOICE.splitlines()[3] + "\n")
    plan = lines.plan_invoice_lines(s.store, d.id, lines.read_invoice(only_bad))
    with pytest.raises(ComptoirError) as e:
        lines.apply_invoice_lines(s.store, s.actor(), plan)
    assert e.value.code == "lines.nothing" and e.value.exit_code == 1
    with pytest.raises(ComptoirError) as e:
        lines.read_invoice(tmp_path / "inv.docx")
    assert e.value.code == "invoice.unsupported_format"
    assert _snapshot(s.store) == before


# --------------------------------------------------------------------------- views, validation

def test_views_list_show_history(session: Session) -> None:
    s = session
    a = _sealed(s)
    b = _valid(s.store, s.actor(), seed=7)
    assert views.status_filter(None) is None and views.status_filter("sealed") == ["sealed"]
    with pytest.raises(ComptoirError) as e:
        views.status_filter("bogus")
    assert e.value.code == "list.bad_status"
    assert [r.id for r in views.list_declarations(s.store, statuses=["sealed"])] == [a.id]
    assert {r.id for r in views.list_declarations(s.store)} == {a.id, b.id}
    assert [r.id for r in views.list_declarations(s.store, search=b.lrn)] == [b.id]
    detail = views.declaration_detail(s.store, a.id, s.home)
    assert detail.stored.status == states.SEALED and detail.receipts == []
    assert detail.rejection == []
    hist = views.declaration_history(s.store, a.id)
    assert [h.to_status for h in hist][-1] == states.SEALED


def test_validation_of_files_and_stored_declarations(session: Session, tmp_path: Path) -> None:
    s = session
    good = _valid(s.store, s.actor())
    assert not [f for f in validation.validate_stored(s.store, good.id, s.home)
                if f.severity == "error"]
    f = tmp_path / "list.json"
    f.write_text("[1, 2]")
    with pytest.raises(ComptoirError) as e:
        validation.validate_file(f)
    assert e.value.code == "error.declaration_invalid"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"type": "IM", "country_of_dispatch": "XX"}))
    found = validation.validate_file(bad)
    assert any(x.path == "country_of_dispatch" and x.severity == "error" for x in found)
    assert validation.declaration_schema()["properties"]["lrn"]["x-de"] == "2/5"


def test_validation_of_a_working_document(session: Session) -> None:
    s = session
    stored = _valid(s.store, s.actor())
    doc = stored.to_json_dict()
    assert not [f for f in validation.validate_document(doc, s.store, stored.id, s.home)
                if f.severity == "error"]
    other = dict(doc, id="another-draft")  # the same LRN (DE 2/5) on another declaration
    codes = {f.code for f in validation.validate_document(other, s.store, "another-draft",
                                                          s.home)}
    assert "V-LRN-TAKEN" in codes
    partial = {"type": "IM", "country_of_dispatch": "XX"}  # not a declaration yet
    assert any(f.path == "country_of_dispatch" and f.severity == "error"
               for f in validation.validate_document(partial))


# --------------------------------------------------------------------------- officer

def test_verify_then_decide_on_an_officer_device(session: Session, tmp_path: Path) -> None:
    s = session
    d = _sealed(s)
    env = tmp_path / "env.json"
    exports.export_to_file(s.store, d.id, "envelope", env, actor=s.actor())
    outcome = officer.verify_envelope(s.home, str(env))
    assert outcome.ok and outcome.verified.declaration_id == d.id
    tampered = json.loads(env.read_text())
    tampered["signature"] = tampered["signature"][::-1]
    bad_env = tmp_path / "bad.json"
    bad_env.write_text(json.dumps(tampered))
    assert not officer.verify_envelope(s.home, str(bad_env)).ok

    with pytest.raises(ComptoirError) as e:  # a trader's profile records no decision
        officer.decide(s.home, str(env), "release", None)
    assert e.value.code == "officer.not_officer"
    with pytest.raises(ComptoirError) as e:
        officer.officer_decisions(s.home)
    assert e.value.code == "officer.not_officer_list"

    post = tmp_path / "officer"
    init_profile(post, role="officer", declarant_id="OFFICER-0001", key_alg="ES256")
    with pytest.raises(ComptoirError) as e:
        officer.decide(post, str(env), "hold", None)
    assert e.value.code == "officer.reason_required"
    with pytest.raises(ComptoirError) as e:
        officer.decide(post, str(bad_env), "release", None)
    assert e.value.code == "officer.refused_invalid"
    assert officer.officer_decisions(post) == []
    decision = officer.decide(post, str(env), "release", None)
    assert decision.document["declaration_id"] == d.id
    assert decision.document["officer_id"] == "OFFICER-0001" and decision.entry.seq == 1
    assert decision.changes.outbox
    (rec,) = officer.officer_decisions(post)
    assert rec.outcome == "release" and rec.state == "queued"
    assert officer.trust_summary(post) is None
    assert officer.received(s.home, d.id) == []


def test_a_pasted_envelope_is_a_verify_target(session: Session, tmp_path: Path) -> None:
    s = session
    d = _sealed(s)
    env = s.store.journal_entry(declaration_id=d.id, version=1).envelope
    pasted = "\n  " + json.dumps(env, indent=2) + "\n"
    token = officer.envelope_target(pasted)
    assert token == f"{env['protected']}.{env['payload']}.{env['signature']}"
    assert officer.verify_envelope(s.home, token).ok
    for text in ("a.b.c", str(tmp_path / "env.json"), "comptoir-env:xyz", "{not json",
                 '{"protected": 1, "payload": "p", "signature": "s"}',
                 "[" * 100_000 + "]" * 100_000, "{" + " " * (3 << 20) + "}"):
        assert officer.envelope_target(text) == text.strip()  # passed on, never raised
    deep = '{"protected": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert officer.envelope_target(deep) == deep


# --------------------------------------------------------------------------- keys

def test_keys_create_describe_export_and_request(home: Path) -> None:
    home.mkdir()
    secrets = key_services.open_key_store(home)
    created = key_services.create_signing_key(home, secrets, alg="Ed25519", subject="Acme")
    assert created.info.alg == "Ed25519" and len(created.not_after) == 10
    (desc,) = key_services.describe_keys(home)
    assert desc.info.kid == created.info.kid and desc.not_after.startswith(created.not_after)
    js = desc.to_json()
    assert "certificate_chain_pem" not in js and list(js)[-2:] == ["not_after", "issuer"]
    assert key_services.export_public_key(home).startswith("-----BEGIN CERTIFICATE-----")
    csr = key_services.key_request(home, secrets, trader=DECLARANT)
    assert csr.startswith("-----BEGIN CERTIFICATE REQUEST-----")
    with pytest.raises(ComptoirError):
        key_services.export_public_key(home, "no-such-kid")
    pem = home / "out" / "cert.pem"
    with pytest.raises(ComptoirError) as e:  # no such folder: a failed write, said once
        key_services.save_public_key(home, pem)
    assert e.value.code == "error.file_unwritable" and not pem.exists()
    pem.parent.mkdir()
    assert key_services.save_public_key(home, pem) == pem
    assert pem.read_text() == key_services.export_public_key(home)
    assert _no_temp_files(pem.parent) == []


# --------------------------------------------------------------------------- CLI over services

def test_cli_fallback_print_and_a_failed_key_export_say_what_happened(
        session: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from client.cli import main

    s = session
    d = _sealed(s)
    s.store.close()
    set_language("en")
    try:
        folder = tmp_path / "paper"
        assert main(["--home", str(s.home), "fallback", "print", str(folder), "--json"]) == 0
        (row,) = json.loads(capsys.readouterr().out)
        assert row["id"] == d.id and Path(row["path"]).parent == folder
        assert main(["--home", str(s.home), "fallback", "print", str(folder)]) == 0
        out = capsys.readouterr().out.splitlines()
        assert out[-1].startswith("1 fallback document(s) in")
        # writing the public key into a folder that does not exist is a failed *write*
        missing = tmp_path / "nowhere" / "cert.pem"
        assert main(["--home", str(s.home), "keys", "export-public", "-o", str(missing)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("comptoir: Cannot write ") and err.count("\n") == 1
    finally:
        set_language(None)
