"""Offline reference data: the seed, the French names, deltas from the sync engine."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from client.declaration.refdata import (
    INCOTERMS_2020,
    ReferenceData,
    default_reference_data,
    load_reference_data,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ref() -> ReferenceData:
    return load_reference_data()


def test_countries_in_english_and_french(ref: ReferenceData) -> None:
    assert ref.is_country("FR") and ref.is_country("GB") and ref.is_country("XK")
    assert not ref.is_country("UK") and not ref.is_country("fr") and not ref.is_country(None)
    assert ref.country_name("DE", "en") == "Germany"
    assert ref.country_name("DE", "fr") == "Allemagne"
    assert ref.country_name("GB", "fr") == "Royaume-Uni"
    assert ref.country_name("ZZ", "fr") is None


def test_currencies_in_english_and_french(ref: ReferenceData) -> None:
    assert ref.is_currency("EUR") and ref.is_currency("XOF")
    assert not ref.is_currency("EURO") and not ref.is_currency("XXX") and not ref.is_currency("eur")
    assert ref.currency_name("GBP", "en") == "Pound Sterling"
    assert ref.currency_name("GBP", "fr") == "Livre sterling"


def test_incoterms_2020_and_retired_terms(ref: ReferenceData) -> None:
    assert len(INCOTERMS_2020) == 11
    for code in INCOTERMS_2020:
        term = ref.incoterm(code)
        assert term is not None and not term.retired and term.explanation() is None
        assert term.name("en") != term.name("fr")
    ddu = ref.incoterm("DDU")
    assert ddu is not None and ddu.retired and ddu.replaced_by == ("DAP",)
    assert "DAP" in (ddu.explanation("en") or "") and "Incoterms 2020" in (ddu.explanation("fr") or "")
    deq = ref.incoterm("DEQ")
    assert deq is not None and "DPU" in (deq.explanation("fr") or "")
    assert ref.incoterm("XYZ") is None and ref.incoterm(None) is None


def test_transport_modes(ref: ReferenceData) -> None:
    assert all(ref.is_transport_mode(str(n)) for n in range(1, 10))
    assert not any(ref.is_transport_mode(v) for v in ("0", "10", "A", "", None, 1))
    assert ref.transport_mode_name("1", "fr") == "Transport maritime"
    assert ref.transport_mode_name("4", "en") == "Air transport"


def test_goods_lists(ref: ReferenceData) -> None:
    assert ref.package_kind("CT") == "Carton"
    assert ref.package_kind("SX") is None  # withdrawn from Rec 21
    assert ref.package_kind("ZZZ") is None
    assert ref.hs_description("010121", "fr") == "Horses; live, pure-bred breeding animals"
    assert ref.is_hs("8471") and ref.is_hs("84") and ref.is_hs("847130")
    assert not ref.is_hs("000000") and not ref.is_hs("8471300")
    assert ref.procedure_code_name("1040")
    assert ref.additional_procedure_code_name("000")
    assert ref.is_customs_office("GBDVR001") and ref.customs_office_name("GBDVR001")


def test_error_codes_explained_with_english_fallback(ref: ReferenceData) -> None:
    assert ref.explain_error("CDS12003", "en").startswith("Uniqueness Error")
    assert "LRN" in ref.explain_error("CDS12003", "fr") and "Erreur" in ref.explain_error("CDS12003", "fr")
    # untranslated: English
    assert ref.explain_error("CDS12096", "fr") == ref.explain_error("CDS12096", "en")
    assert ref.explain_error("NOPE", "fr") is None
    with open(REPO / "resources" / "refdata" / "dms_errors.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert sum(1 for r in rows if r["fr"]) >= 30


def test_completions(ref: ReferenceData) -> None:
    fr = ref.completions("countries", "allem", "fr")
    assert ("DE", "Allemagne") in fr
    assert ref.completions("countries", "DE", "en")[0] == ("DE", "Germany")
    assert [c for c, _ in ref.completions("currencies", "EU", "fr")][0] == "EUR"
    assert {c for c, _ in ref.completions("incoterms", "", "en")} == set(INCOTERMS_2020)
    hs = [c for c, _ in ref.completions("commodity_codes", "8471", "en")]
    by_code = [c for c in hs if c.startswith("8471")]
    assert hs[0] == "8471" and len(by_code) >= 5 and hs[: len(by_code)] == by_code
    assert ref.completions("package_kinds", "CT", "en")[0] == ("CT", "Carton")
    assert len(ref.completions("commodity_codes", "", "en", limit=10)) == 10
    with pytest.raises(ValueError):
        ref.completions("no_such_list", "", "en")


def _write(folder: Path, name: str, data: object) -> None:
    (folder / name).write_text(json.dumps(data), encoding="utf-8")


def test_deltas_override_the_seed(tmp_path: Path) -> None:
    _write(tmp_path, "001-currencies.json", {"list": "currencies", "version": 3, "entries": {
        "XQQ": {"en": "Test dollar", "fr": "Dollar d'essai"}, "XCG": {"en": "Caribbean guilder", "fr": "Florin caribéen"}, "MGA": None}})
    _write(tmp_path, "002-currencies.json", {"list": "currencies", "version": 5, "entries": {
        "XCG": {"en": "Caribbean Guilder", "fr": "Florin caribéen"}}})
    _write(tmp_path, "003-settings.json", {"list": "settings", "version": 1,
                                          "entries": {"national_currency": "EUR"}})
    _write(tmp_path, "004-hs.json", {"list": "commodity_codes", "version": 2,
                                     "entries": {"000000": "Test goods"}})
    (tmp_path / "005-broken.json").write_text("{not json", encoding="utf-8")
    _write(tmp_path, "006-wrong.json", {"list": "../etc", "version": 1, "entries": {}})
    _write(tmp_path, "007-badentry.json", {"list": "countries", "version": 9, "entries": {"QQ": 5}})
    ref = load_reference_data(tmp_path)
    assert ref.is_currency("XCG") and ref.currency_name("XCG", "en") == "Caribbean Guilder"
    assert ref.is_currency("XQQ") and ref.currency_name("XQQ", "fr") == "Dollar d'essai"
    assert not ref.is_currency("MGA")
    assert ref.national_currency == "EUR"
    assert ref.is_hs("000000") and ref.hs_description("000000") == "Test goods"
    assert ref.versions == {"currencies": 5, "settings": 1, "commodity_codes": 2}
    assert sorted(p.split(":")[0] for p in ref.problems) == [
        "005-broken.json", "006-wrong.json", "007-badentry.json"]
    assert not ref.is_country("QQ")
    # the shared default is untouched by anyone's deltas
    default = default_reference_data()
    assert default.is_currency("MGA") and not default.is_currency("XQQ")
    assert default.national_currency == "GBP"
    assert load_reference_data(tmp_path / "absent").versions == {}


def test_single_window_list_names_and_replacement(tmp_path: Path) -> None:
    # what sync/engine.py stores from the sandbox: HMRC list names, full (short) lists
    _write(tmp_path, "countryCodes.json", {"list": "countryCodes", "version": 4, "entries": {
        "GB": {"en": "United Kingdom", "fr": "Royaume-Uni"}, "QZ": {"en": "Testland", "fr": "Testlande"}}})
    _write(tmp_path, "sandboxErrorCodes.json", {"list": "sandboxErrorCodes", "version": 2,
                                                "entries": {"CHAIN_FORK": {"en": "Fork", "fr": "Fourche"}}})
    _write(tmp_path, "validationProfile.json", {"list": "validationProfile", "version": 3,
                                                "entries": {"mrn_country": {"en": "GB", "fr": "GB"}}})
    _write(tmp_path, "weather.json", {"list": "weather", "version": 1, "entries": {"S": "Sunny"}})
    _write(tmp_path, "pk.json", {"list": "package_kinds", "version": 7, "replace": True,
                                 "entries": {"CT": "Carton", "ZZ": "Mystery box"}})
    ref = load_reference_data(tmp_path)
    assert ref.problems == []
    assert ref.is_country("QZ") and ref.country_name("QZ", "fr") == "Testlande"
    assert ref.is_country("CN")  # a short list never shrinks what is known
    assert ref.explain_error("CHAIN_FORK", "fr") == "Fourche"
    assert ref.explain_error("CDS10001", "en")
    assert ref.entries("settings")["mrn_country"] == "GB" and ref.national_currency == "GBP"
    assert ref.entries("weather") == {"S": {"en": "Sunny"}}
    assert ref.completions("weather", "s", "fr") == [("S", "Sunny")]
    assert set(ref.entries("package_kinds")) == {"CT", "ZZ"}
    assert ref.versions == {"countries": 4, "dms_errors": 2, "settings": 3, "weather": 1,
                            "package_kinds": 7}


def test_default_is_cached_and_lazy() -> None:
    assert default_reference_data() is default_reference_data()
    code = ("import sys, client.declaration.refdata as r; d = r.load_reference_data();"
            "assert 'pycountry' not in sys.modules; d.is_country('FR');"
            "assert 'pycountry' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_seed_matches_the_published_lists(conformance: Path) -> None:
    with open(conformance / "codelists" / "unece-rec21-package-kinds.csv", encoding="utf-8") as f:
        rec21 = {r["Code"].strip() for r in csv.DictReader(f) if r["Status"].strip() != "X"}
    ref = load_reference_data()
    assert set(ref.entries("package_kinds")) == rec21
    with open(conformance / "codelists" / "hs-nomenclature.csv", encoding="utf-8") as f:
        hs6 = {r["hscode"] for r in csv.DictReader(f) if r["level"] == "6"}
    held = {c for c in ref.entries("commodity_codes") if len(c) == 6}
    assert held == hs6 and len(hs6) > 5000


def test_profile_reference_data_reloads_on_change(tmp_path: Path) -> None:
    from client.declaration.refdata import profile_reference_data

    assert profile_reference_data(tmp_path / "none") is default_reference_data()
    _write(tmp_path, "c.json", {"list": "currencies", "version": 1, "entries": {"XQA": "A"}})
    first = profile_reference_data(tmp_path)
    assert first.is_currency("XQA") and profile_reference_data(tmp_path) is first
    _write(tmp_path, "c.json", {"list": "currencies", "version": 2, "entries": {"XQB": "Bb"}})
    second = profile_reference_data(tmp_path)
    assert second is not first and second.is_currency("XQB") and not second.is_currency("XQA")


def test_picker_lists_for_the_guided_editor(ref: ReferenceData) -> None:
    """DE 1/2, 2/3 and 8/5 have lists of their own, named in both languages (never a
    catalogue key standing in for a missing name)."""
    for name, must in (("additional_types", {"A", "D", "Z"}),
                       ("natures_of_transaction", {"1", "11", "9"}),
                       ("document_codes", {"N935", "N380", "N740", "999L"}),
                       ("procedure_codes", {"4000", "7100"})):
        en = dict(ref.completions(name, "", "en", limit=10_000))
        fr = dict(ref.completions(name, "", "fr", limit=10_000))
        assert must <= en.keys() and en.keys() == fr.keys(), name
        for code in en:
            assert not en[code].startswith("refdata.") and not fr[code].startswith("refdata."), code
            assert en[code] != fr[code], (name, code)  # the French name is French
    assert all(len(c) == 4 and c[1:].isalnum() for c, _ in
               ref.completions("document_codes", "", "en", limit=1000))
    assert ref.completions("document_codes", "facture", "fr")[0][0] in {"N935", "N380", "N325"}


def test_procedure_code_seed_matches_the_published_list(conformance: Path) -> None:
    """The published UK CDS procedure codes (English names) are those held, word for word,
    for the codes it lists."""
    published = {r["code"]: r["en"] for r in json.loads(
        (conformance / "codelists" / "hmrc" / "procedureCodes.json").read_text(encoding="utf-8"))}
    held = load_reference_data().entries("procedure_codes")
    shared = held.keys() & published.keys()
    assert len(shared) >= 15
    assert {c: held[c]["en"] for c in shared} == {c: published[c] for c in shared}
