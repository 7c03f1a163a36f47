"""A profile: one folder holding one declarant's (or officer's) device.

``profile.json`` holds only public facts (profile and device ids, role, server
address, trust material's location); secrets — the database key, signing keys, the
API token — live in the OS keyring or, where none exists, in passphrase-sealed files
(:mod:`client.seal.secrets`).  The database is encrypted with SQLCipher under a random
256-bit key; rotating it (``comptoir rekey``) is crash-safe: the next key is stored
before the database is re-encrypted and both are tried on open.
"""

from __future__ import annotations

import getpass
import json
import os
import secrets as pysecrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from client.common.files import atomic_write
from client.common.i18n import ComptoirError

if TYPE_CHECKING:  # imported where used: the desktop's first screen reads the profile
    from client.store import Store  # before the store's libraries are loaded (#15)

PROFILE_FILE = "profile.json"
TRAINING_SUFFIX = "-training"  # the training profile lives beside the user's, never inside
DB_FILE = "comptoir.db"
ROLES = ("trader", "officer")


def _now() -> str:
    from client.declaration.model import now_utc

    return now_utc()


@dataclass
class Profile:
    home: Path
    profile_id: str
    device_id: str
    role: str = "trader"
    declarant_id: str | None = None
    created_at: str = field(default_factory=_now)
    server: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    training: bool = False  # enrols only with a training single window, and it only with us

    @property
    def db_path(self) -> Path:
        return self.home / DB_FILE

    def actor(self) -> str:
        """Who is acting, for the history: the OS user on this device."""
        try:
            user = getpass.getuser()
        except Exception:  # noqa: BLE001 - no user database in some containers
            user = "user"
        return f"{user}@{self.device_id[-8:]}"

    def save(self) -> None:
        data = asdict(self)
        data.pop("home")
        _write_json_atomic(self.home / PROFILE_FILE, data)


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    atomic_write(path, json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8"))


def training_home(home: Path) -> Path:
    """The training profile's own folder, a sibling of the user's profile ``home``.

    Training never opens, enrols or writes the user's profile: its queued envelopes
    could otherwise drain to the training single window and get fake MRNs.
    """
    home = Path(home)
    if home.name.endswith(TRAINING_SUFFIX):
        return home
    return home.with_name(home.name + TRAINING_SUFFIX)


def profile_exists(home: Path) -> bool:
    return (home / PROFILE_FILE).is_file()


def load_profile(home: Path) -> Profile:
    path = home / PROFILE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ComptoirError("profile.missing", 2, home=str(home)) from exc
    except (OSError, ValueError) as exc:
        raise ComptoirError("profile.unreadable", 2, home=str(home), reason=str(exc)) from exc
    known = {k: data[k] for k in Profile.__dataclass_fields__ if k in data and k != "home"}
    return Profile(home=home, **known)


def init_profile(home: Path, *, role: str = "trader", declarant_id: str | None = None,
                 passphrase: str | None = None, key_alg: str | None = None,
                 training: bool = False) -> Profile:
    """Create the folder (mode 0700), the profile file, the database key and the store,
    and a first signing key when ``key_alg`` is given.

    All or nothing: if any step fails (no keyring and no passphrase, say), what was
    created is removed so that the next attempt starts clean.
    """
    if role not in ROLES:
        raise ComptoirError("profile.bad_role", 2, role=role)
    if profile_exists(home):
        raise ComptoirError("profile.exists", 2, home=str(home))
    existed = home.exists()
    before = set(home.iterdir()) if existed else set()
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    from client.declaration.model import new_declaration_id

    profile = Profile(home=home, profile_id=new_declaration_id(), device_id=new_declaration_id(),
                      role=role, declarant_id=declarant_id, training=training)
    try:
        profile.save()
        secrets = secret_store(profile, passphrase)
        open_store(profile, create=True, secrets=secrets).close()
        if key_alg:
            from client.seal.keys import create_key

            create_key(home, secrets, alg=key_alg, subject=declarant_id or "Comptoir declarant")
    except BaseException:
        import shutil

        for entry in set(home.iterdir()) - before:
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        if not existed:
            shutil.rmtree(home, ignore_errors=True)
        raise
    return profile


def load_or_init(home: Path, *, passphrase: str | None = None,
                 training: bool = False) -> Profile:
    """The profile in ``home``, creating a trader profile on first use."""
    if profile_exists(home):
        profile = load_profile(home)
        if profile.training != training:
            raise ComptoirError("profile.training_mismatch", 2, home=str(home))
        return profile
    return init_profile(home, passphrase=passphrase, key_alg="ES256", training=training)


def secret_store(profile: Profile, passphrase: str | None = None) -> Any:
    from client.seal.secrets import open_secret_store

    return open_secret_store(profile.home, profile.profile_id, passphrase)


def open_store(profile: Profile, *, passphrase: str | None = None, create: bool = False,
               secrets: Any = None) -> Store:
    """Open the profile's encrypted database with its key from the secret store."""
    from client.store import Store, StoreError

    secrets = secrets or secret_store(profile, passphrase)
    key = secrets.get("db-key")
    nxt = secrets.get("db-key.next")
    if key is None and nxt is None:
        if profile.db_path.exists() and not create:
            raise ComptoirError("store.key_missing", 2, path=str(profile.db_path))
        key = pysecrets.token_hex(32)
        secrets.set("db-key", key)
    last_error: StoreError | None = None
    for candidate in (k for k in (key, nxt) if k):
        try:
            store = Store.open(profile.db_path, candidate)
        except StoreError as exc:
            last_error = exc
            continue
        if candidate == nxt:  # a rekey was interrupted after re-encryption: finish it
            secrets.set("db-key", nxt)
            secrets.delete("db-key.next")
        return store
    assert last_error is not None
    raise last_error


def rekey(profile: Profile, store: Store, *, passphrase: str | None = None,
          secrets: Any = None) -> None:
    """Rotate the database key: store the next key, re-encrypt, then promote it."""
    secrets = secrets or secret_store(profile, passphrase)
    new_key = pysecrets.token_hex(32)
    secrets.set("db-key.next", new_key)
    store.rekey(new_key)
    secrets.set("db-key", new_key)
    secrets.delete("db-key.next")


def default_home() -> Path:
    """The profile folder: --home, then $COMPTOIR_HOME, then the platform's data dir."""
    env = os.environ.get("COMPTOIR_HOME")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("comptoir", "comptoir"))
