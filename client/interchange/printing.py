"""Printable declaration (SAD layout) and the fallback document for outages.

Paper is still part of customs: the trader prints the declaration for the goods' file, and
during a long outage the law falls back to a paper procedure.  Both documents are drawn
with reportlab (no GUI dependency) and carry a QR code (segno): the MRN once customs has
allocated one, else the envelope hash; the fallback document carries the sealed envelope
itself (or, when too large for a QR code, its hash and the declaration id, saying so).
Box numbers are those of the Single Administrative Document with their UCC data elements.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import segno
from reportlab.lib.colors import Color, black, white
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from client.common.i18n import tr
from client.declaration.model import Declaration, GoodsItem, Party

PAGE_W, PAGE_H = A4
MARGIN = 28.0
FONT = "Helvetica"
BOLD = "Helvetica-Bold"
GREY = Color(0.35, 0.35, 0.35)
RED = Color(0.75, 0.05, 0.05)
QR_MAX_BYTES = 2900  # segno version 40-L holds 2953 bytes; keep a margin
ITEM_ROW_H = 22.0


def _t(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _fit(text: str, font: str, size: float, width: float) -> str:
    """Cut ``text`` with an ellipsis so it fits ``width`` points."""
    if stringWidth(text, font, size) <= width:
        return text
    lo, hi = 0, len(text)  # longest prefix that fits with the ellipsis (binary search)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if stringWidth(text[:mid] + "…", font, size) <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "…"


def _wrap(text: str, font: str, size: float, width: float, max_lines: int) -> list[str]:
    words, lines, cur = text.split(), [], ""
    for w in words:
        trial = f"{cur} {w}".strip()
        if stringWidth(trial, font, size) <= width or not cur:
            cur = trial
        else:
            lines.append(cur)
            cur = w
    if cur:
        lines.append(cur)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = _fit(lines[-1] + " …", font, size, width)
    return [_fit(line, font, size, width) for line in lines]


def _party_lines(p: Party | None) -> list[str]:
    if p is None:
        return []
    lines = [p.name or "", p.id or ""]
    if p.address is not None:
        a = p.address
        lines.append(a.street or "")
        lines.append(" ".join(x for x in (a.postcode, a.city, a.country) if x))
    return [line for line in lines if line]


def _qr(c: Canvas, payload: str, x: float, y: float, size: float) -> bool:
    """Draw a QR code (vector) with its lower-left corner at (x, y); False if it cannot fit."""
    try:
        qr = segno.make(
            payload,
            error="l" if len(payload.encode()) > 1200 else "m",
            boost_error=True,
            micro=False,
        )
    except segno.DataOverflowError:
        return False
    matrix = [list(row) for row in qr.matrix]
    n = len(matrix) + 8  # quiet zone of 4 modules
    m = size / n
    c.setFillColor(white)
    c.rect(x, y, size, size, stroke=0, fill=1)
    c.setFillColor(black)
    for r, row in enumerate(matrix):
        for col, dark in enumerate(row):
            if dark:
                c.rect(x + (col + 4) * m, y + size - (r + 5) * m, m, m, stroke=0, fill=1)
    return True


class _Doc:
    """A small layout helper over a reportlab canvas."""

    def __init__(self, lang: str) -> None:
        self.buf = io.BytesIO()
        self.c = Canvas(self.buf, pagesize=A4, invariant=1)
        self.lang = lang

    def tr(self, code: str, **params: Any) -> str:
        return tr(code, self.lang, **params)

    def box(
        self,
        x: float,
        y_top: float,
        w: float,
        h: float,
        label_code: str,
        lines: list[str],
        *,
        size: float = 8,
    ) -> None:
        c = self.c
        c.setStrokeColor(black)
        c.setLineWidth(0.5)
        c.rect(x, y_top - h, w, h, stroke=1, fill=0)
        c.setFillColor(GREY)
        c.setFont(FONT, 5.5)
        c.drawString(x + 2, y_top - 7, _fit(self.tr(label_code), FONT, 5.5, w - 4))
        c.setFillColor(black)
        c.setFont(FONT, size)
        y = y_top - 7 - size - 1
        for line in lines:
            if y < y_top - h + 2:
                break
            c.drawString(x + 3, y, _fit(line, FONT, size, w - 6))
            y -= size + 1.5

    def finish(self) -> bytes:
        self.c.save()
        return self.buf.getvalue()


_ITEM_COLS: list[tuple[str, float]] = [
    ("print.col.item", 28),
    ("print.col.description", 150),
    ("print.col.commodity", 62),
    ("print.col.origin", 36),
    ("print.col.procedure", 44),
    ("print.col.packages", 56),
    ("print.col.gross", 50),
    ("print.col.net", 50),
    ("print.col.price", 63),
]


def _item_cells(it: GoodsItem) -> list[str]:
    pk = ", ".join(f"{_t(p.number)} {p.kind or ''}".strip() for p in it.packages)
    proc = it.procedure_code or ""
    if it.additional_procedure_codes:
        proc += " " + " ".join(it.additional_procedure_codes)
    return [
        _t(it.sequence),
        it.description or "",
        it.commodity_code or "",
        it.country_of_origin or "",
        proc,
        pk,
        _t(it.gross_mass),
        _t(it.net_mass),
        _t(it.item_price),
    ]


def _items_header(d: _Doc, y: float) -> float:
    c = d.c
    x = MARGIN
    c.setFillColor(Color(0.9, 0.9, 0.9))
    c.rect(MARGIN, y - 14, PAGE_W - 2 * MARGIN, 14, stroke=0, fill=1)
    c.setFillColor(black)
    c.setFont(BOLD, 5.5)
    for code, w in _ITEM_COLS:
        c.drawString(x + 2, y - 9, _fit(d.tr(code), BOLD, 5.5, w - 3))
        x += w
    return y - 14


def _item_row(d: _Doc, y: float, it: GoodsItem) -> float:
    c = d.c
    x = MARGIN
    cells = _item_cells(it)
    c.setLineWidth(0.3)
    c.line(MARGIN, y - ITEM_ROW_H, PAGE_W - MARGIN, y - ITEM_ROW_H)
    for (_code, w), text in zip(_ITEM_COLS, cells, strict=True):
        if _code == "print.col.description":
            c.setFont(FONT, 7)
            for n, line in enumerate(_wrap(text, FONT, 7, w - 4, 2)):
                c.drawString(x + 2, y - 8 - n * 8.5, line)
        else:
            c.setFont(BOLD if _code == "print.col.commodity" else FONT, 7)
            c.drawString(x + 2, y - 8, _fit(text, FONT, 7, w - 4))
        x += w
    docs = [
        f"{doc.category or ''}{doc.type or ''} {doc.reference or ''}".strip()
        for doc in it.documents + it.previous_documents
    ]
    if docs:
        c.setFillColor(GREY)
        c.setFont(FONT, 5.5)
        c.drawString(
            MARGIN + 28 + 150 + 2,
            y - ITEM_ROW_H + 3,
            _fit("; ".join(docs), FONT, 5.5, PAGE_W - 2 * MARGIN - 180),
        )
        c.setFillColor(black)
    return y - ITEM_ROW_H


def _grid(d: _Doc, decl: Declaration, y: float) -> float:
    """The SAD boxes of the header; returns the y below them."""
    full = PAGE_W - 2 * MARGIN
    half, quarter = full / 2, full / 4
    t = decl.transport
    dt = decl.delivery_terms
    rows: list[tuple[float, list[tuple[float, str, list[str]]]]] = [
        (
            24,
            [
                (
                    quarter,
                    "print.box.declaration_type",
                    [
                        f"{decl.type} {decl.additional_type or ''}".strip()
                        + (f" / {decl.function}" if decl.function != "original" else "")
                    ],
                ),
                (quarter, "print.box.items_total", [_t(decl.total_items or len(decl.goods_items))]),
                (quarter, "print.box.packages_total", [_t(decl.total_packages)]),
                (quarter, "print.box.reference", [decl.ucr or ""]),
            ],
        ),
        (
            52,
            [
                (half, "print.box.exporter", _party_lines(decl.exporter)),
                (half, "print.box.consignee", _party_lines(decl.consignee)),
            ],
        ),
        (
            52,
            [
                (
                    half,
                    "print.box.declarant",
                    _party_lines(decl.declarant)
                    + [f"{_t(decl.representative.id)} ({_t(decl.representative.status)})"]
                    if decl.representative
                    else _party_lines(decl.declarant),
                ),
                (half, "print.box.importer", _party_lines(decl.importer)),
            ],
        ),
        (
            24,
            [
                (quarter, "print.box.dispatch", [decl.country_of_dispatch or ""]),
                (quarter, "print.box.destination", [decl.country_of_destination or ""]),
                (
                    quarter,
                    "print.box.delivery",
                    [f"{dt.incoterm or ''} {dt.place or ''}".strip()] if dt else [],
                ),
                (
                    quarter,
                    "print.box.currency_total",
                    [f"{decl.invoice_currency or ''} {_t(decl.invoice_total)}".strip()],
                ),
            ],
        ),
        (
            24,
            [
                (
                    quarter,
                    "print.box.transport",
                    [
                        " ".join(
                            x
                            for x in (
                                t.departure_means_identity,
                                t.border_means_identity,
                                t.border_means_nationality,
                            )
                            if x
                        )
                    ]
                    if t
                    else [],
                ),
                (
                    quarter,
                    "print.box.container",
                    [
                        _t(t.container)
                        + (" " + " ".join(t.equipment_numbers) if t.equipment_numbers else "")
                    ]
                    if t
                    else [],
                ),
                (quarter, "print.box.exchange_rate", [_t(decl.exchange_rate)]),
                (quarter, "print.box.transaction", [decl.nature_of_transaction or ""]),
            ],
        ),
        (
            24,
            [
                (quarter, "print.box.mode_border", [_t(t.mode_at_border)] if t else []),
                (quarter, "print.box.mode_inland", [_t(t.mode_inland)] if t else []),
                (
                    quarter,
                    "print.box.office",
                    [
                        " ".join(
                            x
                            for x in (
                                decl.customs_office,
                                decl.exit_office,
                                decl.supervising_office,
                            )
                            if x
                        )
                    ],
                ),
                (quarter, "print.box.location", [decl.goods_location or ""]),
            ],
        ),
        (
            24,
            [
                (quarter, "print.box.total_gross", [_t(decl.total_gross_mass)]),
                (
                    3 * quarter,
                    "print.box.previous_docs",
                    [
                        "; ".join(
                            f"{p.category or ''} {p.type or ''} {p.reference or ''}".strip()
                            for p in decl.previous_documents
                        )
                    ],
                ),
            ],
        ),
        (
            24,
            [
                (
                    full,
                    "print.box.additional_docs",
                    [
                        "; ".join(
                            f"{p.category or ''}{p.type or ''} {p.reference or ''}".strip()
                            for p in decl.additional_documents
                        )
                    ],
                )
            ],
        ),
    ]
    for h, boxes in rows:
        x = MARGIN
        for w, code, lines in boxes:
            d.box(x, y, w, h, code, lines)
            x += w
        y -= h
    return y


def _render(decl: Declaration, lang: str, banner: Callable[[_Doc], float], title_code: str,
            page_mark: Callable[[_Doc], float] | None = None) -> bytes:
    """Page 1: banner + SAD boxes + first items; further pages: items only, under
    ``page_mark`` when given (it draws, e.g. a QR code, and returns its height)."""
    d = _Doc(lang)
    c = d.c
    c.setTitle(d.tr(title_code))
    c.setAuthor("Comptoir")
    c.setSubject(decl.lrn or decl.id)
    y = banner(d)
    y = _grid(d, decl, y - 6)
    items = list(decl.goods_items)
    first_cap = max(0, int((y - 14 - 14 - MARGIN - 12) // ITEM_ROW_H))
    reserve = page_mark(_Doc(lang)) if page_mark is not None else 0.0  # measured once
    later_cap = int((PAGE_H - MARGIN - 30 - reserve - 14 - MARGIN - 12) // ITEM_ROW_H)
    rest = max(0, len(items) - first_cap)
    pages = 1 + (-(-rest // later_cap) if rest else 0)

    def footer(page: int) -> None:
        c.setFont(FONT, 7)
        c.setFillColor(GREY)
        c.drawString(
            MARGIN,
            MARGIN - 12,
            _fit(f"{d.tr('print.lrn')} {decl.lrn or ''} · {decl.id}", FONT, 7, PAGE_W / 2),
        )
        c.drawRightString(PAGE_W - MARGIN, MARGIN - 12, d.tr("print.page", page=page, pages=pages))
        c.setFillColor(black)

    c.setFont(BOLD, 8)
    c.drawString(MARGIN, y - 11, d.tr("print.items"))
    y = _items_header(d, y - 14)
    idx = 0
    for _ in range(first_cap):
        if idx >= len(items):
            break
        y = _item_row(d, y, items[idx])
        idx += 1
    footer(1)
    page = 1
    while idx < len(items):
        c.showPage()
        page += 1
        c.setFont(BOLD, 10)
        c.drawString(
            MARGIN, PAGE_H - MARGIN - 10, _fit(d.tr(title_code), BOLD, 10, PAGE_W - 2 * MARGIN)
        )
        c.setFont(FONT, 8)
        c.drawString(
            MARGIN,
            PAGE_H - MARGIN - 22,
            f"{d.tr('print.lrn')} {decl.lrn or ''}   {d.tr('print.mrn')} {decl.mrn or ''}",
        )
        _ = page_mark(d) if page_mark is not None else 0.0
        y = _items_header(d, PAGE_H - MARGIN - 30 - reserve)
        for _ in range(later_cap):
            if idx >= len(items):
                break
            y = _item_row(d, y, items[idx])
            idx += 1
        footer(page)
    return d.finish()


def render_pdf(
    decl: Declaration, *, status: str | None, mrn: str | None, envelope_hash: str | None, lang: str
) -> bytes:
    """The declaration in SAD layout, multi-page, with a QR code of the MRN or envelope hash."""
    mrn = mrn or decl.mrn

    def banner(d: _Doc) -> float:
        c = d.c
        top = PAGE_H - MARGIN
        qr_size = 78.0
        c.setFont(BOLD, 13)
        c.drawString(
            MARGIN, top - 14, _fit(d.tr("print.title"), BOLD, 13, PAGE_W - 2 * MARGIN - qr_size - 8)
        )
        c.setFont(FONT, 9)
        lines = [
            f"{d.tr('print.lrn')}: {decl.lrn or ''}",
            f"{d.tr('print.mrn')}: {mrn or ''}",
            f"{d.tr('print.status')}: {status or ''}",
        ]
        if envelope_hash:
            lines.append(f"{d.tr('print.envelope_hash')}: {envelope_hash}")
        y = top - 30
        for line in lines:
            c.drawString(MARGIN, y, _fit(line, FONT, 9, PAGE_W - 2 * MARGIN - qr_size - 8))
            y -= 12
        payload = mrn or envelope_hash
        if payload:
            _qr(c, payload, PAGE_W - MARGIN - qr_size, top - qr_size, qr_size)
            c.setFont(FONT, 5.5)
            c.drawRightString(
                PAGE_W - MARGIN, top - qr_size - 7, d.tr("print.qr_mrn" if mrn else "print.qr_hash")
            )
        return min(y, top - qr_size - 10)

    return _render(decl, lang, banner, "print.title")


def render_fallback_pdf(
    decl: Declaration,
    *,
    envelope_hash: str,
    signature_fingerprint: str,
    sealed_at: str,
    lang: str,
    qr_payload: str,
    document: str = "fallback_sad",
) -> bytes:
    """The paper document of the continuity rule (``document``): ``fallback_sad`` (lodged
    after recovery) or ``transit_accompanying_document`` (the offline TAD and its list of
    items, UCC-IA Annex 72-04, a QR code on every page).  The QR code carries ``qr_payload`` (the compact sealed envelope) when it fits, else
    the envelope hash and the declaration id, with a note saying so.
    """
    transit = document == "transit_accompanying_document"
    title_code, rule_code = ("print.transit.title", "print.transit.rule") if transit else \
        ("print.fallback.title", "print.fallback.rule")
    from client.interchange.qrpayload import fits_qr

    payload_fits = fits_qr(qr_payload) or len(qr_payload.encode()) <= QR_MAX_BYTES

    def banner(d: _Doc) -> float:
        c = d.c
        top = PAGE_H - MARGIN
        qr_size = 150.0 if len(qr_payload.encode()) <= 600 else 240.0  # ~0.4 mm modules at v40
        c.setFillColor(RED)
        c.rect(MARGIN, top - 30, PAGE_W - 2 * MARGIN, 30, stroke=0, fill=1)
        c.setFillColor(white)
        c.setFont(BOLD, 12)
        c.drawCentredString(
            PAGE_W / 2,
            top - 19,
            _fit(d.tr(title_code), BOLD, 12, PAGE_W - 2 * MARGIN - 8),
        )
        c.setFillColor(black)
        text_w = PAGE_W - 2 * MARGIN - qr_size - 10
        y = top - 48
        c.setFont(BOLD, 11)
        c.drawString(MARGIN, y, _fit(f"{d.tr('print.lrn')}: {decl.lrn or ''}", BOLD, 11, text_w))
        y -= 15
        c.setFont(FONT, 8.5)
        for label, value in (
            ("print.fallback.declaration_id", decl.id),
            ("print.fallback.date", sealed_at),
            ("print.fallback.fingerprint", signature_fingerprint),
            ("print.envelope_hash", envelope_hash),
        ):
            c.setFont(FONT, 6.5)
            c.setFillColor(GREY)
            c.drawString(MARGIN, y, d.tr(label))
            c.setFillColor(black)
            c.setFont(FONT, 8.5)
            y -= 10
            for line in _wrap_chars(value, FONT, 8.5, text_w, 2):
                c.drawString(MARGIN, y, line)
                y -= 10
            y -= 3
        c.setFont(BOLD, 8.5)
        for line in _wrap(d.tr(rule_code), BOLD, 8.5, text_w, 4):
            c.drawString(MARGIN, y, line)
            y -= 11
        payload = qr_payload if payload_fits else f"{envelope_hash} {decl.id}"
        drawn = _qr(c, payload, PAGE_W - MARGIN - qr_size, top - 36 - qr_size, qr_size)
        if not drawn:  # e.g. a multi-byte payload beyond the QR capacity
            _qr(
                c,
                f"{envelope_hash} {decl.id}",
                PAGE_W - MARGIN - qr_size,
                top - 36 - qr_size,
                qr_size,
            )
        c.setFont(FONT, 5.5)
        c.drawRightString(PAGE_W - MARGIN, top - 36 - qr_size - 7, d.tr("print.fallback.qr"))
        if not payload_fits or not drawn:
            c.setFillColor(RED)
            c.setFont(BOLD, 7)
            for line in _wrap(d.tr("print.fallback.qr_too_long"), BOLD, 7, text_w, 3):
                c.drawString(MARGIN, y, line)
                y -= 9
            c.setFillColor(black)
        return min(y, top - 36 - qr_size - 12)

    def page_qr(d: _Doc) -> float:
        size = 110.0 if len(qr_payload.encode()) <= 600 else 200.0
        payload = qr_payload if payload_fits else f"{envelope_hash} {decl.id}"
        top = PAGE_H - MARGIN - 30
        if not _qr(d.c, payload, PAGE_W - MARGIN - size, top - size, size):
            _qr(d.c, f"{envelope_hash} {decl.id}", PAGE_W - MARGIN - size, top - size, size)
        return size + 6

    return _render(decl, lang, banner, title_code, page_qr if transit else None)


def _wrap_chars(text: str, font: str, size: float, width: float, max_lines: int) -> list[str]:
    """Wrap a long token (hash, fingerprint) by characters."""
    lines, cur = [], ""
    for ch in text:
        if stringWidth(cur + ch, font, size) > width:
            lines.append(cur)
            cur = ch
        else:
            cur += ch
    if cur:
        lines.append(cur)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = _fit(lines[-1] + "…", font, size, width)
    return lines
