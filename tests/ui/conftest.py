"""UI fixtures: a fresh profile per test, a context with synchronous or real runners."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client.common.i18n import set_language
from client.declaration import states
from client.declaration.model import Declaration


@pytest.fixture(autouse=True)
def _ui_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Works with a real keyring (.ci/with-keyring) and without one (passphrase files).
    monkeypatch.setenv("COMPTOIR_PASSPHRASE", "ui-test-passphrase")
    monkeypatch.setenv("COMPTOIR_UI_NO_PROMPT", "1")
    set_language("en")
    from ui.i18n import set_pseudo

    set_pseudo(False)
    yield
    set_language("en")
    set_pseudo(False)


class Profiled:
    """A profile with its open store and secrets (closed at teardown)."""

    def __init__(self, home: Path) -> None:
        from client.seal.profile import load_or_init, open_store, secret_store

        self.home = home
        self.profile = load_or_init(home)
        self.secrets = secret_store(self.profile)
        self.store = open_store(self.profile, secrets=self.secrets)
        self.readers: list[Any] = []

    def context(self, *, threaded: bool = False) -> Any:
        """Synchronous runners, or (``threaded``) the app's real writer and pools."""
        from ui.context import AppContext
        from ui.signals import AppSignals
        from ui.workers import ImmediateRunner, NetworkPool, ReaderPool, WriterExecutor

        writer = WriterExecutor() if threaded else ImmediateRunner()
        network = NetworkPool() if threaded else ImmediateRunner()
        reader = ReaderPool() if threaded else None  # None: queries run inline
        if reader is not None:
            self.readers.append(reader)
        return AppContext(profile=self.profile, store=self.store, signals=AppSignals(),
                          writer=writer, network=network, reader=reader,
                          secrets_factory=lambda: self.secrets)

    def close(self) -> None:
        for reader in self.readers:  # no read may outlive the store
            reader.shutdown()
        self.store.close()

    def seed(self, n: int, status: str = states.READY, seed: int = 1) -> list[str]:
        from client.declaration.samples import sample_declaration

        rng = random.Random(seed)
        decls: list[Declaration] = []
        for i in range(n):
            d = sample_declaration(rng, n_items=rng.randint(1, 3))
            d.lrn = f"LRN{seed:02d}{i:06d}"
            decls.append(d)
        self.store.create_many(decls, self.profile.actor(), status=status)
        return [d.id for d in decls]


@pytest.fixture
def prof(home: Path) -> Iterator[Profiled]:
    p = Profiled(home)
    yield p
    p.close()


@pytest.fixture
def ctx(prof: Profiled) -> Any:
    """A context whose writer and network run synchronously (threads not the point)."""
    return prof.context()


@pytest.fixture
def window(qtbot: Any, ctx: Any) -> Any:
    from ui.mainwindow import MainWindow
    from ui.syncbridge import SyncController

    w = MainWindow(ctx, sync=SyncController(ctx, auto=False))
    qtbot.addWidget(w)
    w.show()
    return w
