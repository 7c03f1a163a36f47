"""Settings and identity: server and pinning, enrolment, signing keys, language, profile.

Enrolment and key work touch the network or the keyring, so they run as background
ops; the dialog only gathers input and shows results.  The key actions are the action
layer's (:mod:`client.services.keys`, as ``comptoir keys``); the exported certificate is
written through its one atomic write.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from client.common.i18n import LANGUAGES, language, set_language
from client.services.keys import (
    create_signing_key,
    import_key_file,
    list_keys,
    save_public_key,
)
from client.store import settings_keys
from ui.context import AppContext, error_text
from ui.i18n import t
from ui.workers import Op, QueryOp

LANGUAGE_NAMES = {"en": "English", "fr": "Français"}


def apply_language(ctx: AppContext, lang: str) -> None:
    """Switch the GUI language live, and remember it for the next start."""
    set_language(lang)
    store = ctx.store
    ctx.writer.submit(lambda: store.set_setting(settings_keys.LANGUAGE, lang), None,
                      ctx.report_error)
    ctx.signals.language_changed.emit(lang)


class SettingsDialog(QDialog):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("SettingsDialog")
        self.setSizeGripEnabled(True)
        self.resize(720, 640)
        self.rows: list[tuple[QLabel, str]] = []
        self.boxes: list[tuple[QGroupBox, str]] = []
        self.buttons: list[tuple[QPushButton, str]] = []
        server = ctx.profile.server or {}

        # server
        self.server_url = QLineEdit(server.get("url") or "")
        self.server_url.setObjectName("server_url")
        self.pin = QLineEdit(server.get("pin_sha256") or "")
        self.pin.setObjectName("pin_sha256")
        self.ca_path = QLineEdit(server.get("ca_pem_path") or "")
        box_server, f = self._box("settings.server")
        self._row(f, "settings.server_url", self.server_url)
        self._row(f, "settings.pin", self.pin)
        self._row(f, "settings.ca_path", self.ca_path)
        self.save_server = self._button("settings.save_server", self.save_server_settings)
        f.addRow(self.save_server)
        # enrolment
        self.enrol_url = QLineEdit(server.get("url") or "")
        self.enrol_code = QLineEdit()
        self.enrol_code.setObjectName("enrol_code")
        self.trader_id = QLineEdit(ctx.profile.declarant_id or "")
        box_enrol, f = self._box("settings.enrolment")
        self._row(f, "settings.enrol_url", self.enrol_url)
        self._row(f, "settings.enrol_code", self.enrol_code)
        self._row(f, "settings.trader_id", self.trader_id)
        self.enrol_button = self._button("settings.enrol", lambda: self.enrol())
        self.enrol_result = QLabel()
        self.enrol_result.setWordWrap(True)
        f.addRow(self.enrol_button)
        f.addRow(self.enrol_result)
        # keys
        box_keys, f = self._box("settings.keys")
        self.keys_view = QPlainTextEdit()
        self.keys_view.setReadOnly(True)
        self.keys_view.setMaximumHeight(110)
        self.keys_view.setObjectName("keys_view")
        f.addRow(self.keys_view)
        row = QHBoxLayout()
        self.create_key_button = self._button("settings.create_key", lambda: self.create_key())
        self.import_button = self._button("settings.import_p12", lambda: self.import_p12())
        self.export_button = self._button("settings.export_cert", lambda: self.export_cert())
        for b in (self.create_key_button, self.import_button, self.export_button):
            row.addWidget(b)
        row.addStretch(1)
        f.addRow(row)
        self.keys_result = QLabel()
        self.keys_result.setWordWrap(True)
        f.addRow(self.keys_result)
        # language and profile
        box_general, f = self._box("settings.general")
        self.language = QComboBox()
        self.language.setObjectName("language")
        for code in LANGUAGES:
            self.language.addItem(LANGUAGE_NAMES.get(code, code), code)
        self.language.setCurrentIndex(list(LANGUAGES).index(language()))
        self.language.currentIndexChanged.connect(
            lambda i: apply_language(self.ctx, self.language.itemData(i)))
        self._row(f, "settings.language", self.language)
        self.profile_folder = QLineEdit(str(ctx.profile.home))
        self.profile_folder.setReadOnly(True)
        self.profile_folder.setObjectName("profile_folder")
        self._row(f, "settings.profile_folder", self.profile_folder)
        self.device = QLineEdit(ctx.profile.device_id)
        self.device.setReadOnly(True)
        self._row(f, "settings.device", self.device)

        from ui.cds_settings import CdsSection  # the UK CDS connector (#13)

        self.cds = CdsSection(self)
        inner = QWidget()
        col = QVBoxLayout(inner)
        for b in (box_general, box_server, box_enrol, self.cds.box, box_keys):
            col.addWidget(b)
        col.addStretch(1)
        area = QScrollArea()
        area.setWidgetResizable(True)
        area.setWidget(inner)
        self.close_button = self._button("editor.close", self.close)
        lay = QVBoxLayout(self)
        lay.addWidget(area, 1)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.close_button)
        lay.addLayout(bottom)
        ctx.signals.language_changed.connect(lambda _l: self.retranslate())
        self.retranslate()
        self.refresh_keys()

    # ---- building helpers -------------------------------------------------------------
    def _box(self, key: str) -> tuple[QGroupBox, QFormLayout]:
        box = QGroupBox()
        form = QFormLayout(box)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.boxes.append((box, key))
        return box, form

    def _row(self, form: QFormLayout, key: str, widget: QWidget) -> None:
        label = QLabel()
        label.setBuddy(widget)
        form.addRow(label, widget)
        self.rows.append((label, key))
        widget.setProperty("label_key", key)

    def _button(self, key: str, slot: Any) -> QPushButton:
        b = QPushButton()
        b.clicked.connect(lambda _c=False: slot())
        self.buttons.append((b, key))
        return b

    def retranslate(self) -> None:
        self.setWindowTitle(t("settings.title"))
        for label, key in self.rows:
            label.setText(t(key))
            buddy = label.buddy()
            if buddy is not None:
                buddy.setAccessibleName(t(key).replace("&", "").rstrip(" :"))
        for box, key in self.boxes:
            box.setTitle(t(key))
        for b, key in self.buttons:
            b.setText(t(key))
        self.keys_view.setAccessibleName(t("settings.keys"))

    # ---- server -------------------------------------------------------------------------
    def save_server_settings(self) -> None:
        profile = self.ctx.profile
        server = dict(profile.server or {})
        server.update(url=self.server_url.text().strip().rstrip("/") or None,
                      pin_sha256=self.pin.text().strip() or None,
                      ca_pem_path=self.ca_path.text().strip() or None)
        profile.server = server

        def ok(_r: Any) -> None:
            if self.ctx.sync is not None:
                self.ctx.sync.reset_engine()

        Op(self.ctx, profile.save, initiator=self).success(ok).run()

    def enrol(self) -> None:
        from sync.enrolment import enrol

        url = self.enrol_url.text().strip()
        code = self.enrol_code.text().strip()
        ca = self.ca_path.text().strip() or None
        pin = self.pin.text().strip() or None
        trader = self.trader_id.text().strip() or None
        profile, secrets = self.ctx.profile, self.ctx.secrets

        def work() -> Any:
            return enrol(profile, secrets, server_url=url, code=code,
                         ca_pem_path=Path(ca) if ca else None, pin_sha256=pin, trader_id=trader,
                         store=self.ctx.store)

        def ok(result: Any) -> None:
            self.enrol_result.setText(t("settings.enrolled", trader=result.trader_id,
                                        url=result.server_url))
            self.server_url.setText(url)
            if self.ctx.sync is not None:
                self.ctx.sync.reset_engine()
            reset = getattr(self.parent(), "reset_sealer", None)
            if reset is not None:
                reset()
            self.refresh_keys()

        def bad(exc: BaseException) -> None:
            self.enrol_result.setText(error_text(exc))

        self.enrol_result.setText(t("settings.enrolling"))
        Op(self.ctx, work, initiator=self, network=True).success(ok).failure(bad).run()

    # ---- keys ---------------------------------------------------------------------------------
    def refresh_keys(self) -> None:
        """List the profile's keys (read on the reader pool)."""
        home = self.ctx.profile.home

        def shown(keys: list[Any]) -> None:
            self.keys_view.setPlainText("\n".join(
                t("settings.key_line", kid=k.kid[:16], alg=k.alg, subject=k.subject,
                  active=t("settings.active") if k.active else "",
                  enrolled=t("settings.enrolled_mark") if k.enrolled else "")
                for k in keys) or t("settings.no_keys"))

        # an unreadable keys file is shown, not raised
        QueryOp(self.ctx, lambda: list_keys(home)).success(shown).failure(
            lambda exc: self.keys_view.setPlainText(error_text(exc))).run()

    def _keys_op(self, fn: Any, done_key: str) -> None:
        def ok(_r: Any) -> None:
            self.keys_result.setText(t(done_key))
            reset = getattr(self.parent(), "reset_sealer", None)
            if reset is not None:
                reset()
            self.refresh_keys()

        Op(self.ctx, fn, initiator=self).success(ok).failure(
            lambda exc: self.keys_result.setText(error_text(exc))).run()

    def create_key(self) -> None:
        home, secrets = self.ctx.profile.home, self.ctx.secrets
        self._keys_op(lambda: create_signing_key(home, secrets), "settings.key_created")

    def import_p12(self, path: Path | None = None, password: str | None = None) -> None:
        if path is None:
            name, _f = QFileDialog.getOpenFileName(self, t("settings.import_p12"), "",
                                                   "PKCS#12 (*.p12 *.pfx)")
            if not name:
                return
            path = Path(name)
            password, ok = QInputDialog.getText(self, t("settings.import_p12"),
                                                t("settings.p12_password"),
                                                QLineEdit.EchoMode.Password)
            if not ok:
                return
        home, secrets, p, pw = self.ctx.profile.home, self.ctx.secrets, path, password
        self._keys_op(lambda: import_key_file(home, secrets, p, pw or None),
                      "settings.key_imported")

    def export_cert(self, path: Path | None = None) -> None:
        if path is None:
            name, _f = QFileDialog.getSaveFileName(self, t("settings.export_cert"),
                                                   "certificate.pem", "PEM (*.pem)")
            if not name:
                return
            path = Path(name)
        home, target = self.ctx.profile.home, path
        self._keys_op(lambda: save_public_key(home, target), "settings.cert_exported")
