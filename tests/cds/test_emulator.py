"""The CDS emulator against the published documents: OAuth, header checks, schema
validation, CDS12003 on its clock, the stub's LRN letters, the pull queue, 429, faults."""

from __future__ import annotations

import json
import random
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from lxml import etree

from client.declaration.samples import sample_declaration
from client.interchange.dms import export_dms, parse_notification

from .conftest import ACCEPT, REDIRECT, api_headers, pkce, schema_dir, user_token

SUBMIT = "/customs/declarations/"


def body(lrn: str, seed: int = 1) -> bytes:
    d = sample_declaration(random.Random(seed), n_items=2, declarant_id="GB123456789000")
    d.lrn = lrn
    return export_dms(d)


def post(emu: Any, token: str, data: bytes, path: str = SUBMIT, **headers: str
         ) -> requests.Response:
    return requests.post(f"{emu.url}{path}", data=data, headers=api_headers(token, **headers),
                         verify=str(emu.ca_pem_path), timeout=20)


def get(emu: Any, token: str, path: str) -> requests.Response:
    return requests.get(f"{emu.url}{path}", headers={"Accept": ACCEPT,
                                                      "Authorization": f"Bearer {token}"},
                        verify=str(emu.ca_pem_path), timeout=20)


def ids(resource: str, which: str = "unpulled") -> list[str]:
    return re.findall(rf'href="/notifications/{which}/([0-9a-f-]+)"', resource)


def pull_all(emu: Any, token: str) -> list[tuple[str, bytes]]:
    out = []
    for nid in ids(get(emu, token, "/notifications/unpulled").text):
        r = get(emu, token, f"/notifications/unpulled/{nid}")
        assert r.status_code == 200
        out.append((r.headers["X-Conversation-ID"], r.content))
    return out


@pytest.fixture
def token(emulator: Any) -> str:
    return user_token(emulator)["access_token"]


# ------------------------------------------------------------------------------ OAuth

def test_consent_step_driven_like_a_user_then_code_exchanged_once(emulator: Any) -> None:
    emulator.state.set("auto_consent", False)
    verifier, challenge = pkce()
    ca = str(emulator.ca_pem_path)
    r = requests.get(f"{emulator.url}/oauth/authorize", params={
        "response_type": "code", "client_id": "app1", "redirect_uri": REDIRECT,
        "scope": "write:customs-declaration", "state": "xyz", "code_challenge": challenge,
        "code_challenge_method": "S256"}, verify=ca, allow_redirects=False, timeout=10)
    assert r.status_code == 200 and "Grant authority" in r.text
    consent = re.search(r'name="consent" value="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]
    r = requests.post(f"{emulator.url}/oauth/authorize/decision",
                      data={"consent": consent, "decision": "grant"}, verify=ca,
                      allow_redirects=False, timeout=10)
    assert r.status_code == 302
    loc = urlsplit(r.headers["Location"])
    q = parse_qs(loc.query)
    assert f"{loc.scheme}://{loc.netloc}{loc.path}" == REDIRECT and q["state"] == ["xyz"]
    form = {"grant_type": "authorization_code", "code": q["code"][0], "redirect_uri": REDIRECT,
            "client_id": "app1", "code_verifier": "not-the-verifier-" + "x" * 30}
    bad = requests.post(f"{emulator.url}/oauth/token", data=form, verify=ca, timeout=10)
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    # the failed try used the code up: a code is good for one exchange
    form["code_verifier"] = verifier
    again = requests.post(f"{emulator.url}/oauth/token", data=form, verify=ca, timeout=10)
    assert again.status_code == 400


def test_denied_consent_redirects_with_access_denied(emulator: Any) -> None:
    emulator.state.set("auto_consent", False)
    _, challenge = pkce()
    ca = str(emulator.ca_pem_path)
    r = requests.get(f"{emulator.url}/oauth/authorize", params={
        "response_type": "code", "client_id": "app1", "redirect_uri": REDIRECT,
        "scope": "write:customs-declaration", "state": "s", "code_challenge": challenge,
        "code_challenge_method": "S256"}, verify=ca, allow_redirects=False, timeout=10)
    consent = emulator.admin("consents")["pending"][0]
    assert consent in r.text
    r = requests.post(f"{emulator.url}/oauth/authorize/decision",
                      data={"consent": consent, "decision": "deny"}, verify=ca,
                      allow_redirects=False, timeout=10)
    assert parse_qs(urlsplit(r.headers["Location"]).query)["error"] == ["access_denied"]


def test_authorize_refuses_non_loopback_redirect_and_missing_pkce(emulator: Any) -> None:
    ca = str(emulator.ca_pem_path)
    common = {"response_type": "code", "client_id": "a", "scope": "write:customs-declaration"}
    r = requests.get(f"{emulator.url}/oauth/authorize", params=common | {
        "redirect_uri": "https://evil.example/cb", "code_challenge": "x" * 43,
        "code_challenge_method": "S256"}, verify=ca, allow_redirects=False, timeout=10)
    assert r.status_code == 400
    r = requests.get(f"{emulator.url}/oauth/authorize", params=common | {
        "redirect_uri": REDIRECT}, verify=ca, allow_redirects=False, timeout=10)
    assert parse_qs(urlsplit(r.headers["Location"]).query)["error"] == ["invalid_request"]


def test_refresh_rotates_and_a_revoked_refresh_token_is_refused(emulator: Any) -> None:
    t = user_token(emulator)
    ca = str(emulator.ca_pem_path)
    form = {"grant_type": "refresh_token", "refresh_token": t["refresh_token"],
            "client_id": "comptoir-test"}
    r = requests.post(f"{emulator.url}/oauth/token", data=form, verify=ca, timeout=10)
    assert r.status_code == 200 and r.json()["refresh_token"] != t["refresh_token"]
    reuse = requests.post(f"{emulator.url}/oauth/token", data=form, verify=ca, timeout=10)
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    # the OpenAPI document's refreshUrl answers the same way
    form["refresh_token"] = r.json()["refresh_token"]
    emulator.admin("revoke", {"kind": "refresh"})
    revoked = requests.post(f"{emulator.url}/oauth/refresh", data=form, verify=ca, timeout=10)
    assert revoked.status_code == 400 and revoked.json()["error"] == "invalid_grant"


def test_access_token_expires_on_the_emulators_clock(emulator: Any, token: str) -> None:
    assert get(emulator, token, "/notifications/unpulled").status_code == 200
    emulator.admin("clock", {"advance_s": 4 * 3600 + 1})
    r = get(emulator, token, "/notifications/unpulled")
    assert r.status_code == 401 and "<code>UNAUTHORIZED</code>" in r.text


# ------------------------------------------------------------------------ header checks

def _error_schema() -> etree.XMLSchema:
    path = schema_dir().parents[2] / "hmrc-api" / "customs-declarations" / "error.xsd"
    return etree.XMLSchema(etree.parse(str(path)))


@pytest.mark.parametrize("headers,status,code", [
    ({"Accept": "application/xml"}, 406, "ACCEPT_HEADER_INVALID"),
    ({"Content-Type": "application/json"}, 415, "UNSUPPORTED_MEDIA_TYPE"),
    ({"Content-Type": "application/xml"}, 415, "UNSUPPORTED_MEDIA_TYPE"),
    ({"Authorization": "Bearer nope"}, 401, "UNAUTHORIZED"),
    ({"X-Badge-Identifier": "abc"}, 400, "BAD_REQUEST"),
    ({"X-Submitter-Identifier": "GB1234567890123456789"}, 400, "BAD_REQUEST"),
])
def test_documented_status_codes_with_an_error_response(emulator: Any, token: str,
                                                        headers: dict[str, str], status: int,
                                                        code: str) -> None:
    r = post(emulator, token, body("G0ABC1"), **headers)
    assert r.status_code == status
    doc = etree.fromstring(r.content)
    assert _error_schema().validate(doc), r.text
    assert doc.findtext("code") == code
    assert emulator.state.stats()["conversations"] == 0


def test_schema_invalid_body_gets_400_with_the_line_and_nothing_lodged(emulator: Any,
                                                                      token: str) -> None:
    bad = body("G0ABC2").replace(b"<FunctionCode>", b"<unknown/><FunctionCode>", 1)
    r = post(emulator, token, bad)
    assert r.status_code == 400
    doc = etree.fromstring(r.content)
    assert _error_schema().validate(doc)
    assert doc.findtext("code") == "BAD_REQUEST"
    msg = doc.findtext("errors/error/message")
    assert doc.findtext("errors/error/code") == "xml_validation_error"
    assert msg.startswith("Error at line ") and "unknown" in msg
    assert emulator.state.stats()["conversations"] == 0


def test_published_400_example_is_refused_by_the_schema(emulator: Any, token: str) -> None:
    example = schema_dir().parents[2] / "hmrc-api" / "customs-declarations" / \
        "example_submission_declaration_400.xml"
    r = post(emulator, token, example.read_bytes())
    assert r.status_code == 400 and "unknown" in r.text


# ------------------------------------------------------------------- 202, CDS12003, DMS

def test_202_with_a_conversation_id_then_cds12003_within_48h_of_its_clock(
        emulator: Any, token: str) -> None:
    r = post(emulator, token, body("G0DUP1"))
    assert r.status_code == 202 and r.content == b""
    assert re.fullmatch(r"[0-9a-f-]{36}", r.headers["X-Conversation-ID"])
    emulator.admin("clock", {"advance_s": 47 * 3600})
    token = user_token(emulator)["access_token"]
    again = post(emulator, token, body("G0DUP1", seed=2))
    assert again.status_code == 202  # the API takes it; DMS rejects it
    notes = {conv: parse_notification(x, "n")[0] for conv, x in pull_all(emulator, token)}
    dup = notes[again.headers["X-Conversation-ID"]]
    assert dup.status == "rejected" and dup.errors[0]["code"] == "CDS12003"
    assert dup.lrn == "G0DUP1"
    assert emulator.state.stats()["lrns"] == {"G0DUP1": 1}
    emulator.admin("clock", {"advance_s": 2 * 3600})  # 49 h after the first: not caught
    token = user_token(emulator)["access_token"]
    assert post(emulator, token, body("G0DUP1", seed=3)).status_code == 202
    assert emulator.state.stats()["lrns"] == {"G0DUP1": 2}


@pytest.mark.parametrize("lrn,statuses", [
    ("G0X1", ["accepted"]), ("D0X2", ["accepted", "documents_requested"]),
    ("C0X3", ["cleared"]), ("R0X4", ["received"]), ("N0X5", ["released"]),
    ("U0X6", ["under_control"]), ("Q0X7", ["query"]), ("P0X8", []),
    ("20X9", ["accepted"]), ("B0X10", ["rejected"]),
])
def test_stub_letters_choose_the_notifications(emulator: Any, token: str, lrn: str,
                                               statuses: list[str]) -> None:
    conv = post(emulator, token, body(lrn)).headers["X-Conversation-ID"]
    got = [parse_notification(x, "n")[0] for c, x in pull_all(emulator, token) if c == conv]
    assert [g.status for g in got] == statuses
    from client.declaration.mrn import is_valid_mrn

    assert all(g.lrn == lrn and g.declaration_mrn and is_valid_mrn(g.declaration_mrn)
               for g in got)


def test_bcds_chooses_the_rejection_code_and_points_at_a_field(emulator: Any,
                                                               token: str) -> None:
    post(emulator, token, body("BCDS12119A"))
    post(emulator, token, body("BCDS99999B"))  # unsupported: CDS10020
    got = {g.lrn: g for _, x in pull_all(emulator, token) for g in parse_notification(x, "n")}
    assert got["BCDS12119A"].errors[0]["code"] == "CDS12119"
    assert got["BCDS12119A"].errors[0]["pointer"] == "42A.67A.68A[1].02A[1]/D006"
    assert got["BCDS99999B"].errors[0]["code"] == "CDS10020"
    assert got["BCDS99999B"].errors[0]["pointer"] == "42A.67A.68A[1].23A.21A/145"


def test_notifications_validate_against_the_res_dms_schema(emulator: Any, token: str) -> None:
    for lrn in ("G0V1", "B0V2", "D0V3", "C0V4"):
        post(emulator, token, body(lrn))
    res = schema_dir().parent / "notification"
    wrapper = ('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
               '<xs:import namespace="urn:wco:datamodel:WCO:DocumentMetaData-DMS:2" '
               f'schemaLocation="{(res / "DocumentMetaData_2_DMS.xsd").as_uri()}"/>'
               '<xs:import namespace="urn:wco:datamodel:WCO:RES-DMS:2" '
               f'schemaLocation="{(res / "WCO_RES_2_DMS.xsd").as_uri()}"/></xs:schema>')
    schema = etree.XMLSchema(etree.fromstring(wrapper.encode()))
    pulled = pull_all(emulator, token)
    assert len(pulled) == 5
    for _, xml in pulled:
        assert schema.validate(etree.fromstring(xml)), schema.error_log


def test_second_digit_delays_the_notifications(tmp_path: Path) -> None:
    from sync.cds_emulator.server import start_in_thread

    emu = start_in_thread(tmp_path / "slow", schema_dir=schema_dir(), auto_consent=True,
                          rate_limit=0.0, delay_scale=0.2)
    try:
        token = user_token(emu)["access_token"]
        post(emu, token, body("G5LATE"))  # 5 s x 0.2
        assert ids(get(emu, token, "/notifications/unpulled").text) == []
        for _ in range(200):  # polled, not timed: the notifications come once their delay ends
            if ids(get(emu, token, "/notifications/unpulled").text):
                break
            time.sleep(0.1)
        else:
            pytest.fail("the delayed notifications never came")
    finally:
        emu.stop()


# -------------------------------------------------------------------------- pull queue

def test_pull_queue_unpulled_to_pulled_404_and_14_days(emulator: Any, token: str) -> None:
    conv = post(emulator, token, body("D0Q1")).headers["X-Conversation-ID"]
    listing = get(emulator, token, f"/notifications/conversationId/{conv}/unpulled").text
    first, second = ids(listing)
    assert get(emulator, token, f"/notifications/pulled/{first}").status_code == 400
    assert get(emulator, token, f"/notifications/unpulled/{first}").status_code == 200
    assert get(emulator, token, f"/notifications/unpulled/{first}").status_code == 404
    assert get(emulator, token, f"/notifications/pulled/{first}").status_code == 200
    assert ids(get(emulator, token, f"/notifications/conversationId/{conv}/pulled").text,
               "pulled") == [first]
    every = get(emulator, token, f"/notifications/conversationId/{conv}").text
    assert ids(every, "pulled") == [first] and ids(every) == [second]
    assert get(emulator, token, "/notifications/unpulled/00000000-0000-0000-0000-000000000000"
               ).status_code == 404
    assert get(emulator, token, "/notifications/conversationId/"
               "00000000-0000-0000-0000-000000000000").status_code == 404
    other = user_token(emulator, client_id="another-app")["access_token"]
    assert get(emulator, other, f"/notifications/unpulled/{second}").status_code == 404
    emulator.admin("clock", {"advance_s": 15 * 86400})
    token = user_token(emulator)["access_token"]
    assert get(emulator, token, f"/notifications/unpulled/{second}").status_code == 404
    assert ids(get(emulator, token, "/notifications/unpulled").text) == []


# ----------------------------------------------------------------------- limits, faults

def test_rate_limit_answers_429_with_an_error_response(emulator: Any, token: str) -> None:
    emulator.admin("config", {"rate_limit": 3})
    codes = [get(emulator, token, "/notifications/unpulled").status_code for _ in range(10)]
    assert 429 in codes and codes[0] == 200
    r = get(emulator, token, "/notifications/unpulled")
    while r.status_code != 429:
        r = get(emulator, token, "/notifications/unpulled")
    assert "<code>MESSAGE_THROTTLED_OUT</code>" in r.text
    time.sleep(1.1)
    assert get(emulator, token, "/notifications/unpulled").status_code == 200


def test_drop_after_accept_lodges_but_never_answers(emulator: Any, token: str) -> None:
    emulator.admin("faults", {"drop_after_accept": 1})
    with pytest.raises(requests.exceptions.ConnectionError):
        post(emulator, token, body("G0DROP"))
    assert emulator.state.stats()["lrns"] == {"G0DROP": 1}
    assert post(emulator, token, body("G0NEXT")).status_code == 202


def test_5xx_burst_403_501_then_normal(emulator: Any, token: str) -> None:
    emulator.admin("faults", {"status_burst": {"status": 503, "count": 2}, "forbidden": 1})
    assert post(emulator, token, body("G0F1")).status_code == 403
    assert post(emulator, token, body("G0F1")).status_code == 503
    assert post(emulator, token, body("G0F1")).status_code == 503
    emulator.admin("faults", {"not_implemented": 1})
    r = post(emulator, token, body("G0F1"))
    assert r.status_code == 501
    assert post(emulator, token, body("G0F1")).status_code == 202
    assert emulator.state.stats()["lrns"] == {"G0F1": 1}


def test_slow_body_is_trickled(emulator: Any, token: str) -> None:
    post(emulator, token, body("G0SLOW"))
    emulator.admin("faults", {"slow": {"seconds": 1.0, "count": 1}})
    r = get(emulator, token, "/notifications/unpulled")
    assert r.status_code == 200 and ids(r.text)  # the trickled body arrives whole
    assert emulator.state.get("faults")["slow"]["count"] == 0  # and the fault fired on it


def test_requests_are_recorded_in_order_with_tokens_redacted(emulator: Any,
                                                             token: str) -> None:
    post(emulator, token, body("G0LOG"))
    got = emulator.state.requests()
    assert [r["path"].split("?")[0] for r in got] == ["/oauth/authorize", "/oauth/token",
                                                      SUBMIT]
    assert got[2]["headers"]["Authorization"] == "Bearer <redacted>"
    assert token not in json.dumps(got)
    assert "G0LOG" in got[2]["body"] and got[2]["status"] == 202
