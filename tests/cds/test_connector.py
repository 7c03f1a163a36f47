"""The CDS connector through the CLI against the emulator: OAuth refresh and sign-in
again, the 3/s limiter and 429, 403 / 501 never resent, 5xx bursts, local refusals."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
import requests

from client.declaration.model import CarriedElement, DmsExtra, Document
from client.declaration.mrn import is_valid_mrn
from client.declaration.samples import sample_declaration

from .helpers import TRADER, cds_profile, comptoir, connect, list_json, ok, seal_offline

pytestmark = pytest.mark.slow


def _posts(emu: Any) -> list[dict[str, Any]]:
    return [r for r in emu.state.requests() if r["method"] == "POST"
            and r["path"].startswith("/customs/declarations")]


def _once_each(emu: Any, rows: list[dict[str, Any]]) -> None:
    assert emu.state.stats()["lrns"] == {r["lrn"]: 1 for r in rows}


def _all_registered(home: Path) -> list[dict[str, Any]]:
    rows = list_json(home)
    assert all(r["status"] == "registered" and is_valid_mrn(r["mrn"]) for r in rows), \
        {r["status"] for r in rows}
    return rows


# --------------------------------------------------------------------------------- OAuth

def test_token_refreshed_before_it_expires(tmp_path: Path, emulator: Any) -> None:
    emulator.admin("config", {"token_ttl": 100})  # inside the client's refresh margin
    home = tmp_path / "t"
    cds_profile(home, emulator)
    seal_offline(home, 3)
    ok(comptoir(home, "sync", "--once"))
    log = emulator.state.requests()
    first_post = next(i for i, r in enumerate(log) if r["method"] == "POST"
                      and r["path"].startswith("/customs"))
    refreshes = [i for i, r in enumerate(log) if r["path"] == "/oauth/token"
                 and "grant_type=refresh_token" in r["body"]]
    assert refreshes and refreshes[0] < first_post
    assert all(r["status"] == 202 for r in _posts(emulator))
    _once_each(emulator, _all_registered(home))


def test_a_401_refreshes_once_then_the_same_request_goes_through(tmp_path: Path,
                                                                emulator: Any) -> None:
    home = tmp_path / "t"
    cds_profile(home, emulator)
    seal_offline(home, 3)
    emulator.admin("expire", {})
    ok(comptoir(home, "sync", "--once"))
    statuses = [r["status"] for r in emulator.state.requests()
                if r["path"].startswith(("/customs", "/notifications", "/oauth/token"))]
    assert 401 in statuses
    _once_each(emulator, _all_registered(home))


def test_revoked_refresh_token_asks_to_sign_in_again_and_loses_nothing(
        tmp_path: Path, emulator: Any) -> None:
    home = tmp_path / "t"
    cds_profile(home, emulator)
    seal_offline(home, 4)
    emulator.admin("revoke", {"kind": "refresh"})
    emulator.admin("expire", {})
    p = comptoir(home, "sync", "--once")
    assert p.returncode == 3 and "Traceback" not in p.stderr
    assert "Sign in to CDS again" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert {r["status"] for r in list_json(home)} == {"sealed"}
    status = json.loads(ok(comptoir(home, "cds", "status", "--json")).stdout)
    assert status["credentials"] == "sign_in_again"
    assert _posts(emulator) == []
    ok(connect(home, emulator))
    ok(comptoir(home, "sync", "--once"))
    _once_each(emulator, _all_registered(home))


def test_denied_consent_and_a_foreign_state_leave_the_profile_as_it_was(
        tmp_path: Path, emulator: Any) -> None:
    home = tmp_path / "t"
    ok(comptoir(home, "init", "--declarant", TRADER))
    emulator.state.set("auto_consent", False)
    import subprocess
    import threading

    def deny() -> None:
        import time

        for _ in range(200):
            pending = emulator.admin("consents")["pending"]
            if pending:
                r = requests.post(f"{emulator.url}/oauth/authorize/decision",
                                  data={"consent": pending[0], "decision": "deny"},
                                  verify=str(emulator.ca_pem_path), timeout=10)
                assert r.status_code == 200  # the loopback page, after the redirect
                return
            time.sleep(0.05)

    def browse(url: str) -> None:
        requests.get(url, verify=str(emulator.ca_pem_path), timeout=10)

    t = threading.Thread(target=deny)
    t.start()
    p = connect_driving(home, emulator, browse)
    t.join()
    assert p.returncode == 3 and "Authority was not granted (access_denied)" in p.stderr
    profile = json.loads((home / "profile.json").read_text())
    assert profile["server"].get("connector") is None
    # a redirect that does not carry this sign-in's state is refused
    emulator.state.set("auto_consent", True)

    def forge(url: str) -> None:
        r = requests.get(url, verify=str(emulator.ca_pem_path), allow_redirects=False,
                         timeout=10)
        loc = re.sub(r"state=[^&]+", "state=forged", r.headers["Location"])
        requests.get(loc, timeout=10)

    p = connect_driving(home, emulator, forge)
    assert p.returncode == 3 and "does not match this sign-in" in p.stderr
    assert json.loads((home / "profile.json").read_text())["server"].get("connector") is None
    del subprocess


def connect_driving(home: Path, emu: Any, browser: Any) -> Any:
    """``connect cds --no-browser`` with ``browser(url)`` acting as the user's browser."""
    import os
    import subprocess
    import sys

    from .helpers import REPO

    e = dict(os.environ, COMPTOIR_HOME=str(home), COMPTOIR_LANG="en")
    proc = subprocess.Popen(
        [sys.executable, "-m", "client.cli", "connect", "cds", "--environment", emu.url,
         "--client-id", "app", "--ca", str(emu.ca_pem_path), "--no-browser",
         "--schemas", str(emu.schema_dir), "--wait", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e, cwd=REPO)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("https://"):
            browser(line.strip())
            break
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_bad_identifier_is_refused_before_any_request(tmp_path: Path, emulator: Any) -> None:
    home = tmp_path / "t"
    ok(comptoir(home, "init", "--declarant", TRADER))
    p = connect(home, emulator, "--badge", "abc", drive=False)
    assert p.returncode == 2 and "X-Badge-Identifier abc is not valid" in p.stderr
    assert emulator.state.requests() == []


# ----------------------------------------------------------------------- rate, 429, 5xx

def test_client_limiter_keeps_to_the_published_rate(tmp_path: Path, emulator: Any) -> None:
    home = tmp_path / "t"
    cds_profile(home, emulator, rate="3")
    seal_offline(home, 8)
    emulator.admin("config", {"rate_limit": 3})
    ok(comptoir(home, "sync", "--once"))
    assert 429 not in {r["status"] for r in emulator.state.requests()}
    _once_each(emulator, _all_registered(home))


def test_429_is_waited_out_and_resent_when_the_client_limit_is_off(
        tmp_path: Path, emulator: Any) -> None:
    home = tmp_path / "t"
    cds_profile(home, emulator, rate="0")
    seal_offline(home, 8)
    emulator.admin("config", {"rate_limit": 3})
    ok(comptoir(home, "sync", "--once"))
    assert 429 in {r["status"] for r in emulator.state.requests()}
    _once_each(emulator, _all_registered(home))


def test_403_and_501_are_never_resent(tmp_path: Path, emulator: Any) -> None:
    home = tmp_path / "t"
    cds_profile(home, emulator)
    seal_offline(home, 4)
    emulator.admin("faults", {"forbidden": 1, "not_implemented": 1})
    p = comptoir(home, "sync", "--once")
    assert p.returncode == 0, p.stderr
    assert [r["status"] for r in _posts(emulator)] == [403, 501, 202, 202]
    rows = {r["status"] for r in list_json(home)}
    assert rows == {"rejected", "registered"}
    ok(comptoir(home, "sync", "--once"))
    assert len(_posts(emulator)) == 4
    refused = [r for r in list_json(home) if r["status"] == "rejected"]
    codes = set()
    for r in refused:
        shown = json.loads(ok(comptoir(home, "show", r["id"], "--json")).stdout)
        codes |= {x["code"] for x in shown["rejection"]}
    assert codes == {"PAYLOAD_FORBIDDEN", "NOT_IMPLEMENTED"}


def test_a_5xx_burst_is_retried_with_backoff_and_lodges_each_once(
        tmp_path: Path, emulator: Any) -> None:
    home = tmp_path / "t"
    cds_profile(home, emulator)
    seal_offline(home, 6)
    emulator.admin("faults", {"status_burst": {"status": 503, "count": 3}})
    for _ in range(4):
        if comptoir(home, "sync", "--once").returncode == 0:
            break
    assert [r["status"] for r in _posts(emulator)][:3] == [503, 503, 503]
    _once_each(emulator, _all_registered(home))


def test_a_body_the_schemas_refuse_is_never_sent(tmp_path: Path, emulator: Any) -> None:
    home = tmp_path / "t"
    cds_profile(home, emulator)
    d = sample_declaration(random.Random(9), n_items=1, declarant_id=TRADER)
    d.lrn = "G0LOCAL1"
    # an element carried from an import that the schema has no place for at the head
    # of the declaration (local validation does not read carried XML; the schemas do)
    d.dms = DmsExtra(carried=[CarriedElement(xml="<NoSuchElement>1</NoSuchElement>")])
    f = tmp_path / "d.json"
    f.write_text(json.dumps(d.to_json_dict()))
    ok(comptoir(home, "import", str(f)))
    ok(comptoir(home, "ready", d.id))
    ok(comptoir(home, "seal", d.id))
    ok(comptoir(home, "sync", "--once"))
    assert _posts(emulator) == []
    shown = json.loads(ok(comptoir(home, "show", d.id, "--json")).stdout)
    assert shown["status"] == "rejected"
    assert shown["rejection"][0]["code"] == "xml_validation_error"
    assert "NoSuchElement" in shown["rejection"][0]["explanation"]


def test_a_header_document_status_is_refused_before_sealing_never_lost(
        tmp_path: Path, emulator: Any) -> None:
    """DMS has no LPCOExemptionCode at header level: the status is refused with its
    field when the declaration is made ready, not dropped from what CDS receives."""
    home = tmp_path / "t"
    cds_profile(home, emulator)
    d = sample_declaration(random.Random(9), n_items=1, declarant_id=TRADER)
    d.lrn = "G0LOCAL2"
    d.additional_documents = [Document(category="N", type="935", reference="INV-1",
                                       status="AE")]
    f = tmp_path / "d.json"
    f.write_text(json.dumps(d.to_json_dict()))
    ok(comptoir(home, "import", str(f)))
    p = comptoir(home, "ready", d.id)
    assert p.returncode != 0
    out = p.stdout + p.stderr
    assert "V-HEADER-DOCUMENT-FIELDS Document 1 › Document status code (DE 2/3)" in out, \
        out[-800:]
    ok(comptoir(home, "sync", "--once"))
    assert _posts(emulator) == []
    shown = json.loads(ok(comptoir(home, "show", d.id, "--json")).stdout)
    assert shown["status"] == "draft"


def test_amendment_and_cancellation_go_to_their_endpoints(tmp_path: Path, emulator: Any,
                                                         conformance: Path) -> None:
    from .conformance_check import check_requests

    home = tmp_path / "t"
    cds_profile(home, emulator)
    ids = []
    for n, lrn in enumerate(("G0AMEND1", "G0SCANCEL1")):  # 3rd letter S: cancellation granted
        d = sample_declaration(random.Random(20 + n), n_items=1, declarant_id=TRADER)
        d.lrn = lrn
        f = tmp_path / f"{lrn}.json"
        f.write_text(json.dumps(d.to_json_dict()))
        ok(comptoir(home, "import", str(f)))
        ok(comptoir(home, "ready", d.id))
        ids.append(d.id)
    ok(comptoir(home, "seal", "--all-ready"))
    ok(comptoir(home, "sync", "--once"))
    amend, cancel = ids
    ok(comptoir(home, "amend", amend))
    ok(comptoir(home, "ready", amend))
    ok(comptoir(home, "seal", amend))
    ok(comptoir(home, "amend", cancel, "--cancel"))
    ok(comptoir(home, "ready", cancel))
    ok(comptoir(home, "seal", cancel))
    ok(comptoir(home, "sync", "--once"))
    assert [r["path"] for r in _posts(emulator)] == [
        "/customs/declarations/", "/customs/declarations/", "/customs/declarations/amend",
        "/customs/declarations/cancellation-requests"]
    assert all(r["status"] == 202 for r in _posts(emulator))
    rows = {r["id"]: r for r in list_json(home)}
    assert rows[cancel]["status"] == "invalidated" and rows[cancel]["version"] == 2
    notes = [h["message"] for h in json.loads(ok(comptoir(home, "history", amend, "--json")).stdout)]
    assert "CDS: customs_position_granted" in notes
    check_requests(emulator.state.requests(), conformance)


def test_a_confidential_client_sends_its_secret_from_the_keyring(tmp_path: Path,
                                                                 emulator: Any) -> None:
    from client.seal.profile import load_profile, secret_store
    from sync.cds.oauth import CLIENT_SECRET

    emulator.state.set("clients", {"conf-app": "s3cret-from-hmrc"})
    home = tmp_path / "t"
    ok(comptoir(home, "init", "--declarant", TRADER))
    p = connect(home, emulator, "--client-secret-from-keyring", client_id="conf-app",
                drive=False)
    assert p.returncode == 2 and "No client secret in the keyring" in p.stderr
    secret_store(load_profile(home)).set(CLIENT_SECRET, "s3cret-from-hmrc")
    ok(connect(home, emulator, "--client-secret-from-keyring", client_id="conf-app"))
    seal_offline(home, 2)
    emulator.admin("expire", {})  # the refresh must carry the secret too
    ok(comptoir(home, "sync", "--once"))
    _once_each(emulator, _all_registered(home))
    tokens = [r for r in emulator.state.requests() if r["path"] == "/oauth/token"]
    assert len(tokens) == 2 and all("client_secret=%3Credacted%3E" in r["body"] for r in tokens)
    assert "s3cret-from-hmrc" not in json.dumps(emulator.state.requests())
