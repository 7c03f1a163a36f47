"""History notes are message codes rendered in the reader's language; old free-text rows
still show as they were written."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path
from typing import get_args

import pytest

from client.common.i18n import Message, catalogue, placeholders, tr
from client.declaration import states
from client.declaration.model import Declaration, Party
from client.declaration.mrn import allocate_mrn
from client.seal.profile import load_profile, open_store
from client.store import DeliveryResult, HistoryEntry, Store, history_message
from client.store import history_notes as notes
from tests.sync.helpers import comptoir, ok

KEY = "cd" * 32


def run(home: Path, *args: str, lang: str = "en") -> subprocess.CompletedProcess[str]:
    """``comptoir`` as a user with ``lang`` as their language runs it."""
    return comptoir(home, *args, env={"COMPTOIR_LANG": lang})


def _english_notes() -> set[str]:
    """Every English note text, with its placeholders cut out (the fixed words)."""
    en = catalogue("en")
    words: set[str] = set()
    for code in [*notes.NOTES, *(k for k in en if k.startswith("history.feed_status."))]:
        for part in en[code].replace("{", "}").split("}")[::2]:
            if len(part.strip(" #():")) >= 4:
                words.add(part.strip(" #():"))
    return words


# ---- the catalogue --------------------------------------------------------------------

def test_every_note_is_translated_with_its_declared_parameters() -> None:
    en, fr = catalogue("en"), catalogue("fr")
    for code, kind in notes.NOTES.items():
        assert code.startswith(notes.PREFIX)
        assert code in en and code in fr, code
        assert placeholders(en[code]) == placeholders(fr[code]) == set(kind.params), code
        assert en[code] != fr[code], f"{code} is not translated"


def test_every_feed_status_and_function_reads_in_french() -> None:
    from client.declaration.model import Declaration as D
    from sync.protocol import NotificationStatus

    en, fr = catalogue("en"), catalogue("fr")
    statuses = set(get_args(NotificationStatus)) | set(states.FROM_SERVER)
    functions = set(get_args(D.model_fields["function"].annotation))
    for key in [f"history.feed_status.{s}" for s in statuses] + \
               [f"history.function.{f}" for f in functions]:
        assert key in en and key in fr, key
        assert en[key] != fr[key], f"{key} is not translated"


def test_a_note_takes_exactly_its_parameters() -> None:
    assert notes.SEALED(seq=4) == Message("history.note.sealed", {"seq": 4})
    with pytest.raises(TypeError):
        notes.SEALED()
    with pytest.raises(TypeError):
        notes.EDITED(by="me")


# ---- the store writes codes and refuses free text ------------------------------------

@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "h.db", KEY)
    yield s
    s.close()


def _decl(lrn: str = "LRN-H1") -> Declaration:
    return Declaration(type="IM", lrn=lrn, declarant=Party(id="GB123", name="Acme"))


def test_store_stores_the_code_and_its_parameters(store: Store) -> None:
    src, copy = _decl(), _decl("LRN-H2")
    store.create(src, "me")
    store.create(copy, "me", note=notes.COPIED_FROM(source=src.id))
    (created,) = store.history(src.id)
    (copied,) = store.history(copy.id)
    assert created.note == "history.note.created" and created.detail is None
    assert copied.note == "history.note.copied_from" and copied.detail == {"source": src.id}
    assert history_message(copied).render("fr") == f"copiée depuis {src.id}"
    assert history_message(copied).render("en") == f"copied from {src.id}"


def test_free_text_or_undeclared_note_is_refused_and_nothing_is_written(store: Store) -> None:
    d = _decl()
    for bad in ("copied from somewhere", Message("history.note.made_up"), Message("seal.done")):
        with pytest.raises(TypeError):
            store.create(d, "me", note=bad)  # type: ignore[arg-type]
    assert not store.exists(d.id)
    store.create(d, "me")
    with pytest.raises(TypeError):
        store.transition(d.id, states.READY, "me", note="checked")  # type: ignore[arg-type]
    assert store.get(d.id).status == states.DRAFT and len(store.history(d.id)) == 1


# ---- a real profile: seal, copy, edit, answers from the single window ------------------

def test_history_in_french_and_english_after_seal_copy_edit_and_answers(home: Path) -> None:
    ok(run(home, "demo", "seed", "--count", "1", "--seed", "11"))
    (decl_id,) = [r["id"] for r in json.loads(ok(run(home, "list", "--json")).stdout)]
    ok(run(home, "seal", decl_id))
    copy_id = ok(run(home, "copy", decl_id)).stdout.strip()
    ok(run(home, "ready", copy_id))
    mrn = allocate_mrn("GB", 26, 41)
    with open_store(load_profile(home)) as store:
        d = store.get(copy_id).declaration
        store.save_draft(d.model_copy(update={"lrn": "EDITED-LRN-1"}), "tester")  # ready -> draft
        seq = store.journal_entry(declaration_id=decl_id).seq
        store.record_deliveries([DeliveryResult(seq, "accepted", mrn=mrn, receipt="r.e.c",
                                                received_at="2026-01-02T03:04:05Z")])
        store.apply_notifications([
            {"cursor": 1, "declaration_id": decl_id, "version": 1, "status": "released",
             "mrn": mrn},
            {"cursor": 2, "declaration_id": decl_id, "version": 1, "status": "decision_conflict",
             "mrn": mrn, "decision": "x.y.z"}], 2)
        store.mark_fallback_printed(copy_id, "tester")

    def history(ref: str, lang: str) -> tuple[str, list[dict]]:
        text = ok(run(home, "history", ref, lang=lang)).stdout
        rows = json.loads(ok(run(home, "history", ref, "--json", lang=lang)).stdout)
        return text, rows

    en_a, rows_en = history(decl_id, "en")
    fr_a, rows_fr = history(decl_id, "fr")
    en_b, copy_en = history(copy_id, "en")
    fr_b, copy_fr = history(copy_id, "fr")
    assert [r["note"] for r in rows_en] == [
        "history.note.demo_seed", "history.note.sealed", "history.note.receipt",
        "history.note.receipt", "history.note.notification", "history.note.notification"]
    assert [r["note"] for r in copy_en] == [
        "history.note.copied_from", "history.note.checked", "history.note.edited",
        "history.note.fallback_printed"]
    assert [r["message"] for r in rows_fr] == [
        "jeu de démonstration", f"scellée, journal n° {seq}", "accusé de réception",
        "accusé de réception", "avis du guichet unique : mainlevée accordée",
        "avis du guichet unique : décision d'agent en conflit"]
    assert [r["message"] for r in rows_en] == [
        "demo seed", f"sealed #{seq}", "receipt", "receipt", "notification: released",
        "notification: officer's decision in conflict"]
    assert [r["message"] for r in copy_fr] == [
        f"copiée depuis {decl_id}", "vérifiée", "modifiée", "document de secours imprimé"]
    assert f"copied from {decl_id}" in en_b and "edited" in en_b
    for fr_text in (fr_a, fr_b):  # no English note leaks into the French history
        leaks = [w for w in _english_notes() if w in fr_text]
        assert leaks == [], leaks
    assert f"copiée depuis {decl_id}" in fr_b and "modifiée" in fr_b
    assert "scellée, journal n°" in fr_a and "sealed #" in en_a


# ---- rows written before notes were codes -----------------------------------------------

LEGACY = [("sealed #3", "draft", "sealed", '{"seq": 3, "hash": "abc"}'),
          ("notification: released", "registered", "released", '{"cursor": 9}'),
          ("copied from 0000-old", None, "draft", None),
          (None, "draft", "ready", None),
          ("history.note.from_a_newer_version", "ready", "draft", None)]


def _legacy_profile(home: Path) -> str:
    """A profile whose history holds rows as earlier versions wrote them."""
    ok(run(home, "new", "--type", "IM"))
    (decl_id,) = [r["id"] for r in json.loads(ok(run(home, "list", "--json")).stdout)]
    with open_store(load_profile(home)) as store:
        for note, frm, to, detail in LEGACY:
            def q(v: str | None) -> str:
                return "NULL" if v is None else "'" + v.replace("'", "''") + "'"
            store.execute_raw_for_tests(
                "INSERT INTO history (declaration_id, version, at, actor, from_status, "
                f"to_status, note, detail) VALUES ('{decl_id}', 1, '2024-05-01T10:00:00Z', "
                f"'old-app', {q(frm)}, '{to}', {q(note)}, {q(detail)})")
    return decl_id


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_old_free_text_rows_show_as_written(home: Path, lang: str) -> None:
    decl_id = _legacy_profile(home)
    rows = json.loads(ok(run(home, "history", decl_id, "--json", lang=lang)).stdout)
    assert [r["message"] for r in rows[1:]] == [n or "" for n, *_ in LEGACY]
    assert rows[0]["message"] == tr("history.note.created", lang)  # the new row, translated
    text = ok(run(home, "history", decl_id, lang=lang)).stdout
    for note, *_ in LEGACY:
        if note:
            assert note in text


def test_legacy_entry_renders_as_written_in_process() -> None:
    old = HistoryEntry(1, 1, "2024-05-01T10:00:00Z", "old-app", "draft", "sealed", "sealed #3",
                       {"seq": 3}, False)
    assert history_message(old) == Message(notes.AS_WRITTEN, {"text": "sealed #3"})
    assert history_message(old).render("fr") == "sealed #3"
    new = HistoryEntry(2, 2, "2024-05-02T10:00:00Z", "me", "rejected", "draft",
                       "history.note.new_version", {"function": "original"}, True)
    assert history_message(new).render("fr") == "nouvelle version (originale)"
    odd = HistoryEntry(3, 1, "2024-05-02T10:00:00Z", "sw", "submitted", "registered",
                       "history.note.notification", {"status": "some_new_status"}, False)
    assert history_message(odd).render("fr") == "avis du guichet unique : some_new_status"


def test_old_database_file_opens_and_its_history_reads(tmp_path: Path) -> None:
    """A database written before codes (same schema head: no migration) reads unchanged."""
    path = tmp_path / "old.db"
    s = Store.open(path, None)
    d = _decl()
    s.create(d, "me")
    s.close()
    raw = sqlite3.connect(path)  # an earlier version's row, written around the store
    raw.execute("INSERT INTO history (declaration_id, version, at, actor, from_status, "
                "to_status, note) VALUES (?, 1, '2024-01-01T00:00:00Z', 'old', 'draft', "
                "'ready', 'checked')", (d.id,))
    raw.commit()
    raw.close()
    s = Store.open(path, None)
    try:
        entries = s.history(d.id)
        assert [history_message(e).render("fr") for e in entries] == ["créée", "checked"]
    finally:
        s.close()

