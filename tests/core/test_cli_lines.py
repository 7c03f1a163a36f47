"""Invoice lines into goods items from the command line: preview, per-row errors,
mapping remembered per supplier."""

from __future__ import annotations

import json
from pathlib import Path

from tests.sync.helpers import comptoir as run
from tests.sync.helpers import ok


def test_preview_apply_and_mapping_remembered_per_supplier(home: Path, tmp_path: Path) -> None:
    ok(run(home, "init"))
    decl_id = ok(run(home, "new", "--type", "IM")).stdout.strip()
    inv = tmp_path / "facture.csv"
    inv.write_text("Désignation;Code SH;Origine;Poids brut;Poids net;Réf fournisseur X\n"
                   "Thé vert;0902100000;CN;12,5;11,0;A1\n"
                   "Bols en céramique;6912002310;PT;abc;3,2;A2\n"
                   "Tasses;6912002310;PT;8,4;7,9;A3\n", encoding="utf-8")
    p = run(home, "lines", decl_id, str(inv), "--json")
    assert p.returncode == 1  # one bad row: reported, the others previewed
    got = json.loads(p.stdout)
    assert got["mapping"]["description"] == "Désignation"
    assert got["mapping"]["commodity_code"] == "Code SH"
    assert [it["description"] for it in got["items"]] == ["Thé vert", "Tasses"]
    assert got["item_rows"] == [2, 4]
    assert [e["row"] for e in got["row_errors"]] == [3]
    shown = json.loads(ok(run(home, "show", decl_id, "--json")).stdout)
    assert shown["declaration"].get("goods_items", []) == []  # preview changes nothing

    # a supplier whose columns need a hand once: the correction is remembered
    odd = tmp_path / "odd.csv"
    odd.write_text("Item text;Tariff;Made in;KG gross;KG net\n"
                   "Green tea;0902100000;CN;5;4.5\n", encoding="utf-8")
    maps = ["--map", "description=Item text", "--map", "commodity_code=Tariff",
            "--map", "country_of_origin=Made in", "--map", "gross_mass=KG gross",
            "--map", "net_mass=KG net"]
    p = ok(run(home, "lines", decl_id, str(odd), "--supplier", "Odd Co", *maps, "--apply"))
    assert "1 goods item(s) added" in p.stdout
    p = ok(run(home, "lines", decl_id, str(odd), "--supplier", "Odd Co", "--json"))
    again = json.loads(p.stdout)
    assert again["mapping"]["description"] == "Item text"
    assert again["mapping"]["net_mass"] == "KG net"
    items = json.loads(ok(run(home, "show", decl_id, "--json")).stdout)["declaration"]["goods_items"]
    assert [(i["sequence"], i["description"]) for i in items] == [(1, "Green tea")]

    bad = run(home, "lines", decl_id, str(odd), "--map", "colour=Tariff")
    assert bad.returncode == 2 and "FIELD=COLUMN" in bad.stderr
