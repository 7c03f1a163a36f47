"""The profile's settings are declared once (name, type, default) and used only that way."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from client.store import Store, StoreError
from client.store import settings_keys as keys
from client.store.settings_keys import Setting

KEY = "ef" * 32
REPO = Path(__file__).resolve().parents[2]
ACCESSORS = ("get_setting", "set_setting", "_set_setting")

# a value of the right type for each declared setting, other than its default
SAMPLES: dict[str, Any] = {
    "sync.feed_cursor": 42, "sync.last_success": "2026-01-02T03:04:05Z",
    "sync.refdata_version": 7, "sync.drain_rate": 1234.5, "ui.language": "fr",
    "ui.work_offline": True, "continuity.offline_since": "2026-01-02T03:04:05Z",
    "continuity.last_recovery": {"outage_s": 60, "carried": 3}, "continuity.mao_hours": 24,
    "cds.fetching": True, "sync.signatures_checked_through": 17,
    "declaration.templates": {"Tea from Hangzhou": {"saved_at": "2026-01-01T00:00:00Z",
                                                    "document": {"type": "IM"}}},
}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "s.db", KEY)
    yield s
    s.close()


def _rows(store: Store) -> dict[str, str]:
    with store.engine.connect() as conn:
        return dict(conn.exec_driver_sql("SELECT key, value FROM setting").all())


def test_every_setting_has_a_doc_and_a_default_of_its_own_type() -> None:
    assert set(SAMPLES) == set(keys.SETTINGS), "a declared setting has no sample here"
    for s in [*keys.SETTINGS.values(), *(f("subject") for f in keys.FAMILIES.values())]:
        assert s.doc.strip() and s.name
        assert s.check(s.default) == s.default, s.name
    names = [*keys.SETTINGS, *keys.FAMILIES]
    assert len(names) == len(set(names))
    for prefix in keys.FAMILIES:  # no plain setting hides inside a family
        assert not [n for n in keys.SETTINGS if n.startswith(prefix)]


def test_defaults_on_a_fresh_profile_and_values_survive_reopening(tmp_path: Path) -> None:
    s = Store.open(tmp_path / "s.db", KEY)
    for setting in keys.SETTINGS.values():
        assert s.get_setting(setting) == setting.default
    assert s.get_setting(keys.SCRATCH("decl-1")) is None
    for name, value in SAMPLES.items():
        s.set_setting(keys.SETTINGS[name], value)
    s.set_setting(keys.SCRATCH("decl-1"), {"invoice_total": "12,5x"})
    s.set_setting(keys.INVOICE_MAPPING("acme sa"), {"version": 1, "mapping": {}})
    s.close()
    s = Store.open(tmp_path / "s.db", KEY)
    try:
        for name, value in SAMPLES.items():
            assert s.get_setting(keys.SETTINGS[name]) == value, name
        assert s.get_setting(keys.SCRATCH("decl-1")) == {"invoice_total": "12,5x"}
        assert s.get_setting(keys.SCRATCH("decl-2")) is None
        assert s.get_setting(keys.INVOICE_MAPPING("acme sa"))["version"] == 1
        # the names stored are the ones earlier versions wrote: old profiles keep theirs
        assert {"sync.feed_cursor", "ui.scratch.decl-1", "invoice_mapping:acme sa"} \
            <= set(_rows(s))
    finally:
        s.close()


def test_unknown_keys_are_refused_and_nothing_is_written(store: Store) -> None:
    before = _rows(store)
    impostors: list[Any] = [
        "sync.feed_cursor",  # a bare name, even a declared one
        "no.such.setting",
        Setting("no.such.setting", int, 0, "not declared"),
        Setting("sync.feed_cursor", str, "", "a declared name with another type"),
        Setting("ui.scratch.x", dict, None, "a family's name outside the family"),
        Setting("ui.scratchy", dict[str, Any] | None, None, "not in the family", "ui.scratch."),
    ]
    for key in impostors:
        with pytest.raises(StoreError) as err:
            store.get_setting(key)
        assert err.value.code == "settings.unknown_key"
        with pytest.raises(StoreError):
            store.set_setting(key, 1)
    assert _rows(store) == before
    msg = StoreError("settings.unknown_key", 2, key="no.such.setting")
    assert "réglage" in msg.render("fr") and "setting" in msg.render("en")


@pytest.mark.parametrize(("setting", "bad"), [
    (keys.FEED_CURSOR, "5"), (keys.FEED_CURSOR, True), (keys.FEED_CURSOR, 1.5),
    (keys.WORK_OFFLINE, 1), (keys.LANGUAGE, "de"), (keys.MAO_HOURS, None),
    (keys.DRAIN_RATE, "fast"), (keys.LAST_RECOVERY, [1, 2]), (keys.SCRATCH("d"), "text"),
])
def test_values_of_another_type_are_refused(store: Store, setting: Setting[Any],
                                           bad: Any) -> None:
    before = _rows(store)
    with pytest.raises(StoreError) as err:
        store.set_setting(setting, bad)
    assert err.value.code == "settings.bad_value" and setting.name in err.value.render()
    assert _rows(store) == before


def test_an_int_is_a_float_for_a_rate(store: Store) -> None:
    store.set_setting(keys.DRAIN_RATE, 500)
    assert store.get_setting(keys.DRAIN_RATE) == 500.0


def test_a_damaged_stored_value_reads_as_the_default(store: Store) -> None:
    store.execute_raw_for_tests(
        "INSERT INTO setting (key, value) VALUES ('continuity.mao_hours', '\"lots\"'), "
        "('sync.feed_cursor', 'not json')")
    assert store.get_setting(keys.MAO_HOURS) == keys.MAO_HOURS.default
    assert store.get_setting(keys.FEED_CURSOR) == 0
    store.set_setting(keys.MAO_HOURS, 12)  # the next write replaces it
    assert json.loads(_rows(store)["continuity.mao_hours"]) == 12


def _project_files() -> list[Path]:
    return [p for pkg in ("client", "sync", "ui", "bench", "tests")
            for p in (REPO / pkg).rglob("*.py") if p != Path(__file__).resolve()]


def test_every_call_site_names_a_declared_setting() -> None:
    """No reader or writer passes a name as a string (a literal, an f-string, a sum)."""
    offenders, calls = [], 0
    for path in _project_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in ACCESSORS and node.args:
                calls += 1
                arg = node.args[1] if node.func.attr == "_set_setting" else node.args[0]
                if isinstance(arg, (ast.Constant, ast.JoinedStr, ast.BinOp)):
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert calls >= 20, "the scan found too few call sites to be looking at the right code"
    assert offenders == []


def test_no_setting_name_is_spelt_out_anywhere_else() -> None:
    """The declared names appear once, in settings_keys.py."""
    declared = REPO / "client" / "store" / "settings_keys.py"
    names = [*keys.SETTINGS, *keys.FAMILIES]
    offenders = []
    for path in _project_files():
        if path == declared:
            continue
        text = path.read_text(encoding="utf-8")
        offenders += [f"{path.relative_to(REPO)}: {n}" for n in names
                      if f'"{n}' in text or f"'{n}" in text]
    assert offenders == []
