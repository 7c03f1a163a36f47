"""The desktop explains a rejection at the field the editor labels, not at the single
window's pointer: "Goods item 1 › Procedure (DE 1/10)"."""

from __future__ import annotations

import pytest

from client.common.i18n import set_language
from client.services.rejections import RejectionReason


@pytest.mark.parametrize("lang,where", [("en", "Goods item 1 › "), ("fr", "Article 1 › ")])
def test_rejection_line_names_the_field_as_the_editor_does(lang: str, where: str) -> None:
    from ui.detail import rejection_line

    set_language(lang)
    reason = RejectionReason(code="CDS12016", pointer="/goods_items/0/procedure_code",
                             de="1/10", explanation="x", detail="")
    line = rejection_line(reason)
    assert line.startswith("x (") and where in line and "(DE 1/10)" in line, line
    assert "goods_items" not in line and "procedure_code" not in line, line
    unplaced = RejectionReason(code="CDS1", pointer="/nowhere", de=None, explanation="y",
                               detail="")
    assert rejection_line(unplaced) == "y (nowhere)"
