"""Where secrets live: a real Secret Service, the passphrase-file fallback, the choice kept."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import keyring
import keyring.backend
import keyring.backends.fail
import keyring.errors
import pytest

from client.common.i18n import ComptoirError
from client.seal import secrets as sec
from client.seal.secrets import (
    KeyringSecretStore,
    PassphraseFileStore,
    keyring_available,
    open_secret_store,
    secret_namespace,
)

REPO = Path(__file__).resolve().parents[2]
PRODUCTION_SCRYPT_N = sec.SCRYPT_N  # read before any fixture makes it cheap


@pytest.fixture(autouse=True)
def cheap_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sec, "SCRYPT_N", 2**10)
    monkeypatch.delenv("COMPTOIR_PASSPHRASE", raising=False)


@pytest.fixture
def real_keyring() -> None:
    if not keyring_available():
        if os.environ.get("CI"):
            pytest.fail("CI must run under .ci/with-keyring (no Secret Service found)")
        pytest.skip("no Secret Service: run under .ci/with-keyring")


@pytest.fixture
def no_keyring():
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


def _grep(folder: Path, needle: bytes) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_keyring_store_round_trip(real_keyring, tmp_path: Path) -> None:
    a = KeyringSecretStore(f"test-{os.getpid()}-a")
    b = KeyringSecretStore(f"test-{os.getpid()}-b")
    a.set("signing-key/abc", "secret-value-A")
    try:
        assert a.get("signing-key/abc") == "secret-value-A"
        assert b.get("signing-key/abc") is None  # namespaces keep profiles apart
        assert keyring.get_password("comptoir", f"test-{os.getpid()}-a/signing-key/abc") == (
            "secret-value-A"
        )
    finally:
        a.delete("signing-key/abc")
    assert a.get("signing-key/abc") is None
    a.delete("signing-key/abc")  # deleting an absent secret is not an error
    assert "SecretService" in type(keyring.get_keyring()).__module__


def test_open_uses_keyring_when_available(real_keyring, home: Path) -> None:
    store = open_secret_store(home, "ns-keyring-test")
    assert store.kind == "keyring" and store.last_warning is None
    assert json.loads((home / "secrets.json").read_text()) == {
        "backend": "keyring",
        "namespace": "ns-keyring-test",
    }
    store.set("db-key", "top-secret-db-key")
    try:
        assert open_secret_store(home, "ns-keyring-test").get("db-key") == "top-secret-db-key"
        assert _grep(home, b"top-secret-db-key") == []
    finally:
        store.delete("db-key")


def test_keyring_available_false_for_fail_backend(no_keyring) -> None:
    assert keyring_available() is False


def test_no_keyring_no_passphrase_is_a_clear_error(no_keyring, home: Path) -> None:
    with pytest.raises(ComptoirError) as info:
        open_secret_store(home, "ns")
    assert info.value.code == "secrets.no_keyring_no_passphrase"
    assert info.value.exit_code == 2
    text = info.value.render("en")
    assert "COMPTOIR_PASSPHRASE" in text and "Secret Service" in text
    assert not (home / "secrets.json").exists()


def test_fallback_files_sealed_and_warned(no_keyring, home: Path, monkeypatch) -> None:
    monkeypatch.setenv("COMPTOIR_PASSPHRASE", "correct horse")
    store = open_secret_store(home, "ns")
    assert store.kind == "passphrase-file"
    assert store.last_warning is not None and store.last_warning.code == "secrets.fallback_warning"
    store.set("signing-key/k1", "-----BEGIN PRIVATE KEY-----\nMIGHAgEAplaintext\n")
    path = home / "secrets" / "signing-key" / "k1.sealed"
    doc = json.loads(path.read_text())
    assert {"n", "r", "p", "salt", "nonce", "ct"} <= doc.keys() and doc["kdf"] == "scrypt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _grep(home, b"PRIVATE KEY") == [] and _grep(home, b"MIGHAgEAplaintext") == []
    again = open_secret_store(home, "ns")
    assert again.get("signing-key/k1").endswith("MIGHAgEAplaintext\n")
    assert again.get("signing-key/absent") is None
    again.delete("signing-key/k1")
    assert again.get("signing-key/k1") is None


def test_wrong_passphrase_detected_at_open(tmp_path: Path) -> None:
    PassphraseFileStore(tmp_path / "s", "plum otter gravel lantern").set("x", "1")
    with pytest.raises(ComptoirError) as info:
        PassphraseFileStore(tmp_path / "s", "wrong")
    assert info.value.code == "secrets.wrong_passphrase" and info.value.exit_code == 2
    assert PassphraseFileStore(tmp_path / "s", "plum otter gravel lantern").get("x") == "1"


def test_tampered_or_swapped_file_is_corrupt(tmp_path: Path) -> None:
    store = PassphraseFileStore(tmp_path / "s", "plum otter gravel lantern")
    store.set("a", "alpha")
    store.set("b", "beta")
    # A file moved to another name is refused (the name is bound as associated data).
    (tmp_path / "s" / "a.sealed").replace(tmp_path / "s" / "b.sealed")
    with pytest.raises(ComptoirError) as info:
        store.get("b")
    assert info.value.code == "secrets.corrupt"
    store.set("c", "gamma")
    doc = json.loads((tmp_path / "s" / "c.sealed").read_text())
    doc["ct"] = doc["ct"][:-4] + ("AAAA" if doc["ct"][-4:] != "AAAA" else "BBBB")
    (tmp_path / "s" / "c.sealed").write_text(json.dumps(doc))
    with pytest.raises(ComptoirError):
        store.get("c")


def test_bad_names_refused(tmp_path: Path) -> None:
    store = PassphraseFileStore(tmp_path / "s", "plum otter gravel lantern")
    for name in ("../escape", "a/../../b", "", "/abs", "a b"):
        with pytest.raises(ComptoirError):
            store.set(name, "v")


def test_backend_choice_is_remembered(real_keyring, home: Path, monkeypatch) -> None:
    real = keyring.get_keyring()
    monkeypatch.setenv("COMPTOIR_PASSPHRASE", "plum otter gravel lantern")
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        open_secret_store(home, "ns").set("k", "v")
    finally:
        keyring.set_keyring(real)
    # The keyring is back: the profile made with the fallback keeps its files.
    assert keyring_available()
    store = open_secret_store(home, "ns")
    assert store.kind == "passphrase-file" and store.get("k") == "v"
    # A new process without the passphrase (this one read it once and removed it).
    assert "COMPTOIR_PASSPHRASE" not in os.environ
    sec._env_passphrase = None
    with pytest.raises(ComptoirError) as info:
        open_secret_store(home, "ns")
    assert info.value.code == "secrets.passphrase_required"


def test_secret_namespace(tmp_path: Path) -> None:
    h = tmp_path / "p"
    h.mkdir()
    ns = secret_namespace(h)
    assert ns == secret_namespace(tmp_path / "p" / ".." / "p") and len(ns) == 32
    assert ns != secret_namespace(tmp_path / "q")
    (h / "profile.json").write_text(json.dumps({"profile_id": "prof-123"}))
    assert secret_namespace(h) == "prof-123"


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "COMPTOIR_PASSPHRASE"}
    full.update(env)
    full["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    full["COMPTOIR_LANG"] = "en"
    return subprocess.run(
        [sys.executable, "-m", "client.cli", *args],
        capture_output=True,
        text=True,
        env=full,
        cwd=REPO,
        timeout=120,
    )


def test_cli_without_keyring(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    r = _run(["--home", home, "keys", "create"], {})
    assert r.returncode == 2
    assert "COMPTOIR_PASSPHRASE" in r.stderr and "Traceback" not in r.stderr
    r = _run(["--home", home, "keys", "create"], {"COMPTOIR_PASSPHRASE": "plum otter gravel lantern"})
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("Warning: no system keyring") == 1
    r = _run(["--home", home, "keys", "csr", "--trader", "FR1"], {"COMPTOIR_PASSPHRASE": "nope"})
    assert r.returncode == 2 and "Wrong passphrase" in r.stderr
    r = _run(["--home", home, "keys", "csr", "--trader", "FR1"], {"COMPTOIR_PASSPHRASE": "plum otter gravel lantern"})
    assert r.returncode == 0 and "BEGIN CERTIFICATE REQUEST" in r.stdout


class _LockedKeyring(keyring.backend.KeyringBackend):
    """A keyring whose collection stays locked (every call fails), for this test only."""

    @keyring.backend.properties.classproperty
    def priority(cls) -> float:  # noqa: N805 - never chosen by keyring's own discovery
        raise RuntimeError("test backend")

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.KeyringLocked("locked")

    def delete_password(self, service: str, username: str) -> None:
        raise keyring.errors.KeyringLocked("locked")


def test_locked_keyring(real_keyring, home: Path) -> None:
    real = keyring.get_keyring()
    open_secret_store(home, "ns-locked")  # recorded: keyring
    keyring.set_keyring(_LockedKeyring())
    try:
        assert keyring_available() is False
        with pytest.raises(ComptoirError) as info:
            open_secret_store(home, "ns-locked")
        assert info.value.code == "secrets.keyring_gone"
        with pytest.raises(ComptoirError) as info:
            KeyringSecretStore("ns-locked").get("x")
        assert info.value.code == "secrets.keyring_error"
    finally:
        keyring.set_keyring(real)
    assert open_secret_store(home, "ns-locked").kind == "keyring"


# -- #12: production cost, strength, the passphrase out of the environment, crash logs --


def test_production_scrypt_parameters(tmp_path: Path) -> None:
    """The real cost (not the autouse cheap one): N >= 2**17, recorded and reopened."""
    assert PRODUCTION_SCRYPT_N >= 2**17
    sec.SCRYPT_N = PRODUCTION_SCRYPT_N  # the autouse fixture restores the cheap value
    store = PassphraseFileStore(tmp_path / "s", "plum otter gravel lantern")
    store.set("db-key", "k")
    doc = json.loads((tmp_path / "s" / "verifier.json").read_text())
    assert doc["kdf"] == "scrypt" and doc["n"] >= 2**17 and doc["r"] >= 8
    assert PassphraseFileStore(tmp_path / "s", "plum otter gravel lantern").get("db-key") == "k"


@pytest.mark.parametrize(("weak", "code"), [("short", "secrets.passphrase_too_short"),
                                             ("password1234", "secrets.passphrase_too_weak"),
                                             ("qwertyuiop123", "secrets.passphrase_too_weak")])
def test_weak_passphrase_refused_with_a_clear_message(tmp_path: Path, weak: str,
                                                      code: str) -> None:
    with pytest.raises(ComptoirError) as info:
        PassphraseFileStore(tmp_path / "s", weak)
    assert info.value.code == code
    assert not (tmp_path / "s" / "verifier.json").exists()
    en, fr = info.value.render("en"), info.value.render("fr")
    assert "passphrase" in en and "phrase secrète" in fr and en != fr


def test_weak_passphrase_through_the_cli(tmp_path: Path) -> None:
    r = _run(["--home", str(tmp_path / "h"), "keys", "create"],
             {"COMPTOIR_PASSPHRASE": "password1234"})
    assert r.returncode == 2 and "too easy to guess" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_passphrase_read_once_and_removed_from_environment(no_keyring, home: Path,
                                                           monkeypatch) -> None:
    monkeypatch.setenv("COMPTOIR_PASSPHRASE", "plum otter gravel lantern")
    open_secret_store(home, "ns").set("k", "v")
    assert "COMPTOIR_PASSPHRASE" not in os.environ
    child = subprocess.run([sys.executable, "-c",
                            "import os; print(os.environ.get('COMPTOIR_PASSPHRASE'))"],
                           capture_output=True, text=True, timeout=60)
    assert child.stdout.strip() == "None"
    assert open_secret_store(home, "ns").get("k") == "v"  # this process still has it


def test_crash_report_under_the_profile(tmp_path: Path) -> None:
    import argparse
    import importlib

    cli_main = importlib.import_module("client.cli.main")

    home = tmp_path / "h"
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        path = Path(cli_main._log_internal_error(exc, argparse.Namespace(home=home)))
    assert path.parent == home / "logs" and "boom" in path.read_text()
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_crash_report_refuses_a_folder_someone_else_made(tmp_path: Path) -> None:
    import argparse
    import importlib

    cli_main = importlib.import_module("client.cli.main")

    if os.getuid() != 0:
        pytest.skip("needs root to make a folder owned by someone else")
    home = tmp_path / "h"
    (home / "logs").mkdir(parents=True)
    os.chown(home / "logs", 65534, 65534)
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        assert cli_main._log_internal_error(exc, argparse.Namespace(home=home)) == "-"
    assert not list((home / "logs").iterdir())


def test_with_keyring_fails_loudly_when_the_secret_service_cannot_start(tmp_path: Path) -> None:
    import shutil

    if shutil.which("dbus-run-session") is None:
        pytest.skip("dbus-run-session is not installed")
    fake = tmp_path / "bin" / "gnome-keyring-daemon"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'gnome-keyring-daemon: cannot create control dir' >&2\n"
                    "exit 1\n")
    fake.chmod(0o755)
    env = dict(os.environ, PATH=f"{fake.parent}:{os.environ['PATH']}")
    r = subprocess.run([str(REPO / ".ci" / "with-keyring"), "true"], capture_output=True,
                       text=True, env=env, timeout=60)
    assert r.returncode == 69
    assert "cannot create control dir" in r.stderr  # gnome-keyring's own error, not hidden
    assert "could not start" in r.stderr


class _OnceBusyKeyring(keyring.backend.KeyringBackend):
    """The real Secret Service behind a first call that fails, as one dropped D-Bus call
    of a daemon busy with other clients does (which cannot be provoked at will)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self, real: keyring.backend.KeyringBackend) -> None:
        super().__init__()
        self.real, self.failed = real, 0

    def set_password(self, service: str, username: str, password: str) -> None:
        if not self.failed:
            self.failed += 1
            raise keyring.errors.PasswordSetError("org.freedesktop.DBus.Error.NoReply")
        self.real.set_password(service, username, password)

    def get_password(self, service: str, username: str) -> str | None:
        return self.real.get_password(service, username)

    def delete_password(self, service: str, username: str) -> None:
        self.real.delete_password(service, username)


def test_a_profile_on_the_keyring_outlives_one_dropped_call(real_keyring, home: Path) -> None:
    real = keyring.get_keyring()
    open_secret_store(home, "ns-busy").set("db-key", "k1")  # recorded: keyring
    busy = _OnceBusyKeyring(real)
    keyring.set_keyring(busy)
    try:
        store = open_secret_store(home, "ns-busy")  # probed again after a pause
        assert busy.failed == 1 and store.get("db-key") == "k1"
    finally:
        keyring.set_keyring(real)


class _DroppedOnceKeyring(_OnceBusyKeyring):
    """The real Secret Service behind one call that finds it gone, as keyring reports a
    gnome-keyring that dropped off the bus mid-call (InitError), or a given other error."""

    def __init__(self, real: keyring.backend.KeyringBackend, error: Exception) -> None:
        super().__init__(real)
        self.error = error

    def set_password(self, service: str, username: str, password: str) -> None:
        if not self.failed:
            self.failed += 1
            raise self.error
        self.real.set_password(service, username, password)


def test_a_keyring_write_is_tried_again_when_the_service_dropped_off(real_keyring, home: Path) -> None:
    real = keyring.get_keyring()
    store = open_secret_store(home, "ns-dropped")
    dropped = _DroppedOnceKeyring(real, keyring.errors.InitError(
        "Failed to create the collection: Message recipient disconnected from message bus"))
    keyring.set_keyring(dropped)
    try:
        store.set("db-key", "k2")  # the second call reaches the restarted service
        assert dropped.failed == 1 and store.get("db-key") == "k2"
    finally:
        keyring.set_keyring(real)


def test_a_locked_keyring_is_not_asked_twice(real_keyring, home: Path) -> None:
    real = keyring.get_keyring()
    store = open_secret_store(home, "ns-locked")
    locked = _DroppedOnceKeyring(real, keyring.errors.KeyringLocked("the user dismissed the prompt"))
    keyring.set_keyring(locked)
    try:
        with pytest.raises(ComptoirError) as err:
            store.set("db-key", "k3")
        assert err.value.code == "secrets.keyring_error" and locked.failed == 1
        assert store.get("db-key") is None
    finally:
        keyring.set_keyring(real)
