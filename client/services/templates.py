"""Declaration templates: the parties, route and usual goods of a declaration, kept under
a name to start the next one from (issue #17), and "new from previous".

A template is the reusable part of a declaration (:func:`client.declaration.reuse.
reusable`): the shipment's own data (references, quantities, masses, prices, means of
transport) is left out, so a declaration made from it starts as a draft that says what
is still to fill in.  Templates live in the profile's settings (``declaration.templates``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from client.common.i18n import ComptoirError
from client.declaration.model import Party, new_lrn
from client.declaration.reuse import from_reusable, reusable
from client.services.declarations import Made
from client.store import Changes, Store
from client.store import history_notes as notes
from client.store import settings_keys as keys

MAX_TEMPLATES = 200
MAX_NAME = 60


@dataclass(frozen=True)
class TemplateInfo:
    """One template as listed: its name, when saved, and what it holds."""

    name: str
    saved_at: str
    type: str
    parties: int
    goods_items: int


def _check_name(name: str) -> str:
    clean = " ".join((name or "").split())
    if not clean or len(clean) > MAX_NAME or not clean.isprintable():
        raise ComptoirError("template.bad_name", 2, name=(name or "")[:80], max=MAX_NAME)
    return clean


def save_template(store: Store, name: str, decl_id: str) -> tuple[str, Changes]:
    """Keep the reusable part of declaration ``decl_id`` as template ``name`` (replacing
    one of that name).  Returns the name as stored (spaces tidied)."""
    from client.declaration.model import now_utc

    clean = _check_name(name)
    part = reusable(store.get(decl_id).declaration.to_json_dict())
    held = dict(store.get_setting(keys.TEMPLATES))
    if clean not in held and len(held) >= MAX_TEMPLATES:
        raise ComptoirError("template.too_many", 2, max=MAX_TEMPLATES)
    held[clean] = {"saved_at": now_utc(), "document": part}
    return clean, store.set_setting(keys.TEMPLATES, held)


def list_templates(store: Store) -> list[TemplateInfo]:
    """The templates by name."""
    out = []
    for name, entry in sorted(store.get_setting(keys.TEMPLATES).items(),
                              key=lambda kv: kv[0].casefold()):
        doc = entry.get("document") if isinstance(entry, dict) else None
        doc = doc if isinstance(doc, dict) else {}
        parties = sum(1 for p in ("declarant", "exporter", "consignee", "importer",
                                  "representative", "seller", "buyer") if doc.get(p))
        out.append(TemplateInfo(name, str(entry.get("saved_at", "")), str(doc.get("type", "IM")),
                                parties, len(doc.get("goods_items") or [])))
    return out


def _template(store: Store, name: str) -> dict[str, Any]:
    entry = store.get_setting(keys.TEMPLATES).get(_check_name(name))
    if not isinstance(entry, dict) or not isinstance(entry.get("document"), dict):
        raise ComptoirError("template.not_found", 2, name=name[:80])
    return entry["document"]


def new_from_previous(store: Store, actor: str, source_id: str, *,
                      lrn: str | None = None) -> Made:
    """"New from previous": the next shipment of the same trade, a draft with the source's
    parties, route and goods and a new id and LRN, the previous shipment's own data
    (references, quantities, masses, prices, means of transport) cleared.  (``copy``
    keeps everything, for a declaration made again.)"""
    src = store.get(source_id).declaration
    decl = from_reusable(reusable(src.to_json_dict()), lrn=lrn or new_lrn())
    return Made(decl, store.create(decl, actor, note=notes.COPIED_FROM(source=src.id)))


def delete_template(store: Store, name: str) -> Changes:
    held = dict(store.get_setting(keys.TEMPLATES))
    if held.pop(_check_name(name), None) is None:
        raise ComptoirError("template.not_found", 2, name=name[:80])
    return store.set_setting(keys.TEMPLATES, held)


def new_from_template(store: Store, actor: str, name: str, *, lrn: str | None = None,
                      declarant_id: str | None = None) -> Made:
    """A new draft from template ``name``, with a fresh LRN (DE 2/5); the profile's
    declarant (DE 3/18) where the template names none."""
    try:
        decl = from_reusable(_template(store, name), lrn=lrn or new_lrn())
    except ValueError as exc:  # a template damaged on disk
        raise ComptoirError("template.unreadable", 2, name=name[:80],
                            reason=str(exc).splitlines()[0][:120]) from None
    if declarant_id and decl.declarant is None:
        decl.declarant = Party(id=declarant_id)
    return Made(decl, store.create(decl, actor,
                                   note=notes.FROM_TEMPLATE(template=_check_name(name))))
