"""The settings' UK CDS section against the CDS emulator: signing in through the dialog
(the test is the user's browser), refresh, a revoked refresh token, signing in again."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import requests

from client.declaration import states
from client.declaration.samples import sample_declaration
from client.seal.sealing import Sealer
from tests.conftest import conformance_dir


@pytest.fixture
def emulator(tmp_path: Path) -> Any:
    from sync.cds_emulator.server import start_in_thread

    d = conformance_dir()
    if d is None:
        pytest.skip("conformance material absent: the CDS emulator needs the WCO schemas")
    handle = start_in_thread(tmp_path / "cds", schema_dir=d / "hmrc-dms" / "schemas" /
                             "declaration", auto_consent=True, rate_limit=0.0,
                             delay_scale=0.0)
    yield handle
    handle.stop()


def _seal(prof: Any, n: int, first: int = 0) -> list[str]:
    rng = random.Random(7 + first)
    prof.profile.declarant_id = "GB123456789000"
    ids = []
    for i in range(first, first + n):
        d = sample_declaration(rng, n_items=1, declarant_id="GB123456789000")
        d.lrn = f"G0UI{i:05d}"
        prof.store.create(d, "t", status=states.READY)
        Sealer(prof.profile, prof.store, prof.secrets).seal(d.id)
        ids.append(d.id)
    return ids


def _sign_in(dialog: Any, emulator: Any) -> None:
    section = dialog.cds
    section.environment.setText(emulator.url)
    section.client_id.setText("desktop-app")
    section.ca.setText(str(emulator.ca_pem_path))
    section.schemas.setText(str(emulator.schema_dir))
    section.open_url = lambda url: requests.get(url, verify=str(emulator.ca_pem_path),
                                                timeout=20)
    section.sign_in_button.click()


def test_sign_in_refresh_and_a_revoked_refresh_token_from_the_settings(
        qtbot: Any, prof: Any, ctx: Any, emulator: Any) -> None:
    from sync.connectors.base import ConnectorError
    from sync.engine import SyncEngine
    from ui.settings import SettingsDialog

    ids = _seal(prof, 3)
    dialog = SettingsDialog(ctx)
    qtbot.addWidget(dialog)
    assert "Connector: comptoir" in dialog.cds.state.text()
    assert "not signed in" in dialog.cds.state.text()
    _sign_in(dialog, emulator)
    assert dialog.cds.result.text().startswith("Signed in to CDS")
    assert "Connector: cds" in dialog.cds.state.text()
    assert "signed in\n0 lodged" in dialog.cds.state.text()
    assert prof.profile.server["connector"] == "cds"

    emulator.admin("expire", {})  # the next request meets a 401: refreshed, then lodged
    engine = SyncEngine(prof.profile, prof.store, prof.secrets)
    report = engine.sync_once()
    assert report.error is None and report.accepted == 3
    assert engine.connector.tokens.refreshes == 1  # type: ignore[attr-defined]
    engine.close()
    assert {prof.store.get(i).status for i in ids} == {states.REGISTERED}

    more = _seal(prof, 1, first=3)
    emulator.admin("revoke", {"kind": "refresh"})
    emulator.admin("expire", {})
    engine = SyncEngine(prof.profile, prof.store, prof.secrets)
    with pytest.raises(ConnectorError) as exc:
        engine.sync_once()
    engine.close()
    assert exc.value.code == "cds.sign_in_again"
    assert prof.store.get(more[0]).status == states.SEALED  # nothing lost, still queued
    dialog.cds.refresh()
    assert "sign in again" in dialog.cds.state.text()
    _sign_in(dialog, emulator)
    assert "signed in\n3 lodged" in dialog.cds.state.text()
    engine = SyncEngine(prof.profile, prof.store, prof.secrets)
    assert engine.sync_once().error is None
    engine.close()
    assert prof.store.get(more[0]).status == states.REGISTERED


def test_the_section_speaks_french(qtbot: Any, ctx: Any) -> None:
    from ui.settings import SettingsDialog, apply_language

    dialog = SettingsDialog(ctx)
    qtbot.addWidget(dialog)
    apply_language(ctx, "fr")
    dialog.cds.refresh()
    assert dialog.cds.box.title() == "CDS Royaume-Uni (API Customs Declarations)"
    assert "Connecteur : comptoir" in dialog.cds.state.text()
    assert dialog.cds.sign_in_button.text() == "Se connecter à &CDS"


def test_the_main_window_shows_the_connector_and_sign_in_again(
        qtbot: Any, prof: Any, ctx: Any, window: Any, emulator: Any) -> None:
    """Connector, environment and credentials in the status bar, not only in Settings:
    signed in, then "sign in again" after a refused refresh (the queue kept), then
    signed in again — in English and in French."""
    from ui.settings import SettingsDialog, apply_language

    label = window.connector_label
    assert not label.isVisible()  # neither enrolled nor connected: the enrol notice says so
    assert window.enrol_label.isVisible()
    ids = _seal(prof, 2)
    dialog = SettingsDialog(ctx)
    qtbot.addWidget(dialog)
    _sign_in(dialog, emulator)
    assert label.isVisible() and label.text() == "CDS custom: signed in"
    assert label.property("state") == "signed_in"
    assert emulator.url in label.toolTip() and "Connector: cds" in label.toolTip()
    assert not window.enrol_label.isVisible()  # a CDS profile is connected, not unenrolled
    assert window.sync.sync_now()
    qtbot.waitUntil(lambda: not window.sync.running, timeout=60_000)
    assert {prof.store.get(i).status for i in ids} == {states.REGISTERED}

    more = _seal(prof, 1, first=2)
    emulator.admin("revoke", {"kind": "refresh"})
    emulator.admin("expire", {})
    window.sync.sync_now()
    qtbot.waitUntil(lambda: not window.sync.running, timeout=60_000)
    assert label.property("state") == "sign_in_again"
    assert label.text() == "CDS custom: ⚠ sign in again (Settings)"
    assert "nothing queued is lost" in label.toolTip()
    assert prof.store.get(more[0]).status == states.SEALED  # still queued
    apply_language(ctx, "fr")
    qtbot.waitUntil(lambda: "reconnexion" in label.text(), timeout=5_000)
    assert label.text() == "CDS custom : ⚠ reconnexion nécessaire (Paramètres)"
    apply_language(ctx, "en")
    _sign_in(dialog, emulator)
    assert label.text() == "CDS custom: signed in"
    window.sync.sync_now()
    qtbot.waitUntil(lambda: not window.sync.running, timeout=60_000)
    assert prof.store.get(more[0]).status == states.REGISTERED


def test_unresolved_lodgings_are_shown_in_the_status_bar(prof: Any, window: Any) -> None:
    """A lodging only the user can settle is counted where the user looks, not only in
    the settings; its tooltip says what to do."""
    from sync.cds.config import ENDPOINTS

    (decl_id,) = _seal(prof, 1)
    prof.profile.server = {"connector": "cds", "cds": {
        "environment": "sandbox", "url": "https://test-api.service.hmrc.gov.uk",
        "client_id": "desktop-app", "submitter": "GB123456789000"}}
    prof.profile.save()
    (item,) = prof.store.outbox_pending(10)
    attempt = prof.store.cds_begin_attempt(
        item.seq, lrn="G0UI00000", endpoint=ENDPOINTS["original"][0], body_sha256="0" * 64,
        started_at="2026-12-01T10:00:00.000000Z", started_at_server=None)
    prof.store.cds_settle_attempt(attempt, "ambiguous")
    window.refresh_connector()
    assert "lodging(s) to decide" not in window.connector_label.text()
    prof.store.cds_mark_unresolved(item.seq, {"lrn": "G0UI00000"})
    window.refresh_connector()
    label = window.connector_label
    assert label.text() == "CDS sandbox: not signed in · ⚠ 1 lodging(s) to decide"
    assert "comptoir cds unresolved" in label.toolTip()
    assert prof.store.get(decl_id).status == states.SEALED
