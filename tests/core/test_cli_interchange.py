"""Issue #6 through the command line: DMS XML in and out, PDFs, the fallback document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sync.helpers import comptoir as run
from tests.sync.helpers import ok


def _samples(conformance: Path) -> list[Path]:
    return sorted((conformance / "hmrc-dms" / "samples").glob("*.xml"))


def test_import_every_sample_json_report(home: Path, conformance: Path, tmp_path: Path) -> None:
    files = _samples(conformance)
    malformed = [f for f in files if "TT_EX002a__" in f.name]
    assert len(malformed) == 1
    p = run(home, "import", str(malformed[0]))
    assert p.returncode == 2 and "line" in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1

    good = [f for f in files if f not in malformed]
    p = run(home, "import", *map(str, good), "--json")
    assert "Traceback" not in p.stderr
    report = json.loads(p.stdout)
    assert len(report) == len(good)
    for entry in report:
        assert {"id", "kind", "lrn", "unmapped"} <= entry.keys()
    kinds = [e["kind"] for e in report]
    assert kinds.count("notification") == 4
    assert p.returncode == 1  # the notifications were classified, not stored
    stored = [e for e in report if e["id"] and e["kind"] in ("declaration", "wrapped")]
    assert len(stored) == 33  # 32 originals and the unwrapped one
    rows = json.loads(ok(run(home, "list", "--json")).stdout)
    assert len(rows) == len(stored)
    # amendments and cancellations (#18): applied onto their original, or pending until it
    # comes (an amendment sorted before its original is applied when the original arrives)
    changes = [e for e in report if e["kind"] in ("amendment", "cancellation")]
    assert len(changes) == 10
    applied = [e for e in changes if e["applied"] == "applied"]
    assert {e["id"] for e in applied} <= {e["id"] for e in stored} and len(applied) == 3
    late = [e for e in stored if e.get("amendments_applied")]
    assert len(late) == 1 and "TT_EX009a" in late[0]["file"]

    # export one imported original as DMS XML: it validates against the WCO schema
    from client.interchange.dms import validate_dms

    original = next(e for e in report if e["kind"] == "declaration")
    out = tmp_path / "out.xml"
    ok(run(home, "export", original["id"], "--format", "dms-xml", "-o", str(out)))
    assert validate_dms(out.read_bytes(), conformance / "hmrc-dms" / "schemas" / "declaration") == []


def test_pdf_and_fallback_pdf_from_the_cli(home: Path, tmp_path: Path) -> None:
    pypdf = pytest.importorskip("pypdf")
    ok(run(home, "init"))
    ok(run(home, "demo", "seed", "--count", "1"))
    decl_id = json.loads(ok(run(home, "list", "--json")).stdout)[0]["id"]
    pdf = tmp_path / "sad.pdf"
    ok(run(home, "export", decl_id, "--format", "pdf", "-o", str(pdf)))
    assert pdf.read_bytes().startswith(b"%PDF")
    p = run(home, "export", decl_id, "--format", "fallback-pdf", "-o", str(tmp_path / "f.pdf"))
    assert p.returncode == 2 and "not been sealed" in p.stderr
    ok(run(home, "seal", decl_id))
    ok(run(home, "export", decl_id, "--format", "fallback-pdf", "-o", str(tmp_path / "f.pdf")))
    text = "".join(page.extract_text() for page in pypdf.PdfReader(tmp_path / "f.pdf").pages)
    lrn = json.loads(ok(run(home, "list", "--json")).stdout)[0]["lrn"]
    assert "FALLBACK" in text.upper() and lrn in text
    hist = ok(run(home, "history", decl_id)).stdout
    assert "fallback document printed" in hist
