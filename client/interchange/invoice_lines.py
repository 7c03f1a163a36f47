"""Invoice lines (CSV, XLSX) into goods items: column mapping, preview, per-row errors.

Traders get their goods lines as spreadsheets from suppliers.  The flow is: read the
table (bounded: size and row count), suggest a column mapping from the headers (English
and French), remember the mapping per supplier, preview the goods items with one error per
bad row (good rows still come through), then append them to a declaration with contiguous
item numbers (DE 1/6) and updated totals (DE 1/9, 6/18, 6/5).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from client.common import files
from client.common.i18n import ComptoirError, Message
from client.declaration.model import MAX_ITEMS, Declaration, GoodsItem, Packaging

MAX_FILE_BYTES = 10 << 20
MAX_ROWS = 10_000

TARGETS = (
    "description",
    "commodity_code",
    "country_of_origin",
    "packages",
    "package_kind",
    "gross_mass",
    "net_mass",
    "item_price",
    "supplementary_units",
)

# Normalised header words (lower case, no accents) -> target, English and French.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "description": (
        "description",
        "description of goods",
        "goods description",
        "designation",
        "designation des marchandises",
        "libelle",
        "article",
        "produit",
        "product",
        "goods",
        "marchandise",
        "marchandises",
    ),
    "commodity_code": (
        "commodity code",
        "hs code",
        "hs",
        "cn code",
        "taric",
        "taric code",
        "tariff code",
        "code sh",
        "code nc",
        "nomenclature",
        "code douanier",
        "code marchandise",
        "nc",
        "sh",
        "code tarifaire",
        "hs tariff code",
    ),
    "country_of_origin": (
        "country of origin",
        "origin",
        "coo",
        "origin country",
        "pays d origine",
        "origine",
        "pays origine",
        "made in",
    ),
    "packages": (
        "packages",
        "number of packages",
        "no of packages",
        "package count",
        "colis",
        "nombre de colis",
        "nb colis",
        "quantity",
        "qty",
        "quantite",
        "qte",
        "cartons",
        "pieces",
    ),
    "package_kind": (
        "package type",
        "type of packages",
        "packaging",
        "package kind",
        "type de colis",
        "emballage",
        "nature des colis",
        "unit",
    ),
    "gross_mass": (
        "gross mass",
        "gross weight",
        "gross kg",
        "gross weight kg",
        "gross",
        "masse brute",
        "poids brut",
        "poids brut kg",
        "brut",
        "brut kg",
    ),
    "net_mass": (
        "net mass",
        "net weight",
        "net kg",
        "net weight kg",
        "net",
        "masse nette",
        "poids net",
        "poids net kg",
        "net kg",
    ),
    "item_price": (
        "price",
        "amount",
        "value",
        "total",
        "line total",
        "item price",
        "invoice value",
        "line amount",
        "prix",
        "montant",
        "valeur",
        "prix total",
        "total ligne",
        "montant ligne",
        "valeur facturee",
    ),
    "supplementary_units": (
        "supplementary units",
        "supplementary unit",
        "supp units",
        "unites supplementaires",
        "unite supplementaire",
        "us",
    ),
}


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = re.sub(r"\(.*?\)", " ", text)  # "(kg)", "(EUR)"
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


@dataclass
class Table:
    """A header row and data rows, all as text (cells padded to the header width)."""

    columns: list[str]
    rows: list[list[str]]
    decimal_comma: bool | None = None  # True for ';'-separated CSV (French style)
    first_row_number: int = 2  # spreadsheet row number of rows[0]


@dataclass
class Preview:
    items: list[GoodsItem]
    row_errors: list[tuple[int, Message]]
    item_rows: list[int] = field(default_factory=list)  # source row of each item


# ---------------------------------------------------------------------------- reading


def _check_size(path: Path, max_bytes: int) -> None:
    files.check_size(path, max_bytes, unreadable="invoice.unreadable",
                     too_large="invoice.too_large")


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), else Windows-1252 / Latin-1."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            return data.decode("latin-1")


def _table(
    path: Path, raw_rows: list[list[str]], decimal_comma: bool | None, max_rows: int
) -> Table:
    rows = [[c.strip() for c in r] for r in raw_rows]
    start = next((i for i, r in enumerate(rows) if any(rows[i])), None)
    if start is None:
        raise ComptoirError("invoice.empty", 2, path=str(path))
    header = rows[start]
    while header and not header[-1]:
        header.pop()
    width = len(header)
    data = []
    for r in rows[start + 1 :]:
        cells = (r + [""] * width)[:width]
        data.append(cells)
    while data and not any(data[-1]):
        data.pop()
    if len(data) > max_rows:
        raise ComptoirError("invoice.too_many_rows", 2, path=str(path), limit=max_rows)
    return Table(header, data, decimal_comma, first_row_number=start + 2)


def _read_csv(path: Path, max_rows: int) -> Table:
    text = _decode(path.read_bytes())
    sample = text[:8192]
    first_line = sample.splitlines()[0] if sample else ""
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=";,\t")
        delimiter = dialect.delimiter
    except csv.Error:
        counts = {d: first_line.count(d) for d in ";,\t"}
        delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    rows = []
    try:
        for i, row in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter)):
            if i > max_rows + 1:
                raise ComptoirError("invoice.too_many_rows", 2, path=str(path), limit=max_rows)
            rows.append(row)
    except csv.Error as exc:  # a bare CR in a field, a field over the size limit …
        raise ComptoirError("invoice.unreadable", 2, path=str(path), reason=str(exc)) from exc
    return _table(path, rows, delimiter == ";", max_rows)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _read_xlsx(path: Path, max_rows: int) -> Table:
    from openpyxl import load_workbook  # only when a spreadsheet is read

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged files
        raise ComptoirError("invoice.unreadable", 2, path=str(path), reason=str(exc)) from exc
    try:
        ws = wb.worksheets[0]
        rows = []
        for i, row in enumerate(ws.iter_rows(values_only=True)):
            if i > max_rows + 1:
                raise ComptoirError("invoice.too_many_rows", 2, path=str(path), limit=max_rows)
            rows.append([_cell(v) for v in row])
    finally:
        wb.close()
    return _table(path, rows, None, max_rows)


def read_invoice_table(
    path: Path, *, max_bytes: int = MAX_FILE_BYTES, max_rows: int = MAX_ROWS
) -> Table:
    """Read a CSV (';' or ',', UTF-8 with/without BOM, Latin-1) or XLSX invoice table."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".txt", ".xlsx", ".xlsm"):
        raise ComptoirError("invoice.unsupported_format", 2, path=str(path), suffix=suffix or "?")
    _check_size(path, max_bytes)
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, max_rows)
    return _read_csv(path, max_rows)


# ---------------------------------------------------------------------------- mapping


def suggest_mapping(columns: list[str]) -> dict[str, str]:
    """target field -> column, from header names in English or French (exact beats partial)."""
    normed = [(_norm(c), c) for c in columns]
    out: dict[str, str] = {}
    used: set[str] = set()
    for exact in (True, False):
        for target in TARGETS:
            if target in out:
                continue
            for n, original in normed:
                if original in used or not n:
                    continue
                words = _SYNONYMS[target]
                hit = (
                    n in words
                    if exact
                    else any(
                        len(w) > 3
                        and (n.startswith(w + " ") or n.endswith(" " + w) or f" {w} " in f" {n} ")
                        for w in words
                    )
                )
                if hit:
                    out[target] = original
                    used.add(original)
                    break
    return out


class MappingMemory:
    """Column mappings remembered per supplier (the store provides load/save).

    ``load`` and ``save`` receive the supplier's normalised name; the caller files it
    under its own setting (the store's ``invoice_mapping:`` family).
    """

    def __init__(
        self, load: Callable[[str], dict | None], save: Callable[[str, dict], None]
    ) -> None:
        self._load = load
        self._save = save

    @staticmethod
    def key(supplier: str) -> str:
        return _norm(supplier)

    def remember(self, supplier: str, mapping: dict[str, str]) -> None:
        clean = {t: c for t, c in mapping.items() if t in TARGETS and c}
        self._save(self.key(supplier), {"version": 1, "mapping": clean})

    def recall(self, supplier: str, columns: list[str]) -> dict[str, str] | None:
        """The remembered mapping, restricted to the columns this file has."""
        stored = self._load(self.key(supplier))
        if not stored or not isinstance(stored.get("mapping"), dict):
            return None
        present = set(columns)
        return {t: c for t, c in stored["mapping"].items() if t in TARGETS and c in present}

    def suggest(self, supplier: str, columns: list[str]) -> dict[str, str]:
        """Remembered choices first, header guesses for the rest."""
        guessed = suggest_mapping(columns)
        remembered = self.recall(supplier, columns) or {}
        taken = set(remembered.values())
        merged = {t: c for t, c in guessed.items() if c not in taken}
        merged.update(remembered)
        return merged


# ---------------------------------------------------------------------------- preview

_THOUSANDS_COMMA = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
_THOUSANDS_DOT = re.compile(r"^-?\d{1,3}(\.\d{3})+(,\d+)?$")


def parse_number(text: str, decimal_comma: bool | None = None) -> Decimal:
    """'1 234,56', '1,234.56', '12.5', '12,5' -> Decimal (raises ValueError)."""
    s = text.replace("\u00a0", "").replace("\u202f", "").replace(" ", "").replace("'", "")
    s = re.sub(r"^(EUR|USD|GBP|€|\$|£)|(EUR|USD|GBP|€|\$|£|kg|KG|Kg)$", "", s)
    if not s:
        raise ValueError(text)
    if "," in s and "." in s:  # the last separator is the decimal one
        s = (
            s.replace(".", "").replace(",", ".")
            if s.rfind(",") > s.rfind(".")
            else s.replace(",", "")
        )
    elif "," in s:
        if decimal_comma is not True and _THOUSANDS_COMMA.match(s):
            s = s.replace(",", "")  # 1,234 or 1,234,567 in an English-style file
        elif s.count(",") == 1:
            s = s.replace(",", ".")  # 12,5
        else:
            raise ValueError(text)
    elif decimal_comma and s.count(".") > 1 and _THOUSANDS_DOT.match(s):
        s = s.replace(".", "")  # 1.234.567 in a French-style file
    try:
        value = Decimal(s)
    except InvalidOperation:
        raise ValueError(text) from None
    if not value.is_finite():
        raise ValueError(text)
    return value


def _row_item(
    table: Table,
    mapping: dict[str, str],
    row: list[str],
    row_no: int,
) -> tuple[GoodsItem | None, list[Message]]:
    idx = {c: i for i, c in enumerate(table.columns)}

    def cell(target: str) -> str:
        col = mapping.get(target)
        return row[idx[col]].strip() if col in idx else ""

    errors: list[Message] = []
    fields: dict[str, Any] = {}
    desc = cell("description")
    if not desc:
        errors.append(Message("invoice.missing_description", {"row": row_no}))
    else:
        fields["description"] = desc[:512]
    code = re.sub(r"[\s.]", "", cell("commodity_code"))
    if code:
        if code.isdigit() and 6 <= len(code) <= 10:
            fields["commodity_code"] = code
        else:
            errors.append(Message("invoice.bad_commodity_code", {"row": row_no, "value": code}))
    origin = cell("country_of_origin").upper()
    if origin:
        if len(origin) == 2 and origin.isalpha():
            fields["country_of_origin"] = origin
        else:
            errors.append(Message("invoice.bad_country", {"row": row_no, "value": origin}))
    for target in ("gross_mass", "net_mass", "item_price", "supplementary_units", "packages"):
        raw = cell(target)
        if not raw:
            continue
        try:
            value = parse_number(raw, table.decimal_comma)
        except ValueError:
            errors.append(
                Message(
                    "invoice.bad_number", {"row": row_no, "field": mapping[target], "value": raw}
                )
            )
            continue
        if value < 0:
            errors.append(
                Message(
                    "invoice.negative_number",
                    {"row": row_no, "field": mapping[target], "value": raw},
                )
            )
            continue
        if target == "packages":
            if value != value.to_integral_value():
                errors.append(
                    Message(
                        "invoice.bad_integer",
                        {"row": row_no, "field": mapping[target], "value": raw},
                    )
                )
                continue
            fields["_packages"] = int(value)
        else:
            fields[target] = value
    kind = cell("package_kind").upper()[:35]
    if errors:
        return None, errors
    try:
        if "_packages" in fields or kind:
            fields["packages"] = [Packaging(kind=kind or None,
                                            number=fields.pop("_packages", None))]
        return GoodsItem(**fields), []
    except Exception as exc:  # pydantic bounds (e.g. too many digits)
        return None, [
            Message("invoice.bad_number", {"row": row_no, "field": "", "value": str(exc)[:80]})
        ]


def preview(table: Table, mapping: dict[str, str]) -> Preview:
    """Goods items from the good rows, and every bad row's errors (blank rows skipped)."""
    items: list[GoodsItem] = []
    rows: list[int] = []
    errors: list[tuple[int, Message]] = []
    for offset, row in enumerate(table.rows):
        if not any(row):
            continue
        row_no = table.first_row_number + offset
        item, errs = _row_item(table, mapping, row, row_no)
        if item is not None:
            items.append(item)
            rows.append(row_no)
        errors.extend((row_no, e) for e in errs)
    return Preview(items, errors, rows)


def apply_to_declaration(decl: Declaration, items: list[GoodsItem]) -> Declaration:
    """A copy of ``decl`` with ``items`` appended (DE 1/6 contiguous) and totals updated."""
    existing = list(decl.goods_items)
    if len(existing) + len(items) > MAX_ITEMS:
        raise ComptoirError("invoice.too_many_items", 2, limit=MAX_ITEMS)
    merged = [it.model_copy(update={"sequence": n}) for n, it in enumerate(existing, start=1)]
    merged += [
        it.model_copy(deep=True, update={"sequence": n})
        for n, it in enumerate(items, start=len(existing) + 1)
    ]
    update: dict[str, Any] = {"goods_items": merged, "total_items": len(merged)}  # DE 1/9
    numbers = [p.number for it in merged for p in it.packages if p.number is not None]
    if numbers:
        update["total_packages"] = sum(numbers)  # DE 6/18
    masses = [it.gross_mass for it in merged if it.gross_mass is not None]
    if masses:
        update["total_gross_mass"] = sum(masses, Decimal(0))  # DE 6/5
    return decl.model_copy(update=update)
