"""The entry point, training mode, settings, continuity and the GUI catalogues."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from client.common.i18n import placeholders
from client.declaration import states
from client.store import settings_keys

REPO = Path(__file__).resolve().parents[2]


def test_ui_catalogues_have_every_key_used_and_same_placeholders() -> None:
    en = json.loads((REPO / "resources/translations/en/ui.json").read_text(encoding="utf-8"))
    fr = json.loads((REPO / "resources/translations/fr/ui.json").read_text(encoding="utf-8"))
    assert en.keys() == fr.keys()
    for k in en:
        assert placeholders(en[k]) == placeholders(fr[k]), k
        assert fr[k], k
    used: set[str] = set()
    for path in (REPO / "ui").rglob("*.py"):
        used |= set(re.findall(r'\bt\("([a-z_.]+)"', path.read_text(encoding="utf-8")))
    from client.common.i18n import catalogue  # merged: other parts may add ui.* keys of their own

    missing = {k for k in used if f"ui.{k}" not in catalogue("en")
               or f"ui.{k}" not in catalogue("fr")}
    assert not missing, missing


def test_ui_is_not_imported_by_the_core() -> None:
    for pkg in ("client", "sync"):
        for path in (REPO / pkg).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert "PySide6" not in text and "from ui" not in text, path


def _run_app(home: Path, hook: str, *args: str, env: dict[str, str] | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess[str]:
    e = dict(os.environ)
    e.update(QT_QPA_PLATFORM="offscreen", COMPTOIR_UI_NO_PROMPT="1",
             COMPTOIR_UI_TEST_HOOK=hook, PYTHONPATH=str(REPO))
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "ui.app", "--home", str(home), *args],
                          env=e, capture_output=True, text=True, cwd=REPO, timeout=timeout)


@pytest.mark.parametrize("how", ["flag", "env", "cli"])
def test_training_mode_starts_sandbox_and_enrols(home: Path, how: str) -> None:
    pytest.importorskip("sync.engine")
    args = ("--training",) if how == "flag" else ()
    env = {"COMPTOIR_TRAINING": "1"} if how != "flag" else {}
    if how == "cli":  # the README's run command: `COMPTOIR_TRAINING=1 comptoir`
        e = dict(os.environ)
        e.update(QT_QPA_PLATFORM="offscreen", COMPTOIR_UI_NO_PROMPT="1",
                 COMPTOIR_UI_TEST_HOOK="training-ready", PYTHONPATH=str(REPO), **env)
        out = subprocess.run([sys.executable, "-m", "client.cli", "--home", str(home)],
                             env=e, capture_output=True, text=True, cwd=REPO, timeout=120)
    else:
        out = _run_app(home, "training-ready", *args, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "training https://127.0.0.1:" in out.stdout, out.stderr[-3000:]
    assert "TRAINING" in out.stdout
    from client.seal.profile import training_home

    profile = json.loads((training_home(home) / "profile.json").read_text())
    assert profile["server"]["url"].startswith("https://127.0.0.1:")
    assert profile["training"] is True
    assert not (home / "profile.json").exists()  # the user's profile is never created


def test_continuity_facts_and_fallback_documents(window: Any, prof: Any, tmp_path: Path) -> None:
    from client.seal.keys import create_key
    from client.seal.sealing import Sealer
    from ui.continuity import continuity_facts

    create_key(prof.home, prof.secrets)
    sealer = Sealer(prof.profile, prof.store, prof.secrets)
    ids = prof.seed(3)
    for d in ids:
        sealer.seal(d)
    window.sync.offline_since = "2026-01-01T00:00:00.000000Z"  # a long outage
    f = continuity_facts(window.ctx)
    assert f["queued"] == 3 and f["oldest"]
    assert f["drain_seconds"] == pytest.approx(3 / 2000)
    assert f["mao_hours"] == 72 and f["mao_fraction"] > 1
    dlg = window.open_continuity()
    assert "maximum acceptable outage" in dlg.advice.text()
    assert dlg.labels["queued"].text() == "3"
    pytest.importorskip("client.interchange.printing")
    dlg.print_fallback(tmp_path / "fallback")
    pdfs = sorted((tmp_path / "fallback").glob("*.pdf"))
    assert len(pdfs) == 3 and pdfs[0].read_bytes().startswith(b"%PDF")
    assert all(prof.store.get(d).fallback_printed_at for d in ids)
    assert "3" in dlg.result_label.text()
    # the countdown to each one's electronic lodging: the dialog, the list, the detail
    dlg.refresh()
    assert dlg.labels["due"].text().startswith("3; the nearest: lodge within 7 day(s)")
    window.table_model.reload()
    statuses = {window.table_model.data(window.table_model.index(r, 2))
                for r in range(window.table_model.rowCount())}
    assert statuses and all(s.endswith("— lodge within 7 day(s) (by "
                                       + prof.store.list()[0].lodge_by[:10] + ")")
                            for s in statuses), statuses
    from ui.detail import load_detail, summary_html

    html = summary_html(load_detail(prof.store, prof.home, ids[0]))
    assert "Electronic lodging" in html and "lodge within 7 day(s)" in html
    dlg.mao.setValue(100)
    assert prof.store.get_setting(settings_keys.MAO_HOURS) == 100


def test_the_continuity_view_reads_the_store_on_change_not_every_second(
        window: Any, prof: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its clock moves every second; the queue and the lodgings due are read again only
    when an operation or a sync says something changed (not the whole table each tick)."""
    reads: list[str] = []
    real = prof.store.lodgings_due

    def counted() -> Any:
        reads.append("due")
        return real()

    monkeypatch.setattr(prof.store, "lodgings_due", counted)
    window.sync.offline_since = "2026-01-01T00:00:00.000000Z"
    dlg = window.open_continuity()
    opened = len(reads)
    assert opened >= 1
    before = dlg.labels["offline_since"].text()
    for _ in range(5):  # five ticks of the clock
        dlg.refresh()
    assert len(reads) == opened and dlg.labels["offline_since"].text() == before
    prof.seed(2)
    window.ctx.signals.sync_finished.emit(None)  # a sync changed the queue
    dlg.refresh()
    dlg.refresh()
    assert len(reads) == opened + 1
    dlg.close()


def test_settings_keys_language_server(window: Any, prof: Any, tmp_path: Path) -> None:
    from client.seal.keys import list_keys

    dlg = window.open_settings()
    assert dlg.profile_folder.text() == str(prof.home)
    before = len(list_keys(prof.home))
    dlg.create_key()
    assert len(list_keys(prof.home)) == before + 1
    assert "[active]" in dlg.keys_view.toPlainText()
    dlg.export_cert(tmp_path / "cert.pem")
    assert (tmp_path / "cert.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
    dlg.server_url.setText("https://sw.example:8443/")
    dlg.pin.setText("ab" * 32)
    dlg.save_server_settings()
    saved = json.loads((prof.home / "profile.json").read_text())
    assert saved["server"]["url"] == "https://sw.example:8443"
    assert saved["server"]["pin_sha256"] == "ab" * 32
    dlg.language.setCurrentIndex(1)  # Français, applied live
    assert window.menus["file"].title() == "&Fichier"
    assert dlg.windowTitle() == "Paramètres et identité"
    assert prof.store.get_setting(settings_keys.LANGUAGE) == "fr"


def test_enrol_with_a_bad_code_says_why(window: Any, prof: Any) -> None:
    pytest.importorskip("sync.enrolment")
    from sync.sandbox.server import start_in_thread

    handle = start_in_thread(prof.home.parent / "sb")
    try:
        dlg = window.open_settings()
        dlg.enrol_url.setText(handle.url)
        dlg.ca_path.setText(str(handle.ca_pem_path))
        dlg.enrol_code.setText("WRONG-CODE")
        dlg.trader_id.setText("GB123456789000")
        dlg.enrol()
        assert dlg.enrol_result.text() and "Enrolled" not in dlg.enrol_result.text()
        code = handle.new_enrolment_code("GB123456789000")
        dlg.enrol_code.setText(code)
        dlg.enrol()
        assert dlg.enrol_result.text().startswith("Enrolled as GB123456789000")
        assert window.sync.configured()
    finally:
        handle.stop()


def test_amend_a_rejected_declaration(window: Any, prof: Any) -> None:
    ids = prof.seed(1, status=states.DRAFT)
    window.table_model.reload()
    window.select_id(ids[0])
    assert not window.actions_by_name["amend"].isEnabled()


def test_settings_import_pkcs12(window: Any, prof: Any, tmp_path: Path) -> None:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID

    from client.seal.keys import list_keys

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Imported Declarant")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    p12 = tmp_path / "id.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(
        b"id", key, cert, None, serialization.BestAvailableEncryption(b"s3cret")))
    dlg = window.open_settings()
    before = len(list_keys(prof.home))
    dlg.import_p12(p12, "wrong")
    assert len(list_keys(prof.home)) == before and dlg.keys_result.text()
    dlg.import_p12(p12, "s3cret")
    assert len(list_keys(prof.home)) == before + 1
    assert "Imported Declarant" in dlg.keys_view.toPlainText()


def test_recovery_is_reported(window: Any, prof: Any) -> None:
    from client.seal.sealing import Sealer

    sealer = Sealer(prof.profile, prof.store, prof.secrets)
    for d in prof.seed(2):
        sealer.seal(d)
    sync = window.sync
    sync.offline_since = "2026-01-01T00:00:00.000000Z"
    sync._on_connectivity("online")
    assert sync.offline_since is None
    sync.note_drained(remaining=1)
    assert sync.last_recovery is None  # not drained yet
    sync.note_drained(remaining=0)
    rec = sync.last_recovery
    assert rec is not None and rec["carried"] == 2 and rec["outage_s"] > 3600
    assert prof.store.get_setting(settings_keys.LAST_RECOVERY)["carried"] == 2
    dlg = window.open_continuity()
    assert "2 declaration(s) carried through" in dlg.labels["recovery"].text()


def test_ui_catalogues_match_their_source() -> None:
    from ui._i18n_src.catalogue import S

    for i, lang in enumerate(("en", "fr")):
        data = json.loads((REPO / f"resources/translations/{lang}/ui.json").read_text("utf-8"))
        assert data == {f"ui.{k}": v[i] for k, v in S.items()}, lang
