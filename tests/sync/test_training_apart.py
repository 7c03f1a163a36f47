"""Training and real profiles never enrol across (#12): checked on both sides."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.sandbox.server import SandboxHandle, start_in_thread

from .helpers import SandboxProcess, comptoir, ok


@pytest.fixture(scope="module")
def training_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    handle = start_in_thread(tmp_path_factory.mktemp("training"), lane="green", training=True)
    yield handle
    handle.stop()


def _files(home: Path) -> dict[str, bytes]:
    return {str(p.relative_to(home)): p.read_bytes() for p in sorted(home.rglob("*"))
            if p.is_file()}


def test_real_profile_refuses_the_training_server(tmp_path: Path,
                                                  training_sandbox: SandboxHandle) -> None:
    home = tmp_path / "real"
    ok(comptoir(home, "init", "--declarant", "GB123456789000"))
    before = _files(home)
    p = comptoir(home, "enrol", "--server", training_sandbox.url,
                 "--code", training_sandbox.new_enrolment_code("GB123456789000"),
                 "--ca", str(training_sandbox.ca_pem_path))
    assert p.returncode == 2, p.stdout + p.stderr
    assert "training" in p.stderr and "Traceback" not in p.stderr
    after = _files(home)
    assert after.keys() == before.keys()
    assert after["profile.json"] == before["profile.json"]


def test_training_profile_refuses_a_real_server(tmp_path: Path) -> None:
    sb = SandboxProcess(tmp_path / "sw").start()
    try:
        home = tmp_path / "train"
        ok(comptoir(home, "init", "--declarant", "GB123456789000"))
        data = json.loads((home / "profile.json").read_text())
        data["training"] = True
        (home / "profile.json").write_text(json.dumps(data))
        p = comptoir(home, "enrol", "--server", sb.url, "--code", sb.code(), "--ca", str(sb.ca))
        assert p.returncode == 2, p.stdout + p.stderr
        assert "training" in p.stderr and "Traceback" not in p.stderr
        assert not json.loads((home / "profile.json").read_text())["server"]
    finally:
        sb.stop()


def test_french_message(tmp_path: Path, training_sandbox: SandboxHandle) -> None:
    home = tmp_path / "fr"
    ok(comptoir(home, "init", "--declarant", "GB123456789000"))
    p = comptoir(home, "enrol", "--server", training_sandbox.url,
                 "--code", training_sandbox.new_enrolment_code("GB123456789000"),
                 "--ca", str(training_sandbox.ca_pem_path), env={"COMPTOIR_LANG": "fr"})
    assert p.returncode == 2
    assert "entraînement" in p.stderr


def test_training_sandbox_stores_encrypted(tmp_path: Path) -> None:
    import secrets

    from tests.sync.conftest import Trader

    key = secrets.token_hex(32)
    home = tmp_path / "training-sandbox"
    handle = start_in_thread(home, lane="green", training=True, secret_key=key)
    try:
        trader = Trader(handle)
        r = trader.post([trader.seal()])
        assert r.json()["results"][0]["status"] == "accepted"
    finally:
        handle.stop()
    assert not (home / "sandbox.db").read_bytes().startswith(b"SQLite format 3")
    for name in ("ca.key", "receipt.key", "tls.key"):
        assert b"ENCRYPTED PRIVATE KEY" in (home / name).read_bytes(), name
    # The same key opens it again: the enrolled trader is still known.
    handle = start_in_thread(home, lane="green", training=True, secret_key=key)
    trader.sandbox = handle
    try:
        assert trader.feed()["notifications"]
    finally:
        handle.stop()
