"""Every picker speaks the user's language: in French, a sample of each list shows its
French name beside the code, and typing French words finds it; the commodity finder finds
the chapter of "café" and "animaux" (chapters and sections are translated, 6-digit texts
stay English for want of a French source)."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from client.common.i18n import set_language
from client.declaration.refdata import ReferenceData

EditRole = Qt.ItemDataRole.EditRole

# list -> (French words typed, code they must find, French name shown beside it)
FRENCH = {
    "countries": ("allemagne", "DE", "Allemagne"),
    "currencies": ("livre sterling", "GBP", "Livre sterling"),
    "incoterms": ("franco a bord", "FOB", "Franco à bord"),
    "transport_modes": ("routier", "3", "routier"),
    "procedure_codes": ("libre pratique", "4000", "libre pratique"),
    "additional_procedure_codes": ("echantillons", "D21", "Échantillons"),
    "package_kinds": ("palette bois", "8A", "Palette, bois"),
    "document_codes": ("facture commerciale", "N380", "Facture commerciale"),
    "additional_types": ("demande de dedouanement arrivees", "J",
                         "Demande de dédouanement (C21), marchandises arrivées"),
    "natures_of_transaction": ("achat ou vente ferme", "11", "vente ferme"),
    "commodity_codes": ("cafe", "0901", "Café"),  # the heading's chapter is French
}
MORE_PACKAGES = {"CT": "Carton", "PX": "Palette", "DR": "Fût", "BG": "Sac", "BX": "Boîte"}


@pytest.fixture
def french() -> Any:
    set_language("fr")
    yield
    set_language("en")


def _shown(edit: QLineEdit, words: str) -> dict[str, str]:
    from ui.editor.completion import WordFilter

    proxy = edit.completer().model()
    assert isinstance(proxy, WordFilter)
    proxy.set_text(words)
    return {proxy.index(r, 0).data(EditRole): proxy.index(r, 0).data()
            for r in range(proxy.rowCount())}


@pytest.mark.parametrize("list_name", sorted(FRENCH))
def test_french_picker_shows_and_finds_french_names(list_name: str, french: Any,
                                                    qtbot: Any) -> None:
    from ui.editor.completion import attach_picker

    ref = ReferenceData()  # its own id: the pickers' cache cannot hold an English list
    edit = QLineEdit()
    qtbot.addWidget(edit)
    attach_picker(edit, list_name, ref)
    words, code, name = FRENCH[list_name]
    shown = _shown(edit, words)
    assert code in shown, (words, list(shown)[:10])
    assert shown[code].startswith(f"{code} — ") and name in shown[code], shown[code]
    english = dict(ref.completions(list_name, "", "en", limit=100_000)).get(code, "")
    if list_name != "commodity_codes":  # headings stay English; their chapter is French
        assert name not in english, (list_name, english)


def test_french_package_kinds_by_their_usual_names(french: Any, qtbot: Any) -> None:
    from ui.editor.completion import attach_picker

    edit = QLineEdit()
    qtbot.addWidget(edit)
    attach_picker(edit, "package_kinds", ReferenceData())
    shown = _shown(edit, "")
    for code, name in MORE_PACKAGES.items():
        assert shown[code] == f"{code} — {name}"
    untranslated = [c for c, label in ReferenceData().completions("package_kinds", "", "fr",
                                                                  limit=1000)
                    if label == dict(ReferenceData().completions(
                        "package_kinds", "", "en", limit=1000))[c]]
    # only names that are the same word in both languages (Kit, Capsule, Tube…)
    assert len(untranslated) < 40, untranslated


def test_french_commodity_finder_finds_the_chapter() -> None:
    ref = ReferenceData()
    cafe = ref.find_commodity("café", "fr")
    assert cafe and all(code.startswith("09") for code, _ in cafe)
    assert "Café, thé, maté et épices" in cafe[0][1]
    animals = ref.find_commodity("animaux vivants", "fr", limit=500)
    assert {code[:2] for code, _ in animals} >= {"01"}
    # the section names the products of the animal kingdom: chapters 01 to 05
    kingdom = ref.find_commodity("regne animal", "fr", limit=2000)
    assert {code[:2] for code, _ in kingdom} == {"01", "02", "03", "04", "05"}
    # English searches and lines are unchanged
    assert all("Café" not in line for _, line in ref.find_commodity("coffee", "en"))
    assert ref.find_commodity("horses live", "en")[0][0] == "010121"
