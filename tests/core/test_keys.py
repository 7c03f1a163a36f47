"""Identity: key creation, PKCS#12 import, CSR and enrolment, no private key in clear."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import keyring
import keyring.backends.fail
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from client.cli import main
from client.common.i18n import ComptoirError
from client.seal import secrets as sec
from client.seal.canonical import canonicalize
from client.seal.envelope import GENESIS, seal_envelope, verify_envelope
from client.seal.jws import (
    jwk_from_public_key,
    jwk_thumbprint,
    public_jwk,
    sign_compact,
    verify_compact,
)
from client.seal.keys import (
    KeyInfo,
    active_key,
    create_key,
    export_public,
    forget_cached,
    import_pkcs12,
    install_certificate_chain,
    list_keys,
    load_private_jwk,
    make_csr,
    private_key,
    require_active_key,
    x5c,
)
from client.seal.secrets import PassphraseFileStore, keyring_available, open_secret_store

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(autouse=True)
def cheap_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sec, "SCRYPT_N", 2**10)


@pytest.fixture
def store(tmp_path: Path) -> PassphraseFileStore:
    return PassphraseFileStore(tmp_path / "secret-files", "plum otter gravel lantern")


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(cn: str, issuer_key=None, issuer_name: str | None = None):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(issuer_name or cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=30))
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(issuer_key or key, hashes.SHA256())
    )
    return key, cert


def _issue(ca_key, ca_cert, public_key, subject: x509.Name) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )


@pytest.mark.parametrize("alg", ["ES256", "Ed25519"])
def test_create_key(home: Path, store: PassphraseFileStore, alg: str) -> None:
    info = create_key(home, store, alg=alg, subject="Jeanne Dupont")
    assert info.alg == alg and info.active and not info.enrolled and info.source == "generated"
    cert = x509.load_pem_x509_certificate(info.certificate_chain_pem[0].encode())
    assert info.kid == jwk_thumbprint(jwk_from_public_key(cert.public_key()))
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Jeanne Dupont"
    life = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(days=725) < life < dt.timedelta(days=735)
    # Public metadata only in keys.json; the private key sealed in the store.
    doc = json.loads((home / "keys.json").read_text())
    assert doc["keys"][0]["kid"] == info.kid
    jwk = load_private_jwk(store, info)
    assert jwk["alg"] == alg and jwk["kid"] == info.kid
    for path in home.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert "PRIVATE KEY" not in text and jwk["d"] not in text
    assert store.get(f"signing-key/{info.kid}").startswith("-----BEGIN PRIVATE KEY-----")
    # The key signs, and the certificate's key verifies.
    token = sign_compact(b"hello", jwk)
    assert verify_compact(token, jwk_from_public_key(cert.public_key())) == b"hello"
    assert token.split(".")[0] == base64.urlsafe_b64encode(
        json.dumps({"alg": alg}, separators=(",", ":")).encode()
    ).decode().rstrip("=")


def test_active_key_and_listing(home: Path, store: PassphraseFileStore) -> None:
    assert list_keys(home) == [] and active_key(home) is None
    with pytest.raises(ComptoirError) as info:
        require_active_key(home)
    assert info.value.code == "keys.none" and info.value.exit_code == 2
    first = create_key(home, store)
    second = create_key(home, store, alg="Ed25519")
    keys = list_keys(home)
    assert [k.kid for k in keys] == [first.kid, second.kid]
    assert [k.active for k in keys] == [False, True]
    assert require_active_key(home).kid == second.kid
    assert KeyInfo.from_json(keys[0].to_json()) == keys[0]
    with pytest.raises(ComptoirError):
        create_key(home, store, alg="RS256")


def test_private_key_cached_and_reloaded(home: Path, store: PassphraseFileStore) -> None:
    info = create_key(home, store)
    k1 = private_key(store, info)
    assert private_key(store, info) is k1
    forget_cached(info.kid)
    k2 = private_key(store, info)
    assert k2 is not k1 and k2.private_numbers() == k1.private_numbers()
    forget_cached(info.kid)
    store.delete(f"signing-key/{info.kid}")
    with pytest.raises(ComptoirError) as err:
        private_key(store, info)
    assert err.value.code == "keys.private_missing"


def test_envelope_from_generated_key(home: Path, store: PassphraseFileStore) -> None:
    info = create_key(home, store, subject="Broker at Kati")
    env = seal_envelope(
        canonicalize({"lrn": "X1"}),
        load_private_jwk(store, info),
        x5c(info),
        kind="declaration",
        declaration_id="d-1",
        version=1,
        device_id="dev",
        seq=1,
        prev=GENESIS,
    )
    v = verify_envelope(env)
    assert v.signer_kid == info.kid and v.signer_subject == "Broker at Kati" and not v.trusted
    assert export_public(home) == info.certificate_chain_pem[0]
    assert export_public(home, info.kid[:6]) == info.certificate_chain_pem[0]
    with pytest.raises(ComptoirError):
        export_public(home, "zzz-no-such-kid")


def _p12(tmp_path: Path, key, password: bytes | None, name: str = "id.p12"):
    root_key, root = _ca("National Customs Root")
    inter_key, inter = _ca("National Customs Issuing CA", root_key, "National Customs Root")
    leaf = _issue(inter_key, inter, key.public_key(), _name("Trader SARL"))
    enc = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    # The CA certificates deliberately out of order: the import must order the chain.
    data = pkcs12.serialize_key_and_certificates(b"trader", key, leaf, [root, inter], enc)
    path = tmp_path / name
    path.write_bytes(data)
    return path, leaf, inter, root


def _seals_trusted(store: PassphraseFileStore, info: Any, root: x509.Certificate) -> bool:
    """Whether an envelope sealed with this key verifies as trusted under ``root``."""
    env = seal_envelope(canonicalize({"a": 1}), load_private_jwk(store, info), x5c(info),
                        kind="declaration", declaration_id="d", version=1, device_id="dev",
                        seq=1, prev=GENESIS)
    return verify_envelope(env, trust_roots=[root]).trusted


def test_import_pkcs12(home: Path, store: PassphraseFileStore, tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    path, leaf, inter, root = _p12(tmp_path, key, b"p12-pass")
    info = import_pkcs12(home, store, path, "p12-pass")
    assert info.source == "pkcs12" and info.enrolled and info.active
    assert info.subject == "Trader SARL" and info.alg == "ES256"
    chain = [x509.load_pem_x509_certificate(p.encode()) for p in info.certificate_chain_pem]
    assert chain == [leaf, inter, root]
    assert _seals_trusted(store, info, root)
    ed = ed25519.Ed25519PrivateKey.generate()
    path2, *_ = _p12(tmp_path, ed, None, "ed.p12")
    assert import_pkcs12(home, store, path2, None).alg == "Ed25519"


def test_import_pkcs12_errors(home: Path, store: PassphraseFileStore, tmp_path: Path) -> None:
    path, *_ = _p12(tmp_path, ec.generate_private_key(ec.SECP256R1()), b"right")
    for password in ("wrong", None):
        with pytest.raises(ComptoirError) as info:
            import_pkcs12(home, store, path, password)
        assert info.value.code == "keys.pkcs12_unreadable" and info.value.exit_code == 2
    bad = tmp_path / "corrupt.p12"
    bad.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ComptoirError) as info:
        import_pkcs12(home, store, bad, "right")
    assert info.value.exit_code == 2
    with pytest.raises(ComptoirError) as info:
        import_pkcs12(home, store, tmp_path / "absent.p12", None)
    assert info.value.exit_code == 2
    rsa_path, *_ = _p12(tmp_path, rsa.generate_private_key(65537, 2048), None, "rsa.p12")
    with pytest.raises(ComptoirError) as info:
        import_pkcs12(home, store, rsa_path, None)
    assert info.value.code == "keys.unsupported_key_type"
    assert list_keys(home) == []


def test_csr_and_enrolment(home: Path, store: PassphraseFileStore) -> None:
    info = create_key(home, store, subject="Jeanne Dupont")
    pem = make_csr(home, store, None, "Jeanne Dupont", "FR123456789000")
    csr = x509.load_pem_x509_csr(pem.encode())
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == "FR123456789000"
    assert jwk_thumbprint(jwk_from_public_key(csr.public_key())) == info.kid
    ca_key, ca = _ca("Sandbox Single Window CA")
    leaf = _issue(ca_key, ca, csr.public_key(), csr.subject)
    pems = [c.public_bytes(serialization.Encoding.PEM).decode() for c in (leaf, ca)]
    installed = install_certificate_chain(home, info.kid, pems)
    assert installed.enrolled and installed.subject == "Jeanne Dupont"
    assert list_keys(home)[0].certificate_chain_pem == pems
    assert _seals_trusted(store, installed, ca)
    # A certificate for another key is refused.
    other = _issue(ca_key, ca, ec.generate_private_key(ec.SECP256R1()).public_key(), _name("X"))
    with pytest.raises(ComptoirError) as err:
        install_certificate_chain(
            home, info.kid, [other.public_bytes(serialization.Encoding.PEM).decode()]
        )
    assert err.value.code == "keys.certificate_mismatch"
    with pytest.raises(ComptoirError):
        install_certificate_chain(home, info.kid, ["not pem"])


@pytest.fixture
def fallback(monkeypatch: pytest.MonkeyPatch):
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    monkeypatch.setenv("COMPTOIR_PASSPHRASE", "cli pass plum otter")
    try:
        yield
    finally:
        keyring.set_keyring(previous)


def test_cli_keys(fallback, home: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    assert main(["--home", str(home), "keys", "list"]) == 0
    assert "No keys" in capsys.readouterr().out
    assert (
        main(["--home", str(home), "keys", "create", "--alg", "Ed25519", "--subject", "Ali"]) == 0
    )
    out, err = capsys.readouterr()
    assert "(Ed25519)" in out and "Ali" in out
    assert main(["--home", str(home), "keys", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[0]["alg"] == "Ed25519" and listed[0]["active"] is True
    kid = listed[0]["kid"]
    pem_file = tmp_path / "pub.pem"
    assert main(["--home", str(home), "keys", "export-public", "-o", str(pem_file)]) == 0
    assert x509.load_pem_x509_certificate(pem_file.read_bytes()).subject == _name("Ali")
    assert main(["--home", str(home), "keys", "csr", "--trader", "FR9", f"--kid={kid[:8]}"]) == 0
    assert "BEGIN CERTIFICATE REQUEST" in capsys.readouterr().out
    path, *_ = _p12(tmp_path, ec.generate_private_key(ec.SECP256R1()), b"pp")
    monkeypatch.setenv("P12_PASS", "pp")
    args = ["--home", str(home), "keys", "import", str(path), "--password-env", "P12_PASS"]
    assert main(args) == 0
    assert "Trader SARL" in capsys.readouterr().out
    monkeypatch.setenv("P12_PASS", "wrong")
    assert main(args) == 2
    assert "wrong password" in capsys.readouterr().err
    assert main(["--home", str(home), "keys", "list"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert len(rows) == 2 and rows[1].startswith("* ") and "enrolled" in rows[1]


def test_cli_no_key(fallback, home: Path, capsys) -> None:
    assert main(["--home", str(home), "keys", "csr", "--trader", "FR1"]) == 2
    assert "No signing key" in capsys.readouterr().err


def test_real_keyring_holds_the_key(home: Path) -> None:
    if not keyring_available():
        if os.environ.get("CI"):
            pytest.fail("CI must run under .ci/with-keyring (no Secret Service found)")
        pytest.skip("no Secret Service: run under .ci/with-keyring")
    store = open_secret_store(home, "keys-test-" + home.parent.name)
    info = create_key(home, store)
    try:
        pem = keyring.get_password("comptoir", f"{store.namespace}/signing-key/{info.kid}")
        assert pem and pem.startswith("-----BEGIN PRIVATE KEY-----")
        der_d = load_private_jwk(store, info)["d"]
        for path in home.rglob("*"):
            if path.is_file():
                assert der_d not in path.read_text(errors="replace")
                assert "PRIVATE KEY" not in path.read_text(errors="replace")
        assert public_jwk(load_private_jwk(store, info)).get("d") is None
    finally:
        store.delete(f"signing-key/{info.kid}")
