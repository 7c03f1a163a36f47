"""Movement Reference Numbers (MRN): format, EU check digit, allocation.

An MRN has 18 characters: a 2-digit year, the ISO 3166-1 alpha-2 code of the country
that allocated it, 13 alphanumerics (upper case) and a check digit.  The check digit is
computed the EU way (UCC DA Annex B, "MRN"): each of the first 17 characters is weighted
by ``2**position``; digits count at face value and letters from A=10 upwards, skipping
the multiples of 11 (so B=12, L=23, V=34); the weighted sum mod 11, then mod 10.

The same code serves the client (validating an MRN received from the single window or
typed by an officer) and the sandbox server (allocating MRNs that pass that check).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

from client.common.i18n import Message

MRN_LENGTH = 18
_MRN = re.compile(r"[0-9]{2}[A-Z]{2}[A-Z0-9]{13}[0-9]")
_ALNUM = frozenset(string.ascii_uppercase + string.digits)


def _letter_values() -> dict[str, int]:
    values: dict[str, int] = {d: int(d) for d in string.digits}
    n = 10
    for letter in string.ascii_uppercase:
        if n % 11 == 0:
            n += 1
        values[letter] = n
        n += 1
    return values


CHAR_VALUES: dict[str, int] = _letter_values()


def mrn_check_digit(first17: str) -> str:
    """The EU check digit of the first 17 characters of an MRN.

    Raises ValueError for anything but 17 upper-case alphanumerics: a check digit of
    garbage would only hide the garbage.
    """
    if len(first17) != MRN_LENGTH - 1 or not set(first17) <= _ALNUM:
        raise ValueError("an MRN check digit needs 17 upper-case alphanumerics")
    total = sum(CHAR_VALUES[c] << i for i, c in enumerate(first17))
    return str(total % 11 % 10)


def mrn_problem(mrn: str) -> Message | None:
    """Why ``mrn`` is not a valid MRN (a translatable message), or None when it is."""
    if not isinstance(mrn, str) or not _MRN.fullmatch(mrn):
        shown = mrn[:40] if isinstance(mrn, str) else repr(mrn)[:40]
        return Message("validation.V-MRN-FORMAT", {"value": shown})
    expected = mrn_check_digit(mrn[:17])
    if mrn[17] != expected:
        return Message("validation.V-MRN-CHECK-DIGIT",
                       {"value": mrn, "found": mrn[17], "expected": expected})
    return None


def is_valid_mrn(mrn: str) -> bool:
    """True when ``mrn`` has the MRN format and a correct check digit."""
    return mrn_problem(mrn) is None


# UCC-IA (Reg. 2015/2447) Annex B, Title II, "MRN": the 17th character says which
# procedure the MRN belongs to.  Only the letters a Comptoir declaration can lead to are
# allocated; the others are listed so that a received MRN is understood.
PROCEDURE_LETTERS: dict[str, str] = {
    "A": "export only",
    "B": "export and exit summary declaration",
    "C": "exit summary declaration only",
    "D": "re-export notification",
    "E": "dispatch of goods in relation with special fiscal territories",
    "J": "transit declaration only",
    "K": "transit declaration and exit summary declaration",
    "L": "transit declaration and entry summary declaration",
    "M": "proof of the customs status of Union goods / customs goods manifest",
    "R": "import declaration only",
    "S": "import declaration and entry summary declaration",
    "T": "mixed consignments",
    "V": "introduction of goods in relation with special fiscal territories",
}
# Which letters fit a declaration of each family (a received MRN may carry the combined
# letter: an import lodged with its entry summary data is S, still an import).
FITTING_LETTERS: dict[str, frozenset[str]] = {
    "import": frozenset("RS"), "export": frozenset("AB"), "transit": frozenset("JKLT"),
    "fiscal_dispatch": frozenset("E"), "fiscal_introduction": frozenset("V"),
}
ALLOCATED: dict[str, str] = {"import": "R", "export": "A", "transit": "J",
                             "fiscal_dispatch": "E", "fiscal_introduction": "V"}
# DE 1/10 requested procedures that send goods out (export 10, re-export 31, permanent
# export after outward processing 11, 21, 22, 23): a CO declaration with one dispatches.
_OUTBOUND = ("10", "11", "21", "22", "23", "31")


def procedure_family(decl_type: str | None, transit_type: str | None = None,
                     procedure_code: str | None = None) -> str:
    """The MRN procedure family of a declaration: DE 1/1 type, DE 1/3 transit type and
    the first item's DE 1/10 procedure code."""
    if transit_type and transit_type.strip():
        return "transit"
    if decl_type == "EX":
        return "export"
    if decl_type == "CO":
        outbound = bool(procedure_code) and str(procedure_code)[:2] in _OUTBOUND
        return "fiscal_dispatch" if outbound else "fiscal_introduction"
    return "import"


def _family_of(doc: Mapping[str, Any] | Any) -> str:
    get = doc.get if isinstance(doc, Mapping) else (lambda k: getattr(doc, k, None))
    code = get("procedure_code")
    if code is None:
        items = get("goods_items") or []
        first = items[0] if items else None
        code = (first.get("procedure_code") if isinstance(first, Mapping)
                else getattr(first, "procedure_code", None))
    return procedure_family(get("type"), get("transit_type"), code)


def procedure_letter(doc: Mapping[str, Any] | Any) -> str:
    """The letter allocated at position 17 for a declaration (a JSON document or a model)."""
    return ALLOCATED[_family_of(doc)]


def mrn_letter_problem(mrn: str, doc: Mapping[str, Any] | Any) -> Message | None:
    """A finding when a well-formed MRN's procedure letter does not fit the declaration."""
    if not isinstance(mrn, str) or len(mrn) != MRN_LENGTH:
        return None
    family = _family_of(doc)
    letter = mrn[16]
    if letter in FITTING_LETTERS[family]:
        return None
    return Message("validation.V-MRN-PROCEDURE-LETTER",
                   {"value": mrn, "letter": letter, "expected": ALLOCATED[family]})


def _base36(n: int, width: int) -> str:
    digits = string.digits + string.ascii_uppercase
    out = []
    for _ in range(width):
        n, r = divmod(n, 36)
        out.append(digits[r])
    return "".join(reversed(out))


def allocate_mrn(country: str, year: int, serial: int, procedure_letter: str = "") -> str:
    """A valid MRN for ``serial`` (the sandbox's allocator).

    ``year`` may be given as 2026 or 26; ``procedure_letter`` (one letter, e.g. the EU
    procedure category at position 17) is placed just before the check digit when given.
    Distinct serials give distinct MRNs (base-36 in the free positions).
    """
    country = country.upper()
    if len(country) != 2 or not country.isascii() or not country.isalpha():
        raise ValueError("country must be an ISO 3166-1 alpha-2 code")
    procedure_letter = procedure_letter.upper()
    if procedure_letter and (len(procedure_letter) != 1 or procedure_letter not in _ALNUM):
        raise ValueError("procedure_letter must be one alphanumeric")
    width = 13 - len(procedure_letter)
    if serial < 0 or serial >= 36**width:
        raise ValueError("serial out of range")
    first17 = f"{year % 100:02d}{country}{_base36(serial, width)}{procedure_letter}"
    return first17 + mrn_check_digit(first17)
