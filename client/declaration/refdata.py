"""Reference data, held offline: the code lists validation and the editor check against.

Comptoir must validate with no link to the single window, so every list ships as a seed
inside the package and is then updated by deltas the sync engine downloads.

Built-in seed
    Countries (ISO 3166-1 alpha-2) and currencies (ISO 4217) come from ``pycountry``
    with their French names from pycountry's own gettext catalogues.  Incoterms 2020,
    the retired Incoterms 2000 terms and the transport modes are fixed here (their names
    live in the ``refdata`` translation catalogues).  The rest is read from
    ``resources/refdata/*.csv``: UN/ECE Rec 21 package kinds, the HS nomenclature
    (2-, 4- and 6-digit codes), procedure and additional procedure codes, customs
    offices and the single window's error codes with English and French explanations.
    Lists published in English only get their French names from ``resources/refdata/fr/``
    (package kinds, additional procedure codes, HS chapters and sections: written by the
    Comptoir project; the 6-digit HS texts stay English for want of a French source).

Overrides (deltas from the sync engine)
    ``load_reference_data(folder)`` then applies every ``*.json`` file of ``folder`` in
    name order.  One file holds one delta of one list::

        {"list": "currencies", "version": 7,
         "entries": {"XCG": {"en": "Caribbean guilder", "fr": "Florin caribéen"},
                     "ANG": null}}

    ``list`` names the list: one of :data:`LISTS`, or the single window's name for it
    (the UK CDS / sandbox names in :data:`LIST_ALIASES`, e.g. ``countryCodes``;
    ``sandboxErrorCodes`` joins ``dms_errors`` so its rejection codes are explained too);
    other names are kept as extra lists (:meth:`ReferenceData.entries`).  ``version``
    is an integer (the highest applied per list is in :attr:`ReferenceData.versions`);
    deltas of one list apply in version order.  Each entry maps a code to its label (a
    string, or ``{"en": …, "fr": …}``) or to ``null`` to withdraw the code; entries
    not named are kept from the seed, so a single window that sends a short list never
    shrinks the codes Comptoir knows.  ``"replace": true`` makes the delta the whole
    list instead.  For ``settings`` (alias ``validationProfile``) the entries are plain
    values (``{"national_currency": "EUR"}``; ``{"en": "EUR"}`` is read as ``"EUR"``).
    A file that cannot be read or does not have this shape is skipped and named in
    :attr:`ReferenceData.problems`: a bad delta must never stop the app from validating
    with what it has.
"""

from __future__ import annotations

import csv
import gettext
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from client.common.i18n import DEFAULT_LANGUAGE, tr

Labels = dict[str, str]  # language -> label

LISTS = ("countries", "currencies", "package_kinds", "commodity_codes", "procedure_codes",
         "additional_procedure_codes", "customs_offices", "dms_errors", "document_codes",
         "settings")

# The single window's names for the lists (UK CDS code-list files, sandbox extras).
LIST_ALIASES = {
    "countryCodes": "countries", "currencyCodes": "currencies", "packageTypes": "package_kinds",
    "procedureCodes": "procedure_codes", "additionalProcedureCodes": "additional_procedure_codes",
    "customsOffices": "customs_offices", "dmsErrorCodes": "dms_errors",
    "sandboxErrorCodes": "dms_errors", "validationProfile": "settings",
    "hsNomenclature": "commodity_codes",
}
_LIST_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")

INCOTERMS_2020 = ("EXW", "FCA", "CPT", "CIP", "DAP", "DPU", "DDP", "FAS", "FOB", "CFR", "CIF")
# Incoterms 2000 terms withdrawn in 2010: what replaces each in Incoterms 2020.
RETIRED_INCOTERMS: dict[str, tuple[str, ...]] = {
    "DAF": ("DAP",),
    "DES": ("DAP",),
    "DEQ": ("DPU", "DAP"),
    "DDU": ("DAP",),
}
TRANSPORT_MODES = ("1", "2", "3", "4", "5", "6", "7", "8", "9")
# DE 1/2 additional declaration types (UCC DA Annex B, with the UK CDS customs clearance
# requests J, arrived, and K, pre-lodged: the C21 of the HMRC samples TT_IM005a and TT_IM011a)
# and DE 8/5 natures of transaction (the one-digit divisions and the two most used two-digit
# codes): names in ``refdata``.
ADDITIONAL_TYPES = ("A", "B", "C", "D", "E", "F", "J", "K", "X", "Y", "Z")
NATURES_OF_TRANSACTION = ("1", "11", "12", "2", "3", "4", "5", "6", "7", "8", "9")

# Customs codes outside ISO 3166-1 proper that single windows accept (UCC / CDS lists).
_EXTRA_COUNTRIES: dict[str, Labels] = {
    "XK": {"en": "Kosovo", "fr": "Kosovo"},
    "XI": {"en": "United Kingdom (Northern Ireland)", "fr": "Royaume-Uni (Irlande du Nord)"},
    "XC": {"en": "Ceuta", "fr": "Ceuta"},
    "XL": {"en": "Melilla", "fr": "Melilla"},
    "XS": {"en": "Serbia (former customs code)", "fr": "Serbie (ancien code douanier)"},
}
# UK CDS codes for the sectors of the North-West European continental shelf (DE 5/8).
for _code, _en, _fr in (
    ("ZB", "Belgian", "belge"),
    ("ZC", "Greek", "grec"),
    ("ZD", "Danish", "danois"),
    ("ZE", "Irish", "irlandais"),
    ("ZF", "French", "français"),
    ("ZG", "German", "allemand"),
    ("ZH", "Netherlands", "néerlandais"),
    ("ZJ", "Cyprus", "chypriote"),
    ("ZK", "Finnish", "finlandais"),
    ("ZL", "Italian", "italien"),
    ("ZN", "Norwegian", "norvégien"),
    ("ZS", "Swedish", "suédois"),
    ("ZU", "United Kingdom", "britannique"),
):
    _EXTRA_COUNTRIES[_code] = {
        "en": f"Continental shelf (North-West Europe), {_en} sector",
        "fr": f"Plateau continental (Europe du Nord-Ouest), secteur {_fr}",
    }
# ISO 4217 codes that are not money one invoices in.
_NOT_INVOICE_CURRENCIES = frozenset({"XTS", "XXX", "XAU", "XAG", "XPD", "XPT"})

DEFAULT_SETTINGS: dict[str, Any] = {"national_currency": "GBP"}


@dataclass(frozen=True)
class Incoterm:
    """An Incoterms rule: current (2020) or retired (2000) with its replacements."""

    code: str
    retired: bool = False
    replaced_by: tuple[str, ...] = ()

    def name(self, lang: str | None = None) -> str:
        return tr(f"refdata.incoterm.{self.code}", lang)

    def explanation(self, lang: str | None = None) -> str | None:
        """Why a retired term is refused, naming its 2020 replacement(s)."""
        if not self.retired:
            return None
        return tr("refdata.incoterm_retired", lang, code=self.code,
                  replacement=" / ".join(self.replaced_by))


_INCOTERMS: dict[str, Incoterm] = {c: Incoterm(c) for c in INCOTERMS_2020}
_INCOTERMS.update({c: Incoterm(c, True, r) for c, r in RETIRED_INCOTERMS.items()})


def _seed_rows(name: str) -> list[list[str]]:
    path = resources.files("resources") / "refdata" / name
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    return rows[1:]


def _seed_simple(name: str) -> dict[str, Labels]:
    return {r[0]: {"en": r[1]} for r in _seed_rows(name) if len(r) >= 2 and r[0]}


def _seed_bilingual(name: str) -> dict[str, Labels]:
    """code, en, fr rows (French optional)."""
    out: dict[str, Labels] = {}
    for r in _seed_rows(name):
        if len(r) >= 2 and r[0]:
            labels = {"en": r[1]}
            if len(r) >= 3 and r[2]:
                labels["fr"] = r[2]
            out[r[0]] = labels
    return out


def _gettext_fr(domain: str) -> Callable[[str], str]:
    import pycountry

    try:
        return gettext.translation(domain, pycountry.LOCALES_DIR, languages=["fr"]).gettext
    except OSError:  # a pycountry build without locales: English names stand in
        return lambda s: s


def _seed_countries() -> dict[str, Labels]:
    import pycountry

    fr = _gettext_fr("iso3166-1")
    out: dict[str, Labels] = {}
    for c in pycountry.countries:
        out[c.alpha_2] = {"en": getattr(c, "common_name", None) or c.name, "fr": fr(c.name)}
    out.update(_EXTRA_COUNTRIES)
    return out


def _seed_currencies() -> dict[str, Labels]:
    import pycountry

    fr = _gettext_fr("iso4217")
    return {c.alpha_3: {"en": c.name, "fr": fr(c.name)} for c in pycountry.currencies
            if c.alpha_3 not in _NOT_INVOICE_CURRENCIES}


def _with_french(seed: dict[str, Labels], name: str) -> dict[str, Labels]:
    """``seed`` with the French names of ``resources/refdata/fr/<name>`` (code, …, fr:
    the last column), for lists whose published source is English only."""
    for r in _seed_rows(f"fr/{name}"):
        if len(r) >= 2 and r[0] in seed and r[-1]:
            seed[r[0]]["fr"] = r[-1]
    return seed


@cache
def hs_sections(lang: str | None = None) -> dict[str, str]:
    """HS chapter (2 digits) -> the title of its section in ``lang``, where one is held
    (French: written by the Comptoir project; the published source is English only and is
    not shipped): lets "animaux" find the live animals of chapters 01 to 05."""
    if (lang or DEFAULT_LANGUAGE) != "fr":
        return {}
    titles = {r[0]: r[1] for r in _seed_rows("fr/hs_sections.csv") if len(r) >= 2}
    return {r[0]: titles[r[1]] for r in _seed_rows("fr/hs_chapters.csv")
            if len(r) >= 2 and r[1] in titles}


_SEEDS: dict[str, Callable[[], dict[str, Any]]] = {
    "countries": _seed_countries,
    "currencies": _seed_currencies,
    "package_kinds": lambda: _with_french(_seed_simple("package_kinds.csv"),
                                          "package_kinds.csv"),
    "commodity_codes": lambda: _with_french(_seed_simple("hs6.csv"), "hs_chapters.csv"),
    "procedure_codes": lambda: _seed_bilingual("procedure_codes.csv"),
    "additional_procedure_codes": lambda: _with_french(
        _seed_simple("additional_procedure_codes.csv"), "additional_procedure_codes.csv"),
    "customs_offices": lambda: _seed_simple("customs_offices.csv"),
    "dms_errors": lambda: _seed_bilingual("dms_errors.csv"),
    "document_codes": lambda: _seed_bilingual("document_codes.csv"),
    "settings": lambda: dict(DEFAULT_SETTINGS),
}


@cache
def _seed(name: str) -> dict[str, Any]:
    """The built-in seed of one list, read once per process (callers copy before editing)."""
    return _SEEDS[name]()


def _fold(text: str) -> str:
    """Case- and accent-insensitive form for searching ("Chevaux" finds "chevaux")."""
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _label(labels: Labels | None, lang: str | None) -> str | None:
    if not labels:
        return None
    return labels.get(lang or DEFAULT_LANGUAGE) or labels.get(DEFAULT_LANGUAGE) \
        or next(iter(labels.values()), None)


class ReferenceData:
    """The code lists in force: the seed plus the deltas applied over it.

    Lists load lazily on first use (countries and currencies need pycountry, the HS
    nomenclature is ~7,000 rows), so starting the CLI stays cheap.
    """

    def __init__(self, deltas: Iterable[dict[str, Any]] = ()) -> None:
        self._deltas: dict[str, list[dict[str, Any]]] = {}
        self._lists: dict[str, dict[str, Any]] = {}
        self._labels: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self._hs_folded: dict[str, dict[str, str]] = {}
        self.versions: dict[str, int] = {}
        self.problems: list[str] = []
        for d in deltas:
            name = LIST_ALIASES.get(d["list"], d["list"])
            self._deltas.setdefault(name, []).append(d)
            self.versions[name] = max(self.versions.get(name, 0), d["version"])
        for found in self._deltas.values():
            found.sort(key=lambda d: d["version"])

    # -- plumbing -----------------------------------------------------------------------
    def entries(self, name: str) -> dict[str, Any]:
        """One list as ``{code: {lang: label}}`` (``settings``: ``{key: value}``)."""
        got = self._lists.get(name)
        if got is None:
            deltas = self._deltas.get(name)
            got = _seed(name) if name in _SEEDS else {}
            if deltas:
                got = dict(got)
                for delta in deltas:
                    if delta.get("replace") is True:
                        got = dict(DEFAULT_SETTINGS) if name == "settings" else {}
                    for code, value in delta["entries"].items():
                        if value is None:
                            got.pop(code, None)
                        elif name == "settings":
                            got[code] = value.get("en") if isinstance(value, dict) else value
                        elif isinstance(value, str):
                            got[code] = {"en": value}
                        else:
                            got[code] = {k: v for k, v in value.items() if isinstance(v, str)}
            self._lists[name] = got
        return got

    @property
    def national_currency(self) -> str:
        """The currency customs values are declared in (exchange rate needed otherwise)."""
        return str(self.entries("settings").get("national_currency", "GBP"))

    # -- countries, currencies ----------------------------------------------------------
    def is_country(self, code: Any) -> bool:
        return isinstance(code, str) and code in self.entries("countries")

    def country_name(self, code: str, lang: str | None = None) -> str | None:
        return _label(self.entries("countries").get(code), lang)

    def is_currency(self, code: Any) -> bool:
        return isinstance(code, str) and code in self.entries("currencies")

    def currency_name(self, code: str, lang: str | None = None) -> str | None:
        return _label(self.entries("currencies").get(code), lang)

    # -- Incoterms, transport -----------------------------------------------------------
    def incoterm(self, code: Any) -> Incoterm | None:
        """The Incoterms rule for ``code`` (2020, or retired with ``retired=True``)."""
        return _INCOTERMS.get(code) if isinstance(code, str) else None

    def is_additional_type(self, code: Any) -> bool:
        """A DE 1/2 additional declaration type the single window takes."""
        return isinstance(code, str) and code in ADDITIONAL_TYPES

    def is_transport_mode(self, code: Any) -> bool:
        return isinstance(code, str) and code in TRANSPORT_MODES

    def transport_mode_name(self, code: str, lang: str | None = None) -> str | None:
        return tr(f"refdata.transport_mode.{code}", lang) if code in TRANSPORT_MODES else None

    # -- goods ----------------------------------------------------------------------------
    def package_kind(self, code: Any) -> str | None:
        """The UN/ECE Rec 21 name of a package kind, None when unknown."""
        if not isinstance(code, str):
            return None
        return _label(self.entries("package_kinds").get(code), None)

    def is_hs(self, code: Any) -> bool:
        """True for a known HS chapter (2), heading (4) or subheading (6 digits)."""
        return isinstance(code, str) and code in self.entries("commodity_codes")

    def hs_description(self, code6: str, lang: str | None = None) -> str | None:
        """The HS description (English where no translation is held)."""
        return _label(self.entries("commodity_codes").get(code6), lang)

    def find_commodity(self, query: str, lang: str | None = None,
                       limit: int = 30) -> list[tuple[str, str]]:
        """Commodity finder (DE 6/14): 6-digit subheadings whose description, or that of
        their heading or chapter, holds every word of ``query``; digits match code prefixes.

        Ranked by how many words the subheading's own text holds, then by code, so that
        "horses live" puts 0101 21/29 first.  Returns (code, "subheading — heading").
        """
        words = [_fold(w) for w in (query or "").split() if w.strip()][:8]
        if not words:
            return []
        labelled = dict(self._labelled("commodity_codes", lang))
        folded = self._hs_folded.get(lang or DEFAULT_LANGUAGE)
        if folded is None:
            sections = hs_sections(lang)
            folded = self._hs_folded[lang or DEFAULT_LANGUAGE] = {
                c: _fold(f"{t} {sections.get(c, '')}" if len(c) == 2 else t)
                for c, t in labelled.items()}
        digits = [w for w in words if w.isdigit()]
        text_words = [w for w in words if not w.isdigit()]
        found: list[tuple[int, str]] = []
        for code, own in folded.items():
            if len(code) != 6 or not all(code.startswith(d) for d in digits):
                continue
            context = own + " " + folded.get(code[:4], "") + " " + folded.get(code[:2], "")
            if all(w in context for w in text_words):
                found.append((-sum(w in own for w in text_words), code))
        found.sort()
        return [(c, self._hs_line(c, labelled, lang)) for _, c in found[:limit]]

    def _hs_line(self, code: str, labelled: dict[str, str], lang: str | None) -> str:
        """"subheading — heading", after the chapter where that is in another language than
        the subheading (French: only the chapters are translated)."""
        line = f"{labelled[code]} — {labelled.get(code[:4], code[:4])}"
        chapter = labelled.get(code[:2])
        english = _label(self.entries("commodity_codes").get(code[:2]), DEFAULT_LANGUAGE)
        if (lang or DEFAULT_LANGUAGE) != DEFAULT_LANGUAGE and chapter and chapter != english:
            line = f"{chapter} › {line}"
        return line

    def procedure_code_name(self, code: str, lang: str | None = None) -> str | None:
        return _label(self.entries("procedure_codes").get(code), lang)

    def additional_procedure_code_name(self, code: str, lang: str | None = None) -> str | None:
        return _label(self.entries("additional_procedure_codes").get(code), lang)

    def customs_office_name(self, code: str, lang: str | None = None) -> str | None:
        return _label(self.entries("customs_offices").get(code), lang)

    def is_customs_office(self, code: Any) -> bool:
        return isinstance(code, str) and code in self.entries("customs_offices")

    # -- single-window errors -----------------------------------------------------------
    def explain_error(self, code: str, lang: str | None = None) -> str | None:
        """A rejection code explained in the user's language (English where untranslated)."""
        return _label(self.entries("dms_errors").get(code), lang)

    # -- editor ---------------------------------------------------------------------------
    def completions(self, list_name: str, prefix: str, lang: str | None = None,
                    limit: int = 50) -> list[tuple[str, str]]:
        """Codes for the editor: code-prefix matches first, then label matches."""
        labelled = self._labelled(list_name, lang)
        p = (prefix or "").strip().casefold()
        by_code = [(c, lbl) for c, lbl in labelled if c.casefold().startswith(p)]
        if len(by_code) >= limit or not p:
            return by_code[:limit]
        seen = {c for c, _ in by_code}
        by_label = [(c, lbl) for c, lbl in labelled if c not in seen and p in lbl.casefold()]
        return (by_code + by_label)[:limit]

    def _labelled(self, list_name: str, lang: str | None) -> list[tuple[str, str]]:
        key = (list_name, lang or DEFAULT_LANGUAGE)
        got = self._labels.get(key)
        if got is None:
            got = self._labels[key] = self._make_labelled(list_name, lang)
        return got

    def _make_labelled(self, list_name: str, lang: str | None) -> list[tuple[str, str]]:
        if list_name == "incoterms":
            return [(c, _INCOTERMS[c].name(lang)) for c in INCOTERMS_2020]
        if list_name == "transport_modes":
            return [(c, self.transport_mode_name(c, lang) or c) for c in TRANSPORT_MODES]
        if list_name == "additional_types":
            return [(c, tr(f"refdata.additional_type.{c}", lang)) for c in ADDITIONAL_TYPES]
        if list_name == "natures_of_transaction":
            return [(c, tr(f"refdata.nature_of_transaction.{c}", lang))
                    for c in NATURES_OF_TRANSACTION]
        if list_name == "settings" or (list_name not in LISTS and list_name not in self._deltas):
            raise ValueError(f"no reference list {list_name!r}")
        entries = self.entries(list_name)
        return sorted((c, _label(v, lang) or c) for c, v in entries.items())


def _read_delta(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("list"), str) \
            or not _LIST_NAME.fullmatch(data["list"]):
        raise ValueError("not a reference-data delta (list)")
    if not isinstance(data.get("version"), int) or not isinstance(data.get("entries"), dict):
        raise ValueError("not a reference-data delta (version/entries)")
    settings = LIST_ALIASES.get(data["list"], data["list"]) == "settings"
    for code, value in data["entries"].items():
        ok = (value is None or settings or isinstance(value, str)
              or (isinstance(value, dict) and all(isinstance(v, str) for v in value.values())))
        if not ok:
            raise ValueError(f"bad entry {code!r}")
    return data


def load_reference_data(folder: Path | None = None) -> ReferenceData:
    """The built-in seed, then the deltas stored in ``folder`` (see module docstring)."""
    deltas: list[dict[str, Any]] = []
    problems: list[str] = []
    if folder is not None and Path(folder).is_dir():
        for path in sorted(Path(folder).glob("*.json")):
            try:
                deltas.append(_read_delta(path))
            except (OSError, ValueError, UnicodeDecodeError) as exc:
                problems.append(f"{path.name}: {exc}")
    ref = ReferenceData(deltas)
    ref.problems = problems
    return ref


@cache
def default_reference_data() -> ReferenceData:
    """The built-in seed, shared by the whole process."""
    return ReferenceData()


_by_folder: dict[Path, tuple[tuple[tuple[str, int, int], ...], ReferenceData]] = {}


def profile_reference_data(folder: Path) -> ReferenceData:
    """The reference data of a profile (``<home>/refdata``), reloaded only when a delta
    file there changed: cheap enough to call before every validation."""
    folder = Path(folder)
    try:
        stamp = tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size)
                             for p in folder.glob("*.json")))
    except OSError:
        stamp = ()
    if not stamp:
        return default_reference_data()
    held = _by_folder.get(folder)
    if held is not None and held[0] == stamp:
        return held[1]
    ref = load_reference_data(folder)
    _by_folder[folder] = (stamp, ref)
    return ref
