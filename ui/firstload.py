"""The first screen's reading, without Qt: profile, database key, one screen of rows.

Started on a thread of its own before PySide6 is imported (:func:`prefetch`): the keyring
answers over D-Bus and the Qt libraries load meanwhile, so the first paint waits for the
longer of the two rather than for both (#15).  See :mod:`ui.firstscreen` for the window.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from client.store.firstscreen import FirstScreen, read_first_screen

ROWS = 100  # more than a maximised window shows; the rest follow with the store
ORDER = ("lrn", True)  # the main window's first order: its header sorts the LRN column down


def load_first_screen(home: Path) -> tuple[Any, FirstScreen] | None:
    """(profile, first screen) for an existing profile whose key the keyring gives at
    once, else None (a first run, a passphrase to ask, a damaged file: the full path).

    The key is read straight from the keyring the profile recorded, without the probe
    (a write, a read and a delete) that choosing a secret store makes: the full path
    still makes it, and says what is wrong when the keyring does not answer."""
    from client.seal.profile import load_profile, profile_exists
    from client.seal.secrets import KIND_KEYRING, recorded_backend

    if not profile_exists(home):
        return None
    try:
        if recorded_backend(home) != KIND_KEYRING:
            return None
        profile = load_profile(home)
        key = _database_key(profile.profile_id)
    except Exception:  # noqa: BLE001 - the full path opens the profile and says why
        return None
    if key is None:
        return None
    screen = read_first_screen(profile.db_path, key, limit=ROWS, order_by=ORDER[0],
                               descending=ORDER[1])
    return (profile, screen) if screen is not None else None


def _secret_service_direct() -> bool:
    """True where the first screen talks to the Secret Service's backend itself (Linux,
    no backend named by the user): one predicate for the key read and its imports."""
    return sys.platform.startswith("linux") and not os.environ.get("PYTHON_KEYRING_BACKEND")


def _database_key(namespace: str) -> str | None:
    """The database key from the keyring.  On Linux, the Secret Service's backend alone:
    ``keyring`` otherwise imports every backend it ships to choose one, which took longer
    than reading and painting the rows.  A key kept elsewhere reads as None here (the full
    path finds it), and a wrong key only fails to open the file."""
    from client.seal.secrets import SERVICE, KeyringSecretStore

    if _secret_service_direct():
        from keyring.backends import SecretService

        backend = SecretService.Keyring()
        backend.set_properties_from_env()  # KEYRING_PROPERTY_*, as keyring's own choice has
        return backend.get_password(SERVICE, f"{namespace}/db-key")
    return KeyringSecretStore(namespace).get("db-key")


def _import_for_the_thread() -> None:
    """Everything :func:`load_first_screen` uses, imported here on the main thread.

    PySide6's start-up (shiboken's signature bootstrap) iterates ``sys.modules``: a module
    the thread imported at that moment aborted the app ("dictionary changed size during
    iteration", then a fatal error).  So the thread only reads (D-Bus, the file) while Qt
    loads; the imports, a few tens of ms, come first."""
    import sqlcipher3.dbapi2  # noqa: F401 - the driver read_first_screen opens

    import client.seal.profile  # noqa: F401
    import client.seal.secrets  # noqa: F401
    import client.store.settings_keys  # noqa: F401

    if _secret_service_direct():
        import cryptography.hazmat.backends.openssl.backend  # noqa: F401 - the session's DH
        import cryptography.hazmat.primitives.hashes  # noqa: F401
        import keyring.backends.SecretService  # noqa: F401
        import secretstorage  # noqa: F401
    else:  # keyring's own choice: it imports its backends as it makes it
        import keyring

        keyring.get_keyring()


def prefetch(home: Path) -> Callable[[], tuple[Any, FirstScreen] | None]:
    """Start :func:`load_first_screen` on a thread; the callable returned waits for it."""
    box: list[tuple[Any, FirstScreen] | None] = [None]
    try:
        _import_for_the_thread()
    except Exception:  # noqa: BLE001 - no first screen; the full path says why
        return lambda: None

    def run() -> None:
        try:
            box[0] = load_first_screen(home)
        except Exception:  # noqa: BLE001 - no first screen; the full path says why
            box[0] = None

    thread = threading.Thread(target=run, name="comptoir-first-screen", daemon=True)
    thread.start()

    def result() -> tuple[Any, FirstScreen] | None:
        thread.join()
        return box[0]

    return result
