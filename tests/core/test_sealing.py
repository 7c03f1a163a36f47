"""Issue #3 acceptance: sealing, the journal, keys out of the clear, encryption at rest."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

from client.seal.profile import load_profile, open_store
from tests.sync.helpers import comptoir as run
from tests.sync.helpers import ok

REPO = Path(__file__).resolve().parents[2]


def _seal_100(home: Path) -> Path:
    ok(run(home, "init"))
    ok(run(home, "keys", "create"))
    ok(run(home, "demo", "seed", "--count", "100"))
    p = ok(run(home, "seal", "--all-ready"))
    assert "100 sealed" in p.stdout
    return home


@pytest.fixture(scope="module")
def _sealed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One profile with 100 sealed declarations, made once for the module."""
    return _seal_100(tmp_path_factory.mktemp("sealed") / "home")


@pytest.fixture
def sealed_home(home: Path, _sealed_template: Path) -> Path:
    """A copy of the template for this test: its files are its own to alter; its keys in
    the keyring are the template's, which these tests only read (the rekey test, which
    replaces one, seals its own profile)."""
    shutil.copytree(_sealed_template, home)
    return home


def _all_bytes(folder: Path) -> list[tuple[Path, bytes]]:
    return [(p, p.read_bytes()) for p in folder.rglob("*") if p.is_file()]


def test_profile_holds_no_private_key_and_no_declaration_in_clear(sealed_home: Path) -> None:
    from client.seal.keys import list_keys, load_private_jwk
    from client.seal.profile import secret_store

    profile = load_profile(sealed_home)
    secrets = secret_store(profile)
    needles: list[bytes] = [b"PRIVATE KEY", b"SQLite format 3"]
    for info in list_keys(sealed_home):
        d = load_private_jwk(secrets, info)["d"]
        raw = base64.urlsafe_b64decode(d + "=" * (-len(d) % 4))
        needles += [d.encode(), raw, raw.hex().encode(), base64.b64encode(raw)]
    with open_store(profile) as store:
        rows = store.list(limit=20)
        assert len(rows) == 20
        for r in rows:
            decl = store.get(r.id).declaration
            needles.append(decl.lrn.encode())
            for party in (decl.declarant, decl.exporter, decl.importer):
                if party and party.name:
                    needles.append(party.name.encode())
    files = _all_bytes(sealed_home)
    assert any(p.name == "comptoir.db" for p, _ in files)
    leaks = [(str(p.relative_to(sealed_home)), n[:20]) for p, data in files for n in needles
             if n in data]
    assert leaks == []


def test_verify_exported_envelope_in_words_and_every_flipped_byte_detected(
        sealed_home: Path, tmp_path: Path) -> None:
    decl_id = json.loads(ok(run(sealed_home, "list", "--json")).stdout)[0]["id"]
    env_file = tmp_path / "env.json"
    ok(run(sealed_home, "export", decl_id, "--format", "envelope", "-o", str(env_file)))
    p = ok(run(sealed_home, "verify", str(env_file)))
    assert "VALID" in p.stdout and "Signed by" in p.stdout and decl_id in p.stdout
    assert "matches this device's journal" in p.stdout

    data = bytearray(env_file.read_bytes())
    positions = sorted({int(i * (len(data) - 1) / 40) for i in range(41)})
    from client.common.i18n import ComptoirError
    from client.officer.verify import verify_input

    for pos in positions:
        flipped = bytearray(data)
        flipped[pos] ^= 0x01
        target = tmp_path / "flipped.json"
        target.write_bytes(bytes(flipped))
        try:
            outcome = verify_input(sealed_home, str(target))
        except ComptoirError:
            continue  # no longer an envelope at all: refused
        assert not outcome.ok, f"flip at {pos} went unnoticed"
    # and through the command, once, with its exit code
    bad = bytearray(data)
    mid = bad.index(b'"signature"') + 20
    bad[mid] = ord("A") if bad[mid] != ord("A") else ord("B")
    (tmp_path / "bad.json").write_bytes(bytes(bad))
    p = run(sealed_home, "verify", str(tmp_path / "bad.json"))
    assert p.returncode in (1, 2) and "INVALID" in p.stderr + p.stdout


def test_journal_verify_names_the_first_break(sealed_home: Path) -> None:
    p = ok(run(sealed_home, "journal", "verify"))
    assert "100 envelope" in p.stdout
    with open_store(load_profile(sealed_home)) as store:
        store.execute_raw_for_tests("DROP TRIGGER journal_no_delete")
        store.execute_raw_for_tests("DELETE FROM outbox WHERE seq = 50")
        store.execute_raw_for_tests("DELETE FROM journal WHERE seq = 50")
    p = run(sealed_home, "journal", "verify")
    assert p.returncode == 1
    assert "#51" in p.stderr and "expected #50" in p.stderr


def test_journal_verify_detects_an_altered_envelope(sealed_home: Path) -> None:
    with open_store(load_profile(sealed_home)) as store:
        store.execute_raw_for_tests("DROP TRIGGER journal_no_update")
        store.execute_raw_for_tests(
            "UPDATE journal SET envelope = replace(envelope, '\"signature\":\"', "
            "'\"signature\":\"AA') WHERE seq = 7")
    p = run(sealed_home, "journal", "verify")
    assert p.returncode == 1 and "#7" in p.stderr


def test_sealed_is_immutable_and_amend_starts_a_new_version(sealed_home: Path) -> None:
    decl_id = json.loads(ok(run(sealed_home, "list", "--json")).stdout)[0]["id"]
    from client.common.i18n import ComptoirError

    profile = load_profile(sealed_home)
    with open_store(profile) as store:
        decl = store.get(decl_id).declaration
        decl.lrn = "CHANGED"
        with pytest.raises(ComptoirError) as exc:
            store.save_draft(decl, "me")
        assert exc.value.code == "store.immutable"
    # still queued: amending must wait for the single window's answer
    p = run(sealed_home, "amend", decl_id)
    assert p.returncode == 2


def test_seal_refuses_invalid_listing_errors(home: Path) -> None:
    ok(run(home, "init"))
    decl_id = ok(run(home, "new", "--type", "IM")).stdout.strip()
    p = run(home, "seal", decl_id)
    assert p.returncode == 1
    assert "not sealed" in p.stderr and "V-MANDATORY" in p.stderr
    assert json.loads(ok(run(home, "list", "--json")).stdout)[0]["status"] == "draft"


NO_KEYRING = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


def test_no_secret_service_clear_message_then_passphrase_fallback(home: Path) -> None:
    p = run(home, "init", env=NO_KEYRING)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "COMPTOIR_PASSPHRASE" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    env = dict(NO_KEYRING, COMPTOIR_PASSPHRASE="correct horse battery staple")
    p = ok(run(home, "init", env=env))
    ok(run(home, "demo", "seed", "--count", "3", env=env))
    p = ok(run(home, "seal", "--all-ready", env=env))
    assert "3 sealed" in p.stdout
    assert "passphrase" in (p.stderr + p.stdout).lower()  # the explicit warning
    wrong = dict(NO_KEYRING, COMPTOIR_PASSPHRASE="wrong")
    p = run(home, "list", env=wrong)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "passphrase" in p.stderr.lower()
    raw = b"".join(data for _, data in _all_bytes(home))
    assert b"PRIVATE KEY" not in raw and b"SQLite format 3" not in raw


def test_rekey_rotates_the_database_key(home: Path) -> None:
    from client.seal.profile import secret_store
    from client.store import Store, StoreError

    sealed_home = _seal_100(home)

    profile = load_profile(sealed_home)
    old = secret_store(profile).get("db-key")
    ok(run(sealed_home, "rekey"))
    new = secret_store(profile).get("db-key")
    assert new and new != old
    assert len(json.loads(ok(run(sealed_home, "list", "--json")).stdout)) == 100
    with pytest.raises(StoreError):
        Store.open(profile.db_path, old)
    ok(run(sealed_home, "journal", "verify"))


def test_signed_payload_is_the_canonical_form_of_the_stored_declaration(sealed_home: Path) -> None:
    from client.seal.canonical import canonicalize
    from client.seal.jws import b64u_decode

    with open_store(load_profile(sealed_home)) as store:
        for entry in store.journal(limit=25):
            decl = store.get(entry.declaration_id).declaration
            assert b64u_decode(entry.envelope["payload"]) == canonicalize(decl.to_json_dict())


def test_sig_time_never_goes_back_along_the_chain(home: Path) -> None:
    """A clock stepped back: the next seal is dated no earlier than the previous one."""
    import datetime as dt
    import random

    from client.declaration import states
    from client.declaration.samples import sample_declaration
    from client.seal.canonical import canonicalize
    from client.seal.envelope import GENESIS, parse_sig_time, seal_envelope
    from client.seal.jws import decode_protected
    from client.seal.keys import create_key, load_private_jwk, x5c
    from client.seal.profile import init_profile, secret_store
    from client.seal.sealing import Sealer, _link

    profile = init_profile(home, declarant_id="GB123456789000")
    secrets = secret_store(profile)
    info = create_key(home, secrets)
    ahead = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)  # the clock was ahead then
    with open_store(profile, secrets=secrets) as store:
        def make(seq: int, prev: str | None) -> object:
            link = prev or GENESIS
            return _link(seal_envelope(canonicalize({"id": "d", "version": 1}),
                                       load_private_jwk(secrets, info), x5c(info),
                                       kind="decision", declaration_id="d", version=1,
                                       device_id=profile.device_id, seq=seq, prev=link,
                                       sig_time=ahead), link)

        store.append_journal("decision", "d", 1, make)  # type: ignore[arg-type]
        decl = sample_declaration(random.Random(1), declarant_id="GB123456789000")
        store.create_many([decl], "test", status=states.READY)
        entry = Sealer(profile, store, secrets).seal(decl.id)
    sig_t = parse_sig_time(decode_protected(entry.envelope["protected"])["sigT"])
    assert sig_t >= ahead.replace(microsecond=0)  # sigT carries whole seconds
