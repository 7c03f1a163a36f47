"""The settings' UK CDS section: the profile's connector, environment and credentials,
and signing in (the system browser, a loopback redirect, PKCE) as a background op."""

from __future__ import annotations

import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QPushButton

from ui.context import error_text
from ui.i18n import t
from ui.workers import Op


@dataclass(frozen=True)
class ConnectorView:
    """The profile's connector as the window shows it (status bar and settings)."""

    connector: str
    environment: str
    url: str
    credentials: str  # none | signed_in | sign_in_again
    error: BaseException | None = None


def connector_view(ctx: Any) -> ConnectorView:
    """Connector, environment and credentials of the profile, as they are now (the
    credentials read from the keyring, never the tokens themselves)."""
    server = ctx.profile.server or {}
    connector = str(server.get("connector") or "comptoir")
    cds = server.get("cds") or {}
    if connector != "cds" and not cds.get("url"):
        return ConnectorView(connector, "-", "-", "none")
    credentials, error = "none", None
    if cds.get("url"):
        from sync.cds.config import CdsConfig
        from sync.cds.oauth import TokenKeeper

        try:
            credentials = TokenKeeper(CdsConfig.from_profile(ctx.profile), ctx.secrets).status()
        except Exception as exc:  # noqa: BLE001 - a broken setting is shown, not raised
            error = exc
    return ConnectorView(connector, str(cds.get("environment") or "-"),
                         str(cds.get("url") or "-"), credentials, error)


def connector_tip(view: ConnectorView) -> str:
    return t("settings.cds_state", connector=view.connector, environment=view.environment,
             url=view.url, credentials=t(f"settings.cds_credentials_{view.credentials}"))


class CdsSection:
    """Built into :class:`ui.settings.SettingsDialog` (``dialog._box`` / ``_row`` / ``_button``)."""

    def __init__(self, dialog: Any) -> None:
        self.dialog = dialog
        self.ctx = dialog.ctx
        #: how the authorize URL reaches the user's browser (tests act as the browser)
        self.open_url: Callable[[str], Any] = webbrowser.open
        cds = dict((self.ctx.profile.server or {}).get("cds") or {})
        self.box, f = dialog._box("settings.cds")
        self.state = QLabel()
        self.state.setObjectName("cds_state")
        self.state.setWordWrap(True)
        f.addRow(self.state)
        self.environment = QLineEdit(cds.get("environment") if cds.get("environment") not in
                                     (None, "custom") else cds.get("url") or "sandbox")
        self.environment.setObjectName("cds_environment")
        self.client_id = QLineEdit(cds.get("client_id") or "")
        self.client_id.setObjectName("cds_client_id")
        self.ca = QLineEdit(cds.get("ca_pem_path") or "")
        self.ca.setObjectName("cds_ca")
        self.badge = QLineEdit(cds.get("badge") or "")
        self.schemas = QLineEdit(cds.get("schema_dir") or "")
        for key, widget in (("settings.cds_environment", self.environment),
                            ("settings.cds_client_id", self.client_id),
                            ("settings.ca_path", self.ca), ("settings.cds_badge", self.badge),
                            ("settings.cds_schemas", self.schemas)):
            dialog._row(f, key, widget)
        self.sign_in_button: QPushButton = dialog._button("settings.cds_sign_in", self.sign_in)
        self.sign_in_button.setObjectName("cds_sign_in")
        f.addRow(self.sign_in_button)
        self.result = QLabel()
        self.result.setObjectName("cds_result")
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        f.addRow(self.result)
        self.refresh()

    def refresh(self) -> None:
        """Connector, environment and credentials of the profile, as they are now."""
        view = connector_view(self.ctx)
        if view.error is not None:
            self.state.setText(error_text(view.error))
            return
        text = connector_tip(view)
        connector = view.connector
        if connector == "cds":
            from client.common.i18n import tr

            counts = self.ctx.store.cds_counts()
            text += "\n" + tr("cds.status_counts", lodged=counts.get("lodged", 0),
                              uncertain=counts.get("uncertain", 0),
                              unresolved=counts.get("unresolved", 0),
                              refused=counts.get("refused", 0),
                              orphans=counts.get("orphan_notifications", 0))
        self.state.setText(text)

    def sign_in(self) -> None:
        from sync.cds.connect import connect_cds

        profile, secrets = self.ctx.profile, self.ctx.secrets
        environment = self.environment.text().strip()
        client_id = self.client_id.text().strip()
        ca = self.ca.text().strip() or None
        badge = self.badge.text().strip() or None
        schemas = self.schemas.text().strip() or None
        opener = self.open_url

        def show(url: str) -> None:  # from the network thread: the browser opens the URL
            opener(url)

        def work() -> Any:
            return connect_cds(profile, secrets, environment=environment, client_id=client_id,
                               ca=Path(ca) if ca else None, badge=badge,
                               schemas=Path(schemas) if schemas else None,
                               open_browser=False, show_url=show)

        def ok(_token: Any) -> None:
            self.result.setText(t("settings.cds_signed_in"))
            if self.ctx.sync is not None:
                self.ctx.sync.reset_engine()
            self.refresh()
            from client.store import Changes

            # the window's status bar shows the profile's connector: tell it
            self.ctx.signals.operation_did_execute.emit(Changes(settings=True), self.dialog)

        def bad(exc: BaseException) -> None:
            self.result.setText(error_text(exc))
            self.refresh()

        self.result.setText(t("settings.cds_signing_in"))
        Op(self.ctx, work, initiator=self.dialog, network=True).success(ok).failure(bad).run()
