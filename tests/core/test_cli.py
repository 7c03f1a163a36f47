"""The headless CLI as a user runs it: real subprocesses, a real profile, real keyring."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from client.cli import main
from client.seal.profile import load_profile, open_store

REPO = Path(__file__).resolve().parents[2]


def run(home: Path, *args: str, lang: str = "en", input: str | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COMPTOIR_HOME=str(home), PYTHONDONTWRITEBYTECODE="1")
    env.pop("COMPTOIR_LANG", None)
    env["LANG"] = "fr_FR.UTF-8" if lang == "fr" else "C.UTF-8"
    env["LC_ALL"] = ""
    return subprocess.run([sys.executable, "-m", "client.cli", *args], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=timeout, input=input)


def _no_traceback(p: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout, p.stderr


@pytest.fixture
def seeded(home: Path) -> Path:
    p = run(home, "demo", "seed", "--count", "1000", "--seed", "7")
    assert p.returncode == 0, p.stderr
    return home


def test_demo_seed_1000_list_and_each_validates_clean(seeded: Path, tmp_path: Path) -> None:
    p = run(seeded, "list", "--json")
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    assert len(rows) == 1000
    assert {"id", "lrn", "type", "status", "mrn", "updated_at"} <= rows[0].keys()
    assert {r["status"] for r in rows} == {"ready"}
    assert len({r["lrn"] for r in rows}) == 1000
    assert len({r["type"] for r in rows}) >= 2  # varied

    # Every one exported as JSON and validated again (in-process for speed) …
    from client.declaration.validation import validate
    from client.interchange.json_io import parse_declaration

    profile = load_profile(seeded)
    with open_store(profile) as store:
        for r in rows:
            exported = json.loads(json.dumps(store.get(r["id"]).declaration.to_json_dict()))
            decl = parse_declaration(exported, r["id"])
            errors = [f for f in validate(decl) if f.severity == "error"]
            assert errors == [], (r["id"], [f.code for f in errors])
            assert len(decl.goods_items) >= 1
    # … and a few through the real commands, as a user would.
    for r in rows[:3]:
        out = tmp_path / f"{r['id']}.json"
        e = run(seeded, "export", r["id"], "--format", "json", "-o", str(out))
        assert e.returncode == 0, e.stderr
        v = run(seeded, "validate", str(out))
        assert v.returncode == 0, v.stdout + v.stderr


BAD_CODES = {
    "type": "IM", "lrn": "BADCODES-1",
    "declarant": {"id": "GB123456789000", "name": "Acme Ltd"},
    "importer": {"id": "GB123456789000", "name": "Acme Ltd"},
    "country_of_dispatch": "XX",
    "invoice_currency": "EUX",
    "goods_items": [{"sequence": 1, "description": "Tea", "commodity_code": "09AB",
                     "country_of_origin": "CN", "procedure_code": "4000",
                     "gross_mass": "10", "net_mass": "9"}],
}


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_wrong_codes_reported_finding_by_finding(home: Path, tmp_path: Path, lang: str) -> None:
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(BAD_CODES))
    p = run(home, "validate", str(f), "--json", lang=lang)
    _no_traceback(p)
    assert p.returncode == 1
    findings = json.loads(p.stdout)
    by_path = {x["path"]: x for x in findings}
    assert by_path["country_of_dispatch"]["de"] == "5/14"
    assert by_path["invoice_currency"]["de"] == "4/10"
    assert by_path["goods_items[0].commodity_code"]["de"] == "6/14"
    for path in ("country_of_dispatch", "invoice_currency", "goods_items[0].commodity_code"):
        assert by_path[path]["code"] and by_path[path]["severity"] == "error"
    text = run(home, "validate", str(f), lang=lang).stdout
    assert "XX" in text and "EUX" in text and "09AB" in text
    if lang == "fr":
        assert "ERREUR" in text
    else:
        assert "ERROR" in text


def _snapshot(home: Path) -> tuple[int, str]:
    profile = load_profile(home)
    with open_store(profile) as store:
        rows = store.list()
        hist = sum(len(store.history(r.id)) for r in rows)
        return hist, json.dumps([r.to_json() for r in rows])


@pytest.mark.parametrize("content,needle", [
    ('{"type": "IM", "lrn": ', "line"),                              # malformed JSON
    ('{"type": "IM", "goods_items": "many"}', "goods_items"),        # wrong type
    ('{"type": "IM", "lrn": "' + "A" * 100_000 + '"}', "lrn"),      # huge string
    ('{"type": "IM", "colour": "blue"}', "colour"),                  # unknown field
    ('[' * 5000 + ']' * 5000, "JSON"),                              # absurd nesting
    ('{"type": "ZZ"}', "type"),                                      # bad enum
    ('\xff\xfe garbage', ""),                                        # not UTF-8 JSON
])
def test_bad_input_is_one_clear_line_exit_2_store_untouched(home: Path, tmp_path: Path,
                                                           content: str, needle: str) -> None:
    assert run(home, "demo", "seed", "--count", "3").returncode == 0
    before = _snapshot(home)
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"type": "EX", "lrn": "GOOD-1"}))
    bad = tmp_path / "bad.json"
    bad.write_bytes(content.encode("utf-8", "surrogateescape") if not content.startswith("\xff")
                    else b"\xff\xfe garbage")
    p = run(home, "import", str(good), str(bad))
    _no_traceback(p)
    assert p.returncode == 2
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("comptoir: "), p.stderr
    assert needle in lines[0]
    assert len(lines[0]) < 400
    assert _snapshot(home) == before  # the good file was not imported either


def test_import_then_show_history_copy_export(home: Path, tmp_path: Path) -> None:
    f = tmp_path / "one.json"
    f.write_text(json.dumps({"type": "EX", "lrn": "MY-LRN-1"}))
    p = run(home, "import", str(f), "--json")
    assert p.returncode == 0, p.stderr
    decl_id = json.loads(p.stdout)[0]["id"]
    assert json.loads(run(home, "show", "MY-LRN-1", "--json").stdout)["id"] == decl_id
    assert "draft" in run(home, "history", decl_id).stdout
    c = run(home, "copy", decl_id)
    assert c.returncode == 0
    copy_id = c.stdout.strip()
    shown = json.loads(run(home, "show", copy_id, "--json").stdout)
    assert shown["declaration"]["lrn"] != "MY-LRN-1" and shown["status"] == "draft"
    exported = json.loads(run(home, "export", decl_id).stdout)
    assert exported["lrn"] == "MY-LRN-1" and exported["id"] == decl_id
    # re-importing the same id is refused and changes nothing
    again = run(home, "import", str(tmp_path / "x.json"))
    assert again.returncode == 2


def test_new_schema_list_status(home: Path) -> None:
    p = run(home, "new", "--type", "CO")
    assert p.returncode == 0, p.stderr
    rows = json.loads(run(home, "list", "--status", "draft", "--json").stdout)
    assert [r["type"] for r in rows] == ["CO"]
    schema = json.loads(run(home, "schema").stdout)
    props = schema["properties"]
    assert props["lrn"]["x-de"] == "2/5"
    assert "goods_items" in props
    assert run(home, "list", "--status", "bogus").returncode == 2


def test_usage_errors_exit_2_in_french(home: Path) -> None:
    p = run(home, "show", "does-not-exist", lang="fr")
    assert p.returncode == 2
    assert "Aucune déclaration" in p.stderr
    p = run(home, "new", "--type", "XX", lang="fr")
    assert p.returncode == 2
    _no_traceback(p)


def test_main_in_process_reports_instead_of_raising(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(home), "validate", "/nonexistent/file.json"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("comptoir: ") and err.count("\n") == 1
