"""PDF print: SAD layout and fallback document, checked with pypdf and rendered to PNG."""

from __future__ import annotations

import io
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader

from client.declaration.model import Declaration, GoodsItem, Party
from client.interchange.printing import QR_MAX_BYTES, render_fallback_pdf, render_pdf

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


def _decl(items: int) -> Declaration:
    return Declaration(
        lrn="LRN-PRINT-0001",
        type="IM",
        additional_type="A",
        invoice_currency="EUR",
        invoice_total=Decimal("12345.67"),
        country_of_dispatch="CN",
        country_of_destination="FR",
        declarant=Party(id="FR12345678901234", name="Transit Déclarant SARL"),
        exporter=Party(name="Shenzhen Export Co."),
        goods_location="FRAUCDGCDG",
        goods_items=[
            GoodsItem(
                sequence=n,
                description=f"Article numéro {n} en céramique émaillée",
                commodity_code=f"691200{n % 100:02d}00",
                country_of_origin="CN",
                procedure_code="4000",
                gross_mass=Decimal("12.5"),
                net_mass=Decimal("10"),
                item_price=Decimal("99.90"),
                packages=[{"kind": "CT", "number": 2}],
            )
            for n in range(1, items + 1)
        ],
    )


def _text(pdf: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(pdf))
    return len(reader.pages), "\n".join(p.extract_text() for p in reader.pages)


def _png(pdf: bytes, name: str) -> None:
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) absent: PNG artifact not rendered")
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.pdf"
    path.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "70", "-png", "-f", "1", "-l", "1", str(path), str(ARTIFACTS / name)],
        check=True,
        timeout=60,
    )
    pngs = list(ARTIFACTS.glob(f"{name}*.png"))
    assert pngs and pngs[0].stat().st_size > 5000


def test_sad_single_page_with_mrn() -> None:
    pdf = render_pdf(
        _decl(3), status="accepted", mrn="24FR000000000000A1", envelope_hash=None, lang="en"
    )
    pages, text = _text(pdf)
    assert pages == 1
    for needle in (
        "LRN-PRINT-0001",
        "24FR000000000000A1",
        "6912000100",
        "6912000300",
        "Single Administrative Document",
        "Page 1 of 1",
        "QR code: MRN",
        "Shenzhen Export Co.",
        "FRAUCDGCDG",
        "EUR 12345.67",
    ):
        assert needle in text, needle
    _png(pdf, "sad_en")


def test_sad_many_items_is_multi_page_in_french() -> None:
    pdf = render_pdf(_decl(80), status=None, mrn=None, envelope_hash="e3b0c442" * 8, lang="fr")
    pages, text = _text(pdf)
    assert pages >= 3
    assert f"Page {pages} sur {pages}" in text
    assert "6912008000" in text and "6912000100" in text  # first and last item printed
    assert "Code QR : empreinte de l'enveloppe" in text
    assert "Document administratif unique" in text
    _png(pdf, "sad_fr_multipage")


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_fallback_document(lang: str) -> None:
    payload = "eyJhbGciOiJFUzI1NiJ9." + "A" * 2000
    pdf = render_fallback_pdf(
        _decl(2),
        envelope_hash="9f86d081" * 8,
        signature_fingerprint="SHA256:" + "ab" * 32,
        sealed_at="2026-11-26T15:00:00Z",
        lang=lang,
        qr_payload=payload,
    )
    pages, text = _text(pdf)
    assert pages == 1
    assert "FALLBACK" in text and "LRN-PRINT-0001" in text
    assert "2026-11-26T15:00:00Z" in text
    assert ("7 days" if lang == "en" else "7 jours") in text
    assert "too large" not in text and "trop grande" not in text
    _png(pdf, f"fallback_{lang}")


def test_fallback_payload_too_long_falls_back_to_hash() -> None:
    pdf = render_fallback_pdf(
        _decl(1),
        envelope_hash="9f86d081" * 8,
        signature_fingerprint="fp",
        sealed_at="2026-11-26T15:00:00Z",
        lang="en",
        qr_payload="x" * (QR_MAX_BYTES + 1),
    )
    _pages, text = _text(pdf)
    assert "too large for a QR code" in text


def test_empty_draft_and_maximal_declaration_render() -> None:
    pages, text = _text(
        render_pdf(Declaration(), status=None, mrn=None, envelope_hash=None, lang="fr")
    )
    assert pages == 1 and "Page 1 sur 1" in text
    big = Declaration(
        goods_items=[GoodsItem(sequence=n, description="x" * 512) for n in range(1, 1000)]
    )
    reader = PdfReader(
        io.BytesIO(render_pdf(big, status=None, mrn=None, envelope_hash="h", lang="en"))
    )
    pages = len(reader.pages)
    assert pages > 20 and f"Page {pages} of {pages}" in reader.pages[-1].extract_text()
