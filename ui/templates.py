"""Templates and "new from previous" in the desktop: thin handlers over
:mod:`client.services.templates`, shared by the main window and the editor.

Starting the next shipment is one shortcut away: Ctrl+Shift+N picks a template (a list
one chooses from with arrows and Enter), Ctrl+Shift+P copies the selected declaration
without its shipment data, and Ctrl+Shift+T in the editor keeps the declaration being
edited as a template.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QInputDialog, QWidget

from client.services.templates import (
    list_templates,
    new_from_previous,
    new_from_template,
    save_template,
)
from ui.i18n import t
from ui.workers import Op


def ask_template(parent: QWidget, names: list[str]) -> str | None:
    """The template to start from: a list chosen by keyboard (arrows, type-ahead, Enter)."""
    name, ok = QInputDialog.getItem(parent, t("template.choose_title"),
                                    t("template.choose_label"), names, 0, False)
    return name if ok and name else None


def ask_template_name(parent: QWidget, suggestion: str) -> str | None:
    name, ok = QInputDialog.getText(parent, t("template.save_title"), t("template.save_label"),
                                    text=suggestion)
    return name.strip() if ok and name.strip() else None


def start_from_template(window: Any, name: str | None = None) -> None:
    """A new draft from a template, opened in the editor (the choice asked when not given)."""
    ctx = window.ctx
    names = [x.name for x in list_templates(ctx.store)]
    if not names:
        window.show_status(t("template.none"))
        return
    name = name or window.ask_template(names)
    if not name:
        return
    store, actor, declarant = ctx.store, ctx.actor(), ctx.profile.declarant_id
    Op(ctx, lambda: new_from_template(store, actor, name, declarant_id=declarant),
       initiator=window).success(lambda made: window.made_declaration(made.id)).failure(
        window.show_refusal).run()


def start_from_previous(window: Any, source_id: str) -> None:
    """The next shipment of the same trade: the declaration without its shipment data."""
    ctx = window.ctx
    store, actor = ctx.store, ctx.actor()
    Op(ctx, lambda: new_from_previous(store, actor, source_id), initiator=window).success(
        lambda made: window.made_declaration(made.id)).failure(window.show_refusal).run()


def keep_as_template(window: Any, decl_id: str, suggestion: str,
                     name: str | None = None) -> None:
    """Save the declaration's parties, transport and usual goods under a name."""
    name = name or window.ask_template_name(suggestion)
    if not name:
        return
    store = window.ctx.store
    Op(window.ctx, lambda: save_template(store, name, decl_id), initiator=window).success(
        lambda saved: window.show_status(t("template.saved", name=saved[0]))).failure(
        window.show_refusal).run()


class TemplateActionsMixin:
    """The main window's template handlers (mixed into :class:`~ui.actions.ActionsMixin`)."""

    ctx: Any

    def ask_template(self, names: list[str]) -> str | None:
        return ask_template(self, names)  # type: ignore[arg-type]

    def show_status(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)  # type: ignore[attr-defined]

    def show_refusal(self, exc: BaseException) -> None:
        self._refused(exc)  # type: ignore[attr-defined]

    def made_declaration(self, decl_id: str) -> None:
        self.table.clearSelection()  # type: ignore[attr-defined]
        self.select_id(decl_id)  # type: ignore[attr-defined]
        self.open_editor(decl_id)  # type: ignore[attr-defined]

    def template_new(self, name: str | None = None) -> None:
        start_from_template(self, name)

    def previous_selected(self) -> None:
        ids = self.selected_ids()  # type: ignore[attr-defined]
        if ids:
            start_from_previous(self, ids[0])
