"""The CDS connector's parts on their own: limiter, backoff, breaker, identifiers against
the OpenAPI document, WCO pointers, the published DMS responses, failure kinds."""

from __future__ import annotations

import random
import socket
from pathlib import Path

import pytest

from sync.cds.config import BADGE, SUBMITTER, CdsConfig, CdsConfigError, check_identifiers
from sync.cds.limits import CircuitBreaker, RateLimiter, backoff
from sync.cds.notifications import read_notification
from sync.cds.pointers import explain_pointer
from sync.cds.wco import wco_index
from sync.cds_emulator import dms
from sync.transport import TransportError

from .conformance_check import identifier_rules
from .conftest import schema_dir


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.t += s


def test_limiter_spaces_requests_at_the_rate_and_is_free_when_off() -> None:
    clock = FakeClock()
    lim = RateLimiter(3.0, clock=clock, sleep=clock.sleep)
    for _ in range(10):
        lim.acquire()
    assert clock.t - 1000.0 == pytest.approx(9 / 3)  # 10 requests: 9 gaps of 1/3 s
    assert all(s == pytest.approx(1 / 3) for s in clock.slept)
    off = RateLimiter(None, clock=clock, sleep=clock.sleep)
    before = len(clock.slept)
    for _ in range(100):
        off.acquire()
    assert len(clock.slept) == before


def test_backoff_is_full_jitter_capped_and_honours_retry_after() -> None:
    rng = random.Random(1)
    for n in range(1, 12):
        values = [backoff(n, rng=rng, base=0.5, cap=30) for _ in range(200)]
        assert all(0 <= v <= min(30, 0.5 * 2 ** n) for v in values)
        assert max(values) > 0.5 * min(30, 0.5 * 2 ** n)  # spread over the range
    assert all(backoff(1, 7.0, rng=rng) >= 7.0 for _ in range(50))
    assert backoff(1, 9999.0, cap=60, rng=rng) == 60


def test_breaker_opens_waits_tries_once_and_closes() -> None:
    clock = FakeClock()
    b = CircuitBreaker(threshold=3, cooldown=5, clock=clock)
    for _ in range(2):
        b.failure()
    b.check()
    b.failure()
    assert b.state == "open"
    with pytest.raises(TransportError) as exc:
        b.check()
    assert exc.value.retry_after == pytest.approx(5)
    clock.t += 5
    assert b.state == "half-open"
    b.check()
    b.failure()  # the trial failed: longer
    assert b.state == "open" and b.cooldown == 10
    clock.t += 10
    b.check()
    b.success()
    assert b.state == "closed" and b.cooldown == 5


def test_identifier_rules_are_the_openapi_documents(conformance: Path) -> None:
    rules = identifier_rules(conformance)
    cases = ["ABC123", "ABC12", "ABCDEF123456", "ABCDEF1234567", "abc123", "GB123456789000",
             "GB12345678900012", "GB123456789000123", "GB1234567890001234", "gb1234", "A-1234"]
    for value in cases:
        assert bool(BADGE.fullmatch(value)) == bool(rules["X-Badge-Identifier"].fullmatch(value))
        assert bool(SUBMITTER.fullmatch(value)) == \
            bool(rules["X-Submitter-Identifier"].fullmatch(value))
    with pytest.raises(CdsConfigError):
        check_identifiers(None, None)
    with pytest.raises(CdsConfigError):
        check_identifiers("abc", None)
    check_identifiers(None, "GB123456789000")


def test_every_emulator_rejection_pointer_resolves_to_a_model_field() -> None:
    index = wco_index(str(schema_dir()))
    for code, path in dms.REJECTION_PATHS.items():
        sections, tag = index.pointer_for(path)
        assert index.resolve(sections, tag) == path, code
        text = ".".join(s + (f"[{n}]" if n else "") for s, n in sections) + \
            (f"/{tag}" if tag else "")
        field = explain_pointer(text, index)
        assert field is not None and field.model_path and field.de, (code, text)


def test_published_pointer_examples(conformance: Path) -> None:
    index = wco_index(str(schema_dir()))
    f = explain_pointer("42A/D013", index)  # the Pull Notifications API's example
    assert f is not None and (f.model_path, f.de) == ("type", "1/1")
    f = explain_pointer("42A.17C/R144", index)  # DMSREJ sample: authorisation holder
    assert f is not None and f.xml_path == "Declaration/AuthorisationHolder/ID"
    assert f.model_path is None  # the model has no such field: shown as the DMS path
    assert explain_pointer("99Z/X", index) is None


def test_published_dms_responses_read_into_notes(conformance: Path) -> None:
    folder = conformance / "hmrc-dms" / "notifications"
    index = wco_index(str(schema_dir()))
    seen = {}
    for f in sorted(folder.glob("*.xml")):
        notes = read_notification(f.stem, f.read_bytes(), conversation_id=None, index=index)
        assert notes and all(n["status"] != "unreadable" for n in notes), f.name
        seen[f.name[:2]] = notes[0]
    assert seen["01"]["status"] == "accepted" and seen["01"]["target"] == "registered"
    assert seen["03"]["target"] == "rejected"
    assert seen["03"]["detail"]["errors"][0]["code"] == "CDS12005"
    assert seen["09"]["target"] == "released" and seen["10"]["target"] == "invalidated"
    assert seen["13"]["status"] == "tax_assessed"
    from client.declaration.mrn import is_valid_mrn

    assert seen["01"]["mrn"] == "19GBCKKCQSXV2FGVA8" and is_valid_mrn(seen["01"]["mrn"])
    # an MRN is kept only with a right check digit
    raw = (folder / "01_DMSACC.xml").read_bytes()
    wrong = raw.replace(b"19GBCKKCQSXV2FGVA8", b"19GBCKKCQSXV2FGVA7")
    (note,) = read_notification("x", wrong, conversation_id=None, index=index)
    assert note["mrn"] is None and note["target"] == "registered"
    problem = note["detail"]["mrn_refused"]
    assert problem["mrn"] == "19GBCKKCQSXV2FGVA7"
    assert problem["problem"]["code"] == "validation.V-MRN-CHECK-DIGIT"


def test_a_refused_connection_is_not_sent_never_lost() -> None:
    from sync.cds.http import AnswerLost, CdsHttp, NotSent

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there

    class Tokens:
        def access_token(self) -> str:
            return "t"

    http = CdsHttp(CdsConfig("custom", f"https://127.0.0.1:{port}", "c", submitter="GB1"),
                   Tokens())
    with pytest.raises(NotSent):
        http.request("POST", "/customs/declarations/", body=b"<x/>")
    assert not issubclass(NotSent, AnswerLost)


def test_an_answer_cut_after_the_request_is_lost_not_unsent() -> None:
    import threading

    from sync.cds.http import AnswerLost, CdsHttp
    from sync.sandbox.ca import SandboxPKI

    tmp = Path(__import__("tempfile").mkdtemp())
    pki = SandboxPKI(tmp).ensure()
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(pki.tls_cert_path), str(pki.tls_key_path))
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def serve() -> None:
        conn, _ = srv.accept()
        tls = ctx.wrap_socket(conn, server_side=True)
        tls.recv(65536)  # the request arrives …
        tls.shutdown(socket.SHUT_RDWR)  # … and no answer ever does
        tls.close()

    threading.Thread(target=serve, daemon=True).start()

    class Tokens:
        def access_token(self) -> str:
            return "t"

    cfg = CdsConfig("custom", f"https://127.0.0.1:{srv.getsockname()[1]}", "c",
                    ca_pem_path=pki.ca_pem_path, submitter="GB1")
    with pytest.raises(AnswerLost):
        CdsHttp(cfg, Tokens()).request("POST", "/customs/declarations/", body=b"<x/>")
    srv.close()


def test_every_stub_rejection_is_explained_in_english_as_hmrc_and_in_french(
        conformance: Path) -> None:
    import json

    from client.declaration.refdata import default_reference_data

    official = {e["code"]: e["en"] for e in json.loads(
        (conformance / "codelists" / "hmrc" / "dmsErrorCodes.json").read_text())}
    ref = default_reference_data()
    for code in (*dms.SUPPORTED_REJECTIONS, "CDS12003"):
        en, fr = ref.explain_error(code, "en"), ref.explain_error(code, "fr")
        assert en == official[code], code
        assert fr and fr != en, code


def test_the_published_400_error_response_is_read_with_its_errors(conformance: Path) -> None:
    import yaml

    from sync.cds.connector import error_response

    spec = yaml.safe_load((conformance / "hmrc-api" / "customs-declarations" /
                           "application.yaml").read_text())
    example = spec["components"]["examples"]["BadRequestExample"]["value"].strip()
    errors = error_response(example.encode())
    assert errors[0] == {"code": "BAD_REQUEST", "pointer": "",
                         "detail": "Payload is not valid according to schema"}
    assert errors[1]["code"] == "xml_validation_error"
    assert "no declaration found for element 'unknown'" in errors[1]["detail"]
    assert error_response(b"not xml")[0]["code"] == "BAD_REQUEST"
