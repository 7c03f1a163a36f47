"""The profile and its open store for the length of one action, and profile-wide acts.

A command opens one :class:`Session` (creating a trader profile on first use, as every
command does), acts through the service functions on ``session.store`` and closes it.
The desktop app holds its own store for its lifetime and passes it to the same functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.common.closing import Closing
from client.common.i18n import Message
from client.seal.profile import (
    Profile,
    init_profile,
    load_or_init,
    open_store,
    profile_exists,
    rekey,
    secret_store,
)
from client.seal.sealing import Sealer
from client.store import Store

WarningSink = Callable[[Message], None]


class Session(Closing):
    """One profile, its secret store and its open database.

    ``on_warning`` hears, once, a warning the secret store raises when it opens (no OS
    keyring: secrets fall back to passphrase-sealed files); a front end shows it.
    """

    def __init__(self, home: Path, *, on_warning: WarningSink | None = None) -> None:
        self.profile: Profile = load_or_init(home)
        self._on_warning = on_warning
        self._secrets: Any = None
        self._sealer: Sealer | None = None
        self.store: Store = open_store(self.profile, secrets=self.secrets)

    @property
    def secrets(self) -> Any:
        if self._secrets is None:
            self._secrets = secret_store(self.profile)
            warning = getattr(self._secrets, "last_warning", None)
            if warning is not None and self._on_warning is not None:
                self._on_warning(warning)
        return self._secrets

    @property
    def home(self) -> Path:
        return self.profile.home

    def actor(self) -> str:
        """Who acts, for the history."""
        return self.profile.actor()

    def sealer(self) -> Sealer:
        """The profile's sealer (loads the active private key once; refuses without one)."""
        if self._sealer is None:
            self._sealer = Sealer(self.profile, self.store, self.secrets)
        return self._sealer

    def close(self) -> None:
        self.store.close()


@dataclass(frozen=True)
class ProfileSetUp:
    """What ``init`` found or made."""

    home: Path
    created: bool
    profile: Profile | None = None


def set_up_profile(home: Path, *, role: str = "trader", declarant_id: str | None = None,
                   key_alg: str | None = "ES256") -> ProfileSetUp:
    """Create the profile in ``home`` unless one is there already (then nothing changes)."""
    if profile_exists(home):
        return ProfileSetUp(home, created=False)
    profile = init_profile(home, role=role, declarant_id=declarant_id, key_alg=key_alg)
    return ProfileSetUp(home, created=True, profile=profile)


def rotate_database_key(session: Session) -> None:
    """A new database key: stored first, then the database re-encrypted (crash-safe)."""
    rekey(session.profile, session.store, secrets=session.secrets)
