"""Issue #4 part 4: a rejection is explained in the user's language, field by field, and
the corrected new version goes through."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from client.declaration.samples import sample_declaration
from sync.sandbox.pipeline import lane_for

from .helpers import TRADER, SandboxProcess, comptoir, enrolled_profile, list_json, ok

pytestmark = pytest.mark.slow
SEED = 5


def _declaration_in_lane(lane: str, rng: random.Random) -> dict:
    """A valid declaration whose id the sandbox's risk engine (seed 5) sends to ``lane``,
    and whose corrected version 2 it does not reject."""
    for _ in range(10_000):
        d = sample_declaration(rng, n_items=2, declarant_id=TRADER)
        if lane_for(SEED, d.id) == lane and lane_for(SEED, d.id, version=2) != "rejected":
            return d.to_json_dict()
    raise AssertionError("no id found")


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_rejected_explained_then_resubmitted_as_new_version(tmp_path: Path, lang: str) -> None:
    home = tmp_path / "trader"
    sandbox = SandboxProcess(tmp_path / "sw", lane="auto", seed=SEED).start()
    try:
        enrolled_profile(home, sandbox)
        rng = random.Random(1)
        doc = _declaration_in_lane("rejected", rng)
        f = tmp_path / "d.json"
        f.write_text(json.dumps(doc))
        ok(comptoir(home, "import", str(f)))
        ok(comptoir(home, "seal", doc["id"]))
        ok(comptoir(home, "sync", "--once"))
        row = next(r for r in list_json(home) if r["id"] == doc["id"])
        assert row["status"] == "rejected"

        shown = json.loads(ok(comptoir(home, "show", doc["id"], "--json",
                                       env={"COMPTOIR_LANG": lang})).stdout)
        reasons = shown["rejection"]
        assert reasons and reasons[0]["code"].startswith("CDS")
        assert reasons[0]["pointer"].startswith("/goods_items/0/")
        assert reasons[0]["de"]  # the field it points to, as a WCO data element
        text = ok(comptoir(home, "show", doc["id"], env={"COMPTOIR_LANG": lang})).stdout
        assert reasons[0]["code"] in text
        assert ("Rejetée" if lang == "fr" else "Rejected") in text
        assert reasons[0]["explanation"] and reasons[0]["explanation"] in text
        # the field as the editor labels it, with its DE number, items counted from 1
        assert ("Article 1 › " if lang == "fr" else "Goods item 1 › ") in text, text
        assert f"(DE {reasons[0]['de']})" in text and "/goods_items/" not in text, text
        english = json.loads(ok(comptoir(home, "show", doc["id"], "--json")).stdout)
        if lang == "fr":  # explained in the user's language, not always in English
            assert english["rejection"][0]["explanation"] != reasons[0]["explanation"]

        # fix and resubmit: a new version of the same declaration
        p = ok(comptoir(home, "amend", doc["id"]))
        assert "version 2" in p.stdout
        ok(comptoir(home, "seal", doc["id"]))
        ok(comptoir(home, "sync", "--once"))
        row = next(r for r in list_json(home) if r["id"] == doc["id"])
        assert row["version"] == 2 and row["status"] in ("registered", "released",
                                                          "under_control",
                                                          "documents_requested")
        hist = ok(comptoir(home, "history", doc["id"])).stdout
        assert "rejected" in hist and "new version" in hist
        rows = json.loads(ok(comptoir(home, "history", doc["id"], "--json",
                                      env={"COMPTOIR_LANG": lang})).stdout)
        said = [r["message"] for r in rows]
        expected = {"en": ["imported", "sealed #1", "rejected", "new version (original)",
                           "receipt"],
                    "fr": ["importée", "scellée, journal n° 1", "rejetée",
                           "nouvelle version (originale)", "accusé de réception"]}[lang]
        assert [m for m in expected if m not in said] == [], said
        if lang == "fr":  # the history reads in French, whatever wrote it
            assert not [m for m in said if m.startswith(("sealed", "receipt", "notification",
                                                         "new version", "imported"))], said
        ok(comptoir(home, "journal", "verify"))
    finally:
        sandbox.stop()
