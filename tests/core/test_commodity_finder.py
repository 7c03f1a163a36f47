"""The HS reference data and the commodity finder, against the published nomenclature."""

from __future__ import annotations

import csv
import importlib.util
import random
from pathlib import Path

import pytest

from client.declaration.refdata import ReferenceData

REPO = Path(__file__).resolve().parents[2]
PUBLISHED = REPO.parent / "shared" / "conformance" / "codelists" / "hs-nomenclature.csv"
if not PUBLISHED.is_file():
    PUBLISHED = Path("/work/shared/conformance/codelists/hs-nomenclature.csv")

needs_published = pytest.mark.skipif(not PUBLISHED.is_file(),
                                     reason="../shared/conformance/codelists is not present")


def _script():
    spec = importlib.util.spec_from_file_location("build_hs_refdata",
                                                  REPO / "scripts" / "build_hs_refdata.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@needs_published
def test_shipped_hs_list_is_what_the_script_builds_from_the_published_csv() -> None:
    built = _script().build(PUBLISHED)
    assert (REPO / "resources" / "refdata" / "hs6.csv").read_text(encoding="utf-8") == built


@needs_published
def test_published_subheadings_are_found_by_the_words_of_their_description() -> None:
    with PUBLISHED.open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if len(r["hscode"]) == 6]
    assert len(rows) > 5000
    ref = ReferenceData()
    for row in random.Random(17).sample(rows, 60):
        words = [w.strip(",;:()") for w in row["description"].split()]
        words = [w for w in words if len(w) > 3][:3] or row["description"].split()[:1]
        codes = [c for c, _ in ref.find_commodity(" ".join(words), limit=10_000)]
        assert row["hscode"] in codes, (row["hscode"], words)


def test_finder_ranks_own_words_first_and_matches_code_prefixes() -> None:
    ref = ReferenceData()
    first = ref.find_commodity("horses live")[:2]
    assert [c for c, _ in first] == ["010121", "010129"]
    assert " — " in first[0][1]
    decaf = {c for c, _ in ref.find_commodity("0901 decaffeinated")}
    assert {"090112", "090122"} <= decaf and all(c.startswith("0901") for c in decaf)
    assert ref.find_commodity("") == []
    assert ref.find_commodity("HORSES") == ref.find_commodity("horses")
