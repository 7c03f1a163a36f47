"""The thin link (#15): each certificate chain once per batch, an elided ``prev``, zstd
with the shipped dictionary, negotiated through ``/v1/health`` — against the real
sandbox over HTTPS.  What the sandbox lodges must be exactly the sealed envelopes (their
hashes, receipts and answers the same as for the full form), a tampered reference is
refused with its own code and changes nothing, a zstd bomb stops at the body bound, and
a server that offers none of it gets gzip and full headers."""

from __future__ import annotations

import copy
import gzip
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import zstandard

from client.common.b64 import b64u_decode_lenient
from client.seal.envelope import envelope_hash
from sync.protocol import (
    MAX_BODY_BYTES,
    RESULTS_HEADER,
    SENDER_KNOWS_LEAF,
    SENDER_KNOWS_RESULT,
    fill_results,
    thin_batch,
    wire_envelope,
)
from sync.sandbox.server import SandboxHandle, start_in_thread
from sync.transport import SingleWindowClient
from sync.wire import DICTIONARY_ID, dictionary


@pytest.fixture
def sw(tmp_path: Path) -> Iterator[SandboxHandle]:
    handle = start_in_thread(tmp_path / "sw", seed=0, lane="green")
    yield handle
    handle.stop()


def _post(t: Any, body: bytes | dict[str, Any], *, key: str | None = None,
          coding: str | None = None) -> requests.Response:
    headers = t.headers(key) | {"Content-Type": "application/json"}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    if coding:
        headers["Content-Encoding"] = coding
    return requests.post(f"{t.sandbox.url}/v1/envelopes", data=data, headers=headers,
                         verify=str(t.sandbox.ca_pem_path), timeout=60)


def _problem(r: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == code
    return body


def _zstd(raw: bytes, **kw: Any) -> bytes:
    return zstandard.ZstdCompressor(level=3, dict_data=dictionary(DICTIONARY_ID),
                                    **kw).compress(raw)


def _link(env: dict[str, str]) -> dict[str, Any]:
    header = json.loads(b64u_decode_lenient(env["protected"]))
    return {"withdrawn": "paper_procedure", "device_id": header["dev"], "seq": header["seq"],
            "prev": header["prev"], "envelope_hash": envelope_hash(env)}


def test_a_thin_batch_lodges_exactly_the_sealed_envelopes(sw, Traders):
    t = Traders(sw)
    envs = [t.seal() for _ in range(6)]
    fat = {"envelopes": [wire_envelope(e) for e in envs]}
    thin = thin_batch(fat["envelopes"])
    assert len(thin["chains"]) == 1 and json.loads(thin["chains"][0]) == t.x5c
    items = thin["envelopes"]
    assert all("protected" not in i and '"x5c":0' in i["protected_json"] for i in items)
    assert all('"prev":"-"' in i["protected_json"] for i in items[1:])
    assert '"prev":"-"' not in items[0]["protected_json"]
    # the chain crosses once: the thin body is smaller by about five chains' text
    assert len(json.dumps(thin)) < len(json.dumps(fat)) - 5 * len(thin["chains"][0])

    r = _post(t, _zstd(json.dumps(thin).encode()), coding="zstd")
    assert r.status_code == 200, r.text
    first = r.json()["results"]
    assert [x["status"] for x in first] == ["accepted"] * 6
    assert [x["envelope_hash"] for x in first] == [envelope_hash(e) for e in envs]
    # The same envelopes in their full form are the same envelopes: duplicates, with the
    # receipts (log entries and positions) and MRNs the thin form got.
    again = _post(t, {"envelopes": envs}).json()["results"]
    assert [x["status"] for x in again] == ["duplicate"] * 6
    for a, b in zip(first, again, strict=True):
        assert (a["leaf"], a["log_index"], a["mrn"]) == (b["leaf"], b["log_index"], b["mrn"])
    assert sw.state.store.stats()["by_status"] == {"accepted": 6}


def test_one_idempotency_key_is_one_request_in_any_wire_form(sw, Traders):
    t = Traders(sw)
    envs = [t.seal() for _ in range(3)]
    key = uuid.uuid4().hex
    thin = thin_batch([wire_envelope(e) for e in envs])
    first = _post(t, gzip.compress(json.dumps(thin).encode()), key=key, coding="gzip")
    assert first.status_code == 200, first.text
    fat = _post(t, {"envelopes": envs}, key=key)  # a resend from a build without it
    assert fat.status_code == 200 and fat.json() == first.json()  # replayed, not redone
    other = _post(t, {"envelopes": [t.seal()]}, key=key)
    _problem(other, 422, "sandbox.idempotency_mismatch")


def _tamper_ref(body: dict[str, Any]) -> None:
    item = body["envelopes"][1]
    item["protected_json"] = item["protected_json"].replace('"x5c":0', '"x5c":7')


def _tamper_twice(body: dict[str, Any]) -> None:
    item = body["envelopes"][1]
    item["protected_json"] = item["protected_json"].replace('"x5c":0', '"x5c":0,"x5c":0')


def _tamper_first_prev(body: dict[str, Any]) -> None:
    item = body["envelopes"][0]
    header = json.loads(item["protected_json"])
    item["protected_json"] = item["protected_json"].replace(f'"prev":"{header["prev"]}"',
                                                            '"prev":"-"')


def _chain_object(body: dict[str, Any]) -> None:
    body["chains"][0] = '{"x5c":[]}'


def _chain_numbers(body: dict[str, Any]) -> None:
    body["chains"][0] = "[1,2]"


def _chain_not_json(body: dict[str, Any]) -> None:
    body["chains"][0] = body["chains"][0][:-1]


@pytest.mark.parametrize(("tamper", "code"), [
    (_tamper_ref, "sandbox.chain_ref_invalid"),
    (_tamper_twice, "sandbox.chain_ref_invalid"),
    (_tamper_first_prev, "sandbox.chain_ref_invalid"),
    (_chain_object, "sandbox.chain_invalid"),
    (_chain_numbers, "sandbox.chain_invalid"),
    (_chain_not_json, "sandbox.chain_invalid"),
])
def test_a_broken_reference_is_refused_whole_with_its_code(sw, Traders, tamper, code):
    t = Traders(sw)
    body = thin_batch([wire_envelope(t.seal()) for _ in range(3)])
    tamper(body)
    before = sw.state.store.stats()
    problem = _problem(_post(t, body), 422, code)
    assert problem["detail"].startswith(("/envelopes/", "/chains/"))
    assert sw.state.store.stats() == before


def test_a_chain_that_is_not_the_signed_one_fails_each_envelope(sw, Traders):
    t, other = Traders(sw), Traders(sw)
    envs = [t.seal() for _ in range(3)]
    body = thin_batch([wire_envelope(e) for e in envs])
    forged = copy.deepcopy(body)
    forged["chains"][0] = json.dumps(other.x5c, separators=(",", ":"))  # a valid chain
    res = _post(t, forged).json()["results"]
    assert [x["status"] for x in res] == ["rejected"] * 3
    # the leaf is not the key that signed (kid): the header does not verify
    assert [x["errors"][0]["code"] for x in res] == ["envelope.header_invalid"] * 3
    honest = _post(t, body).json()["results"]
    assert [x["status"] for x in honest] == ["accepted"] * 3
    assert [x["envelope_hash"] for x in honest] == [envelope_hash(e) for e in envs]


def test_a_mixed_batch_thin_full_and_withdrawn_lodges_in_order(sw, Traders):
    t = Traders(sw)
    first, second, third, paper = t.seal(), t.seal(), t.seal(), t.seal()
    last = t.seal()
    wire = [wire_envelope(first), wire_envelope(second), dict(third), _link(paper),
            wire_envelope(last)]
    body = thin_batch(wire)
    body["envelopes"][1] = wire_envelope(second)  # the full header, payload_json
    kinds = ["protected_json", "protected", "protected_json", "withdrawn", "protected_json"]
    assert [next(k for k in ("protected_json", "protected", "withdrawn") if k in i)
            for i in body["envelopes"]] == kinds
    assert "payload" in body["envelopes"][2]  # the old form: base64url payload
    assert '"prev":"-"' in body["envelopes"][2]["protected_json"]  # after a full header
    assert '"prev":"-"' in body["envelopes"][4]["protected_json"]  # after a withdrawn link
    res = _post(t, body).json()["results"]
    assert [x["status"] for x in res] == ["accepted"] * 3 + ["withdrawn", "accepted"]
    assert [x["envelope_hash"] for x in res] == [envelope_hash(e) for e in
                                                 (first, second, third, paper, last)]


def test_an_old_form_batch_is_still_accepted(sw, Traders):
    t = Traders(sw)
    envs = [t.seal() for _ in range(2)]
    res = _post(t, gzip.compress(json.dumps({"envelopes": envs}).encode()),
                coding="gzip").json()["results"]
    assert [x["status"] for x in res] == ["accepted"] * 2


def test_zstd_bodies_are_bounded_and_their_dictionary_named(sw, Traders):
    t = Traders(sw)
    bomb_raw = b"{" + b" " * (MAX_BODY_BYTES + (4 << 20)) + b"}"
    said = _zstd(bomb_raw)  # its frame header says how large it is
    assert len(said) < 100_000
    _problem(_post(t, said, coding="zstd"), 413, "sandbox.body_too_large")
    unsaid = zstandard.ZstdCompressor(level=3, write_content_size=False)
    chunks = unsaid.compressobj()
    silent = chunks.compress(bomb_raw) + chunks.flush()
    assert zstandard.get_frame_parameters(silent).content_size == zstandard.CONTENTSIZE_UNKNOWN
    _problem(_post(t, silent, coding="zstd"), 413, "sandbox.body_too_large")
    other = zstandard.ZstdCompressor(dict_data=zstandard.ZstdCompressionDict(
        b"\x37\xa4\x30\xec" + (12345).to_bytes(4, "little") + bytes(dictionary(DICTIONARY_ID)
                                                                    .as_bytes()[8:])))
    body = json.dumps({"envelopes": [t.seal()]}).encode()
    unknown = _problem(_post(t, other.compress(body), coding="zstd"), 415,
                       "sandbox.bad_encoding")
    assert "12345" in unknown["detail"]
    _problem(_post(t, _zstd(body)[:-9], coding="zstd"), 400, "sandbox.bad_encoding")
    assert sw.state.store.stats()["by_status"] == {}
    ok = _post(t, _zstd(body), coding="zstd")
    assert ok.status_code == 200 and ok.json()["results"][0]["status"] == "accepted"


def _client(handle: SandboxHandle, token: str) -> SingleWindowClient:
    return SingleWindowClient(handle.url, ca_pem_path=handle.ca_pem_path, token=token)


def test_the_client_sends_the_thin_form_where_it_is_offered(sw, Traders):
    t = Traders(sw)
    envs = [t.seal() for _ in range(5)]
    with _client(sw, t.token) as c:
        offer = c.health()
        assert offer.thin_headers and offer.zstd_dictionaries == [DICTIONARY_ID]
        assert offer.request_encodings[0] == "zstd"
        resp = c.submit(envs, uuid.uuid4().hex)
        assert c.last_coding == "zstd"
    assert [r.status for r in resp.results] == ["accepted"] * 5
    assert [r.envelope_hash for r in resp.results] == [envelope_hash(e) for e in envs]


def test_a_server_that_offers_none_of_it_gets_gzip_and_full_headers(sw, Traders):
    sw.state.settings.thin_link = False  # as a single window of a build before #15
    t = Traders(sw)
    envs = [t.seal() for _ in range(4)]
    body = json.dumps(thin_batch([wire_envelope(e) for e in envs[:1]])).encode()
    _problem(_post(t, _zstd(body), coding="zstd"), 415, "sandbox.bad_encoding")
    _problem(_post(t, body), 422, "sandbox.request_invalid")
    with _client(sw, t.token) as c:
        resp = c.submit(envs, uuid.uuid4().hex)  # asks /v1/health first, on its own
        assert c.offer is not None and not c.offer.thin_headers
        assert c.offer.request_encodings == ["gzip"] and c.last_coding == "gzip"
    assert [r.status for r in resp.results] == ["accepted"] * 4


class _NoHealth:
    """An HTTPS front for the sandbox (its own TLS certificate) that has no /v1/health,
    like a single window that never heard of the offer: everything else goes through,
    each request's Content-Encoding and body kept."""

    def __init__(self, handle: SandboxHandle) -> None:
        import http.server
        import ssl
        import threading

        self.seen: list[tuple[str, str, bytes]] = []
        front = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
                front.seen.append((self.path, self.headers.get("Content-Encoding", ""), body))
                if self.path.startswith("/v1/health"):
                    status, headers, data = 404, {"Content-Type": "text/plain"}, b"no"
                else:
                    keep = {k: v for k, v in self.headers.items()
                            if k.lower() not in ("host", "content-length", "connection")}
                    r = requests.request(self.command, f"{handle.url}{self.path}", data=body,
                                         headers=keep, verify=str(handle.ca_pem_path),
                                         timeout=30)
                    status, data = r.status_code, r.content
                    headers = {"Content-Type": r.headers.get("Content-Type", "")}
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _relay  # noqa: N815

            def log_message(self, *args: Any) -> None:
                return

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        home = handle.ca_pem_path.parent
        ctx.load_cert_chain(home / "tls.pem", home / "tls.key")
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_server_without_the_offer_gets_the_plain_form(sw, Traders):
    t = Traders(sw)
    envs = [t.seal() for _ in range(3)]
    front = _NoHealth(sw)
    try:
        with SingleWindowClient(front.url, ca_pem_path=sw.ca_pem_path, token=t.token) as c:
            resp = c.submit(envs, uuid.uuid4().hex)
    finally:
        front.close()
    assert [r.status for r in resp.results] == ["accepted"] * 3
    (path, coding, body), = [s for s in front.seen if s[0].startswith("/v1/envelopes")]
    sent = json.loads(gzip.decompress(body))
    assert coding == "gzip" and "chains" not in sent
    assert all("protected" in e and "protected_json" not in e for e in sent["envelopes"])


def _known(envs: list[dict[str, str]]) -> list[dict[str, Any]]:
    """What a sender holds of each envelope it sent (the outbox's columns)."""
    out = []
    for e in envs:
        header = json.loads(b64u_decode_lenient(e["protected"]))
        out.append({"declaration_id": header["did"], "version": header["ver"],
                    "envelope_hash": envelope_hash(e), "device_id": header["dev"],
                    "seq": header["seq"]})
    return out


def _thin_post(t: Any, envs: list[dict[str, str]], key: str) -> requests.Response:
    headers = t.headers(key) | {"Content-Type": "application/json", RESULTS_HEADER: "thin"}
    return requests.post(f"{t.sandbox.url}/v1/envelopes", json={"envelopes": envs},
                         headers=headers, verify=str(t.sandbox.ca_pem_path), timeout=60)


def test_thin_results_leave_out_what_the_sender_knows_and_fill_back_whole(sw, Traders):
    """The answer to a batch echoed every envelope's hash and identity twice (in the
    result and in its receipt's claims): two thirds of what came down a thin link.  A
    thin answer leaves them out; what the sender puts back is the full answer, byte for
    byte, fresh or replayed."""
    t = Traders(sw)
    with _client(sw, t.token) as c:
        assert c.health().thin_results
    for envs, thin_first in (([t.seal() for _ in range(5)], True),
                             ([t.seal() for _ in range(5)], False)):
        key = uuid.uuid4().hex
        if thin_first:
            thin = _thin_post(t, envs, key)
            full = _post(t, {"envelopes": envs}, key=key)  # the replay, in full
        else:
            full = _post(t, {"envelopes": envs}, key=key)
            thin = _thin_post(t, envs, key)  # the replay, thin
        assert thin.status_code == full.status_code == 200, thin.text + full.text
        doc = thin.json()
        for r in doc["results"]:
            assert not set(SENDER_KNOWS_RESULT) & set(r), r
            assert not set(SENDER_KNOWS_LEAF) & set(r["leaf"]), r["leaf"]
        assert len(thin.content) < 0.7 * len(full.content)
        fill_results(doc, _known(envs))
        assert doc == full.json()


def test_a_thin_answer_is_checked_as_strictly_as_a_full_one(sw, Traders):
    """The sender's own values go back only where the server said nothing, and the
    receipts they rebuild must still hash to the signed tree head: an envelope the
    single window logged other than the sender holds it is caught there."""
    from cryptography import x509

    from client.seal import translog as tl

    t = Traders(sw)
    envs = [t.seal() for _ in range(4)]
    key = uuid.uuid4().hex
    doc = _thin_post(t, envs, key).json()
    receipt_cert = x509.load_pem_x509_certificate(sw.state.pki.receipt_cert_pem.encode())

    def receipts(filled: dict[str, Any]) -> list[str]:
        log = filled["log"]
        head = tl.verify_tree_head(log["tree_head"], receipt_cert)
        leaves = [tl.BatchLeaf(r["leaf"], r["log_index"]) for r in filled["results"]]
        return tl.batch_receipts(head, log["first"], log["count"],
                                 tl.decode_hashes(log["range"]), leaves)

    good = copy.deepcopy(doc)
    fill_results(good, _known(envs))
    assert len(receipts(good)) == 4
    wrong = _known(envs)
    wrong[2]["envelope_hash"] = "0" * 64  # not what was logged at that position
    bad = copy.deepcopy(doc)
    fill_results(bad, wrong)
    with pytest.raises(tl.LogError):
        receipts(bad)
    said = copy.deepcopy(doc)  # what the server does say is kept, to be compared
    said["results"][1]["envelope_hash"] = "f" * 64
    fill_results(said, _known(envs))
    assert said["results"][1]["envelope_hash"] == "f" * 64


def test_bodies_compressed_on_many_threads_at_once_all_inflate() -> None:
    """Every sync engine of a process (the herd, a window and its CLI) compresses on its
    own thread: a zstd compressor shared between them failed ("Src size is incorrect")
    or mixed their frames."""
    import threading

    from sync.wire import (
        ZSTD_LEVEL_FAST_LINK,
        ZSTD_LEVEL_SLOW_LINK,
        encode_body,
        inflate,
    )

    bodies = [json.dumps({"envelopes": [{"n": t, "i": i, "pad": uuid.UUID(int=t * 10**6 + i).hex}
                                        for i in range(4000)]}).encode() for t in range(4)]
    failures: list[str] = []
    start = threading.Barrier(len(bodies))

    def compress(t: int) -> None:
        start.wait()
        for k in range(30):
            bps = 10e6 if k % 2 else None  # both levels, as links are measured
            try:
                data, coding = encode_body(bodies[t], ["gzip", "zstd"], [DICTIONARY_ID], bps)
                if coding != "zstd" or inflate(data, coding, 1 << 22) != bodies[t]:
                    failures.append(f"thread {t}: wrong body")
            except Exception as exc:  # noqa: BLE001 - reported below, whatever it is
                failures.append(f"thread {t}: {exc}")

    threads = [threading.Thread(target=compress, args=(t,)) for t in range(len(bodies))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert ZSTD_LEVEL_FAST_LINK != ZSTD_LEVEL_SLOW_LINK
    assert failures == []
