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
