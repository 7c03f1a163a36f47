"""Training mode: the sandbox single window inside the app, enrolled automatically.

A newcomer goes draft -> seal -> offline queue -> sync -> released without any setup:
the sandbox starts in a thread of this process (its own folder under the training
profile), issues an enrolment code, and the profile enrols against it over real HTTPS.
Both steps touch sockets, so they run on the network pool; the window says "training"
in its title and, permanently, in its status bar.

Training never touches the user's profile: it runs on its own profile folder
(:func:`client.seal.profile.training_home`, chosen by ``ui.app`` before anything is
opened), only a training profile may enrol here, and the training single window
refuses to enrol a real profile (the client checks ``training`` on both sides).
"""

from __future__ import annotations

from typing import Any

from ui.context import AppContext
from ui.i18n import t
from ui.workers import Op

TRAINING_TRADER = "GB123456789000"


def training_sandbox_key(secrets: Any) -> str:
    """The training sandbox's at-rest key (its DB and CA keys), kept in the profile's
    secret store like the profile's own database key."""
    import secrets as pysecrets

    key = secrets.get("training-sandbox-key")
    if not key:
        key = pysecrets.token_hex(32)
        secrets.set("training-sandbox-key", key)
    return str(key)


def start_sandbox_and_enrol(ctx: AppContext, *, lane: str = "green",
                            clock_speed: float | None = None) -> Any:
    """Start the in-process sandbox and enrol this profile with it (blocking: a worker)."""
    from client.common.i18n import ComptoirError
    from sync.enrolment import enrol
    from sync.sandbox.server import start_in_thread

    if not ctx.profile.training:
        raise ComptoirError("profile.training_mismatch", 2, home=str(ctx.profile.home))
    handle = start_in_thread(ctx.profile.home / "training-sandbox", port=0, seed=0, lane=lane,
                             clock_speed=clock_speed, training=True,
                             secret_key=training_sandbox_key(ctx.secrets))
    try:
        trader = ctx.profile.declarant_id or TRAINING_TRADER
        code = handle.new_enrolment_code(trader)
        enrol(ctx.profile, ctx.secrets, server_url=handle.url, code=code,
              ca_pem_path=handle.ca_pem_path, trader_id=trader, store=ctx.store)
    except BaseException:
        handle.stop()
        raise
    return handle


def start_training(ctx: AppContext, window: Any, *, lane: str = "green",
                   clock_speed: float | None = None) -> None:
    """Start training mode in the background; the window updates when it is ready."""
    from PySide6.QtWidgets import QLabel

    badge = QLabel(t("training.badge"))
    badge.setObjectName("trainingBadge")
    badge.setStyleSheet("font-weight: bold;")
    window.statusBar().addPermanentWidget(badge)
    window.statusBar().showMessage(t("training.starting"))

    def ok(handle: Any) -> None:
        ctx.training = handle
        window.reset_sealer()
        window.sync.reset_engine()
        window.retranslate()
        window.statusBar().showMessage(t("training.ready"), 15000)
        window.sync.sync_now()

    Op(ctx, lambda: start_sandbox_and_enrol(ctx, lane=lane, clock_speed=clock_speed),
       initiator=window, network=True).success(ok).run()
