"""Validation: a registry of rules that report, finding by finding, before anything is sent.

Each rule has a stable code (``V-COUNTRY-UNKNOWN``), a severity (``error`` blocks
sealing, ``warning`` does not), the WCO data element it concerns and a translated
message (catalogue key ``validation.<code>``; the rule's own description is
``validation.rule.<code>``).  A finding names the exact field by its stable path
(``goods_items[2].country_of_origin``) so that the editor can jump to it.

Validation runs offline against :mod:`client.declaration.refdata`, is cheap enough to run on every
keystroke, and never raises on what it is given: a dict that is not a declaration
yields ``V-STRUCTURE`` findings instead of an exception.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

from pydantic import ValidationError

from client.common.i18n import Message
from client.declaration.labels import finding_text
from client.declaration.model import (
    Declaration,
    GoodsItem,
    Party,
    de_number,
)
from client.declaration.mrn import PROCEDURE_LETTERS, mrn_letter_problem, mrn_problem
from client.declaration.plain import is_plain_declaration, plain_declaration
from client.declaration.refdata import INCOTERMS_2020, ReferenceData, default_reference_data
from client.declaration.rules_cds import CDS_RULES, country_fields
from client.declaration.states import REQUESTS

Severity = Literal["error", "warning"]
LrnTaken = Callable[[str, str, str | None], bool]
MAX_STRUCTURE_FINDINGS = 100


@dataclass(frozen=True)
class Finding:
    """One problem at one field: what (code), how bad, which data element, where."""

    code: str
    severity: Severity
    de: str
    path: str
    message: Message

    def to_json(self, lang: str | None = None) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "de": self.de,
                "path": self.path, "message": finding_text(self.message, lang),
                "params": dict(self.message.params)}


@dataclass
class Context:
    """What a rule sees: the parsed declaration, the reference data, the store lookup."""

    decl: Declaration
    ref: ReferenceData
    lrn_taken: LrnTaken | None = None


Hit = tuple[str, dict[str, Any]]  # (path, message params)


@dataclass(frozen=True)
class Rule:
    code: str
    severity: Severity
    de: str
    description_key: str
    check: Callable[[Context], Iterable[Hit]]


RULES: list[Rule] = []


def rule(code: str, severity: Severity, de: str, description_key: str | None = None
         ) -> Callable[[Callable[[Context], Iterable[Hit]]], Callable[[Context], Iterable[Hit]]]:
    """Register a rule: the function yields ``(path, params)`` for each problem it sees."""

    def register(func: Callable[[Context], Iterable[Hit]]) -> Callable[[Context], Iterable[Hit]]:
        RULES.append(Rule(code, severity, de, description_key or f"validation.rule.{code}", func))
        return func

    return register


_INDEX = re.compile(r"\[\d+\]")


@lru_cache(maxsize=1024)
def _de_for_shape(shape: str) -> str | None:
    return de_number(shape)


def _de_for(path: str, fallback: str) -> str:
    if not path:
        return fallback
    try:
        return _de_for_shape(_INDEX.sub("[0]", path)) or fallback
    except ValueError:
        return fallback


def _finding(r: Rule, path: str, params: dict[str, Any]) -> Finding:
    return Finding(r.code, r.severity, _de_for(path, r.de), path,
                   Message(f"validation.{r.code}", params))


def _short(value: Any, limit: int = 60) -> str:
    """A value fit to quote in a message: bounded, and never a deep repr of junk."""
    if isinstance(value, str):
        text = value
    elif value is None or isinstance(value, bool | int | float | Decimal):
        text = repr(value) if not isinstance(value, int) or value.bit_length() < 200 else "…"
    elif isinstance(value, dict):
        text = "{…}"
    elif isinstance(value, list | tuple):
        text = "[…]"
    else:
        text = type(value).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------
# Structure (the input is not a declaration at all)
# ---------------------------------------------------------------------------------------

@rule("V-STRUCTURE", "error", "")
def _structure(ctx: Context) -> Iterator[Hit]:
    """Reported by :func:`validate` itself when the input does not parse."""
    return iter(())


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _loc_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for step in loc:
        if isinstance(step, int) and not isinstance(step, bool):
            path += f"[{step}]"
        elif isinstance(step, str) and _IDENT.fullmatch(step) and len(step) <= 64:
            path += ("." if path else "") + step
        else:
            break  # a junk key: the path stops at the last field we can name
    return path


def _structure_findings(exc: ValidationError | None, what: str = "") -> list[Finding]:
    r = RULES[0]
    if exc is None:
        return [_finding(r, "", {"field": "", "reason": "not_an_object", "value": what})]
    out = []
    for err in exc.errors(include_url=False, include_context=False)[:MAX_STRUCTURE_FINDINGS]:
        loc = tuple(err.get("loc", ()))
        path = _loc_path(loc)
        field = ".".join(_short(str(s), 40) for s in loc)
        out.append(_finding(r, path, {"field": field, "reason": str(err.get("type", "")),
                                      "value": _short(err.get("input"))}))
    return out


# ---------------------------------------------------------------------------------------
# Helpers over the declaration
# ---------------------------------------------------------------------------------------

def _items(decl: Declaration) -> Iterator[tuple[str, GoodsItem]]:
    for i, item in enumerate(decl.goods_items):
        yield f"goods_items[{i}]", item


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _party_missing(party: Party | None) -> bool:
    return party is None or (_blank(party.id) and _blank(party.name))


_PARTIES = ("declarant", "exporter", "consignee", "importer", "representative", "seller", "buyer")

# Mandatory data per declaration kind (UCC DA Annex B columns H1 / B1 / D1, as profiled
# by the UK CDS samples).  A tuple means "at least one of these".  Standard declarations
# (DE 1/2 A, D or not given) need the full set; simplified, entry-in-records and
# supplementary ones (B C E F J K X Y Z) a reduced one, completed later; a cancellation
# only has to say who cancels what.
_HEADER_MANDATORY: dict[str, tuple[str | tuple[str, ...], ...]] = {
    "IM": (
        "lrn",
        "declarant",
        "importer",
        "country_of_dispatch",
        "invoice_currency",
        "delivery_terms.incoterm",
        ("customs_office", "goods_location"),
    ),
    # H2 (customs warehousing, requested procedure 71): no invoice data, no Incoterm.
    "IM-H2": ("lrn", "declarant", "importer", "country_of_dispatch",
              ("customs_office", "goods_location")),
    "IM-simplified": ("lrn", "declarant", "importer", ("customs_office", "goods_location")),
    "EX": (
        "lrn",
        "declarant",
        "exporter",
        "country_of_destination",
        "exit_office",
        "goods_location",
    ),
    "EX-simplified": ("lrn", "declarant", "exporter"),
    "transit": (
        "lrn",
        "declarant",
        "country_of_dispatch",
        "country_of_destination",
        "customs_office",
        "transport.mode_at_border",
    ),
    "cancellation": ("declarant", ("mrn", "amends")),
}
_ITEM_MANDATORY: dict[str, tuple[str, ...]] = {
    "IM": (
        "description",
        "commodity_code",
        "country_of_origin",
        "procedure_code",
        "net_mass",
        "gross_mass",
    ),
    "IM-H2": ("description", "commodity_code", "country_of_origin", "procedure_code",
              "gross_mass"),
    "IM-simplified": ("description", "procedure_code"),
    "EX": ("description", "commodity_code", "procedure_code", "net_mass", "gross_mass"),
    "EX-simplified": ("description", "procedure_code"),
    "transit": ("description", "gross_mass"),
    "cancellation": (),
}
_STANDARD_TYPES = frozenset({"A", "D"})


def _kind(decl: Declaration) -> str:
    """Which mandatory set applies (keys of ``_HEADER_MANDATORY``)."""
    if decl.function == "cancellation":
        return "cancellation"
    if not _blank(decl.transit_type):
        return "transit"
    family = "EX" if decl.type == "EX" else "IM"  # CO follows the import columns
    if _blank(decl.additional_type) or decl.additional_type in _STANDARD_TYPES:
        if family == "IM" and decl.goods_items and all(
                isinstance(it.procedure_code, str) and it.procedure_code.startswith("71")
                for it in decl.goods_items):
            return "IM-H2"
        return family
    return f"{family}-simplified"


def _value(obj: Any, dotted: str) -> Any:
    for step in dotted.split("."):
        obj = getattr(obj, step, None)
        if obj is None:
            return None
    return obj


# ---------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------

@rule("V-MANDATORY", "error", "")
def _mandatory(ctx: Context) -> Iterator[Hit]:
    d = ctx.decl
    kind = _kind(d)
    label = (
        f"{d.type}/{d.transit_type}" if kind == "transit" else f"{d.type}{d.additional_type or ''}"
    )
    for spec in _HEADER_MANDATORY.get(kind, ()):
        if isinstance(spec, tuple):
            if all(_blank(_value(d, s)) for s in spec):
                yield spec[0], {"field": " / ".join(spec), "kind": label}
            continue
        value = _value(d, spec)
        missing = _party_missing(value) if spec in _PARTIES else _blank(value)
        if missing:
            yield spec, {"field": spec, "kind": label}
    if d.representative is not None and _blank(d.representative.status):
        yield "representative.status", {"field": "representative.status", "kind": label}
    if not d.goods_items and kind != "cancellation":
        yield "goods_items", {"field": "goods_items", "kind": label}
    fields = _ITEM_MANDATORY.get(kind, ())
    for base, item in _items(d):
        for f in fields:
            if _blank(getattr(item, f)):
                yield f"{base}.{f}", {"field": f"{base}.{f}", "kind": label}


@rule("V-COUNTRY-UNKNOWN", "error", "5/14")
def _countries(ctx: Context) -> Iterator[Hit]:
    for path, value in country_fields(ctx.decl):
        if not _blank(value) and not ctx.ref.is_country(value):
            yield path, {"value": _short(value)}


@rule("V-CURRENCY-UNKNOWN", "error", "4/10")
def _currency(ctx: Context) -> Iterator[Hit]:
    value = ctx.decl.invoice_currency
    if not _blank(value) and not ctx.ref.is_currency(value):
        yield "invoice_currency", {"value": _short(value)}


@rule("V-INCOTERM-RETIRED", "error", "4/1")
def _incoterm_retired(ctx: Context) -> Iterator[Hit]:
    terms = ctx.decl.delivery_terms
    term = ctx.ref.incoterm(terms.incoterm) if terms is not None else None
    if term is not None and term.retired:
        yield "delivery_terms.incoterm", {"value": term.code,
                                          "replacement": " / ".join(term.replaced_by)}


@rule("V-INCOTERM-UNKNOWN", "error", "4/1")
def _incoterm_unknown(ctx: Context) -> Iterator[Hit]:
    terms = ctx.decl.delivery_terms
    if terms is not None and not _blank(terms.incoterm) and ctx.ref.incoterm(terms.incoterm) is None:
        yield "delivery_terms.incoterm", {"value": _short(terms.incoterm),
                                          "allowed": " ".join(INCOTERMS_2020)}


_COMMODITY = re.compile(r"[0-9]{6}(?:[0-9]{2}|[0-9]{4})")


@rule("V-COMMODITY-FORMAT", "error", "6/14")
def _commodity_format(ctx: Context) -> Iterator[Hit]:
    for base, item in _items(ctx.decl):
        code = item.commodity_code
        if not _blank(code) and not _COMMODITY.fullmatch(code):
            yield f"{base}.commodity_code", {"value": _short(code)}


@rule("V-COMMODITY-UNKNOWN-HS6", "warning", "6/14")
def _commodity_known(ctx: Context) -> Iterator[Hit]:
    for base, item in _items(ctx.decl):
        code = item.commodity_code
        if isinstance(code, str) and _COMMODITY.fullmatch(code) and not ctx.ref.is_hs(code[:6]):
            yield f"{base}.commodity_code", {"value": code, "hs6": code[:6]}


@rule("V-TRANSPORT-MODE", "error", "7/4")
def _transport_mode(ctx: Context) -> Iterator[Hit]:
    t = ctx.decl.transport
    if t is None:
        return
    for name in ("mode_at_border", "mode_inland"):
        value = getattr(t, name)
        if not _blank(value) and not ctx.ref.is_transport_mode(value):
            yield f"transport.{name}", {"value": _short(value)}


_PROCEDURE = re.compile(r"[0-9]{4}")
_ADDITIONAL_PROCEDURE = re.compile(r"[A-Z0-9]{3}")


@rule("V-PROCEDURE-FORMAT", "error", "1/10")
def _procedure(ctx: Context) -> Iterator[Hit]:
    for base, item in _items(ctx.decl):
        code = item.procedure_code
        if not _blank(code) and not _PROCEDURE.fullmatch(code):
            yield f"{base}.procedure_code", {"value": _short(code)}


@rule("V-ADDITIONAL-PROCEDURE-FORMAT", "error", "1/11")
def _additional_procedure(ctx: Context) -> Iterator[Hit]:
    for base, item in _items(ctx.decl):
        for j, code in enumerate(item.additional_procedure_codes):
            if not isinstance(code, str) or not _ADDITIONAL_PROCEDURE.fullmatch(code):
                yield f"{base}.additional_procedure_codes[{j}]", {"value": _short(code)}


@rule("V-MASS-NET-GT-GROSS", "error", "6/1")
def _masses(ctx: Context) -> Iterator[Hit]:
    for base, item in _items(ctx.decl):
        net, gross = item.net_mass, item.gross_mass
        if net is not None and gross is not None and net > gross:
            yield f"{base}.net_mass", {"net": str(net), "gross": str(gross)}


@rule("V-TOTAL-ITEMS", "error", "1/9")
def _total_items(ctx: Context) -> Iterator[Hit]:
    d = ctx.decl
    if d.total_items is not None and d.total_items != len(d.goods_items):
        yield "total_items", {"declared": d.total_items, "counted": len(d.goods_items)}


@rule("V-TOTAL-PACKAGES", "error", "6/18")
def _total_packages(ctx: Context) -> Iterator[Hit]:
    d = ctx.decl
    if d.total_packages is None:
        return
    counted = sum(p.number or 0 for item in d.goods_items for p in item.packages)
    if d.total_packages != counted:
        yield "total_packages", {"declared": d.total_packages, "counted": counted}


@rule("V-TOTAL-GROSS-MASS", "warning", "6/5")
def _total_gross_mass(ctx: Context) -> Iterator[Hit]:
    d = ctx.decl
    if d.total_gross_mass is None or not d.goods_items:
        return
    masses = [item.gross_mass for item in d.goods_items]
    if any(m is None for m in masses):
        return
    counted = sum(masses, Decimal(0))
    if abs(counted - d.total_gross_mass) > Decimal("0.001"):
        yield "total_gross_mass", {"declared": str(d.total_gross_mass), "counted": str(counted)}


@rule("V-SEQUENCE", "error", "1/6")
def _sequence(ctx: Context) -> Iterator[Hit]:
    items = ctx.decl.goods_items
    if all(item.sequence is None for item in items):
        return  # implied by the order of the items
    for i, item in enumerate(items):
        if item.sequence != i + 1:
            yield f"goods_items[{i}].sequence", {"value": item.sequence if item.sequence
                                                 is not None else "", "expected": i + 1}


_LRN = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]{0,20}[\x21-\x7e])?")


@rule("V-LRN-FORMAT", "error", "2/5")
def _lrn_format(ctx: Context) -> Iterator[Hit]:
    lrn = ctx.decl.lrn
    if lrn is not None and not (isinstance(lrn, str) and _LRN.fullmatch(lrn)):
        yield "lrn", {"value": _short(lrn)}


@rule("V-LRN-TAKEN", "error", "2/5")
def _lrn_taken(ctx: Context) -> Iterator[Hit]:
    d = ctx.decl
    if ctx.lrn_taken is None or _blank(d.lrn) or d.declarant is None or _blank(d.declarant.id):
        return
    if ctx.lrn_taken(d.declarant.id, d.lrn, d.id):
        yield "lrn", {"value": d.lrn, "declarant": d.declarant.id}


@rule("V-MRN-FORMAT", "error", "2/x")
def _mrn_format(ctx: Context) -> Iterator[Hit]:
    mrn = ctx.decl.mrn
    if not _blank(mrn):
        problem = mrn_problem(mrn)
        if problem is not None and problem.code == "validation.V-MRN-FORMAT":
            yield "mrn", dict(problem.params)


@rule("V-MRN-CHECK-DIGIT", "error", "2/x")
def _mrn_check(ctx: Context) -> Iterator[Hit]:
    mrn = ctx.decl.mrn
    if not _blank(mrn):
        problem = mrn_problem(mrn)
        if problem is not None and problem.code == "validation.V-MRN-CHECK-DIGIT":
            yield "mrn", dict(problem.params)


@rule("V-MRN-PROCEDURE-LETTER", "warning", "2/x")
def _mrn_letter(ctx: Context) -> Iterator[Hit]:
    """UCC-IA Annex B: the 17th character names the procedure; a known letter of another
    procedure (a transit J on an import) says the MRN is not this declaration's.  A digit
    there (MRNs of countries outside the Union) is not a letter to check."""
    mrn = ctx.decl.mrn
    if not _blank(mrn) and mrn_problem(mrn) is None and mrn[16] in PROCEDURE_LETTERS:
        problem = mrn_letter_problem(mrn, ctx.decl)
        if problem is not None:
            yield "mrn", dict(problem.params)


@rule("V-REQUEST-MRN", "error", "2/x")
def _request_mrn(ctx: Context) -> Iterator[Hit]:
    """An amendment or invalidation request names the MRN of the declaration it changes."""
    d = ctx.decl
    if d.function in REQUESTS and _blank(d.mrn):
        yield "mrn", {"function": d.function}


@rule("V-REQUEST-VERSION", "error", "1/2")
def _request_version(ctx: Context) -> Iterator[Hit]:
    """A request made here (``amends`` names the declaration) is the version after the one
    it changes: version 1 cannot change anything."""
    d = ctx.decl
    if d.function in REQUESTS and not _blank(d.amends) and d.version < 2:
        yield "version", {"function": d.function, "version": d.version}


@rule("V-EXCHANGE-RATE-MISSING", "warning", "4/15")
def _exchange_rate(ctx: Context) -> Iterator[Hit]:
    d = ctx.decl
    national = ctx.ref.national_currency
    if (d.exchange_rate is None and ctx.ref.is_currency(d.invoice_currency)
            and d.invoice_currency != national):
        yield "exchange_rate", {"currency": d.invoice_currency, "national": national}


_VALUATION_METHODS = frozenset("123456")


@rule("V-VALUATION-METHOD", "error", "4/16")
def _valuation(ctx: Context) -> Iterator[Hit]:
    for base, item in _items(ctx.decl):
        m = item.valuation_method
        if not _blank(m) and m not in _VALUATION_METHODS:
            yield f"{base}.valuation_method", {"value": _short(m)}


@rule("V-REPRESENTATIVE-STATUS", "error", "3/21")
def _representative(ctx: Context) -> Iterator[Hit]:
    r = ctx.decl.representative
    if r is not None and not _blank(r.status) and r.status not in ("1", "2", "3"):
        yield "representative.status", {"value": _short(r.status)}


@rule("V-PACKAGE-KIND-UNKNOWN", "warning", "6/9")
def _package_kind(ctx: Context) -> Iterator[Hit]:
    for base, item in _items(ctx.decl):
        for j, p in enumerate(item.packages):
            if not _blank(p.kind) and ctx.ref.package_kind(p.kind) is None:
                yield f"{base}.packages[{j}].kind", {"value": _short(p.kind)}


_OFFICE = re.compile(r"[A-Z]{2}[A-Z0-9]{6}")


@rule("V-OFFICE-FORMAT", "error", "5/26")
def _office(ctx: Context) -> Iterator[Hit]:
    for name in ("customs_office", "exit_office", "supervising_office"):
        value = getattr(ctx.decl, name)
        if not _blank(value) and not _OFFICE.fullmatch(value):
            yield name, {"value": _short(value)}


for _code, _severity, _de, _check in CDS_RULES:  # the rest of the CDS declaration (#18)
    rule(_code, _severity, _de)(_check)  # type: ignore[arg-type]


@rule("V-INTERNAL", "error", "")
def _internal(ctx: Context) -> Iterator[Hit]:
    """Reported by :func:`validate` when a rule itself fails (a bug, never the user's)."""
    return iter(())


_RULE_BY_CODE = {r.code: r for r in RULES}
_ACTIVE = [r for r in RULES if r.code not in ("V-STRUCTURE", "V-INTERNAL")]
_ERROR_RULES = [r for r in _ACTIVE if r.severity == "error"]


# ---------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------

def validate(decl: Declaration | dict[str, Any], *, refdata: ReferenceData | None = None,
             lrn_taken: LrnTaken | None = None, errors_only: bool = False) -> list[Finding]:
    """Every finding on ``decl``, errors and warnings, in rule order.  Never raises on
    malformed input (a dict that is not a declaration is reported as ``V-STRUCTURE``).
    ``decl`` may also be the plain reading of a declaration (what the seal holds).

    ``errors_only``: only the rules that block (the single window, which rejects on
    errors and never shows warnings, skips the work of the others)."""
    if not isinstance(decl, Declaration) and not is_plain_declaration(decl):
        if not isinstance(decl, dict):
            return _structure_findings(None, type(decl).__name__)
        plain = plain_declaration(decl)  # the same values, without building the model
        try:
            decl = plain if plain is not None else Declaration.model_validate(decl)
        except ValidationError as exc:
            return _structure_findings(exc)
        except (ValueError, TypeError, RecursionError) as exc:  # pathological input
            return _structure_findings(None, type(exc).__name__)
    ctx = Context(decl, refdata or default_reference_data(), lrn_taken)
    findings: list[Finding] = []
    for r in _ERROR_RULES if errors_only else _ACTIVE:
        try:
            for path, params in r.check(ctx):
                findings.append(_finding(r, path, params))
        except Exception as exc:  # noqa: BLE001 - a broken rule must not hide the others
            findings.append(_finding(_RULE_BY_CODE["V-INTERNAL"], "",
                                     {"rule": r.code, "reason": type(exc).__name__}))
    return findings


def has_errors(findings: Iterable[Finding]) -> bool:
    """True when at least one finding blocks sealing."""
    return any(f.severity == "error" for f in findings)
