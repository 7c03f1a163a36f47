"""Every catalogue of the project: same keys and the same placeholders in English and French."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from client.common.i18n import LANGUAGES, placeholders

ROOT = Path(__file__).resolve().parents[2] / "resources" / "translations"


def _load(lang: str) -> dict[str, dict[str, str]]:
    """{file name: {key: template}} for one language."""
    out = {}
    for path in sorted((ROOT / lang).glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        assert isinstance(data, dict), path
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()), path
        out[path.name] = data
    return out


def test_every_language_has_the_same_catalogue_files() -> None:
    names = {lang: set(_load(lang)) for lang in LANGUAGES}
    assert names["en"], "no English catalogue"
    for lang in LANGUAGES:
        assert names[lang] == names["en"], f"{lang}: files differ from English"


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_same_keys_and_placeholders_in_every_file(lang: str) -> None:
    en, other = _load("en"), _load(lang)
    problems = []
    for name in sorted(set(en) | set(other)):
        a, b = en.get(name, {}), other.get(name, {})
        for key in sorted(set(a) - set(b)):
            problems.append(f"{name}: {key} missing in {lang}")
        for key in sorted(set(b) - set(a)):
            problems.append(f"{name}: {key} only in {lang}")
        for key in sorted(set(a) & set(b)):
            if placeholders(a[key]) != placeholders(b[key]):
                problems.append(f"{name}: {key}: placeholders {sorted(placeholders(a[key]))}"
                                f" vs {sorted(placeholders(b[key]))}")
    assert not problems, "\n".join(problems)


def test_no_key_is_defined_in_two_files() -> None:
    seen: dict[str, str] = {}
    clashes = []
    for name, data in _load("en").items():
        for key in data:
            if key in seen:
                clashes.append(f"{key}: {seen[key]} and {name}")
            seen[key] = name
    assert not clashes, "\n".join(clashes)


def test_templates_are_well_formed() -> None:
    for lang in LANGUAGES:
        for name, data in _load(lang).items():
            for key, template in data.items():
                try:
                    placeholders(template)
                except ValueError as exc:  # an unbalanced brace
                    pytest.fail(f"{lang}/{name}: {key}: {exc}")


def test_every_validation_rule_is_translated() -> None:
    from client.declaration.validation import RULES

    en, fr = _load("en")["validation.json"], _load("fr")["validation.json"]
    for r in RULES:
        for key in (f"validation.{r.code}", r.description_key):
            assert key in en and key in fr, key
            assert en[key] != fr[key], f"{key} is not translated"


def test_placeholder_check_can_fail() -> None:
    assert placeholders("{a} and {b}") != placeholders("{a} et {c}")
