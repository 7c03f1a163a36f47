"""Templates and "new from previous" (issue #17): the parties, route and usual goods carry
over, the shipment's own data does not; the same from the command line."""

from __future__ import annotations

import json
import random
from pathlib import Path

from client.declaration.reuse import reusable
from client.declaration.samples import sample_declaration
from tests.sync.helpers import comptoir as run
from tests.sync.helpers import ok


def test_reusable_keeps_who_where_how_and_which_goods() -> None:
    d = sample_declaration(random.Random(4), n_items=3)
    doc = d.to_json_dict()
    doc["ucr"] = "UCR-1"
    doc.setdefault("transport", {})["border_means_identity"] = "MAERSK KOWLOON"
    doc["additional_documents"] = [{"category": "N", "type": "935", "reference": "INV-1"}]
    part = reusable(doc)
    for gone in ("id", "version", "lrn", "mrn", "ucr", "invoice_total", "total_packages",
                 "total_gross_mass"):
        assert gone not in part, gone
    assert "border_means_identity" not in part.get("transport", {})
    assert part["additional_documents"] == [{"category": "N", "type": "935"}]
    for key in ("declarant", "importer", "country_of_dispatch", "delivery_terms",
                "invoice_currency", "customs_office"):
        assert part.get(key) == doc.get(key), key
    assert [i["commodity_code"] for i in part["goods_items"]] == \
        [i["commodity_code"] for i in doc["goods_items"]]
    assert [i["sequence"] for i in part["goods_items"]] == [1, 2, 3]
    for item in part["goods_items"]:
        assert not {"gross_mass", "net_mass", "item_price"} & item.keys()
        for p in item.get("packages", []):
            assert "number" not in p and "marks" not in p
    assert doc["ucr"] == "UCR-1"  # the source is not touched


def test_template_save_list_new_and_new_from_previous(home: Path) -> None:
    ok(run(home, "init", "--declarant", "GB123456789000"))
    ok(run(home, "demo", "seed", "--count", "1", "--seed", "3"))
    (src,) = json.loads(ok(run(home, "list", "--json")).stdout)
    source = json.loads(ok(run(home, "show", src["id"], "--json")).stdout)["declaration"]

    p = ok(run(home, "template", "save", "  Laptops   from Shenzhen ", "--from", src["id"]))
    assert "Laptops from Shenzhen" in p.stdout
    held = json.loads(ok(run(home, "template", "list", "--json")).stdout)
    assert [t["name"] for t in held] == ["Laptops from Shenzhen"]
    assert held[0]["goods_items"] == len(source["goods_items"])

    new_id = ok(run(home, "template", "new", "Laptops from Shenzhen")).stdout.strip()
    made = json.loads(ok(run(home, "show", new_id, "--json")).stdout)
    decl = made["declaration"]
    assert decl["lrn"] != source["lrn"] and decl["id"] != source["id"]
    assert made["status"] == "draft"
    assert decl["importer"] == source["importer"]
    assert [i["commodity_code"] for i in decl["goods_items"]] == \
        [i["commodity_code"] for i in source["goods_items"]]
    assert all("gross_mass" not in i for i in decl["goods_items"])
    history = ok(run(home, "history", new_id)).stdout
    assert "made from template Laptops from Shenzhen" in history

    copy_id = ok(run(home, "new", "--from", src["id"])).stdout.strip()
    copy = json.loads(ok(run(home, "show", copy_id, "--json")).stdout)["declaration"]
    assert copy["lrn"] != source["lrn"] and "invoice_total" not in copy
    assert copy["declarant"] == source["declarant"]

    before = ok(run(home, "list", "--json")).stdout
    for args in (("template", "new", "nope"), ("template", "save", "", "--from", src["id"]),
                 ("new",), ("new", "--type", "IM", "--from", src["id"])):
        p = run(home, *args)
        assert p.returncode == 2 and "Traceback" not in p.stderr, args
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert ok(run(home, "list", "--json")).stdout == before  # nothing changed
    fr = run(home, "template", "new", "nope", env={"COMPTOIR_LANG": "fr"})
    assert "Aucun modèle nommé nope" in fr.stderr
