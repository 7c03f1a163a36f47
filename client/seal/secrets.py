"""Where secrets live: the OS keyring, or passphrase-sealed files where there is none.

A private signing key or a database key must never sit on disk in clear (a laptop stolen
from a border post).  The OS keyring (Secret Service, Keychain, Credential Locker) through
``keyring`` is preferred.  Headless or minimal machines have no keyring: each secret then
lives in its own file sealed with AES-256-GCM under a key derived from a passphrase with
scrypt, and the user is warned.  The backend a profile uses is remembered in
``home/secrets.json`` (no secret in it) so a profile made with the fallback keeps using it
when a keyring appears later.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import secrets as _random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from client.common import files
from client.common.i18n import ComptoirError, Message

_T = TypeVar("_T")

log = logging.getLogger(__name__)

SERVICE = "comptoir"
PASSPHRASE_ENV = "COMPTOIR_PASSPHRASE"
KIND_KEYRING = "keyring"
KIND_FILE = "passphrase-file"

# scrypt cost (RFC 7914): 2**17 x 8 x 1 = 128 MiB and ~0.5 s, once per process and store
# (OWASP's floor for scrypt).  Stores made earlier keep the cost recorded in their files.
SCRYPT_N = 2**17
SCRYPT_R = 8
SCRYPT_P = 1
_MAX_N, _MAX_R, _MAX_P = 2**20, 32, 16  # refuse files that would make us burn memory
_VERIFIER_PLAIN = b"comptoir-secrets-verifier-v1"
_NAME_RE = re.compile(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*")
MIN_PASSPHRASE_SCORE = 3  # zxcvbn 0..4: "safely unguessable" from 3 on
MIN_PASSPHRASE_LENGTH = 12
_env_passphrase: str | None = None


def env_passphrase() -> str | None:
    """COMPTOIR_PASSPHRASE, read once and removed from the environment.

    Child processes (a browser opened for help, a print command) must not inherit it;
    the value stays in this process only.  A later assignment (tests, a wrapper) wins.
    """
    global _env_passphrase
    value = os.environ.pop(PASSPHRASE_ENV, None)
    if value:
        _env_passphrase = value
    return _env_passphrase


def passphrase_weakness(passphrase: str) -> Message | None:
    """Why a new passphrase is too weak (one clear message), or None when it will do."""
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        return Message("secrets.passphrase_too_short", {"min": MIN_PASSPHRASE_LENGTH})
    from zxcvbn import zxcvbn

    if zxcvbn(passphrase[:100])["score"] < MIN_PASSPHRASE_SCORE:
        return Message("secrets.passphrase_too_weak", {})
    return None


@runtime_checkable
class SecretStore(Protocol):
    """A place for named secrets (strings)."""

    kind: str
    last_warning: Message | None

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str) -> None: ...

    def delete(self, name: str) -> None: ...


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or ".." in name.split("/"):
        raise ComptoirError("secrets.bad_name", 2, name=str(name))
    return name


# --------------------------------------------------------------------------- keyring


class KeyringSecretStore:
    """Secrets in the OS keyring: service "comptoir", user "<namespace>/<name>"."""

    kind = KIND_KEYRING

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.last_warning: Message | None = None

    def _user(self, name: str) -> str:
        return f"{self.namespace}/{_check_name(name)}"

    def get(self, name: str) -> str | None:
        import keyring
        from keyring.errors import KeyringError

        try:
            return _once_more(keyring.get_password, SERVICE, self._user(name))
        except KeyringError as exc:
            raise ComptoirError("secrets.keyring_error", 2, reason=str(exc)) from exc

    def set(self, name: str, value: str) -> None:
        import keyring
        from keyring.errors import KeyringError

        try:
            _once_more(keyring.set_password, SERVICE, self._user(name), value)
        except KeyringError as exc:
            raise ComptoirError("secrets.keyring_error", 2, reason=str(exc)) from exc

    def delete(self, name: str) -> None:
        import keyring
        from keyring.errors import KeyringError, PasswordDeleteError

        try:
            keyring.delete_password(SERVICE, self._user(name))
        except PasswordDeleteError:
            return
        except KeyringError as exc:
            raise ComptoirError("secrets.keyring_error", 2, reason=str(exc)) from exc


def _once_more(call: Callable[..., _T], *args: object) -> _T:
    """Call the keyring, and once more after a pause if it could not reach the service.

    A Secret Service that dropped off the bus in the middle of a call ("disconnected
    without replying") is started again by D-Bus on the next one; only that failure
    (keyring's InitError) is tried again, never a locked keyring or a refused prompt.
    """
    from keyring.errors import InitError

    try:
        return call(*args)
    except InitError:
        time.sleep(0.5)
        return call(*args)


_probe_cache: dict[int, tuple[object, bool]] = {}


def keyring_available(attempts: int = 1) -> bool:
    """True when a real keyring backend answers a set/get/delete probe.

    ``attempts`` > 1 probes again after a short pause when it fails: a Secret Service busy
    with other clients can drop one call, which must not read as "the keyring is gone" to
    a profile that keeps its keys there.  Only a success is remembered for the process.
    """
    for attempt in range(attempts):
        if attempt:
            time.sleep(0.5 * attempt)
        answer = _probe_keyring()
        if answer is not False:  # True, or None: no keyring backend at all (no retry)
            return bool(answer)
    return False


def _probe_keyring() -> bool | None:
    try:
        import keyring
        from keyring.backends import fail, null

        backend = keyring.get_keyring()
    except Exception:  # noqa: BLE001 - any failure to even load means no keyring
        return None
    known = _probe_cache.get(id(backend))
    if known is not None and known[0] is backend:
        return known[1]
    if isinstance(backend, fail.Keyring | null.Keyring):
        return None
    user = f"probe/{_random.token_hex(8)}"
    try:
        backend.set_password(SERVICE, user, "probe")
        ok = backend.get_password(SERVICE, user) == "probe"
        backend.delete_password(SERVICE, user)
    except Exception as exc:  # noqa: BLE001 - dbus, locked collection, no daemon …
        log.debug("keyring probe failed: %s", type(exc).__name__)
        ok = False
    if ok:
        _probe_cache[id(backend)] = (backend, ok)
    return ok


# --------------------------------------------------------------------------- passphrase files


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not base64 text")
    return base64.b64decode(text, validate=True)


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """A secret file: its private folder (0700) made if needed, then the one atomic write."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    files.atomic_write(path, data, mode=mode)


class PassphraseFileStore:
    """Each secret in ``folder/<name>.sealed``: scrypt + AES-256-GCM, bound to its name."""

    kind = KIND_FILE

    def __init__(self, folder: Path, passphrase: str) -> None:
        if not passphrase:
            raise ComptoirError("secrets.no_keyring_no_passphrase", 2, env=PASSPHRASE_ENV)
        self.folder = Path(folder)
        self._passphrase = passphrase.encode("utf-8")
        self._keys: dict[tuple[bytes, int, int, int], bytes] = {}
        self.last_warning: Message | None = None
        self._open()

    def _derive(self, salt: bytes, n: int, r: int, p: int) -> bytes:
        ck = (salt, n, r, p)
        key = self._keys.get(ck)
        if key is None:
            if not (1 < n <= _MAX_N and n & (n - 1) == 0 and 0 < r <= _MAX_R and 0 < p <= _MAX_P):
                raise ComptoirError("secrets.corrupt", 2, path=str(self.folder))
            key = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(self._passphrase)
            self._keys[ck] = key
        return key

    def _seal(self, plain: bytes, aad: bytes) -> dict[str, Any]:
        salt, n, r, p = self._params
        key = self._derive(salt, n, r, p)
        nonce = os.urandom(12)
        return {
            "v": 1,
            "kdf": "scrypt",
            "n": n,
            "r": r,
            "p": p,
            "salt": _b64(salt),
            "cipher": "AES-256-GCM",
            "nonce": _b64(nonce),
            "ct": _b64(AESGCM(key).encrypt(nonce, plain, aad)),
        }

    def _unseal(self, doc: Any, aad: bytes, path: Path) -> bytes:
        try:
            salt = _unb64(doc["salt"])
            key = self._derive(salt, int(doc["n"]), int(doc["r"]), int(doc["p"]))
            return AESGCM(key).decrypt(_unb64(doc["nonce"]), _unb64(doc["ct"]), aad)
        except InvalidTag as exc:
            # The verifier proved the passphrase at open: a failing secret file under the
            # same salt was altered (or moved to another name).
            if path.name == "verifier.json" or salt != self._params[0]:
                raise ComptoirError("secrets.wrong_passphrase", 2) from exc
            raise ComptoirError("secrets.corrupt", 2, path=str(path)) from exc
        except ComptoirError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ComptoirError("secrets.corrupt", 2, path=str(path)) from exc

    def _open(self) -> None:
        """Check the passphrase against the store's verifier (created on first use)."""
        verifier = self.folder / "verifier.json"
        if verifier.exists():
            doc = self._read(verifier)
            try:
                self._params = (_unb64(doc["salt"]), int(doc["n"]), int(doc["r"]), int(doc["p"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise ComptoirError("secrets.corrupt", 2, path=str(verifier)) from exc
            if self._unseal(doc, b"verifier", verifier) != _VERIFIER_PLAIN:
                raise ComptoirError("secrets.wrong_passphrase", 2)
        else:
            weak = passphrase_weakness(self._passphrase.decode("utf-8"))
            if weak is not None:  # only a new store: existing ones keep their passphrase
                raise ComptoirError(weak.code, 2, **weak.params)
            self._params = (os.urandom(16), SCRYPT_N, SCRYPT_R, SCRYPT_P)
            doc = self._seal(_VERIFIER_PLAIN, b"verifier")
            atomic_write(verifier, json.dumps(doc, indent=1).encode("utf-8"))

    def _read(self, path: Path) -> Any:
        try:
            data = path.read_bytes()
            if len(data) > 1024 * 1024:
                raise ValueError("too large")
            return json.loads(data)
        except (OSError, ValueError) as exc:
            raise ComptoirError("secrets.corrupt", 2, path=str(path)) from exc

    def _path(self, name: str) -> Path:
        return self.folder / f"{_check_name(name)}.sealed"

    def get(self, name: str) -> str | None:
        path = self._path(name)
        if not path.exists():
            return None
        plain = self._unseal(self._read(path), b"comptoir-secret:" + name.encode(), path)
        return plain.decode("utf-8")

    def set(self, name: str, value: str) -> None:
        doc = self._seal(value.encode("utf-8"), b"comptoir-secret:" + name.encode())
        atomic_write(self._path(name), json.dumps(doc, indent=1).encode("utf-8"))

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)


# --------------------------------------------------------------------------- choosing


def secret_namespace(home: Path) -> str:
    """A stable per-profile namespace: profile.json's profile_id, else a hash of the path."""
    try:
        data = json.loads((Path(home) / "profile.json").read_text(encoding="utf-8"))
        pid = data.get("profile_id") if isinstance(data, dict) else None
        if isinstance(pid, str) and pid:
            return pid
    except (OSError, ValueError):
        pass
    resolved = str(Path(home).expanduser().resolve())
    return hashlib.sha256(resolved.encode("utf-8")).hexdigest()[:32]


def _record_path(home: Path) -> Path:
    return Path(home) / "secrets.json"


def recorded_backend(home: Path) -> str | None:
    """The backend this profile was set up with ("keyring"/"passphrase-file"), or None."""
    path = _record_path(home)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ComptoirError("secrets.corrupt", 2, path=str(path)) from exc
    backend = data.get("backend") if isinstance(data, dict) else None
    if backend not in (KIND_KEYRING, KIND_FILE):
        raise ComptoirError("secrets.corrupt", 2, path=str(path))
    return backend


def _record(home: Path, backend: str, namespace: str) -> None:
    doc = {"backend": backend, "namespace": namespace}
    atomic_write(_record_path(home), json.dumps(doc, indent=1).encode("utf-8"), 0o600)


def open_secret_store(home: Path, namespace: str, passphrase: str | None = None) -> SecretStore:
    """The profile's secret store: the keyring when there is one, else passphrase files.

    The first choice is remembered in ``home/secrets.json``.  Falling back sets
    ``store.last_warning`` (code ``secrets.fallback_warning``) for the CLI/GUI to show once.
    """
    home = Path(home)
    passphrase = passphrase or env_passphrase() or None
    backend = recorded_backend(home)
    if backend is None:
        backend = KIND_KEYRING if keyring_available() else KIND_FILE
        if backend == KIND_FILE and not passphrase:
            raise ComptoirError("secrets.no_keyring_no_passphrase", 2, env=PASSPHRASE_ENV)
        store = _make(home, backend, namespace, passphrase)
        _record(home, backend, namespace)
        return store
    return _make(home, backend, namespace, passphrase)


def _make(home: Path, backend: str, namespace: str, passphrase: str | None) -> SecretStore:
    if backend == KIND_KEYRING:
        if not keyring_available(attempts=3):
            raise ComptoirError("secrets.keyring_gone", 2, env=PASSPHRASE_ENV)
        return KeyringSecretStore(namespace)
    if not passphrase:
        raise ComptoirError("secrets.passphrase_required", 2, env=PASSPHRASE_ENV)
    store = PassphraseFileStore(home / "secrets", passphrase)
    store.last_warning = Message("secrets.fallback_warning", {"env": PASSPHRASE_ENV})
    return store
