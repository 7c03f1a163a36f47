"""A hostile trader B, enrolled with its own valid keys, against trader A (issue #12).

Every attack is tried over HTTPS against a real sandbox on loopback; each is refused with
its own code, B learns nothing of A's, and A's own flow goes on unaffected.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from sqlalchemy import text

from client.common.b64 import b64u_encode
from client.seal.envelope import envelope_hash
from client.seal.jws import b64u_decode
from sync.sandbox.server import SandboxHandle
from tests.sync.conftest import Trader

P256_N = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)


def one(trader: Trader, env: dict[str, str]) -> dict[str, Any]:
    r = trader.post([env])
    assert r.status_code == 200, r.text
    (res,) = r.json()["results"]
    return res


def codes(res: dict[str, Any]) -> list[str]:
    return [e["code"] for e in res["errors"]]


@pytest.fixture
def a(green_sandbox: SandboxHandle) -> Trader:
    return Trader(green_sandbox)


@pytest.fixture
def b(green_sandbox: SandboxHandle) -> Trader:
    return Trader(green_sandbox)


def test_b_cannot_amend_a_declaration(a: Trader, b: Trader) -> None:
    doc = a.declaration()
    first = one(a, a.seal(doc))
    assert first["status"] == "accepted"
    forged = b.declaration(id=doc["id"], version=2, function="amendment", amends=doc["id"],
                           mrn=first["mrn"])
    res = one(b, b.seal(forged))
    assert res["status"] == "rejected"
    # Ids are namespaced per trader: B has lodged no declaration under this id, which is
    # all B is told (the same answer as for an id nobody ever used).
    assert codes(res) == ["REQUEST_NOT_LODGED"]
    assert res["mrn"] is None and res["receipt"] is None and res["leaf"] is None
    # A's own amendment still goes through and keeps A's MRN (released at once on the
    # green lane, so a post-release amendment naming the MRN, UCC Art. 173(3)).
    amended = dict(doc, version=2, function="post_release_amendment", amends=doc["id"],
                   mrn=first["mrn"])
    mine = one(a, a.seal(amended))
    assert mine["status"] == "accepted" and mine["mrn"] == first["mrn"]


def test_b_cannot_learn_an_id_exists(a: Trader, b: Trader) -> None:
    """B lodging under an id A already uses is B's own declaration: nothing of A's in the
    answer, no refusal that would tell B the id exists."""
    doc = a.declaration()
    mine = one(a, a.seal(doc))
    assert mine["status"] == "accepted"
    res = one(b, b.seal(b.declaration(id=doc["id"], version=1)))
    assert res["status"] == "accepted" and codes(res) == []
    assert res["mrn"] != mine["mrn"]
    assert res["mrn"] not in {n["mrn"] for n in a.feed()["notifications"]}


def test_b_cannot_preclaim_a_ids(a: Trader, b: Trader) -> None:
    """The ids are printed on fallback documents' QR codes: B lodging one of them before A
    does must not stop A, nor tell A (or B) anything."""
    doc = a.declaration()
    squat = one(b, b.seal(b.declaration(id=doc["id"], version=1)))
    assert squat["status"] == "accepted"
    mine = one(a, a.seal(doc))
    assert mine["status"] == "accepted" and codes(mine) == [], mine
    assert mine["mrn"] and mine["mrn"] != squat["mrn"]
    # A's later version is an amendment of A's declaration, never of B's.
    amended = dict(doc, version=2, function="post_release_amendment", amends=doc["id"],
                   mrn=mine["mrn"])
    res = one(a, a.seal(amended))
    assert res["status"] == "accepted" and res["mrn"] == mine["mrn"]
    # Each feed speaks of its own declaration only.
    a_mrns = {n["mrn"] for n in a.feed()["notifications"] if n["declaration_id"] == doc["id"]}
    b_mrns = {n["mrn"] for n in b.feed()["notifications"] if n["declaration_id"] == doc["id"]}
    assert squat["mrn"] not in a_mrns and mine["mrn"] not in b_mrns


def test_b_cannot_lodge_in_a_name(a: Trader, b: Trader) -> None:
    """DE 3/18 names A, B signs without any representation: rejected, A's LRN unburnt."""
    doc = b.declaration()
    doc["declarant"] = dict(doc["declarant"], id=a.trader_id)
    doc.pop("representative", None)
    res = one(b, b.seal(doc))
    assert res["status"] == "rejected"
    assert codes(res) == ["DECLARANT_NOT_REPRESENTED"]
    # A can still use that LRN for its own declaration.
    mine = a.declaration(lrn=doc["lrn"])
    assert one(a, a.seal(mine))["status"] == "accepted"
    # B's chain went on (the rejected envelope was lodged): B's next envelope is accepted.
    assert one(b, b.seal())["status"] == "accepted"


def test_representation_needs_an_authorisation(green_sandbox: SandboxHandle, a: Trader,
                                               b: Trader) -> None:
    def as_agent() -> dict[str, Any]:
        doc = b.declaration()
        doc["declarant"] = dict(doc["declarant"], id=a.trader_id)
        doc["representative"] = {"id": b.trader_id, "name": "B Brokers", "status": "2"}
        return doc

    refused = one(b, b.seal(as_agent()))
    assert codes(refused) == ["DECLARANT_NOT_REPRESENTED"]
    green_sandbox.state.store.add_authorisation(a.trader_id, b.trader_id)
    assert one(b, b.seal(as_agent()))["status"] == "accepted"


def test_b_cannot_replay_a_envelope_for_its_receipt(a: Trader, b: Trader) -> None:
    env = a.seal()
    assert one(a, env)["status"] == "accepted"
    res = one(b, env)
    assert res["status"] == "rejected" and codes(res) == ["CERT_NOT_OWNED"]
    assert res["mrn"] is None and res["receipt"] is None and res["leaf"] is None


def test_b_feed_holds_nothing_of_a(a: Trader, b: Trader) -> None:
    ids = set()
    for _ in range(3):
        env = a.seal()
        assert one(a, env)["status"] == "accepted"
    for n in a.feed()["notifications"]:
        ids.add(n["declaration_id"])
    assert ids
    assert not ids & {n["declaration_id"] for n in b.feed()["notifications"]}


def test_device_id_bound_to_token(green_sandbox: SandboxHandle, b: Trader) -> None:
    """B's first device plants a held envelope in B's second device's chain: refused."""
    b2 = Trader(green_sandbox, b.trader_id)
    planted = b.seal(seq=2, prev="f" * 64, advance=False, device_id=b2.device_id)
    res = one(b, planted)
    assert codes(res) == ["DEVICE_NOT_BOUND"]
    # The second device's own chain is intact: its first and second envelopes go in.
    assert one(b2, b2.seal())["status"] == "accepted"
    assert one(b2, b2.seal())["status"] == "accepted"


def test_certificate_bound_to_token(green_sandbox: SandboxHandle, b: Trader) -> None:
    """An envelope of device 1 (its own cert, dev header) sent with device 2's token."""
    b2 = Trader(green_sandbox, b.trader_id)
    env = b.seal(advance=False)
    r = requests.post(f"{green_sandbox.url}/v1/envelopes", json={"envelopes": [env]},
                      headers=b2.headers(), verify=str(green_sandbox.ca_pem_path), timeout=30)
    (res,) = r.json()["results"]
    assert codes(res) in (["DEVICE_NOT_BOUND"], ["CERT_NOT_BOUND"])
    assert one(b, b.seal())["status"] == "accepted"


def test_signer_certificate_of_another_device_refused(green_sandbox: SandboxHandle,
                                                      b: Trader) -> None:
    """Device 2's key and certificate, device 1's token and device id in the header."""
    b2 = Trader(green_sandbox, b.trader_id)
    b2.device_id = b.device_id  # header dev = the token's device
    env = b2.seal(advance=False)
    r = requests.post(f"{green_sandbox.url}/v1/envelopes", json={"envelopes": [env]},
                      headers=b.headers(), verify=str(green_sandbox.ca_pem_path), timeout=30)
    (res,) = r.json()["results"]
    assert codes(res) == ["CERT_NOT_BOUND"]


def test_trader_cannot_lodge_a_decision(b: Trader) -> None:
    """The officer role is checked on its own: B's cert and token match, the role does not."""
    doc = {"id": "00000000-0000-7000-8000-000000000001", "version": 1,
           "declaration_id": "00000000-0000-7000-8000-000000000002",
           "declaration_version": 1, "outcome": "release"}
    res = one(b, b.seal(doc, kind="decision"))
    assert codes(res) == ["NOT_AN_OFFICER"]


def test_b_is_not_told_an_officer_decision_about_a(green_sandbox: SandboxHandle, a: Trader,
                                                   b: Trader) -> None:
    """An officer decides on A's declaration (from its fallback document) before A lodges
    it; B lodges under the same id first: B's feed never carries that decision."""
    officer = Trader(green_sandbox, role="officer")
    doc = a.declaration()
    a_env = a.seal(doc)
    decision = {"id": "00000000-0000-7000-8000-0000000000d1", "version": 1,
                "declaration_id": doc["id"], "declaration_version": 1, "outcome": "hold",
                "reason": "seal broken", "declaration_envelope_hash": envelope_hash(a_env)}
    assert one(officer, officer.seal(decision, kind="decision"))["status"] == "accepted"
    assert one(b, b.seal(b.declaration(id=doc["id"], version=1)))["status"] == "accepted"
    b_feed = b.feed()["notifications"]
    assert not [n for n in b_feed if n.get("decision") or n["status"] == "decision_conflict"]
    # A's declaration, when it comes, gets the officer's decision.
    assert one(a, a_env)["status"] == "accepted"
    statuses = [n["status"] for n in a.feed()["notifications"] if n["declaration_id"] == doc["id"]]
    assert "under_control" in statuses, statuses


def test_officer_cannot_lodge_a_declaration(green_sandbox: SandboxHandle) -> None:
    officer = Trader(green_sandbox, role="officer")
    res = one(officer, officer.seal())
    assert codes(res) == ["NOT_A_TRADER"]


# -- tokens -------------------------------------------------------------------------


def _expire_tokens(sandbox: SandboxHandle, device_id: str) -> int:
    """Back-date a device's tokens in the sandbox's own database (SQLite or PostgreSQL)."""
    with sandbox.state.store.engine.begin() as conn:
        return conn.execute(text("UPDATE tokens SET expires_at = 1 WHERE device_id = :d"),
                            {"d": device_id}).rowcount


def _feed_status(trader: Trader) -> tuple[int, dict[str, Any]]:
    r = requests.get(f"{trader.sandbox.url}/v1/notifications",
                     headers={"Authorization": f"Bearer {trader.token}"},
                     verify=str(trader.sandbox.ca_pem_path), timeout=10)
    return r.status_code, r.json()


def test_token_expires(green_sandbox: SandboxHandle, b: Trader) -> None:
    assert _feed_status(b)[0] == 200
    assert _expire_tokens(green_sandbox, b.device_id) == 1
    status, body = _feed_status(b)
    assert status == 401 and body["code"] == "sandbox.token_expired"


def test_token_refresh_replaces_the_old_one(green_sandbox: SandboxHandle, b: Trader) -> None:
    old = b.token
    r = requests.post(f"{green_sandbox.url}/v1/token", headers={"Authorization": f"Bearer {old}"},
                      verify=str(green_sandbox.ca_pem_path), timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token"] != old and body["expires_at"]
    # The old token works until the new one is used (a lost answer never locks out)...
    assert _feed_status(b)[0] == 200
    b.token = body["token"]
    assert _feed_status(b)[0] == 200
    # ...and dies at the new one's first use.
    b.token = old
    status, problem = _feed_status(b)
    assert status == 401 and problem["code"] == "sandbox.unauthorized"


def test_token_dies_with_its_certificate(green_sandbox: SandboxHandle, b: Trader) -> None:
    assert _feed_status(b)[0] == 200
    green_sandbox.state.store.revoke_matching(device_id=b.device_id)
    status, problem = _feed_status(b)
    assert status == 401 and problem["code"] == "sandbox.token_revoked"


# -- certificate validity and sigT -----------------------------------------------------


def _expired_device(sandbox: SandboxHandle, trader_id: str) -> Trader:
    """A device whose certificate (issued by the sandbox CA) ended a minute ago."""
    t = Trader(sandbox, trader_id, enrol=False)
    pki = sandbox.state.pki
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([
                x509.NameAttribute(NameOID.COMMON_NAME, trader_id),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "trader"),
                x509.NameAttribute(NameOID.SERIAL_NUMBER, t.device_id)]))
            .issuer_name(pki.ca_cert.subject).public_key(t.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=400))
            .not_valid_after(now - dt.timedelta(minutes=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(pki.ca_key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    t.token = secrets.token_urlsafe(32)
    sandbox.state.store.register_enrolment(
        trader_id=trader_id, device_id=t.device_id, role="trader", token=t.token,
        serial=format(cert.serial_number, "x"), cert_pem=pem)
    t.x5c = [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()
             for c in (cert, pki.ca_cert)]
    return t


def test_expired_certificate_cannot_backdate(green_sandbox: SandboxHandle, b: Trader) -> None:
    old = _expired_device(green_sandbox, b.trader_id)
    # Signed "two minutes ago", inside the certificate's (and the CA's) validity.
    env = old.seal(sig_time=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2))
    res = one(old, env)
    assert codes(res) == ["CERT_EXPIRED"]


def test_sig_time_cannot_go_back_along_the_chain(b: Trader) -> None:
    now = dt.datetime.now(dt.UTC)
    assert one(b, b.seal(sig_time=now))["status"] == "accepted"
    res = one(b, b.seal(sig_time=now - dt.timedelta(minutes=2)))
    assert res["status"] == "rejected" and codes(res) == ["SIG_TIME_BACKDATED"]
    # The rejection was lodged: the chain goes on.
    assert one(b, b.seal(sig_time=now + dt.timedelta(seconds=1)))["status"] == "accepted"


# -- signature malleability, held envelopes, enrolment codes ------------------------------


def _high_s(env: dict[str, str]) -> dict[str, str]:
    sig = b64u_decode(env["signature"])
    r, s = sig[:32], int.from_bytes(sig[32:], "big")
    return dict(env, signature=b64u_encode(r + (P256_N - s).to_bytes(32, "big")))


def test_seals_are_low_s(b: Trader) -> None:
    for _ in range(40):
        s = int.from_bytes(b64u_decode(b.seal(advance=False)["signature"])[32:], "big")
        assert s <= P256_N // 2


def test_high_s_twin_refused(b: Trader) -> None:
    env = b.seal(advance=False)
    twin = _high_s(env)
    assert envelope_hash(twin) != envelope_hash(env)
    res = one(b, twin)
    assert codes(res) == ["SIGNATURE_HIGH_S"]
    assert one(b, b.seal())["status"] == "accepted"


def test_held_envelopes_bounded(green_sandbox: SandboxHandle, b: Trader) -> None:
    limit = green_sandbox.state.settings.max_held_per_device
    far = b.seal(seq=4 * limit + 5, prev="a" * 64, advance=False)
    assert codes(one(b, far)) == ["HELD_LIMIT"]
    held = [b.seal(seq=3 + i, prev="b" * 64, advance=False) for i in range(limit + 1)]
    r = b.post(held[:limit])
    assert [x["status"] for x in r.json()["results"]] == ["held"] * limit
    assert codes(one(b, held[limit])) == ["HELD_LIMIT"]


def test_enrolment_code_survives_a_bad_csr(green_sandbox: SandboxHandle) -> None:
    t = Trader(green_sandbox, enrol=False)
    code = green_sandbox.new_enrolment_code(t.trader_id)
    bad = dict(t.enrol_request(code), csr_pem="-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
               "-----END CERTIFICATE REQUEST-----\n")
    url, ca = f"{green_sandbox.url}/v1/enrol", str(green_sandbox.ca_pem_path)
    r = requests.post(url, json=bad, verify=ca, timeout=10)
    assert r.status_code == 400 and r.json()["code"] == "sandbox.csr_invalid"
    r = requests.post(url, json=t.enrol_request(code), verify=ca, timeout=10)
    assert r.status_code == 200, r.text
    r = requests.post(url, json=t.enrol_request(code), verify=ca, timeout=10)
    assert r.status_code == 403


def test_refusal_codes_documented_in_openapi() -> None:
    from sync.sandbox.app import openapi_document

    text = str(openapi_document())
    for code in ("REQUEST_NOT_LODGED", "DECLARANT_NOT_REPRESENTED", "DEVICE_NOT_BOUND",
                 "CERT_NOT_BOUND", "CERT_EXPIRED", "SIG_TIME_BACKDATED", "SIGNATURE_HIGH_S",
                 "HELD_LIMIT", "NOT_AN_OFFICER", "NOT_A_TRADER", "sandbox.token_expired",
                 "sandbox.token_revoked"):
        assert code in text, code


def test_authorisation_through_the_cli(green_sandbox: SandboxHandle, a: Trader,
                                       b: Trader) -> None:
    import subprocess
    import sys

    from tests.sync.conftest import REPO

    doc = b.declaration()
    doc["declarant"] = dict(doc["declarant"], id=a.trader_id)
    doc["representative"] = {"id": b.trader_id, "name": "B Brokers", "status": "3"}
    db_url = green_sandbox.state.settings.db_url  # the same database (PostgreSQL too)
    p = subprocess.run([sys.executable, "-m", "client.cli", "sandbox", "authorise", "--home",
                        str(green_sandbox.state.settings.home), "--declarant", a.trader_id,
                        "--representative", b.trader_id, *(["--db", db_url] if db_url else [])],
                       capture_output=True, text=True, cwd=REPO, timeout=120)
    assert p.returncode == 0, p.stderr
    assert b.trader_id in p.stdout
    assert one(b, b.seal(doc))["status"] == "accepted"


# -- a migration re-seal (#12) skips only an undelivered tail ------------------------------


def _reseal(t: Trader, doc: dict[str, Any], orig: dict[str, str] | None, *, seq: int,
            prev: str, sup: int) -> dict[str, str]:
    """``doc`` re-sealed at ``seq`` naming ``orig``, the first of a new tail from ``sup``."""
    from client.seal.canonical import canonicalize
    from client.seal.envelope import seal_envelope

    return seal_envelope(canonicalize(doc), t.jwk, t.x5c, kind="declaration",
                         declaration_id=doc["id"], version=1, device_id=t.device_id,
                         seq=seq, prev=prev, superseded_from=sup,
                         original=None if orig is None else (envelope_hash(orig), "x"))


def test_a_re_seal_cannot_skip_a_lodged_envelope(b: Trader) -> None:
    first = b.seal()
    assert one(b, first)["status"] == "accepted"
    doc = b.declaration()
    jump = _reseal(b, doc, first, seq=5, prev="c" * 64, sup=1)  # would skip lodged seq 1
    res = one(b, jump)
    assert res["status"] == "held" and res["mrn"] is None  # not applied: a gap, not a skip
    assert one(b, b.seal())["status"] == "accepted"  # the chain goes on from seq 1
    # a skip that names no original is no re-seal: a gap, held like any other
    bare = _reseal(b, b.declaration(), None, seq=6, prev="e" * 64, sup=3)
    assert one(b, bare)["status"] == "held"


def test_a_re_seal_replaces_the_held_tail_it_names(b: Trader) -> None:
    assert one(b, b.seal())["status"] == "accepted"
    doc = b.declaration()
    held = b.seal(doc, seq=3, prev="d" * 64, advance=False)  # seq 2 never came
    assert one(b, held)["status"] == "held"
    new = _reseal(b, doc, held, seq=4, prev=envelope_hash(held), sup=2)
    res = one(b, new)
    # the held original is forgotten, not an IDEMPOTENCY_CONFLICT with its re-seal
    assert res["status"] == "accepted" and codes(res) == [], res
    b.seq, b.prev = 4, envelope_hash(new)
    assert one(b, b.seal())["status"] == "accepted"
    lodged = [n for n in b.feed()["notifications"]
              if n["declaration_id"] == doc["id"] and n["status"] == "accepted"]
    assert [n["mrn"] for n in lodged] == [res["mrn"]]
