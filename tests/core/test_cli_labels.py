"""The command line names fields as the editor does: label + DE number, items from 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from client.declaration.labels import field_label, place_label
from tests.core.test_cli import BAD_CODES
from tests.sync.helpers import comptoir as run
from tests.sync.helpers import ok

BAD = {**BAD_CODES, "lrn": "LABELS-1"}  # unknown country, currency, commodity code

EXPECTED = {
    "en": ("Country of dispatch (DE 5/14)", "Invoice currency (DE 4/10)",
           "Goods item 1 › Commodity code (DE 6/14)"),
    "fr": ("Pays d'expédition (DE 5/14)", "Monnaie de facturation (DE 4/10)",
           "Article 1 › Code marchandise (DE 6/14)"),
}
INTERNAL = ("country_of_dispatch", "invoice_currency", "goods_items[", "commodity_code")


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_validate_prints_the_editors_labels(home: Path, tmp_path: Path, lang: str) -> None:
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(BAD))
    p = run(home, "validate", str(f), env={"COMPTOIR_LANG": lang})
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    for label in EXPECTED[lang]:
        assert label in p.stdout, p.stdout
    for name in INTERNAL:
        assert name not in p.stdout, p.stdout
    # the JSON form keeps the machine path for scripts
    j = json.loads(run(home, "validate", str(f), "--json", env={"COMPTOIR_LANG": lang}).stdout)
    assert "goods_items[0].commodity_code" in {x["path"] for x in j}


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_seal_refusal_prints_the_editors_labels(home: Path, lang: str) -> None:
    env = {"COMPTOIR_LANG": lang}
    ok(run(home, "init", env=env))
    decl_id = ok(run(home, "new", "--type", "IM", env=env)).stdout.strip()
    p = run(home, "seal", decl_id, env=env)
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    importer = "Importer (DE 3/15)" if lang == "en" else "Importateur (DE 3/15)"
    assert importer in p.stderr, p.stderr
    assert " importer:" not in p.stderr and " importer " not in p.stderr.split(":")[0]


def test_rejection_pointer_is_labelled_like_a_finding() -> None:
    assert place_label("/goods_items/0/procedure_code", "1/10") == field_label(
        "goods_items[0].procedure_code")
    assert field_label("goods_items[1].country_of_origin", "fr") \
        == "Article 2 › Origine (DE 5/15)"
    assert place_label("", "1/10") == "DE 1/10"
    assert place_label(None) == "-"


def test_an_unknown_additional_type_is_named_by_its_code_alone(home: Path, tmp_path: Path) -> None:
    f = tmp_path / "bad.json"
    f.write_text(json.dumps({**BAD, "additional_type": "G"}))
    p = run(home, "validate", str(f), env={"COMPTOIR_LANG": "fr"})
    assert "V-ADDITIONAL-TYPE-UNKNOWN" in p.stdout, p.stdout
    assert "refdata." not in p.stdout and "importation, type G" in p.stdout, p.stdout


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_json_findings_message_speaks_labels_too(home: Path, tmp_path: Path, lang: str) -> None:
    f = tmp_path / "bad.json"
    f.write_text(json.dumps({k: v for k, v in BAD.items() if k != "importer"}))
    p = run(home, "validate", str(f), "--json", env={"COMPTOIR_LANG": lang})
    found = json.loads(p.stdout)
    mandatory = [x for x in found if x["code"] == "V-MANDATORY" and x["path"] == "importer"]
    assert mandatory, found
    assert mandatory[0]["params"]["field"] == "importer"  # machine form kept for scripts
    label = "Importer" if lang == "en" else "Importateur"
    assert mandatory[0]["message"].startswith(label), mandatory[0]["message"]
