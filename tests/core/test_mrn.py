"""MRN format and the EU check digit (DESIGN.md), including the UK CDS samples."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from client.declaration.mrn import allocate_mrn, is_valid_mrn, mrn_check_digit, mrn_problem

# Worked by hand: value(c) * 2**position, summed, mod 11, mod 10.
#   "00GB0000000000000": G=17 at 2 -> 17*4=68, B=12 at 3 -> 12*8=96; 164 % 11 = 10 -> 0
#   "21GB0000000000000": 2*1 + 1*2 + 68 + 96 = 168; 168 % 11 = 3 -> 3
#   "00AL0000000000000": A=10 at 2 -> 40, L=23 (22 skipped) at 3 -> 184; 224 % 11 = 4 -> 4
#   "00VV0000000000000": V=34 (33 skipped) -> 34*4 + 34*8 = 408; 408 % 11 = 1 -> 1
WORKED = [("00GB0000000000000", "0"), ("21GB0000000000000", "3"),
          ("00AL0000000000000", "4"), ("00VV0000000000000", "1")]


@pytest.mark.parametrize(("first17", "digit"), WORKED)
def test_check_digit_worked_examples(first17: str, digit: str) -> None:
    assert mrn_check_digit(first17) == digit
    assert is_valid_mrn(first17 + digit)
    wrong = str((int(digit) + 1) % 10)
    assert not is_valid_mrn(first17 + wrong)


def test_known_good_mrns_from_published_samples() -> None:
    for mrn in ("20GB32VVZI0YMFGVR0", "21GB31AJB9S50C90R6", "24GBA4ZYBWXU1BSA00",
                "24GBDIRIGZ7QLCPAA8", "26GB2U87RWEK9YIAR0"):
        assert is_valid_mrn(mrn), mrn
    # the placeholder MRN used throughout the samples fails its check digit
    problem = mrn_problem("24GB34F7Y1O2CX8PT4")
    assert problem is not None and problem.code == "validation.V-MRN-CHECK-DIGIT"
    assert problem.params == {"value": "24GB34F7Y1O2CX8PT4", "found": "4", "expected": "2"}


@pytest.mark.parametrize("bad", ["", "24GB0YVJ3EXXES8AA", "24GB0YVJ3EXXES8AA00",
                                 "24gb0yvj3exxes8aa0", "2XGB0YVJ3EXXES8AA0", "2412" + "0" * 14,
                                 "24GB0YVJ3EXXES8AAX", "24GB0YVJ3EXX S8AA0", "24GB0YVJ3EXXÉS8AA0"])
def test_format_problems(bad: str) -> None:
    problem = mrn_problem(bad)
    assert problem is not None and problem.code == "validation.V-MRN-FORMAT"
    assert not is_valid_mrn(bad)


def test_non_string_is_a_problem_not_a_crash() -> None:
    assert not is_valid_mrn(None)  # type: ignore[arg-type]
    assert not is_valid_mrn(12345)  # type: ignore[arg-type]


def test_check_digit_refuses_garbage() -> None:
    for bad in ("", "00GB000000000000", "00gb0000000000000", "00GB00000000000-0"):
        with pytest.raises(ValueError):
            mrn_check_digit(bad)


def test_allocate_gives_valid_distinct_mrns() -> None:
    mrns = {allocate_mrn("GB", 2026, n) for n in range(2000)}
    assert len(mrns) == 2000
    assert all(is_valid_mrn(m) and m.startswith("26GB") for m in mrns)
    m = allocate_mrn("fr", 26, 36**12 - 1, "a")
    assert is_valid_mrn(m) and m[:4] == "26FR" and m[16] == "A"
    for args in (("GBR", 2026, 1), ("G1", 2026, 1), ("GB", 2026, -1), ("GB", 2026, 36**13)):
        with pytest.raises(ValueError):
            allocate_mrn(*args)


_VALUES = {**{str(d): d for d in range(10)},
           **dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                      [v for v in range(10, 39 + 3) if v % 11][:26], strict=True))}


def _recompute(mrn: str) -> bool:
    """An independent implementation, to tell the samples' MRNs apart consistently."""
    if not re.fullmatch(r"\d\d[A-Z]{2}[A-Z0-9]{13}\d", mrn):
        return False
    total = sum(_VALUES[c] * 2**i for i, c in enumerate(mrn[:17]))
    return total % 11 % 10 == int(mrn[17])


def test_cds_samples_mrns_told_apart(conformance: Path) -> None:
    found: set[str] = set()
    pattern = re.compile(r">(\d\d[A-Z]{2}[A-Z0-9]{13}\d)<")
    for folder in ("samples", "notifications"):
        for path in sorted((conformance / "hmrc-dms" / folder).glob("*.xml")):
            found.update(pattern.findall(path.read_text(encoding="utf-8", errors="replace")))
    assert len(found) >= 10
    verdicts = {m: is_valid_mrn(m) for m in found}
    assert verdicts == {m: _recompute(m) for m in found}
    # the published samples hold both kinds: the validator must say which is which
    assert any(verdicts.values()) and not all(verdicts.values())
