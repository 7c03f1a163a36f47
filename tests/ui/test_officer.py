"""The officer's verify / decide dialog, driven like a user (pytest-qt, offscreen)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from client.seal.sealing import Sealer


@pytest.fixture
def sealed(prof: Any) -> dict[str, Any]:
    """A trader's declaration sealed on its device: the exported envelope."""
    decl_id = prof.seed(1)[0]
    entry = Sealer(prof.profile, prof.store, prof.secrets).seal(decl_id)
    return entry.envelope


@pytest.fixture
def officer(tmp_path: Path) -> Any:
    from client.seal.profile import init_profile, open_store, secret_store
    from ui.context import AppContext
    from ui.signals import AppSignals
    from ui.workers import ImmediateRunner

    home = tmp_path / "officer"
    profile = init_profile(home, role="officer", declarant_id="OFFICER-0001", key_alg="ES256")
    secrets = secret_store(profile)
    store = open_store(profile, secrets=secrets)
    ctx = AppContext(profile=profile, store=store, signals=AppSignals(),
                     writer=ImmediateRunner(), network=ImmediateRunner(),
                     secrets_factory=lambda: secrets)
    yield ctx
    store.close()


def _dialog(qtbot: Any, ctx: Any) -> Any:
    from ui.officer import OfficerDialog

    dlg = OfficerDialog(ctx)
    qtbot.addWidget(dlg)
    return dlg


def _decisions(ctx: Any) -> list[Any]:
    return [e for e in ctx.store.journal() if e.kind == "decision"]


def test_paste_verify_and_release(qtbot: Any, officer: Any, sealed: dict[str, Any]) -> None:
    dlg = _dialog(qtbot, officer)
    assert not dlg.decide_buttons["release"].isEnabled()
    dlg.input.setPlainText(json.dumps(sealed))
    qtbot.mouseClick(dlg.verify_button, Qt.MouseButton.LeftButton)
    assert dlg.badge.text() == "VALID"
    assert "Content:" in dlg.result.toPlainText()
    assert dlg.decide_buttons["release"].isEnabled()
    seen: list[str] = []
    dlg.decided.connect(seen.append)
    dlg.decide_buttons["release"].click()
    assert "Decision recorded: release" in dlg.message.text()
    got = _decisions(officer)
    assert len(got) == 1 and seen == [got[0].declaration_id]
    doc = json.loads(base64.urlsafe_b64decode(got[0].envelope["payload"] + "=="))
    did = json.loads(base64.urlsafe_b64decode(sealed["protected"] + "=="))["did"]
    assert doc["declaration_id"] == did and doc["outcome"] == "release"
    assert not dlg.decide_buttons["release"].isEnabled()  # one decision per verification


def test_hold_needs_a_reason(qtbot: Any, officer: Any, sealed: dict[str, Any],
                             tmp_path: Path) -> None:
    f = tmp_path / "env.json"
    f.write_text(json.dumps(sealed))
    dlg = _dialog(qtbot, officer)
    dlg.load_file(f)
    assert dlg.badge.text() == "VALID"
    dlg.decide_buttons["hold"].click()
    assert "needs a reason" in dlg.message.text()
    assert _decisions(officer) == []
    qtbot.keyClicks(dlg.reason, "container seal number differs")
    dlg.decide_buttons["hold"].click()
    assert "Decision recorded: hold" in dlg.message.text()
    assert len(_decisions(officer)) == 1


def test_tampered_envelope_is_invalid_and_cannot_be_decided(
        qtbot: Any, officer: Any, sealed: dict[str, Any]) -> None:
    doc = json.loads(base64.urlsafe_b64decode(sealed["payload"] + "=="))
    doc["invoice_total"] = "1.00"
    from client.seal.canonical import canonicalize

    bad = dict(sealed, payload=base64.urlsafe_b64encode(canonicalize(doc)).rstrip(b"=").decode())
    dlg = _dialog(qtbot, officer)
    dlg.input.setPlainText(f"{bad['protected']}.{bad['payload']}.{bad['signature']}")
    dlg.verify()
    assert dlg.badge.text() == "INVALID"
    assert "INVALID" in dlg.result.toPlainText()
    assert not any(b.isEnabled() for b in dlg.decide_buttons.values())
    dlg.decide_outcome("release")  # even forced, nothing is recorded on an invalid envelope
    assert _decisions(officer) == []
    assert "not valid" in dlg.message.text()


def test_garbage_is_said_not_raised(qtbot: Any, officer: Any) -> None:
    dlg = _dialog(qtbot, officer)
    dlg.input.setPlainText("not an envelope at all")
    dlg.verify()
    assert dlg.badge.text() == "INVALID"
    assert "not a sealed Comptoir envelope" in dlg.result.toPlainText()


def test_trader_profile_verifies_but_cannot_decide(qtbot: Any, ctx: Any,
                                                   sealed: dict[str, Any]) -> None:
    dlg = _dialog(qtbot, ctx)
    dlg.input.setPlainText(json.dumps(sealed))
    dlg.verify()
    assert dlg.badge.text() == "VALID"
    assert not any(b.isEnabled() for b in dlg.decide_buttons.values())


def test_main_window_opens_the_officer_dialog_from_its_menu(qtbot: Any, window: Any) -> None:
    from ui.officer import OfficerDialog

    action = window.actions_by_name["officer"]
    assert action.text() and not action.shortcut().isEmpty()
    assert action in window.menus["sync"].actions()
    action.trigger()
    dialogs = [w for w in window.findChildren(OfficerDialog)]
    assert dialogs and dialogs[-1].isVisible()
    dialogs[-1].close()
