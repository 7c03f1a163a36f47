"""What every view is handed: the profile, the store, the runners, the signals.

Passed in explicitly (no global ``mw``): tests build one around a fresh profile and
an :class:`~ui.workers.ImmediateRunner` where threads are not the point.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from client.seal.profile import Profile
from client.store import Store
from ui.signals import AppSignals


@dataclass
class AppContext:
    profile: Profile
    store: Store
    signals: AppSignals
    writer: Any  # WriterExecutor | ImmediateRunner
    network: Any  # NetworkPool | ImmediateRunner
    secrets_factory: Callable[[], Any] | None = None
    reader: Any = None  # ReaderPool for long reads off the GUI thread (None: inline)
    sync: Any = None  # ui.syncbridge.SyncController, once created
    training: Any = None  # the in-process sandbox handle in training mode
    error_sink: Callable[[BaseException], None] | None = None
    _secrets: Any = field(default=None, repr=False)
    _refdata: Any = field(default=None, repr=False)

    @property
    def secrets(self) -> Any:
        if self._secrets is None:
            from client.seal.profile import secret_store

            self._secrets = (self.secrets_factory or (lambda: secret_store(self.profile)))()
        return self._secrets

    @property
    def refdata(self) -> Any:
        """The reference data held: the seed plus deltas downloaded by sync."""
        if self._refdata is None:
            from client.declaration.refdata import load_reference_data

            self._refdata = load_reference_data(self.profile.home / "refdata")
        return self._refdata

    def reload_refdata(self) -> None:
        self._refdata = None

    def actor(self) -> str:
        return self.profile.actor()

    def report_error(self, exc: BaseException) -> None:
        if self.error_sink is not None:
            self.error_sink(exc)
        else:
            print(f"comptoir: {error_text(exc)}", file=sys.stderr)


def error_text(exc: BaseException) -> str:
    """One translated line for an error (ComptoirError renders; others show their type)."""
    from ui.i18n import render

    if hasattr(exc, "render"):
        return render(exc)
    return f"{type(exc).__name__}: {exc}"
