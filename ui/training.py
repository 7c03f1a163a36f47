"""Training mode: the sandbox single window inside the app, enrolled automatically.

A newcomer goes draft -> seal -> offline queue -> sync -> released without any setup:
the sandbox starts in a thread of this process (its own folder under the training
profile), issues an enrolment code, and the profile enrols against it over real HTTPS.
Both steps touch sockets, so they run on the network pool; the window says "training"
in its title and, permanently, in its status bar.

It opens on examples in every state (:func:`client.services.training.seed_training`, once
per training profile), and a "Link" switch in the status bar stops and restarts the
training single window, so that the guided tour (:mod:`ui.tour`) can show an outage and
its recovery for real: the envelopes wait in the outbox, then drain.

Training never touches the user's profile: it runs on its own profile folder
(:func:`client.seal.profile.training_home`, chosen by ``ui.app`` before anything is
opened), only a training profile may enrol here, and the training single window
refuses to enrol a real profile (the client checks ``training`` on both sides).
"""

from __future__ import annotations

from collections.abc import Callable
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


class TrainingLink:
    """The training single window, which the user may cut off and restore (the tour's
    outage).  Restored on the same port, with the same database and CA, so the profile's
    enrolment and server address stay valid; ``stop`` at exit is the same as a cut."""

    def __init__(self, start: Callable[[int], Any]) -> None:
        self._start = start
        self.handle: Any = start(0)
        self.port: int = self.handle.port
        self.url: str = self.handle.url
        self.ca_pem_path: Any = self.handle.ca_pem_path

    @property
    def up(self) -> bool:
        return self.handle is not None

    def new_enrolment_code(self, trader_id: str, role: str = "trader") -> str:
        return str(self.handle.new_enrolment_code(trader_id, role))

    def cut(self) -> None:
        """Stop the single window (blocking: run on a worker)."""
        if self.handle is not None:
            handle, self.handle = self.handle, None
            handle.stop()

    def restore(self) -> None:
        """Start it again where it was (blocking: run on a worker)."""
        if self.handle is None:
            self.handle = self._start(self.port)

    def stop(self) -> None:
        self.cut()


def start_sandbox_and_enrol(ctx: AppContext, *, lane: str = "green",
                            clock_speed: float | None = None) -> TrainingLink:
    """Start the in-process sandbox and enrol this profile with it (blocking: a worker)."""
    from client.common.i18n import ComptoirError
    from sync.enrolment import enrol
    from sync.sandbox.server import start_in_thread

    if not ctx.profile.training:
        raise ComptoirError("profile.training_mismatch", 2, home=str(ctx.profile.home))
    key = training_sandbox_key(ctx.secrets)
    handle = TrainingLink(lambda port: start_in_thread(
        ctx.profile.home / "training-sandbox", port=port, seed=0, lane=lane,
        clock_speed=clock_speed, training=True, secret_key=key))
    try:
        trader = ctx.profile.declarant_id or TRAINING_TRADER
        code = handle.new_enrolment_code(trader)
        enrol(ctx.profile, ctx.secrets, server_url=handle.url, code=code,
              ca_pem_path=handle.ca_pem_path, trader_id=trader, store=ctx.store)
    except BaseException:
        handle.stop()
        raise
    return handle


def seed_examples(ctx: AppContext, window: Any) -> Any:
    """The training examples, on the writer (once per profile: later calls write nothing)."""
    from client.common.i18n import language
    from client.services.training import seed_training

    store, home, actor, lang = ctx.store, ctx.profile.home, ctx.actor(), language()
    sealer = window.sealer()
    return Op(ctx, lambda: seed_training(home, store, sealer, actor, lang=lang),
              initiator=window)


class LinkSwitch:
    """The status bar's "Link" switch: checked while the training single window runs."""

    def __init__(self, ctx: AppContext, window: Any) -> None:
        from PySide6.QtWidgets import QToolButton

        self.ctx, self.window = ctx, window
        self.busy = False
        self.button = QToolButton()
        self.button.setObjectName("trainingLink")
        self.button.setCheckable(True)
        self.button.setEnabled(False)
        self.button.clicked.connect(self.set_link)
        ctx.signals.language_changed.connect(lambda _l: self.retranslate())
        window.statusBar().addPermanentWidget(self.button)
        self.retranslate()

    @property
    def up(self) -> bool:
        return self.ctx.training is not None and self.ctx.training.up

    def retranslate(self) -> None:
        from PySide6.QtWidgets import QLabel

        badge = self.window.statusBar().findChild(QLabel, "trainingBadge")
        if badge is not None:
            badge.setText(t("training.badge"))
        self.button.setChecked(self.up)
        self.button.setText(t("training.link.up") if self.up else t("training.link.cut"))
        self.button.setToolTip(t("training.link.tip"))
        self.button.setAccessibleName(t("training.link.name"))

    def ready(self) -> None:
        self.button.setEnabled(True)
        self.retranslate()

    def set_link(self, on: bool) -> None:
        """Cut or restore the training single window (on the network pool: it blocks)."""
        link = self.ctx.training
        if link is None or self.busy or on == link.up:
            self.retranslate()
            return
        self.busy = True
        self.button.setEnabled(False)

        def done(_r: Any) -> None:
            self.busy = False
            self.button.setEnabled(True)
            self.retranslate()
            self.window.statusBar().showMessage(
                t("training.link.restored") if link.up else t("training.link.was_cut"), 8000)
            help_menu = getattr(self.window, "help_menu", None)
            if help_menu is not None:  # the tour's "cut" and "restore" steps look at the link
                help_menu.link_changed()
            self.window.sync.sync_now()  # restored: the outbox drains; cut: shows offline

        def failed(exc: BaseException) -> None:
            self.busy = False
            self.button.setEnabled(True)
            self.retranslate()
            self.window.show_error(exc)

        Op(self.ctx, link.restore if on else link.cut, initiator=self.window,
           network=True).success(done).failure(failed).run()


def start_training(ctx: AppContext, window: Any, *, lane: str = "green",
                   clock_speed: float | None = None) -> None:
    """Start training mode in the background; the window updates when it is ready: the
    single window up and enrolled, the examples written, a first sync."""
    from PySide6.QtWidgets import QLabel

    badge = QLabel(t("training.badge"))
    badge.setObjectName("trainingBadge")
    badge.setStyleSheet("font-weight: bold;")
    window.statusBar().addPermanentWidget(badge)
    window.link_switch = LinkSwitch(ctx, window)
    window.statusBar().showMessage(t("training.starting"))

    def seeded(_made: Any) -> None:
        window.link_switch.ready()
        window.statusBar().showMessage(t("training.ready"), 15000)
        window.sync.sync_now()

    def ok(handle: Any) -> None:
        ctx.training = handle
        window.reset_sealer()
        window.sync.reset_engine()
        window.retranslate()
        seed_examples(ctx, window).success(seeded).run()

    Op(ctx, lambda: start_sandbox_and_enrol(ctx, lane=lane, clock_speed=clock_speed),
       initiator=window, network=True).success(ok).run()
