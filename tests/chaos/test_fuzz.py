"""Fuzzing (issue #7, item 4): the importers and the client's handling of what a
hostile single window answers.  Only ComptoirError subclasses may come out, never a
crash; and rejected input leaves the store exactly as it was.

Example counts are short for CI; ``COMPTOIR_FUZZ_EXAMPLES`` raises them.
"""

from __future__ import annotations

import copy
import gzip
import http.server
import io
import json
import os
import random
import ssl
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from client.common.i18n import ComptoirError
from client.store import settings_keys
from tests.chaos.common import Client, World

pytestmark = pytest.mark.slow

N = int(os.environ.get("COMPTOIR_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=N, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))
SMALL = settings(FUZZ, max_examples=max(10, N // 3))

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                      st.floats(allow_nan=False), st.text(max_size=40))
json_values = st.recursive(json_leaf, lambda kids: st.one_of(
    st.lists(kids, max_size=5), st.dictionaries(st.text(max_size=12), kids, max_size=6)),
    max_leaves=30)


def _sample_json() -> dict[str, Any]:
    from client.declaration.samples import sample_declaration

    return sample_declaration(random.Random(5), n_items=2).to_json_dict()


def _mutate(doc: Any, rng: random.Random, value: Any) -> Any:
    """Replace, delete or add one member somewhere in ``doc`` (a JSON tree)."""
    value = copy.deepcopy(value)
    if not isinstance(doc, dict | list) or not doc:
        return value
    if isinstance(doc, dict):
        key = rng.choice(sorted(doc))
        op = rng.randrange(4)
        if op == 0:
            doc.pop(key)
        elif op == 1:
            doc[key] = value
        elif op == 2:
            doc[f"x{rng.randrange(99)}"] = value
        else:
            doc[key] = _mutate(doc[key], rng, value)
    else:
        i = rng.randrange(len(doc))
        doc[i] = _mutate(doc[i], rng, value) if rng.random() < 0.5 else value
    return doc


# ----------------------------------------------------------------------------- JSON

@FUZZ
@given(data=st.binary(max_size=400))
def test_json_importer_random_bytes(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    from client.interchange.json_io import read_declarations

    path = tmp_path_factory.mktemp("j") / "in.json"
    path.write_bytes(data)
    try:
        read_declarations(path)
    except ComptoirError:
        pass


@FUZZ
@given(value=json_values, seed=st.integers(0, 2**32), depth=st.integers(1, 6))
def test_json_importer_mutated_declarations(tmp_path_factory: pytest.TempPathFactory,
                                            value: Any, seed: int, depth: int) -> None:
    from client.interchange.json_io import read_declarations

    rng = random.Random(seed)
    doc = _sample_json()
    for _ in range(depth):
        doc = _mutate(doc, rng, value)
    path = tmp_path_factory.mktemp("j") / "in.json"
    path.write_text(json.dumps(doc if rng.random() < 0.8 else [doc, value]), encoding="utf-8")
    try:
        read_declarations(path)
    except ComptoirError:
        pass


def _snapshot(home: Path) -> Any:
    """Everything an import or a sync could touch, as plain values."""
    from client.seal.profile import load_profile, open_store

    with open_store(load_profile(home)) as store:
        rows = [(s.id, s.status, s.version, s.mrn, s.lrn) for s in store.list()]
        outbox = [(i.seq, i.state) for i in store.outbox_pending(100_000)]
        journal = [(e.seq, e.envelope_hash) for e in store.journal()]
        notes = sum(len(store.notifications(r[0])) for r in rows)
        return (rows, outbox, journal, store.receipt_count(), store.counts_by_status(), notes,
                store.get_setting(settings_keys.FEED_CURSOR))


@pytest.fixture(scope="module")
def import_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from client.cli import main
    from tests.chaos.common import ensure_secrets

    ensure_secrets()
    home = tmp_path_factory.mktemp("import") / "profile"
    old = os.environ.get("COMPTOIR_HOME")
    os.environ["COMPTOIR_HOME"] = str(home)
    try:
        assert main(["init", "--declarant", "GB123456789000"]) == 0
        sample = home.parent / "one.json"
        sample.write_text(json.dumps(_sample_json()), encoding="utf-8")
        assert main(["import", str(sample)]) == 0
        yield home
    finally:
        if old is None:
            os.environ.pop("COMPTOIR_HOME", None)
        else:
            os.environ["COMPTOIR_HOME"] = old


@SMALL
@given(value=json_values, seed=st.integers(0, 2**32), kind=st.sampled_from(["json", "xml"]))
def test_comptoir_import_rejects_without_touching_the_store(import_home: Path, value: Any,
                                                            seed: int, kind: str) -> None:
    """``comptoir import`` (in process, the real CLI path): junk in, exit 1/2, same store."""
    from client.cli import main

    rng = random.Random(seed)
    path = import_home.parent / f"fuzz.{kind}"
    if kind == "json":
        doc = _mutate(_sample_json(), rng, value)
        path.write_text(json.dumps([doc, value] if rng.random() < 0.5 else doc),
                        encoding="utf-8")
    else:
        raw = _dms_samples()[rng.randrange(len(_dms_samples()))] if _dms_samples() \
            else b"<Declaration/>"
        path.write_bytes(_flip(raw, rng, 1 + rng.randrange(4)))
    before = _snapshot(import_home)
    os.environ["COMPTOIR_HOME"] = str(import_home)
    code = main(["import", str(path)])
    assert code != 70, "internal error (a crash caught by the CLI's last net)"
    if code != 0:
        assert _snapshot(import_home) == before


# ----------------------------------------------------------------------------- XML

_DMS: list[bytes] | None = None


def _dms_samples() -> list[bytes]:
    global _DMS
    if _DMS is None:
        from tests.conftest import conformance_dir

        d = conformance_dir()
        folder = d / "hmrc-dms" / "samples" if d else None
        _DMS = [p.read_bytes() for p in sorted(folder.glob("*.xml"))[:12]] if folder and \
            folder.is_dir() else []
    return _DMS


def _flip(raw: bytes, rng: random.Random, n: int) -> bytes:
    """Byte-level damage: flips, truncation, duplicated slices, inserted markup."""
    b = bytearray(raw)
    for _ in range(n):
        op = rng.randrange(5)
        i = rng.randrange(max(1, len(b)))
        if op == 0 and b:
            b[i] = rng.randrange(256)
        elif op == 1:
            del b[i:]
        elif op == 2:
            j = min(len(b), i + rng.randrange(1, 200))
            b[i:i] = b[i:j]
        elif op == 3:
            b[i:i] = rng.choice([b"<", b"&", b"]]>", b"<!DOCTYPE x [<!ENTITY a 'b'>]>",
                                 b"&amp;&#0;", "é".encode(), b"\x00", b"</a>"])
        else:
            j = min(len(b), i + rng.randrange(1, 400))
            del b[i:j]
    return bytes(b)


@FUZZ
@given(data=st.binary(max_size=300))
def test_dms_importer_random_bytes(data: bytes) -> None:
    from client.interchange.dms import import_dms_bytes

    try:
        import_dms_bytes(data, "fuzz.xml")
    except ComptoirError:
        pass


@FUZZ
@given(seed=st.integers(0, 2**32), n=st.integers(1, 6))
def test_dms_importer_damaged_samples(seed: int, n: int) -> None:
    from client.interchange.dms import import_dms_bytes

    samples = _dms_samples()
    if not samples:
        pytest.skip("conformance material absent: no DMS samples to damage")
    rng = random.Random(seed)
    try:
        import_dms_bytes(_flip(samples[rng.randrange(len(samples))], rng, n), "fuzz.xml")
    except ComptoirError:
        pass


@FUZZ
@given(seed=st.integers(0, 2**32), text=st.text(max_size=30))
def test_dms_importer_edited_elements(seed: int, text: str) -> None:
    """Well-formed but wrong: element text replaced, elements removed or repeated."""
    from lxml import etree

    from client.interchange.dms import import_dms_bytes

    samples = _dms_samples()
    if not samples:
        pytest.skip("conformance material absent: no DMS samples to edit")
    rng = random.Random(seed)
    parser = etree.XMLParser(recover=True, remove_comments=True, resolve_entities=False)
    root = etree.fromstring(samples[rng.randrange(len(samples))], parser)
    els = [e for e in root.iter() if isinstance(e.tag, str)]
    for _ in range(rng.randint(1, 4)):
        e = rng.choice(els)
        op = rng.randrange(3)
        if op == 0:
            e.text = "".join(c for c in text if c.isprintable())
        elif op == 1 and e.getparent() is not None:
            e.getparent().remove(e)
            els = [x for x in root.iter() if isinstance(x.tag, str)]
        elif e.getparent() is not None:
            e.getparent().append(copy.deepcopy(e))
    try:
        import_dms_bytes(etree.tostring(root), "fuzz.xml")
    except ComptoirError:
        pass


# ----------------------------------------------------------------------------- CSV / XLSX

def _invoice(path: Path) -> None:
    from client.interchange.invoice_lines import preview, read_invoice_table, suggest_mapping

    try:
        table = read_invoice_table(path)
        preview(table, suggest_mapping(table.columns))
    except ComptoirError:
        pass


def test_invoice_packages_bound(tmp_path: Path) -> None:
    from client.interchange.invoice_lines import preview, read_invoice_table, suggest_mapping

    path = tmp_path / "lines.csv"
    path.write_text("Description;Number of packages\nbolts;100000000\n", encoding="utf-8")
    table = read_invoice_table(path)
    result = preview(table, suggest_mapping(table.columns))
    assert not result.items and result.row_errors  # one row error, no crash


def test_invoice_csv_bare_carriage_return(tmp_path: Path) -> None:
    from client.interchange.invoice_lines import read_invoice_table

    path = tmp_path / "lines.csv"
    path.write_bytes(b"Description;Value\nbo\rlts;12\n")
    try:
        read_invoice_table(path)
    except ComptoirError:
        pass


cells = st.one_of(st.text(max_size=15), st.integers(-10**20, 10**20).map(str),
                  st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
                  st.sampled_from(["1,5", "1.234,56", "-0", "1e308", "NaN", "∞", "٣", " "]))
HEADERS = ["Description", "HS code", "Code SH", "Quantité", "Quantity", "Net mass",
           "Masse nette", "Value", "Valeur", "Origin", "Origine", "Price", ""]


@FUZZ
@given(header=st.lists(st.sampled_from(HEADERS) | st.text(max_size=10), min_size=0,
                       max_size=7),
       rows=st.lists(st.lists(cells, max_size=8), max_size=8),
       sep=st.sampled_from([";", ",", "\t"]), enc=st.sampled_from(["utf-8", "utf-8-sig",
                                                                 "latin-1", "utf-16"]))
def test_invoice_csv(tmp_path_factory: pytest.TempPathFactory, header: list[str],
                     rows: list[list[str]], sep: str, enc: str) -> None:
    lines = [sep.join(header)] + [sep.join(r) for r in rows]
    path = tmp_path_factory.mktemp("csv") / "lines.csv"
    path.write_bytes("\n".join(lines).encode(enc, errors="replace"))
    _invoice(path)


@FUZZ
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".csv", ".xlsx"]))
def test_invoice_random_bytes(tmp_path_factory: pytest.TempPathFactory, data: bytes,
                              suffix: str) -> None:
    path = tmp_path_factory.mktemp("inv") / f"lines{suffix}"
    path.write_bytes(data)
    _invoice(path)


@SMALL
@given(header=st.lists(st.sampled_from(HEADERS), max_size=6),
       rows=st.lists(st.lists(st.one_of(cells, st.integers(-10**12, 10**12),
                                        st.floats(allow_nan=True), st.none(), st.booleans()),
                              max_size=6), max_size=6),
       damage=st.integers(0, 3), seed=st.integers(0, 2**32))
def test_invoice_xlsx(tmp_path_factory: pytest.TempPathFactory, header: list[str],
                      rows: list[list[Any]], damage: int, seed: int) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    buf = io.BytesIO()
    try:
        for r in [header, *rows]:
            ws.append(r)
        wb.save(buf)
    except Exception:  # noqa: BLE001 - openpyxl refuses some cell values: not our input
        assume(False)
    raw = _flip(buf.getvalue(), random.Random(seed), damage) if damage else buf.getvalue()
    path = tmp_path_factory.mktemp("xlsx") / "lines.xlsx"
    path.write_bytes(raw)
    _invoice(path)


# ----------------------------------------------------------------------------- hostile server

class Hostile:
    """An HTTPS server on loopback with the sandbox's own TLS certificate (so the
    client's verification passes) answering whatever the test queues."""

    def __init__(self, sandbox_home: Path) -> None:
        # path fragment -> (status, headers, body); anything else: 503
        self.answers: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.requests = 0
        hostile = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _reply(self) -> None:
                n = int(self.headers.get("Content-Length", "0") or 0)
                if n:
                    self.rfile.read(n)
                hostile.requests += 1
                status, headers, body = next(
                    (a for k, a in hostile.answers.items() if k in self.path), (503, {}, b""))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _reply  # noqa: N815

            def log_message(self, *args: Any) -> None:
                return

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sandbox_home / "tls.pem", sandbox_home / "tls.key")
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def hostile(world: World) -> Iterator[Hostile]:
    h = Hostile(world.sandbox.home)
    yield h
    h.close()


def _point_at(c: Client, hostile: Hostile) -> None:
    """This process's view of the profile now leads to the hostile server (not saved)."""
    c.profile.server = dict(c.profile.server, url=f"https://127.0.0.1:{hostile.port}")


@pytest.fixture(scope="module")
def hostile_setup(world: World, hostile: Hostile) -> Iterator[tuple[World, Client, Hostile, str]]:
    """A device with queued envelopes talking to the hostile server, and a genuine
    receipt of another device (a replay candidate)."""
    other = world.new_client(seed=1)
    other.seal(other.create(1)[0])
    eng = other.engine()
    assert eng.sync_once().error is None
    eng.close()
    genuine = other.store.receipts(other.created[0])[0]["token"]
    other.close()
    c = world.new_client(seed=2)
    for decl_id in c.create(2):
        c.seal(decl_id)
    _point_at(c, hostile)
    yield world, c, hostile, genuine
    c.close()


@pytest.fixture(scope="module")
def feed_setup(world: World, hostile: Hostile) -> Iterator[tuple[World, Client, Hostile, str]]:
    """A device whose outbox is empty (delivered for real), then the hostile server."""
    c = world.new_client(seed=3)
    for decl_id in c.create(2):
        c.seal(decl_id)
    eng = c.engine()
    report = eng.sync_once()
    eng.close()
    assert report.error is None and report.remaining == 0
    _point_at(c, hostile)
    yield world, c, hostile, ""
    c.close()


def _foreign_receipt(claims: dict[str, Any]) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec

    from client.seal.envelope import sign_receipt
    from client.seal.jws import jwk_from_private_key

    return sign_receipt(claims, jwk_from_private_key(ec.generate_private_key(ec.SECP256R1())))


DEFECTS = ["status", "not_json", "json", "count", "hash", "index", "no_receipt",
           "junk_receipt", "foreign_receipt", "replayed_receipt", "bad_gzip", "bad_status",
           "bad_mrn"]


@FUZZ
@given(defect=st.sampled_from(DEFECTS), status=st.integers(100, 599), junk=json_values,
       text=st.text(max_size=60), retry_after=st.one_of(st.none(), st.text(max_size=20)))
def test_hostile_batch_answers_change_nothing(hostile_setup: tuple[World, Client, Hostile, str],
                                              defect: str, status: int, junk: Any, text: str,
                                              retry_after: str | None) -> None:
    world, c, hostile, genuine = hostile_setup
    items = c.store.outbox_pending()
    assert len(items) == 2
    results: list[dict[str, Any]] = []
    for i, it in enumerate(items):
        claims = {"declaration_id": it.declaration_id, "version": it.version,
                  "envelope_hash": it.envelope_hash, "device_id": c.profile.device_id,
                  "seq": it.seq, "mrn": "26GB0000000000001A", "received_at": "2026-01-01T00:00:00Z"}
        results.append({"index": i, "status": "accepted", "declaration_id": it.declaration_id,
                        "version": it.version, "envelope_hash": it.envelope_hash,
                        "mrn": None, "receipt": _foreign_receipt(claims), "errors": []})
    headers = {"Content-Type": "application/json"}
    if retry_after is not None:
        headers["Retry-After"] = "".join(ch for ch in retry_after if 32 < ord(ch) < 127)
    code = 200
    body: Any = {"results": results}
    r0 = results[0]
    if defect == "status":
        code = 200 if status == 200 else status
        if code == 200:
            code = 201
        body = junk
    elif defect == "not_json":
        body = text.encode("utf-8") + b"\xff{"
    elif defect == "json":
        body = junk
    elif defect == "count":
        body = {"results": results[:1]}
    elif defect == "hash":
        r0["envelope_hash"] = "0" * 64
    elif defect == "index":
        r0["index"] = 1
    elif defect == "no_receipt":
        r0["receipt"] = None
    elif defect == "junk_receipt":
        r0["receipt"] = text or "x.y.z"
    elif defect == "foreign_receipt":
        pass  # the default: claims right, signature by a key that is not the server's
    elif defect == "replayed_receipt":
        r0["receipt"] = genuine  # a real receipt, for another device's envelope
    elif defect == "bad_gzip":
        headers["Content-Encoding"] = "gzip"
        body = gzip.compress(json.dumps(body).encode())[:-9] + b"\x00" * 9
    elif defect == "bad_status":
        r0["status"] = text or "registered"
        if r0["status"] in ("accepted", "duplicate", "rejected", "held"):
            r0["status"] = "registered"
    elif defect == "bad_mrn":
        r0["mrn"] = text or "MRN"
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    if defect == "bad_gzip":
        try:
            zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw)
        except zlib.error:
            pass
    if 100 <= code < 200 or code in (204, 304):
        code = 502  # http.server cannot send a body with these; still a wrong answer
    hostile.answers = {"/envelopes": (code, headers, raw)}
    before = _snapshot(c.home)
    asked = hostile.requests
    eng = c.engine(timeout=(2, 5))
    try:
        report = eng.sync_once()  # never raises for what the server says
    finally:
        eng.close()
    assert hostile.requests > asked  # the answer really came from the hostile server
    assert report.error is not None, (defect, code, raw[:200])
    assert report.remaining == 2
    assert _snapshot(c.home) == before


FEED_DEFECTS = ["json", "cursor_back", "next_behind", "bad_status", "missing", "bad_type",
                "zero_cursor", "not_json"]


@FUZZ
@given(defect=st.sampled_from(FEED_DEFECTS), junk=json_values, text=st.text(max_size=40),
       n=st.integers(1, 4))
def test_hostile_feed_pages_change_nothing(feed_setup: tuple[World, Client, Hostile, str],
                                           defect: str, junk: Any, text: str, n: int) -> None:
    """A feed page that breaks the protocol is refused whole: no status, no cursor moves."""
    world, c, hostile, _ = feed_setup
    ids = [e.declaration_id for e in c.store.journal()]
    after = c.store.get_setting(settings_keys.FEED_CURSOR)
    notes = [{"cursor": after + 1 + i, "declaration_id": ids[i % len(ids)], "version": 1,
              "status": "accepted", "mrn": None, "at": "2026-01-01T00:00:00Z"}
             for i in range(n)]
    page: Any = {"notifications": notes, "next": after + n}
    if defect == "json":
        page = junk
    elif defect == "cursor_back":
        notes[-1]["cursor"] = after  # a cursor not after the one asked for
    elif defect == "next_behind":
        page["next"] = after
    elif defect == "bad_status":
        notes[0]["status"] = text if text not in ("received", "accepted", "released",
                                                  "rejected", "under_control",
                                                  "documents_requested") else "x"
    elif defect == "missing":
        notes[0].pop(sorted(notes[0])[len(text) % len(notes[0])])
        if "mrn" not in notes[0]:
            notes[0].pop("at")  # mrn is optional: remove a required one as well
    elif defect == "bad_type":
        notes[0]["version"] = text or [1]
    elif defect == "zero_cursor":
        notes[0]["cursor"] = 0
    raw = (text.encode() + b"\x00{") if defect == "not_json" else json.dumps(page).encode()
    hostile.answers = {"/notifications": (200, {"Content-Type": "application/json"}, raw)}
    before = _snapshot(c.home)
    asked = hostile.requests
    eng = c.engine(timeout=(2, 5))
    try:
        report = eng.sync_once()  # the outbox is empty: straight to the feed
    finally:
        eng.close()
    assert hostile.requests > asked
    assert report.error is not None, (defect, raw[:300])
    assert _snapshot(c.home) == before
